// Bounded, seeded fuzzing of the IKE decoder: mutations of valid IKE_SA_INIT / IKE_AUTH / SKF /
// INFORMATIONAL messages, mutations of SK plaintexts re-sealed with a valid ICV (so the inner
// payload parsers see them), and random bytes. Decoding must either succeed or throw
// IkeDecodeError; whatever decodes must re-encode stably.
//   FUZZ_ITERATIONS=200000 FUZZ_SEED=7 node --import tsx --test test/fuzz/ike-decode.test.ts
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExchangeType, NotifyType, PayloadType, ProtocolId } from '../../firmware/ike/constants.ts';
import { IkeDecodeError } from '../../firmware/ike/errors.ts';
import { decodeMessage, encodeFragment, encodeMessage, encodePayloadChain, openSkChain, openSkf, type DecodedMessage, type Payload } from '../../firmware/ike/message.ts';
import { makeNotify } from '../../firmware/ike/payloads/notify.ts';
import { authHeader, chachaKey, gcmKey, hex, ikeAuthPayloads, ikeSaInitPayloads, initHeader, sealRaw } from '../unit/ike/codec-fixtures.ts';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 3000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x1ce2);

/** mulberry32: small, seedable, good enough to drive mutations reproducibly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING = [0, 1, 2, 3, 4, 7, 8, 0x0f, 0x10, 0x1f, 0x20, 0x21, 0x28, 0x2e, 0x35, 0x7f, 0x80, 0xfe, 0xff];

function mutate(input: Buffer, rnd: () => number, from = 0): Buffer {
  let b = Buffer.from(input);
  const int = (n: number): number => Math.floor(rnd() * n);
  const at = (): number => from + int(Math.max(1, b.length - from));
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds && b.length > 0; r++) {
    switch (int(8)) {
      case 0: { const i = at(); if (i < b.length) b[i]! ^= 1 << int(8); break; }
      case 1: { const i = at(); if (i < b.length) b[i] = INTERESTING[int(INTERESTING.length)]!; break; }
      case 2: { const i = at(); if (i < b.length) b[i] = int(256); break; }
      case 3: { const i = at(); if (i + 1 < b.length) b.writeUInt16BE([0, 1, 3, 4, 5, 8, 0x7fff, 0xffff, b.length - i, b.length - i + 1, int(0x10000)][int(11)]! & 0xffff, i); break; }
      case 4: b = b.subarray(0, at()); break;
      case 5: b = Buffer.concat([b, Buffer.from(Array.from({ length: 1 + int(16) }, () => int(256)))]); break;
      case 6: { const i = at(), n = int(24); b = Buffer.concat([b.subarray(0, i), b.subarray(i, i + n), b.subarray(i)]); break; }
      default: { const i = at(), n = 1 + int(8); b = Buffer.concat([b.subarray(0, i), b.subarray(i + n)]); break; }
    }
  }
  return Buffer.from(b);
}

function fixLength(b: Buffer): Buffer {
  if (b.length >= 28) b.writeUInt32BE(b.length, 24);
  return b;
}

/** Runs fn; returns its result, or undefined for an IkeDecodeError; rethrows anything else with context. */
function attempt<T>(what: string, input: Buffer, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof IkeDecodeError) return undefined;
    throw new Error(`${what} threw ${String(e)} (seed ${SEED}) on ${input.toString('hex')}`, { cause: e });
  }
}

const gcm = gcmKey();
const chacha = chachaKey();
const iv = hex('0000000000000007');

const informational: Payload[] = [
  { type: PayloadType.DELETE, protocol: ProtocolId.ESP, spiSize: 4, spis: [hex('c1c2c3c4'), hex('01020304')] },
  makeNotify(NotifyType.REKEY_SA, Buffer.alloc(0), ProtocolId.ESP, hex('c1c2c3c4')),
];

const chain = encodePayloadChain(ikeAuthPayloads());
const seeds: { name: string; bytes: Buffer }[] = [
  { name: 'IKE_SA_INIT', bytes: encodeMessage(initHeader, ikeSaInitPayloads()) },
  { name: 'IKE_SA_INIT response', bytes: encodeMessage({ ...initHeader, spiR: hex('1112131415161718'), response: true, initiator: false }, ikeSaInitPayloads().slice(0, 4)) },
  { name: 'IKE_AUTH', bytes: encodeMessage(authHeader, ikeAuthPayloads(), { key: gcm, iv }) },
  { name: 'INFORMATIONAL', bytes: encodeMessage({ ...authHeader, exchangeType: ExchangeType.INFORMATIONAL, messageId: 5 }, informational, { key: chacha, iv }) },
  { name: 'SKF', bytes: encodeFragment(authHeader, { fragmentNumber: 1, totalFragments: 3, firstPayload: chain.firstPayload, content: chain.bytes.subarray(0, 100) }, { key: gcm, iv }) },
];

