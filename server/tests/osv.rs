//! OSV end to end on real records: parsing, the offline database (folders and `all.zip`), the incident
//! cases, the range-semantics oracle on PyPA records, and the online client against a loopback stand-in.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gatehouse::checks::advisory::{self, affects, ranges_affect};
use gatehouse::checks::{AgeThresholds, CheckCtx, Finding, FindingKind, ResolvedDep};
use gatehouse::lookup::advisories::offline_db::OfflineDb;
use gatehouse::lookup::advisories::osv_api::OsvClient;
use gatehouse::lookup::advisories::osv_record::parse_record;
use gatehouse::lookup::{Advisories, LookupError};
use gatehouse::model::{Advisory, Ecosystem, Fact, Facts, PackageRef, Severity, Span};
use gatehouse::resolve::{Requirement, Resolved, Version, VersionSource};
use jiff::Timestamp;

const OSV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/osv");
const PYPI_REGISTRY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/registry/pypi");

/// Every OSV record file under `dir` (the incident `cases.json` is not a record).
fn record_files(dir: &Path) -> Vec<PathBuf> {
    let mut res = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") && !path.ends_with("cases.json") {
                res.push(path);
            }
        }
    }
    res.sort();
    res
}

#[test]
fn every_fixture_record_parses() {
    let files = record_files(Path::new(OSV));
    assert_eq!(files.len(), 175);
    for path in &files {
        let advisory = parse_record(&std::fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert!(path.ends_with(format!("{}.json", advisory.id)), "{path:?}");
        assert!(advisory.modified.is_some(), "{path:?}");
        assert!(advisory.url.is_some());
        assert!(advisory.affected.iter().all(|a| a.package.is_some()), "{path:?}");
    }
    let ghsa = parse_record(&std::fs::read(format!("{OSV}/npm/GHSA-r683-j2x4-v87g.json")).unwrap()).unwrap();
    assert_eq!(ghsa.aliases, ["CVE-2022-0235"]);
    assert_eq!(ghsa.database_severity.as_deref(), Some("HIGH"));
    assert_eq!(ghsa.cwes, ["CWE-173", "CWE-200", "CWE-601"]);
    // No ADVISORY reference names the record itself (NVD's page is about the CVE alias), so the
    // link is OSV's page for the id.
    assert_eq!(
        ghsa.url.as_deref(),
        Some("https://osv.dev/vulnerability/GHSA-r683-j2x4-v87g")
    );
    assert_eq!(
        ghsa.affected[0].last_known_affected_version_range.as_deref(),
        Some("< 3.1.1")
    );
    let pysec = parse_record(&std::fs::read(format!("{OSV}/PyPI/PYSEC-2025-74.json")).unwrap()).unwrap();
    assert!(pysec.withdrawn.is_some());
}

#[test]
fn broken_records_are_errors_not_panics() {
    let good = std::fs::read(format!("{OSV}/incidents/npm/MAL-2025-20690.json")).unwrap();
    let end = good.trim_ascii_end().len();
    for cut in [0, 1, 10, good.len() / 2, end - 1] {
        assert!(parse_record(&good[..cut]).is_err(), "cut at {cut}");
    }
    assert!(parse_record(b"[]").is_err());
    assert!(parse_record(b"{\"summary\": \"no id\"}").is_err());
    // Unknown fields, nulls and an unknown range type are tolerated.
    let odd = br#"{"id":"X-1","aliases":null,"new_field":{"a":1},"affected":[{"package":{"ecosystem":"Go","name":"x"}},
        {"package":{"ecosystem":"PyPI","name":"Foo_Bar"},"ranges":[{"type":"SOMETHING_NEW","events":[{"introduced":"0"}]}]}]}"#;
    let advisory = parse_record(odd).unwrap();
    assert_eq!(advisory.affected[0].package, None);
    assert_eq!(
        advisory.affected[1].package,
        Some(PackageRef::new(Ecosystem::PyPI, "foo-bar"))
    );
    assert_eq!(advisory.url.as_deref(), Some("https://osv.dev/vulnerability/X-1"));
}

fn load_fixture_db() -> OfflineDb {
    let (db, errors) = OfflineDb::load(&[PathBuf::from(OSV)]);
    // The one non-record JSON file in the tree is reported, with its path, and nothing else is lost.
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("cases.json"), "{errors:?}");
    assert_eq!(db.len(), 175);
    db
}

