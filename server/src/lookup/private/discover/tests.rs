//! `load_from_disk` against temporary folders: a user HOME and a workspace, with the environment passed
//! in (never the process's).

use std::collections::HashMap;
use std::path::Path;

use super::*;
use crate::lookup::private::NpmClient;

struct Setup {
    _dir: tempfile::TempDir,
    home: PathBuf,
    workspace: PathBuf,
    outside: PathBuf,
    env: HashMap<String, String>,
    /// The project's client: which of its registry files apply.
    client: NpmClient,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let (home, workspace, outside) = (
            dir.path().join("home"),
            dir.path().join("repo"),
            dir.path().join("outside"),
        );
        for folder in [&home, &workspace, &outside] {
            std::fs::create_dir_all(folder).unwrap();
        }
        let env = HashMap::from([("HOME".to_string(), home.display().to_string())]);
        Setup {
            _dir: dir,
            home,
            workspace,
            outside,
            env,
            client: NpmClient::Npm,
        }
    }

    fn write(&self, path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn load(&self, trust: ProjectTrust) -> (PrivateRegistries, Vec<ConfigFileProblem>) {
        let env = |name: &str| self.env.get(name).cloned();
        load_from_disk(&Discovery {
            project_dir: &self.workspace,
            workspace: &self.workspace,
            trust,
            files: &ProjectRegistryFiles::decide(self.client, &self.workspace, None),
            env: &env,
        })
    }
}

fn auth<'a>(registries: &'a PrivateRegistries, url: &str) -> Option<&'a str> {
    registries.credentials.for_url(&reqwest::Url::parse(url).unwrap())
}

fn messages(problems: &[ConfigFileProblem]) -> String {
    problems.iter().map(|p| format!("{}\n", p.message)).collect()
}

/// Audit item 1, every credential form npm reads: untrusted, `${…}` is never expanded and the
/// credential is left out (and said so); trusted, it is expanded as npm does.
#[test]
fn project_npmrc_expands_nothing_unless_trusted() {
    let mut setup = Setup::new();
    setup.env.insert("SECRET".into(), "hunter2".into());
    setup.write(
        &setup.workspace.join(".npmrc"),
        "@a:registry=https://a.example/${SECRET}/\n//a.example/:_authToken=${SECRET}\n//b.example/:_auth=${SECRET}\n//c.example/:username=u\n//c.example/:_password=${SECRET}\n",
    );
    let (registries, problems) = setup.load(ProjectTrust::Untrusted);
    for url in [
        "https://a.example/x",
        "https://b.example/x",
        "https://c.example/x",
        "http://a.example/x",
    ] {
        assert_eq!(auth(&registries, url), None, "{url}");
    }
    assert!(
        !registries.npm_scopes["@a"].contains("hunter2"),
        "{:?}",
        registries.npm_scopes
    );
    let text = messages(&problems);
    for key in [
        "//a.example/:_authToken",
        "//b.example/:_auth",
        "//c.example/:_password",
        "@a:registry",
    ] {
        assert!(text.contains(&format!("`{key}` uses `${{SECRET}}`")), "{key}: {text}");
    }
    assert!(!text.contains("hunter2"), "{text}");

    let (registries, problems) = setup.load(ProjectTrust::Trusted);
    assert_eq!(auth(&registries, "https://a.example/x"), Some("Bearer hunter2"));
    assert_eq!(auth(&registries, "https://b.example/x"), Some("Basic hunter2"));
    assert!(auth(&registries, "https://c.example/x").unwrap().starts_with("Basic "));
    assert_eq!(registries.npm_scopes["@a"], "https://a.example/hunter2");
    assert!(problems.is_empty(), "{problems:?}");
}

