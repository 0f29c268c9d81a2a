// Anti-replay: the window alone against a model, ESN inference (RFC 4303 Appendix A), and the
// window as an SA applies it (checked before decryption, advanced only after the ICV).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aeadByName } from '../../../firmware/crypto/aeads.ts';
import { EspSa, ReplayWindow, encodeEsp } from '../../../firmware/esp/index.ts';
import { Prng, ipv4, keymat } from './helpers.ts';

const TWO32 = 2 ** 32;
const split = (s: number): [number, number] => [Math.floor(s / TWO32), s % TWO32];

test('window edges: duplicate, oldest kept, too old, zero, out of order', () => {
  const w = new ReplayWindow(1024);
  assert.equal(w.check(0, 0), false, 'sequence number 0 is never valid');
  assert.equal(w.check(0, 1), true);
  w.accept(0, 2000);
  assert.equal(w.top, 2000n);
  assert.equal(w.check(0, 2000), false, 'duplicate');
  assert.equal(w.check(0, 2000 - 1023), true, 'oldest number inside the window');
  assert.equal(w.check(0, 2000 - 1024), false, 'just outside the window');
  assert.equal(w.check(0, 1), false);
  w.accept(0, 1990);
  assert.equal(w.check(0, 1990), false);
  assert.equal(w.check(0, 1991), true);
  assert.equal(w.check(0, 2001), true);
  w.accept(0, 977); // 2000 - 1023
  assert.equal(w.check(0, 977), false);
  w.accept(0, 976); // too old: ignored
  assert.equal(w.top, 2000n);
});

test('far ahead resets the window; the slide forgets exactly what fell out', () => {
  const w = new ReplayWindow(64);
  for (let s = 1; s <= 100; s++) w.accept(0, s);
  w.accept(0, 1_000_000);
  assert.equal(w.check(0, 100), false, 'now far too old');
  assert.equal(w.check(0, 999_999), true);
  assert.equal(w.check(0, 1_000_000 - 63), true);
  assert.equal(w.check(0, 1_000_000 - 64), false);
  // Slide by less than the window: numbers still inside keep their state.
  w.accept(0, 999_990);
  w.accept(0, 1_000_030);
  assert.equal(w.check(0, 999_990), false, 'seen, still inside');
  assert.equal(w.check(0, 999_991), true, 'unseen, still inside');
  w.accept(0, 1_000_060);
  assert.equal(w.check(0, 999_990), false, 'fell out: too old');
});

test('matches a model on random traffic, for several window sizes', () => {
  for (const size of [32, 33, 64, 100, 1024, 4096]) {
    const prng = new Prng(size);
    const w = new ReplayWindow(size);
    const seen = new Set<number>();
    let top = 0;
    for (let i = 0; i < 20000; i++) {
      const r = prng.int(100);
      let s: number;
      if (r < 60) s = top + 1 + prng.int(8); // mostly in order
      else if (r < 90) s = Math.max(0, top - prng.int(size + 16)); // late, around the left edge
      else if (r < 97) s = top + prng.int(3 * size); // jumps
      else s = top + prng.int(TWO32 * 3); // very far, across 2^32 boundaries
      const expected = s !== 0 && (s > top || (top - s < size && !seen.has(s)));
      const [hi, lo] = split(s);
      assert.equal(w.check(hi, lo), expected, `size ${size} step ${i} seq ${s} top ${top}`);
      if (expected && prng.int(10) > 0) { // sometimes the ICV fails: no accept
        w.accept(hi, lo);
        seen.add(s);
        top = Math.max(top, s);
      }
      assert.equal(w.top, BigInt(top));
    }
  }
});

test('ESN high half inferred per RFC 4303 Appendix A', () => {
  const w = new ReplayWindow(64);
  // Before any packet: numbers just below 2^32 would be before the SA's start.
  assert.equal(w.inferHigh(5), 0);
  assert.equal(w.inferHigh(0xffffffff), -1);
  // Case A: window inside one subspace (top = 2^32 + 1000).
  w.accept(1, 1000);
  assert.equal(w.inferHigh(1000 - 63), 1);
  assert.equal(w.inferHigh(1000 - 64), 2, 'below the window means the next subspace');
  assert.equal(w.inferHigh(5000), 1);
  // Case B: window spans two subspaces (top = 2^33 + 10).
  const v = new ReplayWindow(64);
  v.accept(2, 10);
  assert.equal(v.inferHigh(0xffffffff), 1, 'late packet from the previous subspace');
  assert.equal(v.inferHigh(0xffffffff - 52), 1);
  assert.equal(v.inferHigh(0xffffffff - 53), 2, 'outside the window: treated as far ahead');
  assert.equal(v.inferHigh(3), 2);
  assert.equal(v.inferHigh(50), 2);
  // At the end of the space nothing can be ahead.
  const e = new ReplayWindow(64);
  e.accept(0xffffffff, 0xfffffff0);
  assert.equal(e.inferHigh(0xfffffff5), 0xffffffff);
  assert.equal(e.inferHigh(5), -1);
});

