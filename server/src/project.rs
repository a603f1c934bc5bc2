//! Reads what surrounds a manifest on disk: its lockfile, the Cargo workspace root, `gatehouse.toml`
//! and the environment, and turns them into the inputs of the pure core. Shared by the two composition
//! roots (`cli`, `lsp`), which are the only callers.
//!
//! Invariants:
//! - Every read is best effort: a missing or unreadable file is `None` plus a message, never an error
//!   that stops the analysis.
//! - Every file the project controls is read through `lookup::untrusted` with the workspace's bounds:
//!   regular files inside the workspace only, capped; what is refused is a `Context::problems` entry.
//!   Searches upwards (lockfiles, workspace roots, `gatehouse.toml`) stop at the workspace root.
//! - Reads the environment once per call (`env_vars`), so tests can pass their own.

use std::path::{Path, PathBuf};

use crate::config::{self, Config, ConfigIssue, Layer};
use crate::engine::{Input, RegistryRules};
use crate::lookup::private::{self, PrivateRegistries};
use crate::lookup::untrusted::{self, Bounds, CONFIG_CAP, LOCKFILE_CAP, MANIFEST_CAP, ReadError};
use crate::manifest::decode::{self, Decoded};
use crate::manifest::{self, Lockfile, ManifestKind, Parsed};
use crate::policy::cooldown;

/// The context of one manifest.
pub struct Context {
    pub lockfile: Option<Lockfile>,
    pub lockfile_path: Option<PathBuf>,
    pub workspace: Option<Parsed>,
    pub config: Config,
    pub config_path: Option<PathBuf>,
    pub config_text: Option<String>,
    pub registries: RegistryRules,
    /// The same registries with their credentials, for the lookup layer.
    pub private: PrivateRegistries,
    /// The folder the project's files must stay inside (canonical).
    pub workspace_root: PathBuf,
    /// The manifest's folder (canonical), which its includes are relative to.
    pub manifest_dir: PathBuf,
    /// Files around the manifest that were refused or could not be read: (file, why).
    pub problems: Vec<(String, String)>,
}

impl Context {
    /// The engine's input for `parsed`, a manifest this context surrounds.
    pub fn input<'a>(&'a self, parsed: &'a Parsed) -> Input<'a> {
        Input {
            manifest: parsed,
            lockfile: self.lockfile.as_ref(),
            workspace: self.workspace.as_ref(),
            registries: &self.registries,
        }
    }
}

/// The engine's view of the project's registries (no credentials).
pub fn registry_rules(private: &PrivateRegistries) -> RegistryRules {
    let pairs = |map: &std::collections::BTreeMap<String, String>| {
        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>()
    };
    RegistryRules {
        npm_default: private.npm_default.clone(),
        npm_scopes: pairs(&private.npm_scopes),
        cargo_registries: pairs(&private.cargo_registries),
        cargo_replacement: private.cargo_crates_io_replacement.clone(),
        cargo_default_registry: private.cargo_default_registry.clone(),
        pypi_index: private.pypi_index.clone(),
        pypi_named: pairs(&private.pypi_named),
        pypi_pinned: pairs(&private.pypi_pinned),
        mirror_is_public: false,
        private_packages: Vec::new(),
    }
}

/// A key that tells lookups with different settings or registries apart.
pub fn lookup_key(context: &Context) -> String {
    format!("{:?}|{:?}", context.config.lookup, context.registries)
}

/// The workspace a path belongs to, when no editor says: the nearest folder at or above it that holds
/// `.git` (but not the home folder or `/`, which may be a dotfiles repository), else the folder itself
/// (or a file's folder). Everything the project names must stay inside it.
pub fn workspace_root(path: &Path, env: &[(String, String)]) -> PathBuf {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let start = if real.is_dir() {
        real.clone()
    } else {
        real.parent().map(Path::to_path_buf).unwrap_or_else(|| real.clone())
    };
    let home = env
        .iter()
        .find(|(key, _)| key == "HOME")
        .map(|(_, value)| std::fs::canonicalize(value).unwrap_or_else(|_| PathBuf::from(value)));
    let mut current = Some(start.as_path());
    while let Some(folder) = current {
        if Some(folder) == home.as_deref() || folder.parent().is_none() {
            break;
        }
        if folder.join(".git").exists() {
            return folder.to_path_buf();
        }
        current = folder.parent();
    }
    start
}