/// The user's `~/.npmrc` is expanded (npm's semantics) and `$NPM_CONFIG_USERCONFIG` replaces it; an
/// unset variable leaves the credential out instead of sending an empty one.
#[test]
fn user_npmrc_is_expanded_and_an_unset_variable_is_no_credential() {
    let mut setup = Setup::new();
    setup.env.insert("NPM_TOKEN".into(), "tok".into());
    setup.write(
        &setup.home.join(".npmrc"),
        "//a.example/:_authToken=${NPM_TOKEN}\n//b.example/:_authToken=${MISSING}\n//c.example/:_authToken=x${OPTIONAL?}\n",
    );
    let (registries, problems) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(auth(&registries, "https://a.example/x"), Some("Bearer tok"));
    assert_eq!(auth(&registries, "https://b.example/x"), None);
    assert_eq!(auth(&registries, "https://c.example/x"), Some("Bearer x"));
    assert!(
        messages(&problems).contains("`${MISSING}`, which is not set"),
        "{problems:?}"
    );

    let elsewhere = setup.outside.join("ci-npmrc");
    setup.write(&elsewhere, "//d.example/:_authToken=ci\n");
    setup
        .env
        .insert("NPM_CONFIG_USERCONFIG".into(), elsewhere.display().to_string());
    let (registries, _) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(auth(&registries, "https://d.example/x"), Some("Bearer ci"));
    assert_eq!(auth(&registries, "https://a.example/x"), None);
}

/// The combinations of a user token and a project `.npmrc` naming registries.
#[test]
fn a_project_npmrc_reaches_a_user_token_only_where_the_user_named_it() {
    let mut setup = Setup::new();
    setup.write(
        &setup.home.join(".npmrc"),
        "@corp:registry=https://npm.corp.example/\n//npm.corp.example/:_authToken=USER\n//npm.intranet.example:4873/:_authToken=INTRANET\n",
    );
    setup
        .env
        .insert("NPM_CONFIG_REGISTRY".into(), "http://npm.intranet.example:4873/".into());
    setup.write(
        &setup.workspace.join(".npmrc"),
        "@evil:registry=http://npm.corp.example/\n@other:registry=https://NPM.corp.example:443/other/\n//npm.corp.example/:_authToken=PROJECT\n//evil.example/:_authToken=PROJECT\n",
    );
    let (registries, problems) = setup.load(ProjectTrust::Untrusted);
    // The user's https host keeps the user's token whatever URL spelling the project uses, and the
    // project's own token for that host is not used.
    assert_eq!(
        auth(&registries, "https://npm.corp.example/@corp%2fx"),
        Some("Bearer USER")
    );
    assert_eq!(
        auth(&registries, "https://npm.corp.example:443/other/@other%2fx"),
        Some("Bearer USER")
    );
    assert!(
        messages(&problems).contains("https://npm.corp.example:443/ is not used"),
        "{problems:?}"
    );
    // Plain http to the user's host: the user never named it, so never the user's token; only the
    // project's own (its secret to give away, to the host it wrote it for).
    assert_eq!(
        auth(&registries, "http://npm.corp.example/@evil%2fx"),
        Some("Bearer PROJECT")
    );
    // The user named the intranet registry over http (NPM_CONFIG_REGISTRY): its token goes there.
    assert_eq!(
        auth(&registries, "http://npm.intranet.example:4873/x"),
        Some("Bearer INTRANET")
    );
    // A host only the project names gets only the project's own credential.
    assert_eq!(auth(&registries, "https://evil.example/x"), Some("Bearer PROJECT"));
    assert_eq!(auth(&registries, "https://npm.corp.example.evil.example/x"), None);
}

/// The usual private setup: the repository commits `@corp:registry=…` and each developer keeps the
/// token for that host in their own `~/.npmrc`. A registry the user holds a credential for is the
/// user's choice too: not "named only by the project" (which would make every `@corp` package not
/// checked); a registry the user has no credential for stays the project's.
#[test]
fn a_project_registry_the_user_holds_a_credential_for_is_the_users() {
    let setup = Setup::new();
    setup.write(&setup.home.join(".npmrc"), "//npm.corp.example/:_authToken=USER\n");
    setup.write(
        &setup.workspace.join(".npmrc"),
        "@corp:registry=https://npm.corp.example/\n@evil:registry=https://evil.example/npm/\n",
    );
    let (registries, _) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(
        auth(&registries, "https://npm.corp.example/@corp%2fx"),
        Some("Bearer USER")
    );
    let named: Vec<&String> = registries.project_named.keys().collect();
    assert_eq!(named, ["https://evil.example/npm"], "{:?}", registries.project_named);
}

