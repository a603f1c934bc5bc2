//! Fixture cases: every `fixtures/cases/<ecosystem>/<case>/` directory is parsed, evaluated and
//! snapshotted as the source lines with carets under each finding, plus the fix.
//!
//! A case holds the manifest (+ lockfile), `facts.json` (see `fixtures/cases/make_facts.py` for the
//! shape), `now.txt`, an optional `gatehouse.toml` and any cooldown file of `policy::cooldown::FILES`.
//! OSV records named in `facts.json` are read with the real OSV reader (`lookup::advisories::osv_record::parse_record`,
//! used here in tests only) and kept only when published before `now`, as the database looked then.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde_json::Value;

use crate::checks::age;
use crate::config::{self, Layer};
use crate::engine::{self, Analysis, Input, RegistryRules};
use crate::fix::Fix;
use crate::manifest::{self, ManifestKind};
use crate::model::{Advisory, Ecosystem, Fact, Facts, Note, PackageFacts, PackageRef, VersionFacts};
use crate::policy::{Policy, cooldown};

const MANIFESTS: [&str; 4] = ["package.json", "Cargo.toml", "pyproject.toml", "requirements.txt"];

struct Case {
    kind: ManifestKind,
    text: String,
    lockfile: Option<manifest::Lockfile>,
    facts: Facts,
    policy: Policy,
    now: Timestamp,
    cooldown_issues: Vec<String>,
}

/// Deserializes `value` over the serialized default of `T`, so fixtures name only what they need.
fn with_defaults<T: Default + serde::Serialize + serde::de::DeserializeOwned>(value: &Value) -> T {
    let mut base = serde_json::to_value(T::default()).unwrap();
    if let (Value::Object(base_map), Value::Object(given)) = (&mut base, value) {
        for (key, item) in given {
            base_map.insert(key.clone(), item.clone());
        }
    }
    serde_json::from_value(base).unwrap_or_else(|err| panic!("bad fixture value {value}: {err}"))
}

fn package_ref(key: &str) -> PackageRef {
    let (ecosystem, name) = key.split_once(':').unwrap();
    PackageRef::new(Ecosystem::from_osv_name(ecosystem).unwrap(), name)
}

fn known<T>(value: T, as_of: Timestamp) -> Fact<T> {
    Fact::Known {
        value,
        as_of,
        stale: false,
    }
}

