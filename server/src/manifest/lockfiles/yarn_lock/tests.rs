use super::*;
use crate::manifest::lockfiles::tests::{fixture, render_js};

fn check(path: &str) -> String {
    let text = fixture(path);
    render_js(&parse(&text), &text)
}

#[test]
fn small_lockfiles_of_both_formats() {
    let mut res = String::new();
    for path in [
        "yarn/pnpm-has-yarn-lock/yarn.lock",
        "yarn/pnpm-has-yarn2-lock/yarn.lock",
        "yarn/berry-prettier-release/yarn.lock",
    ] {
        res.push_str(&format!("--- {path}\n{}", check(path)));
    }
    insta::assert_snapshot!(res);
}

/// A second, naive reading: top-level keys (split on `, `, quotes dropped) with their `version` and
/// the four-space lines of their `dependencies:` block; each edge is looked up by its key text.
fn naive_edges(text: &str) -> Vec<(String, Vec<String>)> {
    struct Naive {
        keys: Vec<String>,
        version: String,
        deps: Vec<(String, String)>,
    }
    let mut entries: Vec<Naive> = Vec::new();
    let mut in_deps = false;
    let unquote = |s: &str| s.trim().trim_matches('"').to_string();
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if !line.starts_with(' ') {
            let keys = line.trim_end_matches(':').split(", ").map(unquote).collect();
            entries.push(Naive {
                keys,
                version: String::new(),
                deps: Vec::new(),
            });
            in_deps = false;
            continue;
        }
        let entry = entries.last_mut().unwrap();
        if line.starts_with("    ") {
            if in_deps {
                let body = line.trim();
                let (name, range) = if let Some(quoted) = body.strip_prefix('"') {
                    let end = quoted.find('"').unwrap();
                    (&quoted[..end], quoted[end + 1..].trim_start_matches(':'))
                } else {
                    body.split_once(' ').map(|(n, r)| (n.trim_end_matches(':'), r)).unwrap()
                };
                entry.deps.push((unquote(name.trim_end_matches(':')), unquote(range)));
            }
            continue;
        }
        let body = line.trim();
        in_deps = body == "dependencies:" || body == "optionalDependencies:";
        if let Some(version) = body.strip_prefix("version ").or_else(|| body.strip_prefix("version: ")) {
            entry.version = unquote(version);
        }
    }
    entries.retain(|e| e.keys != ["__metadata"]);
    let version_of = |spec: &str| {
        entries
            .iter()
            .find(|e| e.keys.iter().any(|k| k == spec))
            .map(|e| e.version.clone())
    };
    entries
        .iter()
        .map(|entry| {
            let mut deps: Vec<String> = entry
                .deps
                .iter()
                .filter_map(|(name, range)| {
                    let version = version_of(&format!("{name}@{range}"))
                        .or_else(|| version_of(&format!("{name}@npm:{range}")))?;
                    Some(version)
                })
                .collect();
            deps.sort();
            deps.dedup();
            (entry.keys.join(", "), deps)
        })
        .collect()
}

#[test]
fn real_lockfiles_match_a_naive_reading() {
    for path in [
        "yarn/berry-prettier/yarn.lock",
        "yarn/v1-hono-jsx-bench/yarn.lock",
        "yarn/pnpm-has-yarn2-lock/yarn.lock",
    ] {
        let text = fixture(path);
        let lock = parse(&text);
        assert!(lock.issues.is_empty(), "{path}: {:?}", lock.issues);
        let naive = naive_edges(&text);
        assert_eq!(lock.packages.len(), naive.len(), "{path}");
        let mut edges = 0;
        for (package, (key, want)) in lock.packages.iter().zip(&naive) {
            let mut got: Vec<String> = package
                .dependencies
                .iter()
                .map(|idx| lock.packages[*idx].version.clone())
                .collect();
            got.sort();
            got.dedup();
            assert_eq!(&got, want, "{path}: {key}");
            edges += package.dependencies.len();
            assert!(
                text[package.span.start..package.span.end].contains(&package.version),
                "{path}: {key}"
            );
        }
        assert!(edges > 10, "{path}: {edges}");
    }
}

#[test]
fn berry_protocols_aliases_and_workspaces() {
    let text = fixture("yarn/berry-prettier/yarn.lock");
    let lock = parse(&text);
    let find = |spec: &str| &lock.packages[*lock.specs.get(spec).unwrap()];
    // `patch:` is the patched registry package.
    let typescript = find("typescript@patch:typescript@npm%3A6.0.3#optional!builtin<compat/typescript>");
    assert_eq!(
        (typescript.name.as_str(), typescript.non_registry.as_deref()),
        ("typescript", None)
    );
    // An `npm:` alias is the real package.
    let alias = find("string-width-cjs@npm:string-width@^4.2.0");
    assert_eq!((alias.name.as_str(), alias.version.as_str()), ("string-width", "4.2.3"));
    // The root workspace's declarations are the roots, with the locked versions.
    let root = lock
        .packages
        .iter()
        .find(|p| p.name == "prettier" && p.non_registry.is_some())
        .unwrap();
    assert!(root.non_registry.as_deref().unwrap().starts_with("workspace package"));
    assert!(lock.roots.len() > 50, "{}", lock.roots.len());
    let manifest = fixture("yarn/berry-prettier/package.json");
    let parsed = crate::manifest::parse(ManifestKind::PackageJson, &manifest);
    for dep in parsed
        .deps
        .iter()
        .filter(|d| d.source == crate::manifest::SourceKind::Registry)
    {
        let idx = lock.direct_in("", &dep.name, dep.requirement.as_deref());
        assert!(idx.is_some(), "{} {:?}", dep.name, dep.requirement);
    }
}

