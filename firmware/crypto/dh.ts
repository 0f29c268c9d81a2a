// IKEv2 key exchange methods on node:crypto (OpenSSL): the @noble packages are the test oracle only.
//   31 Curve25519 (RFC 8031): 32-byte public value; an all-zero shared secret is rejected.
//   19/20 ECP P-256/P-384 (RFC 5903): public value is x | y (no 0x04 prefix), shared secret is x.
//   14 MODP 2048 (RFC 3526 group 14): public value and shared secret zero-padded to 256 bytes.
// Peer values are checked before use (length, range, point on the curve) and give a DhError.

import {
  createDiffieHellman,
  createECDH,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  getDiffieHellman,
  type DiffieHellman,
  type KeyObject,
} from 'node:crypto';
import { DhId } from '../ike/constants.ts';

export type DhErrorCode = 'UNSUPPORTED' | 'BAD_LENGTH' | 'INVALID_PUBLIC' | 'ZERO_SHARED' | 'BAD_PRIVATE';

export class DhError extends Error {
  override readonly name = 'DhError';
  constructor(
    readonly code: DhErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** One side's ephemeral key pair for one exchange. */
export interface KeyShare {
  readonly method: KeyExchangeMethod;
  /** The KE payload's Key Exchange Data. */
  readonly publicValue: Buffer;
  /** g^ir from the peer's Key Exchange Data; throws DhError on a bad peer value. */
  computeShared(peerPublic: Uint8Array): Buffer;
}

export interface KeyExchangeMethod {
  readonly id: DhId;
  /** strongSwan keyword, e.g. "x25519". */
  readonly name: string;
  /** strongSwan/IANA display name, e.g. "CURVE_25519". */
  readonly ianaName: string;
  /** Exact length of the KE payload's Key Exchange Data. */
  readonly publicBytes: number;
  /** Length of g^ir. */
  readonly sharedBytes: number;
  generate(): KeyShare;
  /** Rebuilds a key share from a known private value (test vectors); the format is the method's raw scalar. */
  fromPrivate(privateKey: Uint8Array): KeyShare;
}

function checkLength(m: { name: string; publicBytes: number }, peer: Uint8Array): void {
  if (peer.length !== m.publicBytes) {
    throw new DhError('BAD_LENGTH', `${m.name} public value must be ${m.publicBytes} bytes, got ${peer.length}`);
  }
}

// ---------------------------------------------------------------- Curve25519 (RFC 7748, RFC 8031)

const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

// Raw keys move through JWK where that is safe: node's DER export/import of X25519 keys costs
// about 100 us each, the JWK path about 1-8 us (measured on node 20). Not for a freshly
// generated key: on node 20.20, exporting the public key of generateKeyPairSync('x25519') as JWK
// can deadlock the process for good (a GC during the export's string allocation runs the
// KeyGenJob's destructor, which takes the key's mutex that the export holds): seen in fuzzing
// after tens of thousands of key exchanges, and in a 10-line loop. generate() therefore has
// the job encode the public key as SPKI DER itself (about 95 us more per exchange).
const x25519: KeyExchangeMethod = {
  id: DhId.CURVE25519,
  name: 'x25519',
  ianaName: 'CURVE_25519',
  publicBytes: 32,
  sharedBytes: 32,
  generate(): KeyShare {
    // (@types/node has no overload for an encoded public key with a KeyObject private key.)
    const keygen = generateKeyPairSync as unknown as (type: 'x25519', o: { publicKeyEncoding: { type: 'spki'; format: 'der' } }) => { privateKey: KeyObject; publicKey: Buffer };
    const { privateKey, publicKey } = keygen('x25519', { publicKeyEncoding: { type: 'spki', format: 'der' } });
    // SPKI DER of an X25519 key: a fixed 12-byte header, then the 32-byte public value.
    if (publicKey.length !== 44 || !publicKey.subarray(0, 12).equals(X25519_SPKI_PREFIX)) throw new DhError('BAD_PRIVATE', 'x25519 public key export failed');
    return x25519Share(privateKey, Buffer.from(publicKey.subarray(12)));
  },
  fromPrivate(privateKey: Uint8Array): KeyShare {
    if (privateKey.length !== 32) throw new DhError('BAD_PRIVATE', `x25519 private key must be 32 bytes, got ${privateKey.length}`);
    const priv = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, privateKey]), format: 'der', type: 'pkcs8' });
    // No KeyGenJob behind this key, so its JWK export is safe (see above).
    return x25519Share(priv, Buffer.from(createPublicKey(priv).export({ format: 'jwk' }).x ?? '', 'base64url'));
  },
};

