//! `pyproject.toml` → PEP 621 `[project]` dependencies and optional dependencies, PEP 735
//! `[dependency-groups]`, uv's `[tool.uv] dev-dependencies`, and Poetry's `[tool.poetry.*dependencies]`.
//!
//! Invariants:
//! - PEP 508 strings are opaque to the TOML grammar: each is scanned a second time (`requirements::
//!   scan_pep508`) and validated with `pep508_rs`; the name and specifier spans point into the original
//!   text, also when the string has escapes (each decoded byte remembers where it came from).
//! - Poetry dependencies keep Poetry's constraint syntax verbatim (`poetry_syntax = true`); `python` is
//!   not a dependency; git/path/url tables are dependencies with that source (not looked up).
//! - PEP 735 `{ include-group = "…" }` entries are skipped (their group is read on its own).
//! - uv's `[tool.uv.sources]` gives a declared dependency its real source (git, path, url, workspace)
//!   or a named index (`registry`), so private names are not treated as PyPI packages.

use crate::manifest::requirements::{location_source, scan_pep508, validate_pep508};
use crate::manifest::toml_tree::{self, TomlStr};
use crate::manifest::{DepKind, Dependency, ManifestKind, Parsed, SourceKind, SyntaxIssue, collect_issues};
use crate::model::Ecosystem;

pub fn extract(text: &str, tree: Option<&tree_sitter::Tree>) -> Parsed {
    let mut res = Parsed::empty(ManifestKind::Pyproject);
    let Some(tree) = tree else {
        return res;
    };
    let root = tree.root_node();
    collect_issues(root, text, &mut res.issues);
    let mut poetry: Vec<PoetryDep> = Vec::new();
    let mut uv_sources: Vec<(String, UvSource)> = Vec::new();
    for table in toml_tree::tables(root, text) {
        if table.is_array {
            continue;
        }
        if let Some((kind, name_at)) = poetry_section(&table.header)
            && table.header.len() == name_at + 1
        {
            poetry_dep(&mut poetry, &table.header[..name_at], kind, &table.header[name_at]);
        }
        for entry in &table.entries {
            let path: Vec<&str> = entry.path.iter().map(|part| part.value.as_str()).collect();
            let pep508_kind = match path.as_slice() {
                ["project", "dependencies"] => Some(DepKind::Normal),
                ["project", "optional-dependencies", extra] => Some(DepKind::Group(extra.to_string())),
                ["dependency-groups", group] => Some(DepKind::Group(group.to_string())),
                ["tool", "uv", "dev-dependencies"] => Some(DepKind::Dev),
                _ => None,
            };
            if let Some(kind) = pep508_kind {
                if entry.value.kind() == "array" {
                    for string in toml_tree::string_array(entry.value, text) {
                        pep508_dependency(&string, &kind, &mut res);
                    }
                }
                continue;
            }
            if let ["tool", "uv", "sources", name, rest @ ..] = path.as_slice() {
                uv_source(&mut uv_sources, name, rest, entry.value, text);
                continue;
            }
            let Some((kind, name_at)) = poetry_section(&entry.path) else {
                continue;
            };
            if entry.path.len() <= name_at {
                continue;
            }
            let dep = poetry_dep(&mut poetry, &entry.path[..name_at], kind, &entry.path[name_at]);
            match &entry.path[name_at + 1..] {
                [] => match entry.value.kind() {
                    "string" => dep.version = toml_tree::string(entry.value, text),
                    "inline_table" => {
                        for field in toml_tree::inline_pairs(entry.value, text) {
                            if let [key] = field.path.as_slice() {
                                dep.field(&key.value, field.value, text);
                            }
                        }
                    }
                    // Multiple-constraint dependencies: the first table that has a version speaks for it.
                    "array" => {
                        let mut cursor = entry.value.walk();
                        for item in entry.value.named_children(&mut cursor) {
                            if item.kind() == "inline_table" && dep.version.is_none() {
                                for field in toml_tree::inline_pairs(item, text) {
                                    if let [key] = field.path.as_slice() {
                                        dep.field(&key.value, field.value, text);
                                    }
                                }
                            }
                        }
                    }
                    _ => {}
                },
                [field] => dep.field(&field.value, entry.value, text),
                _ => {}
            }
        }
    }
    // uv: `[tool.uv.sources]` moves a declared dependency off PyPI (git, path, url, workspace member)
    // or onto a named index; either way its name must not be looked up on PyPI as if it were public.
    for dep in &mut res.deps {
        let wanted = Ecosystem::PyPI.normalize_name(&dep.name);
        if let Some((_, source)) = uv_sources
            .iter()
            .find(|(name, _)| Ecosystem::PyPI.normalize_name(name) == wanted)
        {
            if let Some(kind) = &source.kind {
                dep.source = kind.clone();
            }
            if source.index.is_some() {
                dep.registry.clone_from(&source.index);
            }
        }
    }
    for dep in poetry {
        if dep.name.value.eq_ignore_ascii_case("python") {
            continue;
        }
        res.deps.push(dep.finish());
    }
    res
}