#[test]
fn offline_db_indexes_every_affected_package() {
    let db = load_fixture_db();
    let lodash_es = db.get(&PackageRef::new(Ecosystem::Npm, "lodash-es"));
    assert!(!lodash_es.is_empty());
    let event_stream = db.get(&PackageRef::new(Ecosystem::Npm, "event-stream"));
    let flatmap = db.get(&PackageRef::new(Ecosystem::Npm, "flatmap-stream"));
    assert_eq!(event_stream.len(), 1);
    assert_eq!(flatmap.len(), 2);
    assert!(db.get(&PackageRef::new(Ecosystem::PyPI, "PyYAML")).len() >= 3);
    assert!(db.get(&PackageRef::new(Ecosystem::Npm, "left-pad")).is_empty());
}

#[test]
fn offline_db_reads_all_zip() {
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("all.zip");
    let file = std::fs::File::create(&zip_path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default();
    let mut names = Vec::new();
    for path in record_files(&Path::new(OSV).join("npm")) {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        zip.start_file(name.as_str(), options).unwrap();
        std::io::Write::write_all(&mut zip, &std::fs::read(&path).unwrap()).unwrap();
        names.push(name);
    }
    // A member that is not a record, as a real export never has but a damaged one might.
    zip.start_file("BROKEN-1.json", options).unwrap();
    std::io::Write::write_all(&mut zip, b"{\"id\": \"BROKEN-1\", \"affected\": [").unwrap();
    zip.finish().unwrap();

    let (db, errors) = OfflineDb::load(std::slice::from_ref(&zip_path));
    assert_eq!(db.len(), names.len());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("all.zip:BROKEN-1.json"), "{errors:?}");
    let lodash = db.get(&PackageRef::new(Ecosystem::Npm, "lodash"));
    assert!(lodash.iter().any(|a| a.id == "GHSA-35jh-r3h4-6jhm"));

    // A file that is not a zip, and a path that does not exist, are errors with their paths.
    let not_zip = dir.path().join("bad.zip");
    std::fs::write(&not_zip, b"not a zip").unwrap();
    let missing = dir.path().join("missing.json");
    let (db, errors) = OfflineDb::load(&[not_zip, missing]);
    assert!(db.is_empty());
    assert_eq!(errors.len(), 2);
    assert!(
        errors[0].contains("bad.zip") && errors[1].contains("missing.json"),
        "{errors:?}"
    );
}

fn run_check(db: &OfflineDb, package: &PackageRef, version: &str) -> Vec<Finding> {
    let mut facts = Facts::default();
    facts.advisories.insert(
        package.clone(),
        Fact::Known {
            value: db.get(package).to_vec(),
            as_of: Timestamp::UNIX_EPOCH,
            stale: false,
        },
    );
    let dep = ResolvedDep {
        package: package.clone(),
        requirement_text: Some(version.to_string()),
        requirement: None,
        resolved: Resolved {
            version: Some(version.to_string()),
            source: VersionSource::Lockfile,
        },
        span: Span::new(0, 1),
        via: Vec::new(),
        private: false,
    };
    let age = AgeThresholds::default();
    let ctx = CheckCtx {
        now: Timestamp::UNIX_EPOCH,
        facts: &facts,
        age: &age,
        signals: &gatehouse::checks::signals::SignalRules::default(),
    };
    let mut acc = Vec::new();
    advisory::check(&ctx, 0, &dep, &mut acc);
    acc
}

#[derive(serde::Deserialize)]
struct Case {
    ecosystem: String,
    name: String,
    version: String,
    expect: String,
    #[serde(default)]
    record_ids: Vec<String>,
}

