// Traffic Selector payloads TSi/TSr (RFC 7296 3.13): a count, three reserved bytes, then
// selectors of IPv4 (16 bytes) or IPv6 (40 bytes) address ranges with protocol and port range.
// Unknown selector types are rejected with kind 'unknown-ts-type' (the exchange answers
// TS_UNACCEPTABLE), since silently dropping e.g. a security label would widen the policy.
// CIDR helpers and formatting live in ../selectors.ts.
import { NotifyType, PayloadType, TsType } from '../constants.ts';
import { IkeDecodeError, syntaxError } from '../errors.ts';
import { Reader, u16, u8 } from './reader.ts';

export interface TrafficSelector {
  tsType: TsType;
  /** IP protocol number, 0 = any. */
  ipProtocol: number;
  startPort: number;
  endPort: number;
  /** 4 bytes (IPv4) or 16 bytes (IPv6), network order. */
  startAddress: Buffer;
  endAddress: Buffer;
}

export interface TsPayload {
  type: PayloadType.TSi | PayloadType.TSr;
  selectors: TrafficSelector[];
}

const ADDR_BYTES: Record<number, number> = { [TsType.IPV4_ADDR_RANGE]: 4, [TsType.IPV6_ADDR_RANGE]: 16 };

export function decodeTs(body: Buffer, type: PayloadType.TSi | PayloadType.TSr = PayloadType.TSi): TsPayload {
  const r = new Reader(body, 'TS');
  const count = r.u8('number of TSs');
  r.skip(3, 'reserved');
  const selectors: TrafficSelector[] = [];
  for (let i = 0; i < count; i++) {
    const tsType = r.u8('TS type');
    const ipProtocol = r.u8('IP protocol');
    const len = r.u16('selector length');
    const addrBytes = ADDR_BYTES[tsType];
    if (addrBytes === undefined) {
      throw new IkeDecodeError('unknown-ts-type', NotifyType.TS_UNACCEPTABLE, `unknown traffic selector type ${tsType}`, Buffer.from([tsType]));
    }
    if (len !== 8 + 2 * addrBytes) throw syntaxError(`TS: selector length ${len} for type ${tsType}`);
    const startPort = r.u16('start port');
    const endPort = r.u16('end port');
    const startAddress = r.bytes(addrBytes, 'start address');
    const endAddress = r.bytes(addrBytes, 'end address');
    selectors.push({ tsType, ipProtocol, startPort, endPort, startAddress, endAddress });
  }
  r.end();
  return { type, selectors };
}

export function encodeTs(ts: TsPayload): Buffer {
  const parts: Buffer[] = [u8(ts.selectors.length, 'number of TSs'), Buffer.alloc(3)];
  for (const s of ts.selectors) {
    const addrBytes = ADDR_BYTES[s.tsType];
    if (addrBytes === undefined) throw new RangeError(`TS type ${s.tsType}`);
    if (s.startAddress.length !== addrBytes || s.endAddress.length !== addrBytes) throw new RangeError('TS address length');
    parts.push(u8(s.tsType, 'TS type'), u8(s.ipProtocol, 'IP protocol'), u16(8 + 2 * addrBytes, 'length'),
      u16(s.startPort, 'start port'), u16(s.endPort, 'end port'), s.startAddress, s.endAddress);
  }
  return Buffer.concat(parts);
}
