//! `build`: the layers merged over the defaults, validated section by section into a typed `Config`.
//! Bad values and unknown keys become `ConfigIssue`s at their source; the rest applies.

use super::*;

/// Merges the layers over the defaults and validates the result.
pub fn build(layers: &[Layer]) -> Config {
    let mut merged = Merged::new(layers);
    // The order of the steps is the order of the issues they report.
    let lookup = lookup_settings(&mut merged);
    let trust = trust_settings(&mut merged);
    let fail_on = fail_on(&mut merged);
    let policy = policy(&mut merged);
    let debounce_ms = merged.get("lookup.debounce-ms").and_then(Value::as_u64).unwrap_or(250);
    let mirror_is_public = merged.flag("mirror-is-public", TRUE_WORDS_WITH_ON);
    let private_packages = match merged.get("private-packages") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Some(Value::String(list)) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    Config {
        lookup,
        trust,
        fail_on,
        policy,
        debounce_ms,
        mirror_is_public,
        private_packages,
        issues: merged.issues,
    }
}

/// Strings that mean `true` for `offline` and `endpoints.crates-api-dates`.
const TRUE_WORDS: &[&str] = &["1", "true", "yes"];
/// Strings that mean `true` for the keys that also take `on`.
const TRUE_WORDS_WITH_ON: &[&str] = &["1", "true", "yes", "on"];

/// The layers merged over the defaults, and the issues found while reading them.
struct Merged<'a> {
    value: Value,
    layers: &'a [Layer],
    issues: Vec<ConfigIssue>,
}

