// Signature authentication for IKEv2: the RFC 7427 "Digital Signature" method (14), whose AUTH
// data is a length-prefixed ASN.1 AlgorithmIdentifier followed by the signature, and the older
// RFC 4754 ECDSA methods (9, 10, 11: raw r||s with a hash fixed by the curve). The signed data
// is the <SignedOctets> of RFC 7296 2.15; Ed25519 signs them whole (RFC 8420, "Identity" hash).
// Also the SIGNATURE_HASH_ALGORITHMS notify data, and signature checks by AlgorithmIdentifier
// (shared with CRL verification).
import { constants, sign, verify, type KeyObject } from 'node:crypto';
import { AsnConvert, AsnParser, AsnProp, AsnPropTypes } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { CertAuthError } from './errors.ts';

/** Hash algorithm identifiers of the SIGNATURE_HASH_ALGORITHMS notify (RFC 7427 section 7, RFC 8420). */
export enum SigHash {
  SHA1 = 1,
  SHA2_256 = 2,
  SHA2_384 = 3,
  SHA2_512 = 4,
  IDENTITY = 5,
}

/** What Outpost accepts from peers and announces: SHA-2 and Identity (Ed25519); never SHA-1. */
export const OUR_SIGNATURE_HASHES: readonly SigHash[] = [SigHash.SHA2_256, SigHash.SHA2_384, SigHash.SHA2_512, SigHash.IDENTITY];

export const AUTH_DIGITAL_SIGNATURE = 14;
export const AUTH_ECDSA_P256 = 9;
export const AUTH_ECDSA_P384 = 10;
export const AUTH_ECDSA_P521 = 11;

export function encodeHashList(list: readonly number[]): Buffer {
  const b = Buffer.alloc(list.length * 2);
  list.forEach((h, i) => b.writeUInt16BE(h, i * 2));
  return b;
}

/** The peer's list; an odd length is malformed, unknown values are kept (they are just numbers). */
export function decodeHashList(data: Buffer): number[] {
  if (data.length % 2 !== 0 || data.length > 512) throw new CertAuthError('malformed', `SIGNATURE_HASH_ALGORITHMS of ${data.length} bytes`);
  const out: number[] = [];
  for (let i = 0; i < data.length; i += 2) out.push(data.readUInt16BE(i));
  return out;
}

// ------------------------------------------------------------ AlgorithmIdentifiers

export const OID = {
  ecdsaSha256: '1.2.840.10045.4.3.2',
  ecdsaSha384: '1.2.840.10045.4.3.3',
  ecdsaSha512: '1.2.840.10045.4.3.4',
  ed25519: '1.3.101.112',
  ed448: '1.3.101.113',
  rsaSha1: '1.2.840.113549.1.1.5',
  rsaSha256: '1.2.840.113549.1.1.11',
  rsaSha384: '1.2.840.113549.1.1.12',
  rsaSha512: '1.2.840.113549.1.1.13',
  rsaPss: '1.2.840.113549.1.1.10',
  mgf1: '1.2.840.113549.1.1.8',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
} as const;

/**
 * The DER AlgorithmIdentifiers Outpost sends (RFC 7427 appendix A; RFC 8420 for Ed25519, whose
 * parameters are absent). Unit tests pin these bytes.
 */
export const ALG_ID = {
  ecdsaSha256: Buffer.from('300a06082a8648ce3d040302', 'hex'),
  ecdsaSha384: Buffer.from('300a06082a8648ce3d040303', 'hex'),
  ecdsaSha512: Buffer.from('300a06082a8648ce3d040304', 'hex'),
  ed25519: Buffer.from('300506032b6570', 'hex'),
  rsaSha256: Buffer.from('300d06092a864886f70d01010b0500', 'hex'),
  rsaSha384: Buffer.from('300d06092a864886f70d01010c0500', 'hex'),
  rsaSha512: Buffer.from('300d06092a864886f70d01010d0500', 'hex'),
} as const;

