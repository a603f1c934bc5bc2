// VS Code API tests, run inside code-server's extension host (extensionTestsPath).
// Each check appends a line to $GATEHOUSE_TEST_RESULTS; run() rejects when one failed.
/* eslint-disable */
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const vscode = require('vscode');

const GHSA = 'GHSA-35jh-r3h4-6jhm';
const EXT_ID = 'gatehouse.gatehouse';
const resultsFile = process.env.GATEHOUSE_TEST_RESULTS;

function report(line) {
  console.log(line);
  if (resultsFile) {
    fs.appendFileSync(resultsFile, line + '\n');
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, ms = 30000) {
  const t0 = Date.now();
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) {
        return last;
      }
    } catch (err) {
      last = err;
    }
    if (Date.now() - t0 > ms) {
      throw new Error(`timed out after ${ms / 1000} s waiting for ${what}` + (last instanceof Error ? `: ${last.message}` : ''));
    }
    await sleep(100);
  }
}

function codeOf(d) {
  return typeof d.code === 'object' && d.code !== null ? String(d.code.value) : String(d.code);
}

function gatehouseDiags(uri) {
  return vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'gatehouse');
}

function describe(diags) {
  return JSON.stringify(diags.map((d) => ({ code: codeOf(d), message: d.message, line: d.range.start.line })));
}

function hoverText(hovers) {
  return hovers
    .flatMap((h) => h.contents)
    .map((c) => (typeof c === 'string' ? c : c.value))
    .filter((t) => t && t.startsWith('**Gatehouse**'));
}

