// Paths the tests share. Compiled to out-test/test/, so the extension folder is two levels up.

import * as path from 'path';

export const EXT_ROOT = path.resolve(__dirname, '..', '..');
export const REPO_ROOT = path.resolve(EXT_ROOT, '..');
export const LAUNCH_CONFIG_CPP = path.join(REPO_ROOT, 'bridge', 'config', 'launch_config.cpp');
export const LAUNCH_CONFIG_H = path.join(REPO_ROOT, 'bridge', 'config', 'launch_config.h');

/** KDAP_BIN, else <repo>/build/bin/kdap (relative values are taken from the extension folder). */
export function kdapBin(): string {
  return path.resolve(EXT_ROOT, process.env.KDAP_BIN || path.join('..', 'build', 'bin', 'kdap'));
}
