// The native ESP SA (board/tun/src/esp_sa.c through firmware/gateway/fastpath.ts NativeEspSa)
// against the reference, EspSa (firmware/esp/sa.ts), driven with the same inputs side by side:
// every packet sealed must be byte-identical, every open must give the same result (inner packet,
// next header, or the same drop reason), and counters, lastSeq, rekeyNeeded and exhausted must
// agree after every step. Every transform, ESN on and off, replay windows of several sizes, bit
// flips, truncations, forged trailers, sequence-number edges. Seeded: failures reproduce.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createEspEngine, espAddonCandidates, type NativeEspEngine } from '../../../board/tun/esp.ts';
import type { AeadAlgorithm, AeadKey } from '../../../firmware/crypto/aead.ts';
import { SUPPORTED_AEADS, aeadByName } from '../../../firmware/crypto/aeads.ts';
import { EspSa, ESP_MIN_BYTES, espPacketBytes, putU32, type EspSaOptions, type OpenResult, type SealResult } from '../../../firmware/esp/index.ts';
import { NativeEspSa, type NativeEspSaOptions } from '../../../firmware/gateway/fastpath.ts';
import { requireEnv } from '../../lib/netns.ts';
import { Prng, ipv4, ipv6, keymat } from './helpers.ts';

const STEPS = Number(process.env.FUZZ_ITERATIONS ?? 400);

function ready(t: TestContext): boolean {
  const addon = espAddonCandidates().find(existsSync) ?? espAddonCandidates().at(-1)!;
  return requireEnv(t, { files: [addon] });
}

type Opts = Omit<EspSaOptions, 'key'>;

/** The same SA twice: the reference with a node:crypto key, and the native one. */
class Twin {
  readonly ref: EspSa;
  readonly nat: NativeEspSa;
  constructor(engine: NativeEspEngine, readonly alg: AeadAlgorithm, readonly km: Uint8Array, o: Opts) {
    this.ref = new EspSa({ ...o, key: alg.createKey(km) });
    this.nat = new NativeEspSa(engine, { ...(o as Omit<NativeEspSaOptions, 'alg' | 'keyAndSalt'>), alg, keyAndSalt: km });
  }

  seal(inner: Uint8Array, nh: 4 | 41 | 59, what: string): SealResult {
    const a = this.ref.seal(inner, nh), b = this.nat.seal(inner, nh);
    assert.deepEqual(b, a, `seal ${what}`);
    this.same(what);
    return a;
  }

  open(esp: Uint8Array, what: string): OpenResult {
    const a = this.ref.open(esp), b = this.nat.open(esp);
    assert.deepEqual(b, a, `open ${what}`);
    this.same(what);
    return a;
  }

  same(what: string): void {
    assert.deepEqual(this.nat.counters, this.ref.counters, `counters after ${what}`);
    assert.equal(this.nat.lastSeq, this.ref.lastSeq, `lastSeq after ${what}`);
    assert.equal(this.nat.rekeyNeeded, this.ref.rekeyNeeded, `rekeyNeeded after ${what}`);
    if (this.ref.direction === 'out') assert.equal(this.nat.exhausted, this.ref.exhausted, `exhausted after ${what}`);
  }
}

/** An authenticated packet at any sequence number (the reference seals it), for reordering and gaps. */
function sealAt(alg: AeadAlgorithm, km: Uint8Array, spi: number, esn: boolean, seq: bigint, inner: Uint8Array, nh: 4 | 41 | 59 = 4): Buffer {
  const sa = new EspSa({ spi, direction: 'out', key: alg.createKey(km), esn, nextSeq: seq, softLimit: esn ? 0xffff_ffff_ffff_ffffn : 0xffff_ffffn });
  const r = sa.seal(inner, nh);
  assert.ok(Buffer.isBuffer(r));
  return r;
}

