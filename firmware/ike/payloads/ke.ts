// Key Exchange payload (RFC 7296 3.4): group number, two reserved bytes, public value.
// The per-group length of the public value is checked by the key exchange code, not here.
import { PayloadType, type DhId } from '../constants.ts';
import { Reader, u16 } from './reader.ts';

export interface KePayload {
  type: PayloadType.KE;
  group: DhId;
  data: Buffer;
}

export function decodeKe(body: Buffer): KePayload {
  const r = new Reader(body, 'KE');
  const group = r.u16('group');
  r.skip(2, 'reserved');
  return { type: PayloadType.KE, group, data: r.rest() };
}

export function encodeKe(ke: KePayload): Buffer {
  return Buffer.concat([u16(ke.group, 'group'), Buffer.alloc(2), ke.data]);
}
