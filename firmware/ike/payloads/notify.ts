// Notify payload (RFC 7296 3.10): protocol id, SPI size, notify type, SPI, notification data.
import { PayloadType, type NotifyType, type ProtocolId } from '../constants.ts';
import { Reader, u16, u8 } from './reader.ts';

export interface NotifyPayload {
  type: PayloadType.NOTIFY;
  /** 0 when the notification concerns the IKE SA or no SA. */
  protocol: ProtocolId | 0;
  /** Empty for IKE SA notifications; 4 bytes for an ESP/AH SA (e.g. REKEY_SA). */
  spi: Buffer;
  notifyType: NotifyType;
  data: Buffer;
}

export function decodeNotify(body: Buffer): NotifyPayload {
  const r = new Reader(body, 'notify');
  const protocol = r.u8('protocol id');
  const spiSize = r.u8('SPI size');
  const notifyType = r.u16('notify type');
  const spi = r.bytes(spiSize, 'SPI');
  return { type: PayloadType.NOTIFY, protocol, spi, notifyType, data: r.rest() };
}

export function encodeNotify(n: NotifyPayload): Buffer {
  return Buffer.concat([u8(n.protocol, 'protocol id'), u8(n.spi.length, 'SPI size'), u16(n.notifyType, 'notify type'), n.spi, n.data]);
}

/** Builds a Notify payload; most notifications concern the IKE SA and carry no SPI. */
export function makeNotify(notifyType: NotifyType, data: Buffer = Buffer.alloc(0), protocol: ProtocolId | 0 = 0, spi: Buffer = Buffer.alloc(0)): NotifyPayload {
  return { type: PayloadType.NOTIFY, protocol, spi, notifyType, data };
}
