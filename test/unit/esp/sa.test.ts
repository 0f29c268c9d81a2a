// EspSa: round trips, framing, padding, dummy packets, bad input, counters, sequence exhaustion.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AeadKey } from '../../../firmware/crypto/aead.ts';
import { SUPPORTED_AEADS, aeadByName } from '../../../firmware/crypto/aeads.ts';
import { EspSa, ESP_MIN_BYTES, espPacketBytes, putU32, readSpi, type OpenResult } from '../../../firmware/esp/index.ts';
import { Prng, ipv4, ipv6, keymat } from './helpers.ts';

const SPI = 0xc0ffee01;

function pair(name: string, esn: boolean, prng = new Prng(1)): { key: AeadKey; out: EspSa; inb: EspSa } {
  const key = aeadByName(name)!.createKey(keymat(aeadByName(name)!, prng));
  return { key, out: new EspSa({ spi: SPI, direction: 'out', key, esn }), inb: new EspSa({ spi: SPI, direction: 'in', key, esn }) };
}

function sealed(r: ReturnType<EspSa['seal']>): Buffer {
  assert.ok(Buffer.isBuffer(r), `seal failed: ${JSON.stringify(r)}`);
  return r;
}

function opened(r: OpenResult): { inner: Buffer; nextHeader: number } {
  assert.equal(r.kind, 'packet', JSON.stringify(r));
  if (r.kind !== 'packet') throw new Error('unreachable');
  return r;
}

/** An authenticated packet around an arbitrary plaintext (to forge bad trailers with a valid ICV). */
function craft(key: AeadKey, spi: number, seq: number, plaintext: Uint8Array): Buffer {
  const prefix = Buffer.alloc(16);
  putU32(prefix, 0, spi);
  putU32(prefix, 4, seq);
  putU32(prefix, 12, seq);
  const aad = prefix.subarray(0, 8);
  return Buffer.concat([prefix, key.seal(prefix.subarray(8), aad, plaintext)]);
}

for (const name of SUPPORTED_AEADS) {
  for (const esn of [false, true]) {
    test(`${name} ESN ${esn ? 'on' : 'off'}: IPv4 and IPv6 round trips with RFC 4303 framing`, () => {
      const prng = new Prng(name.length * 31 + (esn ? 1 : 0));
      const { key, out, inb } = pair(name, esn, prng);
      let seq = 0;
      for (const size of [20, 21, 22, 23, 40, 41, 42, 43, 64, 512, 1400, 9000]) {
        for (const v6 of [false, true]) {
          if (v6 && size < 40) continue;
          const inner = v6 ? ipv6(size, prng) : ipv4(size, prng);
          const esp = sealed(out.seal(inner, v6 ? 41 : 4));
          seq++;
          assert.equal(esp.length, espPacketBytes(size));
          assert.equal((esp.length - 16 - 16) % 4, 0, 'trailer 4-byte aligned');
          assert.equal(readSpi(esp), SPI);
          assert.equal(esp.readUInt32BE(4), seq);
          assert.equal(esp.readBigUInt64BE(8), BigInt(seq), 'IV is the 64-bit sequence number');
          // Padding is 1, 2, 3, ... and the trailer carries its length and the next header.
          const pt = key.open(esp.subarray(8, 16), esn ? Buffer.concat([esp.subarray(0, 4), Buffer.alloc(4), esp.subarray(4, 8)]) : esp.subarray(0, 8), esp.subarray(16))!;
          const pad = pt[pt.length - 2]!;
          assert.equal(pt[pt.length - 1], v6 ? 41 : 4);
          assert.equal(pad, (4 - ((size + 2) % 4)) % 4);
          assert.deepEqual([...pt.subarray(size, size + pad)], Array.from({ length: pad }, (_, i) => i + 1));

          const r = opened(inb.open(esp));
          assert.equal(r.nextHeader, v6 ? 41 : 4);
          assert.deepEqual(r.inner, inner);
        }
      }
      assert.equal(out.counters.packetsOut, seq);
      assert.equal(inb.counters.packetsIn, seq);
      assert.equal(out.counters.bytesOut, inb.counters.bytesIn);
      assert.equal(out.lastSeq, BigInt(seq));
      assert.equal(inb.lastSeq, BigInt(seq));
      assert.equal(out.algorithm, name);
    });
  }
}