#[test]
fn incidents() {
    let db = load_fixture_db();
    let cases: Vec<Case> =
        serde_json::from_slice(&std::fs::read(format!("{OSV}/incidents/cases.json")).unwrap()).unwrap();
    assert_eq!(cases.len(), 5);
    let mut report = Vec::new();
    for case in &cases {
        let ecosystem = Ecosystem::from_osv_name(&case.ecosystem).unwrap();
        let package = PackageRef::new(ecosystem, &case.name);
        let findings = run_check(&db, &package, &case.version);
        match case.expect.as_str() {
            "error" => {
                assert!(!findings.is_empty(), "{} {}", case.name, case.version);
                for finding in &findings {
                    assert_eq!(finding.kind, FindingKind::Malicious, "{finding:?}");
                    assert_eq!(finding.severity, Severity::Error, "{finding:?}");
                }
                let named: BTreeSet<&str> = findings
                    .iter()
                    .flat_map(|f| std::iter::once(f.id.as_str()).chain(f.aliases.iter().map(String::as_str)))
                    .collect();
                for id in &case.record_ids {
                    assert!(
                        named.contains(id.as_str()),
                        "{} {}: {id} missing",
                        case.name,
                        case.version
                    );
                }
            }
            "clean" => assert!(findings.is_empty(), "{findings:?}"),
            other => panic!("unknown expectation {other}"),
        }
        for finding in &findings {
            report.push(finding.message.clone());
        }
    }
    insta::assert_snapshot!(report.join("\n"), @r"
    event-stream 3.3.6 is malicious: GHSA-mh6f-8j2x-4483 (Critical severity vulnerability that affects event-stream and flatmap-stream)
    flatmap-stream 0.1.1 is malicious: MAL-2025-20690 (Malicious code in flatmap-stream (npm))
    flatmap-stream 0.1.1 is malicious: GHSA-mh6f-8j2x-4483 (Critical severity vulnerability that affects event-stream and flatmap-stream)
    ctx 0.2.2 is malicious: PYSEC-2022-199
    ");
}

#[test]
fn real_record_shapes() {
    let db = load_fixture_db();
    let node_fetch = PackageRef::new(Ecosystem::Npm, "node-fetch");
    // GHSA-r683-j2x4-v87g's fixed 1.0.0 sorts below its introduced 3.0.0; read with its
    // last_known_affected_version_range (< 3.1.1 and < 2.6.7).
    let ids = |package: &PackageRef, version: &str| -> Vec<String> {
        run_check(&db, package, version).into_iter().map(|f| f.id).collect()
    };
    assert!(ids(&node_fetch, "3.1.0").contains(&"GHSA-r683-j2x4-v87g".to_string()));
    assert!(ids(&node_fetch, "2.6.6").contains(&"GHSA-r683-j2x4-v87g".to_string()));
    assert!(!ids(&node_fetch, "3.1.1").contains(&"GHSA-r683-j2x4-v87g".to_string()));

    // GHSA and RUSTSEC twins merge into one finding per vulnerability: no id is named twice.
    for (name, version) in [
        ("smallvec", "1.6.0"),
        ("hyper", "0.14.9"),
        ("tokio", "1.8.0"),
        ("regex", "1.5.4"),
    ] {
        let package = PackageRef::new(Ecosystem::CratesIo, name);
        let findings = run_check(&db, &package, version);
        assert!(!findings.is_empty(), "{name} {version}");
        let mut seen = BTreeSet::new();
        for finding in &findings {
            for id in std::iter::once(&finding.id).chain(&finding.aliases) {
                assert!(seen.insert(id.clone()), "{id} named twice for {name} {version}");
            }
        }
    }
    let time = PackageRef::new(Ecosystem::CratesIo, "time");
    let findings = run_check(&db, &time, "0.1.45");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].id, "GHSA-wcg3-cvx6-7396");
    assert!(findings[0].aliases.contains(&"RUSTSEC-2020-0071".to_string()));

    // The withdrawn record affects nothing.
    let withdrawn = db
        .get(&PackageRef::new(Ecosystem::PyPI, "jinja2"))
        .iter()
        .find(|a| a.id == "PYSEC-2025-74")
        .unwrap()
        .clone();
    let jinja2 = PackageRef::new(Ecosystem::PyPI, "jinja2");
    assert!(
        ["2.0", "3.1.4", "3.1.5"]
            .iter()
            .all(|v| !affects(&withdrawn, &jinja2, v))
    );

    // lodash: the hover texts.
    let lodash = PackageRef::new(Ecosystem::Npm, "lodash");
    let findings = run_check(&db, &lodash, "4.17.15");
    let cmd = findings.iter().find(|f| f.id == "GHSA-35jh-r3h4-6jhm").unwrap();
    assert_eq!(
        cmd.message,
        "lodash 4.17.15 is affected by GHSA-35jh-r3h4-6jhm (Command Injection in lodash)"
    );
    assert_eq!(cmd.severity, Severity::Error);
    let record = db.get(&lodash).iter().find(|a| a.id == "GHSA-35jh-r3h4-6jhm").unwrap();
    assert_eq!(advisory::describe_ranges(record, &lodash), ">=0, <4.17.21");
    assert_eq!(advisory::fixed_versions(record, &lodash), ["4.17.21"]);
}

