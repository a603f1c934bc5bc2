//! Cooldowns the project already declares (package managers' minimum release age, uv's
//! `exclude-newer`, Renovate's and Dependabot's cooldowns), read from file text into the age thresholds.
//!
//! Invariants:
//! - Pure: the caller (`project`) reads the files listed in `FILES` and passes their text; parsing is
//!   per file (`parse`), combining is `thresholds`. Nothing here touches the disk or the clock.
//! - A file that does not parse, or a value of the wrong shape, is a `CooldownIssue` naming the file and
//!   the key; the other files still apply.
//! - Units are the tool's own: npm `min-release-age` days, pnpm `minimumReleaseAge` minutes, Yarn
//!   `npmMinimalAgeGate` a duration (`3d`) or minutes, Bun `minimumReleaseAge` seconds, uv `exclude-newer`
//!   an RFC 3339 timestamp, a date (midnight UTC) or a duration (`P7D`, `1 week`), Cargo
//!   `global-min-publish-age` a duration, Renovate `minimumReleaseAge` a duration (`3 days`) and the old
//!   `stabilityDays`, Dependabot `cooldown.default-days`.
//!
//! Precedence (`thresholds`), for one ecosystem:
//! 1. The package manager's own setting (it refuses the install) beats Renovate/Dependabot, which beat
//!    Gatehouse's default: a project that says "1 day" in `pnpm-workspace.yaml` is not nagged at 72 h.
//! 2. An explicit `gatehouse.toml` `policy.min-version-age` beats Renovate/Dependabot and the default;
//!    against the package manager's setting the stricter (longer) of the two wins, so the editor never
//!    proposes a version the installer would refuse and never flags less than the team asked for.
//! 3. The package manager's setting is also kept as `installer_min_age` (and uv's cutoffs as
//!    `exclude_newer`): the solver refuses those versions whatever the severity policy says.
//! 4. Exemptions (`minimumReleaseAgeExclude`, `npmPreapprovedPackages`, `minimumReleaseAgeExcludes`,
//!    `exclude-newer-package = false`, Dependabot `exclude`) are unioned.
//!
//! Not read (documented limits): Renovate `packageRules` (per-package ages), Dependabot `include`
//! lists and per-semver-bump days (the `default-days` applies to every version; the semver-specific
//! days are shown in `decided_by`), `.npmrc` files outside the project (user and global config).

use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};
use serde_json::Value as Json;

use crate::checks::{AgeThresholds, DEFAULT_DECIDED_BY};
use crate::model::Ecosystem;

/// The kinds of file that can declare a cooldown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CooldownFile {
    Npmrc,
    PnpmWorkspace,
    Yarnrc,
    Bunfig,
    /// `pyproject.toml` (`[tool.uv]`).
    Pyproject,
    UvToml,
    CargoConfig,
    Renovate,
    Dependabot,
}

/// Files to look for, relative to the project root (the folder of the manifest, then its parents up
/// to the repository root), with their kind. `.cargo/config` (no extension) is Cargo's older name.
pub const FILES: &[(&str, CooldownFile)] = &[
    (".npmrc", CooldownFile::Npmrc),
    ("pnpm-workspace.yaml", CooldownFile::PnpmWorkspace),
    (".yarnrc.yml", CooldownFile::Yarnrc),
    ("bunfig.toml", CooldownFile::Bunfig),
    ("pyproject.toml", CooldownFile::Pyproject),
    ("uv.toml", CooldownFile::UvToml),
    (".cargo/config.toml", CooldownFile::CargoConfig),
    (".cargo/config", CooldownFile::CargoConfig),
    ("renovate.json", CooldownFile::Renovate),
    (".renovaterc", CooldownFile::Renovate),
    (".renovaterc.json", CooldownFile::Renovate),
    (".github/renovate.json", CooldownFile::Renovate),
    (".github/dependabot.yml", CooldownFile::Dependabot),
    (".github/dependabot.yaml", CooldownFile::Dependabot),
];