/** An authenticated packet around an arbitrary plaintext (bad trailers under a valid ICV). */
function craft(key: AeadKey, spi: number, seq: number, plaintext: Uint8Array): Buffer {
  const prefix = Buffer.alloc(16);
  putU32(prefix, 0, spi);
  putU32(prefix, 4, seq);
  putU32(prefix, 12, seq);
  return Buffer.concat([prefix, key.seal(prefix.subarray(8), prefix.subarray(0, 8), plaintext)]);
}

function innerFor(prng: Prng): { inner: Buffer; nh: 4 | 41 | 59 } {
  const r = prng.int(20);
  if (r === 0) return { inner: prng.bytes(prng.int(64)), nh: 59 }; // dummy
  if (r === 1) return { inner: Buffer.concat([ipv4(20 + prng.int(200), prng), prng.bytes(1 + prng.int(30))]), nh: 4 }; // TFC padding
  if (r === 2) return { inner: ipv4(20 + prng.int(100), prng), nh: 41 }; // version does not match next header
  if (r === 3) return { inner: prng.bytes(prng.int(40)), nh: 4 }; // not an IP packet
  const size = prng.int(10) === 0 ? 1401 + prng.int(8000) : 40 + prng.int(1400);
  return prng.int(3) === 0 ? { inner: ipv6(size, prng), nh: 41 } : { inner: ipv4(size, prng), nh: 4 };
}

/** A packet mangled in one of several ways, or left alone. */
function mangle(p: Buffer, prng: Prng): { pkt: Buffer; how: string } {
  switch (prng.int(8)) {
    case 0: { const b = Buffer.from(p); const bit = prng.int(b.length * 8); b[bit >> 3]! ^= 1 << (bit & 7); return { pkt: b, how: `bit ${bit} flipped` }; }
    case 1: { const n = prng.int(p.length); return { pkt: p.subarray(0, n), how: `truncated to ${n}` }; }
    case 2: return { pkt: Buffer.concat([p, prng.bytes(1 + prng.int(8))]), how: 'bytes appended' };
    default: return { pkt: p, how: 'intact' };
  }
}

