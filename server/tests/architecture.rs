//! The tidy test of docs/ARCHITECTURE.md §4: reads every source file under `server/src` and fails on
//! - a `crate::…` path (in a `use` or inline) to a module the dependency table does not allow;
//! - `tokio`, `reqwest`, `rusqlite`, `std::fs`, `std::env`, `SystemTime::now` or `Timestamp::now` in a
//!   pure module (model, manifest, resolve, checks, policy, fix, engine, report, config);
//! - `ls_types`, `lsp_types` or `tower_lsp_server` outside `lsp/` and `report/lsp.rs`.
//!
//! Comments, string and char literals, `#[cfg(test)]` items, `tests.rs` files and `tests/` folders are
//! not read. There is no allow-list: vocabulary two stages share lives in `model` (docs/ARCHITECTURE.md §4), so an
//! edge the table does not allow is fixed in the code or argued into docs/ARCHITECTURE.md and this table together.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What each module may name with `crate::` (besides itself): the table of docs/ARCHITECTURE.md §4, row for row.
/// `lsp`, `cli`, `main` and `lib` are composition roots; `project` is the composition `cli` and `lsp`
/// share (it finds a manifest's workspace, lockfile and config).
fn allowed(module: &str) -> Option<&'static [&'static str]> {
    let res: &'static [&'static str] = match module {
        "model" => &[],
        "manifest" => &["model"],
        "resolve" => &["model", "manifest"],
        "checks" => &["model", "resolve"],
        "policy" => &["model", "checks"],
        "fix" => &["model", "resolve", "checks", "policy"],
        "engine" => &["model", "manifest", "resolve", "checks", "policy", "fix"],
        "lookup" => &["model"],
        "report" => &["model", "manifest", "checks", "fix", "engine"],
        "config" => &["model", "policy", "lookup"],
        "project" => &["model", "manifest", "config", "policy", "engine", "lookup"],
        // Test support (loopback fixture server): behind `cfg(test)` / the `test-support` feature.
        "testing" => &["model", "lookup"],
        "lsp" => &[
            "model", "manifest", "resolve", "checks", "policy", "fix", "engine", "lookup", "report", "config",
            "project",
        ],
        "cli" => &[
            "model", "manifest", "resolve", "checks", "policy", "fix", "engine", "lookup", "report", "config",
            "project",
        ],
        "main" | "lib" => &[
            "model", "manifest", "resolve", "checks", "policy", "fix", "engine", "lookup", "report", "config",
            "project", "lsp", "cli",
        ],
        _ => return None,
    };
    Some(res)
}

const PURE: [&str; 9] = [
    "model", "manifest", "resolve", "checks", "policy", "fix", "engine", "report", "config",
];

/// Names that mean IO, async or the clock; a pure module must not mention them.
const IMPURE: [&str; 7] = [
    "tokio",
    "reqwest",
    "rusqlite",
    "std::fs",
    "std::env",
    "SystemTime::now",
    "Timestamp::now",
];

const LSP_NAMES: [&str; 3] = ["ls_types", "lsp_types", "tower_lsp_server"];

fn src_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))
}

fn rust_files(dir: &Path, acc: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            if name != "tests" {
                rust_files(&path, acc);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" {
            acc.push(path);
        }
    }
}

/// The module a file belongs to: its first folder under `src`, or its stem for a top-level file.
fn module_of(relative: &str) -> String {
    match relative.split_once('/') {
        Some((dir, _)) => dir.to_string(),
        None => relative.trim_end_matches(".rs").to_string(),
    }
}

