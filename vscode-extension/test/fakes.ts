// Small executables for tests: fake kdap binaries written as shell scripts in a temp dir.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export function tempDir(prefix = 'kdap-vscode-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes an executable /bin/sh script and returns its path. */
export function script(dir: string, name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

/** A fake kdap whose `ls --json` prints `json` and records its arguments in <dir>/argv. */
export function fakeKdapLs(dir: string, json: string): string {
  const out = path.join(dir, 'stdout.json');
  fs.writeFileSync(out, json);
  return script(dir, 'kdap', `printf '%s\\n' "$@" > '${path.join(dir, 'argv')}'\ncat '${out}'`);
}

/** A fake kdap that is too old for `ls`: what kdap without the subcommand says. */
export function oldKdap(dir: string): string {
  return script(
    dir,
    'kdap',
    `echo "kdap: unknown command $1" >&2\necho "usage: kdap dap [--log-file FILE] [--log-level trace|debug|info|warn|error]" >&2\nexit 2`,
  );
}

export function readArgv(dir: string): string[] {
  return fs.readFileSync(path.join(dir, 'argv'), 'utf8').split('\n').filter((l) => l !== '');
}

/**
 * `kdap ls --json` output in the shape kdap prints (bridge/cli/ls_command.cpp): a unit, a static pod without debug
 * info, a DaemonSet pod whose binary kdap could not judge, and two Go processes (one as pid/<pid>, which kdap
 * writes when several processes share a name).
 */
export const LS_JSON = JSON.stringify(
  {
    node: 'node-1',
    components: [
      {
        target: 'systemd/kubelet.service',
        kind: 'systemd',
        name: 'kubelet.service',
        state: 'active',
        source: '/usr/lib/systemd/system/kubelet.service',
        program: '/usr/bin/kubelet',
        description: 'active (pid 123)',
        detail: '/usr/bin/kubelet — debug info, -N -l, go1.26.8',
        pid: 123,
        debugInfo: true,
        optimizationsDisabled: true,
        goVersion: 'go1.26.8',
      },
      {
        target: 'static-pod/kube-scheduler',
        kind: 'static-pod',
        name: 'kube-scheduler',
        state: 'running',
        source: '/etc/kubernetes/manifests/kube-scheduler.yaml',
        program: '/usr/local/bin/kube-scheduler',
        description: 'running (pid 812)',
        detail: '/usr/local/bin/kube-scheduler — no debug info (built with -s -w), go1.26.8',
        pid: 812,
        debugInfo: false,
        optimizationsDisabled: null,
        goVersion: 'go1.26.8',
      },
      {
        target: 'daemonset/kube-system/kube-proxy',
        kind: 'daemonset',
        name: 'kube-proxy',
        namespace: 'kube-system',
        state: 'running',
        source: 'DaemonSet kube-system/kube-proxy',
        program: '/usr/local/bin/kube-proxy',
        description: 'running (pid 2201)',
        detail: '',
        pid: 2201,
        debugInfo: null,
        optimizationsDisabled: null,
        goVersion: '',
        note: 'cannot read /proc/2201/exe: permission denied',
      },
      {
        target: 'pid/4242',
        kind: 'process',
        name: 'my-controller',
        state: 'running',
        source: 'process',
        program: '/opt/debug/my-controller',
        description: 'running (pid 4242)',
        detail: '/opt/debug/my-controller — debug info, -N -l, go1.26.8',
        pid: 4242,
        debugInfo: true,
        optimizationsDisabled: true,
        goVersion: 'go1.26.8',
      },
      {
        target: 'process/cloud-agent',
        kind: 'process',
        name: 'cloud-agent',
        state: 'running',
        source: 'process',
        program: '/usr/sbin/cloud-agent',
        description: 'running (pid 977)',
        detail: '/usr/sbin/cloud-agent — no debug info (built with -s -w), go1.25.3',
        pid: 977,
        debugInfo: false,
        optimizationsDisabled: null,
        goVersion: 'go1.25.3',
      },
    ],
    notes: ['cannot read /proc/2201/exe: permission denied'],
  },
  null,
  2,
);
