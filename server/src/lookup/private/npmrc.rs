//! `.npmrc`: the default registry, `@scope:registry`, and `//host/:_authToken` / `_auth` / `username` +
//! `_password` credentials. Pure: text in, `PrivateRegistries` out; the ini syntax is
//! `model::npmrc_settings`, shared with `policy::cooldown`.

use std::collections::BTreeMap;

use super::{PrivateRegistries, expand_env, is_public, trimmed};

/// Applies one `.npmrc` (later calls override earlier ones).
pub fn parse_npmrc(text: &str, env: &dyn Fn(&str) -> Option<String>, into: &mut PrivateRegistries) {
    let mut users: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
    for (key, value) in crate::model::npmrc_settings(text) {
        let value = expand_env(value, env);
        if key == "registry" {
            into.npm_default = (!is_public(&value)).then(|| trimmed(&value));
        } else if let Some(scope) = key.strip_suffix(":registry")
            && scope.starts_with('@')
        {
            if is_public(&value) {
                into.npm_scopes.remove(scope);
            } else {
                into.npm_scopes.insert(scope.to_string(), trimmed(&value));
            }
        } else if let Some(rest) = key.strip_prefix("//")
            && let Some((host_path, setting)) = rest.rsplit_once(":")
        {
            let header = match setting {
                "_authToken" => Some(format!("Bearer {value}")),
                "_auth" => Some(format!("Basic {value}")),
                "username" => {
                    users.entry(host_path.to_string()).or_default().0 = Some(value.clone());
                    None
                }
                "_password" => {
                    users.entry(host_path.to_string()).or_default().1 = Some(value.clone());
                    None
                }
                _ => None,
            };
            if let Some(header) = header {
                for scheme in ["https", "http"] {
                    into.credentials.insert(&format!("{scheme}://{host_path}"), &header);
                }
            }
        }
    }
    use base64::Engine;
    for (host_path, (user, password)) in users {
        let (Some(user), Some(password)) = (user, password) else {
            continue;
        };
        // npm stores `_password` base64-encoded.
        let password = base64::engine::general_purpose::STANDARD
            .decode(password.as_bytes())
            .ok()
            .and_then(|p| String::from_utf8(p).ok())
            .unwrap_or(password);
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        for scheme in ["https", "http"] {
            into.credentials
                .insert(&format!("{scheme}://{host_path}"), &format!("Basic {basic}"));
        }
    }
}
