// Just enough of an inner IP header to route a packet to its SA: version, addresses, protocol
// and ports. Reads in place (no copies): this runs for every packet.

export interface IpFlow {
  version: 4 | 6;
  /** Source and destination as numbers (IPv4) or 16-byte views (IPv6). */
  src: number | Uint8Array;
  dst: number | Uint8Array;
  protocol: number;
  srcPort: number;
  dstPort: number;
}

const PORTS = new Set([6, 17, 132, 136]); // TCP, UDP, SCTP, UDP-Lite carry ports at offset 0/2

/** Returns null for a packet too short or of another version. Ports are 0 for non-first fragments. */
export function parseFlow(p: Uint8Array): IpFlow | null {
  if (p.length < 1) return null;
  const v = p[0]! >> 4;
  if (v === 4) {
    if (p.length < 20) return null;
    const ihl = (p[0]! & 0x0f) * 4;
    if (ihl < 20 || p.length < ihl) return null;
    const protocol = p[9]!;
    const fragOffset = ((p[6]! & 0x1f) << 8) | p[7]!;
    let srcPort = 0, dstPort = 0;
    if (PORTS.has(protocol) && fragOffset === 0 && p.length >= ihl + 4) {
      srcPort = (p[ihl]! << 8) | p[ihl + 1]!;
      dstPort = (p[ihl + 2]! << 8) | p[ihl + 3]!;
    }
    return {
      version: 4,
      src: ((p[12]! << 24) | (p[13]! << 16) | (p[14]! << 8) | p[15]!) >>> 0,
      dst: ((p[16]! << 24) | (p[17]! << 16) | (p[18]! << 8) | p[19]!) >>> 0,
      protocol, srcPort, dstPort,
    };
  }
  if (v === 6) {
    if (p.length < 40) return null;
    const protocol = p[6]!; // extension headers are not walked: selectors on ports then see 0
    let srcPort = 0, dstPort = 0;
    if (PORTS.has(protocol) && p.length >= 44) {
      srcPort = (p[40]! << 8) | p[41]!;
      dstPort = (p[42]! << 8) | p[43]!;
    }
    return { version: 6, src: p.subarray(8, 24), dst: p.subarray(24, 40), protocol, srcPort, dstPort };
  }
  return null;
}
