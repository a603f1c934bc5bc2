#!/usr/bin/env python3
"""Checks editors/helix/languages.toml against Helix's configuration schema.

Helix is not installable on the CI machine, so this parses the shipped file and checks every key
against the fields of Helix's `LanguageConfiguration` / `LanguageServerConfiguration` structs
(helix-core/src/syntax/config.rs, serde kebab-case with deny_unknown_fields) and the languages
and servers Helix defines by default (languages.toml in the Helix repository, 2026-07).
Prints `N passed, N failed`.
"""
import pathlib
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[3]
FILE = ROOT / "editors" / "helix" / "languages.toml"

TOP_LEVEL = {"use-grammars", "language", "grammar", "language-server"}
LANGUAGE_KEYS = {
    "name", "language-id", "scope", "file-types", "shebangs", "roots", "comment-tokens",
    "comment-token", "block-comment-tokens", "text-width", "soft-wrap", "auto-format",
    "code-actions-on-save", "formatter", "path-completion", "word-completion",
    "diagnostic-severity", "grammar", "injection-regex", "language-servers", "indent",
    "debugger", "auto-pairs", "rulers", "workspace-lsp-roots", "persistent-diagnostic-sources",
    "rainbow-brackets",
}
SERVER_KEYS = {"command", "args", "environment", "config", "timeout", "required-root-patterns"}
FEATURES = {
    "format", "goto-definition", "goto-declaration", "goto-type-definition", "goto-reference",
    "goto-implementation", "signature-help", "hover", "document-highlight", "completion",
    "code-action", "workspace-command", "document-symbols", "workspace-symbols", "diagnostics",
    "rename-symbol", "inlay-hints", "document-colors",
}
# Languages Helix defines by default, with the servers it runs for them.
HELIX_DEFAULTS = {
    "json": ["vscode-json-language-server"],
    "toml": ["taplo", "tombi"],
    "pip-requirements": [],
    "yaml": ["yaml-language-server", "ansible-language-server"],
    "jsonc": ["vscode-json-language-server"],
}
HELIX_SERVERS = {
    "vscode-json-language-server", "taplo", "tombi", "yaml-language-server", "ansible-language-server",
}
# Globs in Helix's default file-types that matter here (kept when a user file does not set file-types).
HELIX_DEFAULT_GLOBS = {
    "toml": ["pdm.lock", "poetry.lock", "Cargo.lock", "uv.lock"],
    "pip-requirements": ["requirements.txt", "constraints.txt"],
    "yaml": ["yarn.lock"],
    "jsonc": ["bun.lock"],
}
# Manifests Gatehouse reads, and the Helix language each must open as.
MANIFESTS = {
    "package.json": "json",
    "package-lock.json": "json",
    "Cargo.toml": "toml",
    "Cargo.lock": "toml",
    "pyproject.toml": "toml",
    "poetry.lock": "toml",
    "uv.lock": "toml",
    "gatehouse.toml": "toml",
    "requirements.txt": "pip-requirements",
    "requirements-dev.txt": "pip-requirements",
    "pnpm-lock.yaml": "yaml",
    "yarn.lock": "yaml",
    "bun.lock": "jsonc",
}

passed = 0
failed = 0


def check(ok, name, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   helix: {name}")
    else:
        failed += 1
        print(f"FAIL helix: {name} {detail}")


def glob_match(glob, filename):
    # Helix prefixes relative globs with */ and matches the full path; a file name suffices here.
    import fnmatch
    return fnmatch.fnmatchcase(filename, glob.split("/")[-1])


def language_for(filename, languages):
    """Helix's file-type detection: glob matches first, then the extension."""
    names = [lang["name"] for lang in languages] + [n for n in HELIX_DEFAULT_GLOBS]
    for name in names:
        lang = next((lang for lang in languages if lang["name"] == name), {})
        if "file-types" in lang:
            globs = [ft["glob"] for ft in lang["file-types"] if isinstance(ft, dict)]
        else:
            globs = HELIX_DEFAULT_GLOBS.get(name, [])
        if any(glob_match(g, filename) for g in globs):
            return name
    ext = filename.rsplit(".", 1)[-1]
    for name, exts in (("json", ["json"]), ("toml", ["toml"]), ("yaml", ["yaml", "yml"])):
        if ext in exts:  # Helix's defaults for these extensions
            return name
    return None


def main():
    text = FILE.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        check(False, "languages.toml parses as TOML", str(err))
        return
    check(True, "languages.toml parses as TOML")
    check(set(data) <= TOP_LEVEL, "only Helix top-level tables", str(set(data) - TOP_LEVEL))

    servers = data.get("language-server", {})
    gh = servers.get("gatehouse")
    check(gh is not None, "[language-server.gatehouse] defined")
    if gh:
        check(set(gh) <= SERVER_KEYS, "server keys are Helix's", str(set(gh) - SERVER_KEYS))
        check(gh.get("command") == "gatehouse", "command = gatehouse", repr(gh.get("command")))
        check(gh.get("args") == ["lsp"], 'args = ["lsp"]', repr(gh.get("args")))
        check("config" not in gh, "no config, so the project's gatehouse.toml applies")
    for name, server in servers.items():
        check(isinstance(server.get("command"), str), f"server {name} has a command string")

    languages = data.get("language", [])
    by_name = {lang.get("name"): lang for lang in languages}
    for lang in languages:
        name = lang.get("name")
        check(isinstance(name, str), "every [[language]] has a name", repr(lang))
        unknown = set(lang) - LANGUAGE_KEYS
        check(not unknown, f"[[language]] {name}: keys are Helix's", str(unknown))
        if name not in HELIX_DEFAULTS:
            check("scope" in lang and "file-types" in lang, f"new language {name} has scope and file-types")
        for ft in lang.get("file-types", []):
            check(isinstance(ft, str) or (isinstance(ft, dict) and set(ft) == {"glob"}),
                  f"{name}: file-type {ft!r} is a string or {{ glob = ... }}")
        entries = lang.get("language-servers", [])
        names = []
        for entry in entries:
            if isinstance(entry, str):
                names.append(entry)
            elif isinstance(entry, dict):
                check(set(entry) <= {"name", "only-features", "except-features"} and "name" in entry,
                      f"{name}: server entry keys", repr(entry))
                for f in entry.get("only-features", []) + entry.get("except-features", []):
                    check(f in FEATURES, f"{name}: feature {f} exists")
                names.append(entry.get("name"))
            else:
                check(False, f"{name}: server entry is a string or table", repr(entry))
        for n in names:
            check(n in servers or n in HELIX_SERVERS, f"{name}: server {n} is defined")
        check("gatehouse" in names, f"{name}: runs gatehouse", repr(names))
        if name in HELIX_DEFAULTS:
            missing = [s for s in HELIX_DEFAULTS[name] if s not in names]
            check(not missing, f"{name}: keeps Helix's default servers", repr(missing))

    for filename, want in MANIFESTS.items():
        got = language_for(filename, languages)
        check(got == want, f"{filename} opens as {want}", f"got {got}")
        lang = by_name.get(got)
        runs = lang is not None and any(
            (e if isinstance(e, str) else e.get("name")) == "gatehouse" for e in lang.get("language-servers", [])
        )
        check(runs, f"{filename}: gatehouse runs for it")


main()
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
