// RFC 7427 / RFC 4754 AUTH data: our signatures checked by @noble/curves (an independent
// implementation), the peer's RSA PKCS#1 and PSS signatures made with node:crypto, the
// AlgorithmIdentifier bytes pinned, and every refusal typed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, sign, constants, type KeyObject } from 'node:crypto';
import { p256, p384 } from '@noble/curves/nist.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import {
  ALG_ID, AUTH_DIGITAL_SIGNATURE, AUTH_ECDSA_P256, AUTH_ECDSA_P384, OUR_SIGNATURE_HASHES, SigHash,
  decodeHashList, encodeHashList, schemeFromDer, signAuth, verifyAuth,
} from '../../../firmware/pki/signature-auth.ts';
import { CertAuthError } from '../../../firmware/pki/errors.ts';
import { makeKey } from './mini-ca.ts';

const octets = randomBytes(300);
const spkiTail = (k: KeyObject, n: number) => k.export({ type: 'spki', format: 'der' }).subarray(-n);
const split = (data: Buffer) => ({ alg: data.subarray(1, 1 + data[0]!), sig: data.subarray(1 + data[0]!) });
const refused = (reason: string) => (e: unknown) => e instanceof CertAuthError && e.reason === reason;

test('AlgorithmIdentifiers we send are the RFC 7427 / RFC 8420 DER and what asn1-x509 encodes', () => {
  const enc = (algorithm: string, nul: boolean) => Buffer.from(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm, ...(nul ? { parameters: new Uint8Array([5, 0]).buffer } : {}) })));
  assert.deepEqual(ALG_ID.ecdsaSha256, enc('1.2.840.10045.4.3.2', false));
  assert.deepEqual(ALG_ID.ecdsaSha384, enc('1.2.840.10045.4.3.3', false));
  assert.deepEqual(ALG_ID.ecdsaSha512, enc('1.2.840.10045.4.3.4', false));
  assert.deepEqual(ALG_ID.ed25519, enc('1.3.101.112', false));
  assert.deepEqual(ALG_ID.rsaSha256, enc('1.2.840.113549.1.1.11', true));
  // RFC 7427 A.1.2 / A.3.1 as printed there.
  assert.equal(ALG_ID.rsaSha256.toString('hex'), '300d06092a864886f70d01010b0500');
  assert.equal(ALG_ID.ecdsaSha256.toString('hex'), '300a06082a8648ce3d040302');
  assert.equal(ALG_ID.ed25519.toString('hex'), '300506032b6570');
});

test('SIGNATURE_HASH_ALGORITHMS data', () => {
  assert.equal(encodeHashList(OUR_SIGNATURE_HASHES).toString('hex'), '0002000300040005');
  assert.deepEqual(decodeHashList(Buffer.from('00010002', 'hex')), [SigHash.SHA1, SigHash.SHA2_256]);
  assert.throws(() => decodeHashList(Buffer.from('000100', 'hex')), refused('malformed'));
});

test('ECDSA P-256 method 14 with each SHA-2 the peer offers, checked by @noble/curves', () => {
  const k = makeKey('ec-p256');
  const pub = spkiTail(k.publicKey, 65);
  for (const [hash, alg, digest] of [[SigHash.SHA2_256, ALG_ID.ecdsaSha256, 'sha256'], [SigHash.SHA2_384, ALG_ID.ecdsaSha384, 'sha384'], [SigHash.SHA2_512, ALG_ID.ecdsaSha512, 'sha512']] as const) {
    const s = signAuth(k.privateKey, octets, [hash]);
    assert.equal(s.method, AUTH_DIGITAL_SIGNATURE);
    const { alg: a, sig } = split(s.data);
    assert.deepEqual(a, alg);
    const msg = createHash(digest).update(octets).digest();
    assert.ok(p256.verify(sig, msg, pub, { prehash: false, format: 'der', lowS: false }), `noble verifies ${digest}`);
    assert.equal(verifyAuth(s.method, s.data, k.publicKey, octets), schemeFromDer(alg).name);
  }
  // Our curve's own hash first when the peer offers several.
  assert.deepEqual(split(signAuth(k.privateKey, octets, [4, 3, 2, 5]).data).alg, ALG_ID.ecdsaSha256);
});

