//! Finds and reads the registry configuration files that apply to a project, and the environment
//! variables that override them: the only file and environment IO of `private`.
//!
//! Invariants:
//! - The user's own files (`$NPM_CONFIG_USERCONFIG` or `~/.npmrc`, npm's global config below it
//!   (`$NPM_CONFIG_GLOBALCONFIG` or `<prefix>/etc/npmrc`), `$CARGO_HOME/config.toml` and
//!   `credentials.toml`, pip.conf, `PIP_CONFIG_FILE`) are read wherever they are. The project's
//!   (`PROJECT_FILES`) are read like every other file of the repository: regular files inside the
//!   workspace only (`Bounds::workspace`); a symlink or path leading out is reported as not read, and
//!   nothing in it applies.
//! - Credentials are kept apart by who wrote them. The user's win: a project credential on an origin
//!   (`scheme://host:port`) where the user holds one is left out and reported. A project credential
//!   written literally goes only to the scope the project wrote it for.
//! - A user's npm token (scoped `//host/path/`, scheme-less as npm writes it) goes over https, and over
//!   plain http only to origins the user's own files name as an http registry: a project cannot pull it
//!   onto an unencrypted connection by naming `http://` + the user's host.
//! - `${VAR}` is expanded only in the user's files and in a trusted project's (`npmrc::Expansion`).
//!   Cargo tokens are bound to the index the user names (`cargo_config::bind_user_tokens`).
//! - The environment is read through `Discovery::env` only, so tests pass their own.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::cargo_config::{UserToken, bind_user_tokens, env_name};
use super::npmrc::Expansion;
use super::pip::{add_pypi_extra, set_pypi_index};
use super::yarn_bun::Secrets;
use super::{
    PrivateRegistries, ProjectRegistryFiles, parse_bunfig, parse_cargo_config, parse_cargo_credentials, parse_npmrc,
    parse_pip_conf, parse_pnpm_workspace, parse_pyproject_indexes, parse_requirements_options, parse_yarnrc,
    parse_yarnrc_yml, trimmed,
};
use crate::lookup::http::HostCredentials;
use crate::lookup::untrusted::{Bounds, CONFIG_CAP, MANIFEST_CAP, read_untrusted_text};

/// The registry settings files read from a project's folders (relative to the folder; `*` stands for
/// any text): what `load_from_disk` reads below the user's own files. Editors watch these.
pub const PROJECT_FILES: &[&str] = &[
    ".npmrc",
    "pnpm-workspace.yaml",
    ".yarnrc.yml",
    ".yarnrc",
    "bunfig.toml",
    ".cargo/config.toml",
    ".cargo/config",
    "requirements*.txt",
    "pyproject.toml",
];

/// A configuration file that was found but could not be used (refused, does not parse), or a setting
/// in it that was left out; the front reports it as it reports other config problems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFileProblem {
    pub path: PathBuf,
    /// A whole sentence, naming the file.
    pub message: String,
}

/// Whether the user trusts the project's own files (`trusted-folders`, `trust-project-config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectTrust {
    Untrusted,
    Trusted,
}

/// What `load_from_disk` reads for: one manifest folder inside one workspace.
pub struct Discovery<'a> {
    /// The manifest's folder.
    pub project_dir: &'a Path,
    /// The workspace root: project files must lie inside it, and the walk up for `.cargo/config.toml`
    /// stops there.
    pub workspace: &'a Path,
    pub trust: ProjectTrust,
    /// Which of the project's own files its package manager reads (the `.npmrc`:
    /// `ProjectRegistryFiles::decide`).
    pub files: &'a ProjectRegistryFiles,
    /// The environment (the process's, or a test's).
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// Who wrote a file: where it may be, and who its credentials belong to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    User,
    Project,
}

struct Reader {
    workspace: Bounds,
    problems: RefCell<Vec<ConfigFileProblem>>,
}

