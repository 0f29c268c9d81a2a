// node:crypto against @noble/ciphers on random inputs, both directions, every transform.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SUPPORTED_AEADS, aeadByName } from '../../../firmware/crypto/aeads.ts';
import { Prng, keymat, nobleKey } from '../esp/helpers.ts';

const SIZES = [0, 1, 2, 15, 16, 17, 63, 64, 65, 255, 1400, 1500, 8999, 9000];
const RANDOM_CASES = 12;

for (const name of SUPPORTED_AEADS) {
  test(`${name}: node seals -> noble opens, noble seals -> node opens, flips rejected by both`, () => {
    const alg = aeadByName(name)!;
    const prng = new Prng(0x5eed ^ name.length);
    const sizes = [...SIZES, ...Array.from({ length: RANDOM_CASES }, () => prng.int(9001))];
    for (const size of sizes) {
      const km = keymat(alg, prng);
      const node = alg.createKey(km), noble = nobleKey(alg, km);
      const iv = prng.bytes(8), aad = prng.bytes(prng.int(40)), pt = prng.bytes(size);

      const a = node.seal(iv, aad, pt);
      assert.equal(a.length, size + 16);
      assert.deepEqual(noble.open(iv, aad, a), pt, `noble opens node, size ${size}`);
      const b = noble.seal(iv, aad, pt);
      assert.deepEqual(a, b, `same ciphertext, size ${size}`);
      assert.deepEqual(node.open(iv, aad, b), pt, `node opens noble, size ${size}`);

      const bad = Buffer.from(a);
      const bit = prng.int(bad.length * 8);
      bad[bit >> 3]! ^= 1 << (bit & 7);
      assert.equal(node.open(iv, aad, bad), null, `node rejects flip ${bit}, size ${size}`);
      assert.equal(noble.open(iv, aad, bad), null, `noble rejects flip ${bit}, size ${size}`);
    }
  });
}
