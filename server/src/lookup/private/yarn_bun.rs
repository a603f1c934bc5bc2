//! The registry settings of Yarn and Bun: Yarn 2+ `.yarnrc.yml` (`npmRegistryServer`,
//! `npmScopes.<scope>.npmRegistryServer`), Yarn 1 `.yarnrc` (`registry "…"`, `"@scope:registry" "…"`)
//! and Bun's `bunfig.toml` (`[install] registry`, `[install.scopes]`). Pure: text in, `PrivateRegistries`
//! out, with the same meaning as `.npmrc` (`npmrc::set_default`, `npmrc::set_scope`).
//!
//! Invariants:
//! - Environment references (`${VAR}` and `${VAR:-default}` in Yarn's files, `$VAR` / `${VAR}` in Bun's)
//!   are expanded only in the user's own files and a trusted project's (`Expansion::Env`); in an
//!   untrusted project's file the registry is taken as written, and said.
//! - Credentials (Yarn `npmAuthToken` / `npmAuthIdent` at the top level, per scope and under
//!   `npmRegistries`; Bun `token`, `username` + `password`, or user info in the URL) are read only when
//!   the caller says so (`Secrets::Read`: the user's own files and a trusted project's), each bound to
//!   the registry URL it is written for; a top-level Yarn token goes to that file's `npmRegistryServer`
//!   only. From an untrusted project's file no credential is read.
//! - A file that does not parse is an `Err` with the parser's message; nothing in it applies.

use base64::Engine as _;

use super::npmrc::{Expansion, set_default, set_scope};
use super::{PrivateRegistries, strip_userinfo};

/// Whether a file's credentials are read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// The user's own file, or a trusted project's.
    Read,
    /// An untrusted project's file: its credentials are left out.
    Ignored,
}

/// Records `authorization` for `url` (a full URL, or npm's scheme-less `//host/path/`, which stands for
/// https and http alike).
fn bind(into: &mut PrivateRegistries, url: &str, authorization: &str) {
    if let Some(rest) = url.strip_prefix("//") {
        for scheme in ["https", "http"] {
            into.credentials.insert(&format!("{scheme}://{rest}"), authorization);
        }
    } else {
        into.credentials.insert(url, authorization);
    }
}

/// A credential value named `name` in `settings`, expanded (`key` names its place in notes).
fn secret_value(
    settings: &dyn Fn(&str) -> Option<String>,
    key: &str,
    name: &str,
    expansion: Expansion<'_>,
    bare: bool,
    notes: &mut Vec<String>,
) -> Option<String> {
    let raw = settings(name)?;
    match expand(&raw, expansion, bare) {
        Ok(value) if !value.is_empty() => Some(value),
        Ok(_) => None,
        Err(why) => {
            notes.push(format!("`{key}{name}` {why}; no credential is sent for it"));
            None
        }
    }
}

/// The `Authorization` value of Yarn's `npmAuthToken` / `npmAuthIdent` in `settings`, expanded.
fn yarn_authorization(
    settings: &serde_yaml_ng::Value,
    key: &str,
    expansion: Expansion<'_>,
    notes: &mut Vec<String>,
) -> Option<String> {
    let get = |name: &str| {
        settings
            .get(name)
            .and_then(serde_yaml_ng::Value::as_str)
            .map(str::to_string)
    };
    if let Some(token) = secret_value(&get, key, "npmAuthToken", expansion, false, notes) {
        return Some(format!("Bearer {token}"));
    }
    let ident = secret_value(&get, key, "npmAuthIdent", expansion, false, notes)?;
    let encoded = if ident.contains(':') {
        base64::engine::general_purpose::STANDARD.encode(ident)
    } else {
        ident
    };
    Some(format!("Basic {encoded}"))
}

