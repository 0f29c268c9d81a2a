// The TUN offload code (board/tun/src/tun_gso.c) on buffers, against a JavaScript reference:
// splitting the kernel's GSO TCP packets into segments (lengths, IDs, sequence numbers, flags,
// checksums, payload), finishing partial checksums, refusing what cannot be split, and merging
// consecutive segments of a flow back into one GSO packet for writing, which splits again into
// exactly the segments it was made of. Seeded random flows on top of hand-written cases.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { loadTunAddon, tunAddonCandidates } from '../../../board/tun/index.ts';
import { requireEnv } from '../../lib/netns.ts';
import { Prng } from './helpers.ts';

function ready(t: TestContext): boolean {
  return requireEnv(t, { files: [tunAddonCandidates().find(existsSync) ?? tunAddonCandidates().at(-1)!] });
}

const ACK = 0x10, PSH = 0x08, FIN = 0x01, SYN = 0x02, CWR = 0x80;

/** RFC 1071 sum of 16-bit big-endian words (not folded to the complement). */
function sum16(b: Uint8Array, init = 0): number {
  let s = init;
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (b.length & 1) s += b[b.length - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}
const pseudo = (ip: Buffer, v: 4 | 6, len: number, proto = 6) =>
  sum16(v === 4 ? ip.subarray(12, 20) : ip.subarray(8, 40), proto + len);
const checksumOk = (ip: Buffer, v: 4 | 6, iphl: number) => sum16(ip.subarray(iphl), pseudo(ip, v, ip.length - iphl, ip[v === 4 ? 9 : 6]!)) === 0xffff;

interface Seg { v: 4 | 6; seq: number; flags: number; payload: Buffer; id?: number; src?: number; options?: Buffer; ack?: number }

/** A TCP packet with valid checksums. */
function tcpPacket(s: Seg): Buffer {
  const opts = s.options ?? Buffer.alloc(0);
  const thl = 20 + opts.length;
  const iphl = s.v === 4 ? 20 : 40;
  const p = Buffer.alloc(iphl + thl + s.payload.length);
  if (s.v === 4) {
    p[0] = 0x45; p.writeUInt16BE(p.length, 2); p.writeUInt16BE(s.id ?? 7, 4); p.writeUInt16BE(0x4000, 6); p[8] = 64; p[9] = 6;
    p.writeUInt32BE(0x0a010002 + (s.src ?? 0), 12); p.writeUInt32BE(0x0a020002, 16);
    p.writeUInt16BE((~sum16(p.subarray(0, 20))) & 0xffff, 10);
  } else {
    p[0] = 0x60; p.writeUInt16BE(p.length - 40, 4); p[6] = 6; p[7] = 64;
    p.writeUInt32BE(0x20010db8, 8); p[23] = 2 + (s.src ?? 0); p.writeUInt32BE(0x20010db8, 24); p[39] = 3;
  }
  const t = p.subarray(iphl);
  t.writeUInt16BE(40000 + (s.src ?? 0), 0); t.writeUInt16BE(5201, 2); t.writeUInt32BE(s.seq >>> 0, 4); t.writeUInt32BE(s.ack ?? 0x1234, 8);
  t[12] = (thl / 4) << 4; t[13] = s.flags; t.writeUInt16BE(502, 14);
  opts.copy(t, 20);
  s.payload.copy(t, thl);
  t.writeUInt16BE((~sum16(t, pseudo(p, s.v, t.length))) & 0xffff, 16);
  return p;
}

function vnetHeader(o: { flags?: number; gsoType?: number; hdrLen?: number; gsoSize?: number; csumStart?: number; csumOffset?: number }): Buffer {
  const h = Buffer.alloc(10);
  h[0] = o.flags ?? 0; h[1] = o.gsoType ?? 0;
  h.writeUInt16LE(o.hdrLen ?? 0, 2); h.writeUInt16LE(o.gsoSize ?? 0, 4); h.writeUInt16LE(o.csumStart ?? 0, 6); h.writeUInt16LE(o.csumOffset ?? 0, 8);
  return h;
}

/** What the kernel hands over for a TSO packet: one big segment, TCP checksum left partial. */
function gsoRead(s: Seg, mss: number): Buffer {
  const p = tcpPacket(s);
  const iphl = s.v === 4 ? 20 : 40;
  p.writeUInt16BE(sum16(Buffer.alloc(0), pseudo(p, s.v, p.length - iphl)), iphl + 16);
  return Buffer.concat([vnetHeader({ flags: 1, gsoType: s.v === 4 ? 1 : 4, hdrLen: iphl + 20 + (s.options?.length ?? 0), gsoSize: mss, csumStart: iphl, csumOffset: 16 }), p]);
}

const TS_OPTION = Buffer.from([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);

for (const v of [4, 6] as const) {
  test(`IPv${v}: a GSO TCP packet is cut into MSS segments exactly as TSO would send them`, (t) => {
    if (!ready(t)) return;
    const { gsoSplit } = loadTunAddon();
    const prng = new Prng(v);
    for (const [size, mss, flags] of [[64000, 1398, ACK | PSH | FIN], [4000, 1000, ACK | CWR], [1398, 1398, ACK | PSH], [1399, 1398, ACK], [20000, 536, ACK]] as const) {
      const payload = prng.bytes(size);
      const seq = 0xfffff000; // wraps past 2^32
      const segs = gsoSplit(gsoRead({ v, seq, flags, payload, id: 65530, options: TS_OPTION }, mss));
      const n = Math.ceil(size / mss);
      assert.equal(segs.length, n, `${size}/${mss}`);
      const iphl = v === 4 ? 20 : 40, hl = iphl + 20 + TS_OPTION.length;
      const got: Buffer[] = [];
      segs.forEach((s, k) => {
        const plen = Math.min(mss, size - k * mss);
        assert.equal(s.length, hl + plen);
        if (v === 4) {
          assert.equal(s.readUInt16BE(2), s.length, 'IPv4 length');
          assert.equal(s.readUInt16BE(4), (65530 + k) & 0xffff, 'IPv4 ID increments');
          assert.equal(sum16(s.subarray(0, 20)), 0xffff, 'IPv4 header checksum');
        } else {
          assert.equal(s.readUInt16BE(4), s.length - 40, 'IPv6 payload length');
        }
        assert.equal(s.readUInt32BE(iphl + 4), (seq + k * mss) >>> 0, 'sequence number');
        const f = s[iphl + 13]!;
        assert.equal(f & (FIN | PSH), k === n - 1 ? flags & (FIN | PSH) : 0, 'FIN/PSH on the last only');
        assert.equal(f & CWR, k === 0 ? flags & CWR : 0, 'CWR on the first only');
        assert.deepEqual(s.subarray(iphl + 20, hl), TS_OPTION, 'options copied');
        assert.ok(checksumOk(s, v, iphl), `TCP checksum of segment ${k}`);
        got.push(s.subarray(hl));
      });
      assert.deepEqual(Buffer.concat(got), payload, 'the payload, in order');
    }
  });
}

test('partial checksums are finished (TCP and UDP), plain packets pass unchanged', (t) => {
  if (!ready(t)) return;
  const { gsoSplit } = loadTunAddon();
  const full = tcpPacket({ v: 4, seq: 1, flags: ACK | PSH, payload: Buffer.from('hello, tunnel') });
  const partial = Buffer.from(full);
  partial.writeUInt16BE(sum16(Buffer.alloc(0), pseudo(partial, 4, partial.length - 20)), 36);
  assert.deepEqual(gsoSplit(Buffer.concat([vnetHeader({ flags: 1, csumStart: 20, csumOffset: 16 }), partial])), [full]);
  // UDP whose checksum comes out 0 is sent as 0xffff (0 would mean "none").
  const udp = Buffer.alloc(28 + 2);
  udp[0] = 0x45; udp.writeUInt16BE(udp.length, 2); udp[8] = 64; udp[9] = 17;
  udp.writeUInt32BE(0x0a010002, 12); udp.writeUInt32BE(0x0a020002, 16);
  udp.writeUInt16BE(1000, 20); udp.writeUInt16BE(2000, 22); udp.writeUInt16BE(10, 24);
  // Choose the payload so that the finished sum is 0xffff (complement 0).
  const partialSum = pseudo(udp, 4, 10, 17);
  udp.writeUInt16BE(partialSum, 26);
  const rest = sum16(udp.subarray(20));
  udp.writeUInt16BE((0xffff - rest) & 0xffff, 28);
  const [out] = gsoSplit(Buffer.concat([vnetHeader({ flags: 1, csumStart: 20, csumOffset: 6 }), udp]));
  assert.equal(out!.readUInt16BE(26), 0xffff);
  const plain = tcpPacket({ v: 6, seq: 9, flags: ACK, payload: Buffer.alloc(30, 1) });
  assert.deepEqual(gsoSplit(Buffer.concat([vnetHeader({}), plain])), [plain]);
});

test('what cannot be split is dropped: not TCP, no MSS, too many segments, truncated headers, bad offsets', (t) => {
  if (!ready(t)) return;
  const { gsoSplit } = loadTunAddon();
  const good = gsoRead({ v: 4, seq: 1, flags: ACK, payload: Buffer.alloc(3000) }, 1000);
  assert.equal(gsoSplit(good).length, 3);
  const udp = Buffer.from(good); udp[10 + 9] = 17;
  assert.deepEqual(gsoSplit(udp), [], 'GSO type TCP over UDP');
  const noMss = Buffer.from(good); noMss.writeUInt16LE(0, 4);
  assert.deepEqual(gsoSplit(noMss), [], 'MSS 0');
  const tiny = Buffer.from(good); tiny.writeUInt16LE(10, 4);
  assert.deepEqual(gsoSplit(tiny), [], '300 segments');
  const v6As4 = Buffer.from(good); v6As4[1] = 4;
  assert.deepEqual(gsoSplit(v6As4), [], 'IPv4 packet with an IPv6 GSO type');
  assert.deepEqual(gsoSplit(good.subarray(0, 10 + 30)), [], 'cut inside the TCP header');
  const badOff = Buffer.concat([vnetHeader({ flags: 1, csumStart: 60, csumOffset: 16 }), tcpPacket({ v: 4, seq: 1, flags: ACK, payload: Buffer.alloc(10) })]);
  assert.deepEqual(gsoSplit(badOff), [], 'checksum offset past the end');
  const frag = Buffer.from(good); frag.writeUInt16BE(0x2000, 10 + 6);
  assert.deepEqual(gsoSplit(frag), [], 'a fragment');
});

test('consecutive full-size segments of one flow merge into one GSO packet that splits back into them', (t) => {
  if (!ready(t)) return;
  const { gsoSplit, groMerge } = loadTunAddon();
  const prng = new Prng(11);
  for (const v of [4, 6] as const) {
    const mss = 1398;
    const segs = Array.from({ length: 10 }, (_, k) => tcpPacket({ v, seq: 5000 + k * mss, flags: k === 9 ? ACK | PSH : ACK, payload: prng.bytes(k === 9 ? 700 : mss), id: 100 + k, options: TS_OPTION }));
    const out = groMerge(segs);
    assert.equal(out.length, 1, 'one write');
    const h = out[0]!;
    assert.equal(h[0], 1, 'NEEDS_CSUM');
    assert.equal(h[1], v === 4 ? 1 : 4, 'GSO TCP');
    assert.equal(h.readUInt16LE(4), mss, 'gso_size');
    assert.equal(h.readUInt16LE(6), v === 4 ? 20 : 40);
    assert.equal(h.readUInt16LE(8), 16);
    assert.deepEqual(gsoSplit(h), segs, 'split again: the very same segments');
  }
});

test('segments that must not merge are written alone, in order, with an all-zero header', (t) => {
  if (!ready(t)) return;
  const { groMerge } = loadTunAddon();
  const mss = 1000;
  const seg = (o: Partial<Seg> & { k: number }) => tcpPacket({ v: 4, seq: 1 + o.k * mss, flags: ACK, payload: Buffer.alloc(mss, o.k), id: o.k, ...o });
  const badSum = seg({ k: 1 }); badSum[30]! ^= 1;
  const cases: Array<[string, Buffer[], number]> = [
    ['bad TCP checksum in the middle', [seg({ k: 0 }), badSum, seg({ k: 2 })], 3],
    ['a gap in sequence numbers', [seg({ k: 0 }), seg({ k: 2 })], 2],
    ['a short segment ends the run', [seg({ k: 0 }), seg({ k: 1, payload: Buffer.alloc(10) }), seg({ k: 2 })], 2],
    ['PSH ends the run', [seg({ k: 0, flags: ACK | PSH }), seg({ k: 1 })], 2],
    ['SYN and FIN never merge', [seg({ k: 0, flags: SYN | ACK }), seg({ k: 1, flags: FIN | ACK }), seg({ k: 2 })], 3],
    ['another flow in between', [seg({ k: 0 }), seg({ k: 0, src: 1 }), seg({ k: 1 })], 3],
    ['different ACK numbers', [seg({ k: 0 }), seg({ k: 1, ack: 99 })], 2],
    ['different options', [seg({ k: 0, options: TS_OPTION }), seg({ k: 1, options: Buffer.from([1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 2]) })], 2],
    ['no payload', [seg({ k: 0, payload: Buffer.alloc(0) }), seg({ k: 0, payload: Buffer.alloc(0) })], 2],
  ];
  for (const [why, pkts, writes] of cases) {
    const out = groMerge(pkts);
    assert.equal(out.length, writes, why);
    const plain = out.filter((o) => o[1] === 0);
    for (const o of plain) assert.deepEqual(o.subarray(0, 10), Buffer.alloc(10), `${why}: zero header`);
  }
  const udp = Buffer.alloc(40); udp[0] = 0x45; udp.writeUInt16BE(40, 2); udp[9] = 17;
  const junk = Buffer.from([0x45, 0, 0]);
  assert.deepEqual(groMerge([udp, junk]).map((o) => o.subarray(10)), [udp, junk], 'anything else passes as it is');
});

test('random interleavings of two flows: merging then splitting gives back the same packets in order', (t) => {
  if (!ready(t)) return;
  const { gsoSplit, groMerge } = loadTunAddon();
  const prng = new Prng(0x6e5);
  for (let round = 0; round < 60; round++) {
    const v = prng.int(2) === 0 ? 4 : 6;
    const mss = 500 + prng.int(1000);
    const next = [1000, 99000];
    const ids = [0, 50];
    const pkts: Buffer[] = [];
    for (let i = 0; i < 80; i++) {
      const f = prng.int(6) === 0 ? 1 : 0;
      const short = prng.int(15) === 0;
      const len = short ? 1 + prng.int(mss - 1) : mss;
      pkts.push(tcpPacket({ v, src: f, seq: next[f]!, flags: prng.int(20) === 0 ? ACK | PSH : ACK, payload: prng.bytes(len), id: ids[f]!++ & 0xffff }));
      next[f]! += len;
    }
    const out = groMerge(pkts);
    const back = out.flatMap((o) => (o[1] === 0 ? [o.subarray(10)] : gsoSplit(o)));
    assert.deepEqual(back, pkts, `round ${round}`);
    assert.ok(out.length < pkts.length, 'something merged');
  }
});