impl Reader {
    /// Registry settings files: regular files under the config cap only, so a FIFO or a device named
    /// `.npmrc` or `requirements.txt` is skipped, never read; a project's inside the workspace only.
    /// A file that is absent is `None`; one that is refused is `None` too, and reported.
    fn read(&self, path: &Path, owner: Owner) -> Option<String> {
        let is_requirements = path.extension().is_some_and(|ext| ext == "txt");
        let cap = if is_requirements { MANIFEST_CAP } else { CONFIG_CAP };
        let bounds = match owner {
            Owner::User => Bounds::user_named(cap),
            Owner::Project => self.workspace.with_cap(cap),
        };
        match read_untrusted_text(path, &bounds) {
            Ok(text) => Some(text),
            Err(error) if error.is_not_found() => None,
            Err(error) => {
                self.problem(path, format!("{error}, so its registries and credentials are not used"));
                None
            }
        }
    }

    /// The first of `paths` that exists, with its text (`None` when it is refused: a refused file is
    /// not replaced by the next candidate).
    fn read_first(&self, paths: &[PathBuf], owner: Owner) -> Option<(PathBuf, String)> {
        let path = paths.iter().find(|path| path.symlink_metadata().is_ok())?;
        self.read(path, owner).map(|text| (path.clone(), text))
    }

    fn problem(&self, path: &Path, message: String) {
        self.problems.borrow_mut().push(ConfigFileProblem {
            path: path.to_path_buf(),
            message,
        });
    }

    fn parsed(&self, path: &Path, parsed: Result<(), String>) {
        if let Err(message) = parsed {
            self.problem(
                path,
                format!(
                    "could not parse {}, so its registries and credentials are not used: {}",
                    path.display(),
                    message.trim_end()
                ),
            );
        }
    }
}

/// Moves the credentials the last parse added into `sink`.
fn drain(res: &mut PrivateRegistries, sink: &mut HostCredentials) {
    sink.absorb(std::mem::take(&mut res.credentials));
}

/// The same file (both canonical paths exist and agree).
fn same_file(a: &Path, b: &Path) -> bool {
    matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(a), Ok(b)) if a == b)
}