/// Expands `${VAR}`, `${VAR:-default}` / `${VAR-default}` and, when `bare` (Bun), `$VAR`. `Err` names
/// the first variable that is not expanded: refused (untrusted), or not set without a default.
fn expand(value: &str, expansion: Expansion<'_>, bare: bool) -> Result<String, String> {
    let mut res = String::new();
    let mut rest = value;
    while let Some(start) = rest.find('$') {
        res.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let (name, default, consumed) = if let Some(inner) = after.strip_prefix('{') {
            let Some(end) = inner.find('}') else {
                res.push_str(&rest[start..]);
                return Ok(res);
            };
            let body = &inner[..end];
            let (name, default) = match body.split_once(":-").or_else(|| body.split_once('-')) {
                Some((name, default)) => (name, Some(default)),
                None => (body, None),
            };
            (name, default, end + 2)
        } else if bare {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], None, end)
        } else {
            res.push('$');
            rest = after;
            continue;
        };
        if name.is_empty() {
            res.push('$');
            rest = after;
            continue;
        }
        let Expansion::Env(env) = expansion else {
            return Err(format!(
                "uses `${{{name}}}`, which is not expanded in a project file the user does not trust: the registry is used as written"
            ));
        };
        match (env(name), default) {
            (Some(found), _) => res.push_str(&found),
            (None, Some(default)) => res.push_str(default),
            (None, None) => return Err(format!("uses `${{{name}}}`, which is not set: the setting is left out")),
        }
        rest = &after[consumed..];
    }
    res.push_str(rest);
    Ok(res)
}

/// A registry value after expansion: the value to apply (`None`: leave the setting out) and a note.
pub(super) fn registry_value(
    key: &str,
    raw: &str,
    expansion: Expansion<'_>,
    bare: bool,
    notes: &mut Vec<String>,
) -> Option<String> {
    match expand(raw, expansion, bare) {
        Ok(value) => Some(value),
        Err(why) if matches!(expansion, Expansion::Never) => {
            notes.push(format!("`{key}` {why}"));
            Some(raw.to_string())
        }
        Err(why) => {
            notes.push(format!("`{key}` {why}"));
            None
        }
    }
}

/// A scope as npm writes it (`@corp`): Yarn's `npmScopes` and Bun's `[install.scopes]` name it with or
/// without the `@`.
pub(super) fn scope_name(name: &str) -> String {
    let bare = name.trim().trim_start_matches('@');
    format!("@{bare}")
}

/// Applies one Yarn 2+ `.yarnrc.yml`. Returns the settings it left out or took as written, one sentence
/// each.
pub fn parse_yarnrc_yml(
    text: &str,
    expansion: Expansion<'_>,
    secrets: Secrets,
    into: &mut PrivateRegistries,
) -> Result<Vec<String>, String> {
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|err| err.to_string())?;
    let mut notes = Vec::new();
    if doc.is_null() {
        return Ok(notes);
    }
    let Some(map) = doc.as_mapping() else {
        return Err("the top level is not a mapping".to_string());
    };
    let mut server = None;
    if let Some(raw) = map.get("npmRegistryServer").and_then(serde_yaml_ng::Value::as_str)
        && let Some(value) = registry_value("npmRegistryServer", raw, expansion, false, &mut notes)
    {
        set_default(into, &value);
        server = Some(value);
    }
    if secrets == Secrets::Read
        && let Some(server) = &server
        && let Some(authorization) = yarn_authorization(&doc, "", expansion, &mut notes)
    {
        bind(into, server, &authorization);
    }
    if let Some(scopes) = map.get("npmScopes").and_then(serde_yaml_ng::Value::as_mapping) {
        for (name, settings) in scopes {
            let Some(name) = name.as_str() else {
                continue;
            };
            let mut scope_server = server.clone();
            if let Some(raw) = settings.get("npmRegistryServer").and_then(serde_yaml_ng::Value::as_str) {
                let key = format!("npmScopes.{name}.npmRegistryServer");
                if let Some(value) = registry_value(&key, raw, expansion, false, &mut notes) {
                    set_scope(into, &scope_name(name), &value);
                    scope_server = Some(value);
                }
            }
            if secrets == Secrets::Read
                && let Some(scope_server) = &scope_server
                && let Some(authorization) =
                    yarn_authorization(settings, &format!("npmScopes.{name}."), expansion, &mut notes)
            {
                bind(into, scope_server, &authorization);
            }
        }
    }
    if secrets == Secrets::Read
        && let Some(registries) = map.get("npmRegistries").and_then(serde_yaml_ng::Value::as_mapping)
    {
        for (url, settings) in registries {
            let Some(url) = url.as_str() else {
                continue;
            };
            let key = format!("npmRegistries.\"{url}\".");
            if let Some(authorization) = yarn_authorization(settings, &key, expansion, &mut notes) {
                bind(into, url, &authorization);
            }
        }
    }
    Ok(notes)
}