/// For each name in `FILES`, the nearest of `dirs` (the manifest's folder first, then its parents, as
/// far as the caller wants to go: the repository root) that has it. The caller passes the existence
/// test, as with `config::find_config_file`, so this stays free of IO.
pub fn find_files(dirs: &[PathBuf], exists: impl Fn(&Path) -> bool) -> Vec<(PathBuf, CooldownFile)> {
    FILES
        .iter()
        .filter_map(|(relative, kind)| {
            dirs.iter()
                .map(|dir| dir.join(relative))
                .find(|candidate| exists(candidate))
                .map(|path| (path, *kind))
        })
        .collect()
}

impl CooldownFile {
    /// The file's kind from its path relative to the project root.
    pub fn detect(relative_path: &str) -> Option<CooldownFile> {
        let normalised = relative_path.replace('\\', "/");
        FILES
            .iter()
            .find(|(name, _)| normalised == *name || normalised.ends_with(&format!("/{name}")))
            .map(|(_, kind)| *kind)
    }

    fn label(self) -> &'static str {
        match self {
            CooldownFile::Npmrc => ".npmrc",
            CooldownFile::PnpmWorkspace => "pnpm-workspace.yaml",
            CooldownFile::Yarnrc => ".yarnrc.yml",
            CooldownFile::Bunfig => "bunfig.toml",
            CooldownFile::Pyproject => "pyproject.toml [tool.uv]",
            CooldownFile::UvToml => "uv.toml",
            CooldownFile::CargoConfig => ".cargo/config.toml [registry]",
            CooldownFile::Renovate => "renovate config",
            CooldownFile::Dependabot => ".github/dependabot.yml",
        }
    }
}

/// Who declared a cooldown; decides precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CooldownSource {
    /// Renovate or Dependabot: they delay update proposals, not installs.
    UpdateBot,
    /// The package manager: it refuses to install younger versions.
    PackageManager,
}

/// One cooldown declaration, as read from one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cooldown {
    /// `None`: every ecosystem (Renovate's top-level setting).
    pub ecosystem: Option<Ecosystem>,
    pub source: CooldownSource,
    pub min_version_age: Option<SignedDuration>,
    pub exclude_newer: Option<Timestamp>,
    pub exclude_newer_package: Vec<(String, Timestamp)>,
    pub exempt: Vec<String>,
    /// The human-readable setting: `pnpm-workspace.yaml minimumReleaseAge = 1440 (minutes)`.
    pub setting: String,
}

impl Cooldown {
    fn new(ecosystem: Option<Ecosystem>, source: CooldownSource) -> Cooldown {
        Cooldown {
            ecosystem,
            source,
            min_version_age: None,
            exclude_newer: None,
            exclude_newer_package: Vec::new(),
            exempt: Vec::new(),
            setting: String::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.min_version_age.is_none()
            && self.exclude_newer.is_none()
            && self.exclude_newer_package.is_empty()
            && self.exempt.is_empty()
    }
}

/// A problem reading a cooldown file, shown as a message; the file's other settings still apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CooldownIssue {
    pub file: String,
    pub key: String,
    pub message: String,
}

/// Reads one file's cooldown declarations. `now` turns uv's relative `exclude-newer` into nothing
/// (a relative span is a rolling minimum age, kept as `min_version_age`), so it is not needed here.
pub fn parse(kind: CooldownFile, text: &str) -> (Vec<Cooldown>, Vec<CooldownIssue>) {
    let mut issues = Vec::new();
    let mut issue = |key: &str, message: String| {
        issues.push(CooldownIssue {
            file: kind.label().to_string(),
            key: key.to_string(),
            message,
        })
    };
    let res = match kind {
        CooldownFile::Npmrc => parse_npmrc(text, &mut issue),
        CooldownFile::PnpmWorkspace => parse_pnpm(text, &mut issue),
        CooldownFile::Yarnrc => parse_yarn(text, &mut issue),
        CooldownFile::Bunfig => parse_bun(text, &mut issue),
        CooldownFile::Pyproject | CooldownFile::UvToml => parse_uv(kind, text, &mut issue),
        CooldownFile::CargoConfig => parse_cargo(text, &mut issue),
        CooldownFile::Renovate => parse_renovate(text, &mut issue),
        CooldownFile::Dependabot => parse_dependabot(text, &mut issue),
    };
    (res.into_iter().filter(|c| !c.is_empty()).collect(), issues)
}