/// The user's home opened as the project: its `.npmrc` is the user's, read (and expanded) once.
#[test]
fn the_users_home_as_the_project_reads_its_npmrc_as_the_users() {
    let mut setup = Setup::new();
    setup.env.insert("NPM_TOKEN".into(), "tok".into());
    setup.write(&setup.home.join(".npmrc"), "//a.example/:_authToken=${NPM_TOKEN}\n");
    let env = |name: &str| setup.env.get(name).cloned();
    let (registries, problems) = load_from_disk(&Discovery {
        project_dir: &setup.home,
        workspace: &setup.home,
        trust: ProjectTrust::Untrusted,
        files: &ProjectRegistryFiles {
            npmrc: Some(setup.home.join(".npmrc")),
            ..ProjectRegistryFiles::default()
        },
        env: &env,
    });
    assert_eq!(auth(&registries, "https://a.example/x"), Some("Bearer tok"));
    assert!(problems.is_empty(), "{problems:?}");
}

/// Audit item 2: the user's cargo token follows the index the user names for the registry, never a
/// project's redefinition of the name; a trusted project is followed as cargo follows it.
#[test]
fn cargo_tokens_are_bound_to_the_users_index() {
    let mut setup = Setup::new();
    setup.write(
        &setup.home.join(".cargo/config.toml"),
        "[registries.corp]\nindex = \"sparse+https://alice:hunter2@cargo.corp.example/index/\"\n",
    );
    setup.write(
        &setup.home.join(".cargo/credentials.toml"),
        "[registries.corp]\ntoken = \"CORP\"\n[registries.shared]\ntoken = \"SHARED\"\n[registry]\ntoken = \"CRATESIO\"\n",
    );
    setup
        .env
        .insert("CARGO_REGISTRIES_SHARED_TOKEN".into(), "SHARED-ENV".into());
    setup.env.insert("CARGO_REGISTRY_TOKEN".into(), "CRATESIO".into());
    setup.write(
        &setup.workspace.join(".cargo/config.toml"),
        "[registries.corp]\nindex = \"sparse+https://evil.example/index/\"\n[registries.shared]\nindex = \"https://shared.example/git-index\"\n[source.crates-io]\nreplace-with = \"mirror\"\n[source.mirror]\nregistry = \"sparse+https://mirror.evil.example/\"\n",
    );
    let (registries, problems) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(auth(&registries, "https://evil.example/index/co/rp/x"), None);
    assert_eq!(
        auth(&registries, "https://cargo.corp.example/index/x"),
        None,
        "corp is not in use there"
    );
    assert_eq!(auth(&registries, "https://shared.example/git-index/x"), None);
    assert_eq!(auth(&registries, "https://mirror.evil.example/se/rd/serde"), None);
    let text = messages(&problems);
    assert!(text.contains("registry `corp` is redefined by the project"), "{text}");
    assert!(
        text.contains("registry `shared` is defined only by the project"),
        "{text}"
    );
    assert!(
        !text.contains("CORP") && !text.contains("SHARED-ENV") && !text.contains("hunter2"),
        "no secret in a message: {text}"
    );
    assert!(text.contains("https://cargo.corp.example/index"), "{text}");

    // The user's environment names `shared`'s index: the project repeating it changes nothing.
    setup.env.insert(
        "CARGO_REGISTRIES_SHARED_INDEX".into(),
        "https://shared.example/git-index/".into(),
    );
    let (registries, _) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(
        auth(&registries, "https://shared.example/git-index/x"),
        Some("SHARED-ENV")
    );

    let (registries, _) = setup.load(ProjectTrust::Trusted);
    assert_eq!(auth(&registries, "https://evil.example/index/co/rp/x"), Some("CORP"));
    assert_eq!(
        auth(&registries, "https://mirror.evil.example/se/rd/serde"),
        None,
        "never crates.io's"
    );
}

