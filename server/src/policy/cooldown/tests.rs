use super::*;

fn one(kind: CooldownFile, text: &str) -> Cooldown {
    let (mut found, issues) = parse(kind, text);
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

#[test]
fn durations_in_the_tools_own_words() {
    assert_eq!(parse_duration("3 days"), Some(SignedDuration::from_hours(72)));
    assert_eq!(parse_duration("1 week"), Some(SignedDuration::from_hours(168)));
    assert_eq!(parse_duration("P7D"), Some(SignedDuration::from_hours(168)));
    assert_eq!(parse_duration("3d"), Some(SignedDuration::from_hours(72)));
    assert_eq!(parse_duration("12h"), Some(SignedDuration::from_hours(12)));
    assert_eq!(parse_duration("soon"), None);
}

#[test]
fn npmrc_days_and_before() {
    let found = one(
        CooldownFile::Npmrc,
        "; comment\nregistry=https://registry.npmjs.org/\nmin-release-age=3\nbefore=2026-11-01\n",
    );
    assert_eq!(found.min_version_age, Some(SignedDuration::from_hours(72)));
    assert_eq!(found.exclude_newer, Some(ts("2026-11-01T00:00:00Z")));
    assert_eq!(
        found.setting,
        ".npmrc min-release-age = 3 (days), .npmrc before = 2026-11-01"
    );
    let (_, issues) = parse(CooldownFile::Npmrc, "min-release-age=three\n");
    assert_eq!(issues.len(), 1);
}

#[test]
fn pnpm_minutes_and_excludes() {
    let found = one(
        CooldownFile::PnpmWorkspace,
        "packages:\n  - 'packages/*'\nminimumReleaseAge: 1440\nminimumReleaseAgeExclude:\n  - webpack\n  - '@myorg/*'\n",
    );
    assert_eq!(found.min_version_age, Some(SignedDuration::from_hours(24)));
    assert_eq!(found.exempt, vec!["webpack", "@myorg/*"]);
    assert_eq!(found.setting, "pnpm-workspace.yaml minimumReleaseAge = 1440 (minutes)");
    assert_eq!(found.source, CooldownSource::PackageManager);
}

#[test]
fn yarn_duration_or_minutes() {
    let found = one(
        CooldownFile::Yarnrc,
        "nodeLinker: node-modules\nnpmMinimalAgeGate: 3d\nnpmPreapprovedPackages:\n  - typescript\n",
    );
    assert_eq!(found.min_version_age, Some(SignedDuration::from_hours(72)));
    assert_eq!(found.exempt, vec!["typescript"]);
    let minutes = one(CooldownFile::Yarnrc, "npmMinimalAgeGate: 2880\n");
    assert_eq!(minutes.min_version_age, Some(SignedDuration::from_hours(48)));
    assert_eq!(minutes.setting, ".yarnrc.yml npmMinimalAgeGate = 2880 (minutes)");
}

#[test]
fn bun_seconds() {
    let found = one(
        CooldownFile::Bunfig,
        "[install]\nminimumReleaseAge = 259200\nminimumReleaseAgeExcludes = [\"@types/node\"]\n",
    );
    assert_eq!(found.min_version_age, Some(SignedDuration::from_hours(72)));
    assert_eq!(found.exempt, vec!["@types/node"]);
}

#[test]
fn uv_dates_spans_and_packages() {
    let found = one(
        CooldownFile::Pyproject,
        "[project]\nname = \"x\"\n[tool.uv]\nexclude-newer = \"2026-11-20T00:00:00Z\"\n[tool.uv.exclude-newer-package]\nrequests = \"2026-11-28\"\nmy-lib = false\n",
    );
    assert_eq!(found.exclude_newer, Some(ts("2026-11-20T00:00:00Z")));
    assert_eq!(
        found.exclude_newer_package,
        vec![("requests".to_string(), ts("2026-11-28T00:00:00Z"))]
    );
    assert_eq!(found.exempt, vec!["my-lib"]);
    let span = one(CooldownFile::UvToml, "exclude-newer = \"P3D\"\n");
    assert_eq!(span.min_version_age, Some(SignedDuration::from_hours(72)));
    assert_eq!(span.setting, "uv.toml exclude-newer = \"P3D\"");
    let (none, issues) = parse(CooldownFile::Pyproject, "[project]\nname = \"x\"\n");
    assert!(none.is_empty() && issues.is_empty());
}

#[test]
fn cargo_registry_age() {
    let found = one(
        CooldownFile::CargoConfig,
        "[registry]\nglobal-min-publish-age = \"2 days\"\n",
    );
    assert_eq!(found.min_version_age, Some(SignedDuration::from_hours(48)));
    assert_eq!(found.ecosystem, Some(Ecosystem::CratesIo));
}

#[test]
fn renovate_and_dependabot() {
    let renovate = one(
        CooldownFile::Renovate,
        r#"{"extends": ["config:recommended"], "minimumReleaseAge": "3 days"}"#,
    );
    assert_eq!(renovate.min_version_age, Some(SignedDuration::from_hours(72)));
    assert_eq!(renovate.ecosystem, None);
    assert_eq!(renovate.source, CooldownSource::UpdateBot);
    let (found, issues) = parse(
        CooldownFile::Dependabot,
        "version: 2\nupdates:\n  - package-ecosystem: npm\n    directory: /\n    cooldown:\n      default-days: 5\n      semver-major-days: 30\n      exclude: [\"lodash\"]\n  - package-ecosystem: github-actions\n    directory: /\n    cooldown:\n      default-days: 9\n  - package-ecosystem: cargo\n    directory: /\n    cooldown:\n      semver-patch-days: 2\n      semver-minor-days: 4\n",
    );
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].min_version_age, Some(SignedDuration::from_hours(120)));
    assert_eq!(found[0].exempt, vec!["lodash"]);
    assert_eq!(
        found[0].setting,
        ".github/dependabot.yml npm cooldown default-days = 5, semver-major-days = 30"
    );
    assert_eq!(found[1].ecosystem, Some(Ecosystem::CratesIo));
    assert_eq!(found[1].min_version_age, Some(SignedDuration::from_hours(48)));
}

