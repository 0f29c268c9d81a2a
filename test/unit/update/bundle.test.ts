// Release bundles: the deterministic tar writer read back by the strict reader (and by GNU tar),
// signed manifests verified, and every way of tampering refused with a clear message; A/B
// installation with switch, health check and rollback in a scratch root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { TarError, TarReader, writeTar, type TarFile } from '../../../firmware/update/tar.ts';
import {
  BundleError, encodeManifest, keyIdOf, rawPublicKey, sha256Hex, signManifest, type Manifest,
} from '../../../firmware/update/manifest.ts';
import { readBundle } from '../../../firmware/update/bundle.ts';
import { activeSlot, installUpdate, judgeStatus } from '../../../firmware/update/slots.ts';
import { runUpdateCommand } from '../../../firmware/update/cli.ts';

const keys = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const RAW = rawPublicKey(keys.publicKey);

function scratch(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'outpost-update-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const FILES: TarFile[] = [
  { path: 'bin/outpost', data: Buffer.from('#!/bin/sh\necho outpost\n'), mode: 0o755 },
  { path: 'lib/outpost.mjs', data: Buffer.from('console.log(1)\n'.repeat(100)), mode: 0o644 },
  { path: `lib/node_modules/${'x'.repeat(90)}/${'y'.repeat(60)}.node`, data: Buffer.alloc(1025, 7), mode: 0o644 },
  { path: 'empty', data: Buffer.alloc(0), mode: 0o644 },
];

function manifestFor(files: TarFile[], version = '9.9.9'): Manifest {
  return {
    format: 1, name: 'outpost', version, platform: 'linux', arch: process.arch === 'arm64' ? 'arm64' : 'x64', node: '20.20.2',
    commit: 'c0ffee'.repeat(6) + 'abcd', sourceDateEpoch: 1_700_000_000, keyId: keyIdOf(RAW),
    files: files.map((f) => ({ path: f.path, size: f.data.length, mode: f.mode, sha256: sha256Hex(f.data) })),
  };
}

/** A bundle; `tamper` may change the entries after signing. */
function bundle(o: { files?: TarFile[]; key?: typeof keys.privateKey; tamper?: (entries: TarFile[]) => TarFile[]; gzip?: boolean; version?: string } = {}): Buffer {
  const files = o.files ?? FILES;
  const mbytes = encodeManifest(manifestFor(files, o.version));
  let entries: TarFile[] = [
    { path: 'manifest.json', data: mbytes, mode: 0o644 },
    { path: 'manifest.sig', data: signManifest(mbytes, o.key ?? keys.privateKey), mode: 0o644 },
    ...[...files].sort((a, b) => (a.path < b.path ? -1 : 1)),
  ];
  if (o.tamper) entries = o.tamper(entries);
  const tar = writeTar(entries, 1_700_000_000);
  return o.gzip === false ? tar : gzipSync(tar, { level: 9 });
}

test('tar: the writer is deterministic and its output reads back (ours and GNU tar)', (t) => {
  const a = writeTar(FILES, 1_700_000_000);
  assert.deepEqual(a, writeTar(FILES, 1_700_000_000));
  assert.equal(a.length % 512, 0);
  const got: Record<string, Buffer[]> = {};
  const r = new TarReader((h) => { got[h.path] = []; return { write: (c) => got[h.path]!.push(Buffer.from(c)), end: () => {} }; });
  for (let i = 0; i < a.length; i += 333) r.push(a.subarray(i, i + 333)); // odd chunking
  r.end();
  for (const f of FILES) assert.deepEqual(Buffer.concat(got[f.path]!), Buffer.from(f.data), f.path);
  const d = scratch(t);
  writeFileSync(join(d, 'x.tar'), a);
  const listing = execFileSync('tar', ['-tvf', join(d, 'x.tar')], { encoding: 'utf8' });
  assert.match(listing, /-rwxr-xr-x 0\/0 +23 2023-11-14 \d\d:\d\d bin\/outpost/);
  assert.ok(listing.includes(FILES[2]!.path), 'the long path via the ustar prefix');
});

