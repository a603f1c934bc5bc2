//! Cargo's `config.toml` (`[registries]`, `[registry] default`, `[source]` replacement) and
//! `credentials.toml`. Pure: text in, `PrivateRegistries` out.

use super::{PrivateRegistries, is_public, trimmed};

/// Applies one `.cargo/config.toml` (later calls override earlier ones).
pub fn parse_cargo_config(text: &str, into: &mut PrivateRegistries) -> Result<(), String> {
    let doc: toml::Table = text.parse().map_err(|err| format!("{err}"))?;
    let mut tokens = Vec::new();
    if let Some(registries) = doc.get("registries").and_then(|r| r.as_table()) {
        for (name, table) in registries {
            if let Some(index) = table.get("index").and_then(|i| i.as_str()) {
                into.cargo_registries.insert(name.clone(), trimmed(index));
                if let Some(token) = table.get("token").and_then(|t| t.as_str()) {
                    tokens.push((index.to_string(), token.to_string()));
                }
            }
        }
    }
    if let Some(default) = doc
        .get("registry")
        .and_then(|r| r.get("default"))
        .and_then(|d| d.as_str())
    {
        into.cargo_default_registry = Some(default.to_string());
    }
    if let Some(sources) = doc.get("source").and_then(|s| s.as_table()) {
        let mut name = sources
            .get("crates-io")
            .and_then(|c| c.get("replace-with"))
            .and_then(|r| r.as_str());
        let mut hops = 0;
        while let Some(current) = name {
            hops += 1;
            let Some(source) = sources.get(current) else {
                into.cargo_crates_io_replacement = into
                    .cargo_registries
                    .get(current)
                    .cloned()
                    .or_else(|| Some(format!("unknown-source:{current}")));
                break;
            };
            if let Some(next) = source.get("replace-with").and_then(|r| r.as_str())
                && hops < 8
            {
                name = Some(next);
                continue;
            }
            let url = source
                .get("registry")
                .and_then(|r| r.as_str())
                .map(trimmed)
                .or_else(|| {
                    ["directory", "local-registry"]
                        .iter()
                        .find_map(|key| source.get(*key).and_then(|d| d.as_str()).map(|d| format!("file://{d}")))
                })
                .unwrap_or_else(|| format!("unknown-source:{current}"));
            into.cargo_crates_io_replacement = (!is_public(&url)).then_some(url);
            break;
        }
    }
    for (index, token) in tokens {
        into.credentials.insert(&registry_scope(&index), &token);
    }
    Ok(())
}

/// The URL a cargo registry's token is scoped to: its index URL, widened to the registry when the index
/// is the registry's `index/` folder (Artifactory, Nexus and Cloudsmith serve the web API beside it).
pub fn registry_scope(index: &str) -> String {
    let url = index.strip_prefix("sparse+").unwrap_or(index);
    let trimmed = url.trim_end_matches('/');
    match trimmed.strip_suffix("/index") {
        Some(registry) => format!("{registry}/"),
        None => url.to_string(),
    }
}

/// Applies `$CARGO_HOME/credentials.toml` (`[registries.<name>] token`), after the config files.
pub fn parse_cargo_credentials(text: &str, into: &mut PrivateRegistries) -> Result<(), String> {
    let doc: toml::Table = text.parse().map_err(|err| format!("{err}"))?;
    if let Some(registries) = doc.get("registries").and_then(|r| r.as_table()) {
        for (name, table) in registries {
            if let (Some(token), Some(index)) = (
                table.get("token").and_then(|t| t.as_str()),
                into.cargo_registries.get(name),
            ) {
                into.credentials.insert(&registry_scope(index), token);
            }
        }
    }
    Ok(())
}
