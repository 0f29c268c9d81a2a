// MSS clamping: SYNs built here with a from-scratch checksum; after clamping, the checksum the
// incremental update left must equal a full recomputation, for the MSS option at even and odd
// offsets, IPv4 and IPv6; everything that is not a SYN with a large MSS stays byte-identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clampMss, isTcpSyn, mssForMtu, readMss, patch16 } from '../../../firmware/gateway/mss-clamp.ts';
import { MtuGuard } from '../../../firmware/gateway/mtu-guard.ts';

function sum16(bytes: number[]): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) s += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** A TCP segment with the given flags and options in an IPv4 or IPv6 packet, checksums right. */
export function tcpPacket(o: { v: 4 | 6; flags: number; options: number[]; payload?: number[] }): Uint8Array {
  const opts = [...o.options];
  while (opts.length % 4) opts.push(0);
  const tcpLen = 20 + opts.length + (o.payload?.length ?? 0);
  const tcp = [0x9c, 0x40, 0x00, 0x50, 1, 2, 3, 4, 0, 0, 0, 0, ((20 + opts.length) / 4) << 4, o.flags, 0xfa, 0xf0, 0, 0, 0, 0, ...opts, ...(o.payload ?? [])];
  let ip: number[];
  let pseudo: number[];
  if (o.v === 4) {
    const total = 20 + tcpLen;
    ip = [0x45, 0, total >> 8, total & 0xff, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 1, 0, 2, 10, 2, 0, 2];
    const c = ~sum16(ip) & 0xffff;
    ip[10] = c >> 8; ip[11] = c & 0xff;
    pseudo = [10, 1, 0, 2, 10, 2, 0, 2, 0, 6, tcpLen >> 8, tcpLen & 0xff];
  } else {
    const src = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const dst = [0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    ip = [0x60, 0, 0, 0, tcpLen >> 8, tcpLen & 0xff, 6, 64, ...src, ...dst];
    pseudo = [...src, ...dst, 0, 0, tcpLen >> 8, tcpLen & 0xff, 0, 0, 0, 6];
  }
  const c = ~sum16([...pseudo, ...tcp]) & 0xffff;
  tcp[16] = c >> 8; tcp[17] = c & 0xff;
  return Uint8Array.from([...ip, ...tcp]);
}

/** True when the TCP checksum verifies (sum over pseudo-header and segment is 0xffff). */
function tcpChecksumOk(p: Uint8Array): boolean {
  const b = [...p];
  if (p[0]! >> 4 === 4) {
    const tcp = b.slice(20);
    return sum16([...b.slice(12, 20), 0, 6, tcp.length >> 8, tcp.length & 0xff, ...tcp]) === 0xffff;
  }
  const tcp = b.slice(40);
  return sum16([...b.slice(8, 40), 0, 0, tcp.length >> 8, tcp.length & 0xff, 0, 0, 0, 6, ...tcp]) === 0xffff;
}

const SYN = 0x02, ACK = 0x10;
const MSS = (v: number) => [2, 4, v >> 8, v & 0xff];

test('mssForMtu: 40 bytes of headers for IPv4, 60 for IPv6', () => {
  assert.equal(mssForMtu(1438, 4), 1398);
  assert.equal(mssForMtu(1438, 6), 1378);
  assert.equal(mssForMtu(30, 4), 0);
});

for (const v of [4, 6] as const) {
  test(`IPv${v} SYN: MSS 1460 clamped to 1398, checksum still valid (even offset)`, () => {
    const p = tcpPacket({ v, flags: SYN, options: [...MSS(1460), 1, 1, 4, 2] });
    assert.ok(tcpChecksumOk(p), 'built right');
    assert.equal(clampMss(p, 1398), 1460);
    assert.equal(readMss(p), 1398);
    assert.ok(tcpChecksumOk(p), 'checksum after clamp');
  });

  test(`IPv${v} SYN-ACK with the MSS at an odd offset (after one NOP): checksum still valid`, () => {
    for (const mss of [1460, 65535, 1399, 9000, 0xff00, 0x10ff]) {
      const p = tcpPacket({ v, flags: SYN | ACK, options: [1, ...MSS(mss), 1, 1, 1], payload: [] });
      assert.ok(tcpChecksumOk(p));
      assert.equal(clampMss(p, 1398), mss);
      assert.equal(readMss(p), 1398);
      assert.ok(tcpChecksumOk(p), `checksum after clamping ${mss}`);
    }
  });
}

test('left alone: small MSS, no MSS option, not a SYN, not TCP, malformed options, truncated', () => {
  const cases: Array<[string, Uint8Array]> = [
    ['MSS already small', tcpPacket({ v: 4, flags: SYN, options: MSS(1200) })],
    ['no MSS option', tcpPacket({ v: 4, flags: SYN, options: [1, 1, 4, 2] })],
    ['ACK with an MSS-looking option', tcpPacket({ v: 4, flags: ACK, options: MSS(1460) })],
    ['option length running past the header', tcpPacket({ v: 4, flags: SYN, options: [8, 40, 0, 0, ...MSS(1460)] })],
    ['option length 0', tcpPacket({ v: 4, flags: SYN, options: [8, 0, ...MSS(1460)] })],
    ['end-of-options before MSS', tcpPacket({ v: 4, flags: SYN, options: [0, 0, 0, 0, ...MSS(1460)] })],
    ['MSS option of length 3', tcpPacket({ v: 4, flags: SYN, options: [2, 3, 5, 0] })],
  ];
  const udp = tcpPacket({ v: 4, flags: SYN, options: MSS(1460) });
  udp[9] = 17;
  cases.push(['UDP', udp]);
  const frag = tcpPacket({ v: 4, flags: SYN, options: MSS(1460) });
  frag[7] = 8; // fragment offset 64 bytes
  cases.push(['non-first fragment', frag]);
  const full = tcpPacket({ v: 4, flags: SYN, options: MSS(1460) });
  cases.push(['truncated below the TCP header', full.subarray(0, 30)]);
  cases.push(['IP total length below the TCP header', (() => { const p = Uint8Array.from(full); p[3] = 30; return p; })()]);
  cases.push(['data offset past the datagram', (() => { const p = Uint8Array.from(full); p[32] = 0xf0; return p; })()]);
  cases.push(['empty', new Uint8Array(0)]);
  for (const [what, p] of cases) {
    const before = Uint8Array.from(p);
    assert.equal(clampMss(p, 1398), 0, what);
    assert.deepEqual(p, before, `${what}: unchanged`);
  }
});

test('isTcpSyn and readMss', () => {
  assert.equal(isTcpSyn(tcpPacket({ v: 6, flags: SYN | ACK, options: MSS(1440) })), true);
  assert.equal(isTcpSyn(tcpPacket({ v: 6, flags: ACK, options: [] })), false);
  assert.equal(readMss(tcpPacket({ v: 4, flags: SYN, options: [1, 3, 3, 7, ...MSS(536)] })), 536);
  assert.equal(readMss(tcpPacket({ v: 4, flags: SYN, options: [] })), undefined);
});

test('patch16: incremental update equals recomputation for random fields and offsets (seeded)', () => {
  let seed = 0x1234;
  const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed >>> 16; };
  for (let n = 0; n < 2000; n++) {
    const len = 8 + (rnd() % 64);
    const data = Array.from({ length: len }, () => rnd() & 0xff);
    data[0] = 0; data[1] = 0; // checksum field at 0
    const c = ~sum16(data) & 0xffff;
    data[0] = c >> 8; data[1] = c & 0xff;
    const p = Uint8Array.from(data);
    const at = 2 + (rnd() % (len - 3));
    patch16(p, 0, 0, at, rnd());
    assert.equal(sum16([...p]), 0xffff, `len ${len} at ${at}`);
  }
});

test('MtuGuard clamps outbound and inbound SYNs to its MTU and counts them', () => {
  const g = new MtuGuard({ mtu: 1438, reply: () => {} });
  const out = tcpPacket({ v: 4, flags: SYN, options: MSS(1460) });
  assert.equal(g.outbound(out), true);
  assert.equal(readMss(out), 1398);
  const back = tcpPacket({ v: 6, flags: SYN | ACK, options: MSS(1440) });
  g.inbound(back);
  assert.equal(readMss(back), 1378);
  assert.ok(tcpChecksumOk(out) && tcpChecksumOk(back));
  assert.equal(g.counters.mssClampedOut, 1);
  assert.equal(g.counters.mssClampedIn, 1);
  g.mtu = 1280;
  const again = tcpPacket({ v: 4, flags: SYN, options: MSS(1460) });
  g.outbound(again);
  assert.equal(readMss(again), 1240);
  assert.throws(() => { g.mtu = 20; }, RangeError);
});
