// Delete payload (RFC 7296 3.11): protocol id, SPI size, number of SPIs, SPIs.
// Deleting the IKE SA uses protocol IKE with no SPIs (they are in the header); ESP/AH use 4-byte SPIs.
import { PayloadType, ProtocolId } from '../constants.ts';
import { syntaxError } from '../errors.ts';
import { Reader, u16, u8 } from './reader.ts';

export interface DeletePayload {
  type: PayloadType.DELETE;
  protocol: ProtocolId;
  spiSize: number;
  spis: Buffer[];
}

export function decodeDelete(body: Buffer): DeletePayload {
  const r = new Reader(body, 'delete');
  const protocol = r.u8('protocol id');
  const spiSize = r.u8('SPI size');
  const count = r.u16('num of SPIs');
  if (protocol === ProtocolId.IKE && (spiSize !== 0 || count !== 0)) throw syntaxError('delete: IKE SA delete carries SPIs');
  if ((protocol === ProtocolId.ESP || protocol === ProtocolId.AH) && spiSize !== 4) throw syntaxError(`delete: SPI size ${spiSize} for ESP/AH`);
  if (spiSize * count !== r.remaining) throw syntaxError(`delete: ${count} SPIs of ${spiSize} bytes but ${r.remaining} bytes left`);
  const spis: Buffer[] = [];
  for (let i = 0; i < count && spiSize > 0; i++) spis.push(r.bytes(spiSize, 'SPI'));
  r.end();
  return { type: PayloadType.DELETE, protocol, spiSize, spis };
}

export function encodeDelete(d: DeletePayload): Buffer {
  for (const s of d.spis) if (s.length !== d.spiSize) throw new RangeError(`delete: SPI of ${s.length} bytes, SPI size ${d.spiSize}`);
  return Buffer.concat([u8(d.protocol, 'protocol id'), u8(d.spiSize, 'SPI size'), u16(d.spis.length, 'num of SPIs'), ...d.spis]);
}