/// A project's own `token` in its `.cargo/config.toml` goes to the index it wrote, never replacing the
/// user's token on the user's registry.
#[test]
fn a_project_cargo_token_goes_only_to_its_own_index() {
    let setup = Setup::new();
    setup.write(
        &setup.home.join(".cargo/config.toml"),
        "[registries.corp]\nindex = \"sparse+https://cargo.corp.example/index/\"\ntoken = \"USER\"\n",
    );
    setup.write(
        &setup.workspace.join(".cargo/config.toml"),
        "[registries.corp]\nindex = \"sparse+https://cargo.corp.example/index/\"\ntoken = \"PROJECT\"\n[registries.own]\nindex = \"sparse+https://own.example/index/\"\ntoken = \"OWN\"\n",
    );
    let (registries, _) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(auth(&registries, "https://cargo.corp.example/x"), Some("USER"));
    assert_eq!(auth(&registries, "https://own.example/x"), Some("OWN"));
}

/// Audit item 8: every registry file of the project that leads outside the workspace is refused,
/// reported, and not applied; the user's own files may live anywhere.
#[test]
fn project_registry_files_outside_the_workspace_are_refused_and_not_applied() {
    let setup = Setup::new();
    let outside = |name: &str, text: &str| {
        let path = setup.outside.join(name);
        setup.write(&path, text);
        path
    };
    let link = |target: &Path, name: &str| {
        let path = setup.workspace.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, path).unwrap();
    };
    link(
        &outside(
            "npmrc",
            "@corp:registry=https://npm.out.example/\n//npm.out.example/:_authToken=T\n",
        ),
        ".npmrc",
    );
    link(
        &outside(
            "config.toml",
            "[registries.corp]\nindex = \"sparse+https://cargo.out.example/index/\"\ntoken = \"T\"\n",
        ),
        ".cargo/config.toml",
    );
    link(
        &outside("requirements.txt", "--index-url https://u:p@pypi.out.example/simple/\n"),
        "requirements.txt",
    );
    link(
        &outside(
            "pyproject.toml",
            "[[tool.uv.index]]\nname = \"x\"\nurl = \"https://uv.out.example/simple\"\ndefault = true\n",
        ),
        "pyproject.toml",
    );
    // The user's own pip.conf may be a symlink to anywhere.
    let users = outside("pip.conf", "[global]\nindex-url = https://pypi.mine.example/simple\n");
    std::fs::create_dir_all(setup.home.join(".config/pip")).unwrap();
    std::os::unix::fs::symlink(users, setup.home.join(".config/pip/pip.conf")).unwrap();

    let (registries, problems) = setup.load(ProjectTrust::Trusted);
    assert!(registries.npm_scopes.is_empty(), "{:?}", registries.npm_scopes);
    assert!(registries.cargo_registries.is_empty());
    assert_eq!(
        registries.pypi_index.as_deref(),
        Some("https://pypi.mine.example/simple")
    );
    assert!(registries.pypi_named.is_empty());
    assert!(registries.credentials.is_empty(), "{:?}", registries.credentials);
    let text = messages(&problems);
    for name in [".npmrc", "config.toml", "requirements.txt", "pyproject.toml"] {
        assert!(
            problems
                .iter()
                .any(|p| p.path.ends_with(name) && p.message.contains("outside the workspace")),
            "{name}: {text}"
        );
    }
    // A refused `.cargo/config.toml` is not replaced by the legacy `.cargo/config` beside it.
    setup.write(
        &setup.workspace.join(".cargo/config"),
        "[registries.corp]\nindex = \"sparse+https://legacy.example/index/\"\n",
    );
    let (registries, _) = setup.load(ProjectTrust::Trusted);
    assert!(
        registries.cargo_registries.is_empty(),
        "{:?}",
        registries.cargo_registries
    );
}

