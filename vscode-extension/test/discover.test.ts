import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { test } from 'node:test';
import { bundledPath, discoverServer, Environment } from '../src/discover';

function env(executables: string[], over: Partial<Environment> = {}): Environment {
  const set = new Set(executables);
  return {
    platform: 'linux',
    arch: 'x64',
    pathEnv: '/usr/local/bin:/usr/bin',
    home: '/home/u',
    isExecutable: (f) => set.has(f),
    ...over,
  };
}

const ext = '/ext';

test('the gatehouse.path setting wins', () => {
  const found = discoverServer('/opt/gh/gatehouse', ext, env(['/opt/gh/gatehouse', '/usr/bin/gatehouse']));
  assert.deepEqual(found, { kind: 'setting', command: '/opt/gh/gatehouse' });
});

test('the setting expands ~ and resolves against the workspace', () => {
  assert.deepEqual(discoverServer('~/bin/gatehouse', ext, env(['/home/u/bin/gatehouse'])), {
    kind: 'setting',
    command: '/home/u/bin/gatehouse',
  });
  assert.deepEqual(discoverServer('tools/gatehouse', ext, env(['/ws/tools/gatehouse']), '/ws'), {
    kind: 'setting',
    command: '/ws/tools/gatehouse',
  });
});

test('a broken setting is reported, not replaced by PATH', () => {
  const found = discoverServer('/nope/gatehouse', ext, env(['/usr/bin/gatehouse']));
  assert.equal(found.kind, 'missing');
  assert.equal(found.kind === 'missing' && found.badSetting, '/nope/gatehouse');
});

test('the bundled binary comes before PATH', () => {
  const bundled = bundledPath(ext, { platform: 'linux', arch: 'x64' });
  assert.equal(bundled, path.join('/ext', 'server', 'linux-x64', 'gatehouse'));
  assert.deepEqual(discoverServer('', ext, env([bundled, '/usr/bin/gatehouse'])), { kind: 'bundled', command: bundled });
});

test('PATH is searched in order', () => {
  assert.deepEqual(discoverServer(undefined, ext, env(['/usr/bin/gatehouse', '/usr/local/bin/gatehouse'])), {
    kind: 'path',
    command: '/usr/local/bin/gatehouse',
  });
});

test('nothing found lists what was tried', () => {
  const found = discoverServer('  ', ext, env([]));
  assert.equal(found.kind, 'missing');
  assert.ok(found.kind === 'missing' && found.tried.some((t) => t.includes('PATH')));
});

test('windows uses PATHEXT and the .exe name', () => {
  const e = env(['C:\\bin/gatehouse.exe'], { platform: 'win32', pathEnv: 'C:\\bin', pathExt: '.EXE;.CMD' });
  const found = discoverServer('', 'C:\\ext', e);
  assert.equal(found.kind, 'path');
});
