import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, describe, test } from 'node:test';

import { LsError, componentConfig, componentConfigs, lsArgs, parseLsOutput, runKdapLs } from '../src/components';
import { LS_JSON, fakeKdapLs, oldKdap, readArgv, script, tempDir } from './fakes';
import { kdapBin } from './paths';

describe('kdap ls --json output', () => {
  test('a list of target strings', () => {
    assert.deepEqual(parseLsOutput('["static-pod/kube-scheduler", "systemd/kubelet"]\n'), [
      { target: 'static-pod/kube-scheduler' },
      { target: 'systemd/kubelet' },
    ]);
  });

  test('objects with target, or kind and name (and namespace), under "components"', () => {
    const out = JSON.stringify({
      components: [
        { target: 'static-pod/kube-apiserver', description: 'running, pid 812', program: '/usr/local/bin/kube-apiserver' },
        { kind: 'daemonset', namespace: 'kube-system', name: 'kube-proxy', detail: 'pod kube-proxy-x7' },
        { kind: 'systemd', name: 'kubelet' },
        { kind: 'exec' },
      ],
    });
    assert.deepEqual(parseLsOutput(out), [
      { target: 'static-pod/kube-apiserver', description: 'running, pid 812', program: '/usr/local/bin/kube-apiserver' },
      { target: 'daemonset/kube-system/kube-proxy', name: 'kube-proxy', detail: 'pod kube-proxy-x7' },
      { target: 'systemd/kubelet', name: 'kubelet' },
      { target: 'exec' },
    ]);
  });

  test('what kdap ls --json prints: debug info, names and the running processes', () => {
    const components = parseLsOutput(LS_JSON);
    assert.deepEqual(components, [
      {
        target: 'systemd/kubelet.service',
        name: 'kubelet.service',
        description: 'active (pid 123)',
        detail: '/usr/bin/kubelet — debug info, -N -l, go1.26.8',
        program: '/usr/bin/kubelet',
        debugInfo: true,
      },
      {
        target: 'static-pod/kube-scheduler',
        name: 'kube-scheduler',
        description: 'running (pid 812)',
        detail: '/usr/local/bin/kube-scheduler — no debug info (built with -s -w), go1.26.8',
        program: '/usr/local/bin/kube-scheduler',
        debugInfo: false,
      },
      {
        target: 'daemonset/kube-system/kube-proxy',
        name: 'kube-proxy',
        description: 'running (pid 2201)',
        program: '/usr/local/bin/kube-proxy',
      },
      {
        target: 'pid/4242',
        name: 'my-controller',
        description: 'running (pid 4242)',
        detail: '/opt/debug/my-controller — debug info, -N -l, go1.26.8',
        program: '/opt/debug/my-controller',
        debugInfo: true,
      },
      {
        target: 'process/cloud-agent',
        name: 'cloud-agent',
        description: 'running (pid 977)',
        detail: '/usr/sbin/cloud-agent — no debug info (built with -s -w), go1.25.3',
        program: '/usr/sbin/cloud-agent',
        debugInfo: false,
      },
    ]);
  });

  test('components without debug info are offered last and say so; running processes are attached to', () => {
    assert.deepEqual(
      componentConfigs(parseLsOutput(LS_JSON), 'root@n1').map((c) => [c.request, c.target, c.name]),
      [
        ['launch', 'systemd/kubelet.service', 'kdap: kubelet.service on root@n1'],
        ['launch', 'daemonset/kube-system/kube-proxy', 'kdap: kube-system/kube-proxy on root@n1'],
        ['attach', 'pid/4242', 'kdap: my-controller (pid 4242) on root@n1'],
        ['launch', 'static-pod/kube-scheduler', 'kdap: kube-scheduler on root@n1 (no debug info)'],
        ['attach', 'process/cloud-agent', 'kdap: cloud-agent on root@n1 (no debug info)'],
      ],
    );
    assert.deepEqual(componentConfigs([]), []);
  });

  test('a pid target without a name is still named by its pid', () => {
    assert.equal(componentConfig({ target: 'pid/17' }).name, 'kdap: pid 17 on this machine');
  });

  test('skips entries that are not kdap targets, and duplicates', () => {
    const out = JSON.stringify(['deployment/x', 42, null, { name: 'no-kind' }, 'static-pod/a', 'static-pod/a', '']);
    assert.deepEqual(parseLsOutput(out), [{ target: 'static-pod/a' }]);
    assert.deepEqual(parseLsOutput('[]'), []);
  });

  test('output that is not JSON of that shape is an LsError that quotes it', () => {
    assert.throws(() => parseLsOutput(''), LsError);
    assert.throws(() => parseLsOutput('NAME  KIND\nkube-scheduler static-pod'), /did not print JSON.*NAME  KIND/);
    assert.throws(() => parseLsOutput('{"items": []}'), /neither a list/);
    assert.throws(() => parseLsOutput('"static-pod/x"'), /neither a list/);
  });

  test('argv: --host only when a host is given', () => {
    assert.deepEqual(lsArgs('root@node-1'), ['ls', '--json', '--host', 'root@node-1']);
    assert.deepEqual(lsArgs(' '), ['ls', '--json']);
    assert.deepEqual(lsArgs(), ['ls', '--json']);
  });

  test('a component becomes a launch configuration', () => {
    assert.deepEqual(componentConfig({ target: 'static-pod/kube-scheduler', description: 'x' }, 'root@n1'), {
      type: 'kdap',
      request: 'launch',
      name: 'kdap: kube-scheduler on root@n1',
      target: 'static-pod/kube-scheduler',
      host: 'root@n1',
    });
    assert.deepEqual(componentConfig({ target: 'daemonset/kube-system/kube-proxy' }, ''), {
      type: 'kdap',
      request: 'launch',
      name: 'kdap: kube-system/kube-proxy on this machine',
      target: 'daemonset/kube-system/kube-proxy',
    });
  });
});