/// The default registries the user's own files and environment give are recorded before any project
/// file: what a package uses when the untrusted project's own default is set aside.
#[test]
fn the_users_own_default_registries_are_recorded_before_the_projects() {
    let mut setup = Setup::new();
    setup.write(&setup.home.join(".npmrc"), "registry=https://npm.corp.example/\n");
    setup.write(
        &setup.home.join(".config/pip/pip.conf"),
        "[global]\nindex-url = https://devpi.corp.example/simple\n",
    );
    setup.write(
        &setup.workspace.join(".npmrc"),
        "registry=https://mirror.evil.example/\n",
    );
    setup.write(
        &setup.workspace.join(".cargo/config.toml"),
        "[source.crates-io]\nreplace-with = \"m\"\n[source.m]\nregistry = \"sparse+https://crates.evil.example/index/\"\n",
    );
    setup.write(
        &setup.workspace.join("requirements.txt"),
        "--index-url https://pypi.evil.example/simple\nrequests==2.31.0\n",
    );
    let (registries, _) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(registries.npm_default.as_deref(), Some("https://mirror.evil.example"));
    assert_eq!(registries.users_own.npm.as_deref(), Some("https://npm.corp.example"));
    assert_eq!(registries.users_own.cargo_replacement, None);
    assert_eq!(
        registries.users_own.pypi_index.as_deref(),
        Some("https://devpi.corp.example/simple")
    );
    let named: Vec<&String> = registries.project_named.keys().collect();
    assert!(
        named.contains(&&"https://mirror.evil.example".to_string())
            && named.contains(&&"https://pypi.evil.example/simple".to_string()),
        "{named:?}"
    );
    // `NPM_CONFIG_REGISTRY` is the user's and wins over every file.
    setup
        .env
        .insert("NPM_CONFIG_REGISTRY".into(), "https://env.corp.example/".into());
    let (registries, _) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(registries.npm_default.as_deref(), Some("https://env.corp.example"));
    assert_eq!(registries.users_own.npm.as_deref(), Some("https://env.corp.example"));
}

