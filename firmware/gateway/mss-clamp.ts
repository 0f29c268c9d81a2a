// TCP MSS clamping for SYNs crossing the tunnel: a SYN (or SYN-ACK) whose MSS option promises
// more than fits the tunnel MTU is rewritten in place and its TCP checksum updated incrementally
// (RFC 1624), so neither end ever sends a segment the tunnel would have to drop or fragment.
// Pure functions over a raw IP packet; every length is checked before it is read.

const TCP = 6;
const SYN = 0x02;
const OPT_END = 0;
const OPT_NOP = 1;
const OPT_MSS = 2;

/** Largest MSS whose segments fit `mtu` (IPv4: 20-byte IP + 20-byte TCP headers; IPv6: 40 + 20). */
export function mssForMtu(mtu: number, version: 4 | 6): number {
  return Math.max(0, mtu - (version === 4 ? 40 : 60));
}

/** Where the TCP header starts in an unfragmented TCP packet, or -1 when the packet is not one
 *  (IPv6 extension headers are not walked: such packets are left alone). */
export function tcpOffset(p: Uint8Array): number {
  if (p.length < 1) return -1;
  const v = p[0]! >> 4;
  if (v === 4) {
    if (p.length < 20) return -1;
    const ihl = (p[0]! & 0x0f) * 4;
    if (ihl < 20 || p[9] !== TCP) return -1;
    if ((((p[6]! & 0x1f) << 8) | p[7]!) !== 0) return -1; // a non-first fragment has no TCP header
    const total = (p[2]! << 8) | p[3]!;
    if (total < ihl + 20 || total > p.length) return -1;
    return ihl;
  }
  if (v === 6) {
    if (p.length < 60 || p[6] !== TCP) return -1;
    const payload = (p[4]! << 8) | p[5]!;
    if (payload < 20 || 40 + payload > p.length) return -1;
    return 40;
  }
  return -1;
}

/** The end of the IP datagram (its length field; a TUN read may carry nothing after it, but be sure). */
function datagramEnd(p: Uint8Array): number {
  return p[0]! >> 4 === 4 ? (p[2]! << 8) | p[3]! : 40 + ((p[4]! << 8) | p[5]!);
}

/** True when `p` is a TCP segment with SYN set (a SYN or a SYN-ACK). */
export function isTcpSyn(p: Uint8Array): boolean {
  const t = tcpOffset(p);
  return t >= 0 && (p[t + 13]! & SYN) !== 0;
}

/** The MSS option of a SYN, or undefined when it has none (or is not a SYN). */
export function readMss(p: Uint8Array): number | undefined {
  const at = findMss(p);
  return at < 0 ? undefined : (p[at]! << 8) | p[at + 1]!;
}

/** Offset of the MSS option's 2-byte value in a SYN, or -1. Malformed options end the search. */
function findMss(p: Uint8Array): number {
  const t = tcpOffset(p);
  if (t < 0 || (p[t + 13]! & SYN) === 0) return -1;
  const hdr = (p[t + 12]! >> 4) * 4;
  const end = t + hdr;
  if (hdr < 20 || end > datagramEnd(p)) return -1;
  let o = t + 20;
  while (o < end) {
    const kind = p[o]!;
    if (kind === OPT_END) return -1;
    if (kind === OPT_NOP) { o++; continue; }
    if (o + 1 >= end) return -1;
    const len = p[o + 1]!;
    if (len < 2 || o + len > end) return -1;
    if (kind === OPT_MSS) return len === 4 ? o + 2 : -1;
    o += len;
  }
  return -1;
}

/** One's complement 16-bit addition. */
function add16(a: number, b: number): number {
  const s = a + b;
  return (s & 0xffff) + (s >>> 16);
}

/**
 * Writes `value` as 16 bits at `at` and updates the 16-bit one's complement checksum at `csum`
 * for it (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')). `base` is where the checksummed data starts:
 * a field at an odd distance from it straddles two checksum words, whose bytes then swap roles.
 */
export function patch16(p: Uint8Array, base: number, csum: number, at: number, value: number): void {
  const odd = (at - base) & 1;
  const oldV = (p[at]! << 8) | p[at + 1]!;
  p[at] = value >> 8;
  p[at + 1] = value & 0xff;
  // In an odd position the field's bytes are the low byte of one word and the high byte of the
  // next: as a one's complement sum that is the byte-swapped value.
  const m = odd ? ((oldV & 0xff) << 8) | (oldV >> 8) : oldV;
  const m2 = odd ? ((value & 0xff) << 8) | (value >> 8) : value;
  const hc = (p[csum]! << 8) | p[csum + 1]!;
  let s = add16(~hc & 0xffff, ~m & 0xffff);
  s = add16(s, m2);
  s = add16(s, 0); // fold a last carry
  const out = ~s & 0xffff;
  p[csum] = out >> 8;
  p[csum + 1] = out & 0xff;
}

/**
 * Lowers the MSS option of a TCP SYN in place to at most `maxMss`. Returns the MSS it had when it
 * changed it, or 0 when the packet was left alone (not a SYN, no MSS option, already small enough).
 */
export function clampMss(p: Uint8Array, maxMss: number): number {
  const at = findMss(p);
  if (at < 0) return 0;
  const mss = (p[at]! << 8) | p[at + 1]!;
  if (mss <= maxMss) return 0;
  const t = tcpOffset(p);
  patch16(p, t, t + 16, at, maxMss);
  return mss;
}
