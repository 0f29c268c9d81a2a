// board/memory.ts and the TUN addon's mem_trim.c: the start-up-only file pages leave the resident
// set, and nothing the process holds is lost with them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { tunAddonCandidates } from '../../../board/tun/index.ts';
import { trimAfterStartup } from '../../../board/memory.ts';
import type { Logger } from '../../../firmware/log.ts';

const addonBuilt = tunAddonCandidates().some((p) => existsSync(p));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

// A separate process: it trims its own pages, then does work that needs the dropped ones (code of
// node, OpenSSL, zlib, the addon) and data the dynamic linker wrote at load (RELRO: dropping those
// would crash it), and prints what it computed and its file-backed RSS before and after.
const CHILD = `
import { createHash, createCipheriv, generateKeyPairSync, sign, verify } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { trimFilePages } from './board/memory.ts';
const rssFile = () => Number(/RssFile:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
const work = () => {
  const data = Buffer.alloc(100000, 7);
  const c = createCipheriv('aes-256-gcm', Buffer.alloc(32, 1), Buffer.alloc(12, 2));
  const ct = Buffer.concat([c.update(data), c.final(), c.getAuthTag()]);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const sig = sign(null, data, privateKey);
  return [createHash('sha256').update(ct).digest('hex'), inflateSync(deflateSync(data)).equals(data), verify(null, data, publicKey, sig),
    JSON.stringify(JSON.parse('{"a":[1,2,{"b":"c"}]}')), /x(y+)z/.exec('axyyyz')[1], new Intl.NumberFormat('en-US').format(1234567.5)];
};
const before = work();
const fileBefore = rssFile();
const r = trimFilePages();
const fileAfter = rssFile();
const after = work();
console.log(JSON.stringify({ same: JSON.stringify(before) === JSON.stringify(after), before, fileBefore, fileAfter, r }));
`;

test('trimFilePages drops start-up file pages and the process carries on unharmed', { skip: !addonBuilt && 'TUN addon not built: npm run build:native' }, () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], { cwd: ROOT, encoding: 'utf8' });
  const res = JSON.parse(out.trim().split('\n').pop()!) as { same: boolean; before: unknown[]; fileBefore: number; fileAfter: number; r: { regions: number; droppedMb: number; rssMbBefore: number; rssMbAfter: number } };
  assert.equal(res.same, true, `work after the trim gave other results: ${out}`);
  assert.equal(res.before[1], true);
  assert.equal(res.before[2], true);
  assert.ok(res.r.regions > 0, 'no mapping dropped');
  assert.ok(res.r.droppedMb > 1, `only ${res.r.droppedMb} MB dropped`);
  // The work after the trim faults some pages back in, but far from all of them.
  assert.ok(res.fileAfter < res.fileBefore - 1, `file-backed RSS ${res.fileBefore} -> ${res.fileAfter} MB`);
  assert.ok(res.r.rssMbAfter < res.r.rssMbBefore, `RSS ${res.r.rssMbBefore} -> ${res.r.rssMbAfter} MB`);
});

function recordingLog(): { log: Logger; lines: Array<[string, Record<string, unknown>]> } {
  const lines: Array<[string, Record<string, unknown>]> = [];
  const log: Logger = {
    debug: (e, f) => lines.push([e, f ?? {}]), info: (e, f) => lines.push([e, f ?? {}]),
    warn: (e, f) => lines.push([e, f ?? {}]), error: (e, f) => lines.push([e, f ?? {}]), child: () => log,
  };
  return { log, lines };
}

test('trimAfterStartup trims once, afterUpMs after the first CHILD_SA, not before', { skip: !addonBuilt && 'TUN addon not built' }, (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const daemon = new EventEmitter();
  const { log, lines } = recordingLog();
  trimAfterStartup(daemon, { log, afterUpMs: 1000, latestMs: 60_000 });
  daemon.emit('event', { type: 'tunnel', event: { type: 'ike-up' } });
  t.mock.timers.tick(5000);
  assert.equal(lines.length, 0, 'trimmed before any CHILD_SA');
  daemon.emit('event', { type: 'tunnel', event: { type: 'child-up' } });
  t.mock.timers.tick(999);
  assert.equal(lines.length, 0);
  t.mock.timers.tick(1);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]![0], 'memory-trimmed');
  assert.ok((lines[0]![1].regions as number) > 0);
  // Once: later CHILD_SAs and the deadline do nothing.
  daemon.emit('event', { type: 'tunnel', event: { type: 'child-up' } });
  t.mock.timers.tick(120_000);
  assert.equal(lines.length, 1);
  assert.equal(daemon.listenerCount('event'), 0);
});

test('trimAfterStartup trims at latestMs when no CHILD_SA comes up, and cancel stops it', { skip: !addonBuilt && 'TUN addon not built' }, (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const daemon = new EventEmitter();
  const a = recordingLog();
  trimAfterStartup(daemon, { log: a.log, afterUpMs: 1000, latestMs: 30_000 });
  t.mock.timers.tick(30_000);
  assert.deepEqual(a.lines.map((l) => l[0]), ['memory-trimmed']);
  const b = recordingLog();
  const cancel = trimAfterStartup(daemon, { log: b.log, afterUpMs: 1000, latestMs: 30_000 });
  cancel();
  daemon.emit('event', { type: 'tunnel', event: { type: 'child-up' } });
  t.mock.timers.tick(60_000);
  assert.deepEqual(b.lines, []);
  assert.equal(daemon.listenerCount('event'), 0);
});
