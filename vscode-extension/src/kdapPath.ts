// Where the kdap binary is: the `kdap.path` setting, else `kdap` on PATH. No vscode import.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const PATH_SETTING = 'kdap.path';

export type KdapPathResult = { ok: true; path: string } | { ok: false; message: string };

export interface LookupOptions {
  /** Environment whose PATH is searched (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Home directory for a leading `~/` (default os.homedir()). */
  home?: string;
  /** Test seam: whether a path is an executable regular file. */
  isExecutable?: (file: string) => boolean;
}

export function isExecutableFile(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `~` and `~/x` become paths in home; anything else is returned as is. */
export function expandHome(p: string, home: string = os.homedir()): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return path.join(home, p.slice(2));
  return p;
}

/** The first executable `name` in the PATH of env, or undefined. Empty PATH entries mean the current directory. */
export function findOnPath(name: string, options: LookupOptions = {}): string | undefined {
  const env = options.env ?? process.env;
  const isExec = options.isExecutable ?? isExecutableFile;
  const pathVar = env.PATH ?? env.Path ?? '';
  const exts = process.platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
  for (const dir of pathVar.split(path.delimiter)) {
    for (const ext of exts) {
      const candidate = path.resolve(dir || '.', name + ext);
      if (isExec(candidate)) return candidate;
    }
  }
  return undefined;
}

/**
 * The kdap binary to run. `setting` is the value of `kdap.path`: empty means "kdap on PATH"; a bare name is
 * looked up on PATH too; a path (with `/`, or starting with `~`) must be an executable file.
 */
export function resolveKdapPath(setting: string | undefined, options: LookupOptions = {}): KdapPathResult {
  const isExec = options.isExecutable ?? isExecutableFile;
  const value = (setting ?? '').trim();
  if (value === '') {
    const found = findOnPath('kdap', options);
    if (found) return { ok: true, path: found };
    return {
      ok: false,
      message:
        'kdap: the kdap binary was not found on PATH. Install kdap (build it with ' +
        '`cmake -S . -B build && cmake --build build`, then put build/bin/kdap on PATH) or set the setting ' +
        `"${PATH_SETTING}" to its absolute path.`,
    };
  }
  if (!value.includes('/') && !value.includes('\\') && !value.startsWith('~')) {
    const found = findOnPath(value, options);
    if (found) return { ok: true, path: found };
    return {
      ok: false,
      message: `kdap: the setting "${PATH_SETTING}" is "${value}", which was not found on PATH. Set "${PATH_SETTING}" to the absolute path of the kdap binary.`,
    };
  }
  const expanded = path.resolve(expandHome(value, options.home));
  if (isExec(expanded)) return { ok: true, path: expanded };
  return {
    ok: false,
    message: `kdap: the setting "${PATH_SETTING}" is "${value}", but ${expanded} is not an executable file. Set "${PATH_SETTING}" to the kdap binary, or clear it to use kdap from PATH.`,
  };
}