test('the window size is bounded', () => {
  assert.throws(() => new ReplayWindow(31), RangeError);
  assert.throws(() => new ReplayWindow(65537), RangeError);
  assert.throws(() => new ReplayWindow(100.5), RangeError);
  assert.equal(new ReplayWindow().size, 1024);
});

// ---- as an SA applies it ----

const alg = aeadByName('aes256gcm16')!;
const SPI = 0x1000;

function setup(esn: boolean, replayWindow?: number) {
  const key = alg.createKey(keymat(alg, new Prng(77)));
  const inb = new EspSa({ spi: SPI, direction: 'in', key, esn, ...(replayWindow ? { replayWindow } : {}) });
  const at = (seq: bigint) => new EspSa({ spi: SPI, direction: 'out', key, esn, nextSeq: seq }).seal(ipv4(40), 4) as Buffer;
  return { key, inb, at };
}

test('SA: duplicate, too old and far-ahead packets; default window is 1024', () => {
  const { inb, at } = setup(false);
  const kinds = (seqs: number[]) => seqs.map((s) => { const r = inb.open(at(BigInt(s))); return r.kind === 'drop' ? r.drop : r.kind; });
  assert.deepEqual(kinds([1, 2, 2, 5, 3, 3]), ['packet', 'packet', 'replay', 'packet', 'packet', 'replay']);
  assert.deepEqual(kinds([3000, 3000 - 1023, 3000 - 1024, 4]), ['packet', 'packet', 'replay', 'replay']);
  assert.deepEqual(kinds([0xffffffff, 3001, 0xfffffffe]), ['packet', 'replay', 'packet']);
  assert.equal(inb.counters.drops.replay, 5);
  assert.equal(inb.counters.packetsIn, 8);
});

test('SA: a forged packet (bad ICV) does not move the window', () => {
  const { inb, at } = setup(false, 64);
  assert.equal(inb.open(at(100n)).kind, 'packet');
  const forged = at(1_000_000n);
  forged[forged.length - 1]! ^= 1;
  assert.deepEqual(inb.open(forged), { kind: 'drop', drop: 'auth_failed' });
  assert.equal(inb.lastSeq, 100n);
  assert.equal(inb.open(at(50n)).kind, 'packet', 'still inside the window');
});

test('SA: sequence number zero is refused without decryption', () => {
  const { key, inb } = setup(false);
  const zero = encodeEsp({ key, spi: SPI, seqHi: 0, seqLo: 0, esn: false, iv: Buffer.alloc(8), payload: ipv4(20), nextHeader: 4 });
  assert.deepEqual(inb.open(zero), { kind: 'drop', drop: 'replay' });
});

test('SA with ESN: the high half wraps, late packets from the old subspace still open', () => {
  const { inb, at } = setup(true, 64);
  const base = 0xffff_fff0n;
  const pkts = new Map<bigint, Buffer>();
  for (let s = base; s < base + 100n; s++) pkts.set(s, at(s));
  const open = (s: bigint) => { const r = inb.open(pkts.get(s)!); return r.kind === 'drop' ? r.drop : r.kind; };
  assert.equal(pkts.get(0x1_0000_0001n)!.readUInt32BE(4), 1, 'only the low half travels');

  // A fresh window cannot place numbers just below 2^32 (they would precede the SA): start lower.
  assert.deepEqual(inb.open(pkts.get(base)!), { kind: 'drop', drop: 'replay' });
  assert.equal(inb.open(at(1000n)).kind, 'packet');
  assert.equal(open(base), 'packet');
  assert.equal(open(0x1_0000_0005n), 'packet', 'across the wrap');
  assert.equal(inb.lastSeq, 0x1_0000_0005n);
  assert.equal(open(0xffff_fffen), 'packet', 'late, from the old subspace');
  assert.equal(open(0xffff_ffffn), 'packet');
  assert.equal(open(0x1_0000_0000n), 'packet');
  assert.equal(open(0xffff_fffen), 'replay');
  assert.equal(open(0x1_0000_0005n), 'replay');
  for (let s = 0x1_0000_0006n; s < base + 100n; s++) assert.equal(open(s), 'packet');
  // Once the window lies wholly in the new subspace, a number from the old one reads as 2^32
  // ahead (Appendix A): it is dropped by its ICV instead of by the window.
  assert.equal(open(base + 1n), 'auth_failed', 'fell out of the 64-packet window');
  assert.equal(open(0x1_0000_0030n), 'replay', 'inside the window, seen');
  assert.equal(inb.lastSeq, base + 99n);
});

test('SA with ESN: a packet from two subspaces ahead cannot be inferred and fails its ICV', () => {
  const { inb, at } = setup(true);
  assert.equal(inb.open(at(10n)).kind, 'packet');
  assert.deepEqual(inb.open(at(0x2_0000_0010n)), { kind: 'drop', drop: 'auth_failed' });
  assert.equal(inb.open(at(11n)).kind, 'packet');
});
