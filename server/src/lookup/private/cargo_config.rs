//! Cargo's `config.toml` (`[registries]`, `[registry] default`, `[source]` replacement) and
//! `credentials.toml`. Pure: text in, `PrivateRegistries` out.
//!
//! Invariants:
//! - Cargo keys a user's token by registry NAME (`credentials.toml` `[registries.X] token`,
//!   `CARGO_REGISTRIES_X_TOKEN`), and any config file may define that name's index, a cloned
//!   project's `.cargo/config.toml` included. Gatehouse binds the user's token to the index the USER's
//!   side names for X (`$CARGO_HOME/config.toml`, `CARGO_REGISTRIES_X_INDEX`): a project that
//!   redefines X elsewhere, or defines an X the user never did, gets no token and a problem says why
//!   (`bind_user_tokens`). Only a project the user trusts is followed as cargo follows it.
//! - A `token` written in a config file is bound to the index the same table names: a project's own
//!   token goes only to the index the project itself wrote.
//! - crates.io's token (`[registry] token`, `CARGO_REGISTRY_TOKEN`) is never read: the crates.io
//!   index needs none, and a `[source.crates-io]` replacement must never receive it.

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

/// The `[registries.<name>] token` entries of `$CARGO_HOME/credentials.toml`: (name, token). The
/// crates.io `[registry] token` is not read.
pub fn parse_cargo_credentials(text: &str) -> Result<Vec<(String, String)>, String> {
    let doc: toml::Table = text.parse().map_err(|err| format!("{err}"))?;
    let mut res = Vec::new();
    if let Some(registries) = doc.get("registries").and_then(|r| r.as_table()) {
        for (name, table) in registries {
            if let Some(token) = table.get("token").and_then(|t| t.as_str()) {
                res.push((name.clone(), token.to_string()));
            }
        }
    }
    Ok(res)
}

/// A user token bound by name: where it came from (`credentials.toml`'s path or the variable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserToken {
    pub registry: String,
    pub token: String,
    pub source: String,
}

/// Binds the user's registry tokens to index URLs: each to the index `user_indexes` (the user's own
/// config and environment) names for its registry, when that is also the index in effect
/// (`into.cargo_registries`, after every file). When a project file moved the registry elsewhere, or
/// defined it where the user did not, the token is bound only if `trusted`; otherwise it is left out
/// and the returned sentence (registry name, why) says so. A token for a registry no file defines is
/// unused and unreported. Later tokens for one registry replace earlier ones.
pub fn bind_user_tokens(
    tokens: &[UserToken],
    user_indexes: &std::collections::BTreeMap<String, String>,
    trusted: bool,
    into: &mut PrivateRegistries,
) -> Vec<(String, String)> {
    let mut refused = Vec::new();
    for UserToken {
        registry,
        token,
        source,
    } in tokens
    {
        let Some(effective) = into.cargo_registries.get(registry) else {
            continue;
        };
        let own = user_indexes.get(registry);
        if own == Some(effective) || trusted {
            into.credentials.insert(&registry_scope(effective), token);
            continue;
        }
        let (effective, own) = (shown(effective), own.map(|own| shown(own)));
        let why = match own {
            Some(own) => format!(
                "registry `{registry}` is redefined by the project to {effective}, but your own configuration names {own}: your token for it ({source}) is not sent to the project's index"
            ),
            None => format!(
                "registry `{registry}` is defined only by the project ({effective}): your token for it ({source}) is sent only to an index your own configuration names (`[registries.{registry}] index` in $CARGO_HOME/config.toml, or CARGO_REGISTRIES_{}_INDEX)",
                env_name(registry)
            ),
        };
        refused.push((registry.clone(), why));
    }
    refused
}

/// An index URL for a message: without the `user:password@` it may carry.
fn shown(url: &str) -> String {
    if url.contains('@') {
        crate::lookup::http::redact(url)
    } else {
        url.to_string()
    }
}

/// A registry name as cargo spells it in environment variables (`my-reg` → `MY_REG`).
pub fn env_name(registry: &str) -> String {
    registry.to_ascii_uppercase().replace('-', "_")
}
