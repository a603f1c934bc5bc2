//! Finds and reads the registry configuration files that apply to a project, and the environment
//! variables that override them: the only file and environment IO of `private`.

use std::path::{Path, PathBuf};

use super::pip::{add_pypi_extra, set_pypi_index};
use super::{
    PrivateRegistries, parse_cargo_config, parse_cargo_credentials, parse_npmrc, parse_pip_conf,
    parse_pyproject_indexes, parse_requirements_options,
};

/// The registry settings files read from a project's folders (relative to the folder; `*` stands for
/// any text): what `load_from_disk_within` reads below the user's own files. Editors watch these.
pub const PROJECT_FILES: &[&str] = &[
    ".npmrc",
    ".cargo/config.toml",
    ".cargo/config",
    "requirements*.txt",
    "pyproject.toml",
];

/// Registry settings files (the user's and the project's): regular files under the config cap only,
/// so a FIFO or a device named `.npmrc` or `requirements.txt` is skipped, never read.
/// A file that is absent is `None`; one that is refused is `None` too, and recorded in `refused`.
fn read_reporting(path: &Path, refused: &std::cell::RefCell<Vec<ConfigFileProblem>>) -> Option<String> {
    use crate::lookup::untrusted::{Bounds, CONFIG_CAP, MANIFEST_CAP, read_untrusted_text};
    let is_requirements = path.extension().is_some_and(|ext| ext == "txt");
    let cap = if is_requirements { MANIFEST_CAP } else { CONFIG_CAP };
    match read_untrusted_text(path, &Bounds::user_named(cap)) {
        Ok(text) => Some(text),
        Err(error) if error.is_not_found() => None,
        Err(error) => {
            refused.borrow_mut().push(ConfigFileProblem {
                path: path.to_path_buf(),
                message: error.to_string(),
            });
            None
        }
    }
}

/// The first of `paths` that can be read, with its text.
fn read_first_reporting(
    paths: &[PathBuf],
    refused: &std::cell::RefCell<Vec<ConfigFileProblem>>,
) -> Option<(PathBuf, String)> {
    paths
        .iter()
        .find_map(|path| read_reporting(path, refused).map(|text| (path.clone(), text)))
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
}

/// A configuration file that was found but could not be used (it does not parse); its registries and
/// credentials are left out, and the front reports it as it reports other config problems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFileProblem {
    pub path: PathBuf,
    pub message: String,
}

/// Reads every registry configuration that applies to `project_dir`: user then project `.npmrc`, then
/// `NPM_CONFIG_REGISTRY`; `$CARGO_HOME/config.toml`, then `.cargo/config.toml` from the outermost
/// ancestor inwards, then `credentials.toml` and `CARGO_REGISTRIES_<NAME>_TOKEN`; pip.conf, `PIP_INDEX_URL`,
/// `PIP_EXTRA_INDEX_URL`, then the project's `requirements*.txt` and `pyproject.toml`.
/// Files that do not parse come back as problems beside what the others say.
pub fn load_from_disk(project_dir: &Path) -> (PrivateRegistries, Vec<ConfigFileProblem>) {
    load_from_disk_within(project_dir, None)
}

/// `load_from_disk`, with the walk up for `.cargo/config.toml` stopping at `root` (the workspace root):
/// a file above the workspace changes nothing. The user's own files (`$CARGO_HOME`, `~/.npmrc`,
/// pip.conf) are still read.
pub fn load_from_disk_within(project_dir: &Path, root: Option<&Path>) -> (PrivateRegistries, Vec<ConfigFileProblem>) {
    let files = super::ProjectRegistryFiles {
        npmrc: Some(project_dir.join(".npmrc")),
    };
    load_for_project(project_dir, root, &files)
}

