//! Advisory matching against an in-memory OSV index (the real records of `fixtures/osv`):
//! - parse + extract + match for a 300-dependency `package.json` (`manifest::parse` → `engine::evaluate`);
//! - `engine::evaluate` over npm-cli's `package-lock.json` (1,000+ transitive packages);
//! - the index lookup alone (`OfflineDb::get` + `checks::advisory::affects`) for every locked package.

mod common;

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use gatehouse::checks::advisory;
use gatehouse::engine::{self, Input};
use gatehouse::lookup::advisories::offline_db::OfflineDb;
use gatehouse::manifest::{self, ManifestKind};
use gatehouse::model::{Ecosystem, PackageRef};

fn osv_match(c: &mut Criterion) {
    let warm = common::warm(300);
    let text = warm.source.text().to_string();
    c.bench_function("osv_match/package.json 300 deps: parse+extract+evaluate", |b| {
        b.iter(|| {
            let parsed = manifest::parse(ManifestKind::PackageJson, black_box(&text));
            let input = Input {
                manifest: &parsed,
                lockfile: None,
                workspace: None,
                registries: &warm.registries,
                constraints: Default::default(),
            };
            black_box(
                engine::evaluate(&input, &warm.facts, &warm.policy, common::now())
                    .findings
                    .len(),
            )
        })
    });

    let transitive = common::transitive();
    let analysis = transitive.evaluate();
    let label = format!(
        "osv_match/npm-cli package-lock.json: evaluate ({} packages, {} findings)",
        analysis.deps.len(),
        analysis.findings.len()
    );
    c.bench_function(&label, |b| b.iter(|| black_box(transitive.evaluate().findings.len())));

    let (db, errors) = OfflineDb::load(&common::osv_dirs());
    assert!(errors.is_empty(), "{errors:?}");
    let locked: Vec<(PackageRef, String)> = transitive
        .lockfile
        .packages
        .iter()
        .map(|p| (PackageRef::new(Ecosystem::Npm, &p.name), p.version.clone()))
        .collect();
    let label = format!(
        "osv_match/index lookup + affects ({} locked, {} records)",
        locked.len(),
        db.len()
    );
    c.bench_function(&label, |b| {
        b.iter(|| {
            let mut affected = 0;
            for (package, version) in &locked {
                for record in db.get(package) {
                    if advisory::affects(record, package, version) {
                        affected += 1;
                    }
                }
            }
            black_box(affected)
        })
    });
}

criterion_group!(benches, osv_match);
criterion_main!(benches);
