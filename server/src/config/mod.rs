//! One `Config`, one merge order: `defaults.toml` < `gatehouse.toml` < environment < CLI flags / LSP settings.
//!
//! Invariants:
//! - Every source is turned into the same JSON-shaped tree (kebab-case keys, the nesting of
//!   `defaults.toml`) and deep-merged; only then is the result validated into typed values.
//! - Relative paths are resolved against the folder of the file that named them, before merging.
//! - Unknown keys and bad values are `ConfigIssue`s (with the key path), never errors: the rest of the
//!   configuration still applies, with defaults where a value was bad.
//! - No IO: callers read files and the environment and pass text and variables in.
//! - Keys split in two. Project policy (thresholds, severities, allow/deny, `[[ignore]]`) may come from
//!   a project's `gatehouse.toml`. Machine trust (`MACHINE_TRUST_KEYS`: where data comes from, what is
//!   written where, what counts as private, what is trusted) comes from the user's configuration,
//!   editor settings, the environment and flags; from a project file only when the user trusts it
//!   (`strip_machine_trust` removes them otherwise, with an issue at each key).

use std::path::{Path, PathBuf};

use jiff::SignedDuration;
use serde_json::{Map, Value};

use crate::lookup::LookupSettings;
use crate::model::{Ecosystem, FindingKind, Severity};
use crate::policy::{Ignore, Policy, SeverityOverride};

/// The documented default of every key.
mod build;
pub use build::build;

pub const DEFAULTS_TOML: &str = include_str!("defaults.toml");

/// A problem in a configuration source, for a diagnostic on `gatehouse.toml` or a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Dotted key path (`policy.min-version-age`), or empty for the whole source.
    pub key: String,
    pub message: String,
    /// Which source: a file path, `environment`, `flags` or `client settings`.
    pub source: String,
}

/// Keys a project file may set only when the user trusts it (see the module doc). A section name
/// (`endpoints`) covers every key below it; `private-packages` and `mirror-is-public` are matched in
/// any section.
pub const MACHINE_TRUST_KEYS: [&str; 10] = [
    "endpoints",
    "trusted-root",
    "cache-dir",
    "offline",
    "osv-db",
    "osv-export-refresh",
    "private-packages",
    "mirror-is-public",
    "trust-project-config",
    "trusted-folders",
];

/// Machine-trust keys matched in any section (their section may move; their meaning does not).
const MACHINE_TRUST_ANYWHERE: [&str; 2] = ["private-packages", "mirror-is-public"];

/// Removes the machine-trust keys from an untrusted project layer; each one removed is an issue at its
/// key that says why and how to trust the folder (`how_to_trust`).
pub fn strip_machine_trust(layer: &mut Layer, how_to_trust: &str) -> Vec<ConfigIssue> {
    let mut removed = Vec::new();
    strip_in(&mut layer.value, "", &mut removed);
    removed
        .into_iter()
        .map(|key| ConfigIssue {
            message: format!(
                "`{key}` is ignored: it decides where Gatehouse's data comes from or goes, and this project's gatehouse.toml is not trusted; {how_to_trust}"
            ),
            key,
            source: layer.name.clone(),
        })
        .collect()
}

fn strip_in(value: &mut Value, prefix: &str, removed: &mut Vec<String>) {
    let Value::Object(map) = value else {
        return;
    };
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let top_level = prefix.is_empty() && MACHINE_TRUST_KEYS.contains(&key.as_str());
        if top_level || MACHINE_TRUST_ANYWHERE.contains(&key.as_str()) {
            match map.remove(&key) {
                Some(Value::Object(children)) if !children.is_empty() => {
                    removed.extend(children.keys().map(|child| format!("{path}.{child}")));
                }
                _ => removed.push(path),
            }
        } else if let Some(child) = map.get_mut(&key) {
            strip_in(child, &path, removed);
        }
    }
}

