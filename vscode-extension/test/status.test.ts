import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { parseStatus, statusView } from '../src/status';

test('checking shows the pending count and spins', () => {
  const view = statusView(parseStatus({ state: 'checking', pending: 3, packages: 10, problems: 0, offline: false }));
  assert.equal(view.text, '$(sync~spin) Gatehouse: checking 3 packages');
  assert.equal(view.busy, true);
});

test('idle shows problems, singular and plural', () => {
  assert.equal(
    statusView(parseStatus({ state: 'idle', pending: 0, packages: 1, problems: 1, offline: false })).text,
    '$(warning) Gatehouse: 1 problem',
  );
  const clean = statusView(parseStatus({ state: 'idle', pending: 0, packages: 4, problems: 0, offline: false }));
  assert.equal(clean.text, '$(shield) Gatehouse: 0 problems');
  assert.equal(clean.tone, 'none');
  assert.match(clean.tooltip, /checked 4 packages/);
});

test('offline is shown and tinted', () => {
  const view = statusView(parseStatus({ state: 'idle', pending: 0, packages: 1, problems: 0, offline: true }));
  assert.equal(view.text, '$(shield) Gatehouse: 0 problems (offline)');
  assert.equal(view.tone, 'warning');
  assert.match(view.tooltip, /Offline/);
});

test('problems take the error tone', () => {
  assert.equal(statusView(parseStatus({ state: 'idle', problems: 2, offline: true })).tone, 'error');
});

test('malformed notifications fall back to safe values', () => {
  const safe = { unchecked: 0, uncheckedChecks: '', stale: 0, staleReason: '' };
  assert.deepEqual(parseStatus(null), { state: 'idle', pending: 0, packages: 0, problems: 0, offline: false, ...safe });
  assert.deepEqual(parseStatus({ state: 'weird', pending: -1, packages: 'x', problems: 2.7, offline: 'yes' }), {
    state: 'idle',
    pending: 0,
    packages: 0,
    problems: 2,
    offline: false,
    ...safe,
  });
});

test('what could not be checked is never shown as clean', () => {
  const view = statusView(
    parseStatus({ state: 'idle', packages: 3, problems: 0, offline: false, unchecked: 2, uncheckedChecks: 'advisory 2' }),
  );
  assert.equal(view.text, '$(warning) Gatehouse: 0 problems, 2 not checked');
  assert.equal(view.tone, 'warning');
  assert.match(view.tooltip, /2 packages could not be fully checked \(advisory 2\)/);
});

test('answers served stale after a failed refresh are said', () => {
  const view = statusView(
    parseStatus({ state: 'idle', packages: 1, problems: 0, stale: 1, staleReason: 'registry: connection refused' }),
  );
  assert.equal(view.text, '$(warning) Gatehouse: 0 problems, 1 stale');
  assert.equal(view.tone, 'warning');
  assert.match(view.tooltip, /connection refused/);
});