/// One `[tool.uv.sources]` entry: where uv takes the package from instead of PyPI.
#[derive(Default)]
struct UvSource {
    kind: Option<SourceKind>,
    index: Option<String>,
}

fn uv_source(acc: &mut Vec<(String, UvSource)>, name: &str, rest: &[&str], value: tree_sitter::Node, text: &str) {
    let idx = match acc.iter().position(|(known, _)| known == name) {
        Some(idx) => idx,
        None => {
            acc.push((name.to_string(), UvSource::default()));
            acc.len() - 1
        }
    };
    let source = &mut acc[idx].1;
    let mut set = |key: &str, value: tree_sitter::Node| {
        let string = || toml_tree::string(value, text).map(|s| s.value);
        match key {
            "git" => source.kind = string().map(SourceKind::Git),
            "path" => source.kind = string().map(SourceKind::Path),
            "url" => source.kind = string().map(SourceKind::Url),
            "workspace" if toml_tree::boolean(value, text) == Some(true) => source.kind = Some(SourceKind::Workspace),
            "index" => source.index = string(),
            _ => {}
        }
    };
    match rest {
        [key] => set(key, value),
        [] => {
            // A table, or a list of tables split by marker.
            let tables: Vec<tree_sitter::Node> = if value.kind() == "array" {
                let mut cursor = value.walk();
                value
                    .named_children(&mut cursor)
                    .filter(|item| item.kind() == "inline_table")
                    .collect()
            } else {
                vec![value]
            };
            // Tables split by marker each install on some machines: a git or URL one decides over a
            // path or index one (what may come from elsewhere is never clean), a path over an index.
            let rank = |table: tree_sitter::Node| {
                toml_tree::inline_pairs(table, text)
                    .iter()
                    .filter_map(|field| match field.path.as_slice() {
                        [key] if matches!(key.value.as_str(), "git" | "url") => Some(2),
                        [key] if matches!(key.value.as_str(), "path" | "workspace") => Some(1),
                        _ => None,
                    })
                    .max()
                    .unwrap_or(0)
            };
            let mut tables = tables;
            tables.sort_by_cached_key(|table| rank(*table));
            for table in tables {
                for field in toml_tree::inline_pairs(table, text) {
                    if let [key] = field.path.as_slice() {
                        set(&key.value, field.value);
                    }
                }
            }
        }
        _ => {}
    }
}