/// Reads every registry configuration that applies to the manifest folder: npm's global config
/// (`global_npmrc`), the user's then the project's `.npmrc`, then (pnpm) the project's
/// `pnpm-workspace.yaml`, then `NPM_CONFIG_REGISTRY`; `$CARGO_HOME/config.toml`, then `.cargo/config.toml`
/// from the workspace root inwards, then `CARGO_REGISTRIES_<NAME>_INDEX`, `credentials.toml` and
/// `CARGO_REGISTRIES_<NAME>_TOKEN`; pip.conf, `PIP_INDEX_URL`, `PIP_EXTRA_INDEX_URL`, then the
/// project's `requirements*.txt` and `pyproject.toml`. Files that cannot be used, and settings left
/// out, come back as problems beside what the others say.
pub fn load_from_disk(discovery: &Discovery<'_>) -> (PrivateRegistries, Vec<ConfigFileProblem>) {
    let Discovery {
        project_dir,
        workspace,
        trust,
        files,
        env,
    } = *discovery;
    let trusted = trust == ProjectTrust::Trusted;
    let reader = Reader {
        workspace: Bounds::workspace(workspace, CONFIG_CAP),
        problems: RefCell::new(Vec::new()),
    };
    let mut res = PrivateRegistries::default();
    let mut user_credentials = HostCredentials::default();
    // Each project file's credentials, merged below the user's at the end.
    let mut project_credentials: Vec<(PathBuf, HostCredentials)> = Vec::new();
    let home = env("HOME")
        .or_else(|| env("USERPROFILE"))
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);

    // npm.
    let user_npmrc = env("NPM_CONFIG_USERCONFIG")
        .or_else(|| env("npm_config_userconfig"))
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".npmrc")));
    let env_registry = env("NPM_CONFIG_REGISTRY").or_else(|| env("npm_config_registry"));
    // npm's global config, below the user's: `npm config` reads project > user > global > builtin.
    let global_npmrc =
        global_npmrc(env).filter(|global| !user_npmrc.as_ref().is_some_and(|user| same_file(user, global)));
    let mut read_any_npmrc = false;
    for path in global_npmrc.iter().chain(user_npmrc.iter()) {
        if let Some(text) = reader.read(path, Owner::User) {
            read_any_npmrc = true;
            for note in parse_npmrc(&text, Expansion::Env(env), &mut res) {
                reader.problem(path, format!("{}: {note}", path.display()));
            }
        }
    }
    if read_any_npmrc {
        // The http origins the user's own settings name as registries: the only ones a user npm token
        // may travel to unencrypted.
        let http_origins: Vec<String> = res
            .npm_default
            .iter()
            .chain(res.npm_scopes.values())
            .chain(env_registry.iter())
            .filter(|url| url.trim().starts_with("http://"))
            .filter_map(|url| crate::lookup::http::origin_of(url.trim()))
            .collect();
        let mut npm = std::mem::take(&mut res.credentials);
        npm.retain_origins(|origin| !origin.starts_with("http://") || http_origins.iter().any(|o| o == origin));
        user_credentials.absorb(npm);
    }
    // Yarn's and Bun's own files: the user's, then (below) the project's.
    let user_yarn_bun = user_yarn_bun_files(files, home.as_deref(), env);
    for (path, format) in &user_yarn_bun {
        if let Some(text) = reader.read(path, Owner::User) {
            match format.apply(&text, Expansion::Env(env), Secrets::Read, &mut res) {
                Ok(notes) => {
                    for note in notes {
                        reader.problem(path, format!("{}: {note}", path.display()));
                    }
                }
                Err(message) => reader.parsed(path, Err(message)),
            }
        }
        drain(&mut res, &mut user_credentials);
    }
    res.users_own.npm = res.npm_default.clone();
    // The user's home (or npm's prefix) opened as the project: its `.npmrc` is the user's, read once.
    if let Some(project_npmrc) = &files.npmrc
        && !user_npmrc
            .iter()
            .chain(global_npmrc.iter())
            .any(|user| same_file(user, project_npmrc))
        && let Some(text) = reader.read(project_npmrc, Owner::Project)
    {
        let expansion = if trusted { Expansion::Env(env) } else { Expansion::Never };
        let notes = res.apply_project_file(project_npmrc, |res| parse_npmrc(&text, expansion, res));
        for note in notes {
            let hint = if note.contains("not expanded") {
                format!("; {}", how_to_trust(workspace))
            } else {
                String::new()
            };
            reader.problem(project_npmrc, format!("{}: {note}{hint}", project_npmrc.display()));
        }
        let mut mine = HostCredentials::default();
        drain(&mut res, &mut mine);
        project_credentials.push((project_npmrc.clone(), mine));
    }
    for (path, format) in project_yarn_bun_files(files, workspace) {
        if user_yarn_bun.iter().any(|(user, _)| same_file(user, &path)) {
            continue;
        }
        let Some(text) = reader.read(&path, Owner::Project) else {
            continue;
        };
        let (expansion, secrets) = if trusted {
            (Expansion::Env(env), Secrets::Read)
        } else {
            (Expansion::Never, Secrets::Ignored)
        };
        match res.apply_project_file(&path, |res| format.apply(&text, expansion, secrets, res)) {
            Ok(notes) => {
                for note in notes {
                    let hint = if note.contains("not expanded") {
                        format!("; {}", how_to_trust(workspace))
                    } else {
                        String::new()
                    };
                    reader.problem(&path, format!("{}: {note}{hint}", path.display()));
                }
            }
            Err(message) => reader.parsed(&path, Err(message)),
        }
        let mut mine = HostCredentials::default();
        drain(&mut res, &mut mine);
        project_credentials.push((path, mine));
    }
    // The environment is the user's and wins over every file: npm's, then the client's own.
    let client_registry = [
        (files.yarnrc_yml_from.is_some(), "YARN_NPM_REGISTRY_SERVER"),
        (files.yarnrc.is_some(), "YARN_REGISTRY"),
        (files.bunfig.is_some(), "BUN_CONFIG_REGISTRY"),
        // pnpm 11 reads its settings from `pnpm_config_*` variables.
        (files.pnpm_workspace.is_some(), "pnpm_config_registry"),
        (files.pnpm_workspace.is_some(), "PNPM_CONFIG_REGISTRY"),
    ]
    .into_iter()
    .filter(|(applies, _)| *applies)
    .find_map(|(_, name)| env(name).filter(|value| !value.trim().is_empty()));
    for registry in env_registry.iter().chain(client_registry.iter()) {
        parse_npmrc(&format!("registry={registry}"), Expansion::Env(env), &mut res);
        res.users_own.npm = res.npm_default.clone();
    }

    // Cargo.
    let cargo_home = env("CARGO_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".cargo")));
    if let Some(cargo_home) = &cargo_home
        && let Some((path, text)) = reader.read_first(
            &[cargo_home.join("config.toml"), cargo_home.join("config")],
            Owner::User,
        )
    {
        reader.parsed(&path, parse_cargo_config(&text, &mut res));
        drain(&mut res, &mut user_credentials);
    }
    res.users_own.cargo_replacement = res.cargo_crates_io_replacement.clone();
    // The indexes the user's side names, by registry name.
    let mut user_indexes: BTreeMap<String, String> = res.cargo_registries.clone();
    for dir in outermost_first(project_dir, workspace) {
        let cargo_dir = dir.join(".cargo");
        if cargo_home
            .as_ref()
            .is_some_and(|home| *home == cargo_dir || same_file(home, &cargo_dir))
        {
            continue;
        }
        if let Some((path, text)) = reader.read_first(
            &[cargo_dir.join("config.toml"), cargo_dir.join("config")],
            Owner::Project,
        ) {
            let parsed = res.apply_project_file(&path, |res| parse_cargo_config(&text, res));
            reader.parsed(&path, parsed);
            let mut mine = HostCredentials::default();
            drain(&mut res, &mut mine);
            project_credentials.push((path, mine));
        }
    }
    let mut tokens: Vec<UserToken> = Vec::new();
    if let Some(cargo_home) = &cargo_home
        && let Some((path, text)) = reader.read_first(&[cargo_home.join("credentials.toml")], Owner::User)
    {
        match parse_cargo_credentials(&text) {
            Ok(found) => tokens.extend(found.into_iter().map(|(registry, token)| UserToken {
                registry,
                token,
                source: path.display().to_string(),
            })),
            Err(message) => reader.parsed(&path, Err(message)),
        }
    }
    // Every registry name in play: the environment may define or log in to any of them.
    let mut names: Vec<String> = res
        .cargo_registries
        .keys()
        .cloned()
        .chain(tokens.iter().map(|t| t.registry.clone()))
        .chain(res.cargo_default_registry.clone())
        .collect();
    names.sort();
    names.dedup();
    for name in &names {
        // Cargo's environment overrides every config file; it is the user's.
        if let Some(index) = env(&format!("CARGO_REGISTRIES_{}_INDEX", env_name(name))).filter(|i| !i.is_empty()) {
            res.cargo_registries.insert(name.clone(), trimmed(&index));
            user_indexes.insert(name.clone(), trimmed(&index));
        }
        let var = format!("CARGO_REGISTRIES_{}_TOKEN", env_name(name));
        if let Some(token) = env(&var) {
            tokens.push(UserToken {
                registry: name.clone(),
                token,
                source: var,
            });
        }
    }
    let cargo_home_shown = cargo_home.clone().unwrap_or_default().join("credentials.toml");
    for (_, why) in bind_user_tokens(&tokens, &user_indexes, trusted, &mut res) {
        reader.problem(&cargo_home_shown, format!("{why}; {}", how_to_trust(workspace)));
    }
    drain(&mut res, &mut user_credentials);

    let mut pip_confs = Vec::new();
    // pip.
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
        if let Some(text) = reader.read(&path, Owner::User) {
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
    drain(&mut res, &mut user_credentials);
    res.users_own.pypi_index = res.pypi_index.clone();
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
            if let Some(text) = reader.read(&path, Owner::Project) {
                res.apply_project_file(&path, |res| parse_requirements_options(&text, res));
                let mut mine = HostCredentials::default();
                drain(&mut res, &mut mine);
                project_credentials.push((path, mine));
            }
        }
    }
    let pyproject = project_dir.join("pyproject.toml");
    if let Some((path, text)) = reader.read_first(std::slice::from_ref(&pyproject), Owner::Project) {
        let parsed = res.apply_project_file(&path, |res| parse_pyproject_indexes(&text, res));
        reader.parsed(&path, parsed);
        let mut mine = HostCredentials::default();
        drain(&mut res, &mut mine);
        project_credentials.push((path, mine));
    }

    // A registry the project names but the user holds a credential for (the usual private setup: a
    // committed `@corp:registry=…`, the token in the developer's own `~/.npmrc`) is the user's too.
    res.project_named.retain(|url, _| {
        let with_slash = if url.ends_with('/') {
            url.clone()
        } else {
            format!("{url}/")
        };
        reqwest::Url::parse(&with_slash).map_or(true, |parsed| user_credentials.for_url(&parsed).is_none())
    });
    // The user's credentials first; a project's only where the user has none on that origin.
    res.credentials = user_credentials;
    for (path, credentials) in project_credentials {
        for scope in res.credentials.absorb_where_absent(credentials) {
            reader.problem(
                &path,
                format!(
                    "{}: its credential for {scope} is not used: your own configuration holds the credential for that host",
                    path.display()
                ),
            );
        }
    }
    (res, reader.problems.into_inner())
}