for (const name of SUPPORTED_AEADS) {
  for (const esn of [false, true]) {
    test(`${name} ESN ${esn ? 'on' : 'off'}: native and reference agree on ${STEPS} random seals, deliveries, replays and mangled packets`, (t) => {
      if (!ready(t)) return;
      const engine = createEspEngine();
      try {
        const alg = aeadByName(name)!;
        const prng = new Prng(0x7a71 ^ (name.length << 8) ^ (esn ? 0x55 : 0));
        const km = keymat(alg, prng);
        const spi = 0x1000_0000 + prng.int(0xefff_ffff);
        const replayWindow = [32, 64, 1024, 4096][prng.int(4)]!;
        // With ESN start just below 2^32 so the high half is inferred across the boundary.
        const start = esn ? 0xffff_ff00n : 1n;
        const soft = start + 150n;
        let out = new Twin(engine, alg, km, { spi, direction: 'out', esn, nextSeq: start, softLimit: soft });
        const inb = new Twin(engine, alg, km, { spi, direction: 'in', esn, replayWindow, softLimit: start + 150n });
        // A fresh ESN window cannot place 2^32 - 256 (RFC 4303 A2): bring it near the boundary first.
        if (esn) inb.open(sealAt(alg, km, spi, esn, 0xffff_0000n, ipv4(20)), 'warm-up');
        const seen: Buffer[] = [];
        let top = start - 1n;
        for (let i = 0; i < STEPS; i++) {
          const r = prng.int(10);
          if (r < 5) {
            const { inner, nh } = innerFor(prng);
            const esp = out.seal(inner, nh, `step ${i}`);
            if (!Buffer.isBuffer(esp)) continue;
            top += 1n;
            seen.push(esp);
            const { pkt, how } = mangle(esp, prng);
            inb.open(pkt, `step ${i}: fresh, ${how}`);
          } else if (r < 7 && seen.length > 0) {
            // An old packet again: a replay, or inside the window if it was never accepted.
            const old = seen[seen.length - 1 - prng.int(Math.min(seen.length, replayWindow + 40))]!;
            inb.open(old, `step ${i}: older packet`);
          } else if (r < 9) {
            // A jump ahead (gap), within or beyond the window, and sometimes far behind.
            const gap = BigInt([1, 2, 31, 33, replayWindow - 1, replayWindow, replayWindow + 1, 100_000][prng.int(8)]!);
            const seq = prng.int(5) === 0 && top > gap ? top - gap : top + gap;
            if (seq < 1n || (!esn && seq > 0xffff_ffffn)) continue;
            const esp = sealAt(alg, km, spi, esn, seq, ipv4(20 + prng.int(60), prng), prng.int(8) === 0 ? 59 : 4);
            inb.open(esp, `step ${i}: sequence number ${seq}`);
            inb.open(esp, `step ${i}: sequence number ${seq} again`);
            if (seq > top) {
              // The sender carries on after the jump (a fresh pair of outbound SAs from there).
              top = seq;
              out.nat.dispose();
              out = new Twin(engine, alg, km, { spi, direction: 'out', esn, nextSeq: seq + 1n, softLimit: soft });
            }
          } else {
            const junk = prng.bytes(prng.int(100));
            if (prng.int(2) === 0 && junk.length >= 4) putU32(junk, 0, spi);
            inb.open(junk, `step ${i}: junk`);
          }
        }
        assert.ok(inb.ref.counters.packetsIn > STEPS / 10, `most fresh packets were delivered: ${JSON.stringify(inb.ref.counters)} ${replayWindow}`);
        assert.ok(inb.ref.counters.drops.replay > 0 && inb.ref.counters.drops.auth_failed > 0 && inb.ref.counters.drops.malformed > 0, JSON.stringify(inb.ref.counters.drops));
        if (esn) assert.ok(inb.ref.lastSeq > 0xffff_ffffn, 'crossed 2^32');
      } finally {
        engine.close();
      }
    });
  }
}

test('forged trailers under a valid ICV: bad padding (number spent), bad next header, lying IP lengths', (t) => {
  if (!ready(t)) return;
  const engine = createEspEngine();
  try {
    const alg = aeadByName('aes128gcm16')!;
    const km = keymat(alg, new Prng(3));
    const key = alg.createKey(km);
    const spi = 0xc0ffee01;
    const inb = new Twin(engine, alg, km, { spi, direction: 'in' });
    const body = ipv4(20);
    const lying = ipv4(60);
    lying.writeUInt16BE(61, 2);
    const v6 = ipv6(80);
    const plaintexts: Array<[Buffer, string]> = [
      [Buffer.concat([body, Buffer.from([1, 3, 2, 4])]), 'second pad byte wrong'],
      [Buffer.concat([body, Buffer.from([2, 2, 2, 4])]), 'first pad byte wrong'],
      [Buffer.from([0, 1, 4]), 'pad bytes 0,1'],
      [Buffer.from([1, 2, 200, 4]), 'pad length beyond the plaintext'],
      [Buffer.concat([body, Buffer.from([1, 2, 2, 4])]), 'good padding'],
      [Buffer.concat([ipv4(20), Buffer.from([1, 2, 2, 17])]), 'next header 17'],
      [Buffer.concat([lying, Buffer.from([1, 2, 2, 4])]), 'IPv4 length says one more'],
      [Buffer.concat([v6, Buffer.from([0, 41])]), 'IPv6'],
      [Buffer.concat([v6, Buffer.from([0, 4])]), 'IPv6 under next header 4'],
      [Buffer.concat([Buffer.from([0x44, 0, 0, 20]), Buffer.alloc(16), Buffer.from([0, 4])]), 'IHL 4'],
      [Buffer.from([0, 59]), 'empty dummy'],
    ];
    let seq = 1;
    for (const [pt, why] of plaintexts) {
      const esp = craft(key, spi, seq++, pt);
      inb.open(esp, why);
      inb.open(esp, `${why}, again`);
    }
    assert.equal(inb.ref.counters.drops.bad_padding, 4);
  } finally {
    engine.close();
  }
});