/// Yarn and Bun read their own files (and only the project's client's): the user's first, then the
/// project's (Yarn 2+: every `.yarnrc.yml` from the workspace root down), then the environment. A
/// registry only the project's file names is recorded as the project's, and an untrusted file's
/// `${VAR}` is not expanded.
#[test]
fn yarn_and_bun_files_are_read_for_their_client() {
    let mut setup = Setup::new();
    setup.env.insert("HOST".into(), "secret.example".into());
    setup.write(
        &setup.home.join(".yarnrc.yml"),
        "npmRegistryServer: https://user.corp.example\n",
    );
    setup.write(
        &setup.workspace.join(".yarnrc.yml"),
        "npmRegistryServer: https://mirror.evil.example\nnpmScopes:\n  corp:\n    npmRegistryServer: \"https://${HOST}/npm\"\n",
    );
    setup.write(
        &setup.workspace.join(".yarnrc"),
        "registry \"https://classic.evil.example\"\n",
    );
    setup.write(
        &setup.workspace.join("bunfig.toml"),
        "[install]\nregistry = \"https://bun.evil.example\"\n",
    );
    setup.write(&setup.workspace.join(".npmrc"), "registry=https://npmrc.evil.example\n");

    setup.client = NpmClient::YarnBerry;
    let (registries, problems) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(registries.npm_default.as_deref(), Some("https://mirror.evil.example"));
    assert_eq!(registries.users_own.npm.as_deref(), Some("https://user.corp.example"));
    assert_eq!(
        registries.npm_scopes.get("@corp").map(String::as_str),
        Some("https://${HOST}/npm")
    );
    assert!(registries.project_named.contains_key("https://mirror.evil.example"));
    let said = messages(&problems);
    assert!(said.contains("${HOST}") && said.contains("gatehouse trust"), "{said}");
    assert!(!said.contains("secret.example"), "{said}");
    // The environment is the user's and wins.
    setup
        .env
        .insert("YARN_NPM_REGISTRY_SERVER".into(), "https://env.corp.example".into());
    let (registries, _) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(registries.npm_default.as_deref(), Some("https://env.corp.example"));
    assert_eq!(registries.users_own.npm.as_deref(), Some("https://env.corp.example"));
    setup.env.remove("YARN_NPM_REGISTRY_SERVER");

    setup.client = NpmClient::YarnClassic;
    let (registries, _) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(registries.npm_default.as_deref(), Some("https://classic.evil.example"));
    assert_eq!(registries.users_own.npm, None);

    setup.client = NpmClient::Bun;
    let (registries, _) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(registries.npm_default.as_deref(), Some("https://bun.evil.example"));
    assert!(registries.project_named.contains_key("https://bun.evil.example"));

    setup.client = NpmClient::Npm;
    let (registries, _) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(registries.npm_default.as_deref(), Some("https://npmrc.evil.example"));

    // A .yarnrc.yml above the install root but inside the workspace applies first; one outside the
    // workspace never does.
    let nested = Setup::new();
    let above = nested.workspace.parent().unwrap().join(".yarnrc.yml");
    nested.write(&above, "npmRegistryServer: https://outside.example\n");
    nested.write(
        &nested.workspace.join(".yarnrc.yml"),
        "npmScopes:\n  corp:\n    npmRegistryServer: https://npm.corp.example\n",
    );
    let member = nested.workspace.join("packages/app");
    std::fs::create_dir_all(&member).unwrap();
    let env = |name: &str| nested.env.get(name).cloned();
    let (registries, _) = load_from_disk(&Discovery {
        project_dir: &member,
        workspace: &nested.workspace,
        trust: ProjectTrust::Untrusted,
        files: &ProjectRegistryFiles::decide(NpmClient::YarnBerry, &member, None),
        env: &env,
    });
    assert_eq!(
        registries.npm_scopes.get("@corp").map(String::as_str),
        Some("https://npm.corp.example")
    );
    assert_eq!(registries.npm_default, None);
}

