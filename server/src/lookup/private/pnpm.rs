//! pnpm's registry settings in `pnpm-workspace.yaml` (pnpm 10+ reads its settings there in camelCase;
//! pnpm 11 moved registry configuration there): `registry`, and `registries` in both of its shapes,
//! the scope map (`default: <url>`, `'@scope': <url>`) and the declaration keyed by URL
//! (`<url>: { scopes: ['@acme', '@'] }`, where a bare `'@'` is the default registry). Pure: text in,
//! `PrivateRegistries` out, with the same meaning as `.npmrc` (`npmrc::set_default`, `npmrc::set_scope`).
//!
//! Invariants:
//! - No credential is read from this file: pnpm refuses credentials and TLS material in `registries`
//!   (the file is committed), and its auth stays in `.npmrc`.
//! - `${VAR}` in a registry URL is expanded only in a trusted project's file (`Expansion::Env`); in an
//!   untrusted one the URL is taken as written, and said (pnpm 11.5.3+ itself ignores such values).
//! - `namedRegistries` (a bare-specifier prefix such as `work:^1.0.0`) routes no package by its name,
//!   so it does not change where a package named in a manifest comes from; it is not read here.
//! - A file that does not parse is an `Err` with the parser's message; nothing in it applies.

use super::PrivateRegistries;
use super::npmrc::{Expansion, set_default, set_scope};
use super::yarn_bun::{registry_value, scope_name};

/// Applies one `pnpm-workspace.yaml`. Returns the settings it left out or took as written, one
/// sentence each.
pub fn parse_pnpm_workspace(
    text: &str,
    expansion: Expansion<'_>,
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
    if let Some(raw) = map.get("registry").and_then(serde_yaml_ng::Value::as_str)
        && let Some(value) = registry_value("registry", raw, expansion, false, &mut notes)
    {
        set_default(into, &value);
    }
    let Some(registries) = map.get("registries").and_then(serde_yaml_ng::Value::as_mapping) else {
        return Ok(notes);
    };
    for (key, value) in registries {
        let Some(key) = key.as_str() else {
            continue;
        };
        match value {
            // The scope map: `default` or `@scope` → URL.
            serde_yaml_ng::Value::String(raw) => {
                let setting = format!("registries.{key}");
                let Some(url) = registry_value(&setting, raw, expansion, false, &mut notes) else {
                    continue;
                };
                if key == "default" {
                    set_default(into, &url);
                } else if key.starts_with('@') {
                    route(into, key, &url);
                }
            }
            // The declaration (pnpm 11.23+): the URL is the key, the scopes routed to it are listed.
            serde_yaml_ng::Value::Mapping(entry) => {
                let setting = format!("registries.\"{key}\"");
                let scopes: Vec<&str> = match entry.get("scopes") {
                    Some(serde_yaml_ng::Value::Sequence(items)) => {
                        items.iter().filter_map(serde_yaml_ng::Value::as_str).collect()
                    }
                    Some(serde_yaml_ng::Value::String(one)) => vec![one.as_str()],
                    _ => Vec::new(),
                };
                if scopes.is_empty() {
                    continue;
                }
                let Some(url) = registry_value(&setting, key, expansion, false, &mut notes) else {
                    continue;
                };
                for scope in scopes {
                    route(into, scope, &url);
                }
            }
            _ => {}
        }
    }
    Ok(notes)
}

/// Sends `scope` (`@acme`; a bare `@` is the default registry) to `url`.
fn route(into: &mut PrivateRegistries, scope: &str, url: &str) {
    let scope = scope.trim();
    if scope == "@" {
        set_default(into, url);
    } else if scope.starts_with('@') {
        set_scope(into, &scope_name(scope), url);
    }
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

    fn parse(text: &str) -> PrivateRegistries {
        let mut config = PrivateRegistries::default();
        let notes = parse_pnpm_workspace(text, Expansion::Never, &mut config).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        config
    }

    #[test]
    fn registry_and_the_scope_map() {
        let config = parse(
            "packages:\n  - 'packages/*'\nregistry: https://mirror.corp.example/npm/\nregistries:\n  '@corp': https://npm.corp.example/\n  \"@pub\": https://registry.npmjs.org/\ncatalog:\n  react: ^18.0.0\n",
        );
        assert_eq!(source(&config, "lodash"), private("https://mirror.corp.example/npm"));
        assert_eq!(source(&config, "@corp/x"), private("https://npm.corp.example"));
        assert_eq!(source(&config, "@pub/x"), private("https://mirror.corp.example/npm"));
        assert!(config.credentials.is_empty());
        // `registries.default` is the default registry too.
        let config = parse("registries:\n  default: https://verdaccio.corp.example\n");
        assert_eq!(source(&config, "lodash"), private("https://verdaccio.corp.example"));
        // The public registry under any spelling is public.
        let config = parse("registries:\n  default: https://registry.npmjs.org\n");
        assert_eq!(source(&config, "lodash"), RegistrySource::Public);
    }

    #[test]
    fn the_declaration_shape_routes_its_scopes() {
        let config = parse(
            "registries:\n  https://artifactory.corp.example/api/npm/npm-virtual/:\n    serverType: artifactory\n    scopes: ['@acme', '@acme-internal']\n    prefix: work\n  https://verdaccio.corp.example/:\n    scopes: ['@']\n    supportsTimeField: true\n  https://named-only.example/:\n    prefix: other\n",
        );
        assert_eq!(
            source(&config, "@acme/widget"),
            private("https://artifactory.corp.example/api/npm/npm-virtual")
        );
        assert_eq!(
            source(&config, "@acme-internal/x"),
            private("https://artifactory.corp.example/api/npm/npm-virtual")
        );
        assert_eq!(source(&config, "lodash"), private("https://verdaccio.corp.example"));
        assert_eq!(source(&config, "@other/x"), private("https://verdaccio.corp.example"));
        assert!(!config.urls().contains("https://named-only.example"));
    }

    #[test]
    fn credentials_are_never_read_and_variables_only_when_trusted() {
        let text = "registries:\n  '@corp': \"https://${HOST}/npm/\"\n  https://npm.other.example/:\n    scopes: ['@other']\n    _authToken: SECRET\n";
        let mut untrusted = PrivateRegistries::default();
        let notes = parse_pnpm_workspace(text, Expansion::Never, &mut untrusted).unwrap();
        assert_eq!(source(&untrusted, "@corp/x"), private("https://${HOST}/npm"));
        assert_eq!(source(&untrusted, "@other/x"), private("https://npm.other.example"));
        assert!(untrusted.credentials.is_empty());
        assert!(
            notes.len() == 1 && notes[0].contains("${HOST}") && notes[0].contains("not expanded"),
            "{notes:?}"
        );
        let env = |name: &str| (name == "HOST").then(|| "npm.corp.example".to_string());
        let mut trusted = PrivateRegistries::default();
        parse_pnpm_workspace(text, Expansion::Env(&env), &mut trusted).unwrap();
        assert_eq!(source(&trusted, "@corp/x"), private("https://npm.corp.example/npm"));
        assert!(trusted.credentials.is_empty());
    }

    #[test]
    fn a_file_that_does_not_parse_is_an_error() {
        let mut config = PrivateRegistries::default();
        assert!(parse_pnpm_workspace("registries: [\n", Expansion::Never, &mut config).is_err());
        assert!(parse_pnpm_workspace("- a\n", Expansion::Never, &mut config).is_err());
        assert!(
            parse_pnpm_workspace("", Expansion::Never, &mut config)
                .unwrap()
                .is_empty()
        );
        assert_eq!(config.npm_default, None);
    }
}
