//! `gatehouse check --offline` end to end on a generated npm project: a 300-dependency `package.json`
//! and a `package-lock.json` of 10,000 and 20,000 packages (each with two dependencies), answered from
//! the bundled OSV records and an empty cache. Shows that the cost grows linearly with the lockfile
//! (it was quadratic: 10k → 20k took 2.9 → 10.3 s).
//!
//! `cargo bench --bench check_offline`

mod common;

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse::cli::{self, CheckArgs, Format};
use serde_json::{Map, Value, json};

fn write_project(dir: &Path, packages: usize) {
    let mut lock_packages = Map::new();
    let mut direct = Map::new();
    for idx in 0..packages {
        let name = format!("pkg-{idx}");
        if idx < 300 {
            direct.insert(name.clone(), json!("1.0.0"));
        }
        let mut entry = json!({
            "version": "1.0.0",
            "resolved": format!("https://registry.npmjs.org/{name}/-/{name}-1.0.0.tgz"),
            "integrity": "sha512-AAAA",
        });
        let children: Map<String, Value> = [2 * idx + 1, 2 * idx + 2]
            .into_iter()
            .filter(|child| *child < packages)
            .map(|child| (format!("pkg-{child}"), json!("1.0.0")))
            .collect();
        if !children.is_empty() {
            entry["dependencies"] = Value::Object(children);
        }
        lock_packages.insert(format!("node_modules/{name}"), entry);
    }
    lock_packages.insert(
        String::new(),
        json!({"name": "bench", "version": "1.0.0", "dependencies": direct.clone()}),
    );
    let lock =
        json!({"name": "bench", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": lock_packages});
    std::fs::write(dir.join("package-lock.json"), serde_json::to_vec(&lock).unwrap()).unwrap();
    let manifest = json!({"name": "bench", "version": "1.0.0", "dependencies": direct});
    std::fs::write(dir.join("package.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
}

fn check_offline(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("check_offline");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    for packages in [10_000, 20_000] {
        let project = tempfile::tempdir().unwrap();
        write_project(project.path(), packages);
        let args = CheckArgs {
            paths: vec![project.path().to_path_buf()],
            format: Some(Format::Json),
            offline: true,
            osv_db: common::osv_dirs(),
            cache_dir: Some(project.path().join("cache")),
            ..CheckArgs::default()
        };
        group.bench_function(format!("package-lock.json {packages} packages"), |b| {
            b.iter(|| {
                let mut out = Vec::new();
                let mut err = Vec::new();
                runtime.block_on(cli::check(&args, &mut out, &mut err))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, check_offline);
criterion_main!(benches);