/// Reads a file of the project as text, inside `bounds`; absent is `Ok(None)`.
pub fn read_project_file(path: &Path, bounds: &Bounds) -> Result<Option<String>, ReadError> {
    match untrusted::read_untrusted_text(path, bounds) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(error),
    }
}

/// Reads a manifest, lockfile or include inside `bounds` and decodes it the way its package manager
/// does. `Err` when the file cannot be read at all (absent, refused, too large); a decoding problem comes
/// back in `Decoded::problem`.
pub fn read_text(path: &Path, kind: ManifestKind, bounds: &Bounds) -> Result<Decoded, String> {
    let bytes = untrusted::read_untrusted(path, bounds).map_err(|error| error.to_string())?;
    Ok(decode::decode(kind, &bytes))
}

/// The folders from `dir` up to `root` (both included); just `dir` when it is not inside `root`.
fn dirs_up_to(dir: &Path, root: &Path) -> Vec<PathBuf> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let mut res = Vec::new();
    let mut current = Some(dir.as_path());
    while let Some(folder) = current {
        res.push(folder.to_path_buf());
        if folder == root || !folder.starts_with(&root) {
            break;
        }
        current = folder.parent();
    }
    res
}

/// The process environment as pairs (the only place it is read).
pub fn env_vars() -> Vec<(String, String)> {
    std::env::vars().collect()
}

/// The user's own configuration file: `$XDG_CONFIG_HOME/gatehouse/config.toml`, else
/// `~/.config/gatehouse/config.toml`.
pub fn user_config_path(env: &[(String, String)]) -> Option<PathBuf> {
    let get = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    if let Some(xdg) = get("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(xdg).join("gatehouse").join("config.toml"));
    }
    get("HOME").filter(|v| !v.is_empty()).map(|home| {
        PathBuf::from(home)
            .join(".config")
            .join("gatehouse")
            .join("config.toml")
    })
}

/// The layers only the user controls, in precedence order: the user configuration, the environment,
/// then `overrides` (flags or editor settings).
fn user_layers(env: &[(String, String)], cwd: &Path, overrides: &[Layer], issues: &mut Vec<ConfigIssue>) -> Vec<Layer> {
    let mut res = Vec::new();
    if let Some(path) = user_config_path(env) {
        match read_project_file(&path, &Bounds::user_named(CONFIG_CAP)) {
            Ok(Some(text)) => {
                let (layer, layer_issues) = Layer::from_toml(&path, &text);
                res.push(layer);
                issues.extend(layer_issues);
            }
            Ok(None) => {}
            Err(error) => issues.push(ConfigIssue {
                key: String::new(),
                message: error.to_string(),
                source: path.display().to_string(),
            }),
        }
    }
    res.push(Layer::from_env(env, cwd));
    res.extend(overrides.iter().cloned());
    res
}

/// Whether the user trusts the project rooted at `workspace`: `trust-project-config` from their own
/// side, or `workspace` at or below one of their `trusted-folders`.
pub fn is_trusted(trust: &config::TrustSettings, workspace: &Path) -> bool {
    if trust.project_config {
        return true;
    }
    let real = std::fs::canonicalize(workspace).unwrap_or_else(|_| workspace.to_path_buf());
    trust.folders.iter().any(|folder| {
        let folder = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.clone());
        real.starts_with(folder)
    })
}

/// How a person trusts a project, for the messages on ignored keys.
fn how_to_trust(workspace: &Path) -> String {
    format!(
        "to trust it, run `gatehouse trust {}`, pass --trust-project-config (GATEHOUSE_TRUST_PROJECT_CONFIG=1), or trust the workspace in your editor",
        workspace.display()
    )
}