/// A PEP 508 string inside the TOML text → a dependency with spans into the text.
fn pep508_dependency(string: &TomlStr, kind: &DepKind, acc: &mut Parsed) {
    let value = string.value.as_str();
    let Some(parts) = scan_pep508(value, 0, value.len()) else {
        acc.issues.push(SyntaxIssue {
            span: string.span,
            message: format!("`{value}` is not a requirement"),
        });
        return;
    };
    if let Some(message) = validate_pep508(value) {
        acc.issues.push(SyntaxIssue {
            span: string.span,
            message: format!("invalid requirement: {message}"),
        });
    }
    let span = |(start, end): (usize, usize)| string.sub_span(start, end);
    let name = &value[parts.name.0..parts.name.1];
    let (source, requirement, requirement_span) = match parts.url {
        Some((start, end)) => (location_source(&value[start..end]), None, None),
        None => (
            SourceKind::Registry,
            parts.specifier.map(|(start, end)| value[start..end].to_string()),
            parts.specifier.map(span),
        ),
    };
    acc.deps.push(Dependency {
        ecosystem: Ecosystem::PyPI,
        name: name.to_string(),
        package: name.to_string(),
        name_span: span(parts.name),
        requirement,
        requirement_span,
        kind: kind.clone(),
        source,
        registry: None,
        poetry_syntax: false,
        extras: parts.extras,
        marker: parts.marker.map(|(start, end)| value[start..end].to_string()),
    });
}

/// Poetry dependency tables and where the dependency name sits in the key path.
fn poetry_section(path: &[TomlStr]) -> Option<(DepKind, usize)> {
    let parts: Vec<&str> = path.iter().take(5).map(|part| part.value.as_str()).collect();
    match parts.as_slice() {
        ["tool", "poetry", "dependencies", ..] => Some((DepKind::Normal, 3)),
        ["tool", "poetry", "dev-dependencies", ..] => Some((DepKind::Dev, 3)),
        ["tool", "poetry", "group", group, "dependencies", ..] => Some((DepKind::Group(group.to_string()), 5)),
        _ => None,
    }
}

fn poetry_dep<'a>(deps: &'a mut Vec<PoetryDep>, table: &[TomlStr], kind: DepKind, name: &TomlStr) -> &'a mut PoetryDep {
    let table: Vec<String> = table.iter().map(|part| part.value.clone()).collect();
    let found = deps
        .iter()
        .position(|dep| dep.table == table && dep.name.value == name.value);
    let idx = match found {
        Some(idx) => idx,
        None => {
            deps.push(PoetryDep {
                table,
                kind,
                name: name.clone(),
                version: None,
                extras: Vec::new(),
                markers: None,
                source: None,
                location: None,
            });
            deps.len() - 1
        }
    };
    &mut deps[idx]
}

struct PoetryDep {
    table: Vec<String>,
    kind: DepKind,
    name: TomlStr,
    version: Option<TomlStr>,
    extras: Vec<String>,
    markers: Option<String>,
    /// Poetry `source = "name"`: a configured package source (private index).
    source: Option<String>,
    location: Option<SourceKind>,
}

impl PoetryDep {
    fn field(&mut self, key: &str, value: tree_sitter::Node, text: &str) {
        let string = || toml_tree::string(value, text);
        match key {
            "version" => self.version = string(),
            "extras" => {
                self.extras = toml_tree::string_array(value, text)
                    .into_iter()
                    .map(|extra| extra.value)
                    .collect()
            }
            "markers" => self.markers = string().map(|s| s.value),
            "source" => self.source = string().map(|s| s.value),
            "git" => self.location = string().map(|s| SourceKind::Git(s.value)),
            // poetry-core reads `file` (a local wheel or sdist) beside `path`: the project's own file.
            "path" | "file" => self.location = string().map(|s| SourceKind::Path(s.value)),
            "url" => self.location = string().map(|s| SourceKind::Url(s.value)),
            _ => {}
        }
    }