exports.run = async function run() {
  const tests = [];
  const test = (name, fn, critical = false) => tests.push({ name, fn, critical });
  const ctx = {};

  test('extension activates and the server starts', async () => {
    const ext = vscode.extensions.getExtension(EXT_ID);
    assert.ok(ext, `${EXT_ID} is loaded`);
    const folder = vscode.workspace.workspaceFolders[0].uri;
    ctx.uri = vscode.Uri.joinPath(folder, 'package.json');
    ctx.doc = await vscode.workspace.openTextDocument(ctx.uri);
    ctx.editor = await vscode.window.showTextDocument(ctx.doc);
    ctx.api = await ext.activate();
    await Promise.race([ctx.api.ready, sleep(30000).then(() => Promise.reject(new Error('client did not start in 30 s')))]);
    assert.ok(ctx.api.client, 'client is running');
  }, true);

  test('untouched settings are not sent to the server (only the workspace trust is)', async () => {
    assert.deepStrictEqual(ctx.api.settingsFor(), { 'trust-project-config': vscode.workspace.isTrusted });
  });

  test(`diagnostic ${GHSA} on "4.17.15"`, async () => {
    const diag = await waitFor(`a ${GHSA} diagnostic`, () => gatehouseDiags(ctx.uri).find((d) => codeOf(d) === GHSA), 60000);
    const text = ctx.doc.getText(diag.range);
    assert.ok(text.includes('4.17.15'), `range covers the version, got ${JSON.stringify(text)}`);
    assert.ok(diag.message.includes('lodash'), `message names lodash: ${diag.message}`);
    assert.ok(diag.message.includes('4.17.15'), `message names the version: ${diag.message}`);
    assert.ok(
      diag.severity === vscode.DiagnosticSeverity.Error || diag.severity === vscode.DiagnosticSeverity.Warning,
      `error or warning, got ${diag.severity}`,
    );
    assert.ok(diag.code && typeof diag.code === 'object' && diag.code.target, 'code links to the advisory (codeDescription.href)');
    ctx.diag = diag;
  }, true);

  test('status bar shows problems and offline', async () => {
    const text = await waitFor('an idle gatehouse/status', () => {
      const s = ctx.api.lastStatus;
      return s && s.state === 'idle' && s.problems > 0 ? ctx.api.statusText : undefined;
    }, 30000);
    assert.ok(/problem/.test(text), text);
    assert.ok(ctx.api.lastStatus.offline === true, 'gatehouse.toml says offline = true');
    assert.ok(text.includes('(offline)'), text);
  });

  test('hover shows the checked version and the advisory', async () => {
    const pos = ctx.diag.range.start.translate(0, 2);
    const hovers = await vscode.commands.executeCommand('vscode.executeHoverProvider', ctx.uri, pos);
    const texts = hoverText(hovers || []);
    assert.ok(texts.length === 1, `one **Gatehouse** hover, got ${JSON.stringify((hovers || []).map((h) => h.contents))}`);
    assert.ok(texts[0].includes('4.17.15'), texts[0]);
    assert.ok(texts[0].includes(GHSA), texts[0]);
  });

  test('settings change is picked up without reload (osvDb = [] hides the advisory)', async () => {
    const config = vscode.workspace.getConfiguration('gatehouse', ctx.uri);
    await config.update('osvDb', [], vscode.ConfigurationTarget.Workspace);
    try {
      assert.deepStrictEqual(ctx.api.settingsFor(), { 'osv-db': [], 'trust-project-config': vscode.workspace.isTrusted });
      await waitFor('the advisory to disappear', () => !gatehouseDiags(ctx.uri).some((d) => codeOf(d) === GHSA), 30000);
    } finally {
      await config.update('osvDb', undefined, vscode.ConfigurationTarget.Workspace);
    }
    assert.deepStrictEqual(ctx.api.settingsFor(), { 'trust-project-config': vscode.workspace.isTrusted });
    await waitFor('the advisory to come back', () => gatehouseDiags(ctx.uri).some((d) => codeOf(d) === GHSA), 30000);
  });

  test('re-check and clear-cache commands run', async () => {
    await vscode.commands.executeCommand('gatehouse.recheckWorkspace');
    await vscode.commands.executeCommand('gatehouse.clearLookupCache');
    await waitFor('the advisory after re-check', () => gatehouseDiags(ctx.uri).some((d) => codeOf(d) === GHSA), 30000);
  });

  test('quick fix "Update lodash to 4.17.21" is applied', async () => {
    const diag = gatehouseDiags(ctx.uri).find((d) => codeOf(d) === GHSA);
    const actions = await vscode.commands.executeCommand('vscode.executeCodeActionProvider', ctx.uri, diag.range, vscode.CodeActionKind.QuickFix.value);
    const titles = (actions || []).map((a) => a.title);
    const fix = (actions || []).find((a) => /^Update lodash to /.test(a.title));
    assert.ok(fix, `offered: ${JSON.stringify(titles)}`);
    assert.ok(titles.includes('Fix all Gatehouse findings in this file'), `offered: ${JSON.stringify(titles)}`);
    assert.ok(fix.title.includes('4.17.21'), fix.title);
    assert.ok(fix.isPreferred, 'isPreferred');
    assert.ok(fix.kind && fix.kind.value === 'quickfix', `kind ${fix.kind && fix.kind.value}`);
    if (fix.edit) {
      assert.ok(await vscode.workspace.applyEdit(fix.edit), 'edit applied');
    }
    if (fix.command) {
      await vscode.commands.executeCommand(fix.command.command, ...(fix.command.arguments || []));
    }
    await waitFor('the document to change', () => ctx.doc.getText().includes('"lodash": "4.17.21"'), 10000);
    assert.ok(!ctx.doc.getText().includes('4.17.15'), ctx.doc.getText());
    await ctx.doc.save();
    const onDisk = fs.readFileSync(ctx.uri.fsPath, 'utf8');
    assert.ok(onDisk.includes('"lodash": "4.17.21"'), onDisk);
    ctx.fixed = true;
  });

  test('advisory clears after the fix', async () => {
    assert.ok(ctx.fixed, 'the quick fix was applied');
    await waitFor('no advisory', () => !gatehouseDiags(ctx.uri).some((d) => codeOf(d) === GHSA), 30000).catch((err) => {
      throw new Error(`${err.message}; diagnostics now ${describe(gatehouseDiags(ctx.uri))}`);
    });
    await waitFor('gatehouse/status to report 0 problems', () => {
      const s = ctx.api.lastStatus;
      return s && s.state === 'idle' && s.problems === 0;
    }, 15000).catch((err) => {
      throw new Error(`${err.message}; last status ${JSON.stringify(ctx.api.lastStatus)}`);
    });
  });

  test('"Open gatehouse.toml" opens the project file; "Show output" runs', async () => {
    await vscode.commands.executeCommand('gatehouse.openConfig');
    await waitFor('gatehouse.toml in the editor', () => {
      const ed = vscode.window.activeTextEditor;
      return ed && path.basename(ed.document.uri.fsPath) === 'gatehouse.toml';
    }, 10000);
    await vscode.commands.executeCommand('gatehouse.showOutput');
  });

  test('a wrong gatehouse.path is reported, and fixing it restarts the server', async () => {
    const config = vscode.workspace.getConfiguration('gatehouse');
    const good = config.inspect('path');
    const target = good.workspaceValue !== undefined ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    const original = good.workspaceValue !== undefined ? good.workspaceValue : good.globalValue;
    await config.update('path', '/nonexistent/gatehouse', vscode.ConfigurationTarget.Workspace);
    try {
      await waitFor('the status bar to say there is no server', () => /no server/.test(ctx.api.statusText), 15000);
      assert.ok(!ctx.api.client, 'no client runs');
    } finally {
      await config.update('path', undefined, vscode.ConfigurationTarget.Workspace);
      if (target === vscode.ConfigurationTarget.Workspace) {
        await config.update('path', original, target);
      }
    }
    await waitFor('the server to run again', () => ctx.api.client && ctx.api.client.isRunning(), 30000);
  });

  let failed = 0;
  for (const t of tests) {
    const t0 = Date.now();
    try {
      await t.fn();
      t.ok = true;
      report(`ok   vscode-api: ${t.name} (${Date.now() - t0} ms)`);
    } catch (err) {
      failed++;
      report(`FAIL vscode-api: ${t.name} — ${err && err.stack ? err.stack.split('\n').slice(0, 3).join(' | ') : err}`);
      if (t.critical) {
        report(`vscode-api: stopping after a failed prerequisite`);
        break;
      }
    }
  }
  const passed = tests.filter((t) => t.ok).length;
  report(`vscode-api: ${passed} passed, ${tests.length - passed} failed`);
  if (failed) {
    throw new Error(`${failed} API test(s) failed`);
  }
};
