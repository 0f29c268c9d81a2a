// Security policy lookup for the data plane: traffic selectors compiled to numeric ranges so the
// per-packet check is a few comparisons. IPv4 ranges are plain numbers; IPv6 compares bytes.
import { TsType } from '../ike/constants.ts';
import type { TrafficSelector } from '../ike/payloads/ts.ts';
import type { IpFlow } from './ip-packet.ts';

interface Range { v: 4 | 6; lo: number; hi: number; lo6: Buffer; hi6: Buffer; proto: number; pLo: number; pHi: number }

const num = (b: Buffer) => b.readUInt32BE(0);

export function compileSelector(ts: TrafficSelector): Range {
  const v = ts.tsType === TsType.IPV4_ADDR_RANGE ? 4 : 6;
  return {
    v,
    lo: v === 4 ? num(ts.startAddress) : 0,
    hi: v === 4 ? num(ts.endAddress) : 0,
    lo6: ts.startAddress, hi6: ts.endAddress,
    proto: ts.ipProtocol, pLo: ts.startPort, pHi: ts.endPort,
  };
}

function inRange(r: Range, version: 4 | 6, addr: number | Uint8Array, proto: number, port: number): boolean {
  if (r.v !== version) return false;
  if (version === 4) {
    const a = addr as number;
    if (a < r.lo || a > r.hi) return false;
  } else {
    const a = addr as Uint8Array;
    if (Buffer.compare(a, r.lo6) < 0 || Buffer.compare(a, r.hi6) > 0) return false;
  }
  if (r.proto !== 0 && r.proto !== proto) return false;
  return (r.pLo === 0 && r.pHi === 65535) || (port >= r.pLo && port <= r.pHi);
}

// A plain loop rather than Array.some with a closure: this runs twice per packet.
function anyInRange(rs: Range[], version: 4 | 6, addr: number | Uint8Array, proto: number, port: number): boolean {
  for (let i = 0; i < rs.length; i++) if (inRange(rs[i]!, version, addr, proto, port)) return true;
  return false;
}

/** The pair of selector lists one CHILD_SA protects, from our point of view. */
export class SelectorPair {
  private readonly local: Range[];
  private readonly remote: Range[];
  constructor(local: TrafficSelector[], remote: TrafficSelector[]) {
    this.local = local.map(compileSelector);
    this.remote = remote.map(compileSelector);
  }
  /** A packet from the LAN, to be sent through this SA. */
  matchesOutbound(f: IpFlow): boolean {
    return anyInRange(this.local, f.version, f.src, f.protocol, f.srcPort) &&
      anyInRange(this.remote, f.version, f.dst, f.protocol, f.dstPort);
  }
  /** A packet that came out of this SA, to be written to the LAN (RFC 4301 5.2 inbound check). */
  matchesInbound(f: IpFlow): boolean {
    return anyInRange(this.remote, f.version, f.src, f.protocol, f.srcPort) &&
      anyInRange(this.local, f.version, f.dst, f.protocol, f.dstPort);
  }
}
