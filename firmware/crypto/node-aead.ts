// node:crypto implementation of the AeadKey contract, shared by AES-GCM and ChaCha20-Poly1305.
// Per packet node:crypto costs a cipher object (createCipheriv + setAAD + update: 5-7 us here,
// the dominant cost, which no public API amortises). Measured options: a KeyObject made once per
// SA vs the raw key buffer made no difference beyond noise, so the KeyObject keeps the key out of
// the JS heap; writing header || ciphertext || ICV into one allocation (`sealWithPrefix`) instead
// of two Buffer.concat calls saved about 0.5-1 us at 1400 bytes; the 12-byte nonce buffer
// (salt || IV) is reused. A cipher object cannot be re-keyed with a new IV, so none is cached.

import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject, type CipherGCMTypes, type CipherChaCha20Poly1305Types } from 'node:crypto';
import type { AeadAlgorithm, AeadKey } from './aead.ts';

const ICV = 16;
const OPTS = { authTagLength: ICV } as const;

type CipherName = CipherGCMTypes | CipherChaCha20Poly1305Types;

/** An AeadKey that can also write a clear prefix in front of its output (one allocation, no concat). */
export interface PrefixSealingKey extends AeadKey {
  /** Returns prefix || ciphertext || ICV. The prefix is not authenticated unless it is also in `aad`. */
  sealWithPrefix(prefix: Uint8Array, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Buffer;
}

/** prefix || key.seal(...), in one allocation when the key supports it (any contract key otherwise). */
export function sealWithPrefix(key: AeadKey, prefix: Uint8Array, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Buffer {
  const fast = (key as Partial<PrefixSealingKey>).sealWithPrefix;
  if (fast) return fast.call(key, prefix, iv, aad, plaintext);
  return Buffer.concat([prefix, key.seal(iv, aad, plaintext)]);
}

export class NodeAeadKey implements PrefixSealingKey {
  readonly alg: AeadAlgorithm;
  readonly #cipher: CipherName;
  readonly #key: KeyObject;
  // salt || IV; the salt half is written once, the IV half per call. node copies it synchronously.
  readonly #nonce: Buffer;

  constructor(alg: AeadAlgorithm, cipher: CipherName, keyAndSalt: Uint8Array) {
    if (!(keyAndSalt instanceof Uint8Array) || keyAndSalt.length !== alg.keyBytes + alg.saltBytes) {
      throw new RangeError(`${alg.name}: key material must be ${alg.keyBytes + alg.saltBytes} bytes`);
    }
    this.alg = alg;
    this.#cipher = cipher;
    const raw = Buffer.from(keyAndSalt.subarray(0, alg.keyBytes));
    this.#key = createSecretKey(raw); // copies: the JS-heap copy is wiped at once
    raw.fill(0);
    this.#nonce = Buffer.alloc(12);
    this.#nonce.set(keyAndSalt.subarray(alg.keyBytes), 0);
  }

  #setIv(iv: Uint8Array): Buffer {
    if (iv.length !== 8) throw new RangeError(`${this.alg.name}: IV must be 8 bytes`);
    this.#nonce.set(iv, 4);
    return this.#nonce;
  }

  seal(iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Buffer {
    return this.sealWithPrefix(EMPTY, iv, aad, plaintext);
  }

  sealWithPrefix(prefix: Uint8Array, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Buffer {
    const c = createCipheriv(this.#cipher as CipherGCMTypes, this.#key, this.#setIv(iv), OPTS);
    c.setAAD(aad);
    const ct = c.update(plaintext);
    c.final(); // stream ciphers: never returns data
    const out = Buffer.allocUnsafe(prefix.length + ct.length + ICV);
    out.set(prefix, 0);
    out.set(ct, prefix.length);
    out.set(c.getAuthTag(), prefix.length + ct.length);
    return out;
  }

  open(iv: Uint8Array, aad: Uint8Array, ciphertextAndIcv: Uint8Array): Buffer | null {
    if (iv.length !== 8 || ciphertextAndIcv.length < ICV) return null;
    const split = ciphertextAndIcv.length - ICV;
    const d = createDecipheriv(this.#cipher as CipherGCMTypes, this.#key, this.#setIv(iv), OPTS);
    d.setAAD(aad);
    d.setAuthTag(ciphertextAndIcv.subarray(split));
    const pt = d.update(ciphertextAndIcv.subarray(0, split));
    try {
      d.final(); // throws when the ICV does not verify
    } catch {
      pt.fill(0); // unauthenticated plaintext never leaves
      return null;
    }
    return pt;
  }
}

const EMPTY = new Uint8Array(0);