// RSASSA-PSS-params (RFC 4055 section 3.1), explicit tags, every field has a default. The schema
// is declared by applying asn1-schema's property decorators by hand (no decorator syntax here).
class PssParams {
  hashAlgorithm?: AlgorithmIdentifier;
  maskGenAlgorithm?: AlgorithmIdentifier;
  saltLength?: number;
  trailerField?: number;
}
AsnProp({ type: AlgorithmIdentifier, context: 0, optional: true })(PssParams.prototype, 'hashAlgorithm');
AsnProp({ type: AlgorithmIdentifier, context: 1, optional: true })(PssParams.prototype, 'maskGenAlgorithm');
AsnProp({ type: AsnPropTypes.Integer, context: 2, optional: true })(PssParams.prototype, 'saltLength');
AsnProp({ type: AsnPropTypes.Integer, context: 3, optional: true })(PssParams.prototype, 'trailerField');

export type KeyKind = 'ecdsa' | 'ed25519' | 'rsa';

/** A signature scheme as an AlgorithmIdentifier names it. */
export interface SignatureScheme {
  /** For logs: "ecdsa-with-SHA256", "Ed25519", "RSASSA-PSS/SHA-384 salt 48", ... */
  name: string;
  keyKind: KeyKind;
  /** node:crypto digest name, or null when the data is signed whole (EdDSA). */
  digest: string | null;
  hash: SigHash;
  pss?: { saltLength: number };
}

const HASH_BY_OID: Record<string, { digest: string; hash: SigHash; name: string }> = {
  [OID.sha1]: { digest: 'sha1', hash: SigHash.SHA1, name: 'SHA-1' },
  [OID.sha256]: { digest: 'sha256', hash: SigHash.SHA2_256, name: 'SHA-256' },
  [OID.sha384]: { digest: 'sha384', hash: SigHash.SHA2_384, name: 'SHA-384' },
  [OID.sha512]: { digest: 'sha512', hash: SigHash.SHA2_512, name: 'SHA-512' },
};

const SIMPLE: Record<string, SignatureScheme> = {
  [OID.ecdsaSha256]: { name: 'ecdsa-with-SHA256', keyKind: 'ecdsa', digest: 'sha256', hash: SigHash.SHA2_256 },
  [OID.ecdsaSha384]: { name: 'ecdsa-with-SHA384', keyKind: 'ecdsa', digest: 'sha384', hash: SigHash.SHA2_384 },
  [OID.ecdsaSha512]: { name: 'ecdsa-with-SHA512', keyKind: 'ecdsa', digest: 'sha512', hash: SigHash.SHA2_512 },
  [OID.ed25519]: { name: 'Ed25519', keyKind: 'ed25519', digest: null, hash: SigHash.IDENTITY },
  [OID.rsaSha1]: { name: 'sha1WithRSAEncryption', keyKind: 'rsa', digest: 'sha1', hash: SigHash.SHA1 },
  [OID.rsaSha256]: { name: 'sha256WithRSAEncryption', keyKind: 'rsa', digest: 'sha256', hash: SigHash.SHA2_256 },
  [OID.rsaSha384]: { name: 'sha384WithRSAEncryption', keyKind: 'rsa', digest: 'sha384', hash: SigHash.SHA2_384 },
  [OID.rsaSha512]: { name: 'sha512WithRSAEncryption', keyKind: 'rsa', digest: 'sha512', hash: SigHash.SHA2_512 },
};

const NULL_PARAMS = Buffer.from('0500', 'hex');
const paramsOf = (a: AlgorithmIdentifier) => (a.parameters ? Buffer.from(a.parameters) : undefined);

