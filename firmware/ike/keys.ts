// IKEv2 key derivation (RFC 7296 2.13-2.15, 2.17, 2.18).
//
//   SKEYSEED = prf(Ni | Nr, g^ir)                                       (2.14)
//   {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)
//   KEYMAT   = prf+(SK_d, Ni | Nr)  or  prf+(SK_d, g^ir(new) | Ni | Nr) with PFS   (2.17)
//   rekeyed IKE SA: SKEYSEED = prf_old(SK_d(old), g^ir(new) | Ni | Nr), then 2.14 with the new PRF (2.18)
//   PSK AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)  (2.15)
//
// With an AEAD (RFC 5282 section 7.1, RFC 7634 section 4) there is no integrity key and each
// encryption key is the cipher key followed by the 4-byte salt: pass encrKeyBytes = keyBytes + 4.
// Nothing here logs: every value is secret.

import { timingSafeEqual } from 'node:crypto';
import { prfPlus, type Prf } from '../crypto/prf.ts';

export class KeyDerivationError extends Error {
  override readonly name = 'KeyDerivationError';
}

/** Key lengths in bytes for one SA's cipher suite. */
export interface KeyLengths {
  /** Encryption key per direction; for an AEAD, key + 4-byte salt (e.g. 36 for aes256gcm16). */
  encrKeyBytes: number;
  /** Integrity key per direction; 0 with an AEAD. */
  integKeyBytes?: number;
}

export interface IkeSaKeys {
  skD: Buffer;
  skAi: Buffer;
  skAr: Buffer;
  skEi: Buffer;
  skEr: Buffer;
  skPi: Buffer;
  skPr: Buffer;
}

/** Keys of one Child SA pair, named by direction: `i` protects initiator-to-responder traffic. */
export interface ChildSaKeys {
  encrI: Buffer;
  integI: Buffer;
  encrR: Buffer;
  integR: Buffer;
}

function checkLengths(l: KeyLengths): { e: number; a: number } {
  const e = l.encrKeyBytes;
  const a = l.integKeyBytes ?? 0;
  if (!Number.isSafeInteger(e) || e <= 0 || e > 1024) throw new KeyDerivationError(`encryption key length ${e} is out of range`);
  if (!Number.isSafeInteger(a) || a < 0 || a > 1024) throw new KeyDerivationError(`integrity key length ${a} is out of range`);
  return { e, a };
}

function split(buf: Buffer, lengths: number[]): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  // Copies, so one key does not keep the whole prf+ stream alive.
  for (const n of lengths) {
    out.push(Buffer.from(buf.subarray(off, off + n)));
    off += n;
  }
  return out;
}

/** SKEYSEED = prf(Ni | Nr, g^ir) (RFC 7296 2.14). */
export function skeyseed(prf: Prf, ni: Uint8Array, nr: Uint8Array, sharedSecret: Uint8Array): Buffer {
  return prf.compute(Buffer.concat([ni, nr]), sharedSecret);
}

/** SKEYSEED for a rekeyed IKE SA: prf(SK_d(old), g^ir(new) | Ni | Nr), with the OLD IKE SA's PRF (RFC 7296 2.18). */
export function rekeySkeyseed(oldPrf: Prf, oldSkD: Uint8Array, sharedSecret: Uint8Array, ni: Uint8Array, nr: Uint8Array): Buffer {
  return oldPrf.compute(oldSkD, sharedSecret, ni, nr);
}

/** {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr). */
export function ikeSaKeysFromSkeyseed(
  prf: Prf,
  seed: Uint8Array,
  ni: Uint8Array,
  nr: Uint8Array,
  spiI: Uint8Array,
  spiR: Uint8Array,
  lengths: KeyLengths,
): IkeSaKeys {
  const { e, a } = checkLengths(lengths);
  const p = prf.preferredKeyBytes;
  const sizes = [p, a, a, e, e, p, p];
  const stream = prfPlus(prf, seed, Buffer.concat([ni, nr, spiI, spiR]), sizes.reduce((x, y) => x + y, 0));
  const [skD, skAi, skAr, skEi, skEr, skPi, skPr] = split(stream, sizes) as [Buffer, Buffer, Buffer, Buffer, Buffer, Buffer, Buffer];
  stream.fill(0);
  return { skD, skAi, skAr, skEi, skEr, skPi, skPr };
}

export interface IkeKeyInput extends KeyLengths {
  prf: Prf;
  /** g^ir from IKE_SA_INIT. */
  sharedSecret: Uint8Array;
  ni: Uint8Array;
  nr: Uint8Array;
  /** 8 bytes each, as in the IKE header. */
  spiI: Uint8Array;
  spiR: Uint8Array;
}