/// The code of a Rust file with comments, string literals and char literals blanked out (replaced by
/// spaces, newlines kept), so that only real code is searched.
fn strip(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut res = String::with_capacity(text.len());
    let mut idx = 0;
    let blank = |res: &mut String, from: &[u8]| {
        for &b in from {
            res.push(if b == b'\n' { '\n' } else { ' ' });
        }
    };
    while idx < bytes.len() {
        let rest = &bytes[idx..];
        if rest.starts_with(b"//") {
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            blank(&mut res, &rest[..end]);
            idx += end;
        } else if rest.starts_with(b"/*") {
            // Block comments nest in Rust.
            let mut depth = 0;
            let mut end = 0;
            while end < rest.len() {
                if rest[end..].starts_with(b"/*") {
                    depth += 1;
                    end += 2;
                } else if rest[end..].starts_with(b"*/") {
                    depth -= 1;
                    end += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    end += 1;
                }
            }
            blank(&mut res, &rest[..end]);
            idx += end;
        } else if let Some(hashes) = raw_string_start(rest) {
            // r"…", r#"…"#, br"…": ends at a quote followed by the same number of hashes.
            let open = rest.iter().position(|&b| b == b'"').unwrap() + 1;
            let closing: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
            let end = rest[open..]
                .windows(closing.len())
                .position(|w| w == closing.as_slice())
                .map(|at| open + at + closing.len())
                .unwrap_or(rest.len());
            blank(&mut res, &rest[..end]);
            idx += end;
        } else if rest[0] == b'"' {
            let mut end = 1;
            while end < rest.len() && rest[end] != b'"' {
                end += if rest[end] == b'\\' { 2 } else { 1 };
            }
            let end = (end + 1).min(rest.len());
            blank(&mut res, &rest[..end]);
            idx += end;
        } else if rest[0] == b'\'' {
            // A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a, 'static), which stays.
            let end = if rest.get(1) == Some(&b'\\') {
                rest[2..].iter().position(|&b| b == b'\'').map(|at| at + 3)
            } else {
                // `'` is one byte, so `idx + 1` is a char boundary.
                let ch_len = text[idx + 1..].chars().next().map(char::len_utf8).unwrap_or(1);
                (rest.get(1 + ch_len) == Some(&b'\'')).then_some(ch_len + 2)
            };
            match end {
                Some(end) => {
                    blank(&mut res, &rest[..end]);
                    idx += end;
                }
                None => {
                    res.push('\'');
                    idx += 1;
                }
            }
        } else {
            let ch = text[idx..].chars().next().unwrap();
            res.push(ch);
            idx += ch.len_utf8();
        }
    }
    res
}

/// `Some(number of hashes)` when `rest` starts a raw string (`r"`, `r#"`, `br"`), not an identifier.
fn raw_string_start(rest: &[u8]) -> Option<usize> {
    let after_prefix = if rest.starts_with(b"br") {
        2
    } else if rest.starts_with(b"r") {
        1
    } else {
        return None;
    };
    let hashes = rest[after_prefix..].iter().take_while(|&&b| b == b'#').count();
    (rest.get(after_prefix + hashes) == Some(&b'"')).then_some(hashes)
}

/// Blanks every item carrying `#[cfg(test)]` (a test module, function or `use`).
fn drop_test_items(code: &str) -> String {
    let mut res = code.to_string();
    let mut search_from = 0;
    while let Some(found) = res[search_from..].find("#[cfg(test)]") {
        let start = search_from + found;
        let bytes = res.as_bytes();
        let mut idx = start + "#[cfg(test)]".len();
        let mut depth = 0usize;
        let mut end = bytes.len();
        while idx < bytes.len() {
            match bytes[idx] {
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = idx + 1;
                        break;
                    }
                }
                b';' if depth == 0 => {
                    end = idx + 1;
                    break;
                }
                _ => {}
            }
            idx += 1;
        }
        let blanked: String = res[start..end]
            .chars()
            .map(|ch| if ch == '\n' { '\n' } else { ' ' })
            .collect();
        res.replace_range(start..end, &blanked);
        search_from = start + blanked.len();
    }
    res
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Every top-level module named by a `crate::` path: `crate::engine::…`, `crate::{checks, model::X}`.
fn crate_modules(code: &str) -> Vec<(usize, String)> {
    let mut res = Vec::new();
    let bytes = code.as_bytes();
    for (at, _) in code.match_indices("crate::") {
        if at > 0 && (is_ident_byte(bytes[at - 1]) || bytes[at - 1] == b'$') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        let line = code[..at].matches('\n').count() + 1;
        if let Some(group) = rest.strip_prefix('{') {
            // Only the group's top-level entries are modules.
            let mut depth = 0;
            let mut entry_start = true;
            for (offset, ch) in group.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => entry_start = true,
                    c if c.is_whitespace() => {}
                    _ if entry_start && depth == 0 => {
                        let name: String = group[offset..]
                            .chars()
                            .take_while(|c| is_ident_byte(*c as u8))
                            .collect();
                        if !name.is_empty() {
                            res.push((line, name));
                        }
                        entry_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii() && is_ident_byte(*c as u8))
                .collect();
            if !name.is_empty() {
                res.push((line, name));
            }
        }
    }
    res
}