function pssScheme(params: Buffer | undefined): SignatureScheme {
  if (!params) throw new CertAuthError('unsupported', 'RSASSA-PSS without parameters means SHA-1, which is not accepted');
  let p: PssParams;
  try {
    p = AsnParser.parse(params, PssParams);
  } catch (err) {
    throw new CertAuthError('malformed', `RSASSA-PSS parameters: ${(err as Error).message}`);
  }
  const hash = HASH_BY_OID[p.hashAlgorithm?.algorithm ?? OID.sha1];
  if (!hash || hash.hash === SigHash.SHA1) throw new CertAuthError('unsupported', `RSASSA-PSS with hash ${p.hashAlgorithm?.algorithm ?? 'SHA-1 (default)'} is not accepted`);
  let mgfHash = OID.sha1 as string;
  if (p.maskGenAlgorithm) {
    if (p.maskGenAlgorithm.algorithm !== OID.mgf1) throw new CertAuthError('unsupported', `RSASSA-PSS mask generation ${p.maskGenAlgorithm.algorithm}`);
    const mp = paramsOf(p.maskGenAlgorithm);
    try {
      mgfHash = mp ? AsnParser.parse(mp, AlgorithmIdentifier).algorithm : OID.sha1;
    } catch (err) {
      throw new CertAuthError('malformed', `RSASSA-PSS MGF1 parameters: ${(err as Error).message}`);
    }
  }
  // node:crypto always uses MGF1 with the signature's own hash.
  if (HASH_BY_OID[mgfHash]?.hash !== hash.hash) throw new CertAuthError('unsupported', `RSASSA-PSS with MGF1 hash ${mgfHash} differing from ${hash.name}`);
  const saltLength = p.saltLength ?? 20;
  if ((p.trailerField ?? 1) !== 1 || saltLength < 0 || saltLength > 1024) throw new CertAuthError('unsupported', `RSASSA-PSS salt ${saltLength} / trailer ${p.trailerField}`);
  return { name: `RSASSA-PSS/${hash.name} salt ${saltLength}`, keyKind: 'rsa', digest: hash.digest, hash: hash.hash, pss: { saltLength } };
}

/** The scheme an AlgorithmIdentifier (as parsed) names; throws CertAuthError('unsupported'|'malformed'). */
export function schemeOf(alg: AlgorithmIdentifier): SignatureScheme {
  if (alg.algorithm === OID.rsaPss) return pssScheme(paramsOf(alg));
  const s = SIMPLE[alg.algorithm];
  if (!s) throw new CertAuthError('unsupported', `signature algorithm ${alg.algorithm}`);
  const params = paramsOf(alg);
  // ECDSA and EdDSA identifiers have no parameters; RSA PKCS#1 ones have NULL (or, leniently, none).
  if (params && !(s.keyKind === 'rsa' && params.equals(NULL_PARAMS))) throw new CertAuthError('malformed', `${s.name} with unexpected parameters`);
  return s;
}

/** Parses a DER AlgorithmIdentifier that must span `der` exactly. */
export function schemeFromDer(der: Buffer): SignatureScheme {
  let alg: AlgorithmIdentifier;
  try {
    alg = AsnParser.parse(der, AlgorithmIdentifier);
  } catch (err) {
    throw new CertAuthError('malformed', `AlgorithmIdentifier does not parse: ${(err as Error).message}`);
  }
  if (Buffer.from(AsnConvert.serialize(alg)).length !== der.length) throw new CertAuthError('malformed', 'AlgorithmIdentifier has trailing bytes');
  return schemeOf(alg);
}

/** The kind of a public or private key for signature purposes, with its curve for ECDSA. */
export function keyKindOf(key: KeyObject): { kind: KeyKind | 'other'; curve?: string; bits?: number } {
  const t = key.asymmetricKeyType;
  const d = key.asymmetricKeyDetails ?? {};
  if (t === 'ec') return { kind: 'ecdsa', ...(d.namedCurve ? { curve: d.namedCurve } : {}) };
  if (t === 'ed25519') return { kind: 'ed25519' };
  if (t === 'rsa' || t === 'rsa-pss') return { kind: 'rsa', ...(d.modulusLength ? { bits: d.modulusLength } : {}) };
  return { kind: 'other' };
}

