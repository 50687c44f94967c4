import assert from 'node:assert/strict';
import { test } from 'node:test';

import { resolveLaunchConfig } from '../src/launchConfig';

const base = { type: 'kdap', request: 'launch', name: 'scheduler', target: 'static-pod/kube-scheduler' };

test('fills localRoot with the workspace folder when absent', () => {
  const r = resolveLaunchConfig({ ...base }, '/home/me/kubernetes');
  assert.equal(r.kind, 'ok');
  assert.deepEqual(r.kind === 'ok' && r.config, { ...base, localRoot: '/home/me/kubernetes' });
});

test('keeps a localRoot that is set, and leaves it out without a workspace folder', () => {
  const kept = resolveLaunchConfig({ ...base, localRoot: '/src' }, '/ws');
  assert.equal(kept.kind === 'ok' && kept.config.localRoot, '/src');
  const none = resolveLaunchConfig({ ...base }, undefined);
  assert.ok(none.kind === 'ok' && !('localRoot' in none.config));
});

test('does not change the configuration it was given', () => {
  const config = { ...base };
  resolveLaunchConfig(config, '/ws');
  assert.deepEqual(config, base);
});

test('a missing target is reported with an example and the kinds', () => {
  const r = resolveLaunchConfig({ type: 'kdap', request: 'launch', name: 'mine', host: 'root@n1' }, '/ws');
  assert.equal(r.kind, 'error');
  const message = r.kind === 'error' ? r.message : '';
  assert.match(message, /"mine" has no "target"/);
  assert.match(message, /static-pod\/kube-scheduler/);
  assert.match(message, /systemd\/<unit>/);
});

test('a target that is not a non-empty string is reported', () => {
  for (const target of ['', '  ', 42, ['static-pod/x']]) {
    const r = resolveLaunchConfig({ ...base, target }, '/ws');
    assert.equal(r.kind, 'error', JSON.stringify(target));
    assert.match(r.kind === 'error' ? r.message : '', /"target".*non-empty string/);
  }
});

test('other target mistakes are left to kdap, which names the fix', () => {
  const r = resolveLaunchConfig({ ...base, target: 'deployment/x' }, '/ws');
  assert.equal(r.kind, 'ok');
});

test('an empty configuration (F5 without launch.json) asks for one', () => {
  const r = resolveLaunchConfig({}, '/ws');
  assert.equal(r.kind, 'empty');
  assert.match(r.kind === 'empty' ? r.message : '', /launch\.json/);
});

test('request defaults to launch', () => {
  const r = resolveLaunchConfig({ type: 'kdap', name: 'x', target: 'exec' });
  assert.equal(r.kind === 'ok' && r.config.request, 'launch');
});
