//! Shared inputs for the benches: a 300-dependency `package.json` built from real package names, the
//! real OSV records of `fixtures/osv`, and registry facts with synthetic version lists for every package.
//!
//! Everything is built once, before timing starts; only the pipeline stages are measured.

#![allow(dead_code)]

pub mod lsp_client;
pub mod osv_standin;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use gatehouse::engine::{Input, RegistryRules};
use gatehouse::manifest::{self, ManifestKind, SourceFile};
use gatehouse::model::{Advisory, Ecosystem, Fact, Facts, PackageFacts, PackageRef, VersionFacts};
use gatehouse::policy::Policy;
use gatehouse::{engine, report};
use jiff::Timestamp;

/// The shipped binary's allocator (`main.rs`), so the in-process benches measure what ships.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

pub fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures"))
}

pub fn read(relative: &str) -> String {
    let path = fixtures().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// The evaluation clock: fixed, so every run sees the same ages.
pub fn now() -> Timestamp {
    "2026-12-01T00:00:00Z".parse().unwrap()
}

/// The folders of real OSV records the benches index (the same set the e2e tests use).
pub fn osv_dirs() -> Vec<PathBuf> {
    let osv = fixtures().join("osv");
    vec![
        osv.join("npm"),
        osv.join("PyPI"),
        osv.join("crates.io"),
        osv.join("incidents/npm"),
    ]
}

/// Every OSV record under `fixtures/osv`, parsed by `lookup::advisories::osv_record::parse_record`, indexed under each npm
/// package its `affected[]` names.
pub fn npm_advisories() -> HashMap<String, Vec<Advisory>> {
    let mut res: HashMap<String, Vec<Advisory>> = HashMap::new();
    for dir in [fixtures().join("osv/npm"), fixtures().join("osv/incidents/npm")] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path).unwrap();
            let advisory = gatehouse::lookup::advisories::osv_record::parse_record(&bytes)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            let mut names = HashSet::new();
            for affected in &advisory.affected {
                if let Some(package) = &affected.package
                    && package.ecosystem == Ecosystem::Npm
                {
                    names.insert(package.name.clone());
                }
            }
            for name in names {
                res.entry(name).or_default().push(advisory.clone());
            }
        }
    }
    res
}

/// Packages pinned to versions the fixture advisories affect, so findings and fixes are computed.
const VULNERABLE: [(&str, &str); 10] = [
    ("lodash", "4.17.15"),
    ("ws", "7.4.0"),
    ("axios", "1.6.0"),
    ("semver", "7.5.1"),
    ("qs", "6.10.1"),
    ("express", "4.18.2"),
    ("node-fetch", "2.6.0"),
    ("minimist", "1.2.5"),
    ("event-stream", "3.3.6"),
    ("flatmap-stream", "0.1.1"),
];

