// Key exchange methods against RFC 7748 / RFC 8031 / RFC 5903 vectors, with @noble/curves as the
// independent oracle on random keys, and the peer-value checks (length, curve, low order, range).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { x25519 as nobleX25519 } from '@noble/curves/ed25519.js';
import { p256 as nobleP256, p384 as nobleP384 } from '@noble/curves/nist.js';
import { DhError, SUPPORTED_DH, dhById, dhByName, findDh, type KeyExchangeMethod } from '../../../firmware/crypto/dh.ts';
import { DhId } from '../../../firmware/ike/constants.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const isDhError = (code: string) => (e: unknown) => e instanceof DhError && e.code === code;

function prng(seed: number): (n: number) => Buffer {
  let s = seed >>> 0;
  return (n) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
      b[i] = s & 0xff;
    }
    return b;
  };
}

test('registry: ids, names, sizes', () => {
  assert.deepEqual(SUPPORTED_DH.map((m) => [m.id, m.name, m.ianaName, m.publicBytes, m.sharedBytes]), [
    [DhId.CURVE25519, 'x25519', 'CURVE_25519', 32, 32],
    [DhId.ECP_256, 'ecp256', 'ECP_256', 64, 32],
    [DhId.ECP_384, 'ecp384', 'ECP_384', 96, 48],
    [DhId.MODP_2048, 'modp2048', 'MODP_2048', 256, 256],
  ]);
  assert.equal(dhByName('curve25519'), dhById(DhId.CURVE25519));
  assert.equal(findDh(DhId.ECP_521), undefined);
  assert.throws(() => dhById(DhId.ECP_521), isDhError('UNSUPPORTED'));
  assert.throws(() => dhByName('modp1024'), isDhError('UNSUPPORTED'));
});

// ---------------------------------------------------------------- X25519

test('RFC 7748 section 6.1 and RFC 8031 Curve25519 exchanges', () => {
  const m = dhById(DhId.CURVE25519);
  const vectors = [
    {
      src: 'RFC 7748 6.1',
      a: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
      aPub: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
      b: '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb',
      bPub: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
      shared: '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
    },
    {
      // RFC 8031 appendix A (as in strongSwan's test_vectors/curve25519.c).
      src: 'RFC 8031',
      a: '751fb4308655b476b6789b7325f9ea8cddd16a58533ff6d9e60009464a5f9d94',
      aPub: '48d5ddd4061257ba166fa3f9bbdb74f1a4e81c089384fa77f790709f0dfbc766',
      b: '0a54645253290d60ddadd0e030bacd9e5501efdc220755a1e978f1b839a05688',
      bPub: '0be7c1f5aad87d7e448662673298a443478b859745179eaf564c79c0ef6eee25',
      shared: 'c74950607a12327f3204d94b6825bfb068b7f8319a9e3708ed3d43ce8130c950',
    },
  ];
  for (const v of vectors) {
    const a = m.fromPrivate(hex(v.a));
    const b = m.fromPrivate(hex(v.b));
    assert.equal(a.publicValue.toString('hex'), v.aPub.replace(/\s/g, ''), `${v.src} a pub`);
    assert.equal(b.publicValue.toString('hex'), v.bPub.replace(/\s/g, ''), `${v.src} b pub`);
    assert.equal(a.computeShared(hex(v.bPub)).toString('hex'), v.shared, `${v.src} shared a`);
    assert.equal(b.computeShared(hex(v.aPub)).toString('hex'), v.shared, `${v.src} shared b`);
  }
});

test('RFC 7748 section 5.2 X25519 scalar multiplication vectors', () => {
  const m = dhById(DhId.CURVE25519);
  const vectors = [
    ['a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4', 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c', 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552'],
    // The second vector's u has its top bit set: implementations must mask it (RFC 7748 5).
    ['4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d', 'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493', '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957'],
  ] as const;
  for (const [k, u, out] of vectors) {
    assert.equal(m.fromPrivate(hex(k)).computeShared(hex(u)).toString('hex'), out);
  }
});

