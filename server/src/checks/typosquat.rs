//! Typosquat: a package name a small edit away from a popular package of the same ecosystem
//! (an omitted, repeated, swapped or keyboard-adjacent character, a bit flip, swapped separators,
//! a version suffix), found with `typomania`, the Rust Foundation's port of typogard that crates.io
//! runs on new crates.
//!
//! Invariants:
//! - Pure: the popular names are bundled (`typosquat/{npm,pypi,crates}.txt`, the most downloaded few
//!   thousand per ecosystem, refreshed by `scripts/refresh-typosquat-lists.py`); no lookup.
//! - A name on the list is never a squat, and each ecosystem is compared with its own list only
//!   (`requests` is PyPI's canonical package and one edit from npm's `request`).
//! - Names are compared the way the registry compares them: PyPI PEP 503, crates.io with `-` and `_`
//!   equal, npm as written.
//! - Answers are memoised per name: the check runs on the warm path.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use typomania::checks::{Bitflips, Omitted, SwappedWords, Typos};
use typomania::{AuthorSet, Corpus, Harness, Package};

use crate::model::Ecosystem;

const NPM: &str = include_str!("typosquat/npm.txt");
const PYPI: &str = include_str!("typosquat/pypi.txt");
const CRATES: &str = include_str!("typosquat/crates.txt");

const ALPHABET: &str = "abcdefghijklmnopqrstuvwxyz1234567890-_.";

/// A popular package this name may imitate, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Squat {
    /// The popular package, as the registry spells it.
    pub intended: String,
    /// How the name differs ("omits characters in serde").
    pub how: String,
}

/// A package in the corpus: typomania compares authors to rule out a maintainer's own packages; the
/// bundled lists carry none, so no two packages share one.
struct Anonymous;

impl Package for Anonymous {
    fn authors(&self) -> &dyn AuthorSet {
        self
    }

    fn description(&self) -> Option<&str> {
        None
    }

    fn shared_authors(&self, _other: &dyn AuthorSet) -> bool {
        false
    }
}

impl AuthorSet for Anonymous {
    fn contains(&self, _author: &str) -> bool {
        false
    }
}

struct Popular {
    names: HashSet<String>,
    package: Anonymous,
}

impl Corpus for Popular {
    fn contains_name(&self, name: &str) -> typomania::Result<bool> {
        Ok(self.names.contains(name))
    }

    fn get(&self, name: &str) -> typomania::Result<Option<&dyn Package>> {
        Ok(self.names.contains(name).then_some(&self.package as &dyn Package))
    }
}

/// The comparison form of a name: crates.io treats `-` and `_` alike.
fn comparable(ecosystem: Ecosystem, name: &str) -> String {
    match ecosystem {
        Ecosystem::CratesIo => name.to_ascii_lowercase().replace('_', "-"),
        _ => ecosystem.normalize_name(name),
    }
}

struct Checker {
    harness: Harness<Popular>,
    /// Comparison form → the name as the registry spells it.
    spelled: HashMap<String, String>,
    memo: Mutex<HashMap<String, Vec<Squat>>>,
}

fn checker(ecosystem: Ecosystem) -> &'static Checker {
    static CHECKERS: OnceLock<[Checker; 3]> = OnceLock::new();
    let all = CHECKERS.get_or_init(|| {
        [
            build(Ecosystem::Npm),
            build(Ecosystem::CratesIo),
            build(Ecosystem::PyPI),
        ]
    });
    match ecosystem {
        Ecosystem::Npm => &all[0],
        Ecosystem::CratesIo => &all[1],
        Ecosystem::PyPI => &all[2],
    }
}

fn build(ecosystem: Ecosystem) -> Checker {
    let list = match ecosystem {
        Ecosystem::Npm => NPM,
        Ecosystem::CratesIo => CRATES,
        Ecosystem::PyPI => PYPI,
    };
    let spelled: HashMap<String, String> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| (comparable(ecosystem, l), l.to_string()))
        .collect();
    let names: HashSet<String> = spelled.keys().cloned().collect();
    let alphabet = match ecosystem {
        Ecosystem::Npm => format!("{ALPHABET}@/"),
        _ => ALPHABET.to_string(),
    };
    let harness = Harness::builder()
        .with_check(Bitflips::new(&alphabet, names.iter().map(String::as_str)))
        .with_check(Omitted::new(&alphabet))
        .with_check(SwappedWords::new("-_."))
        .with_check(Typos::new(
            KEYBOARD
                .iter()
                .map(|(c, near)| (*c, near.iter().map(|s| s.to_string()).collect())),
        ))
        .build(Popular {
            names,
            package: Anonymous,
        });
    Checker {
        harness,
        spelled,
        memo: Mutex::new(HashMap::new()),
    }
}

/// Whether `name` is on the ecosystem's list of popular packages.
pub fn is_popular(ecosystem: Ecosystem, name: &str) -> bool {
    checker(ecosystem).spelled.contains_key(&comparable(ecosystem, name))
}

