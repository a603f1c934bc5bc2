//! Reads what surrounds a manifest on disk: its lockfile, the Cargo workspace root, `gatehouse.toml`
//! and the environment, and turns them into the inputs of the pure core. Shared by the two composition
//! roots (`cli`, `lsp`), which are the only callers.
//!
//! Invariants:
//! - Every read is best effort: a missing or unreadable file is `None` plus a message, never an error
//!   that stops the analysis.
//! - Reads the environment once per call (`env_vars`), so tests can pass their own.

use std::path::{Path, PathBuf};

use crate::config::{self, Config, ConfigIssue, Layer};
use crate::engine::{Input, RegistryRules};
use crate::lookup::private::{self, PrivateRegistries};
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
    }
}

/// A key that tells lookups with different settings or registries apart.
pub fn lookup_key(context: &Context) -> String {
    format!("{:?}|{:?}", context.config.lookup, context.registries)
}

/// The process environment as pairs (the only place it is read).
pub fn env_vars() -> Vec<(String, String)> {
    std::env::vars().collect()
}

/// Layers from `gatehouse.toml` (explicit, or found next to the manifest or in a parent) and the
/// environment; `overrides` (flags or client settings) go last.
pub fn load_config(
    start_dir: &Path,
    explicit: Option<&Path>,
    env: &[(String, String)],
    cwd: &Path,
    overrides: &[Layer],
) -> (Config, Option<PathBuf>, Option<String>) {
    let path = match explicit {
        Some(path) => Some(path.to_path_buf()),
        None => config::find_config_file(start_dir, |p| p.is_file()),
    };
    let mut layers = Vec::new();
    let mut issues: Vec<ConfigIssue> = Vec::new();
    let mut text = None;
    if let Some(path) = &path {
        match std::fs::read_to_string(path) {
            Ok(contents) => {
                let (layer, layer_issues) = Layer::from_toml(path, &contents);
                layers.push(layer);
                issues.extend(layer_issues);
                text = Some(contents);
            }
            Err(err) => issues.push(ConfigIssue {
                key: String::new(),
                message: format!("could not read {}: {err}", path.display()),
                source: path.display().to_string(),
            }),
        }
    }
    layers.push(Layer::from_env(env, cwd));
    layers.extend(overrides.iter().cloned());
    let mut config = config::build(&layers);
    issues.append(&mut config.issues);
    config.issues = issues;
    if config.lookup.cache_dir.as_os_str().is_empty() {
        config.lookup.cache_dir = crate::lookup::cache::default_cache_dir(env);
    }
    (config, path, text)
}

/// Reads the lockfile that decides versions for a manifest, if there is one beside it.
pub fn load_lockfile(manifest_path: &Path, kind: ManifestKind) -> Option<(PathBuf, Lockfile)> {
    let dir = manifest_path.parent()?;
    let mut candidates: Vec<PathBuf> = kind.lockfile_names().iter().map(|name| dir.join(name)).collect();
    if kind == ManifestKind::CargoToml {
        // A workspace member's lockfile lives at the workspace root.
        let mut current = dir.parent();
        while let Some(folder) = current {
            candidates.push(folder.join("Cargo.lock"));
            current = folder.parent();
        }
    }
    for candidate in candidates {
        let Ok(text) = std::fs::read_to_string(&candidate) else {
            continue;
        };
        let lock_kind = ManifestKind::detect(&candidate, false)?;
        if let Some(lockfile) = manifest::parse_lockfile(lock_kind, &text) {
            return Some((candidate, lockfile));
        }
    }
    None
}

/// Cargo: the nearest parent `Cargo.toml` with a `[workspace]` table (for `workspace = true`).
pub fn load_workspace_root(manifest_path: &Path, kind: ManifestKind) -> Option<Parsed> {
    if kind != ManifestKind::CargoToml {
        return None;
    }
    let mut current = manifest_path.parent()?.parent();
    while let Some(folder) = current {
        let candidate = folder.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&candidate)
            && text.contains("[workspace")
        {
            return Some(manifest::parse(ManifestKind::CargoToml, &text));
        }
        current = folder.parent();
    }
    None
}

/// The folders a project's settings may live in: the manifest's folder and its parents, up to the
/// repository root (the first folder with `.git`).
fn project_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut res = Vec::new();
    let mut current = Some(dir);
    while let Some(folder) = current {
        res.push(folder.to_path_buf());
        if folder.join(".git").exists() {
            break;
        }
        current = folder.parent();
    }
    res
}

/// Reads the cooldowns the project declares for its package managers and update bots, so the editor
/// agrees with the install (`policy::cooldown` decides the precedence).
fn apply_cooldowns(config: &mut Config, dir: &Path, kind: ManifestKind) {
    let found = cooldown::find_files(&project_dirs(dir), |p| p.is_file());
    let texts: Vec<(cooldown::CooldownFile, String)> = found
        .into_iter()
        .filter_map(|(path, file)| std::fs::read_to_string(path).ok().map(|text| (file, text)))
        .collect();
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

/// Everything around one manifest.
pub fn context(
    manifest_path: &Path,
    kind: ManifestKind,
    explicit_config: Option<&Path>,
    env: &[(String, String)],
    cwd: &Path,
    overrides: &[Layer],
) -> Context {
    let dir = manifest_path.parent().unwrap_or(Path::new("."));
    let (mut config, config_path, config_text) = load_config(dir, explicit_config, env, cwd, overrides);
    apply_cooldowns(&mut config, dir, kind);
    let (lockfile_path, lockfile) = match load_lockfile(manifest_path, kind) {
        Some((path, lockfile)) => (Some(path), Some(lockfile)),
        None => (None, None),
    };
    let (private, problems) = private::load_from_disk(dir);
    config.issues.extend(problems.into_iter().map(|problem| ConfigIssue {
        key: String::new(),
        message: format!(
            "could not parse {}, so its registries and credentials are not used: {}",
            problem.path.display(),
            problem.message.trim_end()
        ),
        source: problem.path.display().to_string(),
    }));
    Context {
        lockfile,
        lockfile_path,
        workspace: load_workspace_root(manifest_path, kind),
        config,
        config_path,
        config_text,
        registries: registry_rules(&private),
        private,
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

        let context = context(&manifest, ManifestKind::CargoToml, None, &[], dir.path(), &[]);

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
