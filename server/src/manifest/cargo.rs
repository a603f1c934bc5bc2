//! `Cargo.toml` → the dependencies of `[dependencies]`, `[dev-dependencies]`, `[build-dependencies]`,
//! their `[target.'cfg(..)'.*]` variants and `[workspace.dependencies]`, read from the toml-ng tree.
//!
//! Invariants:
//! - One dependency per (table, name), whether written as `name = "1"`, an inline table, a dotted key
//!   (`name.version = "1"`) or a `[dependencies.name]` table; the name span is its first mention.
//! - `package = "real"` is an alias (the registry name is `real`); `workspace = true` inherits from
//!   the workspace root (no requirement here); `path`/`git` are not registry dependencies.
//! - `[patch.<source>]` and `[replace]` entries are what Cargo builds in place of the crates they name:
//!   each is a dependency of its own (`DepKind::Override`) from its own source (a git patch is not the
//!   registry release), named by the crate (a `[replace]` key's package ID spec gives its `package`).
//! - `[workspace.dependencies]` entries are in `Parsed::workspace_deps` and in `deps` as
//!   `DepKind::Group("workspace")`, so the root's own pins are checked too.

use crate::manifest::toml_tree::{self, TomlStr};
use crate::manifest::{DepKind, Dependency, ManifestKind, Parsed, SourceKind, collect_issues};
use crate::model::Ecosystem;

pub fn extract(text: &str, tree: Option<&tree_sitter::Tree>) -> Parsed {
    extract_tables(text, tree, ManifestKind::CargoToml, |_| true)
}

/// The dependencies of the tables `read` accepts (by the table path before the name).
fn extract_tables(
    text: &str,
    tree: Option<&tree_sitter::Tree>,
    kind: ManifestKind,
    read: impl Fn(&[String]) -> bool,
) -> Parsed {
    let mut res = Parsed::empty(kind);
    let Some(tree) = tree else {
        return res;
    };
    let root = tree.root_node();
    collect_issues(root, text, &mut res.issues);
    let mut builders: Vec<Builder> = Vec::new();
    for table in toml_tree::tables(root, text) {
        if table.is_array {
            continue;
        }
        // `[dependencies.serde]` with no pairs still declares `serde`.
        if let Some((section, name_at)) = section_of(&table.header)
            && table.header.len() == name_at + 1
        {
            builder_for(&mut builders, section, &table.header[..name_at], &table.header[name_at]);
        }
        for entry in &table.entries {
            visit_entry(&mut builders, entry.path.clone(), entry.value, text, 0);
        }
    }
    for builder in builders {
        if !read(&builder.table) {
            continue;
        }
        let dep = builder.finish();
        if dep.kind == DepKind::Group("workspace".to_string()) {
            res.workspace_deps.push(dep.clone());
        }
        res.deps.push(dep);
    }
    res
}

/// `.cargo/config.toml`: Cargo reads `[patch]` there as in the workspace's Cargo.toml (and ignores any
/// dependency table), so only its patches are listed.
pub fn extract_config(text: &str, tree: Option<&tree_sitter::Tree>) -> Parsed {
    extract_tables(text, tree, ManifestKind::CargoConfig, |table| {
        table.first().is_some_and(|first| first == "patch")
    })
}

/// Inline tables nest no deeper than this in any table Cargo reads dependencies from
/// (`target = { 'cfg(unix)' = { dependencies = { name = { version = … } } } }`).
const MAX_INLINE_DEPTH: usize = 8;

/// One `path = value` entry: a dependency's declaration or field, or an inline table that holds
/// dependency tables (`patch = { crates-io = { … } }`, `dependencies = { … }`): Cargo reads an inline
/// table as the table it spells, so its pairs are visited as entries of their own.
fn visit_entry(builders: &mut Vec<Builder>, path: Vec<TomlStr>, value: tree_sitter::Node, text: &str, depth: usize) {
    let Some((section, name_at)) = section_of(&path).filter(|(_, name_at)| path.len() > *name_at) else {
        if value.kind() == "inline_table" && depth < MAX_INLINE_DEPTH {
            for pair in toml_tree::inline_pairs(value, text) {
                let mut inner = path.clone();
                inner.extend(pair.path);
                visit_entry(builders, inner, pair.value, text, depth + 1);
            }
        }
        return;
    };
    let builder = builder_for(builders, section, &path[..name_at], &path[name_at]);
    match &path[name_at + 1..] {
        [] => match value.kind() {
            "string" => builder.version = toml_tree::string(value, text),
            "inline_table" => {
                for field in toml_tree::inline_pairs(value, text) {
                    if let [key] = field.path.as_slice() {
                        builder.field(&key.value, field.value, text);
                    }
                }
            }
            _ => {}
        },
        [field] => builder.field(&field.value, value, text),
        _ => {}
    }
}