/** Plaintext messages: encode(decode(x)) decodes to the same payloads and re-encodes identically. */
function checkStable(m: DecodedMessage, input: Buffer): void {
  if (m.encrypted) return;
  const once = encodeMessage(m.header, m.payloads);
  const again = decodeMessage(once);
  assert.deepEqual(again.payloads, m.payloads, `re-decode differs for ${input.toString('hex')}`);
  assert.ok(encodeMessage(again.header, again.payloads).equals(once), `re-encode unstable for ${input.toString('hex')}`);
}

test(`decoder survives ${ITERATIONS} mutated and random messages (seed ${SEED})`, (t) => {
  const rnd = prng(SEED);
  const counts = { decoded: 0, rejected: 0, opened: 0 };
  for (let i = 0; i < ITERATIONS; i++) {
    const choice = rnd();
    let input: Buffer;
    if (choice < 0.1) {
      // random bytes, half of them behind a plausible header
      const body = Buffer.from(Array.from({ length: Math.floor(rnd() * 400) }, () => Math.floor(rnd() * 256)));
      input = rnd() < 0.5 ? body : fixLength(Buffer.concat([seeds[0]!.bytes.subarray(0, 28), body]));
      if (input.length >= 28 && rnd() < 0.5) input[16] = PayloadType.SA + Math.floor(rnd() * 21);
    } else {
      const seed = seeds[Math.floor(rnd() * seeds.length)]!;
      input = mutate(seed.bytes, rnd);
      if (rnd() < 0.6) fixLength(input);
    }
    const m = attempt('decodeMessage', input, () => decodeMessage(input));
    if (!m) { counts.rejected++; continue; }
    counts.decoded++;
    attempt('re-encode', input, () => checkStable(m, input));
    // Mutated ciphertexts must fail the ICV (or decode), never crash.
    const key = rnd() < 0.5 ? gcm : chacha;
    if (m.encrypted?.kind === 'SK' && attempt('openSk', input, () => openSkChain(m, key))) counts.opened++;
    if (m.encrypted?.kind === 'SKF' && attempt('openSkf', input, () => openSkf(m, key))) counts.opened++;
  }
  t.diagnostic(JSON.stringify(counts));
  assert.ok(counts.decoded > 0 && counts.rejected > 0, JSON.stringify(counts));
});

test(`inner payload parsers survive ${ITERATIONS} mutated SK plaintexts with valid ICVs (seed ${SEED})`, (t) => {
  const rnd = prng(SEED ^ 0x5eed);
  const plains = [
    { first: chain.firstPayload, bytes: Buffer.concat([chain.bytes, Buffer.from([0])]) },
    (() => { const c = encodePayloadChain(informational); return { first: c.firstPayload, bytes: Buffer.concat([c.bytes, Buffer.from([0])]) }; })(),
    (() => { const c = encodePayloadChain(ikeSaInitPayloads()); return { first: c.firstPayload, bytes: Buffer.concat([c.bytes, Buffer.from([0])]) }; })(),
  ];
  let opened = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const p = plains[Math.floor(rnd() * plains.length)]!;
    const plain = mutate(p.bytes, rnd);
    if (plain.length === 0) continue;
    const first = rnd() < 0.9 ? p.first : Math.floor(rnd() * 256);
    // sealRaw appends its own pad length byte: pass the mutated bytes minus their last one as content + padding
    const msg = sealRaw(authHeader, first, plain.subarray(0, plain.length - 1), gcm, iv, Buffer.alloc(0), plain[plain.length - 1]!);
    const m = attempt('decodeMessage', msg, () => decodeMessage(msg));
    assert.ok(m, 'a freshly sealed message must decode');
    const chainOut = attempt('openSk', msg, () => openSkChain(m, gcm));
    if (!chainOut) continue;
    opened++;
    // re-encrypting what was opened and opening again yields the same payloads
    const again = encodeMessage(m.header, chainOut.payloads, { key: gcm, iv });
    assert.deepEqual(openSkChain(decodeMessage(again), gcm).payloads, chainOut.payloads);
  }
  t.diagnostic(`opened ${opened}`);
  assert.ok(opened > 0);
});