test('dummy packets (next header 59) are dropped silently and counted apart', () => {
  const { out, inb } = pair('aes256gcm16', false);
  const r = inb.open(sealed(out.seal(Buffer.from('anything at all'), 59)));
  assert.deepEqual(r, { kind: 'dummy' });
  assert.deepEqual(inb.open(sealed(out.seal(Buffer.alloc(0), 59))), { kind: 'dummy' });
  assert.equal(out.counters.dummyOut, 2);
  assert.equal(inb.counters.dummyIn, 2);
  assert.equal(out.counters.packetsOut + inb.counters.packetsIn + out.counters.bytesOut, 0);
  // A dummy still uses its sequence number.
  const real = ipv4(28);
  assert.equal(sealed(out.seal(real, 4)).readUInt32BE(4), 3);
});

test('TFC padding after the inner datagram is cut at the IP length; a lying length is malformed', () => {
  const { key, out, inb } = pair('chacha20poly1305', false);
  const inner = ipv4(60);
  const padded = Buffer.concat([inner, Buffer.alloc(100, 0xee)]);
  assert.deepEqual(opened(inb.open(sealed(out.seal(padded, 4)))).inner, inner);
  const v6 = ipv6(80);
  assert.deepEqual(opened(inb.open(sealed(out.seal(Buffer.concat([v6, Buffer.alloc(7)]), 41)))).inner, v6);

  const short = ipv4(60);
  short.writeUInt16BE(61, 2); // says 61, carries 60
  assert.deepEqual(inb.open(sealed(out.seal(short, 4))), { kind: 'drop', drop: 'malformed' });
  assert.deepEqual(inb.open(sealed(out.seal(ipv6(60), 4))), { kind: 'drop', drop: 'malformed' }, 'IPv6 under next header 4');
  assert.deepEqual(inb.open(sealed(out.seal(ipv4(60), 41))), { kind: 'drop', drop: 'malformed' }, 'IPv4 under next header 41');
  assert.deepEqual(inb.open(sealed(out.seal(Buffer.from([0x45, 0, 0, 19]), 4))), { kind: 'drop', drop: 'malformed' });
  // A next header other than 4, 41, 59 under a valid ICV.
  const seq = Number(out.lastSeq) + 1;
  assert.deepEqual(inb.open(craft(key, SPI, seq, Buffer.concat([ipv4(20), Buffer.from([1, 2, 2, 17])]))), { kind: 'drop', drop: 'malformed' });
  assert.equal(inb.counters.drops.malformed, 5);
  assert.equal(inb.counters.packetsIn, 2);
});

test('bad padding under a valid ICV is dropped as bad_padding and its sequence number is spent', () => {
  const { key, inb } = pair('aes128gcm16', false);
  const body = ipv4(20);
  const bad: Array<[number[], string]> = [
    [[1, 3, 2, 4], 'second pad byte wrong'],
    [[2, 2, 2, 4], 'first pad byte wrong'],
    [[0, 1, 4], 'pad bytes 0,1'],
    [[1, 2, 3, 4], 'pad length 3 but the bytes before do not match'],
  ];
  let seq = 1;
  for (const [trailer, why] of bad) {
    const esp = craft(key, SPI, seq, Buffer.concat([body, Buffer.from(trailer)]));
    assert.deepEqual(inb.open(esp), { kind: 'drop', drop: 'bad_padding' }, why);
    assert.deepEqual(inb.open(esp), { kind: 'drop', drop: 'replay' }, `${why}: replay`);
    seq++;
  }
  // Pad length larger than the plaintext.
  assert.deepEqual(inb.open(craft(key, SPI, seq++, Buffer.from([1, 2, 200, 4]))), { kind: 'drop', drop: 'bad_padding' });
  // Good padding of the same shape is accepted.
  assert.deepEqual(opened(inb.open(craft(key, SPI, seq++, Buffer.concat([body, Buffer.from([1, 2, 2, 4])])))).inner, body);
  assert.equal(inb.counters.drops.bad_padding, 5);
  assert.equal(inb.counters.drops.replay, 4);
});

