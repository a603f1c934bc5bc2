#!/usr/bin/env python3
"""Checks the LSP4IJ custom template in editors/jetbrains/lsp4ij-template.

LSP4IJ ("Import from custom template") needs template.json with id, name, programArgs
({"default": ..., "windows"/"mac"/"unix": ...}) and fileTypeMappings
([{"fileType": {"name"?, "patterns"?}, "languageId"}]); settings.json and
initializationOptions.json beside it are optional JSON. Prints `N passed, N failed`.
"""
import fnmatch
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
DIR = ROOT / "editors" / "jetbrains" / "lsp4ij-template"
TEMPLATE_KEYS = {"id", "name", "programArgs", "fileTypeMappings", "languageMappings", "env", "workingDir",
                 "url", "expandEnvironmentVariables", "includeSystemEnvironmentVariables"}
KNOWN_FILES = {"template.json", "settings.json", "initializationOptions.json", "clientSettings.json",
               "installer.json", "settings.schema.json", "initializationOptions.schema.json", "README.md"}
MANIFESTS = ["package.json", "package-lock.json", "Cargo.toml", "Cargo.lock", "pyproject.toml",
             "poetry.lock", "uv.lock", "requirements.txt", "requirements-dev.txt", "gatehouse.toml"]
NOT_MANIFESTS = ["tsconfig.json", "rustfmt.toml", "notes.txt"]

passed = failed = 0


def check(ok, name, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   jetbrains: {name}")
    else:
        failed += 1
        print(f"FAIL jetbrains: {name} {detail}")


def main():
    files = {p.name for p in DIR.iterdir()}
    check(files <= KNOWN_FILES, "only files LSP4IJ reads", str(files - KNOWN_FILES))
    for name in sorted(files):
        if name.endswith(".json"):
            try:
                json.loads((DIR / name).read_text())
                check(True, f"{name} is JSON")
            except json.JSONDecodeError as err:
                check(False, f"{name} is JSON", str(err))
                return
    t = json.loads((DIR / "template.json").read_text())
    check(set(t) <= TEMPLATE_KEYS, "template.json keys are LSP4IJ's", str(set(t) - TEMPLATE_KEYS))
    check(t.get("id") == "gatehouse" and t.get("name") == "Gatehouse", "id and name")
    args = t.get("programArgs", {})
    check(isinstance(args, dict) and set(args) <= {"default", "windows", "mac", "unix"}, "programArgs per OS", repr(args))
    check(args.get("default", "").split() == ["gatehouse", "lsp"], 'default command is "gatehouse lsp"', repr(args))
    patterns = []
    for m in t.get("fileTypeMappings", []):
        ft = m.get("fileType", {})
        check(set(m) <= {"fileType", "languageId"} and set(ft) <= {"name", "patterns"}, "mapping keys", repr(m))
        check("name" not in ft, "maps by file name only (does not take over the IDE's JSON/TOML file types)", repr(ft))
        check(isinstance(m.get("languageId"), str), "mapping has a languageId", repr(m))
        patterns += ft.get("patterns", [])
    for f in MANIFESTS:
        check(any(fnmatch.fnmatchcase(f, p) for p in patterns), f"{f} is mapped")
    for f in NOT_MANIFESTS:
        check(not any(fnmatch.fnmatchcase(f, p) for p in patterns), f"{f} is not mapped")
    settings = json.loads((DIR / "settings.json").read_text())
    check(settings == {"gatehouse": {}}, "settings are empty so gatehouse.toml applies", repr(settings))


main()
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