/// Unquotes one `.yarnrc` token (`"…"` with JSON-style escapes, else as written).
fn unquote(token: &str) -> String {
    let token = token.trim();
    if token.len() >= 2 && token.starts_with('"') && token.ends_with('"') {
        return serde_json::from_str::<String>(token).unwrap_or_else(|_| token[1..token.len() - 1].to_string());
    }
    if token.len() >= 2 && token.starts_with('\'') && token.ends_with('\'') {
        return token[1..token.len() - 1].to_string();
    }
    token.to_string()
}

/// Splits a `.yarnrc` line into key and value: the key is a quoted string or runs to the first space
/// (or `=`, which Yarn 1 also reads).
fn yarnrc_line(line: &str) -> Option<(String, String)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (key, value) = if let Some(rest) = line.strip_prefix('"') {
        let end = rest.find('"')?;
        (format!("\"{}\"", &rest[..end]), &rest[end + 1..])
    } else {
        let end = line.find([' ', '\t', '='])?;
        (line[..end].to_string(), &line[end..])
    };
    let value = value.trim_start().trim_start_matches('=').trim();
    (!value.is_empty()).then(|| (unquote(&key), unquote(value)))
}

/// Applies one Yarn 1 `.yarnrc` (`registry "…"`, `"@scope:registry" "…"`). Yarn 1 expands no
/// environment references in these values.
pub fn parse_yarnrc(text: &str, into: &mut PrivateRegistries) {
    for line in text.lines() {
        let Some((key, value)) = yarnrc_line(line) else {
            continue;
        };
        if key == "registry" {
            set_default(into, &value);
        } else if let Some(scope) = key.strip_suffix(":registry")
            && scope.starts_with('@')
        {
            set_scope(into, scope, &value);
        }
    }
}

/// The registry URL of a bunfig value: a string, or a table with `url` (some write `registry`).
fn bunfig_url(value: &toml::Value) -> Option<&str> {
    match value {
        toml::Value::String(url) => Some(url),
        toml::Value::Table(table) => table
            .get("url")
            .or_else(|| table.get("registry"))
            .and_then(toml::Value::as_str),
        _ => None,
    }
}

/// How a bunfig registry value is read: which setting it is (`key`, for notes), how its references
/// are expanded, whether its credential is read.
struct BunfigValue<'a> {
    key: &'a str,
    expansion: Expansion<'a>,
    secrets: Secrets,
}

impl BunfigValue<'_> {
    /// Applies `value` with `apply` (the URL without user info) and records its credential (`token`,
    /// `username` + `password`, or the URL's user info) when the secrets may be read.
    fn apply(
        &self,
        value: &toml::Value,
        into: &mut PrivateRegistries,
        notes: &mut Vec<String>,
        apply: impl FnOnce(&mut PrivateRegistries, &str),
    ) {
        let Some(raw) = bunfig_url(value) else {
            return;
        };
        let Some(expanded) = registry_value(self.key, raw, self.expansion, true, notes) else {
            return;
        };
        let mut userinfo = crate::lookup::http::HostCredentials::default();
        let url = strip_userinfo(&expanded, &mut userinfo);
        apply(into, &url);
        if self.secrets == Secrets::Ignored {
            return;
        }
        let get = |name: &str| value.get(name).and_then(toml::Value::as_str).map(str::to_string);
        let key = format!("{}.", self.key);
        let mut secret = |name: &str| secret_value(&get, &key, name, self.expansion, true, notes);
        let token = secret("token");
        let user = secret("username");
        let password = secret("password");
        let authorization = match (token, user, password) {
            (Some(token), _, _) => Some(format!("Bearer {token}")),
            (None, Some(user), Some(password)) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
            _ => None,
        };
        match authorization {
            Some(authorization) => bind(into, &url, &authorization),
            None => into.credentials.absorb(userinfo),
        }
    }
}