/// Only the incident records read as malicious; "a malicious user/server/file" in a vulnerability's
/// text does not. Every record's default severity is in the snapshot for review.
#[test]
fn classification_of_every_fixture_record() {
    let mut malicious = Vec::new();
    let mut lines = Vec::new();
    for path in record_files(Path::new(OSV)) {
        let record = parse_record(&std::fs::read(&path).unwrap()).unwrap();
        let (kind, severity) = advisory::classify(&record);
        if kind == FindingKind::Malicious {
            malicious.push(record.id.clone());
        }
        lines.push(format!(
            "{} {} {} {}",
            record.id,
            kind.code(),
            severity,
            advisory::severity_label(&record)
        ));
    }
    malicious.sort();
    assert_eq!(malicious, ["GHSA-mh6f-8j2x-4483", "MAL-2025-20690", "PYSEC-2022-199"]);
    lines.sort();
    insta::assert_snapshot!("classification", lines.join("\n"));
}

/// Releases listed in a recorded PyPI JSON API answer.
fn pypi_releases(name: &str) -> Option<Vec<String>> {
    let bytes = std::fs::read(format!("{PYPI_REGISTRY}/{name}.json")).ok()?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    Some(json.get("releases")?.as_object()?.keys().cloned().collect())
}

/// Range semantics alone against each PyPA record's own enumerated `versions` list, over the listed
/// versions and every release PyPI lists for the package.
///
/// Measured on these fixtures: 13228 (record, version) pairs, 13226 agree, 2 disagree (99.98%); 47
/// (record, package) pairs were also checked against every release of the recorded PyPI answers
/// (requests, urllib3, jinja2, pyyaml, setuptools; pillow, flask and werkzeug have no registry fixture,
/// so only their listed versions are checked).
///
/// The two disagreements are the data's, not the evaluator's: PYSEC-2025-49 (setuptools, fixed in
/// 78.1.1) leaves 75.3.3 and 75.3.4 out of its list although they are below the fix. They were uploaded
/// on 2026-01-14 and 2026-02-08, after the record was last modified (2025-06-12), as releases on the
/// 75.3 maintenance line; the list was never regenerated.
/// Whether those backports carry the fix the record does not say; by its range they are affected, and
/// that is what Gatehouse reports. The other known self-disagreement of the data, 17
/// pillow records whose range covers 11.2.0 while the list omits it (11.2.0 was pulled from PyPI),
/// is measured separately (no pillow release list is recorded here, so it is not among the pairs).
#[test]
fn pypa_ranges_agree_with_their_version_lists() {
    let mut agree = 0usize;
    let mut disagree = 0usize;
    let mut checked_against_registry = 0usize;
    // record → (in range but not listed, listed but not in range)
    let mut disagreements: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for path in record_files(&Path::new(OSV).join("PyPI")) {
        let record = parse_record(&std::fs::read(&path).unwrap()).unwrap();
        let packages: BTreeSet<PackageRef> = record.affected.iter().filter_map(|a| a.package.clone()).collect();
        for package in packages {
            let listed: Vec<String> = record
                .affected
                .iter()
                .filter(|a| a.package.as_ref() == Some(&package))
                .flat_map(|a| a.versions.iter().cloned())
                .collect();
            let listed_parsed: Vec<Option<Version>> =
                listed.iter().map(|v| Version::parse(Ecosystem::PyPI, v)).collect();
            let is_listed = |version: &str| {
                let parsed = Version::parse(Ecosystem::PyPI, version);
                listed
                    .iter()
                    .zip(&listed_parsed)
                    .any(|(text, p)| text == version || matches!((p, &parsed), (Some(a), Some(b)) if a == b))
            };
            let mut candidates: BTreeSet<String> = listed.iter().cloned().collect();
            if let Some(releases) = pypi_releases(&package.name) {
                checked_against_registry += 1;
                candidates.extend(releases);
            }
            for version in candidates {
                let in_range = ranges_affect(&record, &package, &version);
                if in_range == is_listed(&version) {
                    agree += 1;
                    continue;
                }
                disagree += 1;
                let entry = disagreements
                    .entry(format!("{} {}", record.id, package.name))
                    .or_default();
                if in_range {
                    entry.0.insert(version);
                } else {
                    entry.1.insert(version);
                }
            }
        }
    }
    let total = agree + disagree;
    let mut report = format!(
        "pairs: {total}, agree: {agree}, disagree: {disagree}, agreement: {:.2}%, records checked against PyPI releases: {checked_against_registry}\n",
        100.0 * agree as f64 / total as f64
    );
    for (record, (in_range, listed)) in &disagreements {
        report.push_str(record);
        report.push('\n');
        if !in_range.is_empty() {
            report.push_str(&format!("  in range, not listed: {}\n", sorted(in_range).join(", ")));
        }
        if !listed.is_empty() {
            report.push_str(&format!("  listed, not in range: {}\n", sorted(listed).join(", ")));
        }
    }
    // pillow 11.2.0 was pulled from PyPI: the ranges of the records fixed after it cover it, their
    // lists (generated from PyPI's releases) do not.
    let pillow = PackageRef::new(Ecosystem::PyPI, "pillow");
    let pulled: Vec<String> = record_files(&Path::new(OSV).join("PyPI"))
        .iter()
        .map(|path| parse_record(&std::fs::read(path).unwrap()).unwrap())
        .filter(|record| {
            ranges_affect(record, &pillow, "11.2.0")
                && !record.affected.iter().any(|a| a.versions.iter().any(|v| v == "11.2.0"))
        })
        .map(|record| record.id)
        .collect();
    report.push_str(&format!(
        "pillow 11.2.0 (pulled from PyPI): in range, not listed in {} records\n",
        pulled.len()
    ));
    insta::assert_snapshot!("pypa_range_oracle", report);
    // The data disagrees with itself in a few places (see the doc comment); the evaluator must
    // agree with the lists on at least 99.9% of (record, version) pairs, and no listed version may
    // fall outside its record's ranges (that would be an evaluator bug, not a late release).
    assert!(agree as f64 / total as f64 >= 0.999, "{report}");
    assert!(disagreements.values().all(|(_, listed)| listed.is_empty()), "{report}");
}

