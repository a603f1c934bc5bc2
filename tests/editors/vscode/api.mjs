// Runs api/index.js inside a real VS Code (code-server) with the packaged extension loaded
// as the extension under development. Prints the test lines; exits non-zero on failure.
// env: CODE_SERVER_BIN, GATEHOUSE_BIN, GATEHOUSE_VSIX, [CHROMIUM]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyWorkspace, env, HERE, launchBrowser, log, OUT, seedUserData, startCodeServer, withTimeout } from './lib.mjs';

const vsix = env('GATEHOUSE_VSIX');
const bin = env('GATEHOUSE_BIN');
mkdirSync(OUT, { recursive: true });

const { dir, ws } = copyWorkspace();
const extRoot = join(dir, 'vsix');
execFileSync('python3', ['-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])', vsix, extRoot]);
const extDir = join(extRoot, 'extension');
const userData = join(dir, 'user-data');
const extensions = join(dir, 'extensions');
mkdirSync(extensions, { recursive: true });
seedUserData(userData, {}, { 'gatehouse.path': bin });
const results = join(dir, 'results.txt');
writeFileSync(results, '');
const logFile = join(OUT, 'vscode-api-code-server.log');
writeFileSync(logFile, '');

let server;
let browser;
let code = 1;
try {
  server = await startCodeServer({
    userDataDir: userData,
    extensionsDir: extensions,
    folder: ws,
    logFile,
    extraArgs: ['--enable-smoke-test-driver'],
    // VS Code's server takes PATH from a login shell, so the tests point gatehouse.path at the binary.
    extraEnv: { GATEHOUSE_TEST_RESULTS: results },
  });
  log(`code-server on ${server.url}`);
  const authority = `127.0.0.1:${server.port}`;
  const payload = [
    ['extensionDevelopmentPath', `vscode-remote://${authority}${extDir}`],
    ['extensionTestsPath', `vscode-remote://${authority}${join(HERE, 'api', 'index.js')}`],
  ];
  const url = `${server.url}/?folder=${encodeURIComponent(ws)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('console', (m) => {
    const t = m.text();
    if (/vscode-api|gatehouse/i.test(t) && !t.startsWith('ok ') && !t.startsWith('FAIL')) {
      log('page:', t.slice(0, 300));
    }
  });
  const exited = new Promise((resolve) => {
    page.exposeFunction('codeAutomationExit', (c) => resolve(c));
  });
  await page.goto(url);
  log('workbench loading; extension tests running');
  code = await withTimeout(exited, 240_000, 'extension tests to finish (codeAutomationExit)');
  log(`extension tests exited with ${code}`);
} catch (err) {
  log(`ERROR: ${err.message}`);
  code = 1;
} finally {
  const lines = existsSync(results) ? readFileSync(results, 'utf8').trim() : '';
  console.log(lines || '(no test results written; see ' + logFile + ')');
  if (!lines.includes('passed,')) {
    code = code || 1;
  }
  await browser?.close().catch(() => {});
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code === 0 ? 0 : 1);