/// Applies one `bunfig.toml` (`[install] registry`, `[install.scopes]`).
pub fn parse_bunfig(
    text: &str,
    expansion: Expansion<'_>,
    secrets: Secrets,
    into: &mut PrivateRegistries,
) -> Result<Vec<String>, String> {
    let doc: toml::Table = text.parse().map_err(|err| format!("{err}"))?;
    let mut notes = Vec::new();
    let Some(install) = doc.get("install").and_then(toml::Value::as_table) else {
        return Ok(notes);
    };
    if let Some(value) = install.get("registry") {
        let how = BunfigValue {
            key: "install.registry",
            expansion,
            secrets,
        };
        how.apply(value, into, &mut notes, set_default);
    }
    if let Some(scopes) = install.get("scopes").and_then(toml::Value::as_table) {
        for (name, value) in scopes {
            let key = format!("install.scopes.{name}");
            let how = BunfigValue {
                key: &key,
                expansion,
                secrets,
            };
            let scope = scope_name(name);
            how.apply(value, into, &mut notes, |into, url| set_scope(into, &scope, url));
        }
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Ecosystem, PackageRef, RegistrySource};

    fn source(config: &PrivateRegistries, name: &str) -> RegistrySource {
        config.source_for(&PackageRef::new(Ecosystem::Npm, name), None)
    }

    fn private(url: &str) -> RegistrySource {
        RegistrySource::Private { url: url.to_string() }
    }

    #[test]
    fn yarnrc_yml_default_and_scopes() {
        let mut config = PrivateRegistries::default();
        let notes = parse_yarnrc_yml(
            "nodeLinker: node-modules\nnpmRegistryServer: \"https://mirror.corp.example/npm/\"\nnpmScopes:\n  corp:\n    npmRegistryServer: https://npm.corp.example\n    npmAuthToken: SECRET\n  \"@gh\":\n    npmRegistryServer: https://npm.pkg.github.com\n  pub:\n    npmRegistryServer: https://registry.yarnpkg.com\n",
            Expansion::Never,
            Secrets::Ignored,
            &mut config,
        )
        .unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(source(&config, "lodash"), private("https://mirror.corp.example/npm"));
        assert_eq!(source(&config, "@corp/x"), private("https://npm.corp.example"));
        assert_eq!(source(&config, "@gh/x"), private("https://npm.pkg.github.com"));
        assert_eq!(source(&config, "@pub/x"), private("https://mirror.corp.example/npm"));
        // Credentials are not read from these files.
        assert!(config.credentials.is_empty());
        // The public registry under Yarn's spelling is public.
        let mut public = PrivateRegistries::default();
        parse_yarnrc_yml(
            "npmRegistryServer: https://registry.yarnpkg.com\n",
            Expansion::Never,
            Secrets::Ignored,
            &mut public,
        )
        .unwrap();
        assert_eq!(source(&public, "lodash"), RegistrySource::Public);
        assert!(parse_yarnrc_yml("npmScopes: [\n", Expansion::Never, Secrets::Ignored, &mut public).is_err());
        assert!(parse_yarnrc_yml("- a\n", Expansion::Never, Secrets::Ignored, &mut public).is_err());
        assert!(
            parse_yarnrc_yml("", Expansion::Never, Secrets::Ignored, &mut public)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn environment_references_are_expanded_only_when_allowed() {
        let env = |name: &str| (name == "HOST").then(|| "env.corp.example".to_string());
        let text = "npmRegistryServer: \"https://${HOST}/npm\"\nnpmScopes:\n  a:\n    npmRegistryServer: \"https://${MISSING:-fallback.example}/\"\n  b:\n    npmRegistryServer: \"https://${MISSING}/\"\n";
        let mut trusted = PrivateRegistries::default();
        let notes = parse_yarnrc_yml(text, Expansion::Env(&env), Secrets::Read, &mut trusted).unwrap();
        assert_eq!(source(&trusted, "lodash"), private("https://env.corp.example/npm"));
        assert_eq!(source(&trusted, "@a/x"), private("https://fallback.example"));
        // Not set and no default: left out (the default registry applies), and said.
        assert_eq!(source(&trusted, "@b/x"), private("https://env.corp.example/npm"));
        assert!(
            notes.len() == 1 && notes[0].contains("MISSING") && notes[0].contains("not set"),
            "{notes:?}"
        );

        let mut untrusted = PrivateRegistries::default();
        let notes = parse_yarnrc_yml(text, Expansion::Never, Secrets::Ignored, &mut untrusted).unwrap();
        assert_eq!(source(&untrusted, "lodash"), private("https://${HOST}/npm"));
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(notes.iter().all(|n| n.contains("not expanded")), "{notes:?}");

        let mut bun = PrivateRegistries::default();
        let bunfig = "[install]\nregistry = \"https://$HOST/npm/\"\n";
        parse_bunfig(bunfig, Expansion::Env(&env), Secrets::Read, &mut bun).unwrap();
        assert_eq!(source(&bun, "lodash"), private("https://env.corp.example/npm"));
    }

    #[test]
    fn yarnrc_classic_lines() {
        let mut config = PrivateRegistries::default();
        parse_yarnrc(
            "# yarn lockfile settings\nregistry \"https://mirror.corp.example/\"\n\"@corp:registry\" \"https://npm.corp.example/\"\n@other:registry https://other.example\nlastUpdateCheck 1700000000000\nyarn-offline-mirror \"./npm-packages-offline-cache\"\n",
            &mut config,
        );
        assert_eq!(source(&config, "lodash"), private("https://mirror.corp.example"));
        assert_eq!(source(&config, "@corp/x"), private("https://npm.corp.example"));
        assert_eq!(source(&config, "@other/x"), private("https://other.example"));
        let mut public = PrivateRegistries::default();
        parse_yarnrc("registry \"https://registry.yarnpkg.com\"\n", &mut public);
        assert_eq!(source(&public, "lodash"), RegistrySource::Public);
    }

    #[test]
    fn bunfig_install_registry_and_scopes() {
        let mut config = PrivateRegistries::default();
        parse_bunfig(
            "[install]\nregistry = { url = \"https://mirror.corp.example/\", token = \"T\" }\n\n[install.scopes]\n\"@myorg1\" = \"https://npm.corp.example/\"\nmyorg2 = { username = \"u\", password = \"$NPM_PASS\", url = \"https://two.example/\" }\n",
            Expansion::Never,
            Secrets::Ignored,
            &mut config,
        )
        .unwrap();
        assert_eq!(source(&config, "lodash"), private("https://mirror.corp.example"));
        assert_eq!(source(&config, "@myorg1/x"), private("https://npm.corp.example"));
        assert_eq!(source(&config, "@myorg2/x"), private("https://two.example"));
        assert!(config.credentials.is_empty());
        // The dotted form at the top level is the same table.
        let mut dotted = PrivateRegistries::default();
        parse_bunfig(
            "install.registry = \"https://mirror.corp.example/\"\n",
            Expansion::Never,
            Secrets::Ignored,
            &mut dotted,
        )
        .unwrap();
        assert_eq!(source(&dotted, "lodash"), private("https://mirror.corp.example"));
        assert!(parse_bunfig("[install\n", Expansion::Never, Secrets::Ignored, &mut dotted).is_err());
    }
}

#[cfg(test)]
mod credential_tests {
    use super::*;

    fn auth(config: &PrivateRegistries, url: &str) -> Option<String> {
        config
            .credentials
            .for_url(&reqwest::Url::parse(url).unwrap())
            .map(str::to_string)
    }

    /// The user's own (or a trusted project's) Yarn and Bun files may hold the credential for the
    /// registries they name: each is bound to the URL it is written for, never elsewhere; from an
    /// untrusted project's file none is read.
    #[test]
    fn credentials_are_bound_to_their_registry_and_read_only_when_allowed() {
        let env = |name: &str| (name == "NPM_TOKEN").then(|| "tok-from-env".to_string());
        let yarnrc = "npmRegistryServer: https://mirror.corp.example/npm\nnpmAuthToken: \"${NPM_TOKEN}\"\nnpmScopes:\n  corp:\n    npmRegistryServer: https://npm.corp.example/\n    npmAuthIdent: \"alice:s3cret\"\nnpmRegistries:\n  \"//other.corp.example/repo/\":\n    npmAuthToken: OTHER\n";
        let mut mine = PrivateRegistries::default();
        parse_yarnrc_yml(yarnrc, Expansion::Env(&env), Secrets::Read, &mut mine).unwrap();
        assert_eq!(
            auth(&mine, "https://mirror.corp.example/npm/lodash").as_deref(),
            Some("Bearer tok-from-env")
        );
        let basic = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        assert_eq!(
            auth(&mine, "https://npm.corp.example/@corp%2fx"),
            Some(format!("Basic {basic}"))
        );
        assert_eq!(
            auth(&mine, "https://other.corp.example/repo/x").as_deref(),
            Some("Bearer OTHER")
        );
        assert_eq!(auth(&mine, "https://registry.npmjs.org/lodash"), None);
        assert_eq!(auth(&mine, "https://mirror.corp.example/elsewhere"), None);

        let mut untrusted = PrivateRegistries::default();
        parse_yarnrc_yml(yarnrc, Expansion::Never, Secrets::Ignored, &mut untrusted).unwrap();
        assert!(untrusted.credentials.is_empty());
        assert_eq!(
            untrusted.npm_default.as_deref(),
            Some("https://mirror.corp.example/npm")
        );

        let bunfig = "[install]\nregistry = { url = \"https://mirror.corp.example/\", token = \"$NPM_TOKEN\" }\n[install.scopes]\n\"@a\" = \"https://u:p%40ss@a.corp.example/\"\nb = { url = \"https://b.corp.example/\", username = \"bob\", password = \"pw\" }\n";
        let mut mine = PrivateRegistries::default();
        parse_bunfig(bunfig, Expansion::Env(&env), Secrets::Read, &mut mine).unwrap();
        assert_eq!(
            auth(&mine, "https://mirror.corp.example/lodash").as_deref(),
            Some("Bearer tok-from-env")
        );
        let a = base64::engine::general_purpose::STANDARD.encode("u:p@ss");
        assert_eq!(auth(&mine, "https://a.corp.example/@a%2fx"), Some(format!("Basic {a}")));
        let b = base64::engine::general_purpose::STANDARD.encode("bob:pw");
        assert_eq!(auth(&mine, "https://b.corp.example/@b%2fx"), Some(format!("Basic {b}")));
        // The URL is kept without its user info.
        assert_eq!(
            mine.npm_scopes.get("@a").map(String::as_str),
            Some("https://a.corp.example")
        );

        let mut untrusted = PrivateRegistries::default();
        parse_bunfig(bunfig, Expansion::Never, Secrets::Ignored, &mut untrusted).unwrap();
        assert!(untrusted.credentials.is_empty());
        assert_eq!(
            untrusted.npm_scopes.get("@a").map(String::as_str),
            Some("https://a.corp.example")
        );
    }
}