/// npm's global config file: `$NPM_CONFIG_GLOBALCONFIG`, else `<prefix>/etc/npmrc`, where the prefix
/// is `$NPM_CONFIG_PREFIX`, else npm's default one: `$PREFIX`, else the folder above the folder of the
/// `node` executable (`/usr/local` for `/usr/local/bin/node`; on Windows the folder of `node.exe`),
/// here the first `node` on an absolute `PATH` entry, with its links resolved as node's own
/// `process.execPath` is. `None` when none of these is known. (npm's builtin `npmrc`, which some
/// distributions use to set `prefix` or `globalconfig`, is not read.)
fn global_npmrc(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let set = |upper: &str, lower: &str| {
        env(upper)
            .or_else(|| env(lower))
            .filter(|value| !value.trim().is_empty())
    };
    if let Some(path) = set("NPM_CONFIG_GLOBALCONFIG", "npm_config_globalconfig") {
        return Some(PathBuf::from(path));
    }
    let prefix = match set("NPM_CONFIG_PREFIX", "npm_config_prefix").or_else(|| set("PREFIX", "PREFIX")) {
        Some(prefix) => PathBuf::from(prefix),
        None => {
            let path = env("PATH").or_else(|| env("Path"))?;
            let node = if cfg!(windows) { "node.exe" } else { "node" };
            let found = std::env::split_paths(&path)
                // A relative entry would depend on the folder Gatehouse runs in: skipped.
                .filter(|dir| dir.is_absolute())
                .map(|dir| dir.join(node))
                .find(|candidate| candidate.is_file())?;
            let exec_path = std::fs::canonicalize(&found).unwrap_or(found);
            let bin = exec_path.parent()?;
            if cfg!(windows) {
                bin.to_path_buf()
            } else {
                bin.parent()?.to_path_buf()
            }
        }
    };
    Some(prefix.join("etc").join("npmrc"))
}

