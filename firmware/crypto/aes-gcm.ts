// AES-GCM with a 16-byte ICV for ESP (RFC 4106) and IKEv2 (RFC 5282): KEYMAT is the AES key
// followed by a 4-byte salt; the nonce is salt || 8-byte explicit IV.

import type { AeadAlgorithm, AeadKey } from './aead.ts';
import { NodeAeadKey } from './node-aead.ts';

function aesGcm16(keyBits: 128 | 192 | 256): AeadAlgorithm {
  const cipher = `aes-${keyBits}-gcm` as const;
  const alg: AeadAlgorithm = {
    name: `aes${keyBits}gcm16`,
    keyBytes: keyBits / 8,
    saltBytes: 4,
    ivBytes: 8,
    icvBytes: 16,
    createKey: (keyAndSalt: Uint8Array): AeadKey => new NodeAeadKey(alg, cipher, keyAndSalt),
  };
  return Object.freeze(alg);
}

export const aes128gcm16: AeadAlgorithm = aesGcm16(128);
export const aes192gcm16: AeadAlgorithm = aesGcm16(192);
export const aes256gcm16: AeadAlgorithm = aesGcm16(256);
