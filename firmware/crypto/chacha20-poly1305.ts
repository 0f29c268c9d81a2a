// ChaCha20-Poly1305 for ESP and IKEv2 (RFC 7634): KEYMAT is the 32-byte ChaCha20 key followed by
// a 4-byte salt; the 12-byte nonce is salt || 8-byte explicit IV; the ICV is 16 bytes.

import type { AeadAlgorithm, AeadKey } from './aead.ts';
import { NodeAeadKey } from './node-aead.ts';

export const chacha20poly1305: AeadAlgorithm = Object.freeze({
  name: 'chacha20poly1305',
  keyBytes: 32,
  saltBytes: 4,
  ivBytes: 8,
  icvBytes: 16,
  createKey: (keyAndSalt: Uint8Array): AeadKey => new NodeAeadKey(chacha20poly1305, 'chacha20-poly1305', keyAndSalt),
} as const);