impl<'a> Merged<'a> {
    fn new(layers: &'a [Layer]) -> Merged<'a> {
        let mut issues = Vec::new();
        let defaults = match toml::from_str::<toml::Value>(DEFAULTS_TOML) {
            Ok(value) => toml_to_json(value),
            Err(_) => Value::Object(Map::new()),
        };
        let mut value = defaults.clone();
        for layer in layers {
            unknown_keys(&defaults, &layer.value, "", &layer.name, &mut issues);
            merge(&mut value, &layer.value);
        }
        Merged { value, layers, issues }
    }

    fn get(&self, path: &str) -> Option<&Value> {
        let mut node = &self.value;
        for part in path.split('.') {
            node = node.get(part)?;
        }
        Some(node)
    }

    fn string(&self, path: &str) -> String {
        self.get(path).and_then(Value::as_str).unwrap_or_default().to_string()
    }

    fn bad(&mut self, key: &str, message: String) {
        self.issues.push(ConfigIssue {
            key: key.to_string(),
            message,
            source: source_of(self.layers, key),
        })
    }

    /// A boolean key: `true`/`false`, or one of `true_words` as a string; anything else is an issue.
    fn flag(&mut self, key: &str, true_words: &[&str]) -> bool {
        match self.get(key).cloned() {
            Some(Value::Bool(b)) => b,
            Some(Value::String(s)) => true_words.contains(&s.as_str()),
            Some(other) => {
                self.bad(key, format!("`{key}` must be true or false, not {other}"));
                false
            }
            None => false,
        }
    }

    /// A list of paths; empty entries are skipped.
    fn paths(&self, key: &str) -> Vec<PathBuf> {
        match self.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Where data comes from and goes: `offline`, `endpoints.*`, `osv-db`, `osv-export-refresh`,
/// `cache-dir`, `trusted-root`.
fn lookup_settings(merged: &mut Merged<'_>) -> LookupSettings {
    let offline = merged.flag("offline", TRUE_WORDS);
    let crates_api_dates = merged.flag("endpoints.crates-api-dates", TRUE_WORDS);
    let osv_db = match merged.get("osv-db") {
        Some(Value::String(single)) if !single.is_empty() => vec![PathBuf::from(single)],
        _ => merged.paths("osv-db"),
    };
    let trusted_root = merged.string("trusted-root");
    let refresh_text = merged.string("osv-export-refresh");
    let osv_export_refresh = match parse_duration(&refresh_text) {
        Some(duration) if !duration.is_negative() => duration.unsigned_abs(),
        _ => {
            merged.bad(
                "osv-export-refresh",
                format!("`{refresh_text}` is not a duration (try `1h` or `30m`)"),
            );
            std::time::Duration::from_secs(3600)
        }
    };
    LookupSettings {
        offline,
        cache_dir: PathBuf::from(merged.string("cache-dir")),
        npm_registry: merged.string("endpoints.npm"),
        crates_index: merged.string("endpoints.crates"),
        crates_api_dates,
        pypi_url: merged.string("endpoints.pypi"),
        osv_url: merged.string("endpoints.osv"),
        osv_db,
        osv_export: merged.string("endpoints.osv-export"),
        osv_export_refresh,
        wait_for_osv_export: false,
        trusted_root: (!trusted_root.is_empty()).then(|| PathBuf::from(trusted_root)),
    }
}

/// `trust-project-config` and `trusted-folders`.
fn trust_settings(merged: &mut Merged<'_>) -> TrustSettings {
    TrustSettings {
        project_config: merged.flag("trust-project-config", TRUE_WORDS_WITH_ON),
        folders: merged.paths("trusted-folders"),
    }
}

/// `fail-on`: a severity, or `never`.
fn fail_on(merged: &mut Merged<'_>) -> Option<Severity> {
    match merged.string("fail-on").as_str() {
        "never" | "off" | "none" => None,
        text => match Severity::parse(text) {
            Some(level) => Some(level),
            None => {
                merged.bad(
                    "fail-on",
                    format!("`fail-on` must be error, warning or never, not `{text}`"),
                );
                Some(Severity::Error)
            }
        },
    }
}

/// `[policy]` and `[[ignore]]`.
fn policy(merged: &mut Merged<'_>) -> Policy {
    let mut policy = Policy::default();
    age_thresholds(merged, &mut policy);
    severity_overrides(merged, &mut policy);
    signal_rules(merged, &mut policy.signals);
    ecosystem_overrides(merged, &mut policy);
    for (key, target) in [("policy.allow", &mut policy.allow), ("policy.deny", &mut policy.deny)] {
        if let Some(Value::Array(items)) = merged.get(key) {
            target.extend(items.iter().filter_map(Value::as_str).map(str::to_string));
        }
    }
    policy.ignores = ignores(merged);
    policy
}

/// `policy.min-version-age`, `policy.min-package-age`, and which layer decided the version age.
fn age_thresholds(merged: &mut Merged<'_>, policy: &mut Policy) {
    for (key, target) in [
        ("policy.min-version-age", &mut policy.age.min_version_age),
        ("policy.min-package-age", &mut policy.age.min_package_age),
    ] {
        let text = merged.string(key);
        match parse_duration(&text) {
            Some(duration) => *target = duration,
            None => merged.bad(key, format!("`{text}` is not a duration (try `72h` or `30d`)")),
        }
    }
    if let Some(source) = merged.layers.iter().rev().find(|layer| {
        layer
            .value
            .get("policy")
            .and_then(|p| p.get("min-version-age"))
            .is_some()
    }) {
        policy.age.decided_by = format!(
            "policy.min-version-age = {} ({})",
            merged.string("policy.min-version-age"),
            source.name
        );
    }
}

/// `[policy.severity]`: a severity (or `off`) per finding code.
fn severity_overrides(merged: &mut Merged<'_>, policy: &mut Policy) {
    let Some(Value::Object(map)) = merged.get("policy.severity").cloned() else {
        return;
    };
    for (code, value) in &map {
        let Some(kind) = FindingKind::from_code(code) else {
            merged.bad(&format!("policy.severity.{code}"), format!("unknown check `{code}`"));
            continue;
        };
        match value.as_str().map(parse_override) {
            Some(Some(level)) => policy.severity.push((kind, None, level)),
            _ => merged.bad(
                &format!("policy.severity.{code}"),
                "severity must be error, warning, information, hint or off".to_string(),
            ),
        }
    }
}

/// `[policy.signals]`: points per signal kind, the thresholds and the dormancy.
fn signal_rules(merged: &mut Merged<'_>, rules: &mut crate::policy::SignalRules) {
    let number = |merged: &Merged<'_>, key: &str| -> Option<Result<u32, String>> {
        let value = merged.get(key)?;
        let parsed = match value {
            Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            Value::String(s) => s.trim().parse::<u32>().ok(),
            _ => None,
        };
        Some(parsed.ok_or_else(|| format!("`{key}` must be a whole number of points, not {value}")))
    };
    for kind in crate::policy::SIGNAL_KINDS {
        let key = format!("policy.signals.{}", kind.code());
        match number(merged, &key) {
            Some(Ok(points)) => rules.points.push((kind, points)),
            Some(Err(message)) => merged.bad(&key, message),
            None => {}
        }
    }
    for (key, target) in [
        ("policy.signals.new-package", &mut rules.new_package_points),
        ("policy.signals.taken-down", &mut rules.takedown_points),
        ("policy.signals.error-at", &mut rules.error_at),
        ("policy.signals.warn-at", &mut rules.warn_at),
    ] {
        match number(merged, key) {
            Some(Ok(points)) => *target = points,
            Some(Err(message)) => merged.bad(key, message),
            None => {}
        }
    }
    let dormancy = merged.string("policy.signals.dormancy");
    if !dormancy.is_empty() {
        match parse_duration(&dormancy) {
            Some(duration) => rules.dormancy = duration,
            None => merged.bad(
                "policy.signals.dormancy",
                format!("`{dormancy}` is not a duration (try `365d`)"),
            ),
        }
    }
}

/// `[policy.ecosystem.<name>.severity]`: severity overrides for one ecosystem.
fn ecosystem_overrides(merged: &mut Merged<'_>, policy: &mut Policy) {
    let Some(Value::Object(map)) = merged.get("policy.ecosystem").cloned() else {
        return;
    };
    for (name, section) in &map {
        let Some(ecosystem) = Ecosystem::from_osv_name(name) else {
            merged.bad(
                &format!("policy.ecosystem.{name}"),
                format!("unknown ecosystem `{name}`"),
            );
            continue;
        };
        if let Some(Value::Object(levels)) = section.get("severity") {
            for (code, value) in levels {
                match (FindingKind::from_code(code), value.as_str().map(parse_override)) {
                    (Some(kind), Some(Some(level))) => policy.severity.push((kind, Some(ecosystem), level)),
                    _ => merged.bad(
                        &format!("policy.ecosystem.{name}.severity.{code}"),
                        "unknown check or severity".to_string(),
                    ),
                }
            }
        }
    }
}

/// `[[ignore]]`: suppressions; an `until` that is not a date is an issue (the suppression stays, with
/// no expiry).
fn ignores(merged: &mut Merged<'_>) -> Vec<Ignore> {
    let Some(Value::Array(entries)) = merged.get("ignore").cloned() else {
        return Vec::new();
    };
    let mut res = Vec::new();
    for (idx, entry) in entries.iter().enumerate() {
        let text = |k: &str| entry.get(k).and_then(Value::as_str).map(str::to_string);
        let until = text("until").and_then(|s| s.get(..10).map(str::to_string));
        let until_date = match &until {
            Some(date) => match date.parse::<jiff::civil::Date>() {
                Ok(date) => Some(date),
                Err(_) => {
                    merged.bad(
                        &format!("ignore.{idx}.until"),
                        format!("`{date}` is not a date (YYYY-MM-DD)"),
                    );
                    None
                }
            },
            None => None,
        };
        res.push(Ignore {
            index: idx,
            id: text("id"),
            package: text("package"),
            reason: text("reason").filter(|r| is_real_reason(r)),
            until: until_date,
        });
    }
    res
}

/// A reason a person wrote: not empty, and not a `TODO` placeholder.
fn is_real_reason(reason: &str) -> bool {
    let trimmed = reason.trim();
    !trimmed.is_empty()
        && !trimmed.to_ascii_uppercase().starts_with("TODO")
        && trimmed != crate::model::IGNORE_REASON_PLACEHOLDER
}

fn parse_override(text: &str) -> Option<SeverityOverride> {
    if text == "off" {
        return Some(SeverityOverride::Off);
    }
    Severity::parse(text).map(SeverityOverride::Level)
}

fn source_of(layers: &[Layer], dotted: &str) -> String {
    layers
        .iter()
        .rev()
        .find(|layer| {
            let mut node = &layer.value;
            for part in dotted.split('.') {
                match node.get(part) {
                    Some(child) => node = child,
                    None => return false,
                }
            }
            true
        })
        .map(|layer| layer.name.clone())
        .unwrap_or_else(|| "defaults".to_string())
}
