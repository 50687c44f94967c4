import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';

import { expandHome, findOnPath, isExecutableFile, resolveKdapPath } from '../src/kdapPath';
import { script, tempDir } from './fakes';

describe('kdap binary lookup', () => {
  const root = tempDir();
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  const a = path.join(root, 'a');
  const b = path.join(root, 'b');
  const c = path.join(root, 'c');
  for (const d of [a, b, c]) fs.mkdirSync(d);
  fs.writeFileSync(path.join(a, 'kdap'), 'not executable', { mode: 0o644 });
  fs.mkdirSync(path.join(b, 'kdap')); // a directory is not a binary
  const good = script(c, 'kdap', 'exit 0');
  const env = { PATH: [a, b, c].join(path.delimiter) };

  test('finds the first executable regular file on PATH', () => {
    assert.equal(findOnPath('kdap', { env }), good);
    assert.equal(findOnPath('kdap', { env: { PATH: [a, b].join(path.delimiter) } }), undefined);
    assert.equal(findOnPath('kdap', { env: {} }), undefined);
    assert.ok(isExecutableFile(good));
    assert.ok(!isExecutableFile(path.join(a, 'kdap')));
    assert.ok(!isExecutableFile(path.join(b, 'kdap')));
  });

  test('an empty setting means kdap on PATH', () => {
    assert.deepEqual(resolveKdapPath('', { env }), { ok: true, path: good });
    assert.deepEqual(resolveKdapPath(undefined, { env }), { ok: true, path: good });
    assert.deepEqual(resolveKdapPath('  ', { env }), { ok: true, path: good });
  });

  test('not on PATH: the message names the kdap.path setting', () => {
    const r = resolveKdapPath('', { env: { PATH: a } });
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.message.includes('"kdap.path"'), JSON.stringify(r));
    assert.ok(!r.ok && r.message.includes('PATH'));
  });

  test('a path in the setting must be an executable file', () => {
    assert.deepEqual(resolveKdapPath(good, { env: {} }), { ok: true, path: good });
    const r = resolveKdapPath(path.join(a, 'kdap'), { env });
    assert.ok(!r.ok && r.message.includes('"kdap.path"') && r.message.includes('not an executable file'), JSON.stringify(r));
    const missing = resolveKdapPath('/nonexistent/kdap', { env });
    assert.ok(!missing.ok && missing.message.includes('/nonexistent/kdap'));
  });

  test('~/ in the setting is the home directory', () => {
    assert.deepEqual(resolveKdapPath('~/c/kdap', { env: {}, home: root }), { ok: true, path: good });
    assert.equal(expandHome('~', '/h'), '/h');
    assert.equal(expandHome('~/x/y', '/h'), '/h/x/y');
    assert.equal(expandHome('/x/~/y', '/h'), '/x/~/y');
  });

  test('a bare name in the setting is looked up on PATH', () => {
    script(c, 'kdap-dev', 'exit 0');
    assert.deepEqual(resolveKdapPath('kdap-dev', { env }), { ok: true, path: path.join(c, 'kdap-dev') });
    const r = resolveKdapPath('kdap-nope', { env });
    assert.ok(!r.ok && r.message.includes('kdap-nope') && r.message.includes('"kdap.path"'));
  });
});
