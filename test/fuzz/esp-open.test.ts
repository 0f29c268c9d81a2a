// Bounded fuzz of EspSa.open() and the port-4500 classifier: mutations of valid packets and random
// datagrams. Seeded, so a failure reproduces with FUZZ_SEED; FUZZ_ITERATIONS for long runs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SUPPORTED_AEADS, aeadByName } from '../../firmware/crypto/aeads.ts';
import { EspSa, classifyUdp4500, addNonEspMarker, type OpenResult, type TunnelNextHeader } from '../../firmware/esp/index.ts';
import { Prng, ipv4, ipv6, keymat } from '../unit/esp/helpers.ts';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 4000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x0e5b_f022);

function mutate(p: Buffer, prng: Prng, other: Buffer): Buffer {
  const m = Buffer.from(p);
  switch (prng.int(9)) {
    case 0: { // flip 1..8 bits
      for (let i = 1 + prng.int(8); i > 0; i--) { const bit = prng.int(m.length * 8); m[bit >> 3]! ^= 1 << (bit & 7); }
      return m;
    }
    case 1: m[prng.int(m.length)] = prng.int(256); return m;
    case 2: return m.subarray(0, prng.int(m.length)); // truncate
    case 3: return Buffer.concat([m, prng.bytes(1 + prng.int(64))]); // extend
    case 4: { // overwrite a range
      const at = prng.int(m.length), n = Math.min(m.length - at, 1 + prng.int(32));
      prng.bytes(n).copy(m, at);
      return m;
    }
    case 5: other.copy(m, 0, 0, Math.min(16, other.length)); return m; // another packet's header and IV
    case 6: m.writeUInt32BE((m.readUInt32BE(4) + 1 + prng.int(5000)) >>> 0, 4); return m; // another sequence number
    case 7: return Buffer.concat([m.subarray(0, 16), other.subarray(16)]); // another packet's body
    default: { // swap two bytes of the ciphertext or ICV
      const i = 16 + prng.int(m.length - 16), j = 16 + prng.int(m.length - 16);
      const t = m[i]!; m[i] = m[j]!; m[j] = t;
      return m;
    }
  }
}

test(`ESP open() under mutation: never throws, never accepts a changed packet (seed ${SEED}, ${ITERATIONS} iterations)`, () => {
  const prng = new Prng(SEED);
  const sas = SUPPORTED_AEADS.map((name, i) => {
    const alg = aeadByName(name)!;
    const key = alg.createKey(keymat(alg, prng));
    const esn = i % 2 === 1;
    const spi = 0x1000 + i;
    return { out: new EspSa({ spi, direction: 'out', key, esn }), inb: new EspSa({ spi, direction: 'in', key, esn }), recent: [] as Buffer[] };
  });
  let prev: Buffer = Buffer.alloc(64);
  let dropped = 0, accepted = 0;
  for (let it = 0; it < ITERATIONS; it++) {
    const s = sas[it % sas.length]!;
    const size = 20 + prng.int(1481);
    const kind = prng.int(10);
    const nh: TunnelNextHeader = kind === 0 ? 59 : kind < 5 ? 4 : 41;
    const inner = nh === 41 ? ipv6(Math.max(40, size), prng) : ipv4(size, prng);
    const p = s.out.seal(inner, nh) as Buffer;
    const ctx = `seed ${SEED} iteration ${it}`;

    let r: OpenResult;
    const m = mutate(p, prng, prev);
    if (!m.equals(p)) {
      try { r = s.inb.open(m); } catch (e) { assert.fail(`open threw on a mutated packet (${ctx}): ${String(e)}`); }
      assert.equal(r.kind, 'drop', `mutated packet not dropped (${ctx})`);
      dropped++;
    }
    if (prng.int(10) > 0) { // sometimes the original is lost
      r = s.inb.open(p);
      if (nh === 59) assert.equal(r.kind, 'dummy', ctx);
      else {
        assert.equal(r.kind, 'packet', `original not accepted (${ctx}): ${JSON.stringify(r)}`);
        if (r.kind === 'packet') assert.deepEqual(r.inner, inner, ctx);
      }
      accepted++;
      s.recent.push(p);
      if (s.recent.length > 16) s.recent.shift();
    }
    if (prng.int(8) === 0 && s.recent.length > 0) { // a replay
      assert.deepEqual(s.inb.open(s.recent[prng.int(s.recent.length)]!), { kind: 'drop', drop: 'replay' }, ctx);
    }
    if (prng.int(4) === 0) { // a random datagram, half the time under this SA's SPI
      const g = prng.bytes(prng.int(2000));
      if (g.length >= 4 && prng.int(2) === 0) g.writeUInt32BE(s.inb.spi, 0);
      try { r = s.inb.open(g); } catch (e) { assert.fail(`open threw on random bytes (${ctx}): ${String(e)}`); }
      assert.equal(r.kind, 'drop', ctx);
    }
    prev = p;
  }
  assert.ok(dropped > ITERATIONS * 0.9 && accepted > ITERATIONS * 0.8);
});

test(`port-4500 classifier under random input: never throws, follows RFC 3948 (seed ${SEED})`, () => {
  const prng = new Prng(SEED ^ 0x4500);
  const seeds = [Buffer.from([0xff]), addNonEspMarker(prng.bytes(60)), Buffer.concat([Buffer.from([0xc0, 0, 0, 1]), prng.bytes(60)])];
  for (let it = 0; it < ITERATIONS * 4; it++) {
    let u: Buffer;
    const base = seeds[prng.int(seeds.length)]!;
    switch (prng.int(4)) {
      case 0: u = prng.bytes(prng.int(48)); break;
      case 1: u = Buffer.alloc(prng.int(40)); break;
      case 2: u = base.subarray(0, prng.int(base.length + 1)); break;
      default: u = Buffer.from(base); if (u.length) u[prng.int(u.length)] = prng.int(256);
    }
    let c: ReturnType<typeof classifyUdp4500>;
    try { c = classifyUdp4500(u); } catch (e) { assert.fail(`classifier threw (seed ${SEED}, iteration ${it}): ${String(e)}`); }
    const marker = u.length >= 4 && u.readUInt32BE(0) === 0;
    const expected =
      u.length === 1 && u[0] === 0xff ? 'keepalive'
        : marker && u.length >= 32 ? 'ike'
          : !marker && u.length >= 8 ? 'esp'
            : 'malformed';
    assert.equal(c.kind, expected, `iteration ${it}: ${u.toString('hex')}`);
    if (c.kind === 'ike') assert.deepEqual(c.message, u.subarray(4));
    if (c.kind === 'esp') { assert.equal(c.spi, u.readUInt32BE(0)); assert.notEqual(c.spi, 0); }
  }
});
