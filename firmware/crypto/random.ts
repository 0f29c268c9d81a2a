// Randomness for nonces and SPIs. The sans-I/O core takes a RandomSource so tests can make
// exchanges deterministic; the running box uses node:crypto's CSPRNG.

import { randomBytes } from 'node:crypto';

export type RandomSource = (bytes: number) => Buffer;

export const cryptoRandom: RandomSource = (bytes) => randomBytes(bytes);

/**
 * A nonce for IKE_SA_INIT / CREATE_CHILD_SA. RFC 7296 2.10: at least 128 bits and at least half
 * the PRF's key size; 32 bytes covers every PRF Outpost supports (prfsha512 keys are 64 bytes).
 */
export const NONCE_BYTES = 32;

export function newNonce(random: RandomSource = cryptoRandom): Buffer {
  return random(NONCE_BYTES);
}

/** A non-zero SPI of 8 (IKE) or 4 (ESP) bytes: zero means "no SPI" on the wire. */
export function newSpi(bytes: 4 | 8, random: RandomSource = cryptoRandom): Buffer {
  for (let i = 0; i < 16; i++) {
    const spi = random(bytes);
    if (spi.length !== bytes) throw new RangeError(`random source returned ${spi.length} bytes, wanted ${bytes}`);
    // ESP SPIs 1..255 are reserved by IANA (RFC 4303 2.1).
    if (bytes === 4 ? spi.readUInt32BE(0) > 255 : spi.some((b) => b !== 0)) return spi;
  }
  throw new Error('random source keeps returning reserved SPI values');
}