    fn finish(self) -> Dependency {
        Dependency {
            ecosystem: Ecosystem::PyPI,
            package: self.name.value.clone(),
            name: self.name.value,
            name_span: self.name.span,
            requirement_span: self.version.as_ref().map(|version| version.span),
            requirement: self.version.map(|version| version.value),
            kind: self.kind,
            source: self.location.unwrap_or(SourceKind::Registry),
            registry: self.source,
            poetry_syntax: true,
            extras: self.extras,
            marker: self.markers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{parse, tests::render};

    fn check(text: &str) -> String {
        render(&parse(ManifestKind::Pyproject, text), text)
    }

    #[test]
    fn pep621_pep735_uv() {
        insta::assert_snapshot!(check(
            r#"[project]
name = "größe"
dependencies = [
    "requests>=2.31,<3",
    'attrs ; python_version < "3.9"',
    "flask[async] == 3.1.1",
	"urllib3 @ https://example.com/u.zip",
    "esc\u0061ped>=1",
    "half==",
]

[project.optional-dependencies]
dev = ["pytest==8.0"]
docs = [
  "sphinx>=7",
]

[dependency-groups]
test = ["coverage[toml]>=7", { include-group = "dev" }]

[tool.uv]
dev-dependencies = ["ruff==0.5.0", "mine", "corp-lib>=1", "Local_Pkg"]

[tool.uv.sources]
mine = { git = "https://github.com/x/mine", tag = "v1" }
corp-lib = [{ index = "corp", marker = "sys_platform == 'linux'" }]

[tool.uv.sources.local-pkg]
workspace = true
"#
        ));
    }

    /// uv sources split by marker each install on some machine: a git one decides over a path one,
    /// whichever comes first (the first table alone used to speak for all: local, skipped, exit 0).
    #[test]
    fn a_git_source_split_by_marker_decides_over_a_path_one() {
        let text = "[project]\nname = \"x\"\ndependencies = [\"foo\"]\n\n[tool.uv.sources]\nfoo = [{ path = \"vendor/foo\", marker = \"sys_platform == 'win32'\" }, { git = \"https://evil.example/foo\", marker = \"sys_platform != 'win32'\" }]\n";
        let parsed = parse(ManifestKind::Pyproject, text);
        let foo = parsed.deps.iter().find(|dep| dep.name == "foo").unwrap();
        assert_eq!(
            foo.source,
            SourceKind::Git("https://evil.example/foo".to_string()),
            "{foo:?}"
        );
    }

    #[test]
    fn poetry() {
        insta::assert_snapshot!(check(
            "[tool.poetry.dependencies]\r\npython = \"^3.9\"\r\nrequests = \"^2.31\"\r\nhttpx = { version = \"^0.27\", extras = [\"http2\"], markers = \"sys_platform == 'linux'\" }\r\nmine = { git = \"https://github.com/x/mine.git\" }\r\nlocal = { path = \"../local\", develop = true }\r\nprivate = { version = \"1.0\", source = \"corp\" }\r\nmulti = [{ version = \"<2\", python = \"<3.8\" }, { version = \">=2\", python = \">=3.8\" }]\r\n\r\n[tool.poetry.dependencies.table-form]\r\nversion = \"~1.2\"\r\n\r\n[tool.poetry.group.lint.dependencies]\r\nblack = \"*\"\r\n\r\n[tool.poetry.dev-dependencies]\r\npytest = \"^8\"\r\n"
        ));
    }

    /// python-poetry/poetry's own fixture declares `missing = { file = "missing-0.1.0-py2.py3-none-any.whl" }`,
    /// which poetry-core reads as a local file: it was a registry dependency, so its name went to
    /// PyPI and OSV and PyPI's `missing` was checked in its place.
    #[test]
    fn a_poetry_file_dependency_is_a_local_path() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/manifests/pypi/poetry-file-dependency/pyproject.toml"
        ))
        .unwrap();
        let parsed = parse(ManifestKind::Pyproject, &text);
        let missing = parsed.deps.iter().find(|d| d.name == "missing").unwrap();
        assert_eq!(
            missing.source,
            SourceKind::Path("missing-0.1.0-py2.py3-none-any.whl".to_string())
        );
    }

    #[test]
    fn real_files() {
        let mut res = String::new();
        for path in ["pyproject-env-markers", "pyproject-extras", "pyproject-optional-deps"] {
            let text = std::fs::read_to_string(format!(
                "{}/../fixtures/manifests/pypi/{path}/pyproject.toml",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap();
            res.push_str(&format!("=== {path}\n{}", check(&text)));
        }
        insta::assert_snapshot!(res);
    }
}