test('truncated, oversized, wrong-SPI, bad-ICV and garbage packets are dropped, counted, never thrown', () => {
  const { out, inb } = pair('aes256gcm16', true);
  const esp = sealed(out.seal(ipv4(100), 4));
  const drops: Record<string, number> = {};
  const expectDrop = (p: Uint8Array, reason: string, why: string) => {
    const r = inb.open(p);
    assert.deepEqual(r, { kind: 'drop', drop: reason }, why);
    drops[reason] = (drops[reason] ?? 0) + 1;
  };
  for (let n = 0; n < esp.length; n++) expectDrop(esp.subarray(0, n), n < ESP_MIN_BYTES ? 'malformed' : 'auth_failed', `truncated to ${n}`);
  expectDrop(Buffer.concat([esp, Buffer.alloc(1)]), 'auth_failed', 'one byte appended');
  expectDrop(Buffer.alloc(65536, 1), 'malformed', 'larger than any IP datagram');
  const otherSpi = Buffer.from(esp);
  otherSpi.writeUInt32BE(SPI + 1, 0);
  expectDrop(otherSpi, 'unknown_spi', 'another SPI');
  for (const at of [8, 16, 40, esp.length - 1]) {
    const bad = Buffer.from(esp);
    bad[at]! ^= 0x10;
    expectDrop(bad, 'auth_failed', `flip at ${at}`);
  }
  expectDrop(Buffer.alloc(200), 'unknown_spi', 'zeros');
  // None of that touched the window: the real packet still opens, once.
  assert.equal(opened(inb.open(esp)).inner.length, 100);
  expectDrop(esp, 'replay', 'replayed');
  for (const [reason, n] of Object.entries(drops)) assert.equal(inb.counters.drops[reason as 'replay'], n, reason);
  assert.equal(inb.counters.packetsIn, 1);
});

test('a configured maximum packet size bounds both seal and open', () => {
  const prng = new Prng(9);
  const key = aeadByName('chacha20poly1305')!.createKey(keymat(aeadByName('chacha20poly1305')!, prng));
  const out = new EspSa({ spi: SPI, direction: 'out', key, maxPacketBytes: 200 });
  const inb = new EspSa({ spi: SPI, direction: 'in', key, maxPacketBytes: 200 });
  const big = new EspSa({ spi: SPI, direction: 'out', key, nextSeq: 100n });
  let fits = 0;
  while (espPacketBytes(fits + 1) <= 200) fits++;
  assert.equal(fits, 166, '16 header+IV, 166 + 2 trailer = 168 aligned, 16 ICV');
  assert.ok(Buffer.isBuffer(out.seal(ipv4(fits), 4)));
  assert.deepEqual(out.seal(ipv4(fits + 1), 4), { error: 'too_big' });
  assert.equal(out.lastSeq, 1n, 'a refused packet uses no sequence number');
  assert.deepEqual(inb.open(sealed(big.seal(ipv4(fits + 1), 4))), { kind: 'drop', drop: 'malformed' });
  assert.deepEqual(new EspSa({ spi: SPI, direction: 'out', key }).seal(new Uint8Array(65535), 4), { error: 'too_big' });
});

test('sequence exhaustion without ESN: 2^32-1 is the last number, then seal refuses', () => {
  const { key } = pair('aes256gcm16', false);
  const out = new EspSa({ spi: SPI, direction: 'out', key, nextSeq: 0xfffffffen });
  const inb = new EspSa({ spi: SPI, direction: 'in', key });
  assert.equal(out.rekeyNeeded, true, 'already past the default soft limit');
  const a = sealed(out.seal(ipv4(20), 4));
  const b = sealed(out.seal(ipv4(20), 4));
  assert.equal(a.readUInt32BE(4), 0xfffffffe);
  assert.equal(b.readUInt32BE(4), 0xffffffff);
  assert.equal(out.exhausted, true);
  assert.deepEqual(out.seal(ipv4(20), 4), { error: 'seq_exhausted' });
  assert.deepEqual(out.seal(ipv4(20), 59), { error: 'seq_exhausted' });
  assert.equal(out.lastSeq, 0xffffffffn);
  assert.equal(out.counters.packetsOut, 2);
  opened(inb.open(a));
  opened(inb.open(b));
});

