//! pip and uv/Poetry index configuration: `pip.conf`, `requirements*.txt` options, `pyproject.toml`
//! indexes and sources. Pure: text in, `PrivateRegistries` out.

use crate::model::Ecosystem;

use super::{PrivateRegistries, is_public, strip_userinfo, trimmed};

pub(super) fn set_pypi_index(url: &str, into: &mut PrivateRegistries) {
    let url = strip_userinfo(url, &mut into.credentials);
    into.pypi_index = (!is_public(&url)).then(|| trimmed(&url));
}

pub(super) fn add_pypi_extra(url: &str, into: &mut PrivateRegistries) {
    let url = trimmed(&strip_userinfo(url, &mut into.credentials));
    if !is_public(&url) && !into.pypi_extra_indexes.contains(&url) {
        into.pypi_extra_indexes.push(url);
    }
}

/// Applies `pip.conf` (`[global]` / `[install]` `index-url`, `extra-index-url`).
pub fn parse_pip_conf(text: &str, into: &mut PrivateRegistries) {
    let mut section = String::new();
    let mut key = String::new();
    for line in text.lines() {
        let trimmed_line = line.trim();
        if trimmed_line.is_empty() || trimmed_line.starts_with('#') || trimmed_line.starts_with(';') {
            continue;
        }
        if trimmed_line.starts_with('[') {
            section = trimmed_line.trim_matches(['[', ']']).trim().to_string();
            continue;
        }
        if section != "global" && section != "install" {
            continue;
        }
        // Continuation lines of a multi-line value are indented.
        let (current_key, values) = if line.starts_with([' ', '\t']) && !key.is_empty() {
            (key.clone(), trimmed_line)
        } else if let Some((k, v)) = trimmed_line.split_once(['=', ':']) {
            key = k.trim().to_string();
            (key.clone(), v.trim())
        } else {
            continue;
        };
        for value in values.split_whitespace() {
            match current_key.as_str() {
                "index-url" | "index_url" => set_pypi_index(value, into),
                "extra-index-url" | "extra_index_url" => add_pypi_extra(value, into),
                _ => {}
            }
        }
    }
}

/// Applies `--index-url`/`-i` and `--extra-index-url` lines of a requirements file.
pub fn parse_requirements_options(text: &str, into: &mut PrivateRegistries) {
    for line in text.lines() {
        let line = line.split(" #").next().unwrap_or_default().trim();
        let mut words = line.split_whitespace();
        while let Some(word) = words.next() {
            let (option, inline) = match word.split_once('=') {
                Some((option, value)) => (option, Some(value)),
                None => (word, None),
            };
            let value = match option {
                "--index-url" | "-i" | "--extra-index-url" => {
                    inline.map(str::to_string).or_else(|| words.next().map(str::to_string))
                }
                _ => None,
            };
            let Some(value) = value else { continue };
            if option == "--extra-index-url" {
                add_pypi_extra(&value, into);
            } else {
                set_pypi_index(&value, into);
            }
        }
    }
}

/// Applies `[[tool.uv.index]]`, `[tool.uv.sources]` and `[[tool.poetry.source]]` of a pyproject.toml.
pub fn parse_pyproject_indexes(text: &str, into: &mut PrivateRegistries) -> Result<(), String> {
    let doc: toml::Table = text.parse().map_err(|err| format!("{err}"))?;
    let tool = doc.get("tool");
    if let Some(indexes) = tool
        .and_then(|t| t.get("uv"))
        .and_then(|u| u.get("index"))
        .and_then(|i| i.as_array())
    {
        for index in indexes {
            let Some(url) = index.get("url").and_then(|u| u.as_str()) else {
                continue;
            };
            let url = trimmed(&strip_userinfo(url, &mut into.credentials));
            if let Some(name) = index.get("name").and_then(|n| n.as_str()) {
                into.pypi_named.insert(name.to_string(), url.clone());
            }
            if index.get("default").and_then(|d| d.as_bool()) == Some(true) {
                into.pypi_index = (!is_public(&url)).then_some(url);
            } else if index.get("explicit").and_then(|e| e.as_bool()) != Some(true) {
                add_pypi_extra(&url, into);
            }
        }
    }
    if let Some(sources) = tool
        .and_then(|t| t.get("uv"))
        .and_then(|u| u.get("sources"))
        .and_then(|s| s.as_table())
    {
        for (package, source) in sources {
            if let Some(index) = source.get("index").and_then(|i| i.as_str())
                && let Some(url) = into.pypi_named.get(index).cloned()
            {
                into.pypi_pinned.insert(Ecosystem::PyPI.normalize_name(package), url);
            }
        }
    }
    if let Some(sources) = tool
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.get("source"))
        .and_then(|s| s.as_array())
    {
        for source in sources {
            let Some(url) = source.get("url").and_then(|u| u.as_str()) else {
                continue;
            };
            let url = trimmed(&strip_userinfo(url, &mut into.credentials));
            if let Some(name) = source.get("name").and_then(|n| n.as_str()) {
                into.pypi_named.insert(name.to_string(), url.clone());
            }
            let priority = source.get("priority").and_then(|p| p.as_str());
            let legacy_default = source.get("default").and_then(|d| d.as_bool()) == Some(true);
            match priority {
                Some("primary") | Some("default") => into.pypi_index = (!is_public(&url)).then_some(url),
                None if legacy_default => into.pypi_index = (!is_public(&url)).then_some(url),
                Some("explicit") => {}
                _ => add_pypi_extra(&url, into),
            }
        }
    }
    Ok(())
}
