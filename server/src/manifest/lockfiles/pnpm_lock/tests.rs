use super::*;
use crate::manifest::lockfiles::tests::{fixture, render_js};

fn check(path: &str) -> String {
    let text = fixture(path);
    render_js(&parse(&text), &text)
}

#[test]
fn small_lockfiles_of_every_version() {
    let mut res = String::new();
    for path in [
        "pnpm/v5.0-example/pnpm-lock.yaml",
        "pnpm/v5.4-with-peer/pnpm-lock.yaml",
        "pnpm/v6-with-peer/pnpm-lock.yaml",
        "pnpm/v9-with-peer/pnpm-lock.yaml",
        "pnpm/v9-npm-alias/pnpm-lock.yaml",
        "pnpm/v9-catalog/pnpm-lock.yaml",
    ] {
        res.push_str(&format!("--- {path}\n{}", check(path)));
    }
    insta::assert_snapshot!(res);
}

/// A second, naive reading of a pnpm lockfile written by pnpm: the two-space keys of one top-level
/// section, each with the four-space `name: reference` lines of its `dependencies:` and
/// `optionalDependencies:` blocks (six spaces deep), in file order.
fn naive_entries(text: &str, section: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut res: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut inside = false;
    let mut in_deps = false;
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            inside = line == format!("{section}:");
            continue;
        }
        if !inside {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let body = line.trim();
        match indent {
            2 => {
                let key = body.trim_end_matches(" {}").trim_end_matches(':').trim_matches('\'');
                res.push((key.to_string(), Vec::new()));
                in_deps = false;
            }
            4 => in_deps = body == "dependencies:" || body == "optionalDependencies:",
            6 if in_deps => {
                let (name, reference) = body.split_once(": ").unwrap();
                res.last_mut().unwrap().1.push((
                    name.trim_matches('\'').to_string(),
                    reference.trim_matches('\'').to_string(),
                ));
            }
            _ => {}
        }
    }
    res
}

/// The version a reference names: `1.2.3(peer@1)` / `1.2.3_peer@1` → `1.2.3`.
fn naive_version(reference: &str) -> &str {
    let end = reference.find(['(', '_']).unwrap_or(reference.len());
    &reference[..end]
}

#[test]
fn workspace_lockfiles_match_a_naive_reading() {
    for (path, section) in [
        ("pnpm/v5.4-workspace2/pnpm-lock.yaml", "packages"),
        ("pnpm/v6-workspace2/pnpm-lock.yaml", "packages"),
        ("pnpm/v9-workspace2/pnpm-lock.yaml", "snapshots"),
    ] {
        let text = fixture(path);
        let lock = parse(&text);
        assert!(lock.issues.is_empty(), "{path}: {:?}", lock.issues);
        let naive = naive_entries(&text, section);
        assert!(naive.len() > 100, "{path}: {}", naive.len());
        // Every entry, then one local entry per `link:` reference of an importer.
        assert!(lock.packages.len() >= naive.len(), "{path}");
        let (entries, links) = lock.packages.split_at(naive.len());
        assert!(
            links.iter().all(|link| link
                .non_registry
                .as_deref()
                .is_some_and(|r| r.starts_with("workspace link to "))),
            "{path}: {links:?}"
        );
        let mut edges = 0;
        for (package, (key, deps)) in entries.iter().zip(&naive) {
            assert!(
                key.contains(&package.name) && key.contains(&package.version),
                "{path}: {key}"
            );
            let mut want: Vec<String> = deps
                .iter()
                .map(|(name, reference)| format!("{name}@{}", naive_version(reference)))
                .collect();
            let mut got: Vec<String> = package
                .dependencies
                .iter()
                .map(|idx| format!("{}@{}", lock.packages[*idx].name, lock.packages[*idx].version))
                .collect();
            want.sort();
            got.sort();
            assert_eq!(got, want, "{path}: {key}");
            edges += got.len();
        }
        assert!(edges > 200, "{path}: {edges}");
        // Each member's direct dependencies, read off the importers by hand (see the fixture).
        let member = |importer: &str, name: &str| {
            let roots = lock.roots_of(importer);
            let idx = roots.iter().find(|(n, _)| n == name).map(|(_, idx)| *idx);
            idx.map(|idx| lock.packages[idx].version.clone())
        };
        assert_eq!(member("foo", "express").as_deref(), Some("4.17.2"), "{path}");
        assert_eq!(member("foo", "webpack").as_deref(), Some("2.7.0"), "{path}");
        assert_eq!(member("bar", "webpack").as_deref(), Some("5.65.0"), "{path}");
        assert_eq!(member("bar", "express").as_deref(), Some("2.5.11"), "{path}");
        // `link:` is a workspace member: a local entry, never a registry package.
        let foo = lock
            .roots_of("bar")
            .iter()
            .find(|(n, _)| n == "foo")
            .map(|(_, idx)| &lock.packages[*idx])
            .unwrap_or_else(|| panic!("{path}: bar's link to foo"));
        assert_eq!(foo.non_registry.as_deref(), Some("workspace link to ../foo"), "{path}");
        assert!(foo.version.is_empty(), "{path}");
        assert!(lock.roots.is_empty());
    }
}

