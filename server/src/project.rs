//! Reads what surrounds a manifest on disk: its lockfile, the Cargo workspace root, `gatehouse.toml`
//! and the environment, and turns them into the inputs of the pure core. Shared by the two composition
//! roots (`cli`, `lsp`), which are the only callers.
//!
//! Invariants:
//! - A lockfile is parsed once per content (`LOCKFILE_CACHE`, keyed by path, checked by length,
//!   mtime and hash), so the members of a workspace share one parse of the root's lockfile.
//! - Every read is best effort: a missing or unreadable file is `None` plus a message, never an error
//!   that stops the analysis.
//! - Every file the project controls is read through `lookup::untrusted` with the workspace's bounds:
//!   regular files inside the workspace only, capped; what is refused is a `Context::problems` entry.
//!   Searches upwards (lockfiles, workspace roots, `gatehouse.toml`) stop at the workspace root.
//! - Reads the environment once per call (`env_vars`), so tests can pass their own.

use std::path::{Path, PathBuf};

use crate::config::{self, Config, ConfigIssue, Layer};
use crate::engine::{Input, PipConstraints, RegistryRules, UserDefaults};
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
    /// Requirements files: the entries of the pip constraints files (`-c`) that apply to the manifest's
    /// dependencies (filled by the caller that follows includes).
    pub constraints: Vec<crate::manifest::Constraint>,
    /// The manifest is a pip constraints file: named with `-c` (never with `-r`) by a file the CLI read,
    /// or, with no such file, named like one (`model::is_constraints_name`).
    pub is_constraints_file: bool,
    /// The manifest is a constraints file that a requirements file read with it applies
    /// (`PipConstraints::applied`); the editor cannot know, so `false` there.
    pub constraints_applied: bool,
    /// Editor: the `-r`/`-c` includes (path as written, `-c`) `constraints` were read for, the files
    /// read for them (canonical: saving one reloads), and the constraints files that could not be read
    /// (the manifest's own include that leads to one, as written; what could not be read), shown on
    /// that include's line.
    pub constraints_read_for: Vec<(String, bool)>,
    pub constraint_files: Vec<PathBuf>,
    pub constraints_unread: Vec<(String, String)>,
}

