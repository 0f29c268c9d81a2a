import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EncrId } from '../../../firmware/ike/constants.ts';
import {
  SUPPORTED_AEADS, aeadByName, aeadByTransform, canonicalAeadName, registeredAeadByName, transformOfAead,
} from '../../../firmware/crypto/aeads.ts';

test('every supported name resolves to an algorithm of that name with the contract sizes', () => {
  assert.deepEqual([...SUPPORTED_AEADS].sort(), ['aes128gcm16', 'aes192gcm16', 'aes256gcm16', 'chacha20poly1305']);
  for (const name of SUPPORTED_AEADS) {
    const alg = aeadByName(name);
    assert.ok(alg, name);
    assert.equal(alg.name, name);
    assert.equal(alg.saltBytes, 4);
    assert.equal(alg.ivBytes, 8);
    assert.equal(alg.icvBytes, 16);
  }
  assert.equal(aeadByName('aes128gcm16')!.keyBytes, 16);
  assert.equal(aeadByName('aes192gcm16')!.keyBytes, 24);
  assert.equal(aeadByName('aes256gcm16')!.keyBytes, 32);
  assert.equal(aeadByName('chacha20poly1305')!.keyBytes, 32);
});

test('strongSwan aliases and case map to the canonical names; unknown names do not resolve', () => {
  assert.equal(canonicalAeadName('aes256gcm128'), 'aes256gcm16');
  assert.equal(canonicalAeadName('AES128GCM'), 'aes128gcm16');
  assert.equal(aeadByName('aes256gcm'), aeadByName('aes256gcm16'));
  for (const bad of ['', 'aes256gcm8', 'aes256gcm12', 'aes256', 'aes256ccm16', 'chacha20', 'toString', '__proto__']) {
    assert.equal(aeadByName(bad), undefined, bad);
  }
});

test('transform IDs: AES-GCM-16 needs its key length, ChaCha20-Poly1305 takes none', () => {
  assert.equal(aeadByTransform(EncrId.AES_GCM_16, 128)!.name, 'aes128gcm16');
  assert.equal(aeadByTransform(EncrId.AES_GCM_16, 192)!.name, 'aes192gcm16');
  assert.equal(aeadByTransform(EncrId.AES_GCM_16, 256)!.name, 'aes256gcm16');
  assert.equal(aeadByTransform(EncrId.AES_GCM_16), undefined);
  assert.equal(aeadByTransform(EncrId.AES_GCM_16, 512), undefined);
  assert.equal(aeadByTransform(EncrId.AES_GCM_8, 256), undefined);
  assert.equal(aeadByTransform(EncrId.AES_CBC, 256), undefined);
  assert.equal(aeadByTransform(EncrId.CHACHA20_POLY1305)!.name, 'chacha20poly1305');
  assert.equal(aeadByTransform(EncrId.CHACHA20_POLY1305, 128), undefined);
});

test('transformOfAead round-trips with aeadByTransform', () => {
  for (const name of SUPPORTED_AEADS) {
    const r = registeredAeadByName(name)!;
    assert.equal(transformOfAead(r.alg), r);
    assert.equal(aeadByTransform(r.encrId, r.keyLengthAttr), r.alg);
  }
  assert.equal(registeredAeadByName('chacha20poly1305')!.keyLengthAttr, undefined);
  assert.equal(registeredAeadByName('aes256gcm16')!.encrId, 20);
  assert.equal(registeredAeadByName('chacha20poly1305')!.encrId, 28);
});
