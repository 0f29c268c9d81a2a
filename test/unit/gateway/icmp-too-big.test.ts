// ICMP "fragmentation needed" (IPv4) and "packet too big" (IPv6): fields and checksums checked
// here with an independent sum, and the packets dissected by tshark as a second oracle; the
// cases that must not be answered (no DF, ICMP errors, fragments, odd sources) are not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTooBig, tooBigVerdict } from '../../../firmware/gateway/icmp-too-big.ts';
import { MtuGuard } from '../../../firmware/gateway/mtu-guard.ts';
import { requireEnv } from '../../lib/netns.ts';

function sum16(bytes: ArrayLike<number>, from = 0, to = bytes.length): number {
  let s = 0;
  for (let i = from; i < to; i += 2) s += (bytes[i]! << 8) | (i + 1 < to ? bytes[i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

function v4(len: number, o: { df?: boolean; proto?: number; src?: number[]; fragOffset?: number; firstPayloadByte?: number } = {}): Uint8Array {
  const p = new Uint8Array(len);
  p[0] = 0x45; p[2] = len >> 8; p[3] = len & 0xff;
  p[6] = (o.df ?? true ? 0x40 : 0) | ((o.fragOffset ?? 0) >> 8); p[7] = (o.fragOffset ?? 0) & 0xff;
  p[8] = 64; p[9] = o.proto ?? 1;
  p.set(o.src ?? [10, 1, 0, 2], 12); p.set([10, 2, 0, 2], 16);
  for (let i = 20; i < len; i++) p[i] = i & 0xff;
  if (o.firstPayloadByte !== undefined) p[20] = o.firstPayloadByte; else if ((o.proto ?? 1) === 1) p[20] = 8; // echo request
  const c = ~sum16(p, 0, 20) & 0xffff;
  p[10] = c >> 8; p[11] = c & 0xff;
  return p;
}

const SRC6 = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const DST6 = [0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
function v6(len: number, o: { next?: number; src?: number[]; firstPayloadByte?: number } = {}): Uint8Array {
  const p = new Uint8Array(len);
  p[0] = 0x60; p[4] = (len - 40) >> 8; p[5] = (len - 40) & 0xff; p[6] = o.next ?? 58; p[7] = 64;
  p.set(o.src ?? SRC6, 8); p.set(DST6, 24);
  for (let i = 40; i < len; i++) p[i] = i & 0xff;
  p[40] = o.firstPayloadByte ?? 128; // echo request
  return p;
}

test('IPv4 DF packet over the MTU: type 3 code 4, next-hop MTU, addresses swapped, quote, checksums', () => {
  const orig = v4(1478);
  const r = buildTooBig(orig, 1438)!;
  assert.ok(r);
  assert.equal(r.length, 576, 'RFC 1812: at most 576 bytes');
  assert.equal(r[0], 0x45);
  assert.equal((r[2]! << 8) | r[3]!, r.length);
  assert.equal(r[9], 1);
  assert.deepEqual([...r.subarray(12, 16)], [10, 2, 0, 2], 'from the original destination');
  assert.deepEqual([...r.subarray(16, 20)], [10, 1, 0, 2], 'to the original source');
  assert.equal(sum16(r, 0, 20), 0xffff, 'IP header checksum');
  assert.equal(r[20], 3); assert.equal(r[21], 4);
  assert.equal((r[26]! << 8) | r[27]!, 1438);
  assert.equal(sum16(r, 20, r.length), 0xffff, 'ICMP checksum');
  assert.deepEqual([...r.subarray(28, 48)], [...orig.subarray(0, 20)], 'quotes the original header');
  // A short original is quoted whole.
  const small = buildTooBig(v4(100), 80)!;
  assert.equal(small.length, 128);
  assert.equal(sum16(small, 20, small.length), 0xffff);
});

test('IPv6 over the MTU: Packet Too Big with the MTU, at most 1280 bytes, pseudo-header checksum', () => {
  const orig = v6(1500);
  const r = buildTooBig(orig, 1418)!;
  assert.equal(r.length, 1280);
  assert.equal(r[0]! >> 4, 6);
  assert.equal((r[4]! << 8) | r[5]!, 1240);
  assert.equal(r[6], 58);
  assert.deepEqual([...r.subarray(8, 24)], DST6);
  assert.deepEqual([...r.subarray(24, 40)], SRC6);
  assert.equal(r[40], 2); assert.equal(r[41], 0);
  assert.equal(((r[44]! << 24) | (r[45]! << 16) | (r[46]! << 8) | r[47]!) >>> 0, 1418);
  const pseudo = [...r.subarray(8, 40), 0, 0, 1240 >> 8, 1240 & 0xff, 0, 0, 0, 58];
  assert.equal(sum16([...pseudo, ...r.subarray(40)]), 0xffff, 'ICMPv6 checksum');
  // An MTU below 1280 is reported as 1280 only where it is answered at all: below it the
  // packet may be sent and fragmented outside.
  assert.equal(tooBigVerdict(orig, 1200), 'may-fragment');
});

test('verdicts: fits, may-fragment, no-answer, malformed', () => {
  assert.equal(tooBigVerdict(v4(1400), 1438), 'fits');
  assert.equal(tooBigVerdict(v4(1478, { df: false }), 1438), 'may-fragment');
  assert.equal(tooBigVerdict(v4(1478, { firstPayloadByte: 3 }), 1438), 'no-answer', 'an ICMP error is never answered');
  assert.equal(tooBigVerdict(v4(1478, { firstPayloadByte: 11 }), 1438), 'no-answer');
  assert.equal(tooBigVerdict(v4(1478, { proto: 6, firstPayloadByte: 3 }), 1438), 'answer', 'TCP whose first byte happens to be 3');
  assert.equal(tooBigVerdict(v4(1478, { fragOffset: 100 }), 1438), 'no-answer', 'non-first fragment');
  assert.equal(tooBigVerdict(v4(1478, { src: [0, 0, 0, 0] }), 1438), 'no-answer');
  assert.equal(tooBigVerdict(v4(1478, { src: [224, 0, 0, 5] }), 1438), 'no-answer');
  assert.equal(tooBigVerdict(v4(1478, { src: [255, 255, 255, 255] }), 1438), 'no-answer');
  assert.equal(tooBigVerdict(v6(1500, { firstPayloadByte: 1 }), 1418), 'no-answer', 'ICMPv6 error');
  assert.equal(tooBigVerdict(v6(1500, { src: new Array(16).fill(0) }), 1418), 'no-answer');
  assert.equal(tooBigVerdict(v6(1500, { src: [0xff, 2, ...new Array(14).fill(0)] }), 1418), 'no-answer');
  const lying = v4(1478); lying[2] = 0xff; // total length past the buffer
  assert.equal(tooBigVerdict(lying, 1438), 'malformed');
  assert.equal(tooBigVerdict(new Uint8Array([0x45, 0, 0]), 1438), 'malformed');
  assert.equal(tooBigVerdict(new Uint8Array([0x75]), 1438), 'malformed');
  assert.equal(tooBigVerdict(new Uint8Array(0), 1438), 'malformed');
  assert.equal(buildTooBig(v4(1478, { df: false }), 1438), null);
});

test('MtuGuard: too-big DF packets are dropped and answered, rate-limited; others pass', () => {
  const replies: Uint8Array[] = [];
  let now = 1_000_000;
  const g = new MtuGuard({ mtu: 1438, reply: (p) => replies.push(p), icmpPerSecond: 2, now: () => now });
  assert.equal(g.outbound(v4(1400)), true);
  assert.equal(g.outbound(v4(1478, { df: false })), true, 'no DF: sent, fragmented outside');
  for (let i = 0; i < 6; i++) assert.equal(g.outbound(v4(1478)), false);
  assert.equal(replies.length, 4, 'burst of twice the rate');
  assert.equal(g.counters.tooBig, 6);
  assert.equal(g.counters.icmpRateLimited, 2);
  now += 1000;
  assert.equal(g.outbound(v6(1500)), false);
  assert.equal(replies.length, 5, 'refilled after a second');
  assert.equal(replies[4]![40], 2);
  assert.equal(g.outbound(v4(1478, { firstPayloadByte: 3 })), false, 'too big ICMP error: dropped, not answered');
  assert.equal(replies.length, 5);
  const throwing = new MtuGuard({ mtu: 1438, reply: () => { throw Object.assign(new Error('down'), { code: 'EIO' }); } });
  assert.equal(throwing.outbound(v4(1478)), false, 'a failing TUN write does not throw out');
});

/** A pcap file (LINKTYPE_RAW = 101) of IP packets. */
function pcap(packets: Uint8Array[]): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0); head.writeUInt16LE(2, 4); head.writeUInt16LE(4, 6);
  head.writeUInt32LE(65535, 16); head.writeUInt32LE(101, 20);
  const parts: Buffer[] = [head];
  for (const p of packets) {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(p.length, 8); h.writeUInt32LE(p.length, 12);
    parts.push(h, Buffer.from(p));
  }
  return Buffer.concat(parts);
}

test('tshark dissects both answers with good checksums and the MTUs', (t) => {
  if (!requireEnv(t, { cmds: ['tshark'] })) return;
  const dir = mkdtempSync(join(tmpdir(), 'outpost-icmp-'));
  try {
    const file = join(dir, 'icmp.pcap');
    writeFileSync(file, pcap([buildTooBig(v4(1478), 1438)!, buildTooBig(v6(1500), 1418)!]));
    const out = execFileSync('tshark', ['-n', '-r', file, '-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(out, /Type: 3 \(Destination unreachable\)/);
    assert.match(out, /Code: 4 \(Fragmentation needed\)/);
    assert.match(out, /MTU of next hop: 1438/);
    assert.match(out, /Type: Packet Too Big \(2\)/);
    assert.match(out, /MTU: 1418/);
    assert.doesNotMatch(out, /[Bb]ad|incorrect/, 'no bad checksum');
    assert.match(out, /Checksum: 0x[0-9a-f]{4} \[correct\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