/** The IKE SA's keys after IKE_SA_INIT (RFC 7296 2.14). */
export function deriveIkeSaKeys(k: IkeKeyInput): IkeSaKeys {
  const seed = skeyseed(k.prf, k.ni, k.nr, k.sharedSecret);
  try {
    return ikeSaKeysFromSkeyseed(k.prf, seed, k.ni, k.nr, k.spiI, k.spiR, k);
  } finally {
    seed.fill(0);
  }
}

export interface IkeRekeyInput extends KeyLengths {
  /** PRF and SK_d of the IKE SA being rekeyed. */
  oldPrf: Prf;
  oldSkD: Uint8Array;
  /** PRF negotiated for the new IKE SA. */
  prf: Prf;
  /** g^ir of the CREATE_CHILD_SA exchange (a rekey always has a new DH). */
  sharedSecret: Uint8Array;
  ni: Uint8Array;
  nr: Uint8Array;
  /** The new IKE SA's SPIs, from the proposals' SPI fields. */
  spiI: Uint8Array;
  spiR: Uint8Array;
}

/** The new IKE SA's keys after a CREATE_CHILD_SA rekey (RFC 7296 2.18). */
export function deriveRekeyedIkeSaKeys(k: IkeRekeyInput): IkeSaKeys {
  const seed = rekeySkeyseed(k.oldPrf, k.oldSkD, k.sharedSecret, k.ni, k.nr);
  try {
    return ikeSaKeysFromSkeyseed(k.prf, seed, k.ni, k.nr, k.spiI, k.spiR, k);
  } finally {
    seed.fill(0);
  }
}

export interface ChildKeyInput extends KeyLengths {
  /** The IKE SA's PRF and SK_d. */
  prf: Prf;
  skD: Uint8Array;
  /** Nonces of IKE_SA_INIT for the first Child SA, else of this CREATE_CHILD_SA exchange. */
  ni: Uint8Array;
  nr: Uint8Array;
  /** g^ir of the CREATE_CHILD_SA exchange when it carried KE payloads (PFS). */
  sharedSecret?: Uint8Array;
}

/**
 * KEYMAT for one ESP SA pair (RFC 7296 2.17): initiator-to-responder keys first, and in each
 * direction the encryption key before the integrity key.
 */
export function deriveChildSaKeys(k: ChildKeyInput): ChildSaKeys {
  const { e, a } = checkLengths(k);
  const seed = k.sharedSecret ? Buffer.concat([k.sharedSecret, k.ni, k.nr]) : Buffer.concat([k.ni, k.nr]);
  const sizes = [e, a, e, a];
  const stream = prfPlus(k.prf, k.skD, seed, 2 * (e + a));
  const [encrI, integI, encrR, integR] = split(stream, sizes) as [Buffer, Buffer, Buffer, Buffer];
  stream.fill(0);
  return { encrI, integI, encrR, integR };
}

// ---------------------------------------------------------------- AUTH (RFC 7296 2.15)

const KEY_PAD = Buffer.from('Key Pad for IKEv2', 'ascii');

/** The ID payload body after the generic header: ID Type | 3 reserved octets | identification data. */
export function idPayloadBody(idType: number, idData: Uint8Array): Buffer {
  if (!Number.isInteger(idType) || idType < 0 || idType > 255) throw new KeyDerivationError(`ID type ${idType} is out of range`);
  return Buffer.concat([Buffer.from([idType, 0, 0, 0]), idData]);
}

/**
 * <SignedOctets> = RealMessage | Nonce(peer) | prf(SK_p, RestOfIDPayload).
 * For the initiator's AUTH: its IKE_SA_INIT request, Nr, SK_pi and IDi's body; for the
 * responder's: its IKE_SA_INIT response, Ni, SK_pr and IDr's body. `idBody` is the ID payload
 * as received or sent, without the 4-byte generic payload header (see idPayloadBody).
 */
export function signedOctets(prf: Prf, realMessage: Uint8Array, peerNonce: Uint8Array, skP: Uint8Array, idBody: Uint8Array): Buffer {
  if (idBody.length < 4) throw new KeyDerivationError('ID payload body is shorter than its 4-byte fixed part');
  return Buffer.concat([realMessage, peerNonce, prf.compute(skP, idBody)]);
}

/** AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>) for the shared-key method. */
export function pskAuth(prf: Prf, psk: Uint8Array, octets: Uint8Array): Buffer {
  const padded = prf.compute(psk, KEY_PAD);
  try {
    return prf.compute(padded, octets);
  } finally {
    padded.fill(0);
  }
}

/** Checks a received PSK AUTH value in constant time (for equal lengths). */
export function verifyPskAuth(prf: Prf, psk: Uint8Array, octets: Uint8Array, received: Uint8Array): boolean {
  const expected = pskAuth(prf, psk, octets);
  if (received.length !== expected.length) return false;
  return timingSafeEqual(expected, received);
}