fn load_facts(dir: &Path, now: Timestamp) -> Facts {
    let json: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("facts.json")).unwrap()).unwrap();
    let mut facts = Facts::default();
    let mut advisories: HashMap<PackageRef, Vec<Advisory>> = HashMap::new();
    if let Some(Value::Object(packages)) = json.get("packages") {
        for (key, value) in packages {
            let versions = value
                .get("versions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut without_versions = value.clone();
            without_versions["versions"] = Value::Array(Vec::new());
            let mut package: PackageFacts = with_defaults(&without_versions);
            package.versions = versions.iter().map(with_defaults::<VersionFacts>).collect();
            let package_ref = package_ref(key);
            advisories.entry(package_ref.clone()).or_default();
            facts
                .packages
                .insert(package_ref, known(std::sync::Arc::new(package), now));
        }
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/osv");
    for path in json.get("osv").and_then(Value::as_array).into_iter().flatten() {
        let bytes = std::fs::read(fixtures.join(path.as_str().unwrap())).unwrap();
        let advisory = crate::lookup::advisories::osv_record::parse_record(&bytes).unwrap();
        if advisory.published.is_some_and(|published| published > now) {
            continue;
        }
        for affected in &advisory.affected {
            if let Some(package) = &affected.package
                && let Some(list) = advisories.get_mut(package)
                && !list.iter().any(|a| a.id == advisory.id)
            {
                list.push(advisory.clone());
            }
        }
    }
    for (package, list) in advisories {
        facts.advisories.insert(package, known(list, now));
    }
    if let Some(Value::Object(unavailable)) = json.get("unavailable") {
        for (key, why) in unavailable {
            let note = Note {
                source: "fixture".to_string(),
                message: why.as_str().unwrap_or_default().to_string(),
            };
            facts.packages.insert(package_ref(key), Fact::Unavailable(note.clone()));
            facts.advisories.insert(package_ref(key), Fact::Unavailable(note));
        }
    }
    facts
}

impl Case {
    fn load(dir: &Path) -> Case {
        let manifest_path: PathBuf = MANIFESTS
            .iter()
            .map(|name| dir.join(name))
            .find(|path| path.is_file())
            .unwrap_or_else(|| panic!("no manifest in {}", dir.display()));
        let kind = ManifestKind::detect(&manifest_path, false).unwrap();
        let text = std::fs::read_to_string(&manifest_path).unwrap();
        let lockfile = kind.lockfile_names().iter().find_map(|name| {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).ok()?;
            manifest::parse_lockfile(ManifestKind::detect(&path, false)?, &text)
        });
        let now: Timestamp = std::fs::read_to_string(dir.join("now.txt"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let facts = load_facts(dir, now);
        let config_path = dir.join("gatehouse.toml");
        let mut layers = Vec::new();
        if let Ok(text) = std::fs::read_to_string(&config_path) {
            // A relative name keeps the checkout's location out of `decided_by` and the snapshots.
            let (layer, issues) = Layer::from_toml(Path::new("gatehouse.toml"), &text);
            assert!(issues.is_empty(), "{issues:?}");
            layers.push(layer);
        }
        let mut policy = config::build(&layers).policy;
        let mut cooldowns = Vec::new();
        let mut cooldown_issues = Vec::new();
        for (relative, file_kind) in cooldown::FILES {
            let Ok(text) = std::fs::read_to_string(dir.join(relative)) else {
                continue;
            };
            let (found, issues) = cooldown::parse(*file_kind, &text);
            cooldowns.extend(found);
            cooldown_issues.extend(
                issues
                    .into_iter()
                    .map(|i| format!("{} {}: {}", i.file, i.key, i.message)),
            );
        }
        policy.age = cooldown::thresholds(kind.ecosystem(), &policy.age, &cooldowns);
        Case {
            kind,
            text,
            lockfile,
            facts,
            policy,
            now,
            cooldown_issues,
        }
    }

    fn evaluate(&self) -> Analysis {
        let parsed = manifest::parse(self.kind, &self.text);
        let registries = RegistryRules::default();
        let input = Input {
            manifest: &parsed,
            lockfile: self.lockfile.as_ref(),
            workspace: None,
            registries: &registries,
            constraints: Default::default(),
        };
        engine::evaluate(&input, &self.facts, &self.policy, self.now)
    }
}

fn describe_fix(fix: &Fix) -> String {
    match fix {
        Fix::Update {
            version,
            requirement,
            lockfile_command,
        } => {
            let then = lockfile_command
                .as_ref()
                .map(|cmd| format!(", then `{cmd}`"))
                .unwrap_or_default();
            format!("fix: \"{requirement}\" installs {version}{then}")
        }
        Fix::Remove { reason } => format!("fix: remove the dependency ({reason})"),
        Fix::NoSafeVersion { reason } => format!("no fix: {reason}"),
        Fix::Override {
            package,
            version,
            instruction,
            command,
            ..
        } => format!("fix: pin {package} to {version}: {instruction}, then `{command}`"),
        Fix::UpgradeDirect {
            direct,
            requirement,
            reason,
            command,
            ..
        } => format!("fix: update {direct} to \"{requirement}\" ({reason}), then `{command}`"),
    }
}

/// The source lines that carry findings or fixes, with carets under each finding's span.
fn render(case: &Case, analysis: &Analysis) -> String {
    let text = &case.text;
    let mut out = String::new();
    let age = &case.policy.age;
    out.push_str(&format!(
        "now {}; min-version-age {} by {}",
        case.now,
        age::describe(age.min_version_age),
        age.decided_by
    ));
    if let Some(installer) = age.installer_min_age {
        out.push_str(&format!("; installer refuses under {}", age::describe(installer)));
    }
    if let Some(cutoff) = age.exclude_newer {
        out.push_str(&format!("; installer refuses after {cutoff}"));
    }
    if !age.exempt.is_empty() {
        out.push_str(&format!("; exempt {:?}", age.exempt));
    }
    out.push('\n');
    for issue in &case.cooldown_issues {
        out.push_str(&format!("cooldown issue: {issue}\n"));
    }
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count();
    let mut rows: Vec<(usize, usize, String)> = Vec::new();
    for finding in &analysis.findings {
        rows.push((
            finding.span.start,
            finding.span.end,
            format!("{} {}: {}", finding.severity, finding.id, finding.message),
        ));
    }
    for (finding, by) in &analysis.suppressed {
        rows.push((
            finding.span.start,
            finding.span.end,
            format!("suppressed by {}: {} {}", by.describe(), finding.id, finding.message),
        ));
    }
    for dep in &analysis.deps {
        if let Some(fix) = &dep.fix {
            rows.push((dep.dep.span.start, dep.dep.span.start, describe_fix(fix)));
        }
    }
    rows.sort_by_key(|(start, _, _)| *start);
    let lines: Vec<&str> = text.lines().collect();
    let mut last_line = None;
    for (start, end, message) in rows {
        let line = line_of(start);
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let gutter = format!("{:>3}", line + 1);
        if last_line != Some(line) {
            out.push_str(&format!("{gutter} | {}\n", lines.get(line).copied().unwrap_or("")));
            last_line = Some(line);
        }
        let pad: String = text[line_start..start]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let width = text[start..end.min(text.len())]
            .chars()
            .take_while(|c| *c != '\n')
            .count();
        let marks = if width == 0 {
            String::new()
        } else {
            format!("{} ", "^".repeat(width))
        };
        out.push_str(&format!("    | {pad}{marks}{message}\n"));
    }
    for dep in analysis.deps.iter().filter(|d| !d.is_transitive()) {
        out.push_str(&format!(
            "checks {} {} ({})\n",
            dep.dep.package.name,
            dep.dep.resolved.version.as_deref().unwrap_or("?"),
            dep.dep.resolved.source.as_str()
        ));
    }
    for dep in &analysis.deps {
        if dep.status != engine::Status::Checked {
            out.push_str(&format!("status {}: {:?}\n", dep.dep.package.name, dep.status));
        }
    }
    for issue in &analysis.policy_issues {
        out.push_str(&format!("policy: {} {}\n", issue.severity, issue.message));
    }
    out
}

#[test]
fn cases() {
    insta::glob!("../../../fixtures/cases", "*/*/now.txt", |path| {
        let case = Case::load(path.parent().unwrap());
        let analysis = case.evaluate();
        insta::assert_snapshot!(render(&case, &analysis));
    });
}

/// A fresh version that adds dependencies makes `needs` ask for those packages (whether they are new
/// or missing weighs in the signals), from the registry the project uses for them; an old version, or
/// one whose added packages are already known, asks nothing more.
#[test]
fn needs_asks_for_the_packages_a_fresh_version_added() {
    let now: Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
    let package = |published: &str| {
        let version = |v: &str, at: &str, deps: &[&str]| VersionFacts {
            version: v.into(),
            published: Some(at.parse().unwrap()).into(),
            detail: crate::model::VersionDetail {
                meta: crate::model::VersionMeta {
                    dependencies: Some(
                        deps.iter()
                            .map(|name| crate::model::DeclaredDep {
                                name: (*name).into(),
                                req: "^1".into(),
                                ..Default::default()
                            })
                            .collect(),
                    ),
                    ..Default::default()
                },
                ..Default::default()
            }
            .into(),
            ..VersionFacts::default()
        };
        PackageFacts {
            versions: vec![
                version("1.0.0", "2025-01-01T00:00:00Z", &["a"]),
                version("1.0.1", published, &["a", "@evil/helper", "fresh-dep"]),
            ],
            ..PackageFacts::default()
        }
    };
    let parsed = manifest::parse(ManifestKind::PackageJson, r#"{"dependencies": {"pkg": "1.0.1"}}"#);
    let registries = RegistryRules {
        npm_scopes: vec![("@evil".to_string(), "https://npm.example.internal".to_string())],
        ..RegistryRules::default()
    };
    let input = manifest_only(&parsed, &registries);
    let asked = |facts: &Facts| -> Vec<(String, crate::model::RegistrySource)> {
        engine::needs(&input, facts)
            .into_iter()
            .filter_map(|q| match q {
                crate::model::Query::Package { package, source } if package.name != "pkg" => {
                    Some((package.name, source))
                }
                _ => None,
            })
            .collect()
    };
    let mut facts = Facts::default();
    facts.packages.insert(
        package_ref("npm:pkg"),
        known(std::sync::Arc::new(package("2026-12-01T09:00:00Z")), now),
    );
    let wanted = asked(&facts);
    assert!(
        wanted.contains(&("fresh-dep".to_string(), crate::model::RegistrySource::Public)),
        "{wanted:?}"
    );
    assert!(
        wanted.contains(&(
            "@evil/helper".to_string(),
            crate::model::RegistrySource::Private {
                url: "https://npm.example.internal".to_string()
            }
        )),
        "a scoped package is asked of its scope's registry only: {wanted:?}"
    );
    assert!(!wanted.iter().any(|(name, _)| name == "a"), "{wanted:?}");
    // Known already: not asked again.
    facts.packages.insert(
        package_ref("npm:fresh-dep"),
        known(std::sync::Arc::new(PackageFacts::default()), now),
    );
    assert!(!asked(&facts).iter().any(|(name, _)| name == "fresh-dep"));
    // What the evaluation reads, held or not: everything `needs` asked for with nothing but the
    // package held, including what is held now (a server keeps these for the open document).
    let read: Vec<String> = engine::uses(&input, &facts)
        .into_iter()
        .filter_map(|q| match q {
            crate::model::Query::Package { package, .. } => Some(package.name),
            _ => None,
        })
        .collect();
    assert_eq!(read, ["pkg", "@evil/helper", "fresh-dep"], "{read:?}");
    // An old version costs no request.
    let mut old = Facts::default();
    old.packages.insert(
        package_ref("npm:pkg"),
        known(std::sync::Arc::new(package("2026-01-01T00:00:00Z")), now),
    );
    assert!(asked(&old).is_empty(), "{:?}", asked(&old));
}

/// A default registry only the untrusted project names is set aside for each ecosystem: the user's own
/// default (or the public registry) answers instead, a local `cargo vendor` directory and a registry
/// the user named too stay, and a package the user's registry cannot answer for is unavailable with
/// the file, the URL and how to trust the project.
#[test]
fn a_default_registry_only_the_untrusted_project_names_is_set_aside() {
    use crate::engine::{CheckState, Status, UserDefaults};
    let evil = "https://mirror.evil.example/npm".to_string();
    let named = |url: &str, file: &str| (url.to_string(), file.to_string());
    let mut rules = RegistryRules {
        npm_default: Some(evil.clone()),
        cargo_replacement: Some("sparse+https://crates.evil.example/index".to_string()),
        pypi_index: Some("https://pypi.evil.example/simple".to_string()),
        project_named: vec![
            named(&evil, "/repo/.npmrc"),
            named("sparse+https://crates.evil.example/index", "/repo/.cargo/config.toml"),
            named("https://pypi.evil.example/simple", "/repo/requirements.txt"),
        ],
        ..RegistryRules::default()
    };
    let own = UserDefaults {
        pypi_index: Some("https://devpi.corp.example/simple".to_string()),
        ..UserDefaults::default()
    };
    rules.set_aside_project_mirrors(&own, "to trust it, run `gatehouse trust /repo`");
    let lodash = PackageRef::new(Ecosystem::Npm, "lodash");
    assert_eq!(rules.source_for(&lodash, None), crate::model::RegistrySource::Public);
    assert_eq!(rules.cargo_replacement, None);
    assert_eq!(rules.pypi_index.as_deref(), Some("https://devpi.corp.example/simple"));
    let aside: Vec<(Ecosystem, &str)> = rules.set_aside.iter().map(|s| (s.ecosystem, s.url.as_str())).collect();
    assert_eq!(
        aside,
        [
            (Ecosystem::Npm, evil.as_str()),
            (Ecosystem::CratesIo, "sparse+https://crates.evil.example/index"),
            (Ecosystem::PyPI, "https://pypi.evil.example/simple"),
        ]
    );
    // Kept: a vendored directory, a registry the user's own settings name as well.
    let mut kept = RegistryRules {
        npm_default: Some(evil.clone()),
        cargo_replacement: Some("file://vendor".to_string()),
        project_named: vec![named("file://vendor", "/repo/.cargo/config.toml")],
        ..RegistryRules::default()
    };
    kept.set_aside_project_mirrors(&UserDefaults::default(), "");
    assert_eq!(kept.npm_default.as_deref(), Some(evil.as_str()));
    assert_eq!(kept.cargo_replacement.as_deref(), Some("file://vendor"));
    assert!(kept.set_aside.is_empty());

    // The public registry does not have the package: unavailable, saying who named which registry.
    let now = Timestamp::from_second(1_700_000_000).unwrap();
    let parsed = manifest::parse(
        ManifestKind::PackageJson,
        "{\"dependencies\": {\"corp-only\": \"1.0.0\"}}",
    );
    let mut facts = Facts::default();
    facts.packages.insert(
        PackageRef::new(Ecosystem::Npm, "corp-only"),
        Fact::Unavailable(Note {
            source: "registry".into(),
            message: "`corp-only` was not found".into(),
        }),
    );
    facts
        .advisories
        .insert(PackageRef::new(Ecosystem::Npm, "corp-only"), known(Vec::new(), now));
    let input = Input {
        manifest: &parsed,
        lockfile: None,
        workspace: None,
        registries: &rules,
        constraints: Default::default(),
    };
    let analysis = engine::evaluate(&input, &facts, &Policy::default(), now);
    let corp = &analysis.deps[0];
    assert!(matches!(corp.status, Status::Unavailable(_)), "{:?}", corp.status);
    let CheckState::Unavailable(reason) = &corp.checks.age else {
        panic!("{:?}", corp.checks.age);
    };
    assert!(
        reason.contains("was not found")
            && reason.contains("/repo/.npmrc")
            && reason.contains(&evil)
            && reason.contains("gatehouse trust"),
        "{reason}"
    );
    // Without a set-aside registry the reason is the registry's alone.
    let plain = RegistryRules::default();
    let input = Input {
        registries: &plain,
        ..input
    };
    let analysis = engine::evaluate(&input, &facts, &Policy::default(), now);
    assert_eq!(
        analysis.deps[0].checks.age,
        CheckState::Unavailable("`corp-only` was not found".into())
    );
}

/// Which names may leave the machine behind registries: scoped and named registries stay private,
/// a default-registry mirror asks local OSV copies only unless `mirror-is-public` or `private-packages`
/// says a name is public.
#[test]
fn mirror_names_reach_osv_only_with_permission() {
    use crate::engine::{Privacy, RegistryRules};
    use crate::model::{Ecosystem, PackageRef, RegistrySource};
    let mirror = "https://artifactory.corp/npm/".to_string();
    let mut rules = RegistryRules {
        npm_default: Some(mirror.clone()),
        npm_scopes: vec![("@secret".to_string(), "https://npm.secret.corp/".to_string())],
        cargo_registries: vec![("corp".to_string(), "https://crates.corp/index".to_string())],
        cargo_replacement: Some("https://crates-mirror.corp/index".to_string()),
        pypi_index: Some("https://devpi.corp/root/pypi/+simple/".to_string()),
        ..RegistryRules::default()
    };
    let privacy = |rules: &RegistryRules, ecosystem, name: &str, registry: Option<&str>| {
        let package = PackageRef::new(ecosystem, name);
        let source = rules.source_for(&package, registry);
        rules.privacy(&package, registry, &source)
    };
    assert_eq!(privacy(&rules, Ecosystem::Npm, "lodash", None), Privacy::MirrorLocal);
    assert_eq!(privacy(&rules, Ecosystem::Npm, "@secret/x", None), Privacy::Private);
    assert_eq!(
        privacy(&rules, Ecosystem::CratesIo, "serde", None),
        Privacy::MirrorLocal
    );
    assert_eq!(
        privacy(&rules, Ecosystem::CratesIo, "inner", Some("corp")),
        Privacy::Private
    );
    assert_eq!(privacy(&rules, Ecosystem::PyPI, "requests", None), Privacy::MirrorLocal);
    assert_eq!(privacy(&rules, Ecosystem::PyPI, "x", Some("named")), Privacy::Private);

    rules.private_packages = vec!["npm:@corp/*".to_string(), "PyPI:corp-*".to_string()];
    assert_eq!(privacy(&rules, Ecosystem::Npm, "lodash", None), Privacy::MirrorPublic);
    assert_eq!(privacy(&rules, Ecosystem::Npm, "@corp/ui", None), Privacy::MirrorLocal);
    assert_eq!(
        privacy(&rules, Ecosystem::PyPI, "Corp_Tools", None),
        Privacy::MirrorLocal
    );
    assert_eq!(
        privacy(&rules, Ecosystem::PyPI, "requests", None),
        Privacy::MirrorPublic
    );
    assert_eq!(privacy(&rules, Ecosystem::Npm, "@secret/x", None), Privacy::Private);

    rules.private_packages.clear();
    rules.mirror_is_public = true;
    assert_eq!(privacy(&rules, Ecosystem::Npm, "lodash", None), Privacy::MirrorPublic);
    assert_eq!(privacy(&rules, Ecosystem::Npm, "@secret/x", None), Privacy::Private);
    assert_eq!(
        rules.source_for(&PackageRef::new(Ecosystem::Npm, "lodash"), None),
        RegistrySource::Private { url: mirror }
    );
}

/// `webpki = { package = "rustls-webpki", … }` in `[workspace.dependencies]`, inherited as
/// `webpki = { workspace = true }`, is the crate `rustls-webpki`; `webpki` is another crate.
#[test]
fn inherited_rename_is_the_renamed_crate() {
    let root = manifest::parse(
        ManifestKind::CargoToml,
        "[workspace]\nmembers = [\"m\"]\n\n[workspace.dependencies]\nwebpki = { package = \"rustls-webpki\", version = \"0.101.7\" }\nserde = { version = \"1.0.200\", features = [\"derive\"] }\nlocal = { path = \"../local\" }\n",
    );
    let member = manifest::parse(
        ManifestKind::CargoToml,
        "[package]\nname = \"m\"\n\n[dependencies]\nwebpki = { workspace = true }\nserde = { workspace = true, features = [\"rc\"], optional = true }\nlocal.workspace = true\n",
    );
    let registries = RegistryRules::default();
    let input = Input {
        manifest: &member,
        lockfile: None,
        workspace: Some(&root),
        registries: &registries,
        constraints: Default::default(),
    };
    let names: Vec<String> = engine::needs(&input, &Facts::default())
        .iter()
        .filter_map(|query| match query {
            crate::model::Query::Package { package, .. } => Some(package.name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(names, vec!["rustls-webpki", "serde"]);
    let analysis = engine::evaluate(&input, &Facts::default(), &Policy::default(), Timestamp::UNIX_EPOCH);
    let member_deps: Vec<(String, Option<String>, String)> = analysis
        .deps
        .iter()
        .map(|d| {
            (
                d.dep.package.name.clone(),
                d.dep.requirement_text.clone(),
                format!("{:?}", d.status).chars().take(7).collect(),
            )
        })
        .collect();
    assert_eq!(
        member_deps,
        vec![
            (
                "rustls-webpki".to_string(),
                Some("0.101.7".to_string()),
                "Pending".to_string()
            ),
            ("serde".to_string(), Some("1.0.200".to_string()), "Pending".to_string()),
            ("local".to_string(), None, "Skipped".to_string()),
        ]
    );
}

/// `request@2.81.0` pulls in `qs@6.4.0`, affected by GHSA-hrpp-h998-j3pp (fixed in 6.4.1). The
/// recorded packument of request (fixtures/registry/npm/request) shows `qs: ~6.4.0` up to 2.81.0 and
/// `~6.5.1` from 2.82.0, which no longer admits 6.4.0: the fix upgrades request to 2.82.0. The recorded
/// document has every version deprecated, so as recorded no version of request is safe itself and the
/// fix falls back to the override (derived variant: the deprecations removed). qs's own version list is
/// constructed (three real qs versions), since only its advisory is recorded.
#[test]
fn a_transitive_finding_is_fixed_by_upgrading_the_direct_dependency_when_metadata_proves_it() {
    let now = Timestamp::from_second(1_700_000_000).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let request_doc = std::fs::read(fixtures.join("registry/npm/request")).unwrap();
    let request = crate::lookup::registry::npm::parse_packument(&request_doc).unwrap();
    let record = std::fs::read(fixtures.join("osv/npm/GHSA-hrpp-h998-j3pp.json")).unwrap();
    let advisory = crate::lookup::advisories::osv_record::parse_record(&record).unwrap();
    let published = Timestamp::from_second(1_500_000_000).unwrap();
    let qs = PackageFacts {
        versions: ["6.4.0", "6.4.1", "6.5.3"]
            .iter()
            .map(|v| VersionFacts {
                version: (*v).into(),
                published: Some(published).into(),
                ..VersionFacts::default()
            })
            .collect(),
        created: Some(published),
        ..PackageFacts::default()
    };
    let manifest_text = "{\"dependencies\": {\"request\": \"~2.81.0\"}}";
    let lock_text = r#"{"lockfileVersion": 3, "packages": {"": {"dependencies": {"request": "~2.81.0"}}, "node_modules/request": {"version": "2.81.0", "dependencies": {"qs": "~6.4.0"}}, "node_modules/qs": {"version": "6.4.0"}}}"#;
    let parsed = manifest::parse(ManifestKind::PackageJson, manifest_text);
    let lockfile = manifest::parse_lockfile(ManifestKind::PackageLock, lock_text).unwrap();
    let registries = RegistryRules::default();
    let input = Input {
        manifest: &parsed,
        lockfile: Some(&lockfile),
        workspace: None,
        registries: &registries,
        constraints: Default::default(),
    };
    let fix_of_qs = |request: PackageFacts| {
        let mut facts = Facts::default();
        let request_ref = PackageRef::new(Ecosystem::Npm, "request");
        let qs_ref = PackageRef::new(Ecosystem::Npm, "qs");
        facts
            .packages
            .insert(request_ref.clone(), known(std::sync::Arc::new(request), now));
        facts
            .packages
            .insert(qs_ref.clone(), known(std::sync::Arc::new(qs.clone()), now));
        facts.advisories.insert(request_ref, known(Vec::new(), now));
        facts.advisories.insert(qs_ref, known(vec![advisory.clone()], now));
        let analysis = engine::evaluate(&input, &facts, &Policy::default(), now);
        let qs = analysis.deps.iter().find(|d| d.dep.package.name == "qs").unwrap();
        assert!(analysis.findings_for(1).any(|f| f.id == "GHSA-hrpp-h998-j3pp"));
        describe_fix(qs.fix.as_deref().unwrap())
    };
    let mut undeprecated = request.clone();
    for version in &mut undeprecated.versions {
        version.detail.deprecated = None;
    }
    assert_eq!(
        fix_of_qs(undeprecated),
        "fix: update request to \"~2.82.0\" (request 2.82.0 requires qs ~6.5.1, which excludes 6.4.0), then `npm install`"
    );
    assert_eq!(
        fix_of_qs(request),
        "fix: pin qs to 6.4.1: add \"overrides\": { \"qs\": \"6.4.1\" } to package.json, then `npm install`"
    );
}

/// A deeper path: `a` → request 2.81.0 → qs 6.4.0. `a` (constructed: two versions and their declared
/// ranges for request) is upgraded only when its new range moves request off 2.81.0 and the version
/// request then moves to (the highest `~2.82.0` admits, per the recorded packument) excludes qs 6.4.0;
/// a range that still admits the locked request keeps the bad qs, so the fix is the override.
#[test]
fn a_deeper_path_is_followed_through_the_registry_metadata() {
    use crate::model::{DeclaredDep, VersionMeta};
    let now = Timestamp::from_second(1_700_000_000).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut request =
        crate::lookup::registry::npm::parse_packument(&std::fs::read(fixtures.join("registry/npm/request")).unwrap())
            .unwrap();
    for version in &mut request.versions {
        version.detail.deprecated = None;
    }
    let record = std::fs::read(fixtures.join("osv/npm/GHSA-hrpp-h998-j3pp.json")).unwrap();
    let advisory = crate::lookup::advisories::osv_record::parse_record(&record).unwrap();
    let published = Timestamp::from_second(1_500_000_000).unwrap();
    let version = |v: &str, request_range: &str| VersionFacts {
        version: v.into(),
        published: Some(published).into(),
        detail: crate::model::VersionDetail {
            meta: VersionMeta {
                dependencies: Some(vec![DeclaredDep {
                    name: "request".into(),
                    req: request_range.into(),
                    ..DeclaredDep::default()
                }]),
                ..VersionMeta::default()
            },
            ..Default::default()
        }
        .into(),
        ..VersionFacts::default()
    };
    let qs = PackageFacts {
        versions: ["6.4.0", "6.4.1", "6.5.3"]
            .iter()
            .map(|v| VersionFacts {
                version: (*v).into(),
                published: Some(published).into(),
                ..VersionFacts::default()
            })
            .collect(),
        created: Some(published),
        ..PackageFacts::default()
    };
    let manifest_text = "{\"dependencies\": {\"a\": \"^1.0.0\"}}";
    let lock_text = r#"{"lockfileVersion": 3, "packages": {"": {"dependencies": {"a": "^1.0.0"}}, "node_modules/a": {"version": "1.0.0", "dependencies": {"request": "~2.81.0"}}, "node_modules/request": {"version": "2.81.0", "dependencies": {"qs": "~6.4.0"}}, "node_modules/qs": {"version": "6.4.0"}}}"#;
    let parsed = manifest::parse(ManifestKind::PackageJson, manifest_text);
    let lockfile = manifest::parse_lockfile(ManifestKind::PackageLock, lock_text).unwrap();
    let registries = RegistryRules::default();
    let input = Input {
        manifest: &parsed,
        lockfile: Some(&lockfile),
        workspace: None,
        registries: &registries,
        constraints: Default::default(),
    };
    let fix_of_qs = |next_range: &str| {
        let a = PackageFacts {
            versions: vec![version("1.0.0", "~2.81.0"), version("1.1.0", next_range)],
            created: Some(published),
            ..PackageFacts::default()
        };
        let mut facts = Facts::default();
        for (name, package) in [("a", a), ("request", request.clone()), ("qs", qs.clone())] {
            let package_ref = PackageRef::new(Ecosystem::Npm, name);
            facts
                .packages
                .insert(package_ref.clone(), known(std::sync::Arc::new(package), now));
            let advisories = if name == "qs" {
                vec![advisory.clone()]
            } else {
                Vec::new()
            };
            facts.advisories.insert(package_ref, known(advisories, now));
        }
        let analysis = engine::evaluate(&input, &facts, &Policy::default(), now);
        let qs = analysis.deps.iter().find(|d| d.dep.package.name == "qs").unwrap();
        assert_eq!(qs.dep.via, vec!["a", "request", "qs"]);
        describe_fix(qs.fix.as_deref().unwrap())
    };
    assert_eq!(
        fix_of_qs("~2.82.0"),
        "fix: update a to \"^1.1.0\" (request 2.82.0 requires qs ~6.5.1, which excludes 6.4.0), then `npm install`"
    );
    assert!(fix_of_qs("^2.81.0").starts_with("fix: pin qs to 6.4.1"));
}

fn all_cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/cases");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|ecosystem| ecosystem.is_dir())
        .flat_map(|ecosystem| std::fs::read_dir(ecosystem).unwrap())
        .map(|case| case.unwrap().path())
        .filter(|dir| dir.join("now.txt").is_file())
        .collect();
    dirs.sort();
    dirs.iter().map(|dir| Case::load(dir)).collect()
}

/// One step of an editing session on a case: an edit of the text and the clock and facts it is
/// evaluated with.
#[derive(Debug, Clone)]
struct Step {
    /// Where (a fraction of the text's length) and what: a replaced character, an insertion, a deletion.
    at: f64,
    edit: u8,
    character: char,
    /// Minutes added to the case's `now` (0 most often, as while typing).
    minutes: i64,
    /// Evaluate with a second copy of the facts (a new `Arc`, as when lookups land).
    new_facts: bool,
    /// Evaluate under an untrusted project's policy whose floor is the case's own.
    floor: bool,
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    (
        0.0..1.0f64,
        0u8..3,
        prop::sample::select(vec![
            '0', '1', '2', '9', '.', '^', '~', '"', ',', ' ', '\n', 'a', '=', 'é',
        ]),
        prop::sample::select(vec![0i64, 0, 0, 1, 60 * 24, 60 * 24 * 40, -60 * 24 * 3]),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(at, edit, character, minutes, new_facts, floor)| Step {
            at,
            edit,
            character,
            minutes,
            new_facts,
            floor,
        })
}

fn apply(text: &mut String, step: &Step) {
    let mut at = ((text.len() as f64) * step.at) as usize;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let next = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
    match step.edit {
        0 if next > at => text.replace_range(at..next, &step.character.to_string()),
        1 if next > at => text.replace_range(at..next, ""),
        _ => text.insert(at, step.character),
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    /// An editing session through `evaluate_memoized` (one memo kept across every keystroke, as the
    /// editor keeps one per document) gives exactly what a fresh `evaluate` gives at every step, while
    /// text, clock, facts and policy move.
    #[test]
    fn memoized_evaluation_is_a_full_evaluation(steps in proptest::collection::vec(step(), 1..8)) {
        thread_local! {
            static CASES: Vec<(Case, std::sync::Arc<Facts>, std::sync::Arc<Facts>)> = all_cases()
                .into_iter()
                .map(|case| {
                    let facts = std::sync::Arc::new(case.facts.clone());
                    let copy = std::sync::Arc::new(case.facts.clone());
                    (case, facts, copy)
                })
                .collect();
        }
        CASES.with(|cases| {
            for (case, facts, copy) in cases {
                let mut memo = engine::Memo::default();
                let mut text = case.text.clone();
                let registries = RegistryRules::default();
                let untrusted = Policy {
                    untrusted_floor: Some(Box::new(case.policy.clone())),
                    ..Policy::default()
                };
                // The first evaluation fills the memo; every step after it may reuse it.
                for step in std::iter::once(None).chain(steps.iter().map(Some)) {
                    if let Some(step) = step {
                        apply(&mut text, step);
                    }
                    let parsed = manifest::parse(case.kind, &text);
                    let input = Input {
                        manifest: &parsed,
                        lockfile: case.lockfile.as_ref(),
                        workspace: None,
                        registries: &registries,
                        constraints: Default::default(),
                    };
                    let now = case.now + jiff::SignedDuration::from_mins(step.map_or(0, |s| s.minutes));
                    let facts = if step.is_some_and(|s| s.new_facts) { copy } else { facts };
                    let policy = if step.is_some_and(|s| s.floor) { &untrusted } else { &case.policy };
                    let full = engine::evaluate(&input, facts, policy, now);
                    let memoized = engine::evaluate_memoized(&input, facts, policy, now, &mut memo);
                    proptest::prop_assert_eq!(format!("{full:#?}"), format!("{memoized:#?}"), "{}", text);
                }
            }
            Ok(())
        })?;
    }
}

/// Evaluating the same text again reuses every answer of the checks.
#[test]
fn memo_reuses_the_checks_of_the_same_text() {
    let case = all_cases()
        .into_iter()
        .find(|case| manifest::parse(case.kind, &case.text).deps.len() > 1)
        .expect("a case with several dependencies");
    let facts = std::sync::Arc::new(case.facts.clone());
    let registries = RegistryRules::default();
    let mut memo = engine::Memo::default();
    let evaluate = |text: &str, memo: &mut engine::Memo| {
        let parsed = manifest::parse(case.kind, text);
        let input = Input {
            manifest: &parsed,
            lockfile: case.lockfile.as_ref(),
            workspace: None,
            registries: &registries,
            constraints: Default::default(),
        };
        engine::evaluate_memoized(&input, &facts, &case.policy, case.now, memo);
        parsed.deps.len()
    };
    let n_deps = evaluate(&case.text, &mut memo);
    let first = memo.stats();
    assert_eq!(first.reused, 0);
    // The same text again: every answer is reused.
    evaluate(&case.text, &mut memo);
    let second = memo.stats();
    assert_eq!(second.checked, first.checked, "{second:?}");
    assert!(second.reused >= n_deps.min(first.checked), "{second:?}");
}

/// When `now` moves, only the answers time could still change are checked again: a package every age
/// threshold has passed for keeps its answer (also when the clock goes back, as long as it stays past
/// the time the answer settled); a young one is checked again until it settles.
#[test]
fn memo_checks_again_only_what_time_can_change() {
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    let package = |published: Timestamp| PackageFacts {
        versions: vec![VersionFacts {
            version: "1.0.0".into(),
            published: Some(published).into(),
            ..VersionFacts::default()
        }],
        created: Some(published),
        ..PackageFacts::default()
    };
    let mut facts = Facts::default();
    let old = now - jiff::SignedDuration::from_hours(24 * 400);
    let young = now - jiff::SignedDuration::from_hours(1);
    for (name, published) in [("old", old), ("young", young)] {
        let package_ref = PackageRef::new(Ecosystem::Npm, name);
        facts
            .packages
            .insert(package_ref.clone(), known(std::sync::Arc::new(package(published)), now));
        facts.advisories.insert(package_ref, known(Vec::new(), now));
    }
    let facts = std::sync::Arc::new(facts);
    let text = "{\"dependencies\": {\"old\": \"1.0.0\", \"young\": \"^1.0.0\"}}\n";
    let parsed = manifest::parse(ManifestKind::PackageJson, text);
    let registries = RegistryRules::default();
    let input = manifest_only(&parsed, &registries);
    let policy = Policy::default();
    let mut memo = engine::Memo::default();
    // (minutes after `now`, checked again): young stays young for 30 days (the package age).
    let days = |d: i64| d * 24 * 60;
    let steps = [
        (0, 2),
        (0, 0),
        (1, 1),
        (2, 1),
        (days(40), 1),
        (days(41), 0),
        (days(40) + 1, 0),
        (days(39), 1),
        (1, 1),
    ];
    for (minutes, checked_again) in steps {
        let at = now + jiff::SignedDuration::from_mins(minutes);
        let before = memo.stats().checked;
        let memoized = engine::evaluate_memoized(&input, &facts, &policy, at, &mut memo);
        let full = engine::evaluate(&input, &facts, &policy, at);
        assert_eq!(format!("{full:#?}"), format!("{memoized:#?}"), "at +{minutes} min");
        assert_eq!(memo.stats().checked - before, checked_again, "at +{minutes} min");
    }
}

/// A constructed npm world for `upgrade_direct`: every package's versions with their declared
/// dependency ranges, an advisory on `b` below 2.5.0, and a lockfile; the fix of `b`.
/// A package's versions, each with its declared dependencies (name, range).
type Versions<'a> = &'a [(&'a str, &'a [(&'a str, &'a str)])];

fn fix_of_b(manifest_deps: &[&str], lock_packages: &str, world: &[(&str, Versions<'_>)]) -> String {
    use crate::model::{DeclaredDep, VersionMeta};
    let now = Timestamp::from_second(1_700_000_000).unwrap();
    let published = Timestamp::from_second(1_500_000_000).unwrap();
    let record = br#"{"id": "GHSA-test-b250-0001", "published": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z", "summary": "b is bad below 2.5.0", "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}], "affected": [{"package": {"ecosystem": "npm", "name": "b"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "2.5.0"}]}]}]}"#;
    let advisory = crate::lookup::advisories::osv_record::parse_record(record).unwrap();
    let mut facts = Facts::default();
    for (name, versions) in world {
        let package = PackageFacts {
            versions: versions
                .iter()
                .map(|(v, deps)| VersionFacts {
                    version: (*v).into(),
                    published: Some(published).into(),
                    detail: crate::model::VersionDetail {
                        meta: VersionMeta {
                            dependencies: Some(
                                deps.iter()
                                    .map(|(dep, req)| DeclaredDep {
                                        name: (*dep).into(),
                                        req: req.to_string().into(),
                                        ..DeclaredDep::default()
                                    })
                                    .collect(),
                            ),
                            ..VersionMeta::default()
                        },
                        ..Default::default()
                    }
                    .into(),
                    ..VersionFacts::default()
                })
                .collect(),
            created: Some(published),
            ..PackageFacts::default()
        };
        let package_ref = PackageRef::new(Ecosystem::Npm, name);
        facts
            .packages
            .insert(package_ref.clone(), known(std::sync::Arc::new(package), now));
        let advisories = if *name == "b" {
            vec![advisory.clone()]
        } else {
            Vec::new()
        };
        facts.advisories.insert(package_ref, known(advisories, now));
    }
    let deps: Vec<String> = manifest_deps.iter().map(|d| format!("\"{d}\": \"^1.0.0\"")).collect();
    let manifest_text = format!("{{\"dependencies\": {{{}}}}}", deps.join(", "));
    let lock_text = format!(
        r#"{{"lockfileVersion": 3, "packages": {{"": {{"dependencies": {{{}}}}}, {lock_packages}}}}}"#,
        deps.join(", ")
    );
    let parsed = manifest::parse(ManifestKind::PackageJson, &manifest_text);
    let lockfile = manifest::parse_lockfile(ManifestKind::PackageLock, &lock_text).unwrap();
    assert!(lockfile.issues.is_empty(), "{:?}", lockfile.issues);
    let registries = RegistryRules::default();
    let input = Input {
        manifest: &parsed,
        lockfile: Some(&lockfile),
        workspace: None,
        registries: &registries,
        constraints: Default::default(),
    };
    let analysis = engine::evaluate(&input, &facts, &Policy::default(), now);
    let b = analysis.deps.iter().find(|d| d.dep.package.name == "b").unwrap();
    assert!(analysis.findings.iter().any(|f| f.id == "GHSA-test-b250-0001"));
    describe_fix(b.fix.as_deref().unwrap())
}

/// The last hop: a new range that excludes the locked b but still admits vulnerable versions
/// (b ^2.0.0 admits 2.0.0 and 2.4.0, below 2.5.0) proves nothing; a range admitting only safe
/// versions does.
#[test]
fn upgrade_direct_needs_every_admitted_version_of_the_last_hop_safe() {
    let lock = r#""node_modules/a": {"version": "1.0.0", "dependencies": {"b": "^1.0.0"}}, "node_modules/b": {"version": "1.4.0"}"#;
    let b: Versions<'_> = &[("1.4.0", &[]), ("2.0.0", &[]), ("2.4.0", &[]), ("2.5.0", &[])];
    let a_loose: Versions<'_> = &[("1.0.0", &[("b", "^1.0.0")]), ("2.0.0", &[("b", "^2.0.0")])];
    assert_eq!(
        fix_of_b(&["a"], lock, &[("a", a_loose), ("b", b)]),
        "fix: pin b to 2.5.0: add \"overrides\": { \"b\": \"2.5.0\" } to package.json, then `npm install`"
    );
    let a_tight: Versions<'_> = &[
        ("1.0.0", &[("b", "^1.0.0")]),
        ("2.0.0", &[("b", "^2.0.0")]),
        ("2.1.0", &[("b", "^2.5.0")]),
    ];
    assert_eq!(
        fix_of_b(&["a"], lock, &[("a", a_tight), ("b", b)]),
        "fix: update a to \"^2.1.0\" (a 2.1.0 requires b ^2.5.0, which excludes 1.4.0), then `npm install`"
    );
}

/// An intermediate hop: a 2.0.0 requires m ^2.0.0; the highest m (2.1.0) leads away from b 1.4.0,
/// but m 2.0.0, which the range also admits (and a dedupe may keep), still requires b ^1.0.0.
#[test]
fn upgrade_direct_needs_every_admitted_version_of_an_intermediate_hop_to_lead_away() {
    let lock = r#""node_modules/a": {"version": "1.0.0", "dependencies": {"m": "^1.0.0"}}, "node_modules/m": {"version": "1.0.0", "dependencies": {"b": "^1.0.0"}}, "node_modules/b": {"version": "1.4.0"}"#;
    let b: Versions<'_> = &[("1.4.0", &[]), ("2.5.0", &[])];
    let m: Versions<'_> = &[
        ("1.0.0", &[("b", "^1.0.0")]),
        ("2.0.0", &[("b", "^1.0.0")]),
        ("2.1.0", &[("b", "^2.5.0")]),
    ];
    let a_loose: Versions<'_> = &[("1.0.0", &[("m", "^1.0.0")]), ("2.0.0", &[("m", "^2.0.0")])];
    assert!(fix_of_b(&["a"], lock, &[("a", a_loose), ("m", m), ("b", b)]).starts_with("fix: pin b to 2.5.0"));
    let a_tight: Versions<'_> = &[
        ("1.0.0", &[("m", "^1.0.0")]),
        ("2.0.0", &[("m", "^2.0.0")]),
        ("2.1.0", &[("m", "^2.1.0")]),
    ];
    assert_eq!(
        fix_of_b(&["a"], lock, &[("a", a_tight), ("m", m), ("b", b)]),
        "fix: update a to \"^2.1.0\" (m 2.1.0 requires b ^2.5.0, which excludes 1.4.0), then `npm install`"
    );
}

/// Another way to the bad version (a second direct dependency, or a second path below the same
/// one) keeps it installed after the upgrade: the fix is the override.
#[test]
fn upgrade_direct_is_not_proven_when_another_path_pulls_the_bad_version() {
    let b: Versions<'_> = &[("1.4.0", &[]), ("2.5.0", &[])];
    let a: Versions<'_> = &[("1.0.0", &[("b", "^1.0.0")]), ("2.1.0", &[("b", "^2.5.0")])];
    let c: Versions<'_> = &[("1.0.0", &[("b", "^1.0.0")])];
    let alone = r#""node_modules/a": {"version": "1.0.0", "dependencies": {"b": "^1.0.0"}}, "node_modules/b": {"version": "1.4.0"}"#;
    assert!(fix_of_b(&["a"], alone, &[("a", a), ("b", b)]).starts_with("fix: update a to"));
    let two_directs = r#""node_modules/a": {"version": "1.0.0", "dependencies": {"b": "^1.0.0"}}, "node_modules/c": {"version": "1.0.0", "dependencies": {"b": "^1.0.0"}}, "node_modules/b": {"version": "1.4.0"}"#;
    assert!(fix_of_b(&["a", "c"], two_directs, &[("a", a), ("b", b), ("c", c)]).starts_with("fix: pin b to 2.5.0"));
    let a_two_paths: Versions<'_> = &[
        ("1.0.0", &[("b", "^1.0.0"), ("c", "^1.0.0")]),
        ("2.1.0", &[("b", "^2.5.0"), ("c", "^1.0.0")]),
    ];
    let two_paths = r#""node_modules/a": {"version": "1.0.0", "dependencies": {"b": "^1.0.0", "c": "^1.0.0"}}, "node_modules/c": {"version": "1.0.0", "dependencies": {"b": "^1.0.0"}}, "node_modules/b": {"version": "1.4.0"}"#;
    assert!(fix_of_b(&["a"], two_paths, &[("a", a_two_paths), ("b", b), ("c", c)]).starts_with("fix: pin b to 2.5.0"));
}

/// The real MAL record of flatmap-stream (fixtures/osv/incidents/npm/MAL-2025-20690.json) with its
/// package renamed to `name` (derived here; the fixture stays as recorded): a malicious-package record
/// for a name a private registry may also serve.
/// The input of a manifest alone: no lockfile, no workspace, no constraints.
fn manifest_only<'a>(parsed: &'a manifest::Parsed, registries: &'a RegistryRules) -> Input<'a> {
    Input {
        manifest: parsed,
        lockfile: None,
        workspace: None,
        registries,
        constraints: Default::default(),
    }
}

fn malicious_record_for(name: &str) -> Advisory {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/osv/incidents/npm/MAL-2025-20690.json");
    let mut record: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    record["affected"][0]["package"]["name"] = Value::String(name.to_string());
    crate::lookup::advisories::osv_record::parse_record(&serde_json::to_vec(&record).unwrap()).unwrap()
}

/// Audit item 3: a project `.npmrc` that points a scope at another registry made every check skip
/// `@ctrl/tinycolor`, even the local OSV database (which sends nothing anywhere), and the package read
/// as checked. The local copies are asked whatever the registry; their MAL- record is a finding that
/// says the name matches a public advisory; and a registry only the untrusted project names leaves the
/// package not fully checked, while one the user configured is the user's choice (skipped).
#[test]
fn private_source_still_consults_local_osv_db() {
    use crate::checks::FindingKind;
    use crate::engine::{CheckState, Status};
    use crate::model::{Query, Severity};
    let now: Timestamp = "2026-12-06T12:00:00Z".parse().unwrap();
    let parsed = manifest::parse(
        ManifestKind::PackageJson,
        r#"{"dependencies": {"@ctrl/tinycolor": "4.1.1"}}"#,
    );
    let tinycolor = package_ref("npm:@ctrl/tinycolor");
    let untrusted = RegistryRules {
        npm_scopes: vec![("@ctrl".to_string(), "https://npm.invalid".to_string())],
        project_named: vec![("https://npm.invalid".to_string(), "/repo/.npmrc".to_string())],
        ..RegistryRules::default()
    };
    let trusted = RegistryRules {
        project_named: Vec::new(),
        ..untrusted.clone()
    };
    for registries in [&untrusted, &trusted] {
        let input = Input {
            manifest: &parsed,
            lockfile: None,
            workspace: None,
            registries,
            constraints: Default::default(),
        };
        let asked = engine::needs(&input, &Facts::default());
        assert!(
            asked.contains(&Query::LocalAdvisories {
                package: tinycolor.clone()
            }),
            "{asked:?}"
        );
        assert!(
            !asked.iter().any(|q| matches!(q, Query::Advisories { .. })),
            "the name must not reach the OSV API: {asked:?}"
        );
    }

    let mut facts = Facts::default();
    facts.advisories.insert(
        tinycolor.clone(),
        known(vec![malicious_record_for("@ctrl/tinycolor")], now),
    );
    let evaluate = |registries: &RegistryRules, facts: &Facts| {
        let input = Input {
            manifest: &parsed,
            lockfile: None,
            workspace: None,
            registries,
            constraints: Default::default(),
        };
        engine::evaluate(&input, facts, &Policy::default(), now)
    };
    for registries in [&untrusted, &trusted] {
        let analysis = evaluate(registries, &facts);
        let malicious: Vec<_> = analysis
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::Malicious)
            .collect();
        assert_eq!(malicious.len(), 1, "{:?}", analysis.findings);
        assert_eq!(malicious[0].severity, Severity::Error);
        assert!(
            malicious[0].message.contains("the name matches a public advisory")
                && malicious[0].message.contains("https://npm.invalid"),
            "{}",
            malicious[0].message
        );
    }

    // Named by the untrusted project: not fully checked, with the registry and the file.
    let dep = evaluate(&untrusted, &facts).deps.remove(0);
    assert!(matches!(dep.status, Status::Unavailable(_)), "{:?}", dep.status);
    assert!(
        matches!(dep.checks.advisory, CheckState::CheckedFrom(_)),
        "{:?}",
        dep.checks
    );
    match &dep.checks.age {
        CheckState::Unavailable(reason) => assert!(
            reason.contains("https://npm.invalid") && reason.contains("/repo/.npmrc"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
    // Configured by the user: the other checks are skipped by the user's choice.
    let dep = evaluate(&trusted, &facts).deps.remove(0);
    assert_eq!(dep.status, Status::Checked);
    assert!(matches!(dep.checks.age, CheckState::Skipped(_)), "{:?}", dep.checks);

    // No local copy answered: unknown for the project's registry, a choice for the user's.
    let mut no_copy = Facts::default();
    no_copy.advisories.insert(
        tinycolor.clone(),
        Fact::Unavailable(Note {
            source: "advisories".to_string(),
            message: "no local OSV copy".to_string(),
        }),
    );
    let dep = evaluate(&untrusted, &no_copy).deps.remove(0);
    assert!(
        matches!(dep.checks.advisory, CheckState::Unavailable(_)),
        "{:?}",
        dep.checks
    );
    let dep = evaluate(&trusted, &no_copy).deps.remove(0);
    assert!(
        matches!(dep.checks.advisory, CheckState::Skipped(_)),
        "{:?}",
        dep.checks
    );
    assert_eq!(dep.status, Status::Checked);

    // A registry name no settings file defines (Cargo `registry = "nope"`) is never clean.
    let cargo = manifest::parse(
        ManifestKind::CargoToml,
        "[package]\nname = \"app\"\n\n[dependencies]\nserde = { version = \"1.0.200\", registry = \"nope\" }\n",
    );
    let registries = RegistryRules::default();
    let input = Input {
        manifest: &cargo,
        lockfile: None,
        workspace: None,
        registries: &registries,
        constraints: Default::default(),
    };
    let dep = engine::evaluate(&input, &Facts::default(), &Policy::default(), now)
        .deps
        .remove(0);
    match &dep.checks.age {
        CheckState::Unavailable(reason) => assert!(reason.contains("unknown-registry:nope"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

/// Audit item 6: the lockfile walk stopped at a git (or path) dependency, so what it pulls in from the
/// registry was never checked, silently ("1 package: 0 errors"). The walk goes on through it: `left`
/// 9.9.9 below the git dependency `helper` is checked (via helper), and a path package found below a
/// registry one is shown as skipped with its reason, never dropped (a git one found there is not
/// checked: `a_transitive_entry_from_outside_the_registry_is_not_checked`).
#[test]
fn transitives_of_git_dependency_are_checked() {
    use crate::checks::FindingKind;
    use crate::engine::Status;
    let now: Timestamp = "2026-12-06T12:00:00Z".parse().unwrap();
    let manifest_text = r#"{"dependencies": {"helper": "github:someone/helper", "right": "1.0.0"}}"#;
    let lock_text = r#"{
  "name": "app",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {"dependencies": {"helper": "github:someone/helper", "right": "1.0.0"}},
    "node_modules/helper": {
      "version": "1.0.0",
      "resolved": "git+ssh://git@github.com/someone/helper.git#0123456789abcdef0123456789abcdef01234567",
      "dependencies": {"left": "^9.0.0"}
    },
    "node_modules/left": {
      "version": "9.9.9",
      "resolved": "https://registry.npmjs.org/left/-/left-9.9.9.tgz",
      "integrity": "sha512-AAAA"
    },
    "node_modules/right": {
      "version": "1.0.0",
      "resolved": "https://registry.npmjs.org/right/-/right-1.0.0.tgz",
      "integrity": "sha512-BBBB",
      "dependencies": {"inner": "file:../inner"}
    },
    "node_modules/inner": {
      "version": "0.1.0",
      "resolved": "file:../inner",
      "dependencies": {"deep": "^2.0.0"}
    },
    "node_modules/deep": {
      "version": "2.0.0",
      "resolved": "https://registry.npmjs.org/deep/-/deep-2.0.0.tgz",
      "integrity": "sha512-CCCC"
    }
  }
}"#;
    let parsed = manifest::parse(ManifestKind::PackageJson, manifest_text);
    let lockfile = manifest::parse_lockfile(ManifestKind::PackageLock, lock_text).unwrap();
    let registries = RegistryRules::default();
    let input = Input {
        manifest: &parsed,
        lockfile: Some(&lockfile),
        workspace: None,
        registries: &registries,
        constraints: Default::default(),
    };
    let asked: Vec<String> = engine::needs(&input, &Facts::default())
        .into_iter()
        .filter_map(|q| match q {
            crate::model::Query::Advisories { package } => Some(package.name),
            _ => None,
        })
        .collect();
    assert!(asked.contains(&"left".to_string()), "{asked:?}");
    assert!(asked.contains(&"deep".to_string()), "{asked:?}");
    assert!(
        !asked.contains(&"helper".to_string()) && !asked.contains(&"inner".to_string()),
        "{asked:?}"
    );

    let mut facts = Facts::default();
    facts
        .advisories
        .insert(package_ref("npm:left"), known(vec![malicious_record_for("left")], now));
    let analysis = engine::evaluate(&input, &facts, &Policy::default(), now);
    let left = analysis
        .deps
        .iter()
        .position(|d| d.dep.package.name == "left")
        .expect("left below the git dependency is checked");
    assert_eq!(analysis.deps[left].dep.via, ["helper", "left"]);
    assert!(
        analysis
            .findings
            .iter()
            .any(|f| f.dep == left && f.kind == FindingKind::Malicious),
        "{:?}",
        analysis.findings
    );
    let deep = analysis.deps.iter().find(|d| d.dep.package.name == "deep").unwrap();
    assert_eq!(deep.dep.via, ["right", "inner", "deep"]);
    let inner = analysis
        .deps
        .iter()
        .find(|d| d.dep.package.name == "inner")
        .expect("a path package below a registry one is shown, not dropped");
    match &inner.status {
        Status::Skipped(reason) => assert!(reason.contains("file:../inner"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(inner.dep.via, ["right", "inner"]);
}

/// What the manifest itself fetches from a git repository or a URL is not a registry's release: it
/// is not checked and never clean (unavailable, with a finding on its line), its name is asked of no
/// registry and no OSV, and the project's deny list still applies to it. It used to be "skipped", and a
/// run whose only dependency was an attacker's repository exited 0. Local code stays skipped.
#[test]
fn a_git_or_url_dependency_is_not_checked_and_its_name_never_asked() {
    use crate::checks::FindingKind;
    use crate::engine::Status;
    let now: Timestamp = "2026-12-06T12:00:00Z".parse().unwrap();
    let cases = [
        (
            ManifestKind::PackageJson,
            r#"{"dependencies": {"helper": "github:someone/helper", "tarball": "https://evil.example/tarball-1.0.0.tgz", "local": "file:../local"}}"#,
        ),
        (
            ManifestKind::CargoToml,
            "[dependencies]\nhelper = { git = \"https://github.com/someone/helper\" }\ntarball = { path = \"../local\" }\n",
        ),
        (
            ManifestKind::Requirements,
            "helper @ git+https://github.com/someone/helper@main\ntarball @ https://evil.example/tarball-1.0.0.tar.gz\n-e ../local\n",
        ),
    ];
    for (kind, text) in cases {
        let parsed = manifest::parse(kind, text);
        let registries = RegistryRules::default();
        let input = manifest_only(&parsed, &registries);
        let asked = engine::needs(&input, &Facts::default());
        assert!(asked.is_empty(), "{text}: {asked:?}");
        let policy = Policy {
            deny: vec!["helper".to_string()],
            ..Policy::default()
        };
        let analysis = engine::evaluate(&input, &Facts::default(), &policy, now);
        let mut elsewhere = 0;
        for (idx, dep) in analysis.deps.iter().enumerate() {
            match &dep.status {
                Status::Unavailable(why) => {
                    assert!(
                        why.contains("installed from") && why.contains("not checked"),
                        "{text}: {why}"
                    );
                    assert!(
                        analysis
                            .findings
                            .iter()
                            .any(|f| f.dep == idx && f.kind == FindingKind::Unchecked),
                        "{text}: {:?}",
                        analysis.findings
                    );
                    elsewhere += 1;
                }
                Status::Skipped(why) => assert!(why.contains("local"), "{text}: {why}"),
                other => panic!("{text}: {} is {other:?}", dep.dep.package.name),
            }
        }
        let expected = if kind == ManifestKind::CargoToml { 1 } else { 2 };
        assert_eq!(elsewhere, expected, "{text}: {:?}", analysis.deps);
        assert!(
            analysis.findings.iter().any(|f| f.kind == FindingKind::Denied),
            "{text}: {:?}",
            analysis.findings
        );
    }
}

/// A URL that is the public registry's own file of a release installs that release: it is checked as
/// that release. Naming a malicious version by its tarball (under another name, even) does not hide it.
#[test]
fn the_registrys_own_file_of_a_release_is_checked_as_that_release() {
    use crate::checks::FindingKind;
    let now: Timestamp = "2026-12-06T12:00:00Z".parse().unwrap();
    let cases = [
        (
            ManifestKind::PackageJson,
            r#"{"dependencies": {"lodash": "https://registry.npmjs.org/flatmap-stream/-/flatmap-stream-0.1.1.tgz"}}"#,
            Ecosystem::Npm,
            "flatmap-stream",
            "0.1.1",
        ),
        (
            ManifestKind::Requirements,
            "ctx @ https://files.pythonhosted.org/packages/aa/bb/cc/ctx-0.2.2.tar.gz#sha256=00\n",
            Ecosystem::PyPI,
            "ctx",
            "0.2.2",
        ),
    ];
    for (kind, text, ecosystem, name, version) in cases {
        let parsed = manifest::parse(kind, text);
        let registries = RegistryRules::default();
        let input = manifest_only(&parsed, &registries);
        let package = PackageRef::new(ecosystem, name);
        let asked = engine::needs(&input, &Facts::default());
        assert!(
            asked
                .iter()
                .any(|q| matches!(q, crate::model::Query::Advisories { package: p } if *p == package)),
            "{text}: {asked:?}"
        );
        let mut facts = Facts::default();
        let mut record = malicious_record_for(name);
        for package in record.affected.iter_mut().filter_map(|a| a.package.as_mut()) {
            package.ecosystem = ecosystem;
        }
        facts.advisories.insert(package.clone(), known(vec![record], now));
        let analysis = engine::evaluate(&input, &facts, &Policy::default(), now);
        let dep = &analysis.deps[0];
        assert_eq!(dep.dep.package, package, "{text}");
        assert_eq!(dep.dep.resolved.version.as_deref(), Some(version), "{text}");
        assert!(
            analysis.findings.iter().any(|f| f.kind == FindingKind::Malicious),
            "{text}: {:?}",
            analysis.findings
        );
    }
}

/// Review fixes on a registry file named by URL: when the settings send that name to another registry,
/// the public file is not that registry's package (not checked, never clean, never asked); and a file
/// named under another dependency name gets no version rewrite (it would install another package).
#[test]
fn a_registry_file_under_a_private_scope_or_another_name() {
    use crate::engine::Status;
    let now: Timestamp = "2026-12-06T12:00:00Z".parse().unwrap();
    let text = r#"{"dependencies": {"x": "https://registry.npmjs.org/@corp/tool/-/tool-1.0.0.tgz"}}"#;
    let parsed = manifest::parse(ManifestKind::PackageJson, text);
    let registries = RegistryRules {
        npm_scopes: vec![("@corp".to_string(), "https://npm.corp.example".to_string())],
        ..RegistryRules::default()
    };
    let input = manifest_only(&parsed, &registries);
    assert!(engine::needs(&input, &Facts::default()).is_empty());
    let analysis = engine::evaluate(&input, &Facts::default(), &Policy::default(), now);
    assert!(
        matches!(&analysis.deps[0].status, Status::Unavailable(why) if why.contains("another registry")),
        "{:?}",
        analysis.deps[0].status
    );

    // event-stream 3.3.6 under the name lodash, with an advisory: no rewrite of the URL to a version.
    let text = r#"{"dependencies": {"lodash": "https://registry.npmjs.org/event-stream/-/event-stream-3.3.6.tgz"}}"#;
    let parsed = manifest::parse(ManifestKind::PackageJson, text);
    let registries = RegistryRules::default();
    let input = manifest_only(&parsed, &registries);
    let event_stream = PackageRef::new(Ecosystem::Npm, "event-stream");
    let mut facts = Facts::default();
    let versions = ["3.3.6", "4.0.0"]
        .iter()
        .map(|v| VersionFacts {
            version: (*v).into(),
            published: Some(Timestamp::from_second(1_500_000_000).unwrap()).into(),
            ..VersionFacts::default()
        })
        .collect();
    let package = PackageFacts {
        versions,
        created: Some(Timestamp::from_second(1_400_000_000).unwrap()),
        ..PackageFacts::default()
    };
    facts
        .packages
        .insert(event_stream.clone(), known(std::sync::Arc::new(package), now));
    let mut record = malicious_record_for("event-stream");
    record.id = "GHSA-test-event-stream".to_string();
    facts.advisories.insert(event_stream, known(vec![record], now));
    let analysis = engine::evaluate(&input, &facts, &Policy::default(), now);
    assert!(!analysis.findings.is_empty(), "{:?}", analysis.deps[0]);
    assert!(analysis.deps[0].fix.is_none(), "{:?}", analysis.deps[0].fix);
}

/// An override forces its version wherever the tree pulls the package in: it is checked on its own
/// line (asked for, a malicious pin found there); one to a git repository is not checked, never clean.
#[test]
fn an_override_is_checked_on_its_own_line() {
    use crate::checks::FindingKind;
    use crate::engine::Status;
    let now: Timestamp = "2026-12-06T12:00:00Z".parse().unwrap();
    let text = r#"{"dependencies": {"event-stream": "3.3.4"}, "overrides": {"event-stream": {"flatmap-stream": "0.1.1"}, "h": "github:evil/h"}}"#;
    let parsed = manifest::parse(ManifestKind::PackageJson, text);
    let registries = RegistryRules::default();
    let input = manifest_only(&parsed, &registries);
    let flatmap = PackageRef::new(Ecosystem::Npm, "flatmap-stream");
    let asked = engine::needs(&input, &Facts::default());
    assert!(
        asked
            .iter()
            .any(|q| matches!(q, crate::model::Query::Advisories { package } if *package == flatmap)),
        "{asked:?}"
    );
    let mut facts = Facts::default();
    facts.advisories.insert(
        flatmap.clone(),
        known(vec![malicious_record_for("flatmap-stream")], now),
    );
    let analysis = engine::evaluate(&input, &facts, &Policy::default(), now);
    let at = analysis.deps.iter().position(|d| d.dep.package == flatmap).unwrap();
    assert_eq!(analysis.deps[at].dep.resolved.version.as_deref(), Some("0.1.1"));
    let finding = analysis
        .findings
        .iter()
        .find(|f| f.dep == at && f.kind == FindingKind::Malicious)
        .unwrap_or_else(|| panic!("{:?}", analysis.findings));
    assert_eq!(&text[finding.span.start..finding.span.end], "0.1.1");
    let h = analysis.deps.iter().find(|d| d.dep.package.name == "h").unwrap();
    assert!(
        matches!(&h.status, Status::Unavailable(why) if why.contains("github:evil/h")),
        "{:?}",
        h.status
    );
}

/// A lockfile entry fetched from somewhere other than the package's registry (a tarball on another
/// host, a URL without the registry's shape, an integrity the registry does not publish) is what the
/// package manager installs: the dependency keeps the locked version and is not checked, never
/// replaced by a registry resolution of the manifest's range that comes back clean.
#[test]
fn a_lockfile_entry_from_outside_the_registry_is_not_checked() {
    let now = Timestamp::from_second(1_700_000_000).unwrap();
    let published = Timestamp::from_second(1_600_000_000).unwrap();
    let left = PackageFacts {
        versions: ["1.0.0", "1.2.0"]
            .iter()
            .map(|v| VersionFacts {
                version: (*v).into(),
                published: Some(published).into(),
                digests: vec![format!("sha512-registry{v}")].into(),
                ..VersionFacts::default()
            })
            .collect(),
        created: Some(published),
        ..PackageFacts::default()
    };
    let left_ref = PackageRef::new(Ecosystem::Npm, "left");
    let mut facts = Facts::default();
    facts
        .packages
        .insert(left_ref.clone(), known(std::sync::Arc::new(left), now));
    facts.advisories.insert(left_ref, known(Vec::new(), now));
    let manifest_text = r#"{"dependencies": {"left": "^1.0.0"}}"#;
    let parsed = manifest::parse(ManifestKind::PackageJson, manifest_text);
    let package_lock = |resolved: &str, integrity: &str| {
        format!(
            r#"{{"lockfileVersion": 3, "packages": {{"": {{"dependencies": {{"left": "^1.0.0"}}}}, "node_modules/left": {{"version": "1.0.0", "resolved": "{resolved}", "integrity": "{integrity}"}}}}}}"#
        )
    };
    let pnpm = |resolution: &str| {
        format!(
            "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n      left:\n        specifier: ^1.0.0\n        version: 1.0.0\n\npackages:\n\n  left@1.0.0:\n    resolution: {resolution}\n\nsnapshots:\n\n  left@1.0.0: {{}}\n"
        )
    };
    let yarn = |resolved: &str| {
        format!("left@^1.0.0:\n  version \"1.0.0\"\n  resolved \"{resolved}\"\n  integrity sha512-registry1.0.0\n")
    };
    let outside = [
        (
            ManifestKind::PackageLock,
            package_lock("https://evil.example/payload.tgz", "sha512-other"),
            "installed from https://evil.example/payload.tgz",
        ),
        (
            ManifestKind::PackageLock,
            package_lock("https://evil.example/left/-/left-1.0.0.tgz", "sha512-registry1.0.0"),
            "installed from https://evil.example/left/-/left-1.0.0.tgz",
        ),
        (
            ManifestKind::PackageLock,
            package_lock("git+ssh://git@github.com/evil/left.git#abc", "sha512-registry1.0.0"),
            "installed from git+ssh://git@github.com/evil/left.git#abc",
        ),
        (
            ManifestKind::PackageLock,
            package_lock("https://registry.npmjs.org/left/-/left-1.0.0.tgz", "sha512-other"),
            "integrity for left@1.0.0 is not the one the registry publishes",
        ),
        (
            ManifestKind::PnpmLock,
            pnpm("{integrity: sha512-other, tarball: https://evil.example/payload.tgz}"),
            "installed from https://evil.example/payload.tgz",
        ),
        (
            ManifestKind::PnpmLock,
            pnpm("{integrity: sha512-registry1.0.0, tarball: https://evil.example/left/-/left-1.0.0.tgz}"),
            "installed from https://evil.example/left/-/left-1.0.0.tgz",
        ),
        (
            ManifestKind::YarnLock,
            yarn("https://evil.example/-/payload.tgz#0123abcd"),
            "installed from https://evil.example/-/payload.tgz",
        ),
        (
            ManifestKind::YarnLock,
            yarn("https://evil.example/payload2.tgz"),
            "installed from https://evil.example/payload2.tgz",
        ),
        (
            ManifestKind::YarnLock,
            yarn("https://evil.example/left/-/left-1.0.0.tgz#0123abcd"),
            "installed from https://evil.example/left/-/left-1.0.0.tgz",
        ),
    ];
    let registries = RegistryRules::default();
    let evaluate = |kind: ManifestKind, lock_text: &str| {
        let lockfile = manifest::parse_lockfile(kind, lock_text).unwrap();
        let input = Input {
            manifest: &parsed,
            lockfile: Some(&lockfile),
            workspace: None,
            registries: &registries,
            constraints: Default::default(),
        };
        engine::evaluate(&input, &facts, &Policy::default(), now)
    };
    for (kind, lock_text, reason) in &outside {
        let analysis = evaluate(*kind, lock_text);
        let left = &analysis.deps[0];
        assert_eq!(left.dep.resolved.version.as_deref(), Some("1.0.0"), "{lock_text}");
        assert!(
            matches!(&left.status, engine::Status::Unavailable(why) if why.contains(reason) && why.contains("not checked")),
            "{lock_text}: {:?}",
            left.status
        );
        assert_eq!(analysis.unchecked(), 1, "{lock_text}");
        assert!(
            analysis
                .findings
                .iter()
                .any(|f| f.kind == crate::checks::FindingKind::Unchecked && f.message.contains(reason)),
            "{lock_text}: {:?}",
            analysis.findings
        );
    }
    // The registry's own tarball, the public host Yarn writes, and a configured registry are checked.
    let corp = RegistryRules {
        npm_default: Some("https://npm.corp.example/api/npm/".to_string()),
        ..RegistryRules::default()
    };
    for (kind, lock_text, rules) in [
        (
            ManifestKind::PackageLock,
            package_lock(
                "https://registry.npmjs.org/left/-/left-1.0.0.tgz",
                "sha512-registry1.0.0",
            ),
            &registries,
        ),
        (
            ManifestKind::YarnLock,
            yarn("https://registry.yarnpkg.com/left/-/left-1.0.0.tgz#0123abcd"),
            &registries,
        ),
        (
            ManifestKind::PnpmLock,
            pnpm("{integrity: sha512-registry1.0.0}"),
            &registries,
        ),
        (
            ManifestKind::PackageLock,
            package_lock(
                "https://npm.corp.example/api/npm/left/-/left-1.0.0.tgz",
                "sha512-registry1.0.0",
            ),
            &corp,
        ),
    ] {
        let lockfile = manifest::parse_lockfile(kind, &lock_text).unwrap();
        let input = Input {
            manifest: &parsed,
            lockfile: Some(&lockfile),
            workspace: None,
            registries: rules,
            constraints: Default::default(),
        };
        let analysis = engine::evaluate(&input, &facts, &Policy::default(), now);
        let left = &analysis.deps[0];
        assert!(
            left.installed_elsewhere.is_none(),
            "{lock_text}: {:?}",
            left.installed_elsewhere
        );
        assert_eq!(left.dep.resolved.version.as_deref(), Some("1.0.0"), "{lock_text}");
    }
}

/// A lockfile written against a mirror no setting here names (CI without the developer's `.npmrc`):
/// a registry-shaped tarball on the mirror host with the registry's own integrity is the registry's
/// package in every npm lockfile format, direct or transitive; with another integrity it is not.
#[test]
fn a_mirror_tarball_with_the_registrys_integrity_is_checked_in_every_lockfile_format() {
    let now = Timestamp::from_second(1_700_000_000).unwrap();
    let published = Timestamp::from_second(1_600_000_000).unwrap();
    let good = "sha512-XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQGinBN9yTQT3bFlCBy/aVx2HrNcqQGsdot8ghrjyrvMCoEA==";
    let bad = "sha512-bpLjOUQlzM11PeWgY7V75ccKKa7IxcqKJo3DQAB71QxfvwhgStOQc8mp4xaevEX9hQuBlyByYOuUbqwSM4XCgg==";
    let mut facts = Facts::default();
    for name in ["left", "right"] {
        let package = PackageFacts {
            versions: vec![VersionFacts {
                version: "1.0.0".into(),
                published: Some(published).into(),
                digests: vec![good.to_string()].into(),
                ..VersionFacts::default()
            }],
            created: Some(published),
            ..PackageFacts::default()
        };
        let package_ref = PackageRef::new(Ecosystem::Npm, name);
        facts
            .packages
            .insert(package_ref.clone(), known(std::sync::Arc::new(package), now));
        facts.advisories.insert(package_ref, known(Vec::new(), now));
    }
    let parsed = manifest::parse(ManifestKind::PackageJson, r#"{"dependencies": {"left": "^1.0.0"}}"#);
    let mirror = "https://nexus.corp.example/repository/npm-group";
    let package_lock = |integrity: &str| {
        format!(
            r#"{{"lockfileVersion": 3, "packages": {{"": {{"dependencies": {{"left": "^1.0.0"}}}}, "node_modules/left": {{"version": "1.0.0", "resolved": "{mirror}/left/-/left-1.0.0.tgz", "integrity": "{integrity}", "dependencies": {{"right": "^1.0.0"}}}}, "node_modules/right": {{"version": "1.0.0", "resolved": "{mirror}/right/-/right-1.0.0.tgz", "integrity": "{integrity}"}}}}}}"#
        )
    };
    let pnpm = |integrity: &str| {
        format!(
            "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n      left:\n        specifier: ^1.0.0\n        version: 1.0.0\n\npackages:\n\n  left@1.0.0:\n    resolution: {{integrity: {integrity}, tarball: {mirror}/left/-/left-1.0.0.tgz}}\n\n  right@1.0.0:\n    resolution: {{integrity: {integrity}, tarball: {mirror}/right/-/right-1.0.0.tgz}}\n\nsnapshots:\n\n  left@1.0.0:\n    dependencies:\n      right: 1.0.0\n\n  right@1.0.0: {{}}\n"
        )
    };
    let yarn = |integrity: &str| {
        format!(
            "left@^1.0.0:\n  version \"1.0.0\"\n  resolved \"{mirror}/left/-/left-1.0.0.tgz#0123abcd\"\n  integrity {integrity}\n  dependencies:\n    right \"^1.0.0\"\n\nright@^1.0.0:\n  version \"1.0.0\"\n  resolved \"{mirror}/right/-/right-1.0.0.tgz#0123abcd\"\n  integrity {integrity}\n"
        )
    };
    let bun = |integrity: &str| {
        format!(
            "{{\n  \"lockfileVersion\": 1,\n  \"workspaces\": {{\n    \"\": {{\n      \"name\": \"app\",\n      \"dependencies\": {{\n        \"left\": \"^1.0.0\",\n      }},\n    }},\n  }},\n  \"packages\": {{\n    \"left\": [\"left@1.0.0\", \"{mirror}/\", {{ \"dependencies\": {{ \"right\": \"^1.0.0\" }} }}, \"{integrity}\"],\n\n    \"right\": [\"right@1.0.0\", \"{mirror}/right/-/right-1.0.0.tgz\", {{}}, \"{integrity}\"],\n  }}\n}}\n"
        )
    };
    let registries = RegistryRules::default();
    for (kind, lock) in [
        (ManifestKind::PackageLock, &package_lock as &dyn Fn(&str) -> String),
        (ManifestKind::PnpmLock, &pnpm),
        (ManifestKind::YarnLock, &yarn),
        (ManifestKind::BunLock, &bun),
    ] {
        for (integrity, accepted) in [(good, true), (bad, false)] {
            let text = lock(integrity);
            let lockfile = manifest::parse_lockfile(kind, &text).unwrap();
            let input = Input {
                manifest: &parsed,
                lockfile: Some(&lockfile),
                workspace: None,
                registries: &registries,
                constraints: Default::default(),
            };
            let analysis = engine::evaluate(&input, &facts, &Policy::default(), now);
            let names: Vec<&str> = analysis.deps.iter().map(|d| d.dep.package.name.as_str()).collect();
            assert_eq!(names, ["left", "right"], "{text}");
            for dep in &analysis.deps {
                if accepted {
                    assert_eq!(dep.installed_elsewhere, None, "{text}");
                    assert_eq!(dep.status, engine::Status::Checked, "{text}");
                } else {
                    let why = dep.installed_elsewhere.clone().unwrap_or_default();
                    assert!(
                        why.contains(mirror) && why.contains("integrity is not the one the registry publishes"),
                        "{text}: {why}"
                    );
                    assert!(matches!(dep.status, engine::Status::Unavailable(_)), "{text}");
                }
            }
        }
    }
}

/// uv and Poetry install a URL or git source in the lockfile, not the index's package: the locked
/// version is kept and shown as not checked, never resolved against the index and called clean.
#[test]
fn a_python_lockfile_entry_from_a_url_or_git_is_not_checked() {
    let now = Timestamp::from_second(1_700_000_000).unwrap();
    let parsed = manifest::parse(
        ManifestKind::Pyproject,
        "[project]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"requests>=2.0\"]\n",
    );
    let uv = |source: &str| {
        format!(
            "version = 1\nrequires-python = \">=3.10\"\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\nsource = {{ virtual = \".\" }}\ndependencies = [\n    {{ name = \"requests\" }},\n]\n\n[[package]]\nname = \"requests\"\nversion = \"2.31.0\"\nsource = {{ {source} }}\n"
        )
    };
    let poetry = |kind: &str, url: &str| {
        format!(
            "[[package]]\nname = \"requests\"\nversion = \"2.31.0\"\ndescription = \"\"\noptional = false\npython-versions = \">=3.7\"\nfiles = []\n\n[package.source]\ntype = \"{kind}\"\nurl = \"{url}\"\n\n[metadata]\nlock-version = \"2.0\"\npython-versions = \"^3.10\"\ncontent-hash = \"x\"\n"
        )
    };
    let registries = RegistryRules::default();
    for (kind, text, url) in [
        (
            ManifestKind::UvLock,
            uv("url = \"https://evil.example/requests-2.31.0-py3-none-any.whl\""),
            "https://evil.example/requests-2.31.0-py3-none-any.whl",
        ),
        (
            ManifestKind::UvLock,
            uv("git = \"https://github.com/evil/requests?rev=abc#abc\""),
            "https://github.com/evil/requests?rev=abc#abc",
        ),
        (
            ManifestKind::PoetryLock,
            poetry("url", "https://evil.example/requests-2.31.0.tar.gz"),
            "https://evil.example/requests-2.31.0.tar.gz",
        ),
        (
            ManifestKind::PoetryLock,
            poetry("git", "https://github.com/evil/requests.git"),
            "https://github.com/evil/requests.git",
        ),
    ] {
        let lockfile = manifest::parse_lockfile(kind, &text).unwrap();
        let input = Input {
            manifest: &parsed,
            lockfile: Some(&lockfile),
            workspace: None,
            registries: &registries,
            constraints: Default::default(),
        };
        let analysis = engine::evaluate(&input, &Facts::default(), &Policy::default(), now);
        let requests = analysis
            .deps
            .iter()
            .find(|d| d.dep.package.name == "requests")
            .unwrap_or_else(|| panic!("{text}: {:?}", analysis.deps));
        assert_eq!(requests.dep.resolved.version.as_deref(), Some("2.31.0"), "{text}");
        assert!(
            matches!(&requests.status, engine::Status::Unavailable(why) if why.contains(&format!("installed from {url}"))),
            "{text}: {:?}",
            requests.status
        );
        assert!(analysis.unchecked() >= 1, "{text}");
    }
}

/// A transitive entry fetched from another host is listed as not checked, not dropped or checked as
/// the registry's package of that name and version.
#[test]
fn a_transitive_entry_from_outside_the_registry_is_not_checked() {
    let manifest_text = r#"{"dependencies": {"top": "^1.0.0"}}"#;
    let lock_text = r#"{"lockfileVersion": 3, "packages": {"": {"dependencies": {"top": "^1.0.0"}}, "node_modules/top": {"version": "1.0.0", "resolved": "https://registry.npmjs.org/top/-/top-1.0.0.tgz", "dependencies": {"left": "^1.0.0"}}, "node_modules/left": {"version": "1.0.0", "resolved": "https://evil.example/payload.tgz"}}}"#;
    let parsed = manifest::parse(ManifestKind::PackageJson, manifest_text);
    let lockfile = manifest::parse_lockfile(ManifestKind::PackageLock, lock_text).unwrap();
    let registries = RegistryRules::default();
    let input = Input {
        manifest: &parsed,
        lockfile: Some(&lockfile),
        workspace: None,
        registries: &registries,
        constraints: Default::default(),
    };
    let analysis = engine::evaluate(&input, &Facts::default(), &Policy::default(), Timestamp::UNIX_EPOCH);
    let left = analysis
        .deps
        .iter()
        .find(|d| d.dep.package.name == "left")
        .expect("the transitive entry is listed");
    assert!(
        matches!(&left.status, engine::Status::Unavailable(why) if why.contains("installed from https://evil.example/payload.tgz")),
        "{:?}",
        left.status
    );
}