/** Checks `sig` over `data` with the scheme; false for a signature that does not verify. */
export function verifyWithScheme(s: SignatureScheme, key: KeyObject, data: Buffer, sig: Buffer, dsaEncoding: 'der' | 'ieee-p1363' = 'der'): boolean {
  const k = keyKindOf(key);
  if (k.kind !== s.keyKind) throw new CertAuthError('bad-signature', `${s.name} signature, but the certificate holds a key of type ${k.kind}`);
  try {
    if (s.keyKind === 'ed25519') return verify(null, data, key, sig);
    if (s.keyKind === 'ecdsa') return verify(s.digest!, data, { key, dsaEncoding }, sig);
    if (s.pss) return verify(s.digest!, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: s.pss.saltLength }, sig);
    return verify(s.digest!, data, { key, padding: constants.RSA_PKCS1_PADDING }, sig);
  } catch {
    return false; // malformed signature encodings land here
  }
}

/** Verifies a signature named by an AlgorithmIdentifier (certificates, CRLs). */
export function verifyByAlgorithm(alg: AlgorithmIdentifier, key: KeyObject, data: Buffer, sig: Buffer): boolean {
  return verifyWithScheme(schemeOf(alg), key, data, sig);
}

// ------------------------------------------------------------ AUTH payload data

export interface AuthSignature {
  method: number;
  data: Buffer;
  /** What was used, for logs. */
  scheme: string;
}

const LEGACY_ECDSA: Record<number, { curve: string; digest: string; name: string }> = {
  [AUTH_ECDSA_P256]: { curve: 'prime256v1', digest: 'sha256', name: 'ECDSA P-256/SHA-256 (RFC 4754)' },
  [AUTH_ECDSA_P384]: { curve: 'secp384r1', digest: 'sha384', name: 'ECDSA P-384/SHA-384 (RFC 4754)' },
  [AUTH_ECDSA_P521]: { curve: 'secp521r1', digest: 'sha512', name: 'ECDSA P-521/SHA-512 (RFC 4754)' },
};

const ECDSA_BY_HASH: Record<number, { alg: Buffer; digest: string; name: string }> = {
  [SigHash.SHA2_256]: { alg: ALG_ID.ecdsaSha256, digest: 'sha256', name: 'ecdsa-with-SHA256' },
  [SigHash.SHA2_384]: { alg: ALG_ID.ecdsaSha384, digest: 'sha384', name: 'ecdsa-with-SHA384' },
  [SigHash.SHA2_512]: { alg: ALG_ID.ecdsaSha512, digest: 'sha512', name: 'ecdsa-with-SHA512' },
};

const RSA_BY_HASH: Record<number, { alg: Buffer; digest: string; name: string }> = {
  [SigHash.SHA2_256]: { alg: ALG_ID.rsaSha256, digest: 'sha256', name: 'sha256WithRSAEncryption' },
  [SigHash.SHA2_384]: { alg: ALG_ID.rsaSha384, digest: 'sha384', name: 'sha384WithRSAEncryption' },
  [SigHash.SHA2_512]: { alg: ALG_ID.rsaSha512, digest: 'sha512', name: 'sha512WithRSAEncryption' },
};

function method14(alg: Buffer, sig: Buffer): Buffer {
  return Buffer.concat([Buffer.from([alg.length]), alg, sig]);
}

/** The hash to use with an ECDSA/RSA key: the curve's own first, then any SHA-2 the peer takes. */
function pickHash(preferred: SigHash, peer: readonly number[]): SigHash {
  if (peer.includes(preferred)) return preferred;
  return [SigHash.SHA2_256, SigHash.SHA2_384, SigHash.SHA2_512].find((h) => peer.includes(h)) ?? preferred;
}

