// Shared helpers: start code-server in its own process group, open the workbench in Debian's chromium.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, '../../..');
export const FIXTURE = join(REPO, 'tests/editors/workspace');
export const OUT = join(REPO, 'target/editors');

export function env(name, fallback) {
  const v = process.env[name] ?? fallback;
  if (v === undefined) {
    throw new Error(`${name} is not set`);
  }
  return v;
}

export function log(...args) {
  console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...args);
}

/** A fresh copy of the fixture workspace (the tests edit it). */
export function copyWorkspace() {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-vscode-'));
  const ws = join(dir, 'workspace');
  cpSync(FIXTURE, ws, { recursive: true });
  return { dir, ws };
}

export async function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
    srv.on('error', rej);
  });
}

/**
 * User settings that keep the Problems panel and focus free of unrelated noise. `machine` goes to
 * the remote Machine settings, where VS Code reads machine-scoped settings such as gatehouse.path.
 */
export function seedUserData(userDataDir, extra = {}, machine = {}) {
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  mkdirSync(join(userDataDir, 'Machine'), { recursive: true });
  writeFileSync(join(userDataDir, 'Machine', 'settings.json'), JSON.stringify(machine, null, 2));
  writeFileSync(
    join(userDataDir, 'User', 'settings.json'),
    JSON.stringify(
      {
        'security.workspace.trust.enabled': false,
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'workbench.welcomePage.walkthroughs.openOnInstall': false,
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'json.schemaDownload.enable': false,
        'git.enabled': false,
        'workbench.enableExperiments': false,
        'editor.hover.delay': 200,
        'window.restoreWindows': 'none',
        'chat.disableAIFeatures': true,
        'workbench.secondarySideBar.defaultVisibility': 'hidden',
        ...extra,
      },
      null,
      2,
    ),
  );
}

export function codeServerBin() {
  return env('CODE_SERVER_BIN');
}

/** Runs `code-server --install-extension`. */
export async function installExtension(extensionsDir, userDataDir, vsix) {
  await run(codeServerBin(), ['--extensions-dir', extensionsDir, '--user-data-dir', userDataDir, '--install-extension', vsix]);
}

export function run(cmd, args, opts = {}) {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: 'inherit', ...opts });
    p.on('error', rej);
    p.on('exit', (code) => (code === 0 ? res() : rej(new Error(`${cmd} ${args.join(' ')} exited ${code}`))));
  });
}

/**
 * Starts code-server on a free port in its own process group; returns { url, port, stop }.
 * Its output goes to logFile.
 */
export async function startCodeServer({ userDataDir, extensionsDir, folder, logFile, extraArgs = [], extraEnv = {} }) {
  const port = await freePort();
  const args = [
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${port}`,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
    ...extraArgs,
    folder,
  ];
  const { openSync } = await import('node:fs');
  const fd = openSync(logFile, 'a');
  const child = spawn(codeServerBin(), args, {
    detached: true, // own process group, killed as a whole below
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...extraEnv },
  });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const stop = async () => {
    if (!exited) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const t0 = Date.now();
      while (!exited && Date.now() - t0 < 5000) {
        await sleep(100);
      }
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      throw new Error(`code-server exited early; see ${logFile}`);
    }
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) {
        break;
      }
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`code-server did not answer /healthz within 60 s; see ${logFile}`);
    }
    await sleep(200);
  }
  return { url, port, stop };
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: env('CHROMIUM', '/usr/bin/chromium'),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** Resolves when promise settles, rejects with `what` after ms. */
export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, rej) => {
      timer = setTimeout(() => rej(new Error(`timed out after ${ms / 1000} s: ${what}`)), ms);
    }),
  ]);
}