#[test]
fn broken_files_are_issues_not_errors() {
    for kind in [
        CooldownFile::PnpmWorkspace,
        CooldownFile::Dependabot,
        CooldownFile::Yarnrc,
    ] {
        let (found, issues) = parse(kind, "key: [unclosed\n");
        assert!(found.is_empty());
        assert_eq!(issues.len(), 1, "{kind:?}");
    }
    let (_, issues) = parse(CooldownFile::Renovate, "{ // json5\n}");
    assert_eq!(issues.len(), 1);
}

#[test]
fn precedence() {
    let pnpm = one(CooldownFile::PnpmWorkspace, "minimumReleaseAge: 1440\n");
    let renovate = one(CooldownFile::Renovate, r#"{"minimumReleaseAge": "5 days"}"#);
    let default = AgeThresholds::default();
    // The package manager's setting beats the bot and the default.
    let got = thresholds(Ecosystem::Npm, &default, &[renovate.clone(), pnpm.clone()]);
    assert_eq!(got.min_version_age, SignedDuration::from_hours(24));
    assert_eq!(got.decided_by, "pnpm-workspace.yaml minimumReleaseAge = 1440 (minutes)");
    assert_eq!(got.installer_min_age, Some(SignedDuration::from_hours(24)));
    // The bot beats the default.
    let got = thresholds(Ecosystem::Npm, &default, std::slice::from_ref(&renovate));
    assert_eq!(got.min_version_age, SignedDuration::from_hours(120));
    assert_eq!(got.installer_min_age, None);
    // Other ecosystems are untouched by an npm setting.
    let got = thresholds(Ecosystem::PyPI, &default, std::slice::from_ref(&pnpm));
    assert_eq!(got, default);
    // An explicit gatehouse.toml value: the stricter of it and the installer's.
    let explicit = AgeThresholds {
        min_version_age: SignedDuration::from_hours(12),
        decided_by: "policy.min-version-age = 12h (gatehouse.toml)".into(),
        ..AgeThresholds::default()
    };
    let got = thresholds(Ecosystem::Npm, &explicit, &[pnpm.clone(), renovate.clone()]);
    assert_eq!(got.min_version_age, SignedDuration::from_hours(24));
    let strict = AgeThresholds {
        min_version_age: SignedDuration::from_hours(200),
        ..explicit
    };
    let got = thresholds(Ecosystem::Npm, &strict, &[pnpm, renovate]);
    assert_eq!(got.min_version_age, SignedDuration::from_hours(200));
    assert_eq!(got.installer_min_age, Some(SignedDuration::from_hours(24)));
}

#[test]
fn uv_cutoff_is_kept() {
    let uv = one(CooldownFile::UvToml, "exclude-newer = \"2026-11-20T00:00:00Z\"\n");
    let got = thresholds(Ecosystem::PyPI, &AgeThresholds::default(), &[uv]);
    assert_eq!(got.exclude_newer, Some(ts("2026-11-20T00:00:00Z")));
    assert_eq!(got.decided_by, "uv.toml exclude-newer = \"2026-11-20T00:00:00Z\"");
    assert_eq!(got.min_version_age, SignedDuration::from_hours(72));
}

#[test]
fn nearest_file_wins() {
    let dirs = vec![PathBuf::from("/repo/web"), PathBuf::from("/repo")];
    let present = ["/repo/web/.npmrc", "/repo/.npmrc", "/repo/.github/dependabot.yml"];
    let found = find_files(&dirs, |p| present.iter().any(|x| Path::new(x) == p));
    assert_eq!(
        found,
        vec![
            (PathBuf::from("/repo/web/.npmrc"), CooldownFile::Npmrc),
            (PathBuf::from("/repo/.github/dependabot.yml"), CooldownFile::Dependabot),
        ]
    );
}

#[test]
fn detects_files() {
    assert_eq!(
        CooldownFile::detect(".github/dependabot.yml"),
        Some(CooldownFile::Dependabot)
    );
    assert_eq!(
        CooldownFile::detect("repo/.cargo/config.toml"),
        Some(CooldownFile::CargoConfig)
    );
    assert_eq!(CooldownFile::detect("package.json"), None);
}