const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

function x25519Share(priv: KeyObject, publicValue: Buffer): KeyShare {
  if (publicValue.length !== 32) throw new DhError('BAD_PRIVATE', 'x25519 public key export failed');
  return {
    method: x25519,
    publicValue,
    computeShared(peerPublic: Uint8Array): Buffer {
      checkLength(x25519, peerPublic);
      let shared: Buffer;
      try {
        const x = Buffer.from(peerPublic.buffer, peerPublic.byteOffset, peerPublic.length).toString('base64url');
        const peer = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
        shared = diffieHellman({ privateKey: priv, publicKey: peer });
      } catch {
        // OpenSSL refuses to return the all-zero output of a low-order point.
        throw new DhError('ZERO_SHARED', 'x25519 shared secret is all zero (peer sent a low-order point)');
      }
      // RFC 8031 section 2.3: MUST check for the all-zero value; do it ourselves rather than trust the library.
      if (isAllZero(shared)) throw new DhError('ZERO_SHARED', 'x25519 shared secret is all zero (peer sent a low-order point)');
      return shared;
    },
  };
}

function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (const v of b) acc |= v;
  return acc === 0;
}

// ---------------------------------------------------------------- ECP groups (RFC 5903)

interface Curve {
  id: DhId;
  name: string;
  ianaName: string;
  openssl: string;
  bytes: number;
  p: bigint;
  b: bigint;
}

const P256: Curve = {
  id: DhId.ECP_256,
  name: 'ecp256',
  ianaName: 'ECP_256',
  openssl: 'prime256v1',
  bytes: 32,
  p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
  b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
};

const P384: Curve = {
  id: DhId.ECP_384,
  name: 'ecp384',
  ianaName: 'ECP_384',
  openssl: 'secp384r1',
  bytes: 48,
  p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
  b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
};