test('ECDSA P-384 method 14 and Ed25519 (Identity hash), checked by @noble/curves', () => {
  const k = makeKey('ec-p384');
  const s = signAuth(k.privateKey, octets, OUR_SIGNATURE_HASHES);
  assert.deepEqual(split(s.data).alg, ALG_ID.ecdsaSha384);
  assert.ok(p384.verify(split(s.data).sig, octets, spkiTail(k.publicKey, 97), { format: 'der', lowS: false }));
  verifyAuth(s.method, s.data, k.publicKey, octets);

  const e = makeKey('ed25519');
  const es = signAuth(e.privateKey, octets, [SigHash.IDENTITY]);
  assert.equal(es.method, AUTH_DIGITAL_SIGNATURE);
  assert.deepEqual(split(es.data).alg, ALG_ID.ed25519);
  assert.ok(ed25519.verify(split(es.data).sig, octets, spkiTail(e.publicKey, 32)), 'Ed25519 signs the whole octets');
  assert.equal(verifyAuth(es.method, es.data, e.publicKey, octets), 'Ed25519');
});

test('RFC 4754 method 9/10 (raw r||s) when the peer sent no SIGNATURE_HASH_ALGORITHMS', () => {
  const k = makeKey('ec-p256');
  const s = signAuth(k.privateKey, octets, undefined);
  assert.equal(s.method, AUTH_ECDSA_P256);
  assert.equal(s.data.length, 64);
  assert.ok(p256.verify(s.data, octets, spkiTail(k.publicKey, 65), { format: 'compact', lowS: false }));
  verifyAuth(AUTH_ECDSA_P256, s.data, k.publicKey, octets);
  const k3 = makeKey('ec-p384');
  const s3 = signAuth(k3.privateKey, octets, undefined);
  assert.equal(s3.method, AUTH_ECDSA_P384);
  verifyAuth(AUTH_ECDSA_P384, s3.data, k3.publicKey, octets);
  // Method 9 with a P-384 key is refused: the method fixes the curve.
  assert.throws(() => verifyAuth(AUTH_ECDSA_P256, s3.data.subarray(0, 64), k3.publicKey, octets), refused('bad-signature'));
});

// RSASSA-PSS AlgorithmIdentifier (RFC 7427 A.4.3 layout): hash [0], MGF1(hash) [1], salt [2].
function pssAlgId(hashOid: string, mgfHashOid: string, salt: number): Buffer {
  const hashAlg = (oid: string) => `300d0609${oid}0500`;
  const h = hashAlg(hashOid);
  const mgf = `301a06092a864886f70d010108${hashAlg(mgfHashOid)}`;
  const params = `a00f${h}a11c${mgf}a2030201${salt.toString(16).padStart(2, '0')}`;
  const body = `06092a864886f70d01010a30${(params.length / 2).toString(16)}${params}`;
  return Buffer.from(`30${(body.length / 2).toString(16)}${body}`, 'hex');
}
const SHA = { 256: '608648016503040201', 384: '608648016503040202', 512: '608648016503040203' } as const;