/// A registry settings file format of a client other than npm (Yarn, Bun, pnpm's workspace file).
#[derive(Clone, Copy)]
enum YarnBun {
    YarnrcYml,
    Yarnrc,
    Bunfig,
    /// `pnpm-workspace.yaml`: never holds credentials, so `Secrets` does not apply.
    PnpmWorkspace,
}

impl YarnBun {
    fn apply(
        self,
        text: &str,
        expansion: Expansion<'_>,
        secrets: Secrets,
        into: &mut PrivateRegistries,
    ) -> Result<Vec<String>, String> {
        match self {
            YarnBun::YarnrcYml => parse_yarnrc_yml(text, expansion, secrets, into),
            YarnBun::Yarnrc => {
                parse_yarnrc(text, into);
                Ok(Vec::new())
            }
            YarnBun::Bunfig => parse_bunfig(text, expansion, secrets, into),
            YarnBun::PnpmWorkspace => parse_pnpm_workspace(text, expansion, into),
        }
    }
}

/// The user's own Yarn or Bun settings file for the project's client: `~/.yarnrc.yml` (Yarn 2+),
/// `~/.yarnrc` (Yarn 1), `$XDG_CONFIG_HOME/.bunfig.toml` else `~/.bunfig.toml` (Bun).
fn user_yarn_bun_files(
    files: &ProjectRegistryFiles,
    home: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<(PathBuf, YarnBun)> {
    let mut res = Vec::new();
    let Some(home) = home else {
        return res;
    };
    if files.yarnrc_yml_from.is_some() {
        res.push((home.join(".yarnrc.yml"), YarnBun::YarnrcYml));
    }
    if files.yarnrc.is_some() {
        res.push((home.join(".yarnrc"), YarnBun::Yarnrc));
    }
    if files.bunfig.is_some() {
        let xdg = env("XDG_CONFIG_HOME")
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(p).join(".bunfig.toml"));
        let path = xdg
            .filter(|p| p.symlink_metadata().is_ok())
            .unwrap_or_else(|| home.join(".bunfig.toml"));
        res.push((path, YarnBun::Bunfig));
    }
    res
}