impl Context {
    /// The engine's input for `parsed`, a manifest this context surrounds.
    pub fn input<'a>(&'a self, parsed: &'a Parsed) -> Input<'a> {
        Input {
            manifest: parsed,
            lockfile: self.lockfile.as_ref(),
            workspace: self.workspace.as_ref(),
            registries: &self.registries,
            constraints: PipConstraints {
                entries: &self.constraints,
                is_constraints_file: self.is_constraints_file,
                applied: self.constraints_applied,
            },
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
        public_urls: private
            .urls()
            .into_iter()
            .filter(|url| private::is_public(url))
            .collect(),
        project_named: pairs(&private.project_named),
        set_aside: Vec::new(),
    }
}

/// The default registry of `ecosystem` in the user's own settings (`None`: the public one).
fn own_default(own: &UserDefaults, ecosystem: crate::model::Ecosystem) -> Option<&str> {
    match ecosystem {
        crate::model::Ecosystem::Npm => own.npm.as_deref(),
        crate::model::Ecosystem::CratesIo => own.cargo_replacement.as_deref(),
        crate::model::Ecosystem::PyPI => own.pypi_index.as_deref(),
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

/// The project's own configuration file, looked for in the manifest's folder and its parents.
pub const CONFIG_FILE: &str = "gatehouse.toml";

/// Every file `context` may read around a manifest, relative to the folder it is looked for in (the
/// manifest's folder or a parent; `*` stands for any text): `gatehouse.toml`, every lockfile, the
/// workspace roots' manifests (`packageManager`, overrides, `[workspace]`), `pnpm-workspace.yaml`, the
/// cooldown files and the registry settings. Derived from the lists the readers use, so a file read
/// here is also one the editor watches (`lsp` registers `**/<each>`) and reloads on save.
pub fn context_files() -> Vec<&'static str> {
    let mut res = vec![CONFIG_FILE];
    for kind in ManifestKind::MANIFESTS {
        res.extend(kind.lockfile_names());
    }
    // Workspace roots: `load_lockfile` reads the root's package.json, `load_workspace_root` its Cargo.toml.
    res.extend(["package.json", "Cargo.toml", "pnpm-workspace.yaml"]);
    res.extend(cooldown::FILES.iter().map(|(name, _)| *name));
    res.extend(private::PROJECT_FILES);
    // pip constraints files (`load_pip_constraints`): those named like one; any other file a `-c` line
    // names is reloaded when the editor saves it (`lsp` matches it by path).
    res.push("*constraints.txt");
    let mut seen = std::collections::HashSet::new();
    res.retain(|name| seen.insert(*name));
    res
}

/// When `path` is one of `context_files`, the folder it was looked for in (for `.cargo/config.toml`,
/// the folder above `.cargo`): the manifests at or below that folder may read it.
pub fn context_file_folder(path: &Path) -> Option<PathBuf> {
    context_files().into_iter().find_map(|pattern| {
        let parts: Vec<&str> = pattern.split('/').collect();
        let mut folder = path;
        for part in parts.iter().rev() {
            let name = folder.file_name()?.to_str()?;
            let matches = match part.split_once('*') {
                Some((prefix, suffix)) => {
                    name.len() >= prefix.len() + suffix.len() && name.starts_with(prefix) && name.ends_with(suffix)
                }
                None => name == *part,
            };
            if !matches {
                return None;
            }
            folder = folder.parent()?;
        }
        Some(folder.to_path_buf())
    })
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
                .map(|dir| dir.join(CONFIG_FILE))
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

/// A parsed lockfile and what it was parsed from.
struct CachedLockfile {
    len: usize,
    modified: Option<std::time::SystemTime>,
    hash: u64,
    lockfile: std::sync::Arc<Lockfile>,
    parses: usize,
}

/// Lockfiles parsed before, by path: a workspace's members share the root's lockfile, and opening or
/// editing a member must not parse it again while it is unchanged (same length, mtime and content).
static LOCKFILE_CACHE: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<PathBuf, CachedLockfile>>> =
    std::sync::LazyLock::new(Default::default);

/// At most this many lockfiles stay parsed.
const LOCKFILE_CACHE_ENTRIES: usize = 16;

fn content_hash(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

/// The lockfile at `path` (whose text is `text`), parsed once per content.
fn parsed_lockfile(path: &Path, kind: ManifestKind, text: &str) -> Option<std::sync::Arc<Lockfile>> {
    let modified = std::fs::symlink_metadata(path)
        .ok()
        .and_then(|meta| meta.modified().ok());
    let hash = content_hash(text);
    let mut parses = 0;
    {
        let cache = LOCKFILE_CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(cached) = cache.get(path) {
            if cached.len == text.len() && cached.modified == modified && cached.hash == hash {
                return Some(cached.lockfile.clone());
            }
            parses = cached.parses;
        }
    }
    let lockfile = std::sync::Arc::new(manifest::parse_lockfile(kind, text)?);
    let mut cache = LOCKFILE_CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if cache.len() >= LOCKFILE_CACHE_ENTRIES
        && !cache.contains_key(path)
        && let Some(evicted) = cache.keys().next().cloned()
    {
        // Evicting one entry keeps the others' parse counts.
        cache.remove(&evicted);
    }
    cache.insert(
        path.to_path_buf(),
        CachedLockfile {
            len: text.len(),
            modified,
            hash,
            lockfile: lockfile.clone(),
            parses: parses + 1,
        },
    );
    Some(lockfile)
}

/// How many times the lockfile at `path` was parsed in this process (for tests and logs).
pub fn lockfile_parses(path: &Path) -> usize {
    let cache = LOCKFILE_CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    cache.get(path).map_or(0, |cached| cached.parses)
}

/// npm, pnpm, Yarn or Bun, from `packageManager` (`"pnpm@9.1.0"`) in a workspace root's package.json.
fn package_manager(dir: &Path, workspace: &Path) -> Option<String> {
    let text = read_project_file(&dir.join("package.json"), &Bounds::workspace(workspace, MANIFEST_CAP)).ok()??;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let field = value.get("packageManager")?.as_str()?;
    Some(field.split('@').next().unwrap_or(field).trim().to_ascii_lowercase())
}

/// Which of `uv.lock` and `poetry.lock` the `pyproject.toml` in `dir` is managed with, when it says:
/// uv reads only a `[project]` table or a `[tool.uv.workspace]` (so a Poetry 1.x project with only
/// `[tool.poetry]`, like Textualize/textual beside a stub uv.lock, is Poetry's); a `[tool.poetry]`
/// table or Poetry's build backend with no `[tool.uv]` table is Poetry's, and a `[tool.uv]` table
/// with no `[tool.poetry]` is uv's. `None` when it cannot be told (then the usual order decides).
fn python_manager(dir: &Path, workspace: &Path) -> Option<&'static str> {
    let text = read_project_file(&dir.join("pyproject.toml"), &Bounds::workspace(workspace, MANIFEST_CAP)).ok()??;
    let value: toml::Table = toml::from_str(&text).ok()?;
    let tool = value.get("tool").and_then(toml::Value::as_table);
    let has_tool = |name: &str| tool.is_some_and(|tool| tool.contains_key(name));
    let uv_workspace = tool
        .and_then(|tool| tool.get("uv"))
        .and_then(toml::Value::as_table)
        .is_some_and(|uv| uv.contains_key("workspace"));
    let poetry_backend = value
        .get("build-system")
        .and_then(|build| build.get("build-backend"))
        .and_then(toml::Value::as_str)
        .is_some_and(|backend| backend.trim().starts_with("poetry."));
    let uv_reads_it = value.contains_key("project") || uv_workspace;
    if !uv_reads_it {
        return Some("poetry.lock");
    }
    match (has_tool("poetry") || poetry_backend, has_tool("uv")) {
        (true, false) => Some("poetry.lock"),
        (false, true) => Some("uv.lock"),
        _ => None,
    }
}

/// Of the lockfiles present in one folder, the one the project's package manager writes: the one
/// `packageManager` names when several exist, else the first in `ManifestKind::lockfile_names` order
/// (a text `bun.lock` before the binary `bun.lockb`).
fn choose_lockfile(dir: &Path, workspace: &Path, present: &[&'static str]) -> Option<&'static str> {
    if present.contains(&"uv.lock")
        && present.contains(&"poetry.lock")
        && let Some(tool) = python_manager(dir, workspace)
    {
        return Some(tool);
    }
    if present.len() > 1
        && let Some(manager) = package_manager(dir, workspace)
    {
        let wanted: &[&str] = match manager.as_str() {
            "npm" => &["npm-shrinkwrap.json", "package-lock.json"],
            "pnpm" => &["pnpm-lock.yaml"],
            "yarn" => &["yarn.lock"],
            "bun" => &["bun.lock", "bun.lockb"],
            _ => &[],
        };
        if let Some(name) = wanted.iter().find(|name| present.contains(name)) {
            return Some(name);
        }
    }
    present.first().copied()
}

/// The package manager that writes a lockfile of this name.
fn lockfile_manager(name: &str) -> &'static str {
    match name {
        "npm-shrinkwrap.json" | "package-lock.json" => "npm",
        "pnpm-lock.yaml" => "pnpm",
        "yarn.lock" => "yarn",
        "bun.lock" | "bun.lockb" => "bun",
        "uv.lock" => "uv",
        "poetry.lock" => "poetry",
        "pylock.toml" => "pylock",
        _ => "other",
    }
}

/// `manifest_dir` relative to `root`, with forward slashes (`packages/a`); empty when they are the same.
/// `root` comes from `dirs_up_to`, which resolves it, so `manifest_dir` is resolved too: the CLI's
/// relative paths (`./packages/a`) and a path through a symlinked folder name the same member.
fn member_path(root: &Path, manifest_dir: &Path) -> String {
    let manifest_dir = std::fs::canonicalize(manifest_dir).unwrap_or_else(|_| manifest_dir.to_path_buf());
    manifest_dir
        .strip_prefix(root)
        .map(|rel| {
            rel.components()
                .filter_map(|c| c.as_os_str().to_str())
                .collect::<Vec<_>>()
                .join("/")
        })
        .unwrap_or_default()
}

/// Reads the lockfile that decides versions for a manifest: the nearest one in the manifest's folder
/// or a parent (a workspace root), up to the repository root and never above the workspace. A
/// workspace member gets the root's lockfile with `Lockfile::member` set to its folder, so its own
/// declarations find their versions. A lockfile that is refused (a symlink out, a FIFO, a device,
/// too large) is a problem, never read, and no parent's lockfile stands in for it.
pub fn load_lockfile(
    manifest_path: &Path,
    kind: ManifestKind,
    workspace: &Path,
    problems: &mut Vec<(String, String)>,
) -> Option<(PathBuf, Lockfile)> {
    let manifest_dir = manifest_path.parent()?;
    let names = kind.lockfile_names();
    if names.is_empty() {
        return None;
    }
    let bounds = Bounds::workspace(workspace, LOCKFILE_CAP);
    let dirs = project_dirs(manifest_dir, workspace);
    let deciding = enclosing_workspace_lockfile(&dirs, names, manifest_dir, workspace, &bounds);
    for dir in dirs.into_iter().skip(deciding.unwrap_or(0)) {
        let present: Vec<&'static str> = names
            .iter()
            .copied()
            .filter(|name| std::fs::symlink_metadata(dir.join(name)).is_ok())
            .collect();
        let Some(name) = choose_lockfile(&dir, workspace, &present) else {
            continue;
        };
        let path = dir.join(name);
        let shown = path.display().to_string();
        let lock_kind = ManifestKind::detect(&path, false)?;
        let text = if lock_kind == ManifestKind::BunLockb {
            // Binary: never read, only reported (`bun_lock::binary`).
            String::new()
        } else {
            // Read inside the workspace, capped, and decoded the way the package manager reads it.
            match untrusted::read_untrusted(&path, &bounds) {
                Ok(bytes) => {
                    let decoded = decode::decode(lock_kind, &bytes);
                    if let Some(problem) = decoded.problem {
                        problems.push((shown.clone(), problem));
                    }
                    decoded.text
                }
                Err(error) if error.is_not_found() => return None,
                Err(error) => {
                    problems.push((shown, error.to_string()));
                    return None;
                }
            }
        };
        let shared = parsed_lockfile(&path, lock_kind, &text)?;
        if let Some(issue) = shared.issues.first() {
            let problem = if shared.packages.is_empty() {
                format!(
                    "the lockfile did not parse, so no version was read from it: {}",
                    issue.message
                )
            } else {
                // Parsed in part: the entries it skipped go unchecked (its issues also show as syntax).
                format!(
                    "partly not checked: part of the lockfile did not parse or is not what its package manager writes, and what that affects was not checked ({} issue{}, the first: {})",
                    shared.issues.len(),
                    if shared.issues.len() == 1 { "" } else { "s" },
                    issue.message
                )
            };
            problems.push((shown, problem));
        }
        let mut lockfile = Lockfile::clone(&shared);
        lockfile.member = member_path(&dir, manifest_dir);
        // The repository also chooses which lockfile decides (`packageManager`): a lockfile of another
        // package manager beside it would install other versions, so its packages are checked too.
        for other in present
            .iter()
            .filter(|other| lockfile_manager(other) != lockfile_manager(name))
        {
            if let Some(also) = read_other_lockfile(&dir, other, name, &bounds, problems) {
                let mut also = Lockfile::clone(&also);
                also.member = lockfile.member.clone();
                lockfile.also.push((other.to_string(), also));
            }
        }
        if lock_kind == ManifestKind::PnpmLock {
            apply_pnpm_workspace(&dir, workspace, &mut lockfile);
        }
        if !lockfile.member.is_empty() && kind == ManifestKind::PackageJson {
            // Package managers read overrides from the workspace root's package.json only.
            let root_manifest = dir.join("package.json");
            match read_project_file(&root_manifest, &Bounds::workspace(workspace, MANIFEST_CAP)) {
                Ok(Some(text)) => {
                    lockfile.fix_files.root_manifest = Some(manifest::ProjectFile {
                        path: root_manifest,
                        text: text.into(),
                    })
                }
                Ok(None) => {}
                Err(error) => problems.push((root_manifest.display().to_string(), error.to_string())),
            }
        }
        return Some((path, lockfile));
    }
    None
}

/// A workspace member keeps a lockfile of its own (pydantic/pydantic's `pydantic-core/uv.lock`, left
/// from before it joined the workspace), but its package manager installs it from the workspace
/// root's: uv, pnpm, npm, Yarn and Bun all lock a workspace in one file at its root. When a lockfile
/// of the same name in a folder above the nearest one records the manifest's folder as one of its
/// members (`importers`), that folder's index in `dirs` is where the deciding lockfile is. A folder
/// that root does not list (an example project, a separate workspace) keeps its own.
fn enclosing_workspace_lockfile(
    dirs: &[PathBuf],
    names: &[&'static str],
    manifest_dir: &Path,
    workspace: &Path,
    bounds: &Bounds,
) -> Option<usize> {
    let present = |dir: &Path| -> Vec<&'static str> {
        names
            .iter()
            .copied()
            .filter(|name| std::fs::symlink_metadata(dir.join(name)).is_ok())
            .collect()
    };
    let nearest = dirs.iter().position(|dir| !present(dir).is_empty())?;
    if nearest + 1 >= dirs.len() {
        return None;
    }
    let name = choose_lockfile(&dirs[nearest], workspace, &present(&dirs[nearest]))?;
    let kind = ManifestKind::detect(Path::new(name), false)?;
    if kind == ManifestKind::BunLockb {
        return None;
    }
    if kind == ManifestKind::CargoLock {
        return cargo_workspace_root(dirs, manifest_dir, workspace)
            .filter(|idx| *idx > nearest && std::fs::symlink_metadata(dirs[*idx].join(name)).is_ok());
    }
    dirs.iter().enumerate().skip(nearest + 1).find_map(|(idx, ancestor)| {
        let path = ancestor.join(name);
        if std::fs::symlink_metadata(&path).is_err() {
            return None;
        }
        let member = member_path(ancestor, manifest_dir);
        let bytes = untrusted::read_untrusted(&path, bounds).ok()?;
        let lockfile = parsed_lockfile(&path, kind, &decode::decode(kind, &bytes).text)?;
        lockfile
            .importers
            .iter()
            .any(|(importer, _)| manifest::normalize_importer(importer) == member)
            .then_some(idx)
    })
}

/// Cargo: the index in `dirs` of the workspace root the manifest's package belongs to, the way
/// Cargo finds it (Cargo.lock records no members, so `enclosing_workspace_lockfile` cannot ask it):
/// none when the manifest is a workspace root itself; else the first folder above with a `[workspace]`
/// table, when that workspace includes the package (its `members` globs, or `package.workspace`
/// naming that folder) and does not `exclude` it. Cargo then uses the root's Cargo.lock only.
fn cargo_workspace_root(dirs: &[PathBuf], manifest_dir: &Path, workspace: &Path) -> Option<usize> {
    let bounds = Bounds::workspace(workspace, MANIFEST_CAP);
    let read = |dir: &Path| -> Option<toml::Table> {
        let text = read_project_file(&dir.join("Cargo.toml"), &bounds).ok()??;
        toml::from_str(&text).ok()
    };
    let own = read(manifest_dir)?;
    if own.contains_key("workspace") {
        return None;
    }
    let declared_root = own
        .get("package")
        .and_then(|package| package.get("workspace"))
        .and_then(toml::Value::as_str)
        .and_then(|relative| std::fs::canonicalize(manifest_dir.join(relative)).ok());
    let start = dirs
        .iter()
        .position(|dir| std::fs::canonicalize(manifest_dir).is_ok_and(|own_dir| own_dir == *dir))?;
    let (idx, root) = dirs
        .iter()
        .enumerate()
        .skip(start + 1)
        .find_map(|(idx, dir)| Some((idx, read(dir)?)).filter(|(_, root)| root.contains_key("workspace")))?;
    let member = member_path(&dirs[idx], manifest_dir);
    let table = root.get("workspace").and_then(toml::Value::as_table)?;
    let paths = |key: &str| -> Vec<String> {
        table
            .get(key)
            .and_then(toml::Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(toml::Value::as_str)
                    .map(|path| manifest::normalize_importer(path).to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let excluded = paths("exclude")
        .iter()
        .any(|path| member == *path || member.starts_with(&format!("{path}/")));
    let listed = paths("members").iter().any(|pattern| {
        globset::Glob::new(pattern)
            .map(|glob| glob.compile_matcher().is_match(&member))
            .unwrap_or(false)
    });
    let declared = declared_root.is_some_and(|root| root == dirs[idx]);
    (!excluded && (listed || declared)).then_some(idx)
}

/// A lockfile of another package manager beside the chosen `decides`, parsed (once per content);
/// what cannot be read or parsed is a problem, since its packages then go unchecked.
fn read_other_lockfile(
    dir: &Path,
    name: &str,
    decides: &str,
    bounds: &Bounds,
    problems: &mut Vec<(String, String)>,
) -> Option<std::sync::Arc<Lockfile>> {
    let path = dir.join(name);
    let shown = path.display().to_string();
    let not_checked = |why: String| {
        (
            shown.clone(),
            format!(
                "not checked: {decides} decides the versions here, but installing with {name}'s package manager would use this file, and {why}"
            ),
        )
    };
    let kind = ManifestKind::detect(&path, false)?;
    if kind == ManifestKind::BunLockb {
        problems.push(not_checked(
            "Gatehouse cannot read bun.lockb (run `bun install --save-text-lockfile`)".to_string(),
        ));
        return None;
    }
    let text = match untrusted::read_untrusted(&path, bounds) {
        Ok(bytes) => {
            let decoded = decode::decode(kind, &bytes);
            if let Some(problem) = decoded.problem {
                problems.push((shown.clone(), problem));
            }
            decoded.text
        }
        Err(error) => {
            problems.push(not_checked(format!("it could not be read: {error}")));
            return None;
        }
    };
    let parsed = parsed_lockfile(&path, kind, &text)?;
    if let Some(issue) = parsed.issues.first() {
        if parsed.packages.is_empty() {
            problems.push(not_checked(format!("it did not parse: {}", issue.message)));
        } else {
            // Parsed in part: the entries it skipped go unchecked (its issues also show as syntax).
            problems.push((
                shown.clone(),
                format!(
                    "partly not checked: {decides} decides the versions here, but installing with {name}'s package manager would use this file, and part of it did not parse or is not what a package manager writes ({} issue{}, the first: {})",
                    parsed.issues.len(),
                    if parsed.issues.len() == 1 { "" } else { "s" },
                    issue.message
                ),
            ));
        }
    }
    Some(parsed)
}

/// pnpm: the catalogs of `pnpm-workspace.yaml` beside the lockfile decide what `catalog:` means.
fn apply_pnpm_workspace(dir: &Path, workspace: &Path, lockfile: &mut Lockfile) {
    let path = dir.join("pnpm-workspace.yaml");
    let Ok(Some(text)) = read_project_file(&path, &Bounds::workspace(workspace, CONFIG_CAP)) else {
        return;
    };
    lockfile.fix_files.pnpm_workspace = Some(manifest::ProjectFile {
        path: path.clone(),
        text: text.as_str().into(),
    });
    match manifest::lockfiles::pnpm_lock::parse_workspace(&text) {
        Ok(workspace) if !workspace.catalogs.is_empty() => lockfile.catalogs = workspace.catalogs,
        Ok(_) => {}
        Err(message) => lockfile.issues.push(manifest::SyntaxIssue {
            span: crate::model::Span::default(),
            message,
        }),
    }
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

/// Which of the project's registry settings files apply to a manifest (`private::ProjectRegistryFiles`):
/// for npm manifests, decided by the client that installs it (its lockfile, `.yarnrc.yml`) from the
/// folder of that lockfile.
fn registry_files(
    kind: ManifestKind,
    dir: &Path,
    lockfile_path: Option<&Path>,
    lockfile: Option<&Lockfile>,
    workspace: &Path,
) -> private::ProjectRegistryFiles {
    if kind.ecosystem() != crate::model::Ecosystem::Npm {
        return private::ProjectRegistryFiles::decide(private::NpmClient::Npm, dir, None);
    }
    // The install root: the lockfile's folder; without a lockfile, the nearest folder at or above the
    // manifest that declares a workspace (a member is installed from its root), else the manifest's.
    let declared_root = || {
        dirs_up_to(dir, workspace).into_iter().find(|folder| {
            folder.join("pnpm-workspace.yaml").symlink_metadata().is_ok() || declares_workspaces(folder, workspace)
        })
    };
    let install_root = lockfile_path
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .or_else(declared_root);
    let root = install_root.as_deref().unwrap_or(dir);
    let manager = package_manager_field(root, workspace);
    // Yarn 2+ reads `.yarnrc.yml` from the project folder and every folder above it; `packageManager`
    // naming Yarn 2 or later says so too.
    let yarnrc_yml = dirs_up_to(root, workspace)
        .iter()
        .any(|folder| folder.join(".yarnrc.yml").symlink_metadata().is_ok())
        || manager.as_deref().is_some_and(|field| {
            field
                .strip_prefix("yarn@")
                .and_then(|version| version.split('.').next())
                .and_then(|major| major.parse::<u32>().ok())
                .is_some_and(|major| major >= 2)
        });
    // pnpm: `packageManager` names it, or the install root holds a `pnpm-workspace.yaml` and
    // `packageManager` names no other client (pnpm reads its settings there even in a single project).
    let pnpm = match manager.as_deref() {
        Some(field) => names_pnpm(field),
        None => root.join("pnpm-workspace.yaml").symlink_metadata().is_ok(),
    };
    let client = private::NpmClient::detect(
        lockfile.map(|l| l.kind),
        lockfile.is_some_and(|l| l.yarn_berry),
        yarnrc_yml,
        pnpm,
    );
    private::ProjectRegistryFiles::decide(client, dir, install_root.as_deref())
}

/// Whether the package.json in `folder` declares workspaces (npm, Yarn, Bun `workspaces`).
fn declares_workspaces(folder: &Path, workspace: &Path) -> bool {
    read_project_file(
        &folder.join("package.json"),
        &Bounds::workspace(workspace, MANIFEST_CAP),
    )
    .ok()
    .flatten()
    .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
    .is_some_and(|value| value.get("workspaces").is_some())
}

/// `packageManager` of the package.json in `dir` as written (`yarn@4.1.0`).
fn package_manager_field(dir: &Path, workspace: &Path) -> Option<String> {
    let text = read_project_file(&dir.join("package.json"), &Bounds::workspace(workspace, MANIFEST_CAP)).ok()??;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(value.get("packageManager")?.as_str()?.trim().to_ascii_lowercase())
}

/// Whether a `packageManager` field (lowercased) names pnpm.
fn names_pnpm(field: &str) -> bool {
    field.starts_with("pnpm@") || field == "pnpm"
}

/// The files pnpm runs as code when it installs (`.pnpmfile.cjs`, pnpm 10's `.pnpmfile.mjs`), looked for
/// at and above the manifest's folder inside the workspace.
const PNPMFILES: [&str; 2] = [".pnpmfile.cjs", ".pnpmfile.mjs"];

/// A package.json no lockfile decides, installed by pnpm (unless `packageManager` names another
/// client), next to a pnpmfile: its `readPackage` hook can change any dependency, so the versions
/// checked may not be the ones installed. Said as a problem of that file (the run is incomplete).
fn install_hooks(dir: &Path, workspace: &Path, problems: &mut Vec<(String, String)>) {
    for folder in dirs_up_to(dir, workspace) {
        for name in PNPMFILES {
            let path = folder.join(name);
            if path.symlink_metadata().is_err() {
                continue;
            }
            let other_client = package_manager_field(&folder, workspace)
                .or_else(|| package_manager_field(dir, workspace))
                .is_some_and(|field| !names_pnpm(&field));
            if !other_client {
                problems.push((
                    path.display().to_string(),
                    "pnpm runs this file when it installs, and its hooks can change any dependency; no lockfile records what they chose, so the versions checked may not be the ones installed".to_string(),
                ));
            }
            return;
        }
    }
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
    if kind == ManifestKind::PackageJson && lockfile.is_none() {
        install_hooks(dir, workspace, &mut problems);
    }
    let files = registry_files(kind, dir, lockfile_path.as_deref(), lockfile.as_ref(), workspace);
    let trust = if is_trusted(&config.trust, workspace) {
        private::ProjectTrust::Trusted
    } else {
        private::ProjectTrust::Untrusted
    };
    let env_lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let (private, parse_problems) = private::load_from_disk(&private::Discovery {
        project_dir: dir,
        workspace,
        trust,
        files: &files,
        env: &env_lookup,
    });
    config
        .issues
        .extend(parse_problems.into_iter().map(|problem| ConfigIssue {
            key: String::new(),
            message: problem.message,
            source: problem.path.display().to_string(),
        }));
    let rules = registry_rules(&private);
    let trusted = is_trusted(&config.trust, workspace);
    let mut registries = RegistryRules {
        mirror_is_public: config.mirror_is_public,
        private_packages: config.private_packages.clone(),
        // A trusted project's registries are the user's choice like their own.
        project_named: if trusted {
            Vec::new()
        } else {
            rules.project_named.clone()
        },
        ..rules
    };
    if !trusted {
        // The repository being checked must not choose where registry data comes from.
        let own = UserDefaults {
            npm: private.users_own.npm.clone(),
            cargo_replacement: private.users_own.cargo_replacement.clone(),
            pypi_index: private.users_own.pypi_index.clone(),
        };
        registries.set_aside_project_mirrors(&own, &how_to_trust(workspace));
        // Said once, by the manifests of the ecosystem it concerns.
        for set_aside in registries.set_aside.iter().filter(|s| s.ecosystem == kind.ecosystem()) {
            let instead = match own_default(&own, set_aside.ecosystem) {
                Some(url) => format!("the registry your own settings name ({url})"),
                None => "the public registry".to_string(),
            };
            config.issues.push(ConfigIssue {
                key: String::new(),
                message: format!(
                    "the default registry it names, {}, is not used because the project is not trusted: registry data comes from {instead}, and a package only {} serves cannot be checked; {}",
                    set_aside.url, set_aside.url, set_aside.how_to_trust
                ),
                source: set_aside.file.clone(),
            });
        }
    }
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
        constraints: Vec::new(),
        is_constraints_file: false,
        constraints_applied: false,
        constraints_read_for: Vec::new(),
        constraint_files: Vec::new(),
        constraints_unread: Vec::new(),
    }
}

/// At most this many files are read through one requirements file's includes for its constraints.
const MAX_INCLUDED_FILES: usize = 64;

/// The pip constraints (`-c`) that apply to the requirements file at `manifest_path`, whose includes
/// are `includes` (as its current text says): the entries of every constraints file it names, directly
/// or through the files it includes (`-r`, and `-c`/`-r` inside those), each file once and inside the
/// workspace, as `gatehouse check` reads them. Constraints that only a file including this one names
/// are not seen from here (the CLI, which reads every file, applies them). Fills `context`'s
/// constraint fields.
pub fn load_pip_constraints(context: &mut Context, manifest_path: &Path, includes: &[manifest::Include]) {
    // No file says whether this one is `-c`-named; its name is the hint (`constraints.txt`).
    context.is_constraints_file = manifest_path
        .file_name()
        .and_then(|name| name.to_str())
        .is_some_and(crate::model::is_constraints_name);
    context.constraints_read_for = includes
        .iter()
        .map(|include| (include.path.clone(), include.constraint))
        .collect();
    let workspace = context.workspace_root.clone();
    let bounds = Bounds::workspace(&workspace, MANIFEST_CAP);
    let top = manifest_path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let top_canonical = std::fs::canonicalize(&top).unwrap_or_else(|_| top.clone());
    let label_of = |path: &Path| -> String {
        let shown = path
            .strip_prefix(&top_canonical)
            .or_else(|_| path.strip_prefix(&top))
            .or_else(|_| path.strip_prefix(&workspace))
            .unwrap_or(path);
        let tidy: PathBuf = shown
            .components()
            .filter(|part| *part != std::path::Component::CurDir)
            .collect();
        tidy.display().to_string()
    };
    let mut seen: std::collections::HashSet<PathBuf> =
        std::collections::HashSet::from([
            std::fs::canonicalize(manifest_path).unwrap_or_else(|_| manifest_path.to_path_buf())
        ]);
    // (folder the include is relative to, the include as written, `-c`, the manifest's own include it
    // was reached through and the file that names it when not the manifest itself)
    type Queued = (PathBuf, String, bool, String, Option<String>);
    let mut queue: std::collections::VecDeque<Queued> = includes
        .iter()
        .map(|include| {
            (
                top.clone(),
                include.path.clone(),
                include.constraint,
                include.path.clone(),
                None,
            )
        })
        .collect();
    // A constraints file that cannot be read is said on the manifest's own include line that leads to it.
    let mut unread = |via: &str, named: &str, named_in: Option<&str>, why: &str| {
        let what = match named_in {
            None => format!("constraints file {named} could not be read ({why})"),
            Some(file) => format!("constraints file {named}, named in {file}, could not be read ({why})"),
        };
        context.constraints_unread.push((via.to_string(), what));
    };
    let mut problems = Vec::new();
    let mut entries = Vec::new();
    let mut read = Vec::new();
    while let Some((dir, named, constraint, via, named_in)) = queue.pop_front() {
        if manifest::is_remote_include(&named) {
            if constraint {
                unread(
                    &via,
                    &named,
                    named_in.as_deref(),
                    "a URL, which Gatehouse does not fetch",
                );
            }
            continue;
        }
        let target = match untrusted::resolve_named(&dir, &named, &bounds) {
            Ok(target) => target,
            Err(error) => {
                // The manifest's own include outside the workspace is already an error on its line
                // (`lsp::scheduler`).
                let flagged = named_in.is_none() && matches!(error, ReadError::Outside { .. });
                if constraint && !flagged {
                    unread(&via, &named, named_in.as_deref(), &error.to_string());
                }
                continue;
            }
        };
        let canonical = std::fs::canonicalize(&target).unwrap_or_else(|_| target.clone());
        if !seen.insert(canonical.clone()) {
            continue;
        }
        if seen.len() > MAX_INCLUDED_FILES {
            problems.push((
                manifest_path.display().to_string(),
                format!(
                    "includes lead to more than {MAX_INCLUDED_FILES} files: constraints beyond them are not applied"
                ),
            ));
            break;
        }
        let text = match read_text(&target, ManifestKind::Requirements, &bounds) {
            Ok(decoded) => decoded.text,
            Err(error) => {
                if constraint {
                    unread(&via, &named, named_in.as_deref(), &error);
                } else {
                    problems.push((target.display().to_string(), error));
                }
                continue;
            }
        };
        read.push(canonical.clone());
        let parsed = manifest::parse(ManifestKind::Requirements, &text);
        let label = label_of(&canonical);
        if constraint {
            entries.extend(manifest::requirements::constraints(&parsed, &text, &label));
        }
        let folder = target.parent().unwrap_or(Path::new(".")).to_path_buf();
        for include in parsed.includes {
            queue.push_back((
                folder.clone(),
                include.path,
                include.constraint,
                via.clone(),
                Some(label.clone()),
            ));
        }
    }
    context.problems.extend(problems);
    context.constraints.extend(entries);
    context.constraint_files.extend(read);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{self, Status};
    use crate::model::Facts;
    use crate::policy::Policy;

    fn fixture(path: &str) -> String {
        std::fs::read_to_string(format!("{}/../fixtures/manifests/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// A repository (with `.git`) holding `files` (path → contents).
    fn repo(files: &[(&str, String)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn evaluate(manifest: &Path) -> (Option<PathBuf>, engine::Analysis) {
        let kind = ManifestKind::detect(manifest, false).unwrap();
        let text = std::fs::read_to_string(manifest).unwrap();
        let parsed = manifest::parse(kind, &text);
        let root = workspace_root(manifest, &[]);
        let mut problems = Vec::new();
        let lockfile = load_lockfile(manifest, kind, &root, &mut problems);
        let workspace = load_workspace_root(manifest, kind, &root, &mut problems);
        let registries = crate::engine::RegistryRules::default();
        let input = engine::Input {
            manifest: &parsed,
            lockfile: lockfile.as_ref().map(|(_, l)| l),
            workspace: workspace.as_ref(),
            registries: &registries,
            constraints: Default::default(),
        };
        let analysis = engine::evaluate(
            &input,
            &Facts::default(),
            &Policy::default(),
            jiff::Timestamp::UNIX_EPOCH,
        );
        (lockfile.map(|(p, _)| p), analysis)
    }

    /// Audit item 3: a named registry or index whose URL is the public registry's under another
    /// spelling hands the engine a public source (the package is checked like any public one).
    #[test]
    fn public_registry_under_another_spelling_is_public_to_the_engine() {
        use crate::model::{Ecosystem, PackageRef, RegistrySource};
        let mut uv = PrivateRegistries::default();
        private::parse_pyproject_indexes(
            "[[tool.uv.index]]\nname = \"pypi2\"\nurl = \"https://pypi.org:443/simple\"\nexplicit = true\n[tool.uv.sources]\nevilpkg = { index = \"pypi2\" }\n",
            &mut uv,
        )
        .unwrap();
        let mut cargo = PrivateRegistries::default();
        private::parse_cargo_config(
            "[registries.ci]\nindex = \"sparse+https://index.crates.io:443/\"\n",
            &mut cargo,
        )
        .unwrap();
        let evilpkg = PackageRef::new(Ecosystem::PyPI, "evilpkg");
        let serde = PackageRef::new(Ecosystem::CratesIo, "serde");
        for (config, package, registry) in [
            (&uv, &evilpkg, None),
            (&uv, &evilpkg, Some("pypi2")),
            (&cargo, &serde, Some("ci")),
        ] {
            let rules = registry_rules(config);
            assert_eq!(rules.source_for(package, registry), RegistrySource::Public, "{rules:?}");
        }
    }

    fn describe(analysis: &engine::Analysis) -> Vec<String> {
        analysis
            .deps
            .iter()
            .map(|d| {
                let skipped = match &d.status {
                    Status::Skipped(reason) => format!(" skipped: {reason}"),
                    _ => String::new(),
                };
                format!(
                    "{}@{} {}{}{}",
                    d.dep.package.name,
                    d.dep.resolved.version.as_deref().unwrap_or("?"),
                    d.dep.resolved.source.as_str(),
                    if d.dep.via.is_empty() {
                        String::new()
                    } else {
                        format!(" via {}", d.dep.via.join(" > "))
                    },
                    skipped
                )
            })
            .collect()
    }

    #[test]
    fn a_pnpm_member_uses_the_root_lockfile_parsed_once() {
        let dir = repo(&[
            ("pnpm-lock.yaml", fixture("pnpm/v9-workspace2/pnpm-lock.yaml")),
            ("pnpm-workspace.yaml", fixture("pnpm/v9-workspace2/pnpm-workspace.yaml")),
            ("foo/package.json", fixture("pnpm/v9-workspace2/foo/package.json")),
            (
                "bar/package.json",
                "{\"dependencies\": {\"express\": \"2\", \"foo\": \"workspace:*\", \"webpack\": \"5.65.0\"}}"
                    .to_string(),
            ),
        ]);
        let lock_path = dir.path().join("pnpm-lock.yaml");
        let (found, analysis) = evaluate(&dir.path().join("foo/package.json"));
        assert_eq!(found.as_deref(), Some(lock_path.as_path()));
        let described = describe(&analysis);
        assert_eq!(described[0], "express@4.17.2 lockfile");
        assert_eq!(described[1], "webpack@2.7.0 lockfile");
        assert!(
            described
                .iter()
                .any(|d| d.starts_with("accepts@1.3.8 lockfile via express > accepts")),
            "{described:#?}"
        );
        assert!(described.len() > 100);
        let (_, bar) = evaluate(&dir.path().join("bar/package.json"));
        let bar = describe(&bar);
        assert_eq!(bar[0], "express@2.5.11 lockfile");
        assert!(
            bar[1].starts_with("foo@? ") && bar[1].contains("skipped: workspace package"),
            "{}",
            bar[1]
        );
        assert_eq!(bar[2], "webpack@5.65.0 lockfile");
        // Both members and a re-open shared one parse; a changed lockfile is parsed again.
        let _ = evaluate(&dir.path().join("foo/package.json"));
        assert_eq!(lockfile_parses(&lock_path), 1);
        let mut text = std::fs::read_to_string(&lock_path).unwrap();
        text.push_str("\n# touched\n");
        std::fs::write(&lock_path, text).unwrap();
        let _ = evaluate(&dir.path().join("foo/package.json"));
        assert_eq!(lockfile_parses(&lock_path), 2);
    }

    /// vuejs/core's members were read with the root importer's versions when the manifest's path
    /// was not the resolved one (the CLI's `./packages/compiler-sfc/package.json`): the member path
    /// came out empty, so `postcss ^8.5.19` found no locked version at all.
    #[test]
    fn a_member_reached_through_a_symlinked_folder_still_reads_its_importer() {
        let dir = repo(&[
            ("pnpm-lock.yaml", fixture("pnpm/v9-workspace2/pnpm-lock.yaml")),
            ("pnpm-workspace.yaml", fixture("pnpm/v9-workspace2/pnpm-workspace.yaml")),
            ("foo/package.json", fixture("pnpm/v9-workspace2/foo/package.json")),
        ]);
        let outside = tempfile::tempdir().unwrap();
        let link = outside.path().join("checkout");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        let (_, analysis) = evaluate(&link.join("foo/package.json"));
        let described = describe(&analysis);
        assert_eq!(described[0], "express@4.17.2 lockfile", "{described:#?}");
        assert_eq!(described[1], "webpack@2.7.0 lockfile", "{described:#?}");
    }

    /// Textualize/textual is a Poetry project (`[tool.poetry]`, no `[project]`) with a stub uv.lock
    /// beside its poetry.lock: uv.lock decided, so `rich >=14.2.0` and every other direct
    /// dependency had no locked version.
    #[test]
    fn the_pyproject_decides_between_uv_lock_and_poetry_lock() {
        let files = |pyproject: String| {
            repo(&[
                ("pyproject.toml", pyproject),
                ("poetry.lock", fixture("pypi/textual-poetry-beside-uv-stub/poetry.lock")),
                ("uv.lock", fixture("pypi/textual-poetry-beside-uv-stub/uv.lock")),
            ])
        };
        let dir = files(fixture("pypi/textual-poetry-beside-uv-stub/pyproject.toml"));
        let (found, analysis) = evaluate(&dir.path().join("pyproject.toml"));
        assert_eq!(found.as_deref(), Some(dir.path().join("poetry.lock").as_path()));
        let described = describe(&analysis);
        assert!(described.iter().any(|d| d == "rich@14.2.0 lockfile"), "{described:#?}");

        // A `[project]` managed with uv (a `[tool.uv]` table, no `[tool.poetry]`) is uv's.
        let dir = files(
            "[project]\nname = \"x\"\ndependencies = [\"rich>=14\"]\n[tool.uv]\ndev-dependencies = []\n".to_string(),
        );
        let (found, _) = evaluate(&dir.path().join("pyproject.toml"));
        assert_eq!(found.as_deref(), Some(dir.path().join("uv.lock").as_path()));
    }

    /// pydantic/pydantic's member `pydantic-core` still has its own `uv.lock` from before it joined
    /// the uv workspace; uv installs it from the root's, and so do pnpm, npm, Yarn and Bun for their
    /// members. The member's own lockfile decided (pytest 8.4.1 instead of the root's 9.1.1).
    #[test]
    fn a_members_leftover_lockfile_does_not_decide_when_the_root_lists_it() {
        let dir = repo(&[
            ("pnpm-lock.yaml", fixture("pnpm/v9-workspace2/pnpm-lock.yaml")),
            ("pnpm-workspace.yaml", fixture("pnpm/v9-workspace2/pnpm-workspace.yaml")),
            ("foo/package.json", fixture("pnpm/v9-workspace2/foo/package.json")),
            // Some other project's real lockfile, left in the member's folder.
            ("foo/pnpm-lock.yaml", fixture("pnpm/v9-with-peer/pnpm-lock.yaml")),
            // A project the root's lockfile does not list keeps its own.
            ("examples/app/package.json", fixture("pnpm/v9-workspace2/foo/package.json")),
            ("examples/app/pnpm-lock.yaml", fixture("pnpm/v9-with-peer/pnpm-lock.yaml")),
            (
                "uv.lock",
                "version = 1\n\n[[package]]\nname = \"root\"\nversion = \"0.1.0\"\nsource = { virtual = \".\" }\n\n[[package]]\nname = \"lib\"\nversion = \"0.1.0\"\nsource = { editable = \"packages/lib\" }\ndependencies = [{ name = \"idna\" }]\n\n[[package]]\nname = \"idna\"\nversion = \"3.10\"\nsource = { registry = \"https://pypi.org/simple\" }\n".to_string(),
            ),
            ("packages/lib/pyproject.toml", "[project]\nname = \"lib\"\ndependencies = [\"idna>=3\"]\n".to_string()),
            (
                "packages/lib/uv.lock",
                "version = 1\n\n[[package]]\nname = \"lib\"\nversion = \"0.1.0\"\nsource = { editable = \".\" }\ndependencies = [{ name = \"idna\" }]\n\n[[package]]\nname = \"idna\"\nversion = \"3.6\"\nsource = { registry = \"https://pypi.org/simple\" }\n".to_string(),
            ),
        ]);
        let (found, analysis) = evaluate(&dir.path().join("foo/package.json"));
        assert_eq!(found.as_deref(), Some(dir.path().join("pnpm-lock.yaml").as_path()));
        let described = describe(&analysis);
        assert_eq!(
            described[..2],
            ["express@4.17.2 lockfile", "webpack@2.7.0 lockfile"],
            "{described:#?}"
        );
        let (found, _) = evaluate(&dir.path().join("examples/app/package.json"));
        assert_eq!(
            found.as_deref(),
            Some(dir.path().join("examples/app/pnpm-lock.yaml").as_path())
        );
        let (found, analysis) = evaluate(&dir.path().join("packages/lib/pyproject.toml"));
        assert_eq!(found.as_deref(), Some(dir.path().join("uv.lock").as_path()));
        assert_eq!(describe(&analysis), vec!["idna@3.10 lockfile"]);
    }

    /// socketio/socket.io's members declare their siblings by range (`"engine.io-parser": "~5.2.1"`)
    /// and npm links the sibling workspace (`"link": true` in package-lock.json): the range was
    /// resolved from the registry and the registry's package checked (fresh-version on the project's
    /// own releases), although the workspace's own code is what is installed.
    #[test]
    fn a_registry_range_the_lockfile_links_to_a_sibling_workspace_is_skipped() {
        let lock = r#"{"name": "root", "lockfileVersion": 3, "requires": true, "packages": {
  "": {"name": "root", "workspaces": ["packages/*"]},
  "node_modules/a": {"resolved": "packages/a", "link": true},
  "node_modules/b": {"resolved": "packages/b", "link": true},
  "node_modules/ms": {"version": "2.1.3", "resolved": "https://registry.npmjs.org/ms/-/ms-2.1.3.tgz", "integrity": "sha512-x"},
  "packages/a": {"name": "a", "version": "1.0.0", "dependencies": {"b": "~5.2.1", "ms": "^2.1.0"}},
  "packages/b": {"name": "b", "version": "5.2.3"}
}}"#;
        let dir = repo(&[
            (
                "package.json",
                "{\"name\": \"root\", \"workspaces\": [\"packages/*\"]}".to_string(),
            ),
            ("package-lock.json", lock.to_string()),
            (
                "packages/a/package.json",
                "{\"name\": \"a\", \"dependencies\": {\"b\": \"~5.2.1\", \"ms\": \"^2.1.0\"}}".to_string(),
            ),
            (
                "packages/b/package.json",
                "{\"name\": \"b\", \"version\": \"5.2.3\"}".to_string(),
            ),
        ]);
        let (_, analysis) = evaluate(&dir.path().join("packages/a/package.json"));
        let described = describe(&analysis);
        assert!(
            described[0].starts_with("b@? unresolved skipped: workspace link to packages/b"),
            "{described:#?}"
        );
        assert_eq!(described[1], "ms@2.1.3 lockfile", "{described:#?}");
    }

    /// vitest-dev/vitest's `pnpm-workspace.yaml` overrides `vitest: workspace:*`, so its examples'
    /// `"vitest": "latest"` is locked as `link:../../packages/vitest`: the range was resolved at the
    /// registry and the registry's vitest checked, while the workspace's own package is installed.
    #[test]
    fn a_pnpm_link_the_lockfile_chose_for_a_registry_range_is_skipped() {
        let lock = "lockfileVersion: '9.0'\n\nimporters:\n\n  examples/basic:\n    devDependencies:\n      vite:\n        specifier: 8.0.11\n        version: 8.0.11\n      vitest:\n        specifier: workspace:*\n        version: link:../../packages/vitest\n\n  packages/vitest: {}\n\npackages:\n\n  vite@8.0.11:\n    resolution: {integrity: sha512-a}\n\nsnapshots:\n\n  vite@8.0.11: {}\n";
        let dir = repo(&[
            ("pnpm-lock.yaml", lock.to_string()),
            (
                "pnpm-workspace.yaml",
                "packages:\n  - packages/*\n  - examples/*\noverrides:\n  vitest: workspace:*\n".to_string(),
            ),
            (
                "examples/basic/package.json",
                "{\"devDependencies\": {\"vite\": \"latest\", \"vitest\": \"latest\"}}".to_string(),
            ),
        ]);
        let (_, analysis) = evaluate(&dir.path().join("examples/basic/package.json"));
        let described = describe(&analysis);
        assert_eq!(described[0], "vite@8.0.11 lockfile", "{described:#?}");
        assert!(
            described[1].starts_with("vitest@? unresolved skipped: workspace link to ../../packages/vitest"),
            "{described:#?}"
        );
    }

    /// webpack/webpack declares `"prettier-2": "npm:prettier@^2"`, which yarn.lock keys as
    /// `"prettier-2@npm:prettier@^2"`: the alias found no entry, so prettier 2 (2.8.8 installed) was
    /// resolved at the registry instead.
    #[test]
    fn a_yarn_npm_alias_finds_its_entry() {
        let dir = repo(&[
            ("yarn.lock", fixture("yarn/v1-webpack-npm-alias/yarn.lock")),
            ("package.json", fixture("yarn/v1-webpack-npm-alias/package.json")),
        ]);
        let (_, analysis) = evaluate(&dir.path().join("package.json"));
        let described = describe(&analysis);
        assert_eq!(
            described,
            vec!["prettier@3.9.6 lockfile", "prettier@2.8.8 lockfile"],
            "{described:#?}"
        );
    }

    /// nushell/nushell declares `reedline = "0.49.0"` and patches it with
    /// `[patch.crates-io] reedline = { git = "https://github.com/nushell/reedline", branch = "main" }`:
    /// Cargo.lock installs the git commit, but the range was resolved at crates.io and the registry's
    /// 0.49.0 checked in its place. A git entry is "installed from …, not checked", as in every
    /// other lockfile.
    #[test]
    fn a_cargo_patch_to_git_is_not_checked_as_the_registrys() {
        let dir = repo(&[
            (
                "Cargo.toml",
                "[package]\nname = \"nu\"\nversion = \"0.1.0\"\n\n[dependencies]\nreedline = \"0.49.0\"\n\n[patch.crates-io]\nreedline = { git = \"https://github.com/nushell/reedline\", branch = \"main\" }\n".to_string(),
            ),
            (
                "Cargo.lock",
                "version = 4\n\n[[package]]\nname = \"nu\"\nversion = \"0.1.0\"\ndependencies = [\n \"reedline\",\n]\n\n[[package]]\nname = \"reedline\"\nversion = \"0.49.0\"\nsource = \"git+https://github.com/nushell/reedline?branch=main#e4fe8edfb28440614e58a8c9dba78d128783f70f\"\n".to_string(),
            ),
        ]);
        let (_, analysis) = evaluate(&dir.path().join("Cargo.toml"));
        let reedline = analysis.deps.iter().find(|d| d.dep.package.name == "reedline").unwrap();
        assert_eq!(reedline.dep.resolved.version.as_deref(), Some("0.49.0"));
        let elsewhere = reedline.installed_elsewhere.as_deref().unwrap_or_default();
        assert!(
            elsewhere.contains("https://github.com/nushell/reedline"),
            "{elsewhere:?} {:?}",
            reedline.status
        );
    }

    /// Cargo uses the workspace root's Cargo.lock for every member; a member's own leftover
    /// Cargo.lock decided instead (the case fix c0c4570 covers for lockfiles that list their members).
    /// An excluded crate and a crate that is its own workspace (`fuzz/`) keep theirs.
    #[test]
    fn a_cargo_members_leftover_lockfile_does_not_decide() {
        let lock = |package: &str, serde: &str| {
            format!(
                "version = 4\n\n[[package]]\nname = \"{package}\"\nversion = \"0.1.0\"\ndependencies = [\n \"serde\",\n]\n\n[[package]]\nname = \"serde\"\nversion = \"{serde}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
            )
        };
        let manifest = |package: &str, extra: &str| {
            format!("[package]\nname = \"{package}\"\nversion = \"0.1.0\"\n{extra}\n[dependencies]\nserde = \"1\"\n")
        };
        let dir = repo(&[
            (
                "Cargo.toml",
                "[workspace]\nmembers = [\"crates/*\"]\nexclude = [\"crates/old\"]\n".to_string(),
            ),
            ("Cargo.lock", lock("a", "1.0.200")),
            ("crates/a/Cargo.toml", manifest("a", "")),
            ("crates/a/Cargo.lock", lock("a", "1.0.100")),
            ("crates/old/Cargo.toml", manifest("old", "")),
            ("crates/old/Cargo.lock", lock("old", "1.0.150")),
            (
                "fuzz/Cargo.toml",
                manifest("fuzz", "\n[workspace]\nmembers = [\".\"]\n"),
            ),
            ("fuzz/Cargo.lock", lock("fuzz", "1.0.160")),
        ]);
        let serde = |manifest: &str| {
            let (found, analysis) = evaluate(&dir.path().join(manifest));
            let described = describe(&analysis);
            (
                found.unwrap().strip_prefix(dir.path()).unwrap().display().to_string(),
                described[0].clone(),
            )
        };
        assert_eq!(
            serde("crates/a/Cargo.toml"),
            ("Cargo.lock".to_string(), "serde@1.0.200 lockfile".to_string())
        );
        assert_eq!(
            serde("crates/old/Cargo.toml"),
            (
                "crates/old/Cargo.lock".to_string(),
                "serde@1.0.150 lockfile".to_string()
            )
        );
        assert_eq!(
            serde("fuzz/Cargo.toml"),
            ("fuzz/Cargo.lock".to_string(), "serde@1.0.160 lockfile".to_string())
        );
    }

    #[test]
    fn pnpm_catalog_ranges_come_from_the_workspace_file() {
        let dir = repo(&[
            ("pnpm-lock.yaml", fixture("pnpm/v9-catalog/pnpm-lock.yaml")),
            (
                "pnpm-workspace.yaml",
                "packages: ['.']\ncatalog:\n  is-negative: ~1.0.0\n".to_string(),
            ),
            ("package.json", fixture("pnpm/v9-catalog/package.json")),
        ]);
        let (_, analysis) = evaluate(&dir.path().join("package.json"));
        assert_eq!(analysis.deps[0].dep.requirement_text.as_deref(), Some("~1.0.0"));
        assert_eq!(analysis.deps[0].dep.resolved.version.as_deref(), Some("1.0.0"));
    }

    #[test]
    fn package_manager_picks_among_several_lockfiles() {
        let dir = repo(&[
            (
                "package.json",
                "{\"packageManager\": \"yarn@1.22.19\", \"dependencies\": {\"@pnpm.e2e/pkg-with-1-dep\": \"*\"}}"
                    .to_string(),
            ),
            ("yarn.lock", fixture("yarn/pnpm-has-yarn-lock/yarn.lock")),
            ("pnpm-lock.yaml", fixture("pnpm/v9-with-peer/pnpm-lock.yaml")),
        ]);
        let (found, analysis) = evaluate(&dir.path().join("package.json"));
        assert_eq!(found.unwrap().file_name().unwrap(), "yarn.lock");
        let described = describe(&analysis);
        let (decided, also): (Vec<_>, Vec<_>) = described
            .iter()
            .zip(&analysis.deps)
            .partition(|(_, dep)| dep.other_lockfile.is_none());
        assert_eq!(
            decided.into_iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>(),
            vec![
                "@pnpm.e2e/pkg-with-1-dep@100.0.0 lockfile",
                "@pnpm.e2e/dep-of-pkg-with-1-dep@100.0.0 lockfile via @pnpm.e2e/pkg-with-1-dep > @pnpm.e2e/dep-of-pkg-with-1-dep"
            ]
        );
        // pnpm-lock.yaml's other packages are checked too, marked as coming from it.
        assert!(
            also.iter()
                .all(|(_, dep)| dep.other_lockfile.as_deref() == Some("pnpm-lock.yaml")),
            "{also:?}"
        );
        assert!(also.iter().any(|(d, _)| d.starts_with("ajv@6.10.2")), "{also:?}");
        // Without `packageManager`, the first of the documented order wins.
        std::fs::write(dir.path().join("package.json"), "{}").unwrap();
        let (found, _) = evaluate(&dir.path().join("package.json"));
        assert_eq!(found.unwrap().file_name().unwrap(), "pnpm-lock.yaml");
    }

    /// A lockfile of another package manager that parsed only in part: its packages are checked, and
    /// what it could not read is a syntax issue of the analysis, as for the chosen lockfile (never a
    /// clean result over the entries it skipped).
    #[test]
    fn a_partly_parsed_other_lockfile_is_a_syntax_issue() {
        let dir = repo(&[
            (
                "package.json",
                "{\"packageManager\": \"npm@10.0.0\", \"dependencies\": {\"a\": \"^1.0.0\"}}".to_string(),
            ),
            (
                "package-lock.json",
                r#"{"lockfileVersion": 3, "packages": {"": {"dependencies": {"a": "^1.0.0"}}, "node_modules/a": {"version": "1.0.0"}}}"#.to_string(),
            ),
            (
                "yarn.lock",
                "# yarn lockfile v1\n\na@^1.0.0:\n  version \"1.0.1\"\n\nthis is not an entry\n  version \"6.6.6\"\n".to_string(),
            ),
        ]);
        let manifest_path = dir.path().join("package.json");
        let mut problems = Vec::new();
        let (found, lockfile) =
            load_lockfile(&manifest_path, ManifestKind::PackageJson, dir.path(), &mut problems).unwrap();
        assert_eq!(found.file_name().unwrap(), "package-lock.json");
        assert_eq!(lockfile.also.len(), 1);
        let parsed = manifest::parse(
            ManifestKind::PackageJson,
            &std::fs::read_to_string(&manifest_path).unwrap(),
        );
        let registries = crate::engine::RegistryRules::default();
        let input = engine::Input {
            manifest: &parsed,
            lockfile: Some(&lockfile),
            workspace: None,
            registries: &registries,
            constraints: Default::default(),
        };
        // Unread in part: the run is incomplete (exit 2), as for a lockfile that did not parse.
        assert!(
            problems
                .iter()
                .any(|(file, problem)| file.ends_with("yarn.lock") && problem.contains("partly not checked")),
            "{problems:?}"
        );
        let now = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let analysis = engine::evaluate(&input, &Facts::default(), &Policy::default(), now);
        assert!(
            analysis
                .syntax
                .iter()
                .any(|issue| issue.message.contains("yarn.lock") && issue.message.contains("expected `name@range:`")),
            "{:?} {problems:?}",
            analysis.syntax
        );
    }

    /// The lockfile that decides, parsed only in part: the entries it skipped go unchecked, so the run
    /// is incomplete (a project problem, exit 2), never a clean result over what it could not read.
    #[test]
    fn a_partly_parsed_chosen_lockfile_is_a_problem() {
        let dir = repo(&[
            ("package.json", "{\"dependencies\": {\"a\": \"^1.0.0\"}}".to_string()),
            (
                "yarn.lock",
                "# yarn lockfile v1\n\na@^1.0.0:\n  version \"1.0.1\"\n\nthis is not an entry\n  version \"6.6.6\"\n"
                    .to_string(),
            ),
        ]);
        let mut problems = Vec::new();
        let (found, lockfile) = load_lockfile(
            &dir.path().join("package.json"),
            ManifestKind::PackageJson,
            dir.path(),
            &mut problems,
        )
        .unwrap();
        assert_eq!(found.file_name().unwrap(), "yarn.lock");
        assert!(!lockfile.packages.is_empty());
        assert!(
            problems
                .iter()
                .any(|(file, problem)| file.ends_with("yarn.lock") && problem.contains("partly not checked")),
            "{problems:?}"
        );
    }

    /// The repository picks the lockfile (`packageManager`): a hostile one could point Gatehouse at a
    /// clean yarn.lock while `npm install` reads a package-lock.json with a malicious version. Every
    /// lockfile present is therefore checked: yarn.lock decides the direct dependency's version, and
    /// package-lock.json's packages (event-stream 3.3.6 with flatmap-stream 0.1.1, and an entry nothing
    /// reaches) are checked and marked as coming from it. Two lockfiles of one manager (bun.lock beside
    /// bun.lockb) are not each other's "other".
    #[test]
    fn every_lockfile_present_is_checked_so_none_can_hide_a_version() {
        let dir = repo(&[
            (
                "package.json",
                "{\"packageManager\": \"yarn@1.22.19\", \"dependencies\": {\"event-stream\": \"^3.3.4\"}}".to_string(),
            ),
            (
                "yarn.lock",
                "# yarn lockfile v1\n\nevent-stream@^3.3.4:\n  version \"3.3.4\"\n".to_string(),
            ),
            (
                "package-lock.json",
                r#"{"lockfileVersion": 3, "packages": {"": {"dependencies": {"event-stream": "^3.3.4"}}, "node_modules/event-stream": {"version": "3.3.6", "dependencies": {"flatmap-stream": "0.1.1"}}, "node_modules/flatmap-stream": {"version": "0.1.1"}, "node_modules/orphan": {"version": "1.0.0"}}}"#.to_string(),
            ),
        ]);
        let manifest_path = dir.path().join("package.json");
        let mut problems = Vec::new();
        let (found, lockfile) =
            load_lockfile(&manifest_path, ManifestKind::PackageJson, dir.path(), &mut problems).unwrap();
        assert_eq!(found.file_name().unwrap(), "yarn.lock");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(lockfile.also.len(), 1);
        let osv = |path: &str| {
            let bytes = std::fs::read(format!("{}/../fixtures/osv/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
            crate::lookup::advisories::osv_record::parse_record(&bytes).unwrap()
        };
        let now = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let known = |advisories| crate::model::Fact::Known {
            value: advisories,
            as_of: now,
            stale: false,
        };
        let mut facts = Facts::default();
        let npm = |name: &str| crate::model::PackageRef::new(crate::model::Ecosystem::Npm, name);
        facts.advisories.insert(
            npm("event-stream"),
            known(vec![osv("incidents/npm/GHSA-mh6f-8j2x-4483.json")]),
        );
        facts.advisories.insert(
            npm("flatmap-stream"),
            known(vec![osv("incidents/npm/MAL-2025-20690.json")]),
        );
        facts.advisories.insert(npm("orphan"), known(Vec::new()));
        let parsed = manifest::parse(
            ManifestKind::PackageJson,
            &std::fs::read_to_string(&manifest_path).unwrap(),
        );
        let registries = crate::engine::RegistryRules::default();
        let input = engine::Input {
            manifest: &parsed,
            lockfile: Some(&lockfile),
            workspace: None,
            registries: &registries,
            constraints: Default::default(),
        };
        let analysis = engine::evaluate(&input, &facts, &Policy::default(), now);
        assert_eq!(
            describe(&analysis),
            vec![
                "event-stream@3.3.4 lockfile",
                "event-stream@3.3.6 lockfile via event-stream",
                "flatmap-stream@0.1.1 lockfile via event-stream > flatmap-stream",
                "orphan@1.0.0 lockfile via orphan",
            ]
        );
        let flagged: Vec<String> = analysis
            .findings
            .iter()
            .filter(|f| {
                f.message
                    .contains("in package-lock.json, the lockfile of another package manager")
            })
            .map(|f| format!("{} {}", analysis.deps[f.dep].dep.package.name, f.id))
            .collect();
        assert!(
            flagged.contains(&"event-stream GHSA-mh6f-8j2x-4483".to_string()),
            "{flagged:?}"
        );
        assert!(
            flagged.iter().any(|f| f.starts_with("flatmap-stream MAL-")),
            "{flagged:?}"
        );
        // Each shows on the direct dependency that reaches it in package-lock.json.
        let text = std::fs::read_to_string(&manifest_path).unwrap();
        for finding in analysis
            .findings
            .iter()
            .filter(|f| f.message.contains("package-lock.json"))
        {
            assert_eq!(&text[finding.span.start..finding.span.end], "^3.3.4");
        }

        let same = repo(&[
            ("package.json", "{}".to_string()),
            (
                "bun.lock",
                "{\"lockfileVersion\": 1, \"workspaces\": {}, \"packages\": {}}".to_string(),
            ),
            ("bun.lockb", "binary".to_string()),
        ]);
        let mut problems = Vec::new();
        let (_, lockfile) = load_lockfile(
            &same.path().join("package.json"),
            ManifestKind::PackageJson,
            same.path(),
            &mut problems,
        )
        .unwrap();
        assert!(lockfile.also.is_empty());
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn bun_lockb_is_reported_not_skipped() {
        let dir = repo(&[
            ("package.json", fixture("bun/hono-query-param-bench/package.json")),
            ("bun.lockb", String::from_utf8_lossy(&[0, 159, 146, 150]).into_owned()),
        ]);
        let (found, analysis) = evaluate(&dir.path().join("package.json"));
        assert_eq!(found.unwrap().file_name().unwrap(), "bun.lockb");
        assert!(
            analysis
                .syntax
                .iter()
                .any(|issue| issue.message.contains("bun install --save-text-lockfile")),
            "{:?}",
            analysis.syntax
        );
        // A text bun.lock beside it wins.
        std::fs::write(dir.path().join("bun.lock"), fixture("bun/hono-routers-bench/bun.lock")).unwrap();
        let (found, _) = evaluate(&dir.path().join("package.json"));
        assert_eq!(found.unwrap().file_name().unwrap(), "bun.lock");
    }

    #[test]
    fn walk_up_stops_at_the_repository_and_reads_regular_files_only() {
        let outer = tempfile::tempdir().unwrap();
        std::fs::write(
            outer.path().join("package-lock.json"),
            fixture("npm/v2-licenses/package-lock.json"),
        )
        .unwrap();
        let inner = outer.path().join("repo");
        std::fs::create_dir_all(inner.join(".git")).unwrap();
        std::fs::create_dir_all(inner.join("pkg")).unwrap();
        std::fs::write(inner.join("pkg/package.json"), "{\"dependencies\": {\"x\": \"1\"}}").unwrap();
        let mut problems = Vec::new();
        let manifest = inner.join("pkg/package.json");
        assert!(load_lockfile(&manifest, ManifestKind::PackageJson, &inner, &mut problems).is_none());
        // A symlinked lockfile (which could point anywhere) and a folder named like one are not read.
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outer.path().join("package-lock.json"), inner.join("package-lock.json"))
                .unwrap();
            std::fs::create_dir(inner.join("yarn.lock")).unwrap();
            let mut problems = Vec::new();
            let manifest = inner.join("pkg/package.json");
            assert!(load_lockfile(&manifest, ManifestKind::PackageJson, &inner, &mut problems).is_none());
        }
    }

    #[test]
    fn cargo_and_uv_members_find_the_root() {
        let dir = repo(&[
            (
                "Cargo.toml",
                "[workspace]\nmembers = [\"m\"]\n\n[workspace.dependencies]\nwebpki = { package = \"rustls-webpki\", version = \"0.101\" }\n".to_string(),
            ),
            (
                "Cargo.lock",
                "version = 3\n\n[[package]]\nname = \"m\"\nversion = \"0.1.0\"\ndependencies = [\"rustls-webpki\"]\n\n[[package]]\nname = \"rustls-webpki\"\nversion = \"0.101.7\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n".to_string(),
            ),
            ("m/Cargo.toml", "[package]\nname = \"m\"\n\n[dependencies]\nwebpki = { workspace = true, features = [\"std\"], optional = true }\n".to_string()),
            (
                "uv.lock",
                "version = 1\n\n[[package]]\nname = \"root\"\nversion = \"0.1.0\"\nsource = { virtual = \".\" }\n\n[[package]]\nname = \"lib\"\nversion = \"0.1.0\"\nsource = { editable = \"packages/lib\" }\ndependencies = [{ name = \"idna\" }]\n\n[[package]]\nname = \"idna\"\nversion = \"3.6\"\nsource = { registry = \"https://pypi.org/simple\" }\n".to_string(),
            ),
            ("packages/lib/pyproject.toml", "[project]\nname = \"lib\"\ndependencies = [\"idna>=3\"]\n".to_string()),
        ]);
        let (found, analysis) = evaluate(&dir.path().join("m/Cargo.toml"));
        assert_eq!(found.unwrap().file_name().unwrap(), "Cargo.lock");
        assert_eq!(describe(&analysis), vec!["rustls-webpki@0.101.7 lockfile"]);
        let (found, analysis) = evaluate(&dir.path().join("packages/lib/pyproject.toml"));
        assert_eq!(found.unwrap().file_name().unwrap(), "uv.lock");
        assert_eq!(describe(&analysis), vec!["idna@3.6 lockfile"]);
    }

    /// Audit item 3d: registry files the package manager does not read must not change where a package
    /// comes from. Yarn 2+ (a yarn.lock with `__metadata`, or a `.yarnrc.yml`) ignores `.npmrc`; npm
    /// and pnpm read the workspace root's `.npmrc`, not one in a member folder.
    #[test]
    fn npmrc_ignored_for_yarn_berry_and_in_workspace_members() {
        use crate::model::{Ecosystem, PackageRef, RegistrySource};
        let tinycolor = PackageRef::new(Ecosystem::Npm, "@ctrl/tinycolor");
        let manifest = "{\"dependencies\": {\"@ctrl/tinycolor\": \"4.1.1\"}}".to_string();
        let npmrc = "@ctrl:registry=https://npm.invalid/\n".to_string();
        let source_of = |dir: &Path, manifest: &str| {
            let manifest = dir.join(manifest);
            let context = context(&manifest, ManifestKind::PackageJson, None, &[], dir, &[], dir);
            context.registries.source_for(&tinycolor, None)
        };
        let berry_lock = "__metadata:\n  version: 8\n  cacheKey: 10c0\n".to_string();
        let classic_lock = "# yarn lockfile v1\n\n".to_string();
        let private = RegistrySource::Private {
            url: "https://npm.invalid".to_string(),
        };

        // One repository per lockfile, rewritten between the cases (the lockfile cache is shared).
        let yarn = repo(&[
            ("package.json", manifest.clone()),
            ("yarn.lock", berry_lock),
            (".npmrc", npmrc.clone()),
        ]);
        assert_eq!(source_of(yarn.path(), "package.json"), RegistrySource::Public);
        // Yarn 1 does read it.
        std::fs::write(yarn.path().join("yarn.lock"), classic_lock).unwrap();
        assert_eq!(source_of(yarn.path(), "package.json"), private);
        // A .yarnrc.yml is Yarn 2+ too.
        std::fs::write(yarn.path().join(".yarnrc.yml"), "nodeLinker: node-modules\n").unwrap();
        assert_eq!(source_of(yarn.path(), "package.json"), RegistrySource::Public);

        // An npm workspace: the member's own .npmrc is not read; the root's is.
        let lock = "{\"name\": \"root\", \"lockfileVersion\": 3, \"packages\": {\"\": {\"workspaces\": [\"packages/a\"]}, \"packages/a\": {\"dependencies\": {\"@ctrl/tinycolor\": \"4.1.1\"}}, \"node_modules/a\": {\"resolved\": \"packages/a\", \"link\": true}, \"node_modules/@ctrl/tinycolor\": {\"version\": \"4.1.1\"}}}".to_string();
        let workspace = repo(&[
            ("package.json", "{\"workspaces\": [\"packages/a\"]}".to_string()),
            ("package-lock.json", lock),
            ("packages/a/package.json", manifest.clone()),
            ("packages/a/.npmrc", npmrc.clone()),
        ]);
        assert_eq!(
            source_of(workspace.path(), "packages/a/package.json"),
            RegistrySource::Public
        );
        std::fs::write(workspace.path().join(".npmrc"), npmrc.clone()).unwrap();
        assert_eq!(source_of(workspace.path(), "packages/a/package.json"), private);

        // Without a lockfile: the root that declares the workspace decides, and `packageManager`
        // naming Yarn 2+ means no .npmrc is read.
        let unlocked = repo(&[
            ("package.json", "{\"workspaces\": [\"packages/*\"]}".to_string()),
            ("packages/a/package.json", manifest.clone()),
            ("packages/a/.npmrc", npmrc.clone()),
        ]);
        assert_eq!(
            source_of(unlocked.path(), "packages/a/package.json"),
            RegistrySource::Public
        );
        let berry_by_field = repo(&[
            (
                "package.json",
                "{\"packageManager\": \"yarn@4.5.0\", \"dependencies\": {\"@ctrl/tinycolor\": \"4.1.1\"}}".to_string(),
            ),
            (".npmrc", npmrc),
        ]);
        assert_eq!(source_of(berry_by_field.path(), "package.json"), RegistrySource::Public);
    }

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
    /// pip reads `--index-url` from a requirements file; from an untrusted repository it is set aside
    /// (PyPI answers), said once on the requirements manifest and not on a package.json beside it;
    /// trusted, the index is used as before.
    #[test]
    fn an_untrusted_requirements_index_url_is_set_aside_and_said() {
        let dir = repo(&[
            (
                "requirements.txt",
                "--index-url https://pypi.evil.example/simple\nrequests==2.31.0\n".to_string(),
            ),
            ("package.json", "{\"dependencies\": {}}".to_string()),
        ]);
        let requirements = dir.path().join("requirements.txt");
        let load = |manifest: &Path, kind: ManifestKind, env: &[(String, String)]| {
            context(manifest, kind, None, env, dir.path(), &[], dir.path())
        };
        let untrusted = load(&requirements, ManifestKind::Requirements, &[]);
        assert_eq!(untrusted.registries.pypi_index, None);
        let requests = crate::model::PackageRef::new(crate::model::Ecosystem::PyPI, "requests");
        assert_eq!(
            untrusted.registries.source_for(&requests, None),
            crate::model::RegistrySource::Public
        );
        let said: Vec<&ConfigIssue> = untrusted
            .config
            .issues
            .iter()
            .filter(|issue| issue.message.contains("https://pypi.evil.example/simple"))
            .collect();
        assert_eq!(said.len(), 1, "{:?}", untrusted.config.issues);
        assert!(
            said[0].source.ends_with("requirements.txt") && said[0].message.contains("gatehouse trust"),
            "{:?}",
            said[0]
        );
        let beside = load(&dir.path().join("package.json"), ManifestKind::PackageJson, &[]);
        assert!(
            !beside
                .config
                .issues
                .iter()
                .any(|issue| issue.message.contains("pypi.evil.example")),
            "{:?}",
            beside.config.issues
        );

        let env = [("GATEHOUSE_TRUST_PROJECT_CONFIG".to_string(), "1".to_string())];
        let trusted = load(&requirements, ManifestKind::Requirements, &env);
        assert_eq!(
            trusted.registries.pypi_index.as_deref(),
            Some("https://pypi.evil.example/simple")
        );
        assert!(trusted.registries.set_aside.is_empty());
    }
}
