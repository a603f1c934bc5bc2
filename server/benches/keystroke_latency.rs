//! Per-keystroke latency distribution of the warm path (criterion reports no p99): times each of N
//! keystrokes in a 300-dependency `package.json` and prints p50/p95/p99/max. Reports, never asserts.
//!
//! `cargo bench --bench keystroke_latency` (N defaults to 2000; set `KEYSTROKES` to change it).
//! `MEMO=1`: the editor's path, reusing the document's memo (`engine::evaluate_memoized`) at one `now`.

mod common;

use std::hint::black_box;
use std::time::Instant;

fn main() {
    // `cargo bench` passes flags such as `--bench`; this binary has none of its own.
    let n: usize = std::env::var("KEYSTROKES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let memo = std::env::var_os("MEMO").is_some_and(|v| v == "1");
    let mut warm = common::warm(300);
    let n_deps = warm.source.parsed().deps.len();
    let at = common::now();
    let keystroke = |warm: &mut common::Warm, iteration: usize| {
        if memo {
            warm.keystroke_memoized(iteration, at)
        } else {
            warm.keystroke(iteration)
        }
    };
    let warmup = 200.min(n);
    for iteration in 0..warmup {
        black_box(keystroke(&mut warm, iteration));
    }
    let mut samples = Vec::with_capacity(n);
    let mut diagnostics = 0;
    for iteration in 0..n {
        let started = Instant::now();
        diagnostics = black_box(keystroke(&mut warm, iteration));
        samples.push(started.elapsed());
    }
    let [p50, p95, p99, max] = common::percentiles(&mut samples);
    println!(
        "keystroke_latency{}: {n} keystrokes, {n_deps} deps, {diagnostics} diagnostics: \
         p50 {p50:.0} µs, p95 {p95:.0} µs, p99 {p99:.0} µs, max {max:.0} µs (target p99 ≤ 2000 µs)",
        if memo { " (memoized)" } else { "" }
    );
}