type Issue<'a> = dyn FnMut(&str, String) + 'a;

fn days(n: f64) -> SignedDuration {
    SignedDuration::from_secs_f64(n * 86400.0)
}

/// A duration as the tools write them: jiff's friendly format (`3 days`, `1 week`, `3d`, `12h`) or
/// ISO 8601 (`P7D`, `PT12H`), with days of 24 hours.
pub fn parse_duration(text: &str) -> Option<SignedDuration> {
    let text = text.trim();
    let span: jiff::Span = text.parse().ok()?;
    let duration = span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()).ok()?;
    (!duration.is_negative()).then_some(duration)
}

/// An RFC 3339 timestamp, or a date meaning midnight UTC at its start.
fn parse_instant(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Some(ts);
    }
    let date: jiff::civil::Date = text.parse().ok()?;
    date.to_zoned(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp())
}

fn number(value: &Json) -> Option<f64> {
    match value {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|n| n.is_finite() && *n >= 0.0)
}

fn strings(value: Option<&Json>) -> Vec<String> {
    match value {
        Some(Json::Array(items)) => items.iter().filter_map(Json::as_str).map(str::to_string).collect(),
        Some(Json::String(single)) => vec![single.clone()],
        _ => Vec::new(),
    }
}

fn yaml_to_json(text: &str) -> Result<Json, String> {
    if text.trim().is_empty() {
        return Ok(Json::Null);
    }
    serde_yaml_ng::from_str::<Json>(text).map_err(|err| err.to_string())
}

fn toml_to_json(text: &str) -> Result<Json, String> {
    let value: toml::Value = toml::from_str(text).map_err(|err| err.message().to_string())?;
    serde_json::to_value(value).map_err(|err| err.to_string())
}

/// `.npmrc`: ini lines. `min-release-age=<days>` and npm's `before=<date>`.
fn parse_npmrc(text: &str, issue: &mut Issue<'_>) -> Vec<Cooldown> {
    let mut res = Cooldown::new(Some(Ecosystem::Npm), CooldownSource::PackageManager);
    let mut settings = Vec::new();
    for (key, value) in crate::model::npmrc_settings(text) {
        match key {
            "min-release-age" => match value.parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0) {
                Some(n) => {
                    res.min_version_age = Some(days(n));
                    settings.push(format!(".npmrc min-release-age = {value} (days)"));
                }
                None => issue(key, format!("`{value}` is not a number of days")),
            },
            "before" => match parse_instant(value) {
                Some(ts) => {
                    res.exclude_newer = Some(ts);
                    settings.push(format!(".npmrc before = {value}"));
                }
                None => issue(key, format!("`{value}` is not a date")),
            },
            _ => {}
        }
    }
    res.setting = settings.join(", ");
    vec![res]
}

/// `pnpm-workspace.yaml`: `minimumReleaseAge` (minutes) and `minimumReleaseAgeExclude`.
fn parse_pnpm(text: &str, issue: &mut Issue<'_>) -> Vec<Cooldown> {
    let root = match yaml_to_json(text) {
        Ok(root) => root,
        Err(err) => {
            issue("", format!("could not read pnpm-workspace.yaml: {err}"));
            return Vec::new();
        }
    };
    let mut res = Cooldown::new(Some(Ecosystem::Npm), CooldownSource::PackageManager);
    if let Some(value) = root.get("minimumReleaseAge") {
        match number(value) {
            Some(minutes) => {
                res.min_version_age = Some(SignedDuration::from_secs_f64(minutes * 60.0));
                res.setting = format!("pnpm-workspace.yaml minimumReleaseAge = {value} (minutes)");
            }
            None => issue("minimumReleaseAge", format!("`{value}` is not a number of minutes")),
        }
    }
    res.exempt = strings(root.get("minimumReleaseAgeExclude"));
    vec![res]
}