test('tar: the reader refuses links, traversal, bad checksums, truncation, trailing garbage', () => {
  const read = (b: Buffer) => { const r = new TarReader(() => ({ write() {}, end() {} })); r.push(b); r.end(); };
  const good = writeTar([{ path: 'a', data: Buffer.from('hello'), mode: 0o644 }], 0);
  const patched = (f: (h: Buffer) => void) => {
    const b = Buffer.from(good);
    f(b);
    let sum = 0;
    for (let j = 0; j < 512; j++) sum += j >= 148 && j < 156 ? 32 : b[j]!;
    b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
    return b;
  };
  assert.throws(() => read(patched((h) => { h[156] = '2'.charCodeAt(0); })), /not a regular file/);
  assert.throws(() => read(patched((h) => { h.fill(0, 0, 100); h.write('../etc/passwd', 0); })), /has an empty, "\." or "\.\." component/);
  assert.throws(() => read(patched((h) => { h.fill(0, 0, 100); h.write('/etc/passwd', 0); })), /absolute/);
  const bad = Buffer.from(good); bad[0] = 'b'.charCodeAt(0);
  assert.throws(() => read(bad), /checksum mismatch/);
  assert.throws(() => read(good.subarray(0, 700)), /truncated|end-of-archive/);
  assert.throws(() => read(Buffer.concat([good, Buffer.from('junk')])), /data after the end/);
  assert.throws(() => writeTar([{ path: 'a/../b', data: Buffer.alloc(0), mode: 0o644 }], 0), TarError);
  const limited = new TarReader(() => ({ write() {}, end() {} }), { maxEntries: 10, maxEntryBytes: 4, maxTotalBytes: 100 });
  assert.throws(() => limited.push(good), /over the limit/);
});

test('bundle: a good one verifies and extracts with modes; gzip or plain tar', async (t) => {
  const d = scratch(t);
  for (const gzip of [true, false]) {
    const f = join(d, `good-${gzip}.bundle`);
    writeFileSync(f, bundle({ gzip }));
    const into = join(d, `out-${gzip}`);
    const m = await readBundle(f, { publicKey: keys.publicKey, into });
    assert.equal(m.version, '9.9.9');
    assert.equal(readFileSync(join(into, 'bin/outpost'), 'utf8'), '#!/bin/sh\necho outpost\n');
    assert.equal(statSync(join(into, 'bin/outpost')).mode & 0o777, 0o755);
    assert.equal(statSync(join(into, 'lib/outpost.mjs')).mode & 0o777, 0o644);
    assert.equal(existsSync(join(into, 'manifest.json')), false, 'the manifest itself is not installed');
  }
});

test('bundle: tampering of every kind is refused, naming the problem', async (t) => {
  const d = scratch(t);
  const refuse = async (b: Buffer, re: RegExp) => {
    const f = join(d, 'b');
    writeFileSync(f, b);
    await assert.rejects(readBundle(f, { publicKey: keys.publicKey }), (e: unknown) => e instanceof BundleError && re.test((e as Error).message));
  };
  await refuse(bundle({ key: other.privateKey }), /bad signature: manifest\.sig does not verify with the release key built into this firmware/);
  await refuse(bundle({ tamper: (es) => es.map((e) => (e.path === 'lib/outpost.mjs' ? { ...e, data: Buffer.from(String(e.data).replace('1', '2')) } : e)) }),
    /lib\/outpost\.mjs: SHA-256 does not match the signed manifest/);
  await refuse(bundle({ tamper: (es) => es.map((e) => (e.path === 'bin/outpost' ? { ...e, data: Buffer.concat([Buffer.from(e.data), Buffer.from('x')]) } : e)) }),
    /bin\/outpost: 24 bytes, the signed manifest says 23/);
  await refuse(bundle({ tamper: (es) => [...es, { path: 'zz-extra', data: Buffer.from('evil'), mode: 0o755 }] }), /zz-extra: not in the signed manifest/);
  await refuse(bundle({ tamper: (es) => es.filter((e) => e.path !== 'empty') }), /missing from the bundle: empty/);
  await refuse(bundle({ tamper: (es) => es.map((e) => (e.path === 'manifest.json' ? { ...e, data: Buffer.from(String(e.data).replace('9.9.9', '9.9.8')) } : e)) }), /bad signature/);
  await refuse(bundle({ tamper: (es) => es.filter((e) => e.path !== 'manifest.sig') }), /manifest\.sig must follow/);
  await refuse(bundle({ tamper: (es) => es.map((e) => (e.path === 'manifest.sig' ? { ...e, data: Buffer.from('not base64') } : e)) }), /not an Ed25519 signature/);
  await refuse(bundle({ tamper: (es) => [es[2]!, es[0]!, es[1]!, ...es.slice(3)] }), /manifest\.json must come first/);
  await refuse(gzipSync(Buffer.from('hello')), /not a valid bundle/);
  await refuse(Buffer.from([0x1f, 0x8b, 1, 2, 3, 4]), /not a valid gzip file/);
  const full = bundle();
  await refuse(full.subarray(0, full.length - 40), /gzip|truncated/);
});