/// Whether the project at `workspace` is trusted, from the user's side only.
pub fn project_trusted(env: &[(String, String)], cwd: &Path, overrides: &[Layer], workspace: &Path) -> bool {
    let mut ignored = Vec::new();
    let user = config::build(&user_layers(env, cwd, overrides, &mut ignored));
    is_trusted(&user.trust, workspace)
}

/// The issues of a project `gatehouse.toml` as its diagnostics show them: its own problems, plus the
/// machine-trust keys ignored because the project is not trusted.
pub fn project_config_issues(path: &Path, text: &str, trusted: bool, workspace: &Path) -> Vec<ConfigIssue> {
    let (mut layer, mut issues) = Layer::from_toml(path, text);
    if !trusted {
        issues.extend(config::strip_machine_trust(&mut layer, &how_to_trust(workspace)));
    }
    issues.extend(config::build(&[layer]).issues);
    issues
}

/// Layers from the user configuration, `gatehouse.toml` (explicit, or found next to the manifest or in
/// a parent inside the workspace) and the environment; `overrides` (flags or client settings) go last.
/// A project file the user does not trust loses its machine-trust keys (an issue at each), may not
/// loosen `fail-on`, and its policy carries the user's own as `untrusted_floor`.
pub fn load_config(
    start_dir: &Path,
    explicit: Option<&Path>,
    env: &[(String, String)],
    cwd: &Path,
    overrides: &[Layer],
    workspace: &Path,
) -> (Config, Option<PathBuf>, Option<String>) {
    let mut issues: Vec<ConfigIssue> = Vec::new();
    let user_side = user_layers(env, cwd, overrides, &mut issues);
    let user = config::build(&user_side);
    let trusted = is_trusted(&user.trust, workspace);
    let bounds = Bounds::workspace(workspace, CONFIG_CAP);
    let (path, bounds) = match explicit {
        // Named on the command line by the user: any regular file (its content is still the project's).
        Some(path) => (Some(path.to_path_buf()), Bounds::user_named(CONFIG_CAP)),
        None => (
            dirs_up_to(start_dir, workspace)
                .into_iter()
                .map(|dir| dir.join("gatehouse.toml"))
                .find(|candidate| candidate.symlink_metadata().is_ok()),
            bounds,
        ),
    };
    let mut project_layer = None;
    let mut text = None;
    if let Some(path) = &path {
        match untrusted::read_untrusted_text(path, &bounds) {
            Ok(contents) => {
                let (mut layer, layer_issues) = Layer::from_toml(path, &contents);
                issues.extend(layer_issues);
                if !trusted {
                    issues.extend(config::strip_machine_trust(&mut layer, &how_to_trust(workspace)));
                }
                project_layer = Some(layer);
                text = Some(contents);
            }
            Err(err) => issues.push(ConfigIssue {
                key: String::new(),
                message: err.to_string(),
                source: path.display().to_string(),
            }),
        }
    }
    // Precedence: defaults < user configuration < gatehouse.toml < environment < flags / client settings.
    let mut layers: Vec<Layer> = Vec::new();
    let n_user_files = user_side.len().saturating_sub(1 + overrides.len());
    layers.extend(user_side.iter().take(n_user_files).cloned());
    layers.extend(project_layer);
    layers.extend(user_side.iter().skip(n_user_files).cloned());
    let mut config = config::build(&layers);
    issues.append(&mut config.issues);
    if !trusted {
        let looser = match (config.fail_on, user.fail_on) {
            (None, Some(_)) => true,
            (Some(project), Some(own)) => !project.at_least(own),
            _ => false,
        };
        if looser && let Some(path) = &path {
            issues.push(ConfigIssue {
                key: "fail-on".to_string(),
                message: format!(
                    "`fail-on` is ignored: this project's gatehouse.toml is not trusted and may not loosen it; {}",
                    how_to_trust(workspace)
                ),
                source: path.display().to_string(),
            });
            config.fail_on = user.fail_on;
        }
        config.policy.untrusted_floor = Some(Box::new(user.policy.clone()));
    }
    config.issues = issues;
    if config.lookup.cache_dir.as_os_str().is_empty() {
        config.lookup.cache_dir = crate::lookup::cache::default_cache_dir(env);
    }
    (config, path, text)
}