/// `.yarnrc.yml`: `npmMinimalAgeGate` (a duration like `3d`, or minutes) and `npmPreapprovedPackages`.
fn parse_yarn(text: &str, issue: &mut Issue<'_>) -> Vec<Cooldown> {
    let root = match yaml_to_json(text) {
        Ok(root) => root,
        Err(err) => {
            issue("", format!("could not read .yarnrc.yml: {err}"));
            return Vec::new();
        }
    };
    let mut res = Cooldown::new(Some(Ecosystem::Npm), CooldownSource::PackageManager);
    if let Some(value) = root.get("npmMinimalAgeGate") {
        let parsed = match value {
            Json::String(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .map(|minutes| SignedDuration::from_secs_f64(minutes * 60.0))
                .or_else(|| parse_duration(text)),
            other => number(other).map(|minutes| SignedDuration::from_secs_f64(minutes * 60.0)),
        };
        match parsed {
            Some(duration) => {
                res.min_version_age = Some(duration);
                let shown = value
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{value} (minutes)"));
                res.setting = format!(".yarnrc.yml npmMinimalAgeGate = {shown}");
            }
            None => issue("npmMinimalAgeGate", format!("`{value}` is not a duration")),
        }
    }
    res.exempt = strings(root.get("npmPreapprovedPackages"));
    vec![res]
}

/// `bunfig.toml`: `[install] minimumReleaseAge` (seconds) and `minimumReleaseAgeExcludes`.
fn parse_bun(text: &str, issue: &mut Issue<'_>) -> Vec<Cooldown> {
    let root = match toml_to_json(text) {
        Ok(root) => root,
        Err(err) => {
            issue("", format!("could not read bunfig.toml: {err}"));
            return Vec::new();
        }
    };
    let Some(install) = root.get("install") else {
        return Vec::new();
    };
    let mut res = Cooldown::new(Some(Ecosystem::Npm), CooldownSource::PackageManager);
    if let Some(value) = install.get("minimumReleaseAge") {
        match number(value) {
            Some(seconds) => {
                res.min_version_age = Some(SignedDuration::from_secs_f64(seconds));
                res.setting = format!("bunfig.toml install.minimumReleaseAge = {value} (seconds)");
            }
            None => issue(
                "install.minimumReleaseAge",
                format!("`{value}` is not a number of seconds"),
            ),
        }
    }
    res.exempt = strings(install.get("minimumReleaseAgeExcludes"));
    vec![res]
}

/// An `exclude-newer` value: an absolute cutoff, or a rolling span (a minimum age).
enum ExcludeNewer {
    At(Timestamp),
    Span(SignedDuration),
}

fn exclude_newer_value(text: &str) -> Option<ExcludeNewer> {
    parse_instant(text)
        .map(ExcludeNewer::At)
        .or_else(|| parse_duration(text).map(ExcludeNewer::Span))
}

/// uv: `exclude-newer` and `exclude-newer-package` in `[tool.uv]` of `pyproject.toml` or at the top of `uv.toml`.
fn parse_uv(kind: CooldownFile, text: &str, issue: &mut Issue<'_>) -> Vec<Cooldown> {
    let root = match toml_to_json(text) {
        Ok(root) => root,
        Err(err) => {
            issue("", format!("could not read {}: {err}", kind.label()));
            return Vec::new();
        }
    };
    let (table, prefix) = match kind {
        CooldownFile::Pyproject => (root.get("tool").and_then(|t| t.get("uv")), "pyproject.toml tool.uv."),
        _ => (Some(&root), "uv.toml "),
    };
    let Some(table) = table else {
        return Vec::new();
    };
    let mut res = Cooldown::new(Some(Ecosystem::PyPI), CooldownSource::PackageManager);
    if let Some(value) = table.get("exclude-newer") {
        match value.as_str().and_then(exclude_newer_value) {
            Some(ExcludeNewer::At(ts)) => res.exclude_newer = Some(ts),
            Some(ExcludeNewer::Span(duration)) => res.min_version_age = Some(duration),
            None => issue(
                "exclude-newer",
                format!("`{value}` is not a timestamp, date or duration"),
            ),
        }
        if let Some(text) = value.as_str() {
            res.setting = format!("{prefix}exclude-newer = \"{text}\"");
        }
    }
    if let Some(Json::Object(packages)) = table.get("exclude-newer-package") {
        for (name, value) in packages {
            match value {
                Json::Bool(false) => res.exempt.push(name.clone()),
                Json::String(text) => match exclude_newer_value(text) {
                    Some(ExcludeNewer::At(ts)) => res.exclude_newer_package.push((name.clone(), ts)),
                    // A per-package rolling span is rarer; a cutoff of "now minus span" needs `now`, so
                    // it is kept as the package's own exemption from the global setting plus a note.
                    Some(ExcludeNewer::Span(_)) => issue(
                        &format!("exclude-newer-package.{name}"),
                        "per-package relative spans are not applied yet; the global setting applies".to_string(),
                    ),
                    None => issue(
                        &format!("exclude-newer-package.{name}"),
                        format!("`{text}` is not a timestamp, date or duration"),
                    ),
                },
                other => issue(
                    &format!("exclude-newer-package.{name}"),
                    format!("`{other}` is not a timestamp or false"),
                ),
            }
        }
    }
    vec![res]
}

/// `.cargo/config.toml`: `[registry] global-min-publish-age` (a duration such as `"3 days"`).
fn parse_cargo(text: &str, issue: &mut Issue<'_>) -> Vec<Cooldown> {
    let root = match toml_to_json(text) {
        Ok(root) => root,
        Err(err) => {
            issue("", format!("could not read .cargo/config.toml: {err}"));
            return Vec::new();
        }
    };
    let Some(value) = root.get("registry").and_then(|r| r.get("global-min-publish-age")) else {
        return Vec::new();
    };
    let mut res = Cooldown::new(Some(Ecosystem::CratesIo), CooldownSource::PackageManager);
    match value.as_str().and_then(parse_duration) {
        Some(duration) => {
            res.min_version_age = Some(duration);
            res.setting = format!(".cargo/config.toml registry.global-min-publish-age = {value}");
        }
        None => issue(
            "registry.global-min-publish-age",
            format!("`{value}` is not a duration (try \"3 days\")"),
        ),
    }
    vec![res]
}

/// Renovate: top-level `minimumReleaseAge` (`"3 days"`) or the older `stabilityDays`; JSON only.
fn parse_renovate(text: &str, issue: &mut Issue<'_>) -> Vec<Cooldown> {
    let root: Json = match serde_json::from_str(text) {
        Ok(root) => root,
        Err(err) => {
            issue("", format!("could not read the renovate config: {err}"));
            return Vec::new();
        }
    };
    let mut res = Cooldown::new(None, CooldownSource::UpdateBot);
    if let Some(value) = root.get("minimumReleaseAge") {
        match value.as_str().and_then(parse_duration) {
            Some(duration) => {
                res.min_version_age = Some(duration);
                res.setting = format!("renovate minimumReleaseAge = {value}");
            }
            None => issue("minimumReleaseAge", format!("`{value}` is not a duration")),
        }
    } else if let Some(value) = root.get("stabilityDays") {
        match number(value) {
            Some(n) => {
                res.min_version_age = Some(days(n));
                res.setting = format!("renovate stabilityDays = {value}");
            }
            None => issue("stabilityDays", format!("`{value}` is not a number of days")),
        }
    }
    vec![res]
}

/// Dependabot: `updates[].cooldown` per `package-ecosystem`.
fn parse_dependabot(text: &str, issue: &mut Issue<'_>) -> Vec<Cooldown> {
    let root = match yaml_to_json(text) {
        Ok(root) => root,
        Err(err) => {
            issue("", format!("could not read .github/dependabot.yml: {err}"));
            return Vec::new();
        }
    };
    let mut res = Vec::new();
    let Some(Json::Array(updates)) = root.get("updates") else {
        return res;
    };
    for update in updates {
        let Some(cooldown) = update.get("cooldown") else {
            continue;
        };
        let manager = update.get("package-ecosystem").and_then(Json::as_str).unwrap_or("");
        let ecosystem = match manager {
            "npm" | "bun" => Ecosystem::Npm,
            "cargo" => Ecosystem::CratesIo,
            "pip" | "uv" | "poetry" | "pipenv" => Ecosystem::PyPI,
            _ => continue,
        };
        let mut entry = Cooldown::new(Some(ecosystem), CooldownSource::UpdateBot);
        let mut parts = Vec::new();
        for key in [
            "default-days",
            "semver-major-days",
            "semver-minor-days",
            "semver-patch-days",
        ] {
            if let Some(value) = cooldown.get(key) {
                match number(value) {
                    Some(n) => {
                        parts.push(format!("{key} = {value}"));
                        if key == "default-days" {
                            entry.min_version_age = Some(days(n));
                        }
                    }
                    None => issue(&format!("cooldown.{key}"), format!("`{value}` is not a number of days")),
                }
            }
        }
        if entry.min_version_age.is_none() {
            // No default: the shortest semver-specific wait is the one every update gets at least.
            entry.min_version_age = ["semver-patch-days", "semver-minor-days", "semver-major-days"]
                .iter()
                .filter_map(|key| cooldown.get(*key).and_then(number))
                .reduce(f64::min)
                .map(days);
        }
        entry.exempt = strings(cooldown.get("exclude"));
        entry.setting = format!(".github/dependabot.yml {manager} cooldown {}", parts.join(", "));
        res.push(entry);
    }
    res
}

/// Reads every cooldown file the caller found and combines them with the configured thresholds: the
/// one call `project` needs. `files` are (kind, text) pairs, at most one per path of `FILES` (the
/// nearest to the manifest when several folders have one).
pub fn thresholds_from_files(
    ecosystem: Ecosystem,
    configured: &AgeThresholds,
    files: &[(CooldownFile, &str)],
) -> (AgeThresholds, Vec<CooldownIssue>) {
    let mut cooldowns = Vec::new();
    let mut issues = Vec::new();
    for (kind, text) in files {
        let (found, found_issues) = parse(*kind, text);
        cooldowns.extend(found);
        issues.extend(found_issues);
    }
    (thresholds(ecosystem, configured, &cooldowns), issues)
}

/// The age thresholds for one ecosystem: Gatehouse's configured thresholds combined with the project's
/// cooldowns (precedence in the module doc).
pub fn thresholds(ecosystem: Ecosystem, configured: &AgeThresholds, cooldowns: &[Cooldown]) -> AgeThresholds {
    let applicable: Vec<&Cooldown> = cooldowns
        .iter()
        .filter(|c| c.ecosystem.is_none_or(|e| e == ecosystem))
        .collect();
    let strictest = |source: CooldownSource| {
        applicable
            .iter()
            .filter(|c| c.source == source)
            .filter_map(|c| c.min_version_age.map(|age| (age, c.setting.clone())))
            .max_by_key(|(age, _)| *age)
    };
    let installer = strictest(CooldownSource::PackageManager);
    let bot = strictest(CooldownSource::UpdateBot);
    let explicit = configured.decided_by != DEFAULT_DECIDED_BY;
    let mut res = configured.clone();
    let base = if explicit {
        (configured.min_version_age, configured.decided_by.clone())
    } else if let Some(found) = installer.clone().or(bot) {
        found
    } else {
        (configured.min_version_age, configured.decided_by.clone())
    };
    let (age, decided_by) = match installer.clone() {
        Some((installer_age, setting)) if installer_age > base.0 => (installer_age, setting),
        _ => base,
    };
    res.min_version_age = age;
    res.decided_by = decided_by;
    res.installer_min_age = installer.map(|(age, _)| age);
    for cooldown in applicable.iter().filter(|c| c.source == CooldownSource::PackageManager) {
        if let Some(cutoff) = cooldown.exclude_newer {
            // Two cutoffs: the earlier refuses more, and the installer applies both.
            res.exclude_newer = Some(res.exclude_newer.map_or(cutoff, |have| have.min(cutoff)));
            if res.decided_by == configured.decided_by && !explicit && cooldown.min_version_age.is_none() {
                res.decided_by = cooldown.setting.clone();
            }
        }
        res.exclude_newer_package
            .extend(cooldown.exclude_newer_package.iter().cloned());
    }
    for cooldown in &applicable {
        for name in &cooldown.exempt {
            if !res.exempt.contains(name) {
                res.exempt.push(name.clone());
            }
        }
    }
    res
}

#[cfg(test)]
mod tests;