/// Finds `needle` as a whole path segment sequence (not inside a longer identifier).
fn mentions(code: &str, needle: &str) -> Option<usize> {
    let bytes = code.as_bytes();
    code.match_indices(needle).find_map(|(at, _)| {
        let before_ok = at == 0 || !is_ident_byte(bytes[at - 1]);
        let after = at + needle.len();
        let after_ok = after >= bytes.len() || !is_ident_byte(bytes[after]);
        (before_ok && after_ok).then(|| code[..at].matches('\n').count() + 1)
    })
}

/// (file, rule, line) for every break of the rules in the current source tree.
fn violations() -> Vec<(String, String, usize)> {
    let root = src_dir();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(
        files.len() > 20,
        "expected the whole source tree under {}",
        root.display()
    );
    let mut res = Vec::new();
    for path in files {
        let relative = path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        let module = module_of(&relative);
        let text = std::fs::read_to_string(&path).unwrap();
        let code = drop_test_items(&strip(&text));

        let Some(may_use) = allowed(&module) else {
            res.push((relative.clone(), format!("{module} is not in the dependency table"), 1));
            continue;
        };
        let mut seen = BTreeSet::new();
        for (line, used) in crate_modules(&code) {
            if used != module && !may_use.contains(&used.as_str()) && seen.insert(used.clone()) {
                res.push((relative.clone(), format!("{module} uses crate::{used}"), line));
            }
        }
        if PURE.contains(&module.as_str()) {
            for name in IMPURE {
                if let Some(line) = mentions(&code, name) {
                    res.push((relative.clone(), format!("pure module {module} names {name}"), line));
                }
            }
        }
        let lsp_file = module == "lsp" || relative == "report/lsp.rs";
        if !lsp_file {
            for name in LSP_NAMES {
                if let Some(line) = mentions(&code, name) {
                    res.push((
                        relative.clone(),
                        format!("{relative} names {name} outside lsp/ and report/lsp.rs"),
                        line,
                    ));
                }
            }
        }
    }
    res
}

#[test]
fn dependency_direction_and_purity() {
    let found = violations();
    let new: Vec<String> = found
        .iter()
        .map(|(file, rule, line)| format!("server/src/{file}:{line}: {rule}"))
        .collect();
    assert!(
        new.is_empty(),
        "docs/ARCHITECTURE.md §4 is broken (fix the code, or change the table in docs/ARCHITECTURE.md and here):\n{}",
        new.join("\n")
    );
}

/// The scanner itself: what it must see and what it must not.
#[test]
fn scanner_sees_code_only() {
    let text = r##"
//! No tokio here: "std::fs" in a doc comment is prose.
use crate::{model::Span, checks::{self, Finding}};
use crate::engine::evaluate;
fn f() -> &'static str { let _c = '"'; let _d = '\''; "std::env in a string" }
/* std::fs in a /* nested */ block */
const RAW: &str = r#"use crate::lsp;"#;
fn g() { let _ = crate::report::lsp::to_diagnostics; std::fs::read("x"); }
#[cfg(test)]
mod tests { use crate::cli; fn t() { std::env::var("X"); } }
"##;
    let code = drop_test_items(&strip(text));
    let modules: Vec<String> = crate_modules(&code).into_iter().map(|(_, m)| m).collect();
    assert_eq!(modules, ["model", "checks", "engine", "report"]);
    assert_eq!(mentions(&code, "std::fs"), Some(8));
    assert_eq!(mentions(&code, "std::env"), None);
    assert_eq!(mentions(&code, "tokio"), None);
}