/// Which dependency table a key path is in, and where the dependency name sits in it.
fn section_of(path: &[TomlStr]) -> Option<(DepKind, usize)> {
    let table_kind = |name: &str| match name {
        "dependencies" => Some(DepKind::Normal),
        "dev-dependencies" | "dev_dependencies" => Some(DepKind::Dev),
        "build-dependencies" | "build_dependencies" => Some(DepKind::Build),
        _ => None,
    };
    let first = path.first()?.value.as_str();
    match first {
        "target" => Some((table_kind(&path.get(2)?.value)?, 3)),
        "workspace" if path.get(1)?.value == "dependencies" => Some((DepKind::Group("workspace".to_string()), 2)),
        // `[patch.<source>] name = …` and `[replace] "<package id spec>" = …`: what Cargo builds instead.
        "patch" if path.len() > 2 => Some((DepKind::Override, 2)),
        "replace" => Some((DepKind::Override, 1)),
        _ => Some((table_kind(first)?, 1)),
    }
}

fn builder_for<'a>(
    builders: &'a mut Vec<Builder>,
    kind: DepKind,
    table: &[TomlStr],
    name: &TomlStr,
) -> &'a mut Builder {
    let table: Vec<String> = table.iter().map(|part| part.value.clone()).collect();
    let found = builders
        .iter()
        .position(|builder| builder.table == table && builder.name.value == name.value);
    let idx = match found {
        Some(idx) => idx,
        None => {
            builders.push(Builder {
                table,
                kind,
                name: name.clone(),
                version: None,
                package: None,
                registry: None,
                workspace: false,
                path: None,
                git: None,
            });
            builders.len() - 1
        }
    };
    &mut builders[idx]
}

struct Builder {
    /// The table path before the name (`dependencies`, `target.cfg(unix).dev-dependencies`).
    table: Vec<String>,
    kind: DepKind,
    name: TomlStr,
    version: Option<TomlStr>,
    package: Option<String>,
    registry: Option<String>,
    workspace: bool,
    path: Option<String>,
    git: Option<String>,
}

impl Builder {
    fn field(&mut self, key: &str, value: tree_sitter::Node, text: &str) {
        let string = || toml_tree::string(value, text);
        match key {
            "version" => self.version = string(),
            "package" => self.package = string().map(|s| s.value),
            "registry" => self.registry = string().map(|s| s.value),
            "path" => self.path = string().map(|s| s.value),
            "git" => self.git = string().map(|s| s.value),
            "workspace" => self.workspace = toml_tree::boolean(value, text).unwrap_or(false),
            _ => {}
        }
    }

    fn finish(self) -> Dependency {
        let source = if let Some(git) = self.git {
            SourceKind::Git(git)
        } else if let Some(path) = self.path {
            SourceKind::Path(path)
        } else if self.workspace {
            SourceKind::WorkspaceInherited
        } else if self.package.is_some() {
            SourceKind::Alias
        } else {
            SourceKind::Registry
        };
        let version = if self.workspace { None } else { self.version };
        // A `[replace]` key is a package ID spec (`foo:1.0.0`, `foo@1.0.0`, `<registry url>#foo@1.0.0`).
        let replaced = (self.table == ["replace"]).then(|| spec_package(&self.name.value).to_string());
        Dependency {
            ecosystem: Ecosystem::CratesIo,
            package: self.package.or(replaced).unwrap_or_else(|| self.name.value.clone()),
            name: self.name.value,
            name_span: self.name.span,
            requirement_span: version.as_ref().map(|v: &TomlStr| v.span),
            requirement: version.map(|v| v.value),
            kind: self.kind,
            source,
            registry: self.registry,
            poetry_syntax: false,
            extras: Vec::new(),
            marker: None,
        }
    }
}