fn sorted(versions: &BTreeSet<String>) -> Vec<String> {
    let mut res: Vec<String> = versions.iter().cloned().collect();
    res.sort_by(|a, b| gatehouse::resolve::compare_versions(Ecosystem::PyPI, a, b));
    res
}

#[test]
fn requirement_oracle_on_real_records() {
    let db = load_fixture_db();
    let requests = PackageRef::new(Ecosystem::PyPI, "requests");
    let req = Requirement::parse(Ecosystem::PyPI, ">=2.31", false).unwrap();
    let admitted: Vec<&str> = db
        .get(&requests)
        .iter()
        .filter(|a| advisory::admits_affected(a, &requests, &req))
        .map(|a| a.id.as_str())
        .collect();
    // Every requests record fixed at or after 2.32 is admitted by >=2.31; earlier ones are not.
    for record in db.get(&requests) {
        let fixes = advisory::fixed_versions(record, &requests);
        let fixed_after = fixes
            .iter()
            .any(|f| gatehouse::resolve::compare_versions(Ecosystem::PyPI, f, "2.31") == std::cmp::Ordering::Greater);
        assert_eq!(
            admitted.contains(&record.id.as_str()),
            fixed_after && record.withdrawn.is_none(),
            "{}",
            record.id
        );
    }
}

// ---- the online client against a loopback stand-in ----

#[derive(Clone)]
enum Fault {
    Status(u16),
    Slow(Duration),
    Truncated,
}

#[derive(Default)]
struct StandIn {
    records: HashMap<String, Vec<u8>>,
    by_package: HashMap<(String, String), Vec<String>>,
    /// Packages whose ids come in pages of this size.
    page_size: HashMap<String, usize>,
    batch_fault: Option<Fault>,
    record_faults: HashMap<String, Fault>,
    /// Every record answer waits this long (to make concurrent fetches overlap).
    record_delay: Option<Duration>,
    batch_calls: AtomicUsize,
    record_calls: AtomicUsize,
    largest_batch: AtomicUsize,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

struct Reply {
    status: u16,
    body: Vec<u8>,
    delay: Option<Duration>,
}

impl StandIn {
    fn from_fixtures() -> StandIn {
        let mut stand_in = StandIn::default();
        for path in record_files(Path::new(OSV)) {
            let bytes = std::fs::read(&path).unwrap();
            let record = parse_record(&bytes).unwrap();
            for affected in &record.affected {
                if let Some(package) = &affected.package {
                    let key = (package.ecosystem.osv_name().to_string(), package.name.clone());
                    let ids = stand_in.by_package.entry(key).or_default();
                    if !ids.contains(&record.id) {
                        ids.push(record.id.clone());
                    }
                }
            }
            stand_in.records.insert(record.id.clone(), bytes);
        }
        stand_in
    }