fn is_plain_version(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `n` real npm package names with pinned versions: the vulnerable ones above, webpack's dependencies
/// (their range's lower bound), then npm-cli's lockfile packages (their locked version).
pub fn pinned_packages(n: usize) -> Vec<(String, String)> {
    let mut res: Vec<(String, String)> = Vec::new();
    let mut seen = HashSet::new();
    let mut push = |name: &str, version: &str, res: &mut Vec<(String, String)>| {
        if res.len() < n && is_plain_version(version) && seen.insert(name.to_string()) {
            res.push((name.to_string(), version.to_string()));
        }
    };
    for (name, version) in VULNERABLE {
        push(name, version, &mut res);
    }
    let webpack: serde_json::Value = serde_json::from_str(&read("manifests/large/webpack/package.json")).unwrap();
    for table in ["dependencies", "devDependencies"] {
        if let Some(deps) = webpack[table].as_object() {
            for (name, requirement) in deps {
                let version = requirement
                    .as_str()
                    .unwrap_or("")
                    .trim_start_matches(['^', '~', '=', 'v']);
                push(name, version, &mut res);
            }
        }
    }
    let lock: serde_json::Value = serde_json::from_str(&read("manifests/large/npm-cli/package-lock.json")).unwrap();
    for (key, entry) in lock["packages"].as_object().unwrap() {
        let Some((_, name)) = key.rsplit_once("node_modules/") else {
            continue;
        };
        if let Some(version) = entry["version"].as_str() {
            push(name, version, &mut res);
        }
    }
    assert_eq!(res.len(), n, "not enough real package names for {n} dependencies");
    res
}

/// A `package.json` declaring `packages` with exact versions: 60 % dependencies, 40 % devDependencies.
pub fn package_json(packages: &[(String, String)]) -> String {
    let split = packages.len() * 3 / 5;
    let table = |entries: &[(String, String)]| {
        entries
            .iter()
            .map(|(name, version)| format!("    \"{name}\": \"{version}\""))
            .collect::<Vec<_>>()
            .join(",\n")
    };
    format!(
        "{{\n  \"name\": \"bench-app\",\n  \"version\": \"1.0.0\",\n  \"private\": true,\n  \"dependencies\": {{\n{}\n  }},\n  \"devDependencies\": {{\n{}\n  }}\n}}\n",
        table(&packages[..split]),
        table(&packages[split..])
    )
}

/// The version one patch above `version` (`1.2.3` → `1.2.4`).
pub fn bump_patch(version: &str) -> String {
    match version.rsplit_once('.') {
        Some((head, patch)) => format!("{head}.{}", patch.parse::<u64>().unwrap_or(0) + 1),
        None => version.to_string(),
    }
}

/// Registry facts with a synthetic version list (majors 0-3 × minors 0-4 × patches 0-4, plus the
/// `extra` versions), all published long before `now()`, and the package's advisories.
pub fn facts_for(
    packages: &BTreeMap<String, BTreeMap<String, ()>>,
    advisories: &HashMap<String, Vec<Advisory>>,
) -> Facts {
    let as_of = now();
    let mut facts = Facts::default();
    let base: Timestamp = "2018-01-01T00:00:00Z".parse().unwrap();
    for (name, extra) in packages {
        let mut versions: Vec<String> = Vec::new();
        for major in 0..4 {
            for minor in 0..5 {
                for patch in 0..5 {
                    versions.push(format!("{major}.{minor}.{patch}"));
                }
            }
        }
        for version in extra.keys() {
            if !versions.contains(version) {
                versions.push(version.clone());
            }
        }
        let version_facts: Vec<VersionFacts> = versions
            .iter()
            .enumerate()
            .map(|(idx, version)| VersionFacts {
                version: version.as_str().into(),
                published: Some(base + jiff::SignedDuration::from_hours(idx as i64 * 24)).into(),
                digests: vec![integrity(name, version)].into(),
                ..VersionFacts::default()
            })
            .collect();
        let package = PackageRef::new(Ecosystem::Npm, name);
        facts.packages.insert(
            package.clone(),
            Fact::Known {
                value: std::sync::Arc::new(PackageFacts {
                    created: Some(base),
                    latest: versions.last().cloned(),
                    versions: version_facts,
                    ..PackageFacts::default()
                }),
                as_of,
                stale: false,
            },
        );
        facts.advisories.insert(
            package,
            Fact::Known {
                value: advisories.get(name).cloned().unwrap_or_default(),
                as_of,
                stale: false,
            },
        );
    }
    facts
}

/// `facts_for` the pinned `packages`: each with its pinned version, the next patch and every version its
/// advisories name, so an upgrade and the fix solver have real candidates.
pub fn pinned_facts(packages: &[(String, String)], advisories: &HashMap<String, Vec<Advisory>>) -> Facts {
    let mut wanted: BTreeMap<String, BTreeMap<String, ()>> = BTreeMap::new();
    for (name, version) in packages {
        let extra = wanted.entry(name.clone()).or_default();
        extra.insert(version.clone(), ());
        extra.insert(bump_patch(version), ());
        add_advisory_versions(extra, name, advisories);
    }
    facts_for(&wanted, advisories)
}

/// Adds every version an advisory names for `name` (introduced, fixed, last affected) to `extra`, so
/// the fix solver has real candidates.
pub fn add_advisory_versions(
    extra: &mut BTreeMap<String, ()>,
    name: &str,
    advisories: &HashMap<String, Vec<Advisory>>,
) {
    for advisory in advisories.get(name).into_iter().flatten() {
        for affected in &advisory.affected {
            if affected.package.as_ref().is_none_or(|p| p.name != name) {
                continue;
            }
            for range in &affected.ranges {
                for event in &range.events {
                    let version = match event {
                        gatehouse::model::RangeEvent::Introduced(v)
                        | gatehouse::model::RangeEvent::Fixed(v)
                        | gatehouse::model::RangeEvent::LastAffected(v)
                        | gatehouse::model::RangeEvent::Limit(v) => v,
                    };
                    if is_plain_version(version) {
                        extra.insert(version.clone(), ());
                    }
                }
            }
        }
    }
}

/// The warm path's state for one open 300-dependency `package.json`.
pub struct Warm {
    pub source: SourceFile,
    pub facts: Facts,
    /// The same facts shared, for `keystroke_memoized` (the editor's path).
    pub shared: std::sync::Arc<Facts>,
    pub memo: engine::Memo,
    pub policy: Policy,
    pub registries: RegistryRules,
    /// Byte offset of the last digit of one dependency's version, in the middle of the file.
    pub edit_at: usize,
    /// The two digits the keystroke alternates between.
    pub digits: [String; 2],
}

pub fn warm(n_deps: usize) -> Warm {
    let packages = pinned_packages(n_deps);
    let text = package_json(&packages);
    let advisories = npm_advisories();
    let mut wanted: BTreeMap<String, BTreeMap<String, ()>> = BTreeMap::new();
    for (name, version) in &packages {
        let extra = wanted.entry(name.clone()).or_default();
        extra.insert(version.clone(), ());
        extra.insert(bump_patch(version), ());
        add_advisory_versions(extra, name, &advisories);
    }
    let facts = facts_for(&wanted, &advisories);
    let (name, version) = &packages[n_deps / 2];
    let needle = format!("\"{name}\": \"{version}\"");
    let at = text.find(&needle).unwrap() + needle.len() - 1;
    let old = text[at - 1..at].to_string();
    let bumped = bump_patch(version);
    let new = bumped[bumped.len() - 1..].to_string();
    // The edit replaces the version's last character, so both versions must differ only there.
    assert_eq!(
        bumped.len(),
        version.len(),
        "pick a dependency whose patch bump keeps its length"
    );
    Warm {
        source: SourceFile::new(ManifestKind::PackageJson, text),
        shared: std::sync::Arc::new(facts.clone()),
        memo: engine::Memo::default(),
        facts,
        policy: Policy::default(),
        registries: RegistryRules::default(),
        edit_at: at - 1,
        digits: [new, old],
    }
}

impl Warm {
    /// One keystroke: replace one character, reparse incrementally, evaluate, convert to diagnostics.
    /// Returns the number of diagnostics so the work cannot be optimised away.
    pub fn keystroke(&mut self, iteration: usize) -> usize {
        self.run(iteration, None)
    }

    /// `keystroke` as the editor runs it: the evaluation reuses the document's memo, at one `now` (the
    /// editor's clock ticks once a minute).
    pub fn keystroke_memoized(&mut self, iteration: usize, at: jiff::Timestamp) -> usize {
        self.run(iteration, Some(at))
    }

    fn run(&mut self, iteration: usize, memoized_at: Option<jiff::Timestamp>) -> usize {
        let digit = &self.digits[iteration % 2];
        self.source.edit(self.edit_at, self.edit_at + 1, digit);
        let parsed = self.source.parsed();
        let input = Input {
            manifest: parsed,
            lockfile: None,
            workspace: None,
            registries: &self.registries,
            constraints: Default::default(),
        };
        let analysis = match memoized_at {
            Some(at) => engine::evaluate_memoized(&input, &self.shared, &self.policy, at, &mut self.memo),
            None => engine::evaluate(&input, &self.facts, &self.policy, now()),
        };
        report::lsp::to_diagnostics(self.source.text(), parsed, &analysis, true).len()
    }
}

/// npm-cli's `package.json` and `package-lock.json`, with facts for every locked package.
pub struct Transitive {
    pub manifest: manifest::Parsed,
    pub lockfile: manifest::Lockfile,
    pub facts: Facts,
    pub policy: Policy,
    pub registries: RegistryRules,
}

pub fn transitive() -> Transitive {
    let manifest = manifest::parse(ManifestKind::PackageJson, &read("manifests/large/npm-cli/package.json"));
    let lockfile = manifest::parse_lockfile(
        ManifestKind::PackageLock,
        &read("manifests/large/npm-cli/package-lock.json"),
    )
    .unwrap();
    let advisories = npm_advisories();
    let mut wanted: BTreeMap<String, BTreeMap<String, ()>> = BTreeMap::new();
    for package in &lockfile.packages {
        let extra = wanted.entry(package.name.clone()).or_default();
        extra.insert(package.version.clone(), ());
        add_advisory_versions(extra, &package.name, &advisories);
    }
    for dep in &manifest.deps {
        wanted.entry(dep.package.clone()).or_default();
    }
    let facts = facts_for(&wanted, &advisories);
    Transitive {
        manifest,
        lockfile,
        facts,
        policy: Policy::default(),
        registries: RegistryRules::default(),
    }
}

impl Transitive {
    pub fn evaluate(&self) -> engine::Analysis {
        let input = Input {
            manifest: &self.manifest,
            lockfile: Some(&self.lockfile),
            workspace: None,
            registries: &self.registries,
            constraints: Default::default(),
        };
        engine::evaluate(&input, &self.facts, &self.policy, now())
    }
}

/// Sorted durations → (p50, p95, p99, max) in microseconds.
pub fn percentiles(samples: &mut [std::time::Duration]) -> [f64; 4] {
    samples.sort();
    let at = |q: f64| {
        let idx = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[idx].as_secs_f64() * 1e6
    };
    [
        at(0.50),
        at(0.95),
        at(0.99),
        samples[samples.len() - 1].as_secs_f64() * 1e6,
    ]
}

/// Writes one npm packument per package of `facts` under `root/npm/` (scoped names as `@scope/name`,
/// which is what the fixture server decodes `@scope%2fname` to).
pub fn write_packuments(root: &std::path::Path, facts: &gatehouse::model::Facts) {
    for (package, fact) in &facts.packages {
        let Fact::Known { value, .. } = fact else {
            continue;
        };
        let mut versions = serde_json::Map::new();
        let mut time = serde_json::Map::new();
        if let Some(created) = value.created {
            time.insert("created".into(), serde_json::json!(created.to_string()));
        }
        for version in &value.versions {
            versions.insert(
                version.version.to_string(),
                serde_json::json!({"name": package.name, "version": version.version,
                       "dist": {"integrity": version.digests.first()}}),
            );
            if let Some(published) = version.published() {
                time.insert(version.version.to_string(), serde_json::json!(published.to_string()));
            }
        }
        let packument = serde_json::json!({
            "name": package.name,
            "dist-tags": {"latest": value.latest},
            "versions": versions,
            "time": time,
        });
        let path = root.join("npm").join(&package.name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_vec(&packument).unwrap()).unwrap();
    }
}

/// A sha512 `integrity` as long as npm's (`sha512-` and 88 characters of base64), different for every
/// name and version: what a real packument gives each version, and what the server keeps of it.
pub fn integrity(name: &str, version: &str) -> String {
    use base64::Engine;
    use std::hash::{Hash, Hasher};
    let mut bytes = Vec::with_capacity(64);
    for part in 0u8..8 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (name, version, part).hash(&mut hasher);
        bytes.extend_from_slice(&hasher.finish().to_le_bytes());
    }
    format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}
