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