describe('a listed component as a configuration', () => {
  test('process/ and pid/ become attach configurations: Stop then detaches and the process runs on', () => {
    assert.deepEqual(componentConfig({ target: 'process/my-controller', debugInfo: true }, 'root@n1'), {
      type: 'kdap',
      request: 'attach',
      name: 'kdap: my-controller on root@n1',
      target: 'process/my-controller',
      host: 'root@n1',
    });
    assert.equal(componentConfig({ target: 'pid/4242', name: 'my-controller' }).request, 'attach');
    for (const target of ['static-pod/kube-scheduler', 'systemd/kubelet', 'daemonset/kube-system/kube-proxy', 'exec']) {
      assert.equal(componentConfig({ target }).request, 'launch', target);
    }
  });
});

describe('running kdap ls', () => {
  const dir = tempDir();
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('runs `kdap ls --json --host HOST` and parses what it prints', async () => {
    const d = fs.mkdtempSync(`${dir}/ok-`);
    const kdap = fakeKdapLs(d, '[{"target": "static-pod/kube-scheduler"}]');
    assert.deepEqual(await runKdapLs(kdap, 'root@node-1'), [{ target: 'static-pod/kube-scheduler' }]);
    assert.deepEqual(readArgv(d), ['ls', '--json', '--host', 'root@node-1']);
  });

  test('the output of kdap ls --json as kdap prints it', async () => {
    const d = fs.mkdtempSync(`${dir}/shape-`);
    const components = await runKdapLs(fakeKdapLs(d, LS_JSON), 'root@node-1');
    assert.deepEqual(components.map((c) => [c.target, c.debugInfo]), [
      ['systemd/kubelet.service', true],
      ['static-pod/kube-scheduler', false],
      ['daemonset/kube-system/kube-proxy', undefined],
      ['pid/4242', true],
      ['process/cloud-agent', false],
    ]);
  });

  test('a kdap without `ls` gives a message that says so and what to do instead', async () => {
    const d = fs.mkdtempSync(`${dir}/old-`);
    await assert.rejects(runKdapLs(oldKdap(d), 'n1'), (e: Error) => {
      assert.ok(e instanceof LsError);
      assert.match(e.message, /cannot list components yet/);
      assert.match(e.message, /Add Configuration/);
      return true;
    });
  });

  test('a failure shows kdap\'s own last lines', async () => {
    const d = fs.mkdtempSync(`${dir}/fail-`);
    const kdap = script(d, 'kdap', 'echo "kdap: ssh: connection to 10.0.0.9:22 refused" >&2; exit 1');
    await assert.rejects(runKdapLs(kdap, 'root@10.0.0.9'), /failed \(exit 1\) on root@10\.0\.0\.9: kdap: ssh: connection to 10\.0\.0\.9:22 refused/);
  });

  test('a kdap that does not answer is stopped after the timeout', async () => {
    const d = fs.mkdtempSync(`${dir}/slow-`);
    const kdap = script(d, 'kdap', 'exec sleep 30');
    const started = Date.now();
    await assert.rejects(runKdapLs(kdap, 'n1', { timeoutMs: 300 }), /did not finish within 0\.3 s/);
    assert.ok(Date.now() - started < 10_000);
  });

  test('cancelling kills kdap', async () => {
    const d = fs.mkdtempSync(`${dir}/cancel-`);
    const kdap = script(d, 'kdap', 'exec sleep 30');
    let cancel: (() => void) | undefined;
    const run = runKdapLs(kdap, 'n1', { timeoutMs: 20_000, onCancel: (c) => (cancel = c) });
    setTimeout(() => cancel?.(), 100);
    await assert.rejects(run, /cancelled/);
  });

  test('a missing binary and non-JSON output are LsErrors', async () => {
    await assert.rejects(runKdapLs('/nonexistent/kdap'), (e: Error) => e instanceof LsError && /could not run/.test(e.message));
    const d = fs.mkdtempSync(`${dir}/text-`);
    await assert.rejects(runKdapLs(script(d, 'kdap', 'echo kube-scheduler'), undefined), /did not print JSON/);
  });

  const real = kdapBin();
  test('the real kdap binary: a component list or a clear LsError', { skip: fs.existsSync(real) ? false : `kdap binary ${real} does not exist` }, async () => {
    try {
      const components = await runKdapLs(real, undefined, { timeoutMs: 30_000 });
      assert.ok(Array.isArray(components));
    } catch (e) {
      assert.ok(e instanceof LsError, String(e));
      assert.match((e as Error).message, /^kdap: /);
    }
  });
});
