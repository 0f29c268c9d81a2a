// Encrypted payload SK (RFC 7296 3.14 with an AEAD per RFC 5282 / RFC 7634): IV, then the
// ciphertext of (inner payloads || padding || pad length), then the ICV. Encryption and the
// associated data are handled by message.ts, which sees the whole datagram.
import { syntaxError } from '../errors.ts';

/** IV and ICV sizes fixed by the project's AEAD contract (firmware/crypto/aead.ts). */
export const SK_IV_BYTES = 8;
export const SK_ICV_BYTES = 16;

export interface SkBody {
  iv: Buffer;
  /** Encrypted (inner payloads || padding || pad length); at least the pad length byte. */
  ciphertext: Buffer;
  icv: Buffer;
}

export function decodeSkBody(body: Buffer, what = 'SK'): SkBody {
  if (body.length < SK_IV_BYTES + 1 + SK_ICV_BYTES) throw syntaxError(`${what}: body of ${body.length} bytes is too short`);
  return {
    iv: Buffer.from(body.subarray(0, SK_IV_BYTES)),
    ciphertext: Buffer.from(body.subarray(SK_IV_BYTES, body.length - SK_ICV_BYTES)),
    icv: Buffer.from(body.subarray(body.length - SK_ICV_BYTES)),
  };
}

export function encodeSkBody(sk: SkBody): Buffer {
  return Buffer.concat([sk.iv, sk.ciphertext, sk.icv]);
}

/**
 * Strips padding from a decrypted SK/SKF plaintext: the last byte is the Pad Length, and the
 * padding it announces must fit (RFC 7296 3.14). Padding content is not checked (the sender may
 * choose any value).
 */
export function stripPadding(plain: Buffer, what = 'SK'): Buffer {
  if (plain.length < 1) throw syntaxError(`${what}: no pad length byte`);
  const pad = plain[plain.length - 1]!;
  if (pad + 1 > plain.length) throw syntaxError(`${what}: pad length ${pad} exceeds the ${plain.length - 1} plaintext bytes`);
  return plain.subarray(0, plain.length - 1 - pad);
}
