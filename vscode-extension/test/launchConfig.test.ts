import assert from 'node:assert/strict';
import { test } from 'node:test';

import { attachesToRunningProcess, resolveLaunchConfig } from '../src/launchConfig';

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

test('neither target nor component is reported with examples of both and the kinds', () => {
  for (const config of [
    { type: 'kdap', request: 'launch', name: 'mine', host: 'root@n1' },
    { type: 'kdap', request: 'launch', name: 'mine', target: null, component: null },
  ]) {
    const r = resolveLaunchConfig(config, '/ws');
    assert.equal(r.kind, 'error');
    const message = r.kind === 'error' ? r.message : '';
    assert.match(message, /"mine" has no "target" and no "component"/);
    assert.match(message, /"target": "static-pod\/kube-scheduler"/);
    assert.match(message, /systemd\/<unit>/);
    assert.match(message, /"component": "kube-scheduler"/);
  }
});

test('component instead of target is accepted and passed on as it is', () => {
  const config = { type: 'kdap', request: 'launch', name: 'c', component: 'kube-scheduler' };
  const r = resolveLaunchConfig(config, '/ws');
  assert.equal(r.kind, 'ok');
  assert.deepEqual(r.kind === 'ok' && r.config, { ...config, localRoot: '/ws' });
});

test('a target or component that is not a non-empty string is reported', () => {
  for (const value of ['', '  ', 42, ['static-pod/x']]) {
    const t = resolveLaunchConfig({ ...base, target: value }, '/ws');
    assert.equal(t.kind, 'error', JSON.stringify(value));
    assert.match(t.kind === 'error' ? t.message : '', /"target".*non-empty string/);
    const c = resolveLaunchConfig({ type: 'kdap', request: 'launch', name: 'c', component: value }, '/ws');
    assert.equal(c.kind, 'error', JSON.stringify(value));
    assert.match(c.kind === 'error' ? c.message : '', /"component".*non-empty string such as "kube-scheduler"/);
  }
});

test('both target and component, or a component with a kind, are left to kdap, which names the fix', () => {
  assert.equal(resolveLaunchConfig({ ...base, component: 'kube-scheduler' }, '/ws').kind, 'ok');
  assert.equal(resolveLaunchConfig({ type: 'kdap', request: 'launch', name: 'c', component: 'systemd/kubelet' }).kind, 'ok');
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

test('request defaults to launch, and to attach for a running process', () => {
  const r = resolveLaunchConfig({ type: 'kdap', name: 'x', target: 'exec' });
  assert.equal(r.kind === 'ok' && r.config.request, 'launch');
  for (const target of ['pid/4242', 'process/my-controller']) {
    const a = resolveLaunchConfig({ type: 'kdap', name: 'x', target });
    assert.equal(a.kind === 'ok' && a.config.request, 'attach', target);
  }
});

test('an explicit attach request stays attach (Stop then detaches instead of ending the process)', () => {
  for (const target of ['process/my-controller', 'pid/4242', 'static-pod/kube-scheduler']) {
    const r = resolveLaunchConfig({ type: 'kdap', request: 'attach', name: 'x', target }, '/ws');
    assert.equal(r.kind === 'ok' && r.config.request, 'attach', target);
  }
});

test('the targets kdap attaches to are pid/ and process/', () => {
  for (const target of ['pid/4242', 'process/my-controller']) assert.ok(attachesToRunningProcess(target), target);
  for (const target of ['static-pod/kube-scheduler', 'systemd/kubelet', 'daemonset/kube-system/kube-proxy', 'exec', 'pid/', 'process']) {
    assert.ok(!attachesToRunningProcess(target), target);
  }
});