test('X25519 rejects low-order points (all-zero shared secret, RFC 8031 2.3) and bad lengths', () => {
  const m = dhById(DhId.CURVE25519);
  const s = m.generate();
  const lowOrder = [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
    '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  ];
  for (const u of lowOrder) assert.throws(() => s.computeShared(hex(u)), isDhError('ZERO_SHARED'), u);
  for (const len of [0, 31, 33, 64]) assert.throws(() => s.computeShared(Buffer.alloc(len, 9)), isDhError('BAD_LENGTH'));
  assert.throws(() => m.fromPrivate(Buffer.alloc(31)), isDhError('BAD_PRIVATE'));
});

test('X25519 agrees with @noble/curves on random keys', () => {
  const m = dhById(DhId.CURVE25519);
  const rnd = prng(25519);
  for (let i = 0; i < 24; i++) {
    const ours = m.generate();
    const theirPriv = rnd(32);
    const theirPub = nobleX25519.getPublicKey(theirPriv);
    assert.deepEqual(ours.computeShared(theirPub), Buffer.from(nobleX25519.getSharedSecret(theirPriv, ours.publicValue)));
    assert.deepEqual(m.fromPrivate(theirPriv).publicValue, Buffer.from(theirPub));
  }
});

// ---------------------------------------------------------------- ECP (RFC 5903)

const RFC5903 = [
  {
    id: DhId.ECP_256,
    src: 'RFC 5903 8.1',
    i: 'C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433',
    gi: 'DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180' + '5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3',
    r: 'C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53',
    gr: 'D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63' + '56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB',
    girx: 'D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE',
  },
  {
    id: DhId.ECP_384,
    src: 'RFC 5903 8.2',
    i: '099F3C7034D4A2C699884D73A375A67F7624EF7C6B3C0F160647B67414DCE655E35B538041E649EE3FAEF896783AB194',
    gi:
      '667842D7D180AC2CDE6F74F37551F55755C7645C20EF73E31634FE72B4C55EE6DE3AC808ACB4BDB4C88732AEE95F41AA' +
      '9482ED1FC0EEB9CAFC4984625CCFC23F65032149E0E144ADA024181535A0F38EEB9FCFF3C2C947DAE69B4C634573A81C',
    r: '41CB0779B4BDB85D47846725FBEC3C9430FAB46CC8DC5060855CC9BDA0AA2942E0308312916B8ED2960E4BD55A7448FC',
    gr:
      'E558DBEF53EECDE3D3FCCFC1AEA08A89A987475D12FD950D83CFA41732BC509D0D1AC43A0336DEF96FDA41D0774A3571' +
      'DCFBEC7AACF3196472169E838430367F66EEBE3C6E70C416DD5F0C68759DD1FFF83FA40142209DFF5EAAD96DB9E6386C',
    girx: '11187331C279962D93D604243FD592CB9D0A926F422E47187521287E7156C5C4D603135569B9E9D09CF5D4A270F59746',
  },
];

test('RFC 5903 section 8 ECDH vectors: public value is x | y, shared secret is x', () => {
  for (const v of RFC5903) {
    const m = dhById(v.id);
    const i = m.fromPrivate(hex(v.i));
    const r = m.fromPrivate(hex(v.r));
    assert.equal(i.publicValue.toString('hex'), v.gi.toLowerCase(), `${v.src} g^i`);
    assert.equal(r.publicValue.toString('hex'), v.gr.toLowerCase(), `${v.src} g^r`);
    assert.equal(i.computeShared(hex(v.gr)).toString('hex'), v.girx.toLowerCase(), `${v.src} g^ir at i`);
    assert.equal(r.computeShared(hex(v.gi)).toString('hex'), v.girx.toLowerCase(), `${v.src} g^ir at r`);
  }
});

test('ECP rejects points off the curve, coordinates >= p, the 0x04 prefix and wrong lengths', () => {
  for (const v of RFC5903) {
    const m = dhById(v.id);
    const s = m.generate();
    const half = m.publicBytes / 2;
    const bad = hex(v.gr);
    bad[bad.length - 1]! ^= 1; // y changed: off the curve
    assert.throws(() => s.computeShared(bad), isDhError('INVALID_PUBLIC'), `${m.name} off curve`);
    assert.throws(() => s.computeShared(Buffer.alloc(m.publicBytes)), isDhError('INVALID_PUBLIC'), `${m.name} (0,0)`);
    const curve = v.id === DhId.ECP_256 ? nobleP256 : nobleP384;
    const p = Buffer.from(curve.Point.CURVE().p.toString(16).padStart(half * 2, '0'), 'hex');
    // (x + p, y) is congruent to a valid point but not a valid encoding.
    const xPlusP = Buffer.concat([p, hex(v.gr).subarray(half)]);
    assert.throws(() => s.computeShared(xPlusP), isDhError('INVALID_PUBLIC'), `${m.name} x >= p`);
    assert.throws(() => s.computeShared(Buffer.concat([Buffer.from([4]), hex(v.gr)])), isDhError('BAD_LENGTH'), `${m.name} 0x04 prefix`);
    assert.throws(() => s.computeShared(hex(v.gr).subarray(0, half)), isDhError('BAD_LENGTH'), `${m.name} x only`);
    assert.throws(() => m.fromPrivate(Buffer.alloc(half)), isDhError('BAD_PRIVATE'), `${m.name} zero scalar`);
    assert.throws(() => m.fromPrivate(Buffer.alloc(half - 1, 1)), isDhError('BAD_PRIVATE'));
  }
});

test('the curve constants the module validates with are the curves of @noble/curves', async () => {
  // On-curve check would reject every valid point if p or b were wrong; a noble-generated point must pass.
  const rnd = prng(5903);
  for (const [id, curve] of [[DhId.ECP_256, nobleP256], [DhId.ECP_384, nobleP384]] as const) {
    const m = dhById(id);
    const pub = curve.getPublicKey(curve.utils.randomSecretKey(rnd(curve.lengths.seed ?? 48)), false).subarray(1);
    assert.equal(m.generate().computeShared(pub).length, m.sharedBytes);
  }
});

test('P-256 and P-384 agree with @noble/curves on random keys', () => {
  const rnd = prng(256384);
  for (const [id, curve] of [[DhId.ECP_256, nobleP256], [DhId.ECP_384, nobleP384]] as const) {
    const m: KeyExchangeMethod = dhById(id);
    for (let i = 0; i < 16; i++) {
      const ours = m.generate();
      assert.equal(ours.publicValue.length, m.publicBytes);
      const theirPriv = curve.utils.randomSecretKey(rnd(curve.lengths.seed ?? 48));
      const theirPub = curve.getPublicKey(theirPriv, false); // 0x04 | x | y
      const mine = ours.computeShared(theirPub.subarray(1));
      const nobleShared = curve.getSharedSecret(theirPriv, Buffer.concat([Buffer.from([4]), ours.publicValue]), true);
      assert.deepEqual(mine, Buffer.from(nobleShared.subarray(1)), `${m.name} #${i}`);
      assert.deepEqual(m.fromPrivate(theirPriv).publicValue, Buffer.from(theirPub.subarray(1)));
    }
  }
});

// ---------------------------------------------------------------- MODP 2048 (RFC 3526 group 14)

const RFC3526_P = BigInt(
  '0x' +
    'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD' +
    'EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED' +
    'EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F' +
    '83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B' +
    'E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510' +
    '15728E5A8AACAA68FFFFFFFFFFFFFFFF',
);

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}
const toHex256 = (v: bigint): string => v.toString(16).padStart(512, '0');