test('sizes: maximum packet size on both sides, every truncation, the largest datagram', (t) => {
  if (!ready(t)) return;
  const engine = createEspEngine();
  try {
    const alg = aeadByName('chacha20poly1305')!;
    const km = keymat(alg, new Prng(9));
    const spi = 0x4242_0001;
    const out = new Twin(engine, alg, km, { spi, direction: 'out', maxPacketBytes: 200 });
    const inb = new Twin(engine, alg, km, { spi, direction: 'in', maxPacketBytes: 200 });
    let fits = 0;
    while (espPacketBytes(fits + 1) <= 200) fits++;
    const ok = out.seal(ipv4(fits), 4, 'largest that fits');
    out.seal(ipv4(fits + 1), 4, 'one byte too big');
    out.seal(new Uint8Array(65535), 4, 'a whole IP datagram');
    out.seal(new Uint8Array(70000), 4, 'more than any IP datagram');
    assert.ok(Buffer.isBuffer(ok));
    for (let n = 0; n <= ok.length; n++) inb.open(ok.subarray(0, n), `truncated to ${n}`);
    inb.open(sealAt(alg, km, spi, false, 9n, ipv4(fits + 1)), 'bigger than the inbound maximum');
    inb.open(Buffer.alloc(65536, 1), 'larger than any IP datagram');
    inb.open(Buffer.alloc(ESP_MIN_BYTES), 'minimum size of zeros');
    assert.equal(out.ref.counters.packetsOut, 1);
  } finally {
    engine.close();
  }
});

test('sequence numbers: exhaustion without ESN at 2^32-1, with ESN at 2^64-1, soft limits both ways', (t) => {
  if (!ready(t)) return;
  const engine = createEspEngine();
  try {
    const alg = aeadByName('aes256gcm16')!;
    const km = keymat(alg, new Prng(11));
    const spi = 0x5151_0001;
    const edges: Array<[Opts, number]> = [
      [{ spi, direction: 'out', nextSeq: 0xffff_fffen }, 4],
      [{ spi, direction: 'out', esn: true, nextSeq: 0xffff_fffen }, 4],
      [{ spi, direction: 'out', esn: true, nextSeq: 0xffff_ffff_ffff_fffdn, softLimit: 0xffff_ffff_ffff_ffffn }, 5],
      [{ spi, direction: 'out', softLimit: 3n }, 5],
      [{ spi, direction: 'out', esn: true, nextSeq: 0xffff_ffff_ffff_0000n }, 1],
    ];
    for (const [o, n] of edges) {
      const tw = new Twin(engine, alg, km, o);
      tw.same('install');
      for (let i = 0; i < n; i++) tw.seal(ipv4(20), i % 2 ? 59 : 4, `${JSON.stringify(o, (_, v) => typeof v === 'bigint' ? String(v) : v)} #${i}`);
      tw.nat.dispose();
    }
    const inb = new Twin(engine, alg, km, { spi, direction: 'in', softLimit: 3n });
    for (let s = 1n; s <= 4n; s++) inb.open(sealAt(alg, km, spi, false, s, ipv4(20)), `inbound ${s}`);
  } finally {
    engine.close();
  }
});

