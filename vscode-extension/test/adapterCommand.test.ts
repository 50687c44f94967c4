import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import { LOG_LEVELS, adapterArgs, adapterCommand } from '../src/adapterCommand';
import { EXT_ROOT, REPO_ROOT } from './paths';

test('the adapter is `kdap dap`', () => {
  assert.deepEqual(adapterArgs(), ['dap']);
  assert.deepEqual(adapterArgs({ logFile: '', logLevel: '' }), ['dap']);
  assert.deepEqual(adapterCommand('/usr/local/bin/kdap'), { command: '/usr/local/bin/kdap', args: ['dap'] });
});

test('kdap.logFile becomes --log-file, with ~/ expanded', () => {
  assert.deepEqual(adapterArgs({ logFile: '/tmp/kdap.log' }), ['dap', '--log-file', '/tmp/kdap.log']);
  assert.deepEqual(adapterArgs({ logFile: '~/kdap.log' }, '/home/u'), ['dap', '--log-file', '/home/u/kdap.log']);
});

test('kdap.logLevel becomes --log-level; an unknown level is refused by name', () => {
  assert.deepEqual(adapterArgs({ logFile: '/l', logLevel: 'debug' }), ['dap', '--log-file', '/l', '--log-level', 'debug']);
  assert.throws(() => adapterArgs({ logLevel: 'verbose' }), /kdap\.logLevel.*verbose/);
});

test("the kdap.logLevel setting offers exactly the levels kdap's usage text names", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(EXT_ROOT, 'package.json'), 'utf8'));
  assert.deepEqual(pkg.contributes.configuration.properties['kdap.logLevel'].enum, ['', ...LOG_LEVELS]);
  const main = fs.readFileSync(path.join(REPO_ROOT, 'bridge', 'cli', 'main.cpp'), 'utf8');
  const m = /--log-level ([a-z|]+)/.exec(main);
  assert.ok(m, 'bridge/cli/main.cpp states the log levels in its usage text');
  assert.deepEqual(m[1].split('|'), [...LOG_LEVELS]);
});