/// Who may trust a project's own configuration, from the user's side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustSettings {
    /// `trust-project-config` (`--trust-project-config`, `GATEHOUSE_TRUST_PROJECT_CONFIG=1`, or an editor
    /// that trusts the workspace): every project file is trusted.
    pub project_config: bool,
    /// `trusted-folders` in the user configuration (`gatehouse trust PATH`): projects at or below them.
    pub folders: Vec<PathBuf>,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub lookup: LookupSettings,
    pub trust: TrustSettings,
    pub fail_on: Option<Severity>,
    pub policy: Policy,
    pub debounce_ms: u64,
    /// The project's default-registry mirror serves public packages only: their names may go to the
    /// public OSV API (`mirror-is-public`).
    pub mirror_is_public: bool,
    /// Globs (`npm:@corp/*`, `PyPI:corp-*`, or a bare glob for every ecosystem) naming the packages a
    /// mirror serves that are the company's own; every other name behind a mirror may go to OSV
    /// (`private-packages`). Empty: no name behind a mirror leaves the machine.
    pub private_packages: Vec<String>,
    pub issues: Vec<ConfigIssue>,
}

/// One configuration source, already parsed into the common tree.
#[derive(Debug, Clone)]
pub struct Layer {
    pub name: String,
    pub value: Value,
}

impl Layer {
    /// A `gatehouse.toml`: relative paths are resolved against its folder.
    pub fn from_toml(path: &Path, text: &str) -> (Layer, Vec<ConfigIssue>) {
        let name = path.display().to_string();
        match toml::from_str::<toml::Value>(text) {
            Ok(value) => {
                let mut json = toml_to_json(value);
                if let Some(dir) = path.parent() {
                    resolve_paths(&mut json, dir);
                }
                (Layer { name, value: json }, Vec::new())
            }
            Err(err) => {
                let issue = ConfigIssue {
                    key: String::new(),
                    message: format!("could not read {name}: {}", err.message()),
                    source: name.clone(),
                };
                (
                    Layer {
                        name,
                        value: Value::Object(Map::new()),
                    },
                    vec![issue],
                )
            }
        }
    }

    /// LSP `initializationOptions` / `workspace/configuration` (relative paths against `base`).
    pub fn from_json(name: &str, mut value: Value, base: Option<&Path>) -> Layer {
        if !value.is_object() {
            value = Value::Object(Map::new());
        }
        drop_nulls(&mut value);
        if let Some(base) = base {
            resolve_paths(&mut value, base);
        }
        Layer {
            name: name.to_string(),
            value,
        }
    }

    /// The environment: `GATEHOUSE_OFFLINE`, `GATEHOUSE_OSV_URL`, `GATEHOUSE_OSV_EXPORT`,
    /// `GATEHOUSE_OSV_EXPORT_REFRESH`, `GATEHOUSE_CACHE_DIR`,
    /// `GATEHOUSE_NPM_REGISTRY`, `GATEHOUSE_CRATES_INDEX`, `GATEHOUSE_PYPI_URL`, `GATEHOUSE_TRUSTED_ROOT`,
    /// `GATEHOUSE_FAIL_ON`, `GATEHOUSE_MIRROR_IS_PUBLIC`, `GATEHOUSE_PRIVATE_PACKAGES`, and `GATEHOUSE_<SECTION>_<KEY>` for any other key (`GATEHOUSE_POLICY_MIN_VERSION_AGE`).
    pub fn from_env(vars: &[(String, String)], cwd: &Path) -> Layer {
        let mut root = Map::new();
        for (key, raw) in vars {
            let Some(rest) = key.strip_prefix("GATEHOUSE_") else {
                continue;
            };
            let path: Vec<String> = match rest {
                "OSV_URL" => vec!["endpoints".into(), "osv".into()],
                "OSV_EXPORT" => vec!["endpoints".into(), "osv-export".into()],
                "NPM_REGISTRY" => vec!["endpoints".into(), "npm".into()],
                "CRATES_INDEX" => vec!["endpoints".into(), "crates".into()],
                "PYPI_URL" => vec!["endpoints".into(), "pypi".into()],
                "LOG" | "LIVE" => continue,
                "OFFLINE"
                | "CACHE_DIR"
                | "TRUSTED_ROOT"
                | "FAIL_ON"
                | "OSV_DB"
                | "OSV_EXPORT_REFRESH"
                | "TRUST_PROJECT_CONFIG"
                | "MIRROR_IS_PUBLIC"
                | "PRIVATE_PACKAGES" => {
                    vec![rest.to_ascii_lowercase().replace('_', "-")]
                }
                other => {
                    let lower = other.to_ascii_lowercase();
                    match lower.split_once('_') {
                        Some((section, key)) => vec![section.to_string(), key.replace('_', "-")],
                        None => vec![lower],
                    }
                }
            };
            let value = env_value(&path, raw);
            insert_path(&mut root, &path, value);
        }
        let mut value = Value::Object(root);
        resolve_paths(&mut value, cwd);
        Layer {
            name: "environment".to_string(),
            value,
        }
    }
}