    fn fault_reply(fault: &Fault, body: Vec<u8>) -> Reply {
        match fault {
            Fault::Status(status) => Reply {
                status: *status,
                body: b"{\"code\":13,\"message\":\"internal\"}".to_vec(),
                delay: None,
            },
            Fault::Slow(delay) => Reply {
                status: 200,
                body,
                delay: Some(*delay),
            },
            Fault::Truncated => Reply {
                status: 200,
                body: body[..body.len() / 2].to_vec(),
                delay: None,
            },
        }
    }

    fn answer(&self, method: &str, path: &str, body: &[u8]) -> Reply {
        if method == "POST" && path == "/v1/querybatch" {
            self.batch_calls.fetch_add(1, Ordering::SeqCst);
            let request: serde_json::Value = serde_json::from_slice(body).unwrap();
            let mut results = Vec::new();
            let queries = request["queries"].as_array().unwrap();
            self.largest_batch.fetch_max(queries.len(), Ordering::SeqCst);
            for query in queries {
                assert!(query.get("version").is_none(), "queries must not carry a version");
                let name = query["package"]["name"].as_str().unwrap().to_string();
                let ecosystem = query["package"]["ecosystem"].as_str().unwrap().to_string();
                let ids = self
                    .by_package
                    .get(&(ecosystem, name.clone()))
                    .cloned()
                    .unwrap_or_default();
                let page: usize = query
                    .get("page_token")
                    .and_then(|t| t.as_str())
                    .map(|t| t.trim_start_matches("page-").parse().unwrap())
                    .unwrap_or(0);
                let size = self.page_size.get(&name).copied().unwrap_or(usize::MAX);
                let chunk: Vec<serde_json::Value> = ids
                    .iter()
                    .skip(page.saturating_mul(size))
                    .take(size)
                    .map(|id| serde_json::json!({"id": id, "modified": "2024-01-01T00:00:00Z"}))
                    .collect();
                let mut result = serde_json::Map::new();
                if !chunk.is_empty() {
                    result.insert("vulns".to_string(), serde_json::Value::Array(chunk));
                }
                if size != usize::MAX && (page + 1) * size < ids.len() {
                    result.insert("next_page_token".to_string(), format!("page-{}", page + 1).into());
                }
                results.push(serde_json::Value::Object(result));
            }
            let body = serde_json::to_vec(&serde_json::json!({ "results": results })).unwrap();
            return match &self.batch_fault {
                Some(fault) => StandIn::fault_reply(fault, body),
                None => Reply {
                    status: 200,
                    body,
                    delay: None,
                },
            };
        }
        if method == "GET"
            && let Some(id) = path.strip_prefix("/v1/vulns/")
        {
            self.record_calls.fetch_add(1, Ordering::SeqCst);
            let Some(body) = self.records.get(id).cloned() else {
                return Reply {
                    status: 404,
                    body: b"{\"code\":5,\"message\":\"Bug not found.\"}".to_vec(),
                    delay: None,
                };
            };
            return match self.record_faults.get(id) {
                Some(fault) => StandIn::fault_reply(fault, body),
                None => Reply {
                    status: 200,
                    body,
                    delay: self.record_delay,
                },
            };
        }
        Reply {
            status: 404,
            body: Vec::new(),
            delay: None,
        }
    }
}

/// Serves `stand_in` on 127.0.0.1 (port 0) with a minimal HTTP/1.1 loop, one request per connection.
async fn serve(stand_in: Arc<StandIn>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let stand_in = stand_in.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 8192];
                let head_end = loop {
                    let Ok(n) = socket.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    if let Some(pos) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        break pos + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
                let mut lines = head.lines();
                let mut first = lines.next().unwrap_or_default().split_whitespace();
                let method = first.next().unwrap_or_default().to_string();
                let path = first.next().unwrap_or_default().to_string();
                let length: usize = lines
                    .filter_map(|l| l.split_once(':'))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                    .map(|(_, v)| v.trim().parse().unwrap())
                    .unwrap_or(0);
                while buffer.len() < head_end + length {
                    let Ok(n) = socket.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                }
                let reply = stand_in.answer(&method, &path, &buffer[head_end..head_end + length]);
                let now = stand_in.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                stand_in.most_in_flight.fetch_max(now, Ordering::SeqCst);
                if let Some(delay) = reply.delay {
                    tokio::time::sleep(delay).await;
                }
                stand_in.in_flight.fetch_sub(1, Ordering::SeqCst);
                let head = format!(
                    "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    reply.status,
                    reply.body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&reply.body).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{address}")
}

fn client(base: &str) -> OsvClient {
    // The shared hardened client, as production holds it.
    let http = gatehouse::lookup::http::HttpClient::new(Default::default(), Default::default()).unwrap();
    // Room for the two retries after a 500 (200 + 400 ms of backoff) on a loaded machine; a `Slow`
    // fault is far longer than this.
    OsvClient::new(Arc::new(http), base).with_timeout(Duration::from_secs(3))
}

fn ids_of(answer: &Result<gatehouse::lookup::Fetched<Vec<Advisory>>, LookupError>) -> BTreeSet<String> {
    answer.as_ref().unwrap().value.iter().map(|a| a.id.clone()).collect()
}

#[tokio::test]
async fn online_client_pages_and_deduplicates() {
    let mut stand_in = StandIn::from_fixtures();
    stand_in.page_size.insert("requests".to_string(), 3);
    stand_in.record_delay = Some(Duration::from_millis(40));
    let stand_in = Arc::new(stand_in);
    let base = serve(stand_in.clone()).await;
    let packages = [
        PackageRef::new(Ecosystem::PyPI, "Requests"),
        PackageRef::new(Ecosystem::Npm, "event-stream"),
        PackageRef::new(Ecosystem::Npm, "flatmap-stream"),
        PackageRef::new(Ecosystem::Npm, "left-pad"),
        PackageRef::new(Ecosystem::CratesIo, "time"),
    ];
    let answers = client(&base).advisories(&packages).await;
    assert_eq!(answers.len(), packages.len());
    let requests_ids = stand_in.by_package[&("PyPI".to_string(), "requests".to_string())].clone();
    assert!(requests_ids.len() > 6, "pagination needs several pages");
    assert_eq!(ids_of(&answers[0].1), requests_ids.iter().cloned().collect());
    assert_eq!(
        ids_of(&answers[1].1),
        BTreeSet::from(["GHSA-mh6f-8j2x-4483".to_string()])
    );
    assert_eq!(
        ids_of(&answers[2].1),
        BTreeSet::from(["GHSA-mh6f-8j2x-4483".to_string(), "MAL-2025-20690".to_string()])
    );
    // No advisory is an answer, not a failure.
    assert!(ids_of(&answers[3].1).is_empty());
    assert_eq!(ids_of(&answers[4].1).len(), 2);
    // One record per id, however many packages name it.
    let unique: BTreeSet<String> = answers.iter().flat_map(|(_, a)| ids_of(a)).collect();
    assert_eq!(stand_in.record_calls.load(Ordering::SeqCst), unique.len());
    assert!(stand_in.batch_calls.load(Ordering::SeqCst) >= 3);
    // Fetched concurrently, at most 8 at a time.
    let most = stand_in.most_in_flight.load(Ordering::SeqCst);
    assert!((2..=8).contains(&most), "{most} requests in flight at once");
    // The full record came through.
    let mal = answers[2]
        .1
        .as_ref()
        .unwrap()
        .value
        .iter()
        .find(|a| a.id == "MAL-2025-20690")
        .unwrap();
    assert_eq!(mal.summary, "Malicious code in flatmap-stream (npm)");
}

#[tokio::test]
async fn online_client_failures_are_per_package_errors() {
    let packages = [
        PackageRef::new(Ecosystem::Npm, "event-stream"),
        PackageRef::new(Ecosystem::Npm, "lodash"),
        PackageRef::new(Ecosystem::Npm, "minimist"),
        PackageRef::new(Ecosystem::Npm, "node-fetch"),
        PackageRef::new(Ecosystem::Npm, "left-pad"),
    ];

    // querybatch answers 500: every package is an error, none is "clean".
    let mut stand_in = StandIn::from_fixtures();
    stand_in.batch_fault = Some(Fault::Status(500));
    let base = serve(Arc::new(stand_in)).await;
    for (_, answer) in client(&base).advisories(&packages).await {
        assert!(
            matches!(answer, Err(LookupError::Status { status: 500, .. })),
            "{answer:?}"
        );
    }

    // querybatch answers truncated JSON.
    let mut stand_in = StandIn::from_fixtures();
    stand_in.batch_fault = Some(Fault::Truncated);
    let base = serve(Arc::new(stand_in)).await;
    for (_, answer) in client(&base).advisories(&packages).await {
        assert!(matches!(answer, Err(LookupError::Decode { .. })), "{answer:?}");
    }

    // One record fails each way: only the packages naming it are errors.
    let mut stand_in = StandIn::from_fixtures();
    stand_in
        .record_faults
        .insert("GHSA-mh6f-8j2x-4483".to_string(), Fault::Status(500));
    stand_in
        .record_faults
        .insert("GHSA-35jh-r3h4-6jhm".to_string(), Fault::Slow(Duration::from_secs(30)));
    stand_in
        .record_faults
        .insert("GHSA-xvch-5gv4-984h".to_string(), Fault::Truncated);
    let base = serve(Arc::new(stand_in)).await;
    let answers = client(&base).advisories(&packages).await;
    assert!(
        matches!(answers[0].1, Err(LookupError::Status { status: 500, .. })),
        "{:?}",
        answers[0].1
    );
    assert!(
        matches!(answers[1].1, Err(LookupError::Transport { .. })),
        "{:?}",
        answers[1].1
    );
    assert!(
        matches!(answers[2].1, Err(LookupError::Decode { .. })),
        "{:?}",
        answers[2].1
    );
    let node_fetch: BTreeSet<String> = StandIn::from_fixtures().by_package
        [&("npm".to_string(), "node-fetch".to_string())]
        .iter()
        .cloned()
        .collect();
    assert_eq!(ids_of(&answers[3].1), node_fetch);
    assert!(ids_of(&answers[4].1).is_empty());

    // Nothing listens: every package is a transport error.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    for (_, answer) in client(&dead).advisories(&packages).await {
        assert!(matches!(answer, Err(LookupError::Transport { .. })), "{answer:?}");
    }
}

