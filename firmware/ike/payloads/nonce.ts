// Nonce payload (RFC 7296 3.9): 16 to 256 bytes of random data.
import { PayloadType } from '../constants.ts';
import { syntaxError } from '../errors.ts';

export const MIN_NONCE = 16;
export const MAX_NONCE = 256;

export interface NoncePayload {
  type: PayloadType.NONCE;
  data: Buffer;
}

export function decodeNonce(body: Buffer): NoncePayload {
  if (body.length < MIN_NONCE || body.length > MAX_NONCE) throw syntaxError(`nonce of ${body.length} bytes (16..256 allowed)`);
  return { type: PayloadType.NONCE, data: Buffer.from(body) };
}

export function encodeNonce(n: NoncePayload): Buffer {
  if (n.data.length < MIN_NONCE || n.data.length > MAX_NONCE) throw new RangeError(`nonce of ${n.data.length} bytes`);
  return Buffer.from(n.data);
}
