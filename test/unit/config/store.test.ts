import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupTempFiles, lkgPathFor, loadConfig, saveConfig } from '../../../firmware/config/store.ts';
import { ConfigFileError } from '../../../firmware/config/errors.ts';
import { exampleConfig } from './fixtures.ts';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-config-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function rejects(p: Promise<unknown>, check: (e: ConfigFileError) => void): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ConfigFileError, `expected ConfigFileError, got ${e}`);
    check(e);
    return;
  }
  assert.fail('expected a ConfigFileError');
}

test('save writes 0600 atomically and load reads it back', () => withDir(async (dir) => {
  const path = join(dir, 'outpost.json');
  const r = await saveConfig(path, exampleConfig());
  assert.equal(r.lkgUpdated, false);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(dir), ['outpost.json'], 'no temp files are left behind');
  const loaded = await loadConfig(path);
  assert.equal(loaded.source, 'main');
  assert.equal(loaded.fallback, undefined);
  assert.deepEqual(loaded.raw, exampleConfig());
  assert.equal(loaded.config.tunnel.dpdSeconds, 30);
  assert.deepEqual(loaded.warnings, []);
}));

test('saving a new config keeps the previous valid one as the last-known-good copy', () => withDir(async (dir) => {
  const path = join(dir, 'outpost.json');
  const first = exampleConfig();
  const second = exampleConfig();
  second.tunnel.remoteSubnets = ['10.9.0.0/16'];
  await saveConfig(path, first);
  const r = await saveConfig(path, second);
  assert.equal(r.lkgUpdated, true);
  assert.deepEqual(JSON.parse(await readFile(lkgPathFor(path), 'utf8')), first);
  assert.equal((await stat(lkgPathFor(path))).mode & 0o777, 0o600);
  assert.deepEqual((await loadConfig(path)).config.tunnel.remoteSubnets, ['10.9.0.0/16']);
  // Saving the same content again does not overwrite the previous generation.
  assert.equal((await saveConfig(path, second)).lkgUpdated, false);
  assert.deepEqual(JSON.parse(await readFile(lkgPathFor(path), 'utf8')), first);
}));

test('an invalid config is refused and nothing is written', () => withDir(async (dir) => {
  const path = join(dir, 'outpost.json');
  const bad = exampleConfig();
  bad.tunnel.dpdSeconds = -1;
  await rejects(saveConfig(path, bad), (e) => {
    assert.equal(e.kind, 'invalid');
    assert.equal(e.issues[0]?.path, 'tunnel.dpdSeconds');
  });
  assert.deepEqual(await readdir(dir), []);
}));

test('corrupt main file falls back to the last-known-good copy, and says why', () => withDir(async (dir) => {
  const path = join(dir, 'outpost.json');
  await saveConfig(path, exampleConfig());
  const second = exampleConfig();
  second.device.id = 'branch-043';
  await saveConfig(path, second);
  await writeFile(path, '{\n  "device": { "id": "branch-043" ,\n', { mode: 0o600 }); // truncated by a bad SD card
  const loaded = await loadConfig(path);
  assert.equal(loaded.source, 'lkg');
  assert.equal(loaded.path, lkgPathFor(path));
  assert.equal(loaded.config.device.id, 'branch-042');
  assert.ok(loaded.fallback instanceof ConfigFileError);
  assert.equal(loaded.fallback.kind, 'parse');
  assert.match(loaded.fallback.message, /is not valid JSON: line 3, column 1: /);
}));

test('an invalid (but well-formed) main file also falls back', () => withDir(async (dir) => {
  const path = join(dir, 'outpost.json');
  await saveConfig(path, exampleConfig());
  await saveConfig(path, { ...exampleConfig(), device: { id: 'branch-099' } });
  const bad = exampleConfig();
  bad.tunnel.remotee = 'x';
  await writeFile(path, JSON.stringify(bad), { mode: 0o600 });
  const loaded = await loadConfig(path);
  assert.equal(loaded.source, 'lkg');
  assert.equal(loaded.fallback?.kind, 'invalid');
  assert.equal(loaded.fallback?.issues[0]?.path, 'tunnel.remotee');
}));

test('parse errors give line and column; with no usable LKG the main error is thrown', () => withDir(async (dir) => {
  const path = join(dir, 'outpost.json');
  await writeFile(path, '{\n  "device": { "id": "x" }\n  "lan": {}\n}\n', { mode: 0o600 });
  await rejects(loadConfig(path), (e) => {
    assert.equal(e.kind, 'parse');
    assert.equal(e.path, path);
    assert.match(e.reason, /^is not valid JSON: line 3, column 3: missing comma between fields; there is no last-known-good copy$/);
  });
  await writeFile(lkgPathFor(path), 'garbage', { mode: 0o600 });
  await rejects(loadConfig(path), (e) => {
    assert.match(e.reason, /the last-known-good copy .*outpost\.json\.lkg is not usable either \(is not valid JSON: line 1, column 1/);
  });
  await rejects(loadConfig(join(dir, 'nope.json')), (e) => assert.equal(e.kind, 'missing'));
}));

test('a torn write (temp file left behind) is ignored and cleaned up', () => withDir(async (dir) => {
  const path = join(dir, 'outpost.json');
  await saveConfig(path, exampleConfig());
  // A crash between writing the temp file and the rename: pid 2^31-1 cannot be running.
  const torn = join(dir, '.outpost.json.tmp.2147483646.deadbeef');
  await writeFile(torn, '{"device": {"id": "half-writ');
  const unrelated = join(dir, '.other.json.tmp.2147483646.deadbeef');
  await writeFile(unrelated, 'x');
  const live = join(dir, `.outpost.json.tmp.${process.pid}.cafe0001`);
  await writeFile(live, 'in progress');
  const loaded = await loadConfig(path);
  assert.equal(loaded.source, 'main');
  assert.equal(loaded.config.device.id, 'branch-042');
  const left = (await readdir(dir)).sort();
  assert.deepEqual(left, ['.other.json.tmp.2147483646.deadbeef', `.outpost.json.tmp.${process.pid}.cafe0001`, 'outpost.json']);
  assert.deepEqual(await cleanupTempFiles(path), []);
}));

test('a world-readable config file is loaded with a warning', () => withDir(async (dir) => {
  const path = join(dir, 'outpost.json');
  await saveConfig(path, exampleConfig());
  await chmod(path, 0o644);
  const loaded = await loadConfig(path);
  assert.ok(loaded.warnings.some((w) => /readable by other users \(mode 0644\).*chmod 600/.test(w.message)));
  // The next save restores 0600.
  await saveConfig(path, { ...exampleConfig(), device: { id: 'branch-100' } });
  assert.equal((await stat(path)).mode & 0o777, 0o600);
}));

test('oversized and non-UTF-8 files are rejected with a reason', () => withDir(async (dir) => {
  const big = join(dir, 'big.json');
  await writeFile(big, ' '.repeat(1024 * 1024 + 1));
  await rejects(loadConfig(big), (e) => assert.equal(e.kind, 'too-large'));
  const bin = join(dir, 'bin.json');
  await writeFile(bin, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
  await rejects(loadConfig(bin), (e) => {
    assert.equal(e.kind, 'parse');
    assert.match(e.reason, /not valid UTF-8/);
  });
}));