test('judgeStatus: tunnel up and MQTT connected', () => {
  const st = (state: string, broker: string | null, connected: boolean) => JSON.stringify({ tunnel: { state, lastError: null }, health: { broker, connected } });
  assert.equal(judgeStatus(st('up', 'mqtt://b', true)).ok, true);
  assert.deepEqual(judgeStatus(st('up', 'mqtt://b', false)), { ok: false, detail: 'tunnel up, MQTT not connected' });
  assert.equal(judgeStatus(st('connecting', 'mqtt://b', true)).ok, false);
  assert.equal(judgeStatus(st('up', null, false)).ok, true, 'no broker configured: the tunnel decides');
  assert.equal(judgeStatus('garbage').ok, false);
});

test('A/B install: first install, update, rollback when unhealthy, refusal leaves everything as it was', async (t) => {
  const root = scratch(t);
  const write = (name: string, b: Buffer) => { const f = join(root, '..', `${name}-${process.pid}.bundle`); writeFileSync(f, b); t.after(() => rmSync(f, { force: true })); return f; };
  const v1 = write('v1', bundle({ version: '1.0.0' }));
  const v2 = write('v2', bundle({ version: '2.0.0' }));
  const restarts: string[] = [];
  const base = { root, publicKey: keys.publicKey, deadlineMs: 50, probeIntervalMs: 10, restart: async () => { restarts.push(activeSlot(root)!); } };
  const healthy = async () => JSON.stringify({ tunnel: { state: 'up' }, health: { broker: 'mqtt://x', connected: true } });
  const sick = async () => JSON.stringify({ tunnel: { state: 'connecting', lastError: { message: 'AUTHENTICATION_FAILED' } }, health: { broker: 'mqtt://x', connected: true } });

  const r1 = await installUpdate(v1, { ...base, probe: healthy });
  assert.equal(r1.outcome, 'installed');
  assert.equal(readlinkSync(join(root, 'current')), 'a');
  const r2 = await installUpdate(v2, { ...base, probe: healthy });
  assert.equal(r2.outcome, 'installed');
  assert.equal(activeSlot(root), 'b');
  assert.deepEqual(restarts, ['a', 'b']);

  const lines: string[] = [];
  const r3 = await installUpdate(v1, { ...base, probe: sick, say: (s) => lines.push(s) });
  assert.equal(r3.outcome, 'rolled-back');
  assert.equal(r3.detail, 'tunnel connecting (AUTHENTICATION_FAILED)');
  assert.equal(activeSlot(root), 'b', 'back on the version that worked');
  assert.deepEqual(restarts, ['a', 'b', 'a', 'b'], 'restarted on the new one, then on the old one');
  assert.ok(lines.some((l) => /rolling back to b/.test(l)));

  const bad = write('bad', bundle({ key: other.privateKey }));
  await assert.rejects(installUpdate(bad, { ...base, probe: healthy }), /bad signature/);
  assert.equal(activeSlot(root), 'b');
  assert.equal(existsSync(join(root, '.a.new')), false, 'staging removed');
  assert.deepEqual(restarts.length, 4, 'no restart for a refused bundle');
});

test('outpost update CLI: refuses a bad signature (exit 1), rolls back with a failing health command (exit 3)', async (t) => {
  const root = scratch(t);
  mkdirSync(join(root, 'x'));
  const out: string[] = [], err: string[] = [];
  const io = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } };
  const f = (b: Buffer, n: string) => { const p = join(root, 'x', n); writeFileSync(p, b); return p; };
  const good = f(bundle({ version: '1.0.0' }), 'good');
  assert.equal(await runUpdateCommand(['verify-bundle', good], io, RAW), 0);
  assert.match(out.join(''), /good signature .* 4 files intact: outpost 1\.0\.0/);
  assert.equal(await runUpdateCommand(['update', good, '--root', root, '--no-restart', '--health-cmd', 'echo \'{"tunnel":{"state":"up"},"health":{"broker":null}}\''], io, RAW), 0);
  assert.equal(await runUpdateCommand(['update', f(bundle({ key: other.privateKey }), 'forged'), '--root', root, '--no-restart', '--no-health'], io, RAW), 1);
  assert.match(err.join(''), /REFUSED .*forged: bad signature/);
  assert.equal(await runUpdateCommand(['update', f(bundle({ version: '2.0.0' }), 'v2'), '--root', root, '--no-restart', '--health-cmd', 'false', '--deadline', '1'], io, RAW), 3);
  assert.match(err.join(''), /2\.0\.0 did not become healthy \(status failed: false: .*\); rolled back to slot a/);
  assert.equal(activeSlot(root), 'a');
  assert.equal(await runUpdateCommand(['update'], io, RAW), 2);
});
