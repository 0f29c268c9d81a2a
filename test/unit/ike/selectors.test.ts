// Selector formatting: a range that is exactly one prefix prints as the prefix, anything else as
// start..end; the bit-wise prefix test agrees with the definition (the smallest length whose
// selectorFromCidr gives the same range) on seeded random ranges, IPv4 and IPv6.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressText, formatSelector, prefixLength, selectorFromCidr } from '../../../firmware/ike/selectors.ts';
import type { TrafficSelector } from '../../../firmware/ike/payloads/ts.ts';

/** The definition, by trying every length (what formatSelector did before). */
function prefixByDefinition(ts: TrafficSelector): number {
  for (let len = 0; len <= ts.startAddress.length * 8; len++) {
    const c = selectorFromCidr(`${addressText(ts.startAddress)}/${len}`);
    if (c.startAddress.equals(ts.startAddress) && c.endAddress.equals(ts.endAddress)) return len;
  }
  return -1;
}

function prng(seed: number): () => number {
  let x = seed >>> 0;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}

test('formatSelector: prefixes, ranges, protocol and ports', () => {
  assert.equal(formatSelector(selectorFromCidr('10.1.0.0/24')), '10.1.0.0/24');
  assert.equal(formatSelector(selectorFromCidr('0.0.0.0/0')), '0.0.0.0/0');
  assert.equal(formatSelector(selectorFromCidr('192.0.2.7')), '192.0.2.7/32');
  assert.equal(formatSelector(selectorFromCidr('fd00:1:2::/64')), 'fd00:1:2::/64');
  assert.equal(formatSelector(selectorFromCidr('::/0')), '::/0');
  const range = { ...selectorFromCidr('10.1.0.5'), endAddress: Buffer.from([10, 1, 0, 9]) };
  assert.equal(formatSelector(range), '10.1.0.5..10.1.0.9');
  assert.equal(formatSelector({ ...selectorFromCidr('10.1.0.0/24'), ipProtocol: 6, startPort: 443, endPort: 443 }), '10.1.0.0/24[tcp/443]');
  assert.equal(formatSelector({ ...selectorFromCidr('10.1.0.0/24'), ipProtocol: 17 }), '10.1.0.0/24[udp]');
  // Start after end, and mixed families, are not prefixes.
  assert.equal(prefixLength(Buffer.from([10, 0, 0, 9]), Buffer.from([10, 0, 0, 5])), -1);
  assert.equal(prefixLength(Buffer.alloc(4), Buffer.alloc(16, 0xff)), -1);
});

test('prefixLength agrees with the definition on random ranges (seeded)', () => {
  const next = prng(0x5e1ec7);
  for (let i = 0; i < 3000; i++) {
    const size = i % 3 === 0 ? 16 : 4;
    const base = Buffer.from(Array.from({ length: size }, () => next() & 0xff));
    let ts: TrafficSelector;
    if (i % 2 === 0) {
      // An exact prefix of a random length.
      ts = selectorFromCidr(`${addressText(base)}/${next() % (size * 8 + 1)}`);
    } else {
      // A prefix with its end (or start) nudged by a random bit: usually no longer a prefix.
      ts = selectorFromCidr(`${addressText(base)}/${next() % (size * 8 + 1)}`);
      const which = next() & 1 ? ts.endAddress : ts.startAddress;
      const bit = next() % (size * 8);
      which[bit >> 3]! ^= 0x80 >> (bit & 7);
    }
    assert.equal(prefixLength(ts.startAddress, ts.endAddress), prefixByDefinition(ts), `${addressText(ts.startAddress)}..${addressText(ts.endAddress)}`);
  }
});