fn env_value(path: &[String], raw: &str) -> Value {
    let key = path.last().map(String::as_str).unwrap_or("");
    match key {
        "offline" | "trust-project-config" | "mirror-is-public" => {
            Value::Bool(matches!(raw.trim(), "1" | "true" | "yes" | "on"))
        }
        "private-packages" => Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| Value::String(p.to_string()))
                .collect(),
        ),
        "osv-db" => Value::Array(
            raw.split(':')
                .filter(|p| !p.is_empty())
                .map(|p| Value::String(p.to_string()))
                .collect(),
        ),
        "debounce-ms" => raw
            .trim()
            .parse::<u64>()
            .map(Value::from)
            .unwrap_or(Value::String(raw.into())),
        _ => Value::String(raw.to_string()),
    }
}

fn insert_path(root: &mut Map<String, Value>, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = root;
    for parent in parents {
        let entry = node.entry(parent.clone()).or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(map) = entry else {
            return;
        };
        node = map;
    }
    node.insert(last.clone(), value);
}

/// Sets one dotted key from a `--set section.key=value` flag or a named flag.
pub fn set_flag(layer: &mut Layer, dotted: &str, value: Value) {
    if !layer.value.is_object() {
        layer.value = Value::Object(Map::new());
    }
    if let Value::Object(map) = &mut layer.value {
        let path: Vec<String> = dotted.split('.').map(str::to_string).collect();
        insert_path(map, &path, value);
    }
}

fn drop_nulls(value: &mut Value) {
    if let Value::Object(map) = value {
        map.retain(|_, v| !v.is_null());
        for v in map.values_mut() {
            drop_nulls(v);
        }
    }
}

const PATH_KEYS: [&str; 4] = ["cache-dir", "trusted-root", "osv-db", "trusted-folders"];

fn resolve_paths(value: &mut Value, base: &Path) {
    let Value::Object(map) = value else {
        return;
    };
    for key in PATH_KEYS {
        match map.get_mut(key) {
            Some(Value::String(text)) => *text = absolutize(base, text),
            Some(Value::Array(items)) => {
                for item in items {
                    if let Value::String(text) = item {
                        *text = absolutize(base, text);
                    }
                }
            }
            _ => {}
        }
    }
}

fn absolutize(base: &Path, text: &str) -> String {
    let path = PathBuf::from(text);
    if path.is_absolute() || text.is_empty() {
        path.display().to_string()
    } else {
        base.join(path).display().to_string()
    }
}

fn toml_to_json(value: toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Value::Object(table.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect()),
    }
}

/// Deep-merges `over` into `base`: objects merge key by key, everything else is replaced.
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(base_map), Value::Object(over_map)) => {
            for (key, value) in over_map {
                match base_map.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => merge(existing, value),
                    _ => {
                        base_map.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, over) => *base = over.clone(),
    }
}

/// Keys whose children are free-form (names chosen by the user).
const OPEN_SECTIONS: [&str; 4] = ["policy.severity", "policy.ecosystem", "policy.package", "ignore"];

