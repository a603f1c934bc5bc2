//! The warm path, one keystroke in a 300-dependency `package.json` with every fact in memory:
//! `SourceFile::edit` (incremental reparse) → `parsed()` → `engine::evaluate` → `report::lsp::to_diagnostics`.
//! Target (docs/ARCHITECTURE.md §1): p99 ≤ 2 ms. criterion reports the mean and median; `keystroke_latency` prints p99.

mod common;

use criterion::{Criterion, black_box, criterion_group, criterion_main};

fn warm_keystroke(c: &mut Criterion) {
    let mut warm = common::warm(300);
    let first = warm.keystroke(0);
    assert!(first > 0, "the bench manifest should produce diagnostics");
    let mut iteration = 1;
    c.bench_function("warm_keystroke/package.json 300 deps", |b| {
        b.iter(|| {
            iteration += 1;
            black_box(warm.keystroke(iteration))
        })
    });

    // The stages alone, to see where the time goes.
    let mut parse_only = common::warm(300);
    let mut iteration = 0;
    c.bench_function("warm_keystroke/edit+parsed only", |b| {
        b.iter(|| {
            iteration += 1;
            let digit = parse_only.digits[iteration % 2].clone();
            parse_only
                .source
                .edit(parse_only.edit_at, parse_only.edit_at + 1, &digit);
            black_box(parse_only.source.parsed().deps.len())
        })
    });

    let warm = common::warm(300);
    let parsed = warm.source.parsed();
    c.bench_function("warm_keystroke/evaluate only", |b| {
        b.iter(|| {
            let input = gatehouse::engine::Input {
                manifest: parsed,
                lockfile: None,
                workspace: None,
                registries: &warm.registries,
                constraints: Default::default(),
            };
            black_box(
                gatehouse::engine::evaluate(&input, &warm.facts, &warm.policy, common::now())
                    .findings
                    .len(),
            )
        })
    });
}

criterion_group!(benches, warm_keystroke);
criterion_main!(benches);