/// `load_from_disk_within`, reading of the project's npm settings only the `.npmrc` that `files`
/// names (`ProjectRegistryFiles::decide`: the install root's, or none for Yarn 2+).
pub fn load_for_project(
    project_dir: &Path,
    root: Option<&Path>,
    files: &super::ProjectRegistryFiles,
) -> (PrivateRegistries, Vec<ConfigFileProblem>) {
    let mut res = PrivateRegistries::default();
    // Files refused by `lookup::untrusted` (a FIFO `.npmrc`, a device, too large): reported, not read.
    let refused = std::cell::RefCell::new(Vec::new());
    let read = |path: &Path| read_reporting(path, &refused);
    let read_first = |paths: &[PathBuf]| read_first_reporting(paths, &refused);
    let mut problems = Vec::new();
    let mut check = |path: PathBuf, parsed: Result<(), String>| {
        if let Err(message) = parsed {
            problems.push(ConfigFileProblem { path, message });
        }
    };
    let env = |name: &str| std::env::var(name).ok();
    let home = home();
    if let Some(home) = &home
        && let Some(text) = read(&home.join(".npmrc"))
    {
        parse_npmrc(&text, &env, &mut res);
    }
    if let Some(project_npmrc) = &files.npmrc
        && let Some(text) = read(project_npmrc)
    {
        res.apply_project_file(project_npmrc, |res| parse_npmrc(&text, &env, res));
    }
    if let Some(registry) = env("NPM_CONFIG_REGISTRY").or_else(|| env("npm_config_registry")) {
        parse_npmrc(&format!("registry={registry}"), &env, &mut res);
    }

    let cargo_home = env("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".cargo")));
    if let Some(cargo_home) = &cargo_home
        && let Some((path, text)) = read_first(&[cargo_home.join("config.toml"), cargo_home.join("config")])
    {
        check(path, parse_cargo_config(&text, &mut res));
    }
    let absolute = |path: &Path| match std::env::current_dir() {
        Ok(cwd) if path.is_relative() => cwd.join(path),
        _ => path.to_path_buf(),
    };
    let (dir_abs, root_abs) = (absolute(project_dir), root.map(absolute));
    let mut ancestors: Vec<&Path> = match &root_abs {
        Some(root) if dir_abs.starts_with(root) => {
            let depth = dir_abs.components().count() - root.components().count();
            dir_abs.ancestors().take(depth + 1).collect()
        }
        Some(_) => vec![dir_abs.as_path()],
        None => project_dir.ancestors().collect(),
    };
    ancestors.reverse();
    for dir in ancestors {
        let cargo_dir = dir.join(".cargo");
        if Some(&cargo_dir) == cargo_home.as_ref() {
            continue;
        }
        if let Some((path, text)) = read_first(&[cargo_dir.join("config.toml"), cargo_dir.join("config")]) {
            let parsed = res.apply_project_file(&path, |res| parse_cargo_config(&text, res));
            check(path, parsed);
        }
    }
    if let Some(cargo_home) = &cargo_home
        && let Some((path, text)) = read_first(&[cargo_home.join("credentials.toml")])
    {
        check(path, parse_cargo_credentials(&text, &mut res));
    }
    let registries: Vec<(String, String)> = res
        .cargo_registries
        .iter()
        .map(|(n, u)| (n.clone(), u.clone()))
        .collect();
    for (name, index) in registries {
        let var = format!("CARGO_REGISTRIES_{}_TOKEN", name.to_ascii_uppercase().replace('-', "_"));
        if let Some(token) = env(&var) {
            res.credentials
                .insert(&super::cargo_config::registry_scope(&index), &token);
        }
    }

    let mut pip_confs = Vec::new();
    if let Some(home) = &home {
        pip_confs.push(home.join(".pip/pip.conf"));
        let config = env("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".config"));
        pip_confs.push(config.join("pip/pip.conf"));
    }
    if let Some(path) = env("PIP_CONFIG_FILE") {
        pip_confs.push(PathBuf::from(path));
    }
    for path in pip_confs {
        if let Some(text) = read(&path) {
            parse_pip_conf(&text, &mut res);
        }
    }
    if let Some(url) = env("PIP_INDEX_URL") {
        set_pypi_index(&url, &mut res);
    }
    if let Some(urls) = env("PIP_EXTRA_INDEX_URL") {
        for url in urls.split_whitespace() {
            add_pypi_extra(url, &mut res);
        }
    }
    if let Ok(entries) = std::fs::read_dir(project_dir) {
        let mut names: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("requirements") && n.ends_with(".txt"))
            })
            .collect();
        names.sort();
        for path in names {
            if let Some(text) = read(&path) {
                res.apply_project_file(&path, |res| parse_requirements_options(&text, res));
            }
        }
    }
    if let Some((path, text)) = read_first(&[project_dir.join("pyproject.toml")]) {
        let parsed = res.apply_project_file(&path, |res| parse_pyproject_indexes(&text, res));
        check(path, parsed);
    }
    problems.extend(refused.into_inner());
    (res, problems)
}
