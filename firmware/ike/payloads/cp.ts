// Configuration payload (RFC 7296 3.15): CFG type, three reserved bytes, then attributes
// (reserved bit + 15-bit type, length, value). Values are kept raw.
import { PayloadType, type CfgType } from '../constants.ts';
import { Reader, checkRange, u16, u8 } from './reader.ts';

export interface CpAttribute {
  type: number;
  value: Buffer;
}

export interface CpPayload {
  type: PayloadType.CP;
  cfgType: CfgType;
  attributes: CpAttribute[];
}

export function decodeCp(body: Buffer): CpPayload {
  const r = new Reader(body, 'CP');
  const cfgType = r.u8('CFG type');
  r.skip(3, 'reserved');
  const attributes: CpAttribute[] = [];
  while (r.remaining > 0) {
    const type = r.u16('attribute type') & 0x7fff; // the R bit is ignored on receipt
    const len = r.u16('attribute length');
    attributes.push({ type, value: r.bytes(len, 'attribute value') });
  }
  return { type: PayloadType.CP, cfgType, attributes };
}

export function encodeCp(cp: CpPayload): Buffer {
  const parts: Buffer[] = [u8(cp.cfgType, 'CFG type'), Buffer.alloc(3)];
  for (const a of cp.attributes) parts.push(u16(checkRange(a.type, 0x7fff, 'CP attribute type'), 'type'), u16(a.value.length, 'length'), a.value);
  return Buffer.concat(parts);
}
