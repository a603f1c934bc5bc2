#!/usr/bin/env python3
"""A stand-in for `gatehouse lsp` that follows the LSP contract the editor tests assert on.

Only for checking the editor harnesses themselves (for example while the real server is broken):
  GATEHOUSE_BIN=tests/editors/mock-gatehouse .ci/editors.sh
It flags `"lodash": "4.17.15"` with GHSA-35jh-r3h4-6jhm, hovers, offers the quick fix, and sends
`gatehouse/status`. CI always runs the real server.
"""
import json
import re
import sys

docs = {}
settings = {}


def send(msg):
    body = json.dumps(msg).encode()
    sys.stdout.buffer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    sys.stdout.buffer.flush()


def read():
    headers = {}
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        k, v = line.decode().split(":", 1)
        headers[k.lower()] = v.strip()
    return json.loads(sys.stdin.buffer.read(int(headers["content-length"])))


def find(text):
    out = []
    for i, line in enumerate(text.split("\n")):
        m = re.search(r'"lodash"\s*:\s*("(\d+\.\d+\.\d+)")', line)
        if m and tuple(map(int, m.group(2).split("."))) < (4, 17, 21):
            out.append((i, m.start(1), m.end(1), m.group(2)))
    return out


def diagnostics(uri):
    text, version = docs[uri]
    diags = []
    if settings.get("osv-db") == []:
        return diags, 0
    for line, s, e, ver in find(text):
        diags.append({
            "range": {"start": {"line": line, "character": s}, "end": {"line": line, "character": e}},
            "severity": 1, "source": "gatehouse", "code": "GHSA-35jh-r3h4-6jhm",
            "codeDescription": {"href": "https://osv.dev/vulnerability/GHSA-35jh-r3h4-6jhm"},
            "message": f"lodash {ver} has a known vulnerability: Command Injection in lodash (GHSA-35jh-r3h4-6jhm); fixed in 4.17.21",
        })
    return diags, 1


def publish(uri):
    diags, _ = diagnostics(uri)
    send({"jsonrpc": "2.0", "method": "textDocument/publishDiagnostics",
          "params": {"uri": uri, "version": docs[uri][1], "diagnostics": diags}})
    send({"jsonrpc": "2.0", "method": "gatehouse/status",
          "params": {"state": "idle", "pending": 0, "packages": 1, "problems": len(diags), "offline": True}})


def fix_edit(uri):
    text, _ = docs[uri]
    edits = [{"range": {"start": {"line": l, "character": s}, "end": {"line": l, "character": e}}, "newText": '"4.17.21"'}
             for l, s, e, _ in find(text)]
    return {"changes": {uri: edits}}


while True:
    msg = read()
    if msg is None:
        break
    method, mid, p = msg.get("method"), msg.get("id"), msg.get("params") or {}
    if method == "initialize":
        settings = p.get("initializationOptions") or {}
        send({"jsonrpc": "2.0", "id": mid, "result": {"capabilities": {
            "textDocumentSync": 1, "hoverProvider": True,
            "codeActionProvider": {"codeActionKinds": ["quickfix"]},
            "executeCommandProvider": {"commands": ["gatehouse.recheck", "gatehouse.clearCache"]}}}})
    elif method == "textDocument/didOpen":
        d = p["textDocument"]
        docs[d["uri"]] = (d["text"], d["version"])
        send({"jsonrpc": "2.0", "method": "gatehouse/status",
              "params": {"state": "checking", "pending": 1, "packages": 1, "problems": 0, "offline": True}})
        publish(d["uri"])
    elif method == "textDocument/didChange":
        d = p["textDocument"]
        docs[d["uri"]] = (p["contentChanges"][-1]["text"], d["version"])
        publish(d["uri"])
    elif method == "workspace/didChangeConfiguration":
        settings = (p.get("settings") or {}).get("gatehouse") or {}
        for uri in docs:
            publish(uri)
    elif method == "textDocument/hover":
        uri, pos = p["textDocument"]["uri"], p["position"]
        hit = [f for f in find(docs[uri][0]) if f[0] == pos["line"]]
        result = None
        if hit:
            result = {"contents": {"kind": "markdown", "value": f"**Gatehouse** — lodash {hit[0][3]}\n\n- GHSA-35jh-r3h4-6jhm: Command Injection in lodash (fixed in 4.17.21)"}}
        send({"jsonrpc": "2.0", "id": mid, "result": result})
    elif method == "textDocument/codeAction":
        uri = p["textDocument"]["uri"]
        actions = []
        if find(docs[uri][0]):
            actions = [
                {"title": "Update lodash to 4.17.21", "kind": "quickfix", "isPreferred": True,
                 "diagnostics": p["context"].get("diagnostics", []), "edit": fix_edit(uri)},
                {"title": "Fix all Gatehouse findings in this file", "kind": "quickfix", "edit": fix_edit(uri)},
            ]
        send({"jsonrpc": "2.0", "id": mid, "result": actions})
    elif method == "workspace/executeCommand":
        send({"jsonrpc": "2.0", "id": mid, "result": None})
    elif method == "shutdown":
        send({"jsonrpc": "2.0", "id": mid, "result": None})
    elif method == "exit":
        break
    elif mid is not None and method:
        send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "not handled"}})
