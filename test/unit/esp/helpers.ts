// Test helpers for the AEAD and ESP suites: hex, a seeded PRNG, inner IP packets, and an
// AeadKey backed by @noble/ciphers (the independent oracle).

import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import type { AeadAlgorithm, AeadKey } from '../../../firmware/crypto/aead.ts';

export const hex = (s: string): Buffer => Buffer.from(s.replace(/[\s:]+/g, ''), 'hex');

/** SplitMix32-style seeded PRNG so failures reproduce from the printed seed. */
export class Prng {
  #s: number;
  constructor(seed: number) { this.#s = seed >>> 0; }
  u32(): number {
    let z = (this.#s = (this.#s + 0x9e3779b9) >>> 0);
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }
  /** Integer in [0, n). */
  int(n: number): number { return Math.floor((this.u32() / 0x1_0000_0000) * n); }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

/** An IPv4 datagram of `total` bytes (>= 20) with a valid version, IHL and total length. */
export function ipv4(total: number, prng: Prng = new Prng(total)): Buffer {
  const p = prng.bytes(total);
  p[0] = 0x45;
  p.writeUInt16BE(total, 2);
  return p;
}

/** An IPv6 datagram of `total` bytes (>= 40) with a valid version and payload length. */
export function ipv6(total: number, prng: Prng = new Prng(total)): Buffer {
  const p = prng.bytes(total);
  p[0] = 0x60 | (p[0]! & 0x0f);
  p.writeUInt16BE(total - 40, 4);
  return p;
}

/** The same contract as the node:crypto keys, implemented with @noble/ciphers. */
export function nobleKey(alg: AeadAlgorithm, keyAndSalt: Uint8Array): AeadKey {
  if (keyAndSalt.length !== alg.keyBytes + 4) throw new RangeError('bad key length');
  const key = Uint8Array.from(keyAndSalt.subarray(0, alg.keyBytes));
  const salt = keyAndSalt.subarray(alg.keyBytes);
  const make = alg.name === 'chacha20poly1305' ? chacha20poly1305 : gcm;
  const nonce = (iv: Uint8Array): Uint8Array => {
    const n = new Uint8Array(12);
    n.set(salt, 0);
    n.set(iv, 4);
    return n;
  };
  return {
    alg,
    seal: (iv, aad, pt) => Buffer.from(make(key, nonce(iv), Uint8Array.from(aad)).encrypt(Uint8Array.from(pt))),
    open: (iv, aad, ct) => {
      try {
        return Buffer.from(make(key, nonce(iv), Uint8Array.from(aad)).decrypt(Uint8Array.from(ct)));
      } catch {
        return null;
      }
    },
  };
}

/** Key material of the right length for `alg`, from a PRNG. */
export function keymat(alg: AeadAlgorithm, prng: Prng): Buffer {
  return prng.bytes(alg.keyBytes + 4);
}