/// The popular packages `name` may imitate; empty for a popular name or one nothing resembles.
pub fn squats(ecosystem: Ecosystem, name: &str) -> Vec<Squat> {
    let checker = checker(ecosystem);
    let key = comparable(ecosystem, name);
    if key.len() < 4 || key.len() > 40 || key.matches(['-', '_', '.', '/']).count() > 4 {
        // Two- and three-letter names are each other's typos by the hundred; long many-word names
        // cost typomania's word swaps factorial time and are not what squatters register.
        return Vec::new();
    }
    let memo = checker
        .memo
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
        .cloned();
    if let Some(found) = memo {
        return found;
    }
    let mut found: Vec<Squat> = match checker.harness.check_package(&key, Box::new(Anonymous)) {
        Ok(squats) => squats
            .into_iter()
            .map(|squat| Squat {
                intended: checker
                    .spelled
                    .get(squat.package())
                    .cloned()
                    .unwrap_or_else(|| squat.package().to_string()),
                how: squat.to_string(),
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    found.sort_by(|a, b| a.intended.cmp(&b.intended));
    found.dedup_by(|a, b| a.intended == b.intended);
    checker
        .memo
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, found.clone());
    found
}

/// Keyboard neighbours and look-alikes (crates.io's list of easily confused characters, as in
/// typomania's example).
static KEYBOARD: &[(char, &[&str])] = &[
    ('1', &["2", "q", "i", "l"]),
    ('2', &["1", "q", "w", "3"]),
    ('3', &["2", "w", "e", "4"]),
    ('4', &["3", "e", "r", "5"]),
    ('5', &["4", "r", "t", "6", "s"]),
    ('6', &["5", "t", "y", "7"]),
    ('7', &["6", "y", "u", "8"]),
    ('8', &["7", "u", "i", "9"]),
    ('9', &["8", "i", "o", "0"]),
    ('0', &["9", "o", "p", "-"]),
    ('-', &["_", "0", "p", ".", ""]),
    ('_', &["-", "0", "p", ".", ""]),
    ('q', &["1", "2", "w", "a"]),
    ('w', &["2", "3", "e", "s", "a", "q", "vv"]),
    ('e', &["3", "4", "r", "d", "s", "w"]),
    ('r', &["4", "5", "t", "f", "d", "e"]),
    ('t', &["5", "6", "y", "g", "f", "r"]),
    ('y', &["6", "7", "u", "h", "t", "i"]),
    ('u', &["7", "8", "i", "j", "y", "v"]),
    ('i', &["1", "8", "9", "o", "l", "k", "j", "u", "y"]),
    ('o', &["9", "0", "p", "l", "i"]),
    ('p', &["0", "-", "o"]),
    ('a', &["q", "w", "s", "z"]),
    ('s', &["w", "d", "x", "z", "a", "5"]),
    ('d', &["e", "r", "f", "c", "x", "s"]),
    ('f', &["r", "g", "v", "c", "d"]),
    ('g', &["t", "h", "b", "v", "f"]),
    ('h', &["y", "j", "n", "b", "g"]),
    ('j', &["u", "i", "k", "m", "n", "h"]),
    ('k', &["i", "o", "l", "m", "j"]),
    ('l', &["i", "o", "p", "k", "1"]),
    ('z', &["a", "s", "x"]),
    ('x', &["z", "s", "d", "c"]),
    ('c', &["x", "d", "f", "v"]),
    ('v', &["c", "f", "g", "b", "u"]),
    ('b', &["v", "g", "h", "n"]),
    ('n', &["b", "h", "j", "m"]),
    ('m', &["n", "j", "k", "rn"]),
    ('.', &["-", "_", ""]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_squats_are_found_and_popular_names_are_not() {
        let rust_decimal = squats(Ecosystem::CratesIo, "rustdecimal");
        assert!(
            rust_decimal.iter().any(|s| s.intended == "rust_decimal"),
            "{rust_decimal:?}"
        );
        assert!(
            squats(Ecosystem::CratesIo, "rust-decimal").is_empty(),
            "the same crate on crates.io"
        );
        let cross_env = squats(Ecosystem::Npm, "crossenv");
        assert!(cross_env.iter().any(|s| s.intended == "cross-env"), "{cross_env:?}");
        assert!(squats(Ecosystem::Npm, "lodash").is_empty());
        let proc_macro = squats(Ecosystem::CratesIo, "proc-macro1");
        assert!(proc_macro.iter().any(|s| s.intended == "proc-macro2"), "{proc_macro:?}");
        assert!(!squats(Ecosystem::PyPI, "reqeusts").is_empty());
        assert!(squats(Ecosystem::PyPI, "requests").is_empty());
        assert!(is_popular(Ecosystem::PyPI, "Requests"));
    }
}