/**
 * Signs <SignedOctets> with our private key. `peerHashes` is the peer's SIGNATURE_HASH_ALGORITHMS
 * (undefined if it sent none: then an ECDSA key uses the RFC 4754 method of its curve).
 */
export function signAuth(key: KeyObject, octets: Buffer, peerHashes: readonly number[] | undefined): AuthSignature {
  const k = keyKindOf(key);
  if (k.kind === 'ed25519') {
    return { method: AUTH_DIGITAL_SIGNATURE, data: method14(ALG_ID.ed25519, sign(null, octets, key)), scheme: 'Ed25519' };
  }
  if (k.kind === 'ecdsa') {
    const legacy = Object.entries(LEGACY_ECDSA).find(([, v]) => v.curve === k.curve);
    if (!peerHashes && legacy) {
      const sig = sign(legacy[1].digest, octets, { key, dsaEncoding: 'ieee-p1363' });
      return { method: Number(legacy[0]), data: sig, scheme: legacy[1].name };
    }
    const own = k.curve === 'secp384r1' ? SigHash.SHA2_384 : k.curve === 'secp521r1' ? SigHash.SHA2_512 : SigHash.SHA2_256;
    const e = ECDSA_BY_HASH[pickHash(own, peerHashes ?? [])]!;
    return { method: AUTH_DIGITAL_SIGNATURE, data: method14(e.alg, sign(e.digest, octets, { key, dsaEncoding: 'der' })), scheme: e.name };
  }
  if (k.kind === 'rsa') {
    const r = RSA_BY_HASH[pickHash(SigHash.SHA2_256, peerHashes ?? [])]!;
    return { method: AUTH_DIGITAL_SIGNATURE, data: method14(r.alg, sign(r.digest, octets, { key, padding: constants.RSA_PKCS1_PADDING })), scheme: r.name };
  }
  throw new CertAuthError('unsupported', `cannot sign with a ${key.asymmetricKeyType} key`);
}

/**
 * Verifies the peer's AUTH (method 14, or 9/10/11) with the public key of its certificate.
 * Returns the scheme used; throws CertAuthError('bad-signature'|'unsupported'|'malformed').
 */
export function verifyAuth(method: number, data: Buffer, key: KeyObject, octets: Buffer, accepted: readonly number[] = OUR_SIGNATURE_HASHES): string {
  if (method === AUTH_DIGITAL_SIGNATURE) {
    if (data.length < 1 || data.length < 1 + data[0]!) throw new CertAuthError('malformed', `digital signature AUTH of ${data.length} bytes`);
    const alg = data.subarray(1, 1 + data[0]!);
    const sig = data.subarray(1 + data[0]!);
    const s = schemeFromDer(alg);
    if (!accepted.includes(s.hash)) throw new CertAuthError('unsupported', `peer signed with ${s.name}, whose hash Outpost does not accept`);
    if (!verifyWithScheme(s, key, octets, sig)) throw new CertAuthError('bad-signature', `the peer's ${s.name} AUTH signature does not verify with its certificate's key`);
    return s.name;
  }
  const legacy = LEGACY_ECDSA[method];
  if (legacy) {
    const k = keyKindOf(key);
    if (k.kind !== 'ecdsa' || k.curve !== legacy.curve) throw new CertAuthError('bad-signature', `${legacy.name} AUTH, but the certificate holds a ${k.kind}${k.curve ? ` ${k.curve}` : ''} key`);
    const ok = (() => { try { return verify(legacy.digest, octets, { key, dsaEncoding: 'ieee-p1363' }, data); } catch { return false; } })();
    if (!ok) throw new CertAuthError('bad-signature', `the peer's ${legacy.name} AUTH signature does not verify with its certificate's key`);
    return legacy.name;
  }
  throw new CertAuthError('unsupported', `AUTH method ${method}; Outpost verifies digital signatures (14) and ECDSA (9, 10, 11)`);
}