test('options: the native SA refuses what EspSa refuses, with the same error', (t) => {
  if (!ready(t)) return;
  const engine = createEspEngine();
  try {
    const alg = aeadByName('aes256gcm16')!;
    const km = keymat(alg, new Prng(12));
    const key = alg.createKey(km);
    const bad: Opts[] = [
      { spi: 0, direction: 'in' }, { spi: 255, direction: 'in' }, { spi: 2 ** 32, direction: 'in' }, { spi: 1.5, direction: 'in' },
      { spi: 0x1000, direction: 'in', replayWindow: 16 }, { spi: 0x1000, direction: 'in', replayWindow: 65537 },
      { spi: 0x1000, direction: 'out', replayWindow: 1024 }, { spi: 0x1000, direction: 'in', nextSeq: 5n },
      { spi: 0x1000, direction: 'out', nextSeq: 0n }, { spi: 0x1000, direction: 'out', nextSeq: 2n ** 32n },
      { spi: 0x1000, direction: 'out', maxPacketBytes: 65536 }, { spi: 0x1000, direction: 'out', maxPacketBytes: ESP_MIN_BYTES - 1 },
      { spi: 0x1000, direction: 'out', softLimit: 2n ** 32n }, { spi: 0x1000, direction: 'out', softLimit: 0n },
      { spi: 0x1000, direction: 'sideways' as 'in' },
    ];
    for (const o of bad) {
      let refErr: unknown;
      try { new EspSa({ ...o, key }); } catch (e) { refErr = e; }
      assert.ok(refErr instanceof RangeError, `reference refuses ${JSON.stringify(o, (_, v) => typeof v === 'bigint' ? String(v) : v)}`);
      assert.throws(() => new NativeEspSa(engine, { ...o, alg, keyAndSalt: km } as NativeEspSaOptions), (e: unknown) => e instanceof RangeError && e.message === refErr.message);
    }
    assert.throws(() => new NativeEspSa(engine, { spi: 0x1000, direction: 'in', alg, keyAndSalt: km.subarray(1) }), RangeError);
    const out = new NativeEspSa(engine, { spi: 0x1000, direction: 'out', alg, keyAndSalt: km });
    const inb = new NativeEspSa(engine, { spi: 0x1000, direction: 'in', alg, keyAndSalt: km });
    assert.throws(() => inb.seal(ipv4(20), 4));
    assert.throws(() => out.open(Buffer.alloc(64)));
    assert.throws(() => out.seal(ipv4(20), 17 as 4), RangeError);
    // A removed SA keeps its last counters and is gone from the engine.
    assert.ok(Buffer.isBuffer(out.seal(ipv4(20), 4)));
    out.dispose();
    assert.equal(out.counters.packetsOut, 1);
    assert.equal(engine.removeSa(out.id), false);
  } finally {
    engine.close();
  }
});

test('the engine holds at most MAX_SAS SAs and reuses slots without reviving stale ids', (t) => {
  if (!ready(t)) return;
  const engine = createEspEngine();
  try {
    const alg = aeadByName('aes128gcm16')!;
    const km = keymat(alg, new Prng(13));
    const a = new NativeEspSa(engine, { spi: 0x2000, direction: 'out', alg, keyAndSalt: km });
    a.dispose();
    const b = new NativeEspSa(engine, { spi: 0x2001, direction: 'out', alg, keyAndSalt: km });
    assert.notEqual(a.id, b.id, 'a new tenant of the slot gets a new id');
    assert.throws(() => engine.seal(a.id, ipv4(20), 4), /ENOENT|seal/);
    const many: NativeEspSa[] = [];
    assert.throws(() => { for (;;) many.push(new NativeEspSa(engine, { spi: 0x3000 + many.length, direction: 'in', alg, keyAndSalt: km })); }, (e: unknown) => (e as { code?: string }).code === 'ENOSPC');
    assert.equal(many.length, 1023);
  } finally {
    engine.close();
  }
});

test('start(cb, busyPollUs): the I/O thread\'s busy polling is 0..1000 us; out of range is a RangeError, not a clamp', (t) => {
  if (!ready(t)) return;
  const engine = createEspEngine();
  try {
    engine.bind('127.0.0.1', 0, 1 << 16, 1 << 16);
    for (const bad of [1001, -1, 2.5, NaN]) assert.throws(() => engine.start(() => {}, bad), RangeError, String(bad));
    engine.start(() => {}, 1000);
    engine.stop();
    engine.start(() => {}, 0);
  } finally {
    engine.close();
  }
});