function toBigInt(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt('0x' + Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex'));
}

/** y^2 = x^3 - 3x + b (mod p) with 0 <= x, y < p: the public value must be a point of the group (RFC 5903, RFC 6989). */
function onCurve(c: Curve, x: bigint, y: bigint): boolean {
  if (x >= c.p || y >= c.p) return false;
  const mod = (v: bigint): bigint => ((v % c.p) + c.p) % c.p;
  return mod(y * y) === mod(((x * x) % c.p) * x - 3n * x + c.b);
}

function ecpMethod(c: Curve): KeyExchangeMethod {
  const m: KeyExchangeMethod = {
    id: c.id,
    name: c.name,
    ianaName: c.ianaName,
    publicBytes: 2 * c.bytes,
    sharedBytes: c.bytes,
    generate(): KeyShare {
      const ecdh = createECDH(c.openssl);
      ecdh.generateKeys();
      return share(ecdh);
    },
    fromPrivate(privateKey: Uint8Array): KeyShare {
      if (privateKey.length !== c.bytes) throw new DhError('BAD_PRIVATE', `${c.name} private key must be ${c.bytes} bytes, got ${privateKey.length}`);
      const ecdh = createECDH(c.openssl);
      try {
        ecdh.setPrivateKey(privateKey);
      } catch {
        throw new DhError('BAD_PRIVATE', `${c.name} private key is out of range`);
      }
      return share(ecdh);
    },
  };
  function share(ecdh: ReturnType<typeof createECDH>): KeyShare {
    // getPublicKey() is 0x04 | x | y; IKE carries x | y (RFC 5903 section 7).
    const publicValue = Buffer.from(ecdh.getPublicKey().subarray(1));
    return {
      method: m,
      publicValue,
      computeShared(peerPublic: Uint8Array): Buffer {
        checkLength(m, peerPublic);
        const x = toBigInt(peerPublic.subarray(0, c.bytes));
        const y = toBigInt(peerPublic.subarray(c.bytes));
        if (!onCurve(c, x, y)) throw new DhError('INVALID_PUBLIC', `${c.name} public value is not a point on the curve`);
        try {
          return ecdh.computeSecret(Buffer.concat([Buffer.from([4]), peerPublic]));
        } catch {
          throw new DhError('INVALID_PUBLIC', `${c.name} public value was refused by OpenSSL`);
        }
      },
    };
  }
  return m;
}

// ---------------------------------------------------------------- MODP 2048 (RFC 3526 group 14)

const MODP2048_BYTES = 256;

function leftPad(b: Buffer, len: number): Buffer {
  if (b.length === len) return b;
  const out = Buffer.alloc(len);
  b.copy(out, len - b.length);
  return out;
}

// Node ships RFC 3526 group 14 as 'modp14'; createDiffieHellman on its prime allows setting a private key.
const MODP2048_PRIME = getDiffieHellman('modp14').getPrime();
const MODP2048_P = toBigInt(MODP2048_PRIME);

const modp2048: KeyExchangeMethod = {
  id: DhId.MODP_2048,
  name: 'modp2048',
  ianaName: 'MODP_2048',
  publicBytes: MODP2048_BYTES,
  sharedBytes: MODP2048_BYTES,
  generate(): KeyShare {
    const dh = createDiffieHellman(MODP2048_PRIME, 2);
    dh.generateKeys();
    return modpShare(dh);
  },
  fromPrivate(privateKey: Uint8Array): KeyShare {
    if (privateKey.length === 0 || privateKey.length > MODP2048_BYTES) throw new DhError('BAD_PRIVATE', 'modp2048 private key must be 1..256 bytes');
    const dh = createDiffieHellman(MODP2048_PRIME, 2);
    dh.setPrivateKey(Buffer.from(privateKey));
    dh.generateKeys(); // with a private key set, this only computes the public value
    return modpShare(dh);
  },
};

function modpShare(dh: DiffieHellman): KeyShare {
  return {
    method: modp2048,
    publicValue: leftPad(dh.getPublicKey(), MODP2048_BYTES),
    computeShared(peerPublic: Uint8Array): Buffer {
      checkLength(modp2048, peerPublic);
      // RFC 6989 section 2.2: 1 < y < p-1 rules out the small-subgroup values 0, 1 and p-1.
      const y = toBigInt(peerPublic);
      if (y <= 1n || y >= MODP2048_P - 1n) throw new DhError('INVALID_PUBLIC', 'modp2048 public value is out of range (must be 1 < y < p-1)');
      let s: Buffer;
      try {
        s = dh.computeSecret(Buffer.from(peerPublic));
      } catch {
        throw new DhError('INVALID_PUBLIC', 'modp2048 public value was refused by OpenSSL');
      }
      return leftPad(s, MODP2048_BYTES);
    },
  };
}

// ---------------------------------------------------------------- registry

const METHODS: readonly KeyExchangeMethod[] = [x25519, ecpMethod(P256), ecpMethod(P384), modp2048];

/** The key exchange methods Outpost implements, in preference order. */
export const SUPPORTED_DH: readonly KeyExchangeMethod[] = METHODS;

/** Returns the method for an IANA transform ID, or undefined when Outpost does not implement it. */
export function findDh(id: number): KeyExchangeMethod | undefined {
  return METHODS.find((m) => m.id === id);
}

/** Returns the method for an IANA transform ID; throws DhError('UNSUPPORTED') otherwise. */
export function dhById(id: number): KeyExchangeMethod {
  const m = findDh(id);
  if (!m) throw new DhError('UNSUPPORTED', `key exchange method ${id} is not supported (supported: ${METHODS.map((x) => x.name).join(', ')})`);
  return m;
}

/** Returns the method for a strongSwan keyword ("x25519", "curve25519", "ecp256", ...); throws DhError('UNSUPPORTED') otherwise. */
export function dhByName(name: string): KeyExchangeMethod {
  const m = name === 'curve25519' ? x25519 : METHODS.find((x) => x.name === name);
  if (!m) throw new DhError('UNSUPPORTED', `key exchange method "${name}" is not supported (supported: ${METHODS.map((x) => x.name).join(', ')})`);
  return m;
}
