// The AEAD registry: strongSwan-style proposal names and IKEv2 transform IDs to implementations.
// Used by the config validator (names), the proposal codec (transform IDs) and ESP / the SK payload.

import { EncrId } from '../ike/constants.ts';
import type { AeadAlgorithm } from './aead.ts';
import { aes128gcm16, aes192gcm16, aes256gcm16 } from './aes-gcm.ts';
import { chacha20poly1305 } from './chacha20-poly1305.ts';

/** An AEAD with the IKEv2 transform that negotiates it (ENCR transform ID and Key Length attribute). */
export interface RegisteredAead {
  readonly alg: AeadAlgorithm;
  readonly encrId: EncrId;
  /** Key Length attribute in bits; undefined when the transform must not carry one (ChaCha20-Poly1305). */
  readonly keyLengthAttr: number | undefined;
}

export type AeadName = 'aes128gcm16' | 'aes192gcm16' | 'aes256gcm16' | 'chacha20poly1305';

const REGISTRY: ReadonlyMap<AeadName, RegisteredAead> = new Map<AeadName, RegisteredAead>([
  ['aes128gcm16', { alg: aes128gcm16, encrId: EncrId.AES_GCM_16, keyLengthAttr: 128 }],
  ['aes192gcm16', { alg: aes192gcm16, encrId: EncrId.AES_GCM_16, keyLengthAttr: 192 }],
  ['aes256gcm16', { alg: aes256gcm16, encrId: EncrId.AES_GCM_16, keyLengthAttr: 256 }],
  ['chacha20poly1305', { alg: chacha20poly1305, encrId: EncrId.CHACHA20_POLY1305, keyLengthAttr: undefined }],
]);

// strongSwan also accepts the ICV length in bits ("gcm128") and a bare "gcm" for the 16-byte ICV.
const ALIASES: ReadonlyMap<string, AeadName> = new Map<string, AeadName>([
  ['aes128gcm128', 'aes128gcm16'], ['aes128gcm', 'aes128gcm16'],
  ['aes192gcm128', 'aes192gcm16'], ['aes192gcm', 'aes192gcm16'],
  ['aes256gcm128', 'aes256gcm16'], ['aes256gcm', 'aes256gcm16'],
]);

/** Canonical names, strongest-first order is the caller's business; this is the supported set. */
export const SUPPORTED_AEADS: readonly AeadName[] = Object.freeze([...REGISTRY.keys()]);

/** Canonical name for a proposal keyword (or an alias of one), undefined when unsupported. */
export function canonicalAeadName(name: string): AeadName | undefined {
  const n = name.toLowerCase();
  if (REGISTRY.has(n as AeadName)) return n as AeadName;
  return ALIASES.get(n);
}

/** The algorithm for a strongSwan proposal keyword such as "aes256gcm16", undefined when unsupported. */
export function aeadByName(name: string): AeadAlgorithm | undefined {
  return registeredAeadByName(name)?.alg;
}

/** Like aeadByName, with the IKEv2 transform that negotiates it. */
export function registeredAeadByName(name: string): RegisteredAead | undefined {
  const c = canonicalAeadName(name);
  return c === undefined ? undefined : REGISTRY.get(c);
}

/**
 * The algorithm for a negotiated ENCR transform: AES-GCM-16 needs its Key Length attribute
 * (128, 192 or 256); ChaCha20-Poly1305 takes none (256 is tolerated). Undefined when unsupported.
 */
export function aeadByTransform(encrId: EncrId, keyBits?: number): AeadAlgorithm | undefined {
  for (const r of REGISTRY.values()) {
    if (r.encrId !== encrId) continue;
    if (r.keyLengthAttr === undefined ? keyBits === undefined || keyBits === 256 : keyBits === r.keyLengthAttr) return r.alg;
  }
  return undefined;
}

/** The IKEv2 transform (ID and Key Length attribute) for a registered algorithm. */
export function transformOfAead(alg: AeadAlgorithm): RegisteredAead | undefined {
  return registeredAeadByName(alg.name);
}
