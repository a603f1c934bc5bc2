//! Lays out the shipped binary so the code a session runs sits together (`link-order.txt`).
//!
//! A language server's resident memory is mostly the code pages it touches, and the kernel maps a
//! file-backed page fault's 64 KiB neighbourhood: with the linker's default layout the few thousand
//! functions a session runs are spread over the whole `.text`, so nearly all of it became resident
//! (14 of 17 MB for one `Cargo.toml`). `link-order.txt` lists those functions (recorded by
//! `benches/link-order.sh` from real sessions under callgrind); LLD, Rust's default linker on
//! x86_64 Linux, places them first. A symbol the list names that no longer exists is skipped, so a
//! stale list only costs memory, never correctness. Release builds only (debug builds are for tests).
//! `GATEHOUSE_LINK_ORDER=0` turns it off (e.g. when linking with a linker other than LLD). Relative
//! relocations are packed where the C library reads them (`glibc_has_relr`).

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
    println!("cargo:rerun-if-env-changed=GATEHOUSE_RELR");
    if wanted && env("GATEHOUSE_RELR") != "0" && env("HOST") == env("TARGET") && glibc_has_relr() {
        println!("cargo:rustc-link-arg-bin=gatehouse=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether this machine's C library reads packed relative relocations (`DT_RELR`, glibc 2.36+).
///
/// A position-independent binary carries a relocation for every pointer in its read-only data
/// (vtables, string tables): ~39,000 of 24 bytes each (0.9 MB), which the loader reads in full at
/// start-up, so all of them stayed resident; packed, they take ~11 KB, and the session's file-backed
/// memory fell by 1.5-2 MB (issue 16). Such a binary needs glibc 2.36 or later where it runs: the
/// linker records that (`GLIBC_ABI_DT_RELR`), so an older loader refuses it by name instead of
/// misreading it. Packed only when building for this machine (`HOST == TARGET`) and its glibc has it;
/// `GATEHOUSE_RELR=0` turns it off (e.g. to build on a new system for an older one).
fn glibc_has_relr() -> bool {
    let Ok(output) = std::process::Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    // "glibc 2.36"
    let text = String::from_utf8_lossy(&output.stdout);
    let Some(version) = text.trim().strip_prefix("glibc ") else {
        return false;
    };
    let mut parts = version.split('.').map(|part| part.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (2, 36)
}