test('MODP 2048: RFC 3526 group 14, values zero-padded to 256 bytes, checked against BigInt arithmetic', () => {
  const m = dhById(DhId.MODP_2048);
  const rnd = prng(3526);
  for (let i = 0; i < 3; i++) {
    // A short private value gives a public value with leading zero bytes only by chance; 2^x for
    // a tiny x always has them, which exercises the padding.
    const xa = i === 0 ? Buffer.from([0x07]) : rnd(32);
    const xb = rnd(32);
    const a = m.fromPrivate(xa);
    const b = m.fromPrivate(xb);
    const A = modPow(2n, BigInt('0x' + xa.toString('hex')), RFC3526_P);
    const B = modPow(2n, BigInt('0x' + xb.toString('hex')), RFC3526_P);
    assert.equal(a.publicValue.length, 256);
    assert.equal(a.publicValue.toString('hex'), toHex256(A));
    assert.equal(b.publicValue.toString('hex'), toHex256(B));
    const s = a.computeShared(b.publicValue);
    assert.equal(s.length, 256);
    assert.equal(s.toString('hex'), toHex256(modPow(B, BigInt('0x' + xa.toString('hex')), RFC3526_P)));
    assert.deepEqual(b.computeShared(a.publicValue), s);
  }
  const x = m.generate();
  const y = m.generate();
  assert.deepEqual(x.computeShared(y.publicValue), y.computeShared(x.publicValue));
});

test('MODP 2048 rejects 0, 1, p-1, p and wrong lengths', () => {
  const m = dhById(DhId.MODP_2048);
  const s = m.generate();
  for (const v of [0n, 1n, RFC3526_P - 1n, RFC3526_P, RFC3526_P + 5n]) {
    const buf = hex(toHex256(v).slice(-512));
    assert.throws(() => s.computeShared(buf), isDhError('INVALID_PUBLIC'), v.toString(16).slice(0, 8));
  }
  assert.throws(() => s.computeShared(Buffer.alloc(255, 2)), isDhError('BAD_LENGTH'));
  assert.throws(() => s.computeShared(Buffer.alloc(257, 2)), isDhError('BAD_LENGTH'));
});