/// The project's Yarn, Bun or pnpm settings files, in the order they apply: every `.yarnrc.yml` from
/// the workspace root down to the install root (Yarn 2+ reads the folders above the project too, but
/// not above the workspace here), the install root's `.yarnrc` (Yarn 1), `bunfig.toml` (Bun) or
/// `pnpm-workspace.yaml` (pnpm).
fn project_yarn_bun_files(files: &ProjectRegistryFiles, workspace: &Path) -> Vec<(PathBuf, YarnBun)> {
    let mut res = Vec::new();
    if let Some(root) = &files.yarnrc_yml_from {
        for dir in outermost_first(root, workspace) {
            res.push((dir.join(".yarnrc.yml"), YarnBun::YarnrcYml));
        }
    }
    res.extend(files.yarnrc.clone().map(|path| (path, YarnBun::Yarnrc)));
    res.extend(files.bunfig.clone().map(|path| (path, YarnBun::Bunfig)));
    res.extend(files.pnpm_workspace.clone().map(|path| (path, YarnBun::PnpmWorkspace)));
    res
}

/// The folders from `workspace` down to `dir` (both included), outermost first; just `dir` when it is
/// not inside `workspace`. Relative paths are taken from the current folder.
fn outermost_first(dir: &Path, workspace: &Path) -> Vec<PathBuf> {
    let absolute = |path: &Path| match std::env::current_dir() {
        Ok(cwd) if path.is_relative() => cwd.join(path),
        _ => path.to_path_buf(),
    };
    let (dir_abs, root_abs) = (absolute(dir), absolute(workspace));
    let mut res: Vec<PathBuf> = if dir_abs.starts_with(&root_abs) {
        let depth = dir_abs.components().count() - root_abs.components().count();
        dir_abs.ancestors().take(depth + 1).map(Path::to_path_buf).collect()
    } else {
        vec![dir_abs.clone()]
    };
    res.reverse();
    res
}

fn how_to_trust(workspace: &Path) -> String {
    format!(
        "to trust this project, run `gatehouse trust {}` or pass --trust-project-config",
        workspace.display()
    )
}

#[cfg(test)]
mod tests;