test('sequence exhaustion with ESN: crossing 2^32 continues, 2^64-1 is the last number', () => {
  const { key } = pair('chacha20poly1305', true);
  const out = new EspSa({ spi: SPI, direction: 'out', key, esn: true, nextSeq: 0xffffffffn });
  assert.equal(sealed(out.seal(ipv4(20), 4)).readBigUInt64BE(8), 0xffffffffn);
  const next = sealed(out.seal(ipv4(20), 4));
  assert.equal(next.readUInt32BE(4), 0, 'only the low half is sent');
  assert.equal(next.readBigUInt64BE(8), 0x1_0000_0000n);
  assert.equal(out.exhausted, false);
  assert.equal(out.rekeyNeeded, false);

  const nearEnd = new EspSa({ spi: SPI, direction: 'out', key, esn: true, nextSeq: 0xffff_ffff_ffff_0000n });
  assert.equal(nearEnd.rekeyNeeded, true, 'past the default ESN soft limit');

  const end = new EspSa({ spi: SPI, direction: 'out', key, esn: true, nextSeq: 0xffff_ffff_ffff_fffen, softLimit: 0xffff_ffff_ffff_ffffn });
  assert.equal(end.rekeyNeeded, false);
  sealed(end.seal(ipv4(20), 4));
  assert.equal(end.rekeyNeeded, false);
  assert.equal(sealed(end.seal(ipv4(20), 4)).readBigUInt64BE(8), 0xffff_ffff_ffff_ffffn);
  assert.equal(end.rekeyNeeded, true);
  assert.deepEqual(end.seal(ipv4(20), 4), { error: 'seq_exhausted' });
  assert.equal(end.exhausted, true);
  assert.equal(end.lastSeq, 0xffff_ffff_ffff_ffffn);
});

test('rekeyNeeded rises when the soft limit is reached, outbound and inbound', () => {
  const { key } = pair('aes128gcm16', false);
  const out = new EspSa({ spi: SPI, direction: 'out', key, softLimit: 3n });
  const inb = new EspSa({ spi: SPI, direction: 'in', key, softLimit: 3n });
  const flags: boolean[] = [];
  for (let i = 0; i < 4; i++) {
    const esp = sealed(out.seal(ipv4(20), 4));
    flags.push(out.rekeyNeeded);
    opened(inb.open(esp));
    assert.equal(inb.rekeyNeeded, out.rekeyNeeded);
  }
  assert.deepEqual(flags, [false, false, true, true]);
});

test('options are validated; direction misuse is a programming error', () => {
  const { key, out, inb } = pair('aes256gcm16', false);
  assert.throws(() => new EspSa({ spi: 0, direction: 'in', key }), RangeError);
  assert.throws(() => new EspSa({ spi: 255, direction: 'in', key }), RangeError);
  assert.throws(() => new EspSa({ spi: 2 ** 32, direction: 'in', key }), RangeError);
  assert.throws(() => new EspSa({ spi: SPI, direction: 'in', key, replayWindow: 16 }), RangeError);
  assert.throws(() => new EspSa({ spi: SPI, direction: 'out', key, replayWindow: 1024 }), RangeError);
  assert.throws(() => new EspSa({ spi: SPI, direction: 'in', key, nextSeq: 5n }), RangeError);
  assert.throws(() => new EspSa({ spi: SPI, direction: 'out', key, nextSeq: 0n }), RangeError);
  assert.throws(() => new EspSa({ spi: SPI, direction: 'out', key, nextSeq: 2n ** 32n }), RangeError);
  assert.throws(() => new EspSa({ spi: SPI, direction: 'out', key, maxPacketBytes: 65536 }), RangeError);
  assert.throws(() => new EspSa({ spi: SPI, direction: 'out', key, softLimit: 2n ** 32n }), RangeError);
  assert.doesNotThrow(() => new EspSa({ spi: SPI, direction: 'out', key, esn: true, nextSeq: 2n ** 32n }));
  assert.throws(() => inb.seal(ipv4(20), 4));
  assert.throws(() => out.open(Buffer.alloc(64)));
  assert.throws(() => out.seal(ipv4(20), 17 as 4), RangeError);
});

test('the framing layer refuses a payload that cannot fit an ESP packet', async () => {
  const { encodeEsp } = await import('../../../firmware/esp/index.ts');
  const key = aeadByName('aes128gcm16')!.createKey(new Uint8Array(20));
  const p = { key, spi: SPI, seqHi: 0, seqLo: 1, esn: false, iv: new Uint8Array(8), nextHeader: 4 };
  // 65498 + 2 trailer = 65500 (aligned) + 32 = 65532; one byte more pads past 65535.
  assert.equal(encodeEsp({ ...p, payload: new Uint8Array(65498) }).length, 65532);
  assert.throws(() => encodeEsp({ ...p, payload: new Uint8Array(65499) }), RangeError);
});
