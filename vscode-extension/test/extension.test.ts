// src/extension.ts against a stand-in vscode module: registrations, the adapter command line, the
// configuration resolver and the dynamic configurations.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';

import { DebugAdapterExecutable, Recorder, TriggerKind, fakeVscode, installFakeVscode, memento, newRecorder } from './fakeVscode';
import { LS_JSON, fakeKdapLs, oldKdap, readArgv, script, tempDir } from './fakes';

const rec: Recorder = newRecorder();
const uninstall = installFakeVscode(fakeVscode(rec));
const ext = require('../src/extension') as typeof import('../src/extension');

const dir = tempDir();
after(() => {
  uninstall();
  fs.rmSync(dir, { recursive: true, force: true });
});
const kdap = script(dir, 'kdap', 'exit 0');

function activate() {
  const context = { subscriptions: [] as unknown[], globalState: memento(rec) };
  ext.activate(context as any);
  return context;
}
const factory = () => rec.factories[0].factory;
const resolver = () => rec.providers.find((p) => p.trigger === undefined)!.provider;
const dynamic = () => rec.providers.find((p) => p.trigger === TriggerKind.Dynamic)!.provider;
const session = { workspaceFolder: undefined, configuration: {} };
const flush = () => new Promise((r) => setImmediate(r));

