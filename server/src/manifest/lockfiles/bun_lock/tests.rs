use super::*;
use crate::manifest::lockfiles::tests::{fixture, render_js};

#[test]
fn small_lockfile_and_jsonc() {
    let text = fixture("bun/hono-routers-bench/bun.lock");
    let lock = parse(&text);
    assert!(lock.issues.is_empty(), "{:?}", lock.issues);
    insta::assert_snapshot!(render_js(&lock, &text));
}

#[test]
fn comments_trailing_commas_workspaces_and_protocols() {
    let text = r#"{
  // a comment, with "quotes"
  "lockfileVersion": 1,
  "workspaces": {
    "": { "name": "root", "dependencies": { "a": "^1", "app": "workspace:*", }, },
    "packages/app": { "name": "app", "dependencies": { "a": "^2", "l": "file:../l", /* inline */ }, },
  },
  "packages": {
    "a": ["a@1.0.0", "", { "dependencies": { "b": "^1" } }, "sha512-A"],
    "app": ["app@workspace:packages/app"],
    "app/a": ["a@2.0.0", "", { "dependencies": { "b": "^2" } }, "sha512-A2"],
    "app/b": ["b@2.0.0", "", {}, "sha512-B2"],
    "b": ["b@1.0.0", "", {}, "sha512-B"],
    "l": ["l@file:../l", {}],
    "g": ["g@github:u/g#abc", {}, "abc"],
    "ä,]": ["ä@1.0.0", "", {},],
  },
}"#;
    insta::assert_snapshot!(render_js(&parse(text), text), @r#"
    root a -> a@1.0.0
    root app -> app@workspace:packages/app
    importer packages/app: a -> a@2.0.0
    importer packages/app: l -> l@file:../l
    a@1.0.0 integrity deps=[b@1.0.0] at `["a@1.0.0", "", { "dependencies": { "b": "^1" } }, "sha512-A"]`
    app@workspace:packages/app non-registry(workspace package at packages/app) deps=[] at `["app@workspace:packages/app"]`
    a@2.0.0 integrity deps=[b@2.0.0] at `["a@2.0.0", "", { "dependencies": { "b": "^2" } }, "sha512-A2"]`
    b@2.0.0 integrity deps=[] at `["b@2.0.0", "", {}, "sha512-B2"]`
    b@1.0.0 integrity deps=[] at `["b@1.0.0", "", {}, "sha512-B"]`
    l@file:../l non-registry(local path dependency (file:../l)) deps=[] at `["l@file:../l", {}]`
    g@github:u/g#abc non-registry(git dependency (github:u/g#abc)) deps=[] at `["g@github:u/g#abc", {}, "abc"]`
    ä@1.0.0 deps=[] at `["ä@1.0.0", "", {},]`
    "#);
}