/// The crate a package ID spec names: after a URL's `#`, before a version (`:1.0.0`, `@1.0.0`); a bare
/// URL names its last path segment.
fn spec_package(spec: &str) -> &str {
    fn last_segment(url: &str) -> &str {
        url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
    }
    let spec = spec.trim();
    let named = match spec.rsplit_once('#') {
        // `<url>#1.0.0`: the fragment is only a version; the URL's last segment names the crate.
        Some((url, fragment)) if fragment.starts_with(|c: char| c.is_ascii_digit()) => last_segment(url),
        Some((_, fragment)) => fragment,
        None if spec.contains("://") => last_segment(spec),
        None => spec,
    };
    named.split([':', '@']).next().unwrap_or(named)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{parse, tests::render};

    fn check(text: &str) -> String {
        render(&parse(ManifestKind::CargoToml, text), text)
    }

    #[test]
    fn every_form() {
        insta::assert_snapshot!(check(
            r#"[package]
name = "x"
version = "0.1.0"

[dependencies]
serde = { version = "1.0.190", features = ["derive"] }
rand = "0.8"
log.version = "0.4"
log.optional = true
renamed = { package = "real-name", version = "~2" }
inherited = { workspace = true }
local = { path = "../local", version = "0.1" }
remote = { git = "https://github.com/x/remote", branch = "main" }
private = { version = "3", registry = "my-registry" }
'quoted-key' = 'literal'
esc = "\u003e=1.2"

[dependencies.tokio]
version = "1.35"
features = ["full"]

[dependencies.empty]

[dev-dependencies]
insta = "1"

[build-dependencies]
cc = "1.0"

[target.'cfg(unix)'.dependencies]
nix = "0.27"

[target.'cfg(windows)'.dev-dependencies.windows-sys]
version = "0.52"

[workspace.dependencies]
anyhow = "1.0.75"
"#
        ));
    }

    #[test]
    fn non_ascii_crlf_tabs_and_broken_lines() {
        insta::assert_snapshot!(check(
            "# größe ✓\r\n[dependencies]\r\n\tünï = \"1\"\r\n\t\"ünï2\" = \"^1.0\" # größe\r\nbroken = { version = \"1\"\r\nserde = \"1.0\"\r\nhalf = \"0.\r\nafter = \"2\"\r\n"
        ));
    }

    /// `[patch.<source>]` and `[replace]` decide what Cargo builds in place of a registry crate: each
    /// entry is a dependency of its own (`DepKind::Override`), from its own source, so a git patch is
    /// never taken for the registry release it replaces.
    #[test]
    fn patch_and_replace_entries_are_dependencies_of_their_own() {
        let text = r#"[package]
name = "app"

[dependencies]
smallvec = { git = "https://github.com/servo/rust-smallvec" }
helper = "1"

[patch.crates-io]
helper = { git = "https://github.com/someone/helper" }
local = { path = "../local" }

[patch."https://github.com/servo/rust-smallvec"]
smallvec = "=1.6.0"

[patch.crates-io.dotted]
git = "https://github.com/someone/dotted"

[replace]
"foo:0.1.0" = { git = "https://github.com/x/foo" }
"https://github.com/rust-lang/crates.io-index#bar@0.2.0" = { path = "bar" }
"baz@1.0.0" = { git = "https://github.com/x/baz", rev = "abc" }
"#;
        let parsed = parse(ManifestKind::CargoToml, text);
        let forced: Vec<(String, String, SourceKind, Option<String>)> = parsed
            .deps
            .iter()
            .filter(|dep| dep.kind == DepKind::Override)
            .map(|dep| {
                (
                    dep.name.clone(),
                    dep.package.clone(),
                    dep.source.clone(),
                    dep.requirement.clone(),
                )
            })
            .collect();
        let git = |url: &str| SourceKind::Git(url.to_string());
        assert_eq!(
            forced,
            vec![
                (
                    "helper".into(),
                    "helper".into(),
                    git("https://github.com/someone/helper"),
                    None
                ),
                (
                    "local".into(),
                    "local".into(),
                    SourceKind::Path("../local".into()),
                    None
                ),
                (
                    "smallvec".into(),
                    "smallvec".into(),
                    SourceKind::Registry,
                    Some("=1.6.0".into())
                ),
                (
                    "dotted".into(),
                    "dotted".into(),
                    git("https://github.com/someone/dotted"),
                    None
                ),
                ("foo:0.1.0".into(), "foo".into(), git("https://github.com/x/foo"), None),
                (
                    "https://github.com/rust-lang/crates.io-index#bar@0.2.0".into(),
                    "bar".into(),
                    SourceKind::Path("bar".into()),
                    None
                ),
                ("baz@1.0.0".into(), "baz".into(), git("https://github.com/x/baz"), None),
            ]
        );
        // The ordinary dependencies are unchanged.
        assert_eq!(parsed.deps.iter().filter(|dep| dep.kind == DepKind::Normal).count(), 2);
        // The name span is on the entry's key.
        let smallvec = parsed
            .deps
            .iter()
            .find(|d| d.kind == DepKind::Override && d.name == "smallvec")
            .unwrap();
        assert_eq!(&text[smallvec.name_span.start..smallvec.name_span.end], "smallvec");
        assert!(text[..smallvec.name_span.start].ends_with("rust-smallvec\"]\n"));
    }

    /// Cargo reads inline tables as tables: a patch, a replacement or a dependency written as one is the
    /// same entry (review of 2959dbe: these were dropped).
    #[test]
    fn inline_tables_are_read_as_tables() {
        for (text, name, package, source) in [
            (
                "[patch]\ncrates-io = { smallvec = { git = \"https://github.com/evil/smallvec\" } }\n",
                "smallvec",
                "smallvec",
                SourceKind::Git("https://github.com/evil/smallvec".into()),
            ),
            (
                "[patch]\n\"https://github.com/servo/rust-smallvec\" = { smallvec = \"=1.6.0\" }\n",
                "smallvec",
                "smallvec",
                SourceKind::Registry,
            ),
            (
                "patch = { crates-io = { smallvec = { git = \"https://github.com/evil/smallvec\" } } }\n",
                "smallvec",
                "smallvec",
                SourceKind::Git("https://github.com/evil/smallvec".into()),
            ),
            (
                "replace = { \"smallvec:1.13.2\" = { git = \"https://github.com/evil/smallvec\" } }\n",
                "smallvec:1.13.2",
                "smallvec",
                SourceKind::Git("https://github.com/evil/smallvec".into()),
            ),
            (
                "[replace]\n\"https://github.com/servo/rust-smallvec#1.13.2\" = { path = \"x\" }\n",
                "https://github.com/servo/rust-smallvec#1.13.2",
                "rust-smallvec",
                SourceKind::Path("x".into()),
            ),
        ] {
            let parsed = parse(ManifestKind::CargoToml, text);
            let found: Vec<_> = parsed
                .deps
                .iter()
                .map(|d| (d.name.as_str(), d.package.as_str(), d.source.clone(), d.kind.clone()))
                .collect();
            assert_eq!(found, vec![(name, package, source, DepKind::Override)], "{text}");
        }
        for text in [
            "dependencies = { smallvec = \"=1.6.0\" }\n",
            "[target]\n'cfg(unix)' = { dependencies = { smallvec = \"=1.6.0\" } }\n",
            "workspace = { dependencies = { smallvec = \"=1.6.0\" } }\n",
        ] {
            let parsed = parse(ManifestKind::CargoToml, text);
            let found: Vec<_> = parsed
                .deps
                .iter()
                .map(|d| (d.name.as_str(), d.requirement.as_deref()))
                .collect();
            assert_eq!(found, vec![("smallvec", Some("=1.6.0"))], "{text}");
            let dep = &parsed.deps[0];
            assert_eq!(&text[dep.name_span.start..dep.name_span.end], "smallvec");
        }
    }

    #[test]
    fn real_files() {
        for path in [
            "large/cargo/Cargo.toml",
            "cargo/image-with-deprecated/Cargo.toml",
            "cargo/toml-git-dependency-with-commit/Cargo.toml",
            "cargo/toml-two-dependencies/Cargo.toml",
        ] {
            let text = std::fs::read_to_string(format!("{}/../fixtures/manifests/{path}", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
            let parsed = parse(ManifestKind::CargoToml, &text);
            assert!(parsed.issues.is_empty(), "{path}: {:?}", parsed.issues);
            // Cross-check the count against the toml crate's reading of the same file.
            let value: toml::Value = toml::from_str(&text).unwrap();
            let count = |table: Option<&toml::Value>| table.and_then(|t| t.as_table()).map_or(0, |t| t.len());
            let mut expected = count(value.get("dependencies"))
                + count(value.get("dev-dependencies"))
                + count(value.get("build-dependencies"))
                + count(value.get("workspace").and_then(|w| w.get("dependencies")));
            if let Some(targets) = value.get("target").and_then(|t| t.as_table()) {
                for target in targets.values() {
                    expected += count(target.get("dependencies"))
                        + count(target.get("dev-dependencies"))
                        + count(target.get("build-dependencies"));
                }
            }
            assert_eq!(parsed.deps.len(), expected, "{path}");
            insta::assert_snapshot!(path.replace('/', "_"), render(&parsed, &text));
        }
    }
}