test('RSA from the peer: PKCS#1 v1.5 and PSS with SHA-256/384/512 verify; SHA-1 and odd PSS parameters are refused', () => {
  const k = makeKey('rsa2048');
  const m14 = (alg: Buffer, sig: Buffer) => Buffer.concat([Buffer.from([alg.length]), alg, sig]);
  for (const [bits, alg] of [[256, ALG_ID.rsaSha256], [384, ALG_ID.rsaSha384], [512, ALG_ID.rsaSha512]] as const) {
    const sig = sign(`sha${bits}`, octets, { key: k.privateKey, padding: constants.RSA_PKCS1_PADDING });
    assert.equal(verifyAuth(14, m14(alg, sig), k.publicKey, octets), `sha${bits}WithRSAEncryption`);
    const salt = bits / 8;
    const pss = sign(`sha${bits}`, octets, { key: k.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: salt });
    assert.equal(verifyAuth(14, m14(pssAlgId(SHA[bits], SHA[bits], salt), pss), k.publicKey, octets), `RSASSA-PSS/SHA-${bits} salt ${salt}`);
    // The wrong salt length in the parameters makes it fail.
    assert.throws(() => verifyAuth(14, m14(pssAlgId(SHA[bits], SHA[bits], salt + 1), pss), k.publicKey, octets), refused('bad-signature'));
  }
  // RSA PKCS#1 without the NULL parameters is accepted too (some peers omit it).
  const sig = sign('sha256', octets, { key: k.privateKey, padding: constants.RSA_PKCS1_PADDING });
  verifyAuth(14, m14(Buffer.from('300b06092a864886f70d01010b', 'hex'), sig), k.publicKey, octets);
  // Our own RSA signature (a box with an RSA key) round-trips.
  const ours = signAuth(k.privateKey, octets, OUR_SIGNATURE_HASHES);
  verifyAuth(ours.method, ours.data, k.publicKey, octets);

  const sha1 = sign('sha1', octets, { key: k.privateKey, padding: constants.RSA_PKCS1_PADDING });
  assert.throws(() => verifyAuth(14, m14(Buffer.from('300d06092a864886f70d0101050500', 'hex'), sha1), k.publicKey, octets), refused('unsupported'));
  const mixed = sign('sha256', octets, { key: k.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  assert.throws(() => verifyAuth(14, m14(pssAlgId(SHA[256], SHA[512], 32), mixed), k.publicKey, octets), refused('unsupported'));
  assert.throws(() => verifyAuth(14, m14(Buffer.from('300b06092a864886f70d01010a', 'hex'), mixed), k.publicKey, octets), refused('unsupported'));
});

test('refusals: tampered signature or data, wrong key, unknown algorithm, malformed AUTH data, unknown method', () => {
  const k = makeKey('ec-p256');
  const s = signAuth(k.privateKey, octets, OUR_SIGNATURE_HASHES);
  const flipped = Buffer.from(s.data);
  flipped[flipped.length - 5]! ^= 0x01;
  assert.throws(() => verifyAuth(s.method, flipped, k.publicKey, octets), refused('bad-signature'));
  const other = Buffer.from(octets);
  other[0]! ^= 1;
  assert.throws(() => verifyAuth(s.method, s.data, k.publicKey, other), refused('bad-signature'));
  assert.throws(() => verifyAuth(s.method, s.data, makeKey('ec-p256').publicKey, octets), refused('bad-signature'));
  assert.throws(() => verifyAuth(s.method, s.data, makeKey('ed25519').publicKey, octets), /holds a key of type ed25519/);
  assert.throws(() => verifyAuth(14, Buffer.from([40, 1, 2]), k.publicKey, octets), refused('malformed'));
  assert.throws(() => verifyAuth(14, Buffer.alloc(0), k.publicKey, octets), refused('malformed'));
  assert.throws(() => verifyAuth(14, Buffer.concat([Buffer.from([5]), Buffer.from('3003060100', 'hex'), Buffer.alloc(8)]), k.publicKey, octets), (e) => e instanceof CertAuthError);
  assert.throws(() => verifyAuth(14, Buffer.concat([Buffer.from([7]), Buffer.from('300506032b6571', 'hex'), Buffer.alloc(114)]), k.publicKey, octets), refused('unsupported'));
  assert.throws(() => verifyAuth(1, Buffer.alloc(256), k.publicKey, octets), refused('unsupported'));
  // Trailing bytes inside the length-prefixed AlgorithmIdentifier.
  const alg = Buffer.concat([ALG_ID.ecdsaSha256, Buffer.from([0])]);
  assert.throws(() => verifyAuth(14, Buffer.concat([Buffer.from([alg.length]), alg, split(s.data).sig]), k.publicKey, octets), refused('malformed'));
});
