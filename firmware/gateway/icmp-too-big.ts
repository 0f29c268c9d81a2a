// "Too big for the tunnel" answers, built the way a router builds them: ICMPv4 Destination
// Unreachable / Fragmentation Needed with the next-hop MTU (RFC 792, RFC 1191) for an IPv4 packet
// with DF set, ICMPv6 Packet Too Big (RFC 4443 3.2) for IPv6. Outpost writes them to the TUN so
// the kernel delivers them to the sender, whose path MTU discovery then sends smaller packets.
//
// The answer's source is the original packet's destination: it arrives from the tunnel's side, so
// the kernel's reverse-path filter accepts it (a packet from the box's own LAN address arriving on
// the TUN would be dropped as martian), and the sender files the MTU under the right destination.

const ICMP = 1;
const ICMPV6 = 58;
/** RFC 1812 4.3.2.3: an ICMPv4 error carries as much of the original as fits in 576 bytes. */
const V4_MAX_ERROR = 576;
/** RFC 4443 2.4(c): an ICMPv6 error must not exceed the minimum IPv6 MTU. */
const V6_MAX_ERROR = 1280;
export const IPV6_MIN_MTU = 1280;

/** The 16-bit one's complement sum of `p[from..to)`, folded (not inverted). */
export function onesSum(p: Uint8Array, from: number, to: number, init = 0): number {
  let s = init;
  let i = from;
  for (; i + 1 < to; i += 2) s += (p[i]! << 8) | p[i + 1]!;
  if (i < to) s += p[i]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Internet checksum of `p[from..to)` (the inverted sum). */
export function internetChecksum(p: Uint8Array, from: number, to: number, init = 0): number {
  return ~onesSum(p, from, to, init) & 0xffff;
}

function put16(p: Uint8Array, at: number, v: number): void {
  p[at] = (v >>> 8) & 0xff;
  p[at + 1] = v & 0xff;
}

/** Why no answer is due (or 'answer'): exposed so tests and counters can tell the cases apart. */
export type TooBigVerdict = 'fits' | 'answer' | 'may-fragment' | 'no-answer' | 'malformed';

/**
 * What to do with an outbound packet of this size: it fits; it needs an answer (IPv4 with DF,
 * IPv6); it may be sent anyway and fragmented outside (IPv4 without DF, or an IPv6 tunnel MTU
 * below the IPv6 minimum); or it is too big but must not be answered (ICMP errors, non-first
 * fragments, packets from multicast/unspecified sources: RFC 1122 3.2.2, RFC 4443 2.4(e)).
 */
export function tooBigVerdict(p: Uint8Array, mtu: number): TooBigVerdict {
  if (p.length < 1) return 'malformed';
  const v = p[0]! >> 4;
  if (v === 4) {
    if (p.length < 20) return 'malformed';
    const ihl = (p[0]! & 0x0f) * 4;
    const total = (p[2]! << 8) | p[3]!;
    if (ihl < 20 || total < ihl || total > p.length) return 'malformed';
    if (total <= mtu) return 'fits';
    if ((p[6]! & 0x40) === 0) return 'may-fragment';
    if ((((p[6]! & 0x1f) << 8) | p[7]!) !== 0) return 'no-answer';
    const src0 = p[12]!;
    if (src0 === 0 || src0 >= 224 || src0 === 127) return 'no-answer';
    if ((p[12]! & p[13]! & p[14]! & p[15]!) === 0xff) return 'no-answer';
    if (p[9] === ICMP && total >= ihl + 1 && isIcmpV4Error(p[ihl]!)) return 'no-answer';
    return 'answer';
  }
  if (v === 6) {
    if (p.length < 40) return 'malformed';
    const total = 40 + ((p[4]! << 8) | p[5]!);
    if (total > p.length) return 'malformed';
    if (total <= mtu) return 'fits';
    if (mtu < IPV6_MIN_MTU) return 'may-fragment';
    if (p[8] === 0xff || isUnspecified(p, 8)) return 'no-answer';
    if (p[6] === ICMPV6 && total >= 41 && p[40]! < 128) return 'no-answer';
    return 'answer';
  }
  return 'malformed';
}

function isIcmpV4Error(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

function isUnspecified(p: Uint8Array, at: number): boolean {
  for (let i = 0; i < 16; i++) if (p[at + i] !== 0) return false;
  return true;
}

/**
 * The ICMP answer for a packet too big for `mtu`, or null when none is due (see tooBigVerdict).
 * IPv4: type 3 code 4 with the next-hop MTU; IPv6: Packet Too Big with max(mtu, 1280).
 */
export function buildTooBig(p: Uint8Array, mtu: number): Uint8Array | null {
  if (tooBigVerdict(p, mtu) !== 'answer') return null;
  return p[0]! >> 4 === 4 ? fragNeededV4(p, mtu) : packetTooBigV6(p, mtu);
}

function fragNeededV4(p: Uint8Array, mtu: number): Uint8Array {
  const total = (p[2]! << 8) | p[3]!;
  const quoted = Math.min(total, V4_MAX_ERROR - 28);
  const out = new Uint8Array(28 + quoted);
  out[0] = 0x45;
  out[1] = 0xc0; // internetwork control, as routers send errors
  put16(out, 2, out.length);
  out[8] = 64; // TTL
  out[9] = ICMP;
  out.set(p.subarray(16, 20), 12); // from the original destination
  out.set(p.subarray(12, 16), 16); // to the original source
  put16(out, 10, internetChecksum(out, 0, 20));
  out[20] = 3; // destination unreachable
  out[21] = 4; // fragmentation needed and DF set
  put16(out, 26, Math.min(mtu, 0xffff)); // next-hop MTU (RFC 1191)
  out.set(p.subarray(0, quoted), 28);
  put16(out, 22, internetChecksum(out, 20, out.length));
  return out;
}

function packetTooBigV6(p: Uint8Array, mtu: number): Uint8Array {
  const total = 40 + ((p[4]! << 8) | p[5]!);
  const quoted = Math.min(total, V6_MAX_ERROR - 48);
  const out = new Uint8Array(48 + quoted);
  out[0] = 0x60;
  put16(out, 4, 8 + quoted);
  out[6] = ICMPV6;
  out[7] = 64; // hop limit
  out.set(p.subarray(24, 40), 8); // from the original destination
  out.set(p.subarray(8, 24), 24); // to the original source
  out[40] = 2; // packet too big
  out[41] = 0;
  const m = Math.max(mtu, IPV6_MIN_MTU);
  out[44] = (m >>> 24) & 0xff;
  out[45] = (m >>> 16) & 0xff;
  out[46] = (m >>> 8) & 0xff;
  out[47] = m & 0xff;
  out.set(p.subarray(0, quoted), 48);
  // Pseudo-header (RFC 8200 8.1): addresses, upper-layer length, next header.
  let s = onesSum(out, 8, 40);
  s = onesSum(new Uint8Array([0, 0, (out.length - 40) >>> 8, (out.length - 40) & 0xff, 0, 0, 0, ICMPV6]), 0, 8, s);
  put16(out, 42, internetChecksum(out, 40, out.length, s));
  return out;
}
