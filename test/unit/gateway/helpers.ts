// Fakes and packet builders for the data plane's unit tests: a TUN and a UDP transport that
// record what they are given, and IPv4/IPv6 packets with chosen addresses, protocol and ports.
import { isIPv4 } from 'node:net';
import type { ChildSaSpec, Endpoint } from '../../../firmware/ike/actions.ts';
import { addressBytes, selectorFromCidr } from '../../../firmware/ike/selectors.ts';
import type { TrafficSelector } from '../../../firmware/ike/payloads/ts.ts';
import type { EspSender, PacketSink } from '../../../firmware/gateway/dataplane.ts';

export class FakeTun implements PacketSink {
  readonly written: Buffer[] = [];
  /** 'ok', 'full' (write returns false) or an errno code thrown like TunDevice does ('EIO', ...). */
  mode: 'ok' | 'full' | string = 'ok';
  write(pkt: Uint8Array): boolean {
    if (this.mode === 'full') return false;
    if (this.mode !== 'ok') throw Object.assign(new Error(`tun ${this.mode}`), { code: this.mode });
    this.written.push(Buffer.from(pkt));
    return true;
  }
}

export class FakeUdp implements EspSender {
  readonly sent: Array<{ packet: Buffer; to: Endpoint }> = [];
  accept = true;
  sendEsp(packet: Uint8Array, to: Endpoint): boolean {
    if (!this.accept) return false;
    this.sent.push({ packet: Buffer.from(packet), to: { ...to } });
    return true;
  }
  /** Returns and forgets what was sent. */
  take(): Array<{ packet: Buffer; to: Endpoint }> {
    return this.sent.splice(0);
  }
}

/** A manual clock in milliseconds. */
export class Clock {
  t = 1_000_000;
  now = (): number => this.t;
  advance(ms: number): void { this.t += ms; }
}

export interface PacketFields {
  src: string;
  dst: string;
  protocol?: number;
  srcPort?: number;
  dstPort?: number;
  payloadBytes?: number;
}

/** An IPv4 or IPv6 packet (by the address family) with a valid header and a port header when TCP/UDP. */
export function packet(f: PacketFields): Buffer {
  const proto = f.protocol ?? 17;
  const body = Buffer.alloc((proto === 6 || proto === 17 ? 8 : 4) + (f.payloadBytes ?? 32), 0xab);
  if (proto === 6 || proto === 17) {
    body.writeUInt16BE(f.srcPort ?? 40000, 0);
    body.writeUInt16BE(f.dstPort ?? 53, 2);
  }
  if (isIPv4(f.src)) {
    const h = Buffer.alloc(20);
    h[0] = 0x45;
    h.writeUInt16BE(20 + body.length, 2);
    h[8] = 64;
    h[9] = proto;
    addressBytes(f.src).copy(h, 12);
    addressBytes(f.dst).copy(h, 16);
    return Buffer.concat([h, body]);
  }
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(body.length, 4);
  h[6] = proto;
  h[7] = 64;
  addressBytes(f.src).copy(h, 8);
  addressBytes(f.dst).copy(h, 24);
  return Buffer.concat([h, body]);
}

export const ts = (...cidrs: string[]): TrafficSelector[] => cidrs.map(selectorFromCidr);

const spi = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; };

/** A pair of mirrored specs (branch's out is hq's in), AES-256-GCM unless told otherwise. */
export function mirroredSpecs(o: {
  spiBranch: number; spiHq: number; aead?: string; esn?: boolean; ikeId?: string;
  branchTs?: TrafficSelector[]; hqTs?: TrafficSelector[];
  branchEnd?: Endpoint; hqEnd?: Endpoint; keyByte?: number;
}): { branch: ChildSaSpec; hq: ChildSaSpec } {
  const aead = o.aead ?? 'aes256gcm16';
  const keyLen = aead === 'aes128gcm16' ? 20 : aead === 'aes192gcm16' ? 28 : 36;
  const kb = o.keyByte ?? 1;
  const k1 = Buffer.alloc(keyLen, kb), k2 = Buffer.alloc(keyLen, kb + 1);
  const branchTs = o.branchTs ?? ts('10.1.0.0/24'), hqTs = o.hqTs ?? ts('10.2.0.0/24');
  const branchEnd = o.branchEnd ?? { address: '198.51.100.1', port: 4500 };
  const hqEnd = o.hqEnd ?? { address: '198.51.100.2', port: 4500 };
  const common = { ikeId: o.ikeId ?? '0011223344556677', aead, esn: o.esn ?? false };
  return {
    branch: { ...common, spiIn: spi(o.spiBranch), spiOut: spi(o.spiHq), keyIn: k1, keyOut: k2, localTs: branchTs, remoteTs: hqTs, local: branchEnd, remote: hqEnd },
    hq: { ...common, spiIn: spi(o.spiHq), spiOut: spi(o.spiBranch), keyIn: k2, keyOut: k1, localTs: hqTs, remoteTs: branchTs, local: hqEnd, remote: branchEnd },
  };
}