fn unknown_keys(defaults: &Value, value: &Value, prefix: &str, source: &str, acc: &mut Vec<ConfigIssue>) {
    let (Value::Object(known), Value::Object(given)) = (defaults, value) else {
        return;
    };
    for (key, child) in given {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match known.get(key) {
            None => acc.push(ConfigIssue {
                key: path,
                message: format!("unknown key `{key}`"),
                source: source.to_string(),
            }),
            Some(default_child) => {
                if !OPEN_SECTIONS.contains(&path.as_str()) {
                    unknown_keys(default_child, child, &path, source, acc);
                }
            }
        }
    }
}

/// Parses a duration: `72h`, `30d`, `90m`, `3600s`, `1w`, a bare number of hours, or jiff's friendly
/// format (`3 days 4 hours`).
pub fn parse_duration(text: &str) -> Option<SignedDuration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(hours) = text.parse::<i64>() {
        return Some(SignedDuration::from_hours(hours));
    }
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (number, unit) = text.split_at(split);
    if let Ok(amount) = number.parse::<f64>() {
        let seconds = match unit.trim() {
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86400.0,
            "w" | "week" | "weeks" => 604800.0,
            _ => return text.parse::<jiff::Span>().ok().and_then(span_to_duration),
        };
        if amount.is_finite() && amount >= 0.0 {
            return Some(SignedDuration::from_secs_f64(amount * seconds));
        }
        return None;
    }
    text.parse::<jiff::Span>().ok().and_then(span_to_duration)
}

fn span_to_duration(span: jiff::Span) -> Option<SignedDuration> {
    span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()).ok()
}

/// The user configuration `text` with `folder` added to `trusted-folders`; `Ok(None)` when it is
/// already there. A new key goes on the first line (before any table); an existing list is extended
/// in place, so the rest of the file (comments included) is kept.
pub fn add_trusted_folder(text: &str, folder: &Path) -> Result<Option<String>, String> {
    let parsed: toml::Table = toml::from_str(text).map_err(|err| format!("not valid TOML: {}", err.message()))?;
    let folder_text = folder.display().to_string();
    let quoted = toml::Value::String(folder_text.clone()).to_string();
    match parsed.get("trusted-folders") {
        None => Ok(Some(format!("trusted-folders = [{quoted}]\n{text}"))),
        Some(toml::Value::Array(items)) => {
            if items.iter().any(|item| item.as_str() == Some(folder_text.as_str())) {
                return Ok(None);
            }
            // Rewrite the one line that opens the list.
            let mut res = String::new();
            let mut done = false;
            for line in text.split_inclusive('\n') {
                let trimmed = line.trim_start();
                if !done
                    && trimmed.starts_with("trusted-folders")
                    && let Some(open) = line.find('[')
                {
                    res.push_str(&line[..=open]);
                    res.push_str(&quoted);
                    res.push_str(if items.is_empty() { "" } else { ", " });
                    res.push_str(&line[open + 1..]);
                    done = true;
                } else {
                    res.push_str(line);
                }
            }
            if done {
                Ok(Some(res))
            } else {
                Err("could not find the `trusted-folders` line to extend".to_string())
            }
        }
        Some(_) => Err("`trusted-folders` must be a list of folders".to_string()),
    }
}

