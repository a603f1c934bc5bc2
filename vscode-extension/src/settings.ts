// Maps VS Code `gatehouse.*` settings onto the server's configuration keys (the keys of
// gatehouse.toml). Only values the user set explicitly are forwarded, so a project's
// gatehouse.toml is not overridden by the editor's defaults. No `vscode` import: unit-tested in node.

/** One VS Code setting (below `gatehouse.`) and where it goes in the server's settings. */
export interface SettingMapping {
  /** Key below the `gatehouse` section, as VS Code spells it (for example `policy.minVersionAge`). */
  readonly setting: string;
  /** Path in the server's settings object (for example `["policy", "min-version-age"]`). */
  readonly server: readonly string[];
}

/** Settings that only the extension uses; never sent to the server. */
export const CLIENT_ONLY_SETTINGS: readonly string[] = ['path', 'trace.server'];

export const SETTING_MAPPINGS: readonly SettingMapping[] = [
  { setting: 'offline', server: ['offline'] },
  { setting: 'osvDb', server: ['osv-db'] },
  { setting: 'cacheDir', server: ['cache-dir'] },
  { setting: 'trustedRoot', server: ['trusted-root'] },
  { setting: 'failOn', server: ['fail-on'] },
  { setting: 'endpoints.osv', server: ['endpoints', 'osv'] },
  { setting: 'endpoints.npm', server: ['endpoints', 'npm'] },
  { setting: 'endpoints.crates', server: ['endpoints', 'crates'] },
  { setting: 'endpoints.pypi', server: ['endpoints', 'pypi'] },
  { setting: 'policy.minVersionAge', server: ['policy', 'min-version-age'] },
  { setting: 'policy.minPackageAge', server: ['policy', 'min-package-age'] },
];

/** The shape of `WorkspaceConfiguration.inspect()` that matters here. */
export interface Inspected<T = unknown> {
  defaultValue?: T;
  globalValue?: T;
  workspaceValue?: T;
  workspaceFolderValue?: T;
  // Language-specific values count as explicit too.
  globalLanguageValue?: T;
  workspaceLanguageValue?: T;
  workspaceFolderLanguageValue?: T;
}

/**
 * The value set explicitly, the most specific scope winning; undefined when untouched. With
 * `userOnly`, only the user's own (global) values count: the workspace's come from the repository
 * (`.vscode/settings.json`, a `.code-workspace` file), which is untrusted input until the user trusts it.
 */
export function explicitValue<T>(inspected: Inspected<T> | undefined, userOnly = false): T | undefined {
  if (!inspected) {
    return undefined;
  }
  const workspaceScopes: (keyof Inspected<T>)[] = [
    'workspaceFolderLanguageValue',
    'workspaceFolderValue',
    'workspaceLanguageValue',
    'workspaceValue',
  ];
  const userScopes: (keyof Inspected<T>)[] = ['globalLanguageValue', 'globalValue'];
  const order = userOnly ? userScopes : [...workspaceScopes, ...userScopes];
  for (const key of order) {
    const value = inspected[key];
    if (value !== undefined) {
      return value;
    }
  }
  return undefined;
}

export type ServerSettings = { [key: string]: unknown };

/**
 * Builds the server's settings object from explicitly set values only.
 * `inspect` is `(key) => workspace.getConfiguration('gatehouse', scope).inspect(key)`.
 * Empty strings count as "not set" for path-like settings whose default is empty.
 * The server takes these settings as the user's own, so in a workspace that is not trusted the
 * workspace's values are left out: a cloned repository cannot lower the policy (`failOn`,
 * `policy.*`) or redirect lookups through its `.vscode/settings.json`.
 */
export function serverSettings(
  inspect: (setting: string) => Inspected | undefined,
  workspaceTrusted = true,
): ServerSettings {
  const out: ServerSettings = {};
  for (const mapping of SETTING_MAPPINGS) {
    const value = explicitValue(inspect(mapping.setting), !workspaceTrusted);
    if (value === undefined || value === null || value === '') {
      continue;
    }
    setPath(out, mapping.server, value);
  }
  return out;
}

function setPath(target: ServerSettings, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next === 'object' && next !== null && !Array.isArray(next)) {
      node = next as ServerSettings;
    } else {
      const created: ServerSettings = {};
      node[key] = created;
      node = created;
    }
  }
  node[path[path.length - 1]] = value;
}

/** True when a configuration change touches a setting that the server sees. */
export function affectsServer(affects: (section: string) => boolean): boolean {
  return SETTING_MAPPINGS.some((m) => affects(`gatehouse.${m.setting}`));
}

/**
 * The settings with the server key `trust-project-config` set from VS Code's workspace trust: in a
 * trusted workspace the project's gatehouse.toml applies in full; otherwise its machine-trust keys
 * are ignored by the server (and reported on the file).
 */
export function withWorkspaceTrust(settings: ServerSettings, isTrusted: boolean): ServerSettings {
  return { ...settings, 'trust-project-config': isTrusted };
}