#[test]
fn workspace_file_catalogs_and_globs() {
    let text = fixture("pnpm/v9-catalog/pnpm-workspace.yaml");
    let workspace = parse_workspace(&text).unwrap();
    assert_eq!(workspace.packages, vec!["."]);
    assert_eq!(
        workspace.catalogs,
        vec![("default".to_string(), "is-negative".to_string(), "^1.0.0".to_string())]
    );
    let named = "packages:\n  - 'apps/*'\n  - '!**/test/**'\ncatalogs:\n  react18:\n    react: ^18.2.0\n  react19:\n    react: 19.0.0\n";
    let workspace = parse_workspace(named).unwrap();
    assert_eq!(workspace.packages, vec!["apps/*", "!**/test/**"]);
    assert_eq!(workspace.catalogs.len(), 2);
    assert!(parse_workspace("packages: [").is_err());
}

#[test]
fn hostile_and_broken_input_is_an_issue() {
    let text = fixture("pnpm/v6-with-peer/pnpm-lock.yaml");
    let cut = &text[..text.len() / 3];
    let lock = parse(cut);
    render_js(&lock, cut);
    // Wrong types in one entry empty those fields, not the file: `c` is still a package to check.
    let wrong = "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      a:\n        specifier: ^1\n        version: 1.0.0\n      b: [1, 2]\npackages:\n  a@1.0.0:\n    resolution: 7\n  c@2.0.0: nonsense\nsnapshots:\n  a@1.0.0:\n    dependencies: [x]\n";
    insta::assert_snapshot!(render_js(&parse(wrong), wrong), @r"
    root a -> a@1.0.0
    a@1.0.0 deps=[] at `a@1.0.0:`
    c@2.0.0 deps=[] at `c@2.0.0: nonsense`
    ");
    // A billion-laughs alias bomb is refused by the YAML reader, not expanded.
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\npackages: *h\n";
    let lock = parse(bomb);
    assert!(lock.packages.is_empty());
}

/// pnpm ignores a lockfile with a duplicated mapping key (and resolves afresh), or with a control
/// character anywhere: the file is not read, never read as valid.
#[test]
fn lockfiles_pnpm_rejects_are_issues() {
    let base = "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      a:\n        specifier: ^1\n        version: 1.0.0\npackages:\n  a@1.0.0:\n    resolution: {integrity: sha512-x}\nsnapshots:\n  a@1.0.0: {}\n";
    assert!(parse(base).issues.is_empty());
    let duplicate_package = base.replace(
        "snapshots:\n",
        "  a@1.0.0:\n    resolution: {integrity: sha512-y}\nsnapshots:\n",
    );
    let duplicate_top = format!("{base}packages:\n  b@1.0.0: {{}}\n");
    let duplicate_nested = base.replace(
        "        version: 1.0.0\n",
        "        version: 1.0.0\n        version: 1.0.1\n",
    );
    let duplicate_stringified = base.replace("  a@1.0.0: {}\n", "  a@1.0.0: {}\n  '1': {}\n  1: {}\n");
    let control_in_comment = base.replace("importers:\n", "# \u{1}\nimporters:\n");
    let nul_in_value = base.replace("specifier: ^1", "specifier: ^1\0");
    for text in [
        duplicate_package,
        duplicate_top,
        duplicate_nested,
        duplicate_stringified,
        control_in_comment,
        nul_in_value,
    ] {
        for fast in [true, false] {
            crate::manifest::lockfiles::FAST_YAML.with(|cell| cell.set(fast));
            let lock = parse(&text);
            crate::manifest::lockfiles::FAST_YAML.with(|cell| cell.set(true));
            assert!(!lock.issues.is_empty(), "{text:?}");
            assert!(lock.packages.is_empty(), "{text:?}");
        }
    }
}

#[test]
fn workspace_file_with_a_bom_keeps_its_catalog() {
    let workspace = parse_workspace("\u{feff}catalog:\n  react: ^18\n").unwrap();
    assert_eq!(
        workspace.catalogs,
        vec![("default".to_string(), "react".to_string(), "^18".to_string())]
    );
    assert!(parse_workspace("catalog:\n  react: ^18\n  react: ^19\n").is_err());
}
