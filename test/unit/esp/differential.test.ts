// ESP through node:crypto keys against ESP through @noble/ciphers keys: the same SA code must give
// byte-identical packets, each side must open the other's, and any flipped bit must be dropped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SUPPORTED_AEADS, aeadByName } from '../../../firmware/crypto/aeads.ts';
import { EspSa } from '../../../firmware/esp/index.ts';
import { Prng, ipv4, ipv6, keymat, nobleKey } from './helpers.ts';

const CASES = 24;
const DROPS = new Set(['auth_failed', 'replay', 'unknown_spi', 'malformed']);

for (const name of SUPPORTED_AEADS) {
  for (const esn of [false, true]) {
    test(`${name} ESN ${esn ? 'on' : 'off'}: node <-> noble on random packets of 20..9000 bytes, flips dropped`, () => {
      const alg = aeadByName(name)!;
      const prng = new Prng(0xe5b ^ (name.length << 4) ^ (esn ? 1 : 0));
      const km = keymat(alg, prng);
      const spi = 0x8000_0000 + prng.int(0x7fff_ffff);
      // Start near the 2^32 boundary with ESN so the high half is exercised.
      const nextSeq = esn ? 0xffff_fff0n : 1n;
      const mk = (key: ReturnType<typeof alg.createKey>, direction: 'in' | 'out') =>
        new EspSa({ spi, direction, key, esn, ...(direction === 'out' ? { nextSeq } : {}) });
      const nodeOut = mk(alg.createKey(km), 'out'), nobleOut = mk(nobleKey(alg, km), 'out');
      const nodeIn = mk(alg.createKey(km), 'in'), nobleIn = mk(nobleKey(alg, km), 'in');
      if (esn) {
        // Bring the inbound windows near the boundary too (a fresh window cannot place 2^32 - 16).
        const warm = new EspSa({ spi, direction: 'out', key: alg.createKey(km), esn, nextSeq: 0xffff_0000n });
        const w = warm.seal(ipv4(20), 4) as Buffer;
        assert.equal(nodeIn.open(w).kind, 'packet');
        assert.equal(nobleIn.open(w).kind, 'packet');
      }
      const sizes = [20, 40, 9000, ...Array.from({ length: CASES - 3 }, () => 20 + prng.int(8981))];
      for (const size of sizes) {
        const v6 = size >= 40 && prng.int(2) === 1;
        const inner = v6 ? ipv6(size, prng) : ipv4(size, prng);
        const nh = v6 ? 41 : 4;
        const a = nodeOut.seal(inner, nh) as Buffer;
        const b = nobleOut.seal(inner, nh) as Buffer;
        assert.ok(Buffer.isBuffer(a) && Buffer.isBuffer(b));
        assert.deepEqual(a, b, `identical packets, size ${size}`);

        // Flipped bits anywhere (header, IV, ciphertext, ICV): dropped by both, window untouched.
        for (let k = 0; k < 3; k++) {
          const bad = Buffer.from(a);
          const bit = prng.int(bad.length * 8);
          bad[bit >> 3]! ^= 1 << (bit & 7);
          for (const sa of [nodeIn, nobleIn]) {
            const r = sa.open(bad);
            assert.equal(r.kind, 'drop', `flip ${bit} of ${bad.length}`);
            if (r.kind === 'drop') assert.ok(DROPS.has(r.drop), r.drop);
          }
        }
        // node seals -> noble opens, noble seals -> node opens.
        const x = nobleIn.open(a), y = nodeIn.open(b);
        for (const r of [x, y]) {
          assert.equal(r.kind, 'packet', `size ${size}`);
          if (r.kind === 'packet') { assert.deepEqual(r.inner, inner); assert.equal(r.nextHeader, nh); }
        }
      }
      assert.equal(nodeIn.counters.packetsIn, nobleIn.counters.packetsIn);
      assert.equal(nodeIn.counters.drops.auth_failed + nodeIn.counters.drops.replay + nodeIn.counters.drops.unknown_spi + nodeIn.counters.drops.malformed, CASES * 3);
      if (esn) assert.ok(nodeOut.lastSeq > 0xffff_ffffn, 'crossed 2^32');
    });
  }
}