/// Reads the lockfile that decides versions for a manifest, if there is one beside it (or, for Cargo,
/// at a workspace root inside the workspace). A lockfile that is refused (a FIFO, a device, outside the
/// workspace, too large) is a problem, never read.
pub fn load_lockfile(
    manifest_path: &Path,
    kind: ManifestKind,
    workspace: &Path,
    problems: &mut Vec<(String, String)>,
) -> Option<(PathBuf, Lockfile)> {
    let dir = manifest_path.parent()?;
    let mut candidates: Vec<PathBuf> = kind.lockfile_names().iter().map(|name| dir.join(name)).collect();
    if kind == ManifestKind::CargoToml {
        // A workspace member's lockfile lives at the workspace root.
        for folder in dirs_up_to(dir, workspace).into_iter().skip(1) {
            candidates.push(folder.join("Cargo.lock"));
        }
    }
    let bounds = Bounds::workspace(workspace, LOCKFILE_CAP);
    for candidate in candidates {
        let Some(lock_kind) = ManifestKind::detect(&candidate, false) else {
            continue;
        };
        let shown = candidate.display().to_string();
        let decoded = match untrusted::read_untrusted(&candidate, &bounds) {
            Ok(bytes) => decode::decode(lock_kind, &bytes),
            Err(error) if error.is_not_found() => continue,
            Err(error) => {
                problems.push((shown, error.to_string()));
                continue;
            }
        };
        if let Some(problem) = decoded.problem {
            problems.push((shown.clone(), problem));
        }
        if let Some(lockfile) = manifest::parse_lockfile(lock_kind, &decoded.text) {
            if lockfile.packages.is_empty()
                && let Some(issue) = lockfile.issues.first()
            {
                problems.push((
                    shown,
                    format!(
                        "the lockfile did not parse, so no version was read from it: {}",
                        issue.message
                    ),
                ));
            }
            return Some((candidate, lockfile));
        }
    }
    None
}

/// Cargo: the nearest parent `Cargo.toml` with a `[workspace]` table (for `workspace = true`), inside
/// the workspace.
pub fn load_workspace_root(
    manifest_path: &Path,
    kind: ManifestKind,
    workspace: &Path,
    problems: &mut Vec<(String, String)>,
) -> Option<Parsed> {
    if kind != ManifestKind::CargoToml {
        return None;
    }
    let dir = manifest_path.parent()?;
    let bounds = Bounds::workspace(workspace, MANIFEST_CAP);
    for folder in dirs_up_to(dir, workspace).into_iter().skip(1) {
        let candidate = folder.join("Cargo.toml");
        match read_project_file(&candidate, &bounds) {
            Ok(Some(text)) if text.contains("[workspace") => {
                return Some(manifest::parse(ManifestKind::CargoToml, &text));
            }
            Ok(_) => {}
            Err(error) => problems.push((candidate.display().to_string(), error.to_string())),
        }
    }
    None
}

/// The folders a project's settings may live in: the manifest's folder and its parents, up to the
/// repository root (the first folder with `.git`) and never above the workspace.
fn project_dirs(dir: &Path, workspace: &Path) -> Vec<PathBuf> {
    let mut res = Vec::new();
    for folder in dirs_up_to(dir, workspace) {
        let is_repository_root = folder.join(".git").exists();
        res.push(folder);
        if is_repository_root {
            break;
        }
    }
    res
}