/// Finds `gatehouse.toml` in `dir` or any parent folder; the caller passes an existence test.
pub fn find_config_file(dir: &Path, exists: impl Fn(&Path) -> bool) -> Option<PathBuf> {
    let mut current = Some(dir);
    while let Some(folder) = current {
        let candidate = folder.join("gatehouse.toml");
        if exists(&candidate) {
            return Some(candidate);
        }
        current = folder.parent();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let config = build(&[]);
        assert!(config.issues.is_empty(), "{:?}", config.issues);
        assert_eq!(config.lookup.osv_url, "https://api.osv.dev");
        assert_eq!(config.policy.age.min_version_age, SignedDuration::from_hours(72));
        assert_eq!(config.fail_on, Some(Severity::Error));
    }

    #[test]
    fn merge_order_and_paths() {
        let (file, issues) = Layer::from_toml(
            Path::new("/proj/gatehouse.toml"),
            "offline = true\nosv-db = [\"osv\"]\n[endpoints]\nosv = \"http://file\"\n[policy]\nmin-version-age = \"5d\"\nbogus = 1\n",
        );
        assert!(issues.is_empty());
        let env = Layer::from_env(&[("GATEHOUSE_OSV_URL".into(), "http://env".into())], Path::new("/cwd"));
        let mut flags = Layer::from_json("flags", Value::Object(Map::new()), None);
        set_flag(&mut flags, "fail-on", Value::String("warning".into()));
        let config = build(&[file, env, flags]);
        assert!(config.lookup.offline);
        assert_eq!(config.lookup.osv_db, vec![PathBuf::from("/proj/osv")]);
        assert_eq!(config.lookup.osv_url, "http://env");
        assert_eq!(config.fail_on, Some(Severity::Warning));
        assert_eq!(config.policy.age.min_version_age, SignedDuration::from_hours(120));
        assert_eq!(config.issues.len(), 1);
        assert_eq!(config.issues[0].key, "policy.bogus");
    }

    #[test]
    fn every_default_key_through_every_source() {
        let defaults: toml::Value = toml::from_str(DEFAULTS_TOML).unwrap();
        let json = toml_to_json(defaults);
        let layer = Layer::from_json("client settings", json.clone(), None);
        let config = build(&[layer]);
        assert!(config.issues.is_empty(), "{:?}", config.issues);
        let (file, _) = Layer::from_toml(Path::new("/p/gatehouse.toml"), DEFAULTS_TOML);
        assert!(build(&[file]).issues.is_empty());
    }

    #[test]
    fn an_untrusted_project_cannot_set_where_the_osv_export_comes_from() {
        let (mut file, issues) = Layer::from_toml(
            Path::new("/proj/gatehouse.toml"),
            "osv-export-refresh = \"0s\"\n[endpoints]\nosv-export = \"http://attacker.example\"\n[policy]\nmin-version-age = \"5d\"\n",
        );
        assert!(issues.is_empty());
        let removed = strip_machine_trust(&mut file, "run `gatehouse trust`");
        let mut keys: Vec<&str> = removed.iter().map(|issue| issue.key.as_str()).collect();
        keys.sort();
        assert_eq!(keys, vec!["endpoints.osv-export", "osv-export-refresh"], "{removed:?}");
        let env = Layer::from_env(
            &[("GATEHOUSE_OSV_EXPORT_REFRESH".into(), "2h".into())],
            Path::new("/cwd"),
        );
        let config = build(&[file, env]);
        assert_eq!(
            config.lookup.osv_export,
            "https://osv-vulnerabilities.storage.googleapis.com"
        );
        assert_eq!(config.lookup.osv_export_refresh, std::time::Duration::from_secs(7200));
        // The project's policy still applies.
        assert_eq!(config.policy.age.min_version_age, SignedDuration::from_hours(120));

        // The user may point it elsewhere, or turn it off.
        let env = Layer::from_env(&[("GATEHOUSE_OSV_EXPORT".into(), "".into())], Path::new("/cwd"));
        assert_eq!(build(&[env]).lookup.osv_export, "");
        let mut flags = Layer::from_json("flags", Value::Object(Map::new()), None);
        set_flag(
            &mut flags,
            "endpoints.osv-export",
            Value::String("http://mirror.corp/osv".into()),
        );
        set_flag(&mut flags, "osv-export-refresh", Value::String("soon".into()));
        let config = build(&[flags]);
        assert_eq!(config.lookup.osv_export, "http://mirror.corp/osv");
        assert_eq!(config.issues[0].key, "osv-export-refresh");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("72h"), Some(SignedDuration::from_hours(72)));
        assert_eq!(parse_duration("30d"), Some(SignedDuration::from_hours(720)));
        assert_eq!(parse_duration("90m"), Some(SignedDuration::from_mins(90)));
        assert_eq!(parse_duration("soon"), None);
    }
}
