// The 28-byte IKE header (RFC 7296 3.1).
//
//   SPIi (8) | SPIr (8) | Next Payload | MjVer/MnVer | Exchange Type | Flags | Message ID (4) | Length (4)
import { ExchangeType, HeaderFlag, IKE_VERSION, NotifyType } from './constants.ts';
import { IkeDecodeError, limitError, syntaxError } from './errors.ts';
import { checkRange } from './payloads/reader.ts';

export const IKE_HEADER_LENGTH = 28;
/** Upper bound on a whole IKE message (UDP cannot carry more); checked before anything is parsed. */
export const MAX_MESSAGE_LENGTH = 65535;

export interface IkeHeader {
  /** Initiator's SPI, 8 bytes. */
  spiI: Buffer;
  /** Responder's SPI, 8 bytes (zero in the first IKE_SA_INIT request). */
  spiR: Buffer;
  exchangeType: ExchangeType;
  /** I flag: sent by the original initiator of the IKE SA. */
  initiator: boolean;
  /** R flag: this message is a response. */
  response: boolean;
  /** V flag: the sender can speak a higher major version (we never set it). */
  higherVersion?: boolean;
  messageId: number;
}

export interface DecodedIkeHeader extends IkeHeader {
  nextPayload: number;
  majorVersion: number;
  minorVersion: number;
  /** The Length field, equal to the datagram length once decodeHeader accepted it. */
  length: number;
}

/**
 * Decodes and checks the header of a whole datagram (without the 4-byte non-ESP marker).
 * Throws IkeDecodeError: 'limit' for oversize, 'syntax' for short input or a Length field that
 * differs from the datagram length, 'major-version' when the major version is not 2.
 */
export function decodeHeader(datagram: Buffer): DecodedIkeHeader {
  if (datagram.length > MAX_MESSAGE_LENGTH) throw limitError(`message of ${datagram.length} bytes exceeds ${MAX_MESSAGE_LENGTH}`);
  if (datagram.length < IKE_HEADER_LENGTH) throw syntaxError(`message of ${datagram.length} bytes is shorter than the IKE header`);
  const version = datagram[17]!;
  const majorVersion = version >> 4;
  if (majorVersion !== IKE_VERSION >> 4) {
    throw new IkeDecodeError('major-version', NotifyType.INVALID_MAJOR_VERSION, `major version ${majorVersion}`);
  }
  const length = datagram.readUInt32BE(24);
  if (length !== datagram.length) throw syntaxError(`header length ${length} but datagram has ${datagram.length} bytes`);
  const flags = datagram[19]!;
  const h: DecodedIkeHeader = {
    spiI: Buffer.from(datagram.subarray(0, 8)),
    spiR: Buffer.from(datagram.subarray(8, 16)),
    nextPayload: datagram[16]!,
    majorVersion,
    minorVersion: version & 0x0f,
    exchangeType: datagram[18]! as ExchangeType,
    initiator: (flags & HeaderFlag.INITIATOR) !== 0,
    response: (flags & HeaderFlag.RESPONSE) !== 0,
    messageId: datagram.readUInt32BE(20),
    length,
  };
  // Reserved flag bits are ignored on receipt (RFC 7296 3.1); V is kept only when set.
  if (flags & HeaderFlag.VERSION) h.higherVersion = true;
  return h;
}

/** Encodes a header with the given next payload and total message length. */
export function encodeHeader(h: IkeHeader, nextPayload: number, length: number): Buffer {
  if (h.spiI.length !== 8 || h.spiR.length !== 8) throw new RangeError('IKE SPIs must be 8 bytes');
  const b = Buffer.alloc(IKE_HEADER_LENGTH);
  h.spiI.copy(b, 0);
  h.spiR.copy(b, 8);
  b[16] = checkRange(nextPayload, 0xff, 'next payload');
  b[17] = IKE_VERSION;
  b[18] = checkRange(h.exchangeType, 0xff, 'exchange type');
  b[19] = (h.initiator ? HeaderFlag.INITIATOR : 0) | (h.response ? HeaderFlag.RESPONSE : 0) | (h.higherVersion ? HeaderFlag.VERSION : 0);
  b.writeUInt32BE(checkRange(h.messageId, 0xffffffff, 'message ID'), 20);
  b.writeUInt32BE(checkRange(length, MAX_MESSAGE_LENGTH, 'message length'), 24);
  return b;
}

/** A short label like strongSwan's: "IKE_AUTH request 1" / "INFORMATIONAL response 9". */
export function describeHeader(h: IkeHeader): string {
  const ex = ExchangeType[h.exchangeType] ?? `EXCHANGE_${h.exchangeType}`;
  return `${ex} ${h.response ? 'response' : 'request'} ${h.messageId}`;
}
