// IKEv2 pseudo-random functions (RFC 7296 section 2.13, RFC 4868) on node:crypto HMAC.
// Only the HMAC-SHA2 family: they are what strongSwan's default proposals prefer and what
// RFC 8247 recommends; SHA1/MD5/XCBC/CMAC are deliberately absent.

import { createHmac } from 'node:crypto';
import { PrfId } from '../ike/constants.ts';

export class PrfError extends Error {
  override readonly name = 'PrfError';
  constructor(
    readonly code: 'UNSUPPORTED' | 'TOO_LONG' | 'BAD_LENGTH',
    message: string,
  ) {
    super(message);
  }
}

export interface Prf {
  readonly id: PrfId;
  /** strongSwan keyword, e.g. "prfsha256". */
  readonly name: string;
  /** strongSwan/IANA display name, e.g. "PRF_HMAC_SHA2_256". */
  readonly ianaName: string;
  /** Output length in bytes. */
  readonly outputBytes: number;
  /** Preferred key length (RFC 7296 2.14: SK_d, SK_pi, SK_pr have this length). For HMAC it is the output length. */
  readonly preferredKeyBytes: number;
  /** prf(key, data[0] | data[1] | ...), without concatenating the parts first. */
  compute(key: Uint8Array, ...data: Uint8Array[]): Buffer;
}

function hmacPrf(id: PrfId, name: string, ianaName: string, hash: string, bytes: number): Prf {
  return Object.freeze({
    id,
    name,
    ianaName,
    outputBytes: bytes,
    preferredKeyBytes: bytes,
    compute(key: Uint8Array, ...data: Uint8Array[]): Buffer {
      const h = createHmac(hash, key);
      for (const d of data) h.update(d);
      return h.digest();
    },
  });
}

const PRFS: readonly Prf[] = [
  hmacPrf(PrfId.HMAC_SHA2_256, 'prfsha256', 'PRF_HMAC_SHA2_256', 'sha256', 32),
  hmacPrf(PrfId.HMAC_SHA2_384, 'prfsha384', 'PRF_HMAC_SHA2_384', 'sha384', 48),
  hmacPrf(PrfId.HMAC_SHA2_512, 'prfsha512', 'PRF_HMAC_SHA2_512', 'sha512', 64),
];

/** The PRFs Outpost implements, in preference order. */
export const SUPPORTED_PRFS: readonly Prf[] = PRFS;

/** Returns the PRF for an IANA transform ID, or undefined when Outpost does not implement it. */
export function findPrf(id: number): Prf | undefined {
  return PRFS.find((p) => p.id === id);
}

/** Returns the PRF for an IANA transform ID; throws PrfError('UNSUPPORTED') otherwise. */
export function prfById(id: number): Prf {
  const p = findPrf(id);
  if (!p) throw new PrfError('UNSUPPORTED', `PRF transform ${id} is not supported (supported: ${PRFS.map((x) => x.name).join(', ')})`);
  return p;
}

/** Returns the PRF for a strongSwan keyword ("prfsha256"); throws PrfError('UNSUPPORTED') otherwise. */
export function prfByName(name: string): Prf {
  const p = PRFS.find((x) => x.name === name);
  if (!p) throw new PrfError('UNSUPPORTED', `PRF "${name}" is not supported (supported: ${PRFS.map((x) => x.name).join(', ')})`);
  return p;
}

/** prf+ produces at most 255 blocks: the counter is one octet (RFC 7296 2.13). */
export const PRF_PLUS_MAX_BLOCKS = 255;

/**
 * prf+ (RFC 7296 2.13): T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n), output T1 | T2 | ...
 * truncated to `length` bytes. Throws PrfError('TOO_LONG') past 255 blocks.
 */
export function prfPlus(prf: Prf, key: Uint8Array, seed: Uint8Array, length: number): Buffer {
  if (!Number.isSafeInteger(length) || length < 0) throw new PrfError('BAD_LENGTH', `prf+ length ${length} is not a non-negative integer`);
  const blocks = Math.ceil(length / prf.outputBytes);
  if (blocks > PRF_PLUS_MAX_BLOCKS) {
    throw new PrfError('TOO_LONG', `prf+ cannot produce ${length} bytes with ${prf.name} (max ${PRF_PLUS_MAX_BLOCKS * prf.outputBytes})`);
  }
  const out = Buffer.allocUnsafe(blocks * prf.outputBytes);
  let prev: Buffer = Buffer.alloc(0);
  const counter = Buffer.alloc(1);
  for (let i = 1; i <= blocks; i++) {
    counter[0] = i;
    prev = prf.compute(key, prev, seed, counter);
    prev.copy(out, (i - 1) * prf.outputBytes);
  }
  if (out.length === length) return out;
  // Return exactly `length` bytes and wipe the unused tail of the last block: it is key material.
  const exact = Buffer.from(out.subarray(0, length));
  out.fill(0);
  return exact;
}