describe('extension', () => {
  beforeEach(() => {
    Object.assign(rec, newRecorder());
    rec.settings['kdap.path'] = kdap;
  });

  test('activation registers the adapter factory, the resolver and the dynamic provider for kdap', () => {
    const context = activate();
    assert.deepEqual(rec.factories.map((f) => f.type), ['kdap']);
    assert.deepEqual(rec.providers.map((p) => [p.type, p.trigger]), [['kdap', undefined], ['kdap', TriggerKind.Dynamic]]);
    assert.equal(context.subscriptions.length, 3);
  });

  test('the adapter is `kdap dap` from kdap.path', () => {
    activate();
    const d = factory().createDebugAdapterDescriptor(session);
    assert.ok(d instanceof DebugAdapterExecutable);
    assert.equal(d.command, kdap);
    assert.deepEqual(d.args, ['dap']);
  });

  test('kdap.logFile and kdap.logLevel reach the adapter command line', () => {
    rec.settings['kdap.logFile'] = '/tmp/kdap.log';
    rec.settings['kdap.logLevel'] = 'debug';
    activate();
    assert.deepEqual(factory().createDebugAdapterDescriptor(session).args, ['dap', '--log-file', '/tmp/kdap.log', '--log-level', 'debug']);
  });

  test('kdap from PATH when kdap.path is empty', () => {
    rec.settings['kdap.path'] = '';
    const oldPath = process.env.PATH;
    process.env.PATH = dir;
    try {
      activate();
      assert.equal(factory().createDebugAdapterDescriptor(session).command, path.join(dir, 'kdap'));
    } finally {
      process.env.PATH = oldPath;
    }
  });

  test('no kdap: the factory fails with a message naming kdap.path', () => {
    rec.settings['kdap.path'] = '/nonexistent/kdap';
    activate();
    assert.throws(() => factory().createDebugAdapterDescriptor(session), /"kdap\.path"/);
  });

  test('resolve fills localRoot from the folder, else the first workspace folder', () => {
    activate();
    const config = { type: 'kdap', request: 'launch', name: 's', target: 'static-pod/kube-scheduler' };
    const folder = { uri: { fsPath: '/ws/other' }, name: 'other', index: 1 };
    assert.deepEqual(resolver().resolveDebugConfiguration(folder, config), { ...config, localRoot: '/ws/other' });
    assert.equal(resolver().resolveDebugConfiguration(undefined, config).localRoot, '/ws/kubernetes');
    assert.deepEqual(rec.errors, []);
  });

  test('resolve reports a missing target and component and opens launch.json', () => {
    activate();
    const result = resolver().resolveDebugConfiguration(undefined, { type: 'kdap', request: 'launch', name: 'mine' });
    assert.equal(result, null);
    assert.equal(rec.errors.length, 1);
    assert.match(rec.errors[0], /"mine" has no "target" and no "component"/);
  });

  test('resolve accepts component and keeps an attach request', () => {
    activate();
    const byName = { type: 'kdap', request: 'launch', name: 'c', component: 'kube-scheduler' };
    assert.deepEqual(resolver().resolveDebugConfiguration(undefined, byName), { ...byName, localRoot: '/ws/kubernetes' });
    const attach = { type: 'kdap', request: 'attach', name: 'p', target: 'process/my-controller' };
    assert.equal(resolver().resolveDebugConfiguration(undefined, attach).request, 'attach');
    assert.deepEqual(rec.errors, []);
  });

  test('resolve of an empty configuration opens launch.json with a hint', () => {
    activate();
    assert.equal(resolver().resolveDebugConfiguration(undefined, {}), null);
    assert.match(rec.infos[0], /launch\.json/);
  });

  test('resolve without kdap stops the launch, names kdap.path and offers to open the setting', async () => {
    rec.settings['kdap.path'] = '/nonexistent/kdap';
    rec.errorChoice = 'Open Settings';
    activate();
    const result = resolver().resolveDebugConfiguration(undefined, { type: 'kdap', request: 'launch', name: 's', target: 'exec' });
    assert.equal(result, undefined);
    assert.match(rec.errors[0], /"kdap\.path"/);
    await flush();
    assert.deepEqual(rec.commands, [['workbench.action.openSettings', 'kdap.path']]);
  });

  test('dynamic configurations: asks for the node, runs kdap ls --json --host, offers each component', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'ls-'));
    rec.settings['kdap.path'] = fakeKdapLs(d, '["static-pod/kube-scheduler", {"kind": "systemd", "name": "kubelet"}]');
    rec.launchConfigurations = [{ type: 'go', host: 'nope' }, { type: 'kdap', host: 'root@node-7' }];
    rec.inputAnswer = 'root@node-1';
    activate();
    const configs = await dynamic().provideDebugConfigurations(undefined);
    assert.equal(rec.inputBoxes[0].value, 'root@node-7', 'the input box starts with the host of launch.json');
    assert.deepEqual(readArgv(d), ['ls', '--json', '--host', 'root@node-1']);
    assert.deepEqual(configs.map((c: any) => [c.type, c.request, c.target, c.host]), [
      ['kdap', 'launch', 'static-pod/kube-scheduler', 'root@node-1'],
      ['kdap', 'launch', 'systemd/kubelet', 'root@node-1'],
    ]);
    assert.deepEqual(rec.errors, []);
    // the next time, the last host is offered
    await dynamic().provideDebugConfigurations(undefined);
    assert.equal(rec.inputBoxes[1].value, 'root@node-1');
  });

  test('dynamic configurations from what kdap ls --json prints: attach for processes, no debug info last', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'shape-'));
    rec.settings['kdap.path'] = fakeKdapLs(d, LS_JSON);
    rec.inputAnswer = 'root@node-1';
    activate();
    const configs = await dynamic().provideDebugConfigurations(undefined);
    assert.deepEqual(configs.map((c: any) => [c.request, c.target, c.name]), [
      ['launch', 'systemd/kubelet.service', 'kdap: kubelet.service on root@node-1'],
      ['launch', 'daemonset/kube-system/kube-proxy', 'kdap: kube-system/kube-proxy on root@node-1'],
      ['attach', 'pid/4242', 'kdap: my-controller (pid 4242) on root@node-1'],
      ['launch', 'static-pod/kube-scheduler', 'kdap: kube-scheduler on root@node-1 (no debug info)'],
      ['attach', 'process/cloud-agent', 'kdap: cloud-agent on root@node-1 (no debug info)'],
    ]);
    assert.deepEqual(rec.errors, []);
    // The resolver keeps the attach request of a listed process.
    const resolved = resolver().resolveDebugConfiguration(undefined, configs[2]);
    assert.equal(resolved.request, 'attach');
  });

  test('dynamic configurations: an empty host lists this machine (no --host)', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'local-'));
    rec.settings['kdap.path'] = fakeKdapLs(d, '[]');
    rec.inputAnswer = '';
    activate();
    assert.deepEqual(await dynamic().provideDebugConfigurations(undefined), []);
    assert.deepEqual(readArgv(d), ['ls', '--json']);
    assert.match(rec.infos[0], /no components .* on this machine/);
  });

  test('dynamic configurations: a kdap without ls gives a message, not an exception', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'old-'));
    rec.settings['kdap.path'] = oldKdap(d);
    rec.inputAnswer = 'root@node-1';
    activate();
    assert.deepEqual(await dynamic().provideDebugConfigurations(undefined), []);
    assert.equal(rec.errors.length, 1);
    assert.match(rec.errors[0], /cannot list components yet/);
  });

  test('dynamic configurations: Escape in the input box runs nothing', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'esc-'));
    rec.settings['kdap.path'] = fakeKdapLs(d, '[]');
    rec.inputAnswer = undefined;
    activate();
    assert.deepEqual(await dynamic().provideDebugConfigurations(undefined), []);
    assert.ok(!fs.existsSync(path.join(d, 'argv')));
  });

  test('dynamic configurations without kdap name kdap.path', async () => {
    rec.settings['kdap.path'] = '/nonexistent/kdap';
    activate();
    assert.deepEqual(await dynamic().provideDebugConfigurations(undefined), []);
    assert.match(rec.errors[0], /"kdap\.path"/);
    assert.equal(rec.inputBoxes.length, 0);
  });
});
