// EAP payload (RFC 7296 3.16): one EAP message (RFC 3748), kept raw. Outpost does not run EAP;
// this module exists so such a payload parses (and its own Length field is checked) or is skipped.
import { PayloadType } from '../constants.ts';
import { syntaxError } from '../errors.ts';

export interface EapPayload {
  type: PayloadType.EAP;
  /** The whole EAP message: Code, Identifier, Length, [Type, Data]. */
  data: Buffer;
}

export function decodeEap(body: Buffer): EapPayload {
  if (body.length < 4) throw syntaxError(`EAP: message of ${body.length} bytes`);
  const len = body.readUInt16BE(2);
  if (len !== body.length) throw syntaxError(`EAP: length field ${len} but payload has ${body.length} bytes`);
  return { type: PayloadType.EAP, data: Buffer.from(body) };
}

export function encodeEap(e: EapPayload): Buffer {
  return Buffer.from(e.data);
}

const EAP_CODES: Record<number, string> = { 1: 'REQ', 2: 'RES', 3: 'SUCC', 4: 'FAIL' };
const EAP_TYPES: Record<number, string> = { 1: 'ID', 2: 'NTF', 3: 'NAK', 4: 'MD5', 6: 'GTC', 13: 'TLS', 18: 'SIM', 21: 'TTLS', 23: 'AKA', 25: 'PEAP', 26: 'MSCHAPV2' };

/** "EAP/REQ/ID" style summary for logs, as strongSwan prints it. */
export function describeEap(e: EapPayload): string {
  const code = EAP_CODES[e.data[0] ?? 0] ?? String(e.data[0]);
  const type = e.data[4];
  return type === undefined ? `EAP/${code}` : `EAP/${code}/${EAP_TYPES[type] ?? type}`;
}
