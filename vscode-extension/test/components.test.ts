import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, describe, test } from 'node:test';

import { LsError, componentConfig, lsArgs, parseLsOutput, runKdapLs } from '../src/components';
import { fakeKdapLs, oldKdap, readArgv, script, tempDir } from './fakes';
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
      { target: 'daemonset/kube-system/kube-proxy', detail: 'pod kube-proxy-x7' },
      { target: 'systemd/kubelet' },
      { target: 'exec' },
    ]);
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

describe('running kdap ls', () => {
  const dir = tempDir();
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('runs `kdap ls --json --host HOST` and parses what it prints', async () => {
    const d = fs.mkdtempSync(`${dir}/ok-`);
    const kdap = fakeKdapLs(d, '[{"target": "static-pod/kube-scheduler"}]');
    assert.deepEqual(await runKdapLs(kdap, 'root@node-1'), [{ target: 'static-pod/kube-scheduler' }]);
    assert.deepEqual(readArgv(d), ['ls', '--json', '--host', 'root@node-1']);
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
