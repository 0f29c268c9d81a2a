// Known-answer tests of the node:crypto AEAD keys, with each nonce split as salt (4) || IV (8)
// the way RFC 4106 and RFC 7634 build it. Each vector is also checked against @noble/ciphers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AeadAlgorithm } from '../../../firmware/crypto/aead.ts';
import { aes128gcm16, aes256gcm16 } from '../../../firmware/crypto/aes-gcm.ts';
import { chacha20poly1305 } from '../../../firmware/crypto/chacha20-poly1305.ts';
import { hex, nobleKey } from '../esp/helpers.ts';

interface Vector {
  name: string;
  alg: AeadAlgorithm;
  key: string;
  nonce: string;
  aad: string;
  pt: string;
  ct: string; // ciphertext || tag
}

const GCM_P = 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255';
const GCM_P60 = GCM_P.slice(0, 120);
const GCM_A = 'feedfacedeadbeeffeedfacedeadbeefabaddad2';

const VECTORS: Vector[] = [
  {
    name: 'RFC 8439 2.8.2 AEAD_CHACHA20_POLY1305',
    alg: chacha20poly1305,
    key: '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f',
    nonce: '070000004041424344454647',
    aad: '50515253c0c1c2c3c4c5c6c7',
    pt: Buffer.from("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.").toString('hex'),
    ct: 'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b'
      + '1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc'
      + '3ff4def08e4b7a9de576d26586cec64b6116' + '1ae10b594f09e26a7e902ecbd0600691',
  },
  {
    name: 'RFC 7634 Appendix A (ESP example, AEAD level)',
    alg: chacha20poly1305,
    key: '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f',
    nonce: 'a0a1a2a31011121314151617',
    aad: '0102030400000005',
    pt: '45000054a6f200004001e778c6336405c000020508005b7a3a080000553bec100007362708090a0b0c0d0e0f1011121314151617'
      + '18191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363701020204',
    ct: '24039428b97f417e3c13753a4f05087b67c352e6a7fab1b982d466ef407ae5c614ee8099d52844eb61aa95dfab4c02f7'
      + '2aa71e7c4c4f64c9befe2facc638e8f3cbec163fac469b502773f6fb94e664da9165b82829f641e0'
      + '76aaa8266b7fb0f7b11b369907e1ad43',
  },
  // McGrew & Viega, "The Galois/Counter Mode of Operation", test cases with a 96-bit IV.
  { name: 'GCM test case 2 (AES-128)', alg: aes128gcm16, key: '00'.repeat(16), nonce: '00'.repeat(12), aad: '', pt: '00'.repeat(16),
    ct: '0388dace60b6a392f328c2b971b2fe78' + 'ab6e47d42cec13bdf53a67b21257bddf' },
  { name: 'GCM test case 3 (AES-128)', alg: aes128gcm16, key: 'feffe9928665731c6d6a8f9467308308', nonce: 'cafebabefacedbaddecaf888', aad: '', pt: GCM_P,
    ct: '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985'
      + '4d5c2af327cd64a62cf35abd2ba6fab4' },
  { name: 'GCM test case 4 (AES-128, AAD)', alg: aes128gcm16, key: 'feffe9928665731c6d6a8f9467308308', nonce: 'cafebabefacedbaddecaf888', aad: GCM_A, pt: GCM_P60,
    ct: '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091'
      + '5bc94fbc3221a5db94fae95ae7121a47' },
  { name: 'GCM test case 14 (AES-256)', alg: aes256gcm16, key: '00'.repeat(32), nonce: '00'.repeat(12), aad: '', pt: '00'.repeat(16),
    ct: 'cea7403d4d606b6e074ec5d3baf39d18' + 'd0d1c8a799996bf0265b98b5d48ab919' },
  { name: 'GCM test case 15 (AES-256)', alg: aes256gcm16, key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308', nonce: 'cafebabefacedbaddecaf888', aad: '', pt: GCM_P,
    ct: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad'
      + 'b094dac5d93471bdec1a502270e3cc6c' },
  { name: 'GCM test case 16 (AES-256, AAD)', alg: aes256gcm16, key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308', nonce: 'cafebabefacedbaddecaf888', aad: GCM_A, pt: GCM_P60,
    ct: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662'
      + '76fc6ece0f4e1768cddf8853bb2d551b' },
];

for (const v of VECTORS) {
  test(`${v.name}: seal and open through AeadKey (salt || IV nonce split)`, () => {
    const nonce = hex(v.nonce);
    const keymat = Buffer.concat([hex(v.key), nonce.subarray(0, 4)]);
    const iv = nonce.subarray(4);
    const aad = hex(v.aad), pt = hex(v.pt), ct = hex(v.ct);
    assert.equal(v.alg.keyBytes, hex(v.key).length);

    const key = v.alg.createKey(keymat);
    assert.equal(key.alg, v.alg);
    assert.equal(key.seal(iv, aad, pt).toString('hex'), ct.toString('hex'));
    assert.deepEqual(key.open(iv, aad, ct), pt);

    // The oracle agrees, so the transcription of the vector is right too.
    const oracle = nobleKey(v.alg, keymat);
    assert.equal(oracle.seal(iv, aad, pt).toString('hex'), ct.toString('hex'));

    // Any change to ciphertext, tag, AAD or IV fails.
    for (const at of [0, ct.length - 17, ct.length - 1]) {
      if (at < 0) continue;
      const bad = Buffer.from(ct);
      bad[at]! ^= 0x01;
      assert.equal(key.open(iv, aad, bad), null, `flip at ${at}`);
    }
    const badIv = Buffer.from(iv);
    badIv[7]! ^= 0x80;
    assert.equal(key.open(badIv, aad, ct), null);
    assert.equal(key.open(iv, Buffer.concat([aad, Buffer.from([0])]), ct), null);
  });
}

test('createKey rejects key material of the wrong length', () => {
  for (const alg of [aes128gcm16, aes256gcm16, chacha20poly1305]) {
    assert.throws(() => alg.createKey(new Uint8Array(alg.keyBytes)), RangeError);
    assert.throws(() => alg.createKey(new Uint8Array(alg.keyBytes + 5)), RangeError);
    assert.doesNotThrow(() => alg.createKey(new Uint8Array(alg.keyBytes + 4)));
  }
});

test('seal refuses an IV that is not 8 bytes; open returns null for short input', () => {
  const key = aes256gcm16.createKey(new Uint8Array(36));
  assert.throws(() => key.seal(new Uint8Array(12), new Uint8Array(0), new Uint8Array(1)), RangeError);
  assert.equal(key.open(new Uint8Array(12), new Uint8Array(0), new Uint8Array(32)), null);
  assert.equal(key.open(new Uint8Array(8), new Uint8Array(0), new Uint8Array(15)), null);
  // An empty plaintext still carries a verifiable ICV.
  const sealed = key.seal(new Uint8Array(8), new Uint8Array(3), new Uint8Array(0));
  assert.equal(sealed.length, 16);
  assert.deepEqual(key.open(new Uint8Array(8), new Uint8Array(3), sealed), Buffer.alloc(0));
});

test('keys with the same material but different salts give different ciphertexts', () => {
  const a = Buffer.alloc(36, 7), b = Buffer.from(a);
  b[35] = 8;
  const iv = Buffer.alloc(8), pt = Buffer.alloc(32);
  const ka = chacha20poly1305.createKey(a), kb = chacha20poly1305.createKey(b);
  assert.notDeepEqual(ka.seal(iv, pt, pt), kb.seal(iv, pt, pt));
  assert.equal(kb.open(iv, pt, ka.seal(iv, pt, pt)), null);
});
