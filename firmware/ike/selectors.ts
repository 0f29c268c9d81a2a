// Traffic selector arithmetic: from CIDR prefixes, intersection for narrowing (RFC 7296 2.9),
// and formatting for logs and status ("10.1.0.0/24", "10.1.0.5-10.1.0.9[tcp/443]").
import { isIPv4, isIPv6 } from 'node:net';
import { TsType } from './constants.ts';
import type { TrafficSelector } from './payloads/ts.ts';
import { ipv6Bytes, ipv6Text } from './payloads/id.ts';

export function addressBytes(text: string): Buffer {
  if (isIPv4(text)) return Buffer.from(text.split('.').map(Number));
  if (isIPv6(text)) return ipv6Bytes(text);
  throw new RangeError(`not an IP address: ${text}`);
}

export function addressText(b: Uint8Array): string {
  return b.length === 4 ? Array.from(b).join('.') : ipv6Text(Buffer.from(b));
}

/** A selector covering a whole prefix, any protocol and port. */
export function selectorFromCidr(cidr: string): TrafficSelector {
  const [addr, lenText] = cidr.split('/');
  const start = addressBytes(addr ?? '');
  const bits = start.length * 8;
  const len = lenText === undefined ? bits : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > bits) throw new RangeError(`bad prefix length in ${cidr}`);
  const end = Buffer.from(start);
  for (let i = 0; i < start.length; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
    start[i] = start[i]! & mask;
    end[i] = (end[i]! & mask) | (~mask & 0xff);
  }
  return { tsType: start.length === 4 ? TsType.IPV4_ADDR_RANGE : TsType.IPV6_ADDR_RANGE, ipProtocol: 0, startPort: 0, endPort: 65535, startAddress: start, endAddress: end };
}

/** A selector for exactly one address (used by the initiator's first TS, RFC 7296 2.9). */
export function selectorForHost(address: string): TrafficSelector {
  return selectorFromCidr(address);
}

const maxBuf = (a: Buffer, b: Buffer) => (Buffer.compare(a, b) >= 0 ? a : b);
const minBuf = (a: Buffer, b: Buffer) => (Buffer.compare(a, b) <= 0 ? a : b);

/** The intersection of two selectors, or null when they do not overlap. */
export function intersect(a: TrafficSelector, b: TrafficSelector): TrafficSelector | null {
  if (a.tsType !== b.tsType) return null;
  if (a.ipProtocol !== 0 && b.ipProtocol !== 0 && a.ipProtocol !== b.ipProtocol) return null;
  const startPort = Math.max(a.startPort, b.startPort), endPort = Math.min(a.endPort, b.endPort);
  if (startPort > endPort) return null;
  const startAddress = maxBuf(a.startAddress, b.startAddress), endAddress = minBuf(a.endAddress, b.endAddress);
  if (Buffer.compare(startAddress, endAddress) > 0) return null;
  return { tsType: a.tsType, ipProtocol: a.ipProtocol || b.ipProtocol, startPort, endPort, startAddress: Buffer.from(startAddress), endAddress: Buffer.from(endAddress) };
}

/**
 * Narrowing as a responder (RFC 7296 2.9): every intersection of what the peer proposed with
 * what we allow. The peer's first selector may be a single host (the packet that triggered it);
 * the rest is what it wants. Empty result means TS_UNACCEPTABLE.
 */
export function narrow(proposed: TrafficSelector[], allowed: TrafficSelector[]): TrafficSelector[] {
  const out: TrafficSelector[] = [];
  for (const p of proposed) {
    for (const a of allowed) {
      const i = intersect(p, a);
      if (i && !out.some((o) => sameSelector(o, i))) out.push(i);
    }
  }
  // A selector inside a wider one adds nothing (equal ones were already skipped above).
  return out.filter((s, i) => !out.some((o, j) => j !== i && covers(o, s)));
}

export function covers(outer: TrafficSelector, inner: TrafficSelector): boolean {
  return outer.tsType === inner.tsType &&
    (outer.ipProtocol === 0 || outer.ipProtocol === inner.ipProtocol) &&
    outer.startPort <= inner.startPort && outer.endPort >= inner.endPort &&
    Buffer.compare(outer.startAddress, inner.startAddress) <= 0 && Buffer.compare(outer.endAddress, inner.endAddress) >= 0;
}

export function sameSelector(a: TrafficSelector, b: TrafficSelector): boolean {
  return covers(a, b) && covers(b, a);
}

/** Every selector in `inner` lies within some selector of `outer` (the initiator's check of a narrowed answer). */
export function allCovered(inner: TrafficSelector[], outer: TrafficSelector[]): boolean {
  return inner.every((i) => outer.some((o) => covers(o, i)));
}

const PROTO: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'ipv6-icmp', 132: 'sctp' };

/**
 * The prefix length when start..end is exactly one prefix, else -1: the two agree up to some bit,
 * and from there start has only zeros and end only ones. (Bit by bit: this runs for every CHILD_SA
 * that comes up, where trying each length through selectorFromCidr cost 0.3 ms for IPv4 and 3 ms
 * for IPv6 per selector.)
 */
export function prefixLength(start: Uint8Array, end: Uint8Array): number {
  if (start.length !== end.length) return -1;
  const bits = start.length * 8;
  const bit = (b: Uint8Array, i: number) => (b[i >> 3]! >> (7 - (i & 7))) & 1;
  let len = 0;
  while (len < bits && bit(start, len) === bit(end, len)) len++;
  for (let i = len; i < bits; i++) if (bit(start, i) !== 0 || bit(end, i) !== 1) return -1;
  return len;
}

/** strongSwan-like text: a prefix when the range is one, else start-end; protocol/ports when narrowed. */
export function formatSelector(ts: TrafficSelector): string {
  const prefix = prefixLength(ts.startAddress, ts.endAddress);
  let s = prefix >= 0 ? `${addressText(ts.startAddress)}/${prefix}` : `${addressText(ts.startAddress)}..${addressText(ts.endAddress)}`;
  if (ts.ipProtocol !== 0 || ts.startPort !== 0 || ts.endPort !== 65535) {
    const proto = ts.ipProtocol === 0 ? '' : PROTO[ts.ipProtocol] ?? String(ts.ipProtocol);
    const ports = ts.startPort === 0 && ts.endPort === 65535 ? '' : ts.startPort === ts.endPort ? `/${ts.startPort}` : `/${ts.startPort}-${ts.endPort}`;
    s += `[${proto}${ports}]`;
  }
  return s;
}

export const formatSelectors = (l: TrafficSelector[]) => l.map(formatSelector).join(' ');
