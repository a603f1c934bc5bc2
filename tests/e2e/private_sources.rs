//! Private registries named by the repository (audit item 3): a registry setting must not hide a
//! malicious package, and a registry only the untrusted project names leaves its packages not fully
//! checked (exit 2), while one the user configured is the user's choice.

use crate::hostile::{Repo, User, check_json, has_malicious, package};

/// uv pins `ctx` (malicious on PyPI: PYSEC-2022-199 in fixtures/osv/incidents/PyPI) to an index the
/// pyproject names: it used to skip every check, status "checked", exit 0. The local OSV database
/// sends nothing anywhere, so it is still consulted.
#[test]
fn private_index_package_still_consults_local_osv_db() {
    let user = User::new();
    let repo = Repo::new(&[(
        "pyproject.toml",
        "[project]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"ctx==0.2.2\"]\n\n[[tool.uv.index]]\nname = \"corp\"\nurl = \"https://pypi.corp.invalid/simple\"\nexplicit = true\n\n[tool.uv.sources]\nctx = { index = \"corp\" }\n",
    )]);
    let (outcome, report) = check_json(&user, &repo, &[]);
    assert_eq!(outcome.code, 1, "{}{}", outcome.stdout, outcome.stderr);
    assert!(has_malicious(&report, "ctx"), "{report}");
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["package"] == "ctx" && f["check"] == "malicious")
        .unwrap();
    assert!(
        finding["message"]
            .as_str()
            .unwrap()
            .contains("matches a public advisory"),
        "{finding}"
    );
    let ctx = package(&report, "ctx");
    assert_eq!(ctx["status"], "unavailable", "{ctx}");
    let reason = ctx["check_reasons"]["age"].as_str().unwrap();
    assert!(
        reason.contains("https://pypi.corp.invalid/simple") && reason.contains("pyproject.toml"),
        "{reason}"
    );
}

/// A scope the project's `.npmrc` sends to another registry: no check but the local advisories can be
/// done, so the package is not fully checked (exit 2) and says which file named which registry. The
/// same line in the user's own `~/.npmrc` is the user's choice: skipped, exit 0.
#[test]
fn a_registry_only_the_project_names_is_not_checked_and_the_users_own_is() {
    let manifest = "{\n  \"dependencies\": {\n    \"@corp/widget\": \"1.0.0\"\n  }\n}\n";
    let npmrc = "@corp:registry=https://npm.corp.invalid/\n";
    let user = User::new();
    let repo = Repo::new(&[("package.json", manifest), (".npmrc", npmrc)]);
    let (outcome, report) = check_json(&user, &repo, &[]);
    assert_eq!(outcome.code, 2, "{}{}", outcome.stdout, outcome.stderr);
    let widget = package(&report, "@corp/widget");
    assert_eq!(widget["status"], "unavailable", "{widget}");
    assert_eq!(widget["checks"]["age"], "unavailable", "{widget}");
    assert!(
        widget["check_reasons"]["age"].as_str().unwrap().contains(".npmrc"),
        "{widget}"
    );
    assert_eq!(report["summary"]["unchecked_packages"], 1, "{report}");
    assert!(outcome.stderr.contains("could not be checked"), "{}", outcome.stderr);

    let user = User::new();
    std::fs::write(user.home.path().join(".npmrc"), npmrc).unwrap();
    let repo = Repo::new(&[("package.json", manifest)]);
    let (outcome, report) = check_json(&user, &repo, &[]);
    assert_eq!(outcome.code, 0, "{}{}", outcome.stdout, outcome.stderr);
    let widget = package(&report, "@corp/widget");
    assert_eq!(widget["status"], "checked", "{widget}");
    assert_eq!(widget["checks"]["age"], "skipped", "{widget}");
    assert_eq!(report["summary"]["unchecked_packages"], 0, "{report}");
}
