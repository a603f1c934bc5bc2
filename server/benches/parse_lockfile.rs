//! Full parse of large real lockfiles: npm-cli's `package-lock.json` (1,273 packages) and a Cargo `Cargo.lock`.

mod common;

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use gatehouse::manifest::{self, ManifestKind};

fn parse_lockfile(c: &mut Criterion) {
    let cases = [
        (
            "package-lock.json npm-cli",
            ManifestKind::PackageLock,
            "manifests/large/npm-cli/package-lock.json",
        ),
        (
            "Cargo.lock",
            ManifestKind::CargoLock,
            "manifests/large/cargo/Cargo.lock",
        ),
    ];
    for (label, kind, path) in cases {
        let text = common::read(path);
        let packages = manifest::parse_lockfile(kind, &text)
            .map(|l| l.packages.len())
            .unwrap_or(0);
        let label = format!(
            "parse_lockfile/{label} ({packages} packages, {} KiB)",
            text.len() / 1024
        );
        c.bench_function(&label, |b| {
            b.iter(|| black_box(manifest::parse_lockfile(kind, black_box(&text)).map(|l| l.packages.len())))
        });
    }
}

criterion_group!(benches, parse_lockfile);
criterion_main!(benches);