#[tokio::test]
async fn online_client_splits_batches_of_1000() {
    let stand_in = Arc::new(StandIn::from_fixtures());
    let base = serve(stand_in.clone()).await;
    let mut packages: Vec<PackageRef> = (0..2100)
        .map(|i| PackageRef::new(Ecosystem::Npm, &format!("no-such-package-{i}")))
        .collect();
    packages.push(PackageRef::new(Ecosystem::Npm, "minimist"));
    let answers = client(&base)
        .with_timeout(Duration::from_secs(10))
        .advisories(&packages)
        .await;
    assert_eq!(answers.len(), packages.len());
    assert_eq!(stand_in.batch_calls.load(Ordering::SeqCst), 3);
    assert_eq!(stand_in.largest_batch.load(Ordering::SeqCst), 1000);
    assert!(answers[..2100].iter().all(|(_, a)| ids_of(a).is_empty()));
    assert!(!ids_of(&answers[2100].1).is_empty());
    assert_eq!(answers[2100].0, packages[2100]);
}

/// An OSV answer with no `Content-Length` larger than the cap stops at the cap: an error naming the
/// size, never the whole body held in memory (a 1 GB answer took 8.6 GB).
#[tokio::test]
async fn an_oversized_osv_answer_without_content_length_is_cut_at_the_cap() {
    let root = tempfile::tempdir().unwrap();
    let server = gatehouse::testing::FixtureServer::start(root.path()).unwrap();
    server.inject(
        "/v1/querybatch",
        gatehouse::testing::Fault::Oversized(gatehouse::lookup::advisories::osv_api::MAX_OSV_BODY_BYTES + (4 << 20)),
        None,
    );
    let http = gatehouse::lookup::http::HttpClient::new(Default::default(), Default::default()).unwrap();
    let client = OsvClient::new(Arc::new(http), &server.url()).with_timeout(Duration::from_secs(60));
    let answers = client.advisories(&[PackageRef::new(Ecosystem::Npm, "lodash")]).await;
    let error = answers[0]
        .1
        .as_ref()
        .expect_err("an oversized answer is an error")
        .to_string();
    assert!(error.contains("larger than"), "{error}");
}