#[test]
fn classic_roots_come_from_the_manifest_ranges() {
    let text = fixture("yarn/v1-hono-jsx-bench/yarn.lock");
    let lock = parse(&text);
    assert!(lock.roots.is_empty());
    let manifest = fixture("yarn/v1-hono-jsx-bench/package.json");
    let parsed = crate::manifest::parse(ManifestKind::PackageJson, &manifest);
    assert!(!parsed.deps.is_empty());
    for dep in &parsed.deps {
        let idx = lock.direct_in("", &dep.name, dep.requirement.as_deref()).unwrap();
        assert_eq!(lock.packages[idx].name, dep.package);
    }
}

#[test]
fn classic_edge_cases() {
    let text = "# yarn lockfile v1\n\n\"@s/a@^1.0.0\", \"@s/a@^1.1.0\":\n  version \"1.2.0\"\n  resolved \"https://registry.yarnpkg.com/@s/a/-/a-1.2.0.tgz#abc\"\n  integrity sha512-x\n  dependencies:\n    b \"npm:real-b@^2\"\n    \"c\" \"file:../c\"\n\nb@npm:real-b@^2:\n  version \"2.0.1\"\n  resolved \"https://registry.yarnpkg.com/real-b/-/real-b-2.0.1.tgz\"\n\nc@file:../c:\n  version \"0.0.0\"\n\nd@git+https://example.com/d.git#abc:\n  version \"1.0.0\"\n  resolved \"git+https://example.com/d.git#abc\"\n\r\nbroken line without colon\n  version \"9\"\n";
    insta::assert_snapshot!(render_js(&parse(text), text), @r#"
    @s/a@1.2.0 integrity deps=[real-b@2.0.1, c@0.0.0] at `"@s/a@^1.0.0", "@s/a@^1.1.0":`
    real-b@2.0.1 deps=[] at `b@npm:real-b@^2:`
    c@0.0.0 non-registry(local path dependency (file:../c)) deps=[] at `c@file:../c:`
    d@1.0.0 non-registry(git dependency (git+https://example.com/d.git#abc)) deps=[] at `d@git+https://example.com/d.git#abc:`
    issue invalid lockfile: expected `name@range:` to start an entry at Span { start: 453, end: 478 }
    "#);
}

/// Yarn Berry rejects a lockfile with a duplicated key: not read, never read as valid.
#[test]
fn berry_duplicate_keys_are_an_issue() {
    let base = "__metadata:\n  version: 8\n  cacheKey: 10c0\n\n\"a@npm:^1\":\n  version: 1.0.0\n  resolution: \"a@npm:1.0.0\"\n  checksum: 10c0/abc\n  languageName: node\n  linkType: hard\n";
    assert!(parse(base).issues.is_empty());
    let entry = base.split_once("\n\n").unwrap().1;
    for text in [
        format!("{base}\n{entry}"),
        base.replace("  version: 1.0.0\n", "  version: 1.0.0\n  version: 1.0.1\n"),
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

/// Yarn's reader overwrites a spec with each later entry that keys it: the last entry is installed,
/// so it is the one checked, and the repetition is an issue on the file.
#[test]
fn a_spec_keying_two_entries_is_an_issue_and_the_last_is_read() {
    let classic = "left@^1.0.0:\n  version \"1.0.0\"\n  resolved \"https://registry.yarnpkg.com/left/-/left-1.0.0.tgz\"\n\n\"left@^1.0.0\", left@^1.1.0:\n  version \"9.9.9\"\n  resolved \"https://registry.yarnpkg.com/left/-/left-9.9.9.tgz\"\n";
    let berry = "__metadata:\n  version: 8\n\n\"left@npm:^1.0.0\":\n  version: 1.0.0\n  resolution: \"left@npm:1.0.0\"\n\n\"left@npm:^1.0.0, left@npm:^1.1.0\":\n  version: 9.9.9\n  resolution: \"left@npm:9.9.9\"\n";
    for text in [classic, berry] {
        let lock = parse(text);
        let idx = lock
            .specs
            .get("left@^1.0.0")
            .copied()
            .unwrap_or_else(|| panic!("{text}"));
        assert_eq!(lock.packages[idx].version, "9.9.9", "{text}");
        let issue = lock.issues.first().unwrap_or_else(|| panic!("no issue: {text}"));
        assert!(issue.message.contains("keys more than one entry"), "{}", issue.message);
        assert!(text[issue.span.start..issue.span.end].contains("1.0.0"), "{text}");
    }
}