/// pnpm reads its registry settings from `pnpm-workspace.yaml` too (pnpm 11 moved them there): for a
/// pnpm project the install root's file applies after `.npmrc`, as untrusted as a project `.npmrc`
/// (its registries are recorded as the project's, its `${VAR}` is not expanded); for any other client
/// it does not apply; one leading outside the workspace is refused.
#[test]
fn pnpm_workspace_yaml_applies_to_pnpm_projects_as_a_project_file() {
    let mut setup = Setup::new();
    setup.env.insert("HOST".into(), "secret.example".into());
    setup.write(
        &setup.workspace.join(".npmrc"),
        "@corp:registry=https://npmrc.corp.example/\n//npm.corp.example/:_authToken=PROJECT\n",
    );
    setup.write(
        &setup.workspace.join("pnpm-workspace.yaml"),
        "packages:\n  - 'packages/*'\nregistries:\n  default: https://mirror.evil.example/\n  '@corp': https://npm.corp.example/\n  '@env': \"https://${HOST}/npm/\"\n  https://artifactory.corp.example/api/npm/virtual/:\n    scopes: ['@acme']\n",
    );
    setup.client = NpmClient::Pnpm;
    let (registries, problems) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(registries.npm_default.as_deref(), Some("https://mirror.evil.example"));
    assert_eq!(registries.users_own.npm, None);
    assert_eq!(
        registries.npm_scopes.get("@corp").map(String::as_str),
        Some("https://npm.corp.example"),
        "pnpm-workspace.yaml applies after .npmrc"
    );
    assert_eq!(
        registries.npm_scopes.get("@acme").map(String::as_str),
        Some("https://artifactory.corp.example/api/npm/virtual")
    );
    assert_eq!(
        registries.npm_scopes.get("@env").map(String::as_str),
        Some("https://${HOST}/npm")
    );
    for url in [
        "https://mirror.evil.example",
        "https://npm.corp.example",
        "https://artifactory.corp.example/api/npm/virtual",
    ] {
        assert!(
            registries
                .project_named
                .get(url)
                .is_some_and(|file| file.ends_with("pnpm-workspace.yaml")),
            "{url}: {:?}",
            registries.project_named
        );
    }
    let said = messages(&problems);
    assert!(said.contains("${HOST}") && said.contains("gatehouse trust"), "{said}");
    assert!(!said.contains("secret.example"), "{said}");
    // The project's own .npmrc token still goes only to the host it names.
    assert_eq!(auth(&registries, "https://npm.corp.example/x"), Some("Bearer PROJECT"));

    let (registries, _) = setup.load(ProjectTrust::Trusted);
    assert_eq!(
        registries.npm_scopes.get("@env").map(String::as_str),
        Some("https://secret.example/npm")
    );
    // pnpm's environment is the user's and wins over the file.
    setup
        .env
        .insert("pnpm_config_registry".into(), "https://env.corp.example/".into());
    let (registries, _) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(registries.npm_default.as_deref(), Some("https://env.corp.example"));
    assert_eq!(registries.users_own.npm.as_deref(), Some("https://env.corp.example"));
    setup.env.remove("pnpm_config_registry");

    for client in [
        NpmClient::Npm,
        NpmClient::YarnClassic,
        NpmClient::YarnBerry,
        NpmClient::Bun,
    ] {
        setup.client = client;
        let (registries, _) = setup.load(ProjectTrust::Untrusted);
        assert_eq!(registries.npm_default, None, "{client:?}");
        assert!(!registries.npm_scopes.contains_key("@acme"), "{client:?}");
    }

    // A pnpm-workspace.yaml that leads outside the workspace is refused and not applied.
    let mut linked = Setup::new();
    linked.client = NpmClient::Pnpm;
    let target = linked.outside.join("pnpm-workspace.yaml");
    linked.write(&target, "registries:\n  '@corp': https://npm.out.example/\n");
    std::os::unix::fs::symlink(&target, linked.workspace.join("pnpm-workspace.yaml")).unwrap();
    let (registries, problems) = linked.load(ProjectTrust::Trusted);
    assert!(registries.npm_scopes.is_empty(), "{:?}", registries.npm_scopes);
    assert!(
        problems
            .iter()
            .any(|p| p.path.ends_with("pnpm-workspace.yaml") && p.message.contains("outside the workspace")),
        "{problems:?}"
    );
    // One that does not parse is said, and nothing in it applies.
    linked.client = NpmClient::Pnpm;
    std::fs::remove_file(linked.workspace.join("pnpm-workspace.yaml")).unwrap();
    linked.write(&linked.workspace.join("pnpm-workspace.yaml"), "registries: [\n");
    let (registries, problems) = linked.load(ProjectTrust::Untrusted);
    assert!(registries.npm_scopes.is_empty());
    assert!(messages(&problems).contains("could not parse"), "{problems:?}");
}

