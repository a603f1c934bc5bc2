//! Lays out the shipped binary so the code a session runs sits together (`link-order.txt`).
//!
//! A language server's resident memory is mostly the code pages it touches, and the kernel maps a
//! file-backed page fault's 64 KiB neighbourhood: with the linker's default layout the few thousand
//! functions a session runs are spread over the whole `.text`, so nearly all of it became resident
//! (14 of 17 MB for one `Cargo.toml`). `link-order.txt` lists those functions (recorded by
//! `benches/link-order.sh` from real sessions under callgrind); LLD, Rust's default linker on
//! x86_64 Linux, places them first. A symbol the list names that no longer exists is skipped, so a
//! stale list only costs memory, never correctness. Release builds only (debug builds are for tests).
//! `GATEHOUSE_LINK_ORDER=0` turns it off (e.g. when linking with a linker other than LLD).

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=link-order.txt");
    println!("cargo:rerun-if-env-changed=GATEHOUSE_LINK_ORDER");
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    let wanted = env("PROFILE") == "release"
        && env("TARGET") == "x86_64-unknown-linux-gnu"
        && env("GATEHOUSE_LINK_ORDER") != "0";
    let list = PathBuf::from(env("CARGO_MANIFEST_DIR")).join("link-order.txt");
    if wanted && list.is_file() {
        println!(
            "cargo:rustc-link-arg-bin=gatehouse=-Wl,--symbol-ordering-file={}",
            list.display()
        );
        println!("cargo:rustc-link-arg-bin=gatehouse=-Wl,--no-warn-symbol-ordering");
    }
}
