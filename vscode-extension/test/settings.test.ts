import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { affectsServer, explicitValue, Inspected, serverSettings, SETTING_MAPPINGS, withWorkspaceTrust } from '../src/settings';

function inspector(values: Record<string, Inspected>): (key: string) => Inspected | undefined {
  return (key) => values[key];
}

test('untouched defaults are not forwarded', () => {
  const all: Record<string, Inspected> = {};
  for (const m of SETTING_MAPPINGS) {
    all[m.setting] = { defaultValue: 'x' };
  }
  assert.deepEqual(serverSettings(inspector(all)), {});
});

test('explicit values map onto the server keys, nested and kebab-case', () => {
  const settings = serverSettings(
    inspector({
      offline: { defaultValue: false, globalValue: true },
      osvDb: { defaultValue: [], workspaceValue: ['osv'] },
      'policy.minVersionAge': { defaultValue: '72h', workspaceFolderValue: '7d' },
      'policy.minPackageAge': { defaultValue: '30d' },
      'endpoints.npm': { globalValue: 'http://127.0.0.1:9/npm' },
      failOn: { defaultValue: 'warning', globalValue: 'error' },
    }),
  );
  assert.deepEqual(settings, {
    offline: true,
    'osv-db': ['osv'],
    'fail-on': 'error',
    endpoints: { npm: 'http://127.0.0.1:9/npm' },
    policy: { 'min-version-age': '7d' },
  });
});

test('an explicit false or empty list is forwarded, an empty path string is not', () => {
  const settings = serverSettings(
    inspector({
      offline: { defaultValue: false, workspaceValue: false },
      osvDb: { defaultValue: [], workspaceValue: [] },
      cacheDir: { defaultValue: '', globalValue: '' },
    }),
  );
  assert.deepEqual(settings, { offline: false, 'osv-db': [] });
});

test('the most specific scope wins', () => {
  assert.equal(explicitValue({ globalValue: 1, workspaceValue: 2 }), 2);
  assert.equal(explicitValue({ globalValue: 1, workspaceValue: 2, workspaceFolderValue: 3 }), 3);
  assert.equal(explicitValue({ globalValue: 1 }), 1);
  assert.equal(explicitValue({ defaultValue: 1 }), undefined);
  assert.equal(explicitValue(undefined), undefined);
});

test("an untrusted workspace's own values never reach the server; the user's do", () => {
  const values = inspector({
    failOn: { defaultValue: 'error', workspaceValue: 'never' },
    'policy.minVersionAge': { defaultValue: '72h', globalValue: '7d', workspaceFolderValue: '0s' },
    'policy.minPackageAge': { defaultValue: '30d', workspaceLanguageValue: '0s' },
    'endpoints.npm': { workspaceValue: 'http://evil.example/npm' },
  });
  assert.deepEqual(serverSettings(values, false), { policy: { 'min-version-age': '7d' } });
  // Once the user trusts the workspace, its settings are the user's choice too.
  assert.deepEqual(serverSettings(values, true), {
    'fail-on': 'never',
    endpoints: { npm: 'http://evil.example/npm' },
    policy: { 'min-version-age': '0s', 'min-package-age': '0s' },
  });
  assert.equal(explicitValue({ globalValue: 1, workspaceValue: 2 }, true), 1);
});

test('every policy setting is restricted in untrusted workspaces', async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
  const restricted: string[] = manifest.capabilities.untrustedWorkspaces.restrictedConfigurations;
  for (const mapping of SETTING_MAPPINGS) {
    assert.ok(restricted.includes(`gatehouse.${mapping.setting}`), `gatehouse.${mapping.setting} is restricted`);
  }
});

test('only server-facing settings trigger didChangeConfiguration', () => {
  assert.equal(affectsServer((s) => s === 'gatehouse.offline'), true);
  assert.equal(affectsServer((s) => s === 'gatehouse.policy.minVersionAge'), true);
  assert.equal(affectsServer((s) => s === 'gatehouse.path'), false);
  assert.equal(affectsServer(() => false), false);
});

test('every server key is kebab-case', () => {
  for (const m of SETTING_MAPPINGS) {
    for (const key of m.server) {
      assert.match(key, /^[a-z]+(-[a-z]+)*$/, m.setting);
    }
  }
});

test('workspace trust is forwarded as trust-project-config, both ways', () => {
  assert.deepEqual(withWorkspaceTrust({ offline: true }, false), { offline: true, 'trust-project-config': false });
  assert.deepEqual(withWorkspaceTrust({}, true), { 'trust-project-config': true });
});

test('every machine-trust setting is restricted in untrusted workspaces', async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
  const restricted: string[] = manifest.capabilities.untrustedWorkspaces.restrictedConfigurations;
  const machineTrust = ['offline', 'osv-db', 'cache-dir', 'trusted-root', 'endpoints'];
  for (const mapping of SETTING_MAPPINGS) {
    if (machineTrust.includes(mapping.server[0])) {
      assert.ok(restricted.includes(`gatehouse.${mapping.setting}`), `gatehouse.${mapping.setting} is restricted`);
    }
  }
});