/// npm's global config (`$NPM_CONFIG_GLOBALCONFIG`, else `<prefix>/etc/npmrc` with the prefix from
/// `$NPM_CONFIG_PREFIX` or the `node` on `PATH`) is the user's own, read below `~/.npmrc`.
#[test]
fn npm_global_config_is_the_users_and_below_the_user_npmrc() {
    let mut setup = Setup::new();
    let prefix = setup.outside.join("prefix");
    setup.write(
        &prefix.join("etc/npmrc"),
        "registry=https://global.corp.example/\n@corp:registry=https://npm.corp.example/\n//npm.corp.example/:_authToken=${NPM_TOKEN}\n",
    );
    setup.env.insert("NPM_TOKEN".into(), "tok".into());
    setup
        .env
        .insert("NPM_CONFIG_PREFIX".into(), prefix.display().to_string());
    let (registries, problems) = setup.load(ProjectTrust::Untrusted);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(registries.npm_default.as_deref(), Some("https://global.corp.example"));
    assert_eq!(registries.users_own.npm.as_deref(), Some("https://global.corp.example"));
    assert_eq!(
        registries.npm_scopes.get("@corp").map(String::as_str),
        Some("https://npm.corp.example")
    );
    assert!(registries.project_named.is_empty(), "{:?}", registries.project_named);
    assert_eq!(auth(&registries, "https://npm.corp.example/x"), Some("Bearer tok"));

    // The user's ~/.npmrc wins over it.
    setup.write(
        &setup.home.join(".npmrc"),
        "registry=https://user.corp.example/\n//npm.corp.example/:_authToken=USER\n",
    );
    let (registries, _) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(registries.npm_default.as_deref(), Some("https://user.corp.example"));
    assert_eq!(auth(&registries, "https://npm.corp.example/x"), Some("Bearer USER"));
    assert_eq!(
        registries.npm_scopes.get("@corp").map(String::as_str),
        Some("https://npm.corp.example")
    );
    std::fs::remove_file(setup.home.join(".npmrc")).unwrap();

    // Without a configured prefix: the folder above the `node` on PATH.
    setup.env.remove("NPM_CONFIG_PREFIX");
    let node_prefix = setup.outside.join("node-22");
    setup.write(&node_prefix.join("bin/node"), "");
    setup.write(&node_prefix.join("etc/npmrc"), "registry=https://node.corp.example/\n");
    setup.env.insert(
        "PATH".into(),
        format!("relative/bin:{}:/usr/bin", node_prefix.join("bin").display()),
    );
    let (registries, _) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(registries.npm_default.as_deref(), Some("https://node.corp.example"));
    // A `node` that is a link: the prefix is the real executable's, as node's `process.execPath`.
    let linked_bin = setup.outside.join("shims/bin");
    std::fs::create_dir_all(&linked_bin).unwrap();
    std::os::unix::fs::symlink(node_prefix.join("bin/node"), linked_bin.join("node")).unwrap();
    setup.write(
        &setup.outside.join("shims/etc/npmrc"),
        "registry=https://shim.corp.example/\n",
    );
    setup.env.insert("PATH".into(), linked_bin.display().to_string());
    let (registries, _) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(registries.npm_default.as_deref(), Some("https://node.corp.example"));
    // `$PREFIX` (npm's own default before the node's folder) wins over PATH.
    let termux = setup.outside.join("termux-usr");
    setup.write(&termux.join("etc/npmrc"), "registry=https://termux.corp.example/\n");
    setup.env.insert("PREFIX".into(), termux.display().to_string());
    let (registries, _) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(registries.npm_default.as_deref(), Some("https://termux.corp.example"));
    setup.env.remove("PREFIX");

    // `$NPM_CONFIG_GLOBALCONFIG` names the file itself.
    let named = setup.outside.join("ci-global-npmrc");
    setup.write(&named, "registry=https://ci.corp.example/\n");
    setup
        .env
        .insert("NPM_CONFIG_GLOBALCONFIG".into(), named.display().to_string());
    let (registries, _) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(registries.npm_default.as_deref(), Some("https://ci.corp.example"));

    // A project .npmrc still wins over both, and is recorded as the project's.
    setup.write(
        &setup.workspace.join(".npmrc"),
        "registry=https://mirror.evil.example/\n",
    );
    let (registries, _) = setup.load(ProjectTrust::Untrusted);
    assert_eq!(registries.npm_default.as_deref(), Some("https://mirror.evil.example"));
    assert_eq!(registries.users_own.npm.as_deref(), Some("https://ci.corp.example"));
    assert!(registries.project_named.contains_key("https://mirror.evil.example"));
}