/// Reads the cooldowns the project declares for its package managers and update bots, so the editor
/// agrees with the install (`policy::cooldown` decides the precedence).
fn apply_cooldowns(
    config: &mut Config,
    dir: &Path,
    kind: ManifestKind,
    workspace: &Path,
    problems: &mut Vec<(String, String)>,
) {
    let found = cooldown::find_files(&project_dirs(dir, workspace), |p| p.symlink_metadata().is_ok());
    let bounds = Bounds::workspace(workspace, CONFIG_CAP);
    let mut texts: Vec<(cooldown::CooldownFile, String)> = Vec::new();
    for (path, file) in found {
        match untrusted::read_untrusted_text(&path, &bounds) {
            Ok(text) => texts.push((file, text)),
            Err(error) => problems.push((path.display().to_string(), error.to_string())),
        }
    }
    if texts.is_empty() {
        return;
    }
    let borrowed: Vec<(cooldown::CooldownFile, &str)> = texts.iter().map(|(f, t)| (*f, t.as_str())).collect();
    let (age, issues) = cooldown::thresholds_from_files(kind.ecosystem(), &config.policy.age, &borrowed);
    config.policy.age = age;
    config.issues.extend(issues.into_iter().map(|issue| ConfigIssue {
        key: issue.key,
        message: issue.message,
        source: issue.file,
    }));
}

/// Everything around one manifest; `workspace` bounds every file the project may name.
pub fn context(
    manifest_path: &Path,
    kind: ManifestKind,
    explicit_config: Option<&Path>,
    env: &[(String, String)],
    cwd: &Path,
    overrides: &[Layer],
    workspace: &Path,
) -> Context {
    let dir = manifest_path.parent().unwrap_or(Path::new("."));
    let mut problems = Vec::new();
    let (mut config, config_path, config_text) = load_config(dir, explicit_config, env, cwd, overrides, workspace);
    apply_cooldowns(&mut config, dir, kind, workspace, &mut problems);
    let (lockfile_path, lockfile) = match load_lockfile(manifest_path, kind, workspace, &mut problems) {
        Some((path, lockfile)) => (Some(path), Some(lockfile)),
        None => (None, None),
    };
    let (private, parse_problems) = private::load_from_disk_within(dir, Some(workspace));
    config
        .issues
        .extend(parse_problems.into_iter().map(|problem| ConfigIssue {
            key: String::new(),
            message: format!(
                "could not parse {}, so its registries and credentials are not used: {}",
                problem.path.display(),
                problem.message.trim_end()
            ),
            source: problem.path.display().to_string(),
        }));
    let registries = RegistryRules {
        mirror_is_public: config.mirror_is_public,
        private_packages: config.private_packages.clone(),
        ..registry_rules(&private)
    };
    Context {
        lockfile,
        lockfile_path,
        workspace: load_workspace_root(manifest_path, kind, workspace, &mut problems),
        config,
        config_path,
        config_text,
        registries,
        private,
        workspace_root: workspace.to_path_buf(),
        manifest_dir: std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cargo_config_that_does_not_parse_is_a_config_issue() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(&manifest, "[package]\nname = \"demo\"\nversion = \"0.1.0\"\n").unwrap();
        std::fs::create_dir(dir.path().join(".cargo")).unwrap();
        let broken = dir.path().join(".cargo").join("config.toml");
        std::fs::write(
            &broken,
            "[registries.internal\nindex = \"sparse+https://cargo.example/\"\n",
        )
        .unwrap();

        let context = context(
            &manifest,
            ManifestKind::CargoToml,
            None,
            &[],
            dir.path(),
            &[],
            dir.path(),
        );

        let issue = context
            .config
            .issues
            .iter()
            .find(|issue| issue.source == broken.display().to_string())
            .unwrap_or_else(|| panic!("no issue names {}: {:?}", broken.display(), context.config.issues));
        assert!(issue.message.starts_with("could not parse"), "{}", issue.message);
        assert!(context.private.cargo_registries.is_empty());
    }
}