/// A second, naive reading of `bun.lock`: one `"key": ["name@version", …` line per package, its
/// `"dependencies": { … }` names cut out of the same line, and Node's lookup over the keys.
#[test]
fn real_lockfiles_match_a_naive_reading() {
    for path in [
        "bun/hono/bun.lock",
        "bun/elysia/bun.lock",
        "bun/hono-routers-bench/bun.lock",
    ] {
        let text = fixture(path);
        let lock = parse(&text);
        assert!(lock.issues.is_empty(), "{path}: {:?}", lock.issues);
        let mut naive: Vec<(String, String, Vec<String>)> = Vec::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("    \"") else {
                continue;
            };
            let Some((key, rest)) = rest.split_once("\": [\"") else {
                continue;
            };
            let ident = rest.split('"').next().unwrap();
            let version = ident[1..].split_once('@').map_or("", |(_, v)| v).to_string();
            let mut deps = Vec::new();
            for table in [
                "\"dependencies\": { ",
                "\"optionalDependencies\": { ",
                "\"peerDependencies\": { ",
            ] {
                if let Some(at) = rest.find(table) {
                    let block = &rest[at + table.len()..];
                    let block = &block[..block.find(" }").unwrap()];
                    for pair in block.split(", \"") {
                        deps.push(pair.trim_start_matches('"').split('"').next().unwrap().to_string());
                    }
                }
            }
            naive.push((key.to_string(), version, deps));
        }
        assert_eq!(lock.packages.len(), naive.len(), "{path}");
        let version_at = |key: &str| naive.iter().find(|(k, _, _)| k == key).map(|(_, v, _)| v.clone());
        let mut edges = 0;
        for (package, (key, version, deps)) in lock.packages.iter().zip(&naive) {
            assert_eq!(&package.version, version, "{path}: {key}");
            let mut want: Vec<String> = deps
                .iter()
                .filter_map(|dep| {
                    let mut base = key.clone();
                    loop {
                        if let Some(v) = version_at(&format!("{base}/{dep}")) {
                            return Some(format!("{dep}@{v}"));
                        }
                        match base.rfind('/') {
                            // A scoped name is one segment: `@s/a` has no parent.
                            Some(at) if !(base.starts_with('@') && base[..at].find('/').is_none()) => base.truncate(at),
                            _ => break,
                        }
                    }
                    version_at(dep).map(|v| format!("{dep}@{v}"))
                })
                .collect();
            let mut got: Vec<String> = package
                .dependencies
                .iter()
                .map(|idx| {
                    let dep = &lock.packages[*idx];
                    let declared = deps
                        .iter()
                        .find(|d| **d == dep.name)
                        .cloned()
                        .unwrap_or(dep.name.clone());
                    format!("{declared}@{}", dep.version)
                })
                .collect();
            want.sort();
            want.dedup();
            got.sort();
            assert_eq!(got, want, "{path}: {key}");
            edges += got.len();
        }
        assert!(edges > 20, "{path}: {edges}");
        let manifest = fixture(&path.replace("bun.lock", "package.json"));
        let parsed = crate::manifest::parse(ManifestKind::PackageJson, &manifest);
        for dep in parsed.deps.iter().filter(|d| {
            d.source == crate::manifest::SourceKind::Registry && d.kind != crate::manifest::DepKind::Override
        }) {
            assert!(lock.direct_in("", &dep.name, None).is_some(), "{path}: {}", dep.name);
        }
    }
}

#[test]
fn binary_lockfile_says_how_to_fix_it() {
    let lock = crate::manifest::parse_lockfile(ManifestKind::BunLockb, "\u{0}binary").unwrap();
    assert!(lock.packages.is_empty());
    assert!(lock.issues[0].message.contains("bun install --save-text-lockfile"));
}

#[test]
fn blanking_keeps_offsets() {
    let text = "{\"a\": [1, 2,], /* c */ \"b\": \"x,]\", // d\n}";
    let blanked = strip_jsonc(text);
    assert_eq!(blanked.len(), text.len());
    assert_eq!(blanked, "{\"a\": [1, 2 ],         \"b\": \"x,]\"      \n}");
    assert!(serde_json::from_str::<serde_json::Value>(&blanked).is_ok());
}

/// A repeated key is an issue on the file, and the last value is the one read (as `JSON.parse` does).
#[test]
fn a_repeated_key_is_an_issue_and_the_last_value_is_read() {
    let workspaces = r#""workspaces": { "": { "dependencies": { "left": "^1.0.0" } } }"#;
    let same_entry = format!(
        r#"{{ "lockfileVersion": 1, {workspaces}, "packages": {{ "left": ["left@1.0.0", "", {{}}, "sha512-A"], "left": ["left@9.9.9", "", {{}}, "sha512-B"], }} }}"#
    );
    let two_tables = format!(
        r#"{{ "lockfileVersion": 1, {workspaces}, "packages": {{ "left": ["left@1.0.0", "", {{}}, "sha512-A"] }}, "packages": {{ "left": ["left@9.9.9", "", {{}}, "sha512-B"] }} }}"#
    );
    for (text, key) in [(same_entry.as_str(), "left"), (two_tables.as_str(), "packages")] {
        let lock = parse(text);
        assert_eq!(
            lock.root_version("left").map(|p| p.version.as_str()),
            Some("9.9.9"),
            "{text}"
        );
        assert_eq!(lock.packages.len(), 1, "{text}");
        let issue = lock.issues.first().unwrap_or_else(|| panic!("no issue: {text}"));
        assert!(
            issue.message.contains(&format!("{key:?} occurs more than once")),
            "{}",
            issue.message
        );
        assert!(text[issue.span.start..issue.span.end].contains("1.0.0"), "{text}");
    }
}
