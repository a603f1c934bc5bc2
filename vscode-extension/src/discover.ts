// Finds the gatehouse binary: the `gatehouse.path` setting, then a binary bundled in the
// extension for this platform, then `gatehouse` on PATH. No `vscode` import: unit-tested in node.
import * as path from 'path';

export interface Environment {
  platform: NodeJS.Platform;
  arch: string;
  /** PATH value. */
  pathEnv: string;
  /** Windows PATHEXT value. */
  pathExt?: string;
  home: string;
  isExecutable(file: string): boolean;
}

export type Found =
  | { kind: 'setting' | 'bundled' | 'path'; command: string }
  | { kind: 'missing'; tried: string[]; badSetting?: string };

export function exeName(platform: NodeJS.Platform): string {
  return platform === 'win32' ? 'gatehouse.exe' : 'gatehouse';
}

/** `server/<platform>-<arch>/gatehouse[.exe]` inside the extension; `scripts/package.mjs` puts it there. */
export function bundledPath(extensionPath: string, env: Pick<Environment, 'platform' | 'arch'>): string {
  return path.join(extensionPath, 'server', `${env.platform}-${env.arch}`, exeName(env.platform));
}

function expandHome(p: string, home: string): string {
  if (p === '~') {
    return home;
  }
  if (p.startsWith('~/') || p.startsWith('~\\')) {
    return path.join(home, p.slice(2));
  }
  return p;
}

export function findOnPath(env: Environment): string | undefined {
  const sep = env.platform === 'win32' ? ';' : ':';
  const exts = env.platform === 'win32' ? (env.pathExt ?? '.EXE;.CMD;.BAT').split(';').filter(Boolean) : [''];
  for (const dir of env.pathEnv.split(sep)) {
    if (!dir) {
      continue;
    }
    for (const ext of exts) {
      const candidate = path.join(dir, `gatehouse${ext.toLowerCase()}`);
      if (env.isExecutable(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}

/**
 * `configured` is the `gatehouse.path` setting; relative paths are taken against `workspaceRoot`.
 * A configured path that is not executable is reported, not silently replaced.
 */
export function discoverServer(
  configured: string | undefined,
  extensionPath: string,
  env: Environment,
  workspaceRoot?: string,
): Found {
  const tried: string[] = [];
  const setting = (configured ?? '').trim();
  if (setting) {
    let candidate = expandHome(setting, env.home);
    if (!path.isAbsolute(candidate) && workspaceRoot) {
      candidate = path.join(workspaceRoot, candidate);
    }
    if (env.isExecutable(candidate)) {
      return { kind: 'setting', command: candidate };
    }
    return { kind: 'missing', tried: [candidate], badSetting: setting };
  }
  const bundled = bundledPath(extensionPath, env);
  tried.push(bundled);
  if (env.isExecutable(bundled)) {
    return { kind: 'bundled', command: bundled };
  }
  const onPath = findOnPath(env);
  if (onPath) {
    return { kind: 'path', command: onPath };
  }
  tried.push('gatehouse on PATH');
  return { kind: 'missing', tried };
}
