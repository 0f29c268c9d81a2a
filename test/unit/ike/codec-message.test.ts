import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExchangeType, NotifyType, PayloadType } from '../../../firmware/ike/constants.ts';
import { IkeDecodeError } from '../../../firmware/ike/errors.ts';
import {
  decodeMessage, decodePayloadChain, describeMessage, describePayloads, encodeFragment, encodeMessage, encodePayloadChain,
  openSk, openSkChain, openSkf, type Payload,
} from '../../../firmware/ike/message.ts';
import { makeNotify } from '../../../firmware/ike/payloads/notify.ts';
import {
  authHeader, chachaKey, gcmKey, hex, ikeAuthPayloads, ikeSaInitPayloads, initHeader, rawPayload, sealRaw,
} from './codec-fixtures.ts';

// An IKE_SA_INIT request assembled by hand from the RFC 7296 section 3 figures.
const SA_INIT_HEX = `
  0102030405060708 0000000000000000 21 20 22 08 00000000 000000d0
  22 00 0028   00 00 00 24  01 01 00 03
               03 00 00 0c  01 00 00 14  80 0e 01 00
               03 00 00 08  02 00 00 05
               00 00 00 08  04 00 00 1f
  28 00 0028   00 1f 0000  ${'5a'.repeat(32)}
  29 00 0024   ${'a5'.repeat(32)}
  29 00 001c   00 00 40 04  ${'01'.repeat(20)}
  29 00 001c   00 00 40 05  ${'02'.repeat(20)}
  00 00 0008   00 00 40 2e`;

const saInit: Payload[] = ikeSaInitPayloads().slice(0, 6);
(saInit[0] as { proposals: { transforms: unknown[] }[] }).proposals[0]!.transforms.splice(1, 1); // AES-GCM-256, PRF, DH only

test('IKE_SA_INIT: encodes to the hand-assembled bytes and decodes back', () => {
  const bytes = encodeMessage(initHeader, saInit);
  assert.equal(bytes.toString('hex'), hex(SA_INIT_HEX).toString('hex'));
  const m = decodeMessage(bytes);
  assert.deepEqual(m.payloads, saInit);
  assert.equal(m.encrypted, undefined);
  assert.deepEqual(m.skipped, []);
  assert.equal(describePayloads(m.payloads), 'SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP)');
  assert.equal(describeMessage(m.header, m.payloads), 'IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) ]');
});

test('a message with every plaintext payload type round-trips', () => {
  const all = [...ikeSaInitPayloads(), ...ikeAuthPayloads()];
  const bytes = encodeMessage(initHeader, all);
  const m = decodeMessage(bytes);
  assert.deepEqual(m.payloads, all);
  assert.ok(encodeMessage(m.header, m.payloads).equals(bytes));
});

test('RFC 7634 Appendix B: the ChaCha20-Poly1305 SK example decrypts and re-encrypts to the same bytes', () => {
  // INFORMATIONAL request, message ID 9, SK { N(SET_WINDOW_SIZE = 10) }, IV 10..17.
  const vector = hex(`
    c0 c1 c2 c3 c4 c5 c6 c7 d0 d1 d2 d3 d4 d5 d6 d7
    2e 20 25 00 00 00 00 09 00 00 00 45 29 00 00 29
    10 11 12 13 14 15 16 17 61 03 94 70 1f 8d 01 7f
    7c 12 92 48 89 6b 71 bf e2 52 36 ef d7 cd c6 70
    66 90 63 15 b2`);
  const key = chachaKey();
  const m = decodeMessage(vector);
  assert.equal(m.header.exchangeType, ExchangeType.INFORMATIONAL);
  assert.equal(m.header.messageId, 9);
  assert.ok(m.encrypted?.kind === 'SK');
  assert.equal(m.encrypted.nextPayload, PayloadType.NOTIFY);
  assert.equal(m.encrypted.aad.toString('hex'), vector.subarray(0, 32).toString('hex'));
  assert.equal(m.encrypted.iv.toString('hex'), '1011121314151617');
  assert.equal(m.encrypted.icv.toString('hex'), '6b71bfe25236efd7cdc670669063' + '15b2');
  const inner = openSk(m, key);
  assert.deepEqual(inner, [makeNotify(NotifyType.SET_WINDOW_SIZE, hex('0000000a'))]);
  assert.equal(describeMessage(m.header, inner), 'INFORMATIONAL request 9 [ N(SET_WINSIZE) ]');
  const again = encodeMessage(m.header, inner, { key, iv: m.encrypted.iv });
  assert.equal(again.toString('hex'), vector.toString('hex'));
});

for (const [name, key] of [['aes256gcm16', gcmKey()], ['chacha20poly1305', chachaKey()]] as const) {
  test(`IKE_AUTH with SK (${name}): round trip, AAD and lengths`, () => {
    const payloads = ikeAuthPayloads();
    const iv = hex('0000000000000001');
    const bytes = encodeMessage(authHeader, payloads, { key, iv });
    const m = decodeMessage(bytes);
    assert.equal(m.header.length, bytes.length);
    assert.equal(m.header.nextPayload, PayloadType.SK);
    assert.deepEqual(m.payloads, []);
    assert.ok(m.encrypted?.kind === 'SK');
    // AAD = IKE header (with the final length) + SK generic header.
    assert.ok(m.encrypted.aad.equals(bytes.subarray(0, 32)));
    assert.equal(m.encrypted.aad.readUInt16BE(30), bytes.length - 28);
    const inner = encodePayloadChain(payloads);
    assert.equal(m.encrypted.ciphertext.length, inner.bytes.length + 1); // only the Pad Length byte added
    assert.deepEqual(openSk(m, key), payloads);
    assert.equal(describeMessage(m.header, m.payloads, m.encrypted), 'IKE_AUTH request 1 [ SK ]');
    assert.equal(describePayloads(payloads), 'IDi N(INIT_CONTACT) IDr AUTH CPRQ(ADDR DNS) SA TSi TSr N(MOBIKE_SUP) D EAP/RES/ID');
    assert.ok(encodeMessage(m.header, openSk(m, key), { key, iv }).equals(bytes));
  });
}

test('empty SK (a liveness check) has Next Payload 0 and opens to no payloads', () => {
  const key = gcmKey();
  const bytes = encodeMessage({ ...authHeader, exchangeType: ExchangeType.INFORMATIONAL, messageId: 2 }, [], { key, iv: Buffer.alloc(8) });
  assert.equal(bytes.length, 28 + 4 + 8 + 1 + 16);
  const m = decodeMessage(bytes);
  assert.equal(m.encrypted?.nextPayload, 0);
  assert.deepEqual(openSk(m, key), []);
});

test('SK: any padding whose length fits is accepted; padding that does not fit is INVALID_SYNTAX', () => {
  const key = gcmKey();
  const iv = Buffer.alloc(8, 9);
  const inner = encodePayloadChain(ikeAuthPayloads());
  const padded = sealRaw(authHeader, inner.firstPayload, inner.bytes, key, iv, Buffer.from([0xde, 0xad, 0xbe]));
  assert.deepEqual(openSk(decodeMessage(padded), key), ikeAuthPayloads());
  const tooLong = sealRaw(authHeader, inner.firstPayload, Buffer.alloc(0), key, iv, Buffer.alloc(2), 3);
  assert.throws(() => openSk(decodeMessage(tooLong), key), (e: unknown) =>
    e instanceof IkeDecodeError && e.kind === 'syntax' && /pad length 3/.test(e.detail));
  // padding eating into the payloads: the chain is then truncated
  const eaten = sealRaw(authHeader, inner.firstPayload, inner.bytes, key, iv, Buffer.alloc(0), 5);
  assert.throws(() => openSk(decodeMessage(eaten), key), IkeDecodeError);
});

test('SK: a wrong ICV, key or AAD is an integrity error that must be dropped silently', () => {
  const key = gcmKey();
  const bytes = encodeMessage(authHeader, ikeAuthPayloads(), { key, iv: Buffer.alloc(8) });
  const isIntegrity = (e: unknown): boolean => e instanceof IkeDecodeError && e.kind === 'integrity' && e.notify === null;
  const badIcv = Buffer.from(bytes);
  badIcv[badIcv.length - 1]! ^= 1;
  assert.throws(() => openSk(decodeMessage(badIcv), key), isIntegrity);
  const badAad = Buffer.from(bytes);
  badAad[23]! ^= 1; // message ID is authenticated
  assert.throws(() => openSk(decodeMessage(badAad), key), isIntegrity);
  assert.throws(() => openSk(decodeMessage(bytes), chachaKey()), isIntegrity);
});

test('unknown payloads: skipped when not critical, UNSUPPORTED_CRITICAL_PAYLOAD with the type when critical', () => {
  const key = gcmKey();
  const iv = Buffer.alloc(8);
  const notify = encodePayloadChain([makeNotify(NotifyType.INITIAL_CONTACT)]).bytes;
  // unknown type 200, not critical, then a Notify
  const skip = Buffer.concat([rawPayload(PayloadType.NOTIFY, hex('abcdef')), notify]);
  const chain = openSkChain(decodeMessage(sealRaw(authHeader, 200, skip, key, iv)), key);
  assert.deepEqual(chain.payloads, [makeNotify(NotifyType.INITIAL_CONTACT)]);
  assert.deepEqual(chain.skipped, [200]);
  // the same, critical
  const crit = Buffer.concat([rawPayload(PayloadType.NOTIFY, hex('abcdef'), true), notify]);
  assert.throws(() => openSk(decodeMessage(sealRaw(authHeader, 200, crit, key, iv)), key), (e: unknown) =>
    e instanceof IkeDecodeError && e.kind === 'unsupported-critical' && e.notify === NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD && e.data?.equals(Buffer.from([200])) === true);
  // in a plaintext message, too; a known payload with the critical bit set is simply parsed
  const plain = encodeMessage(initHeader, []);
  const withUnknown = Buffer.concat([plain, rawPayload(PayloadType.NOTIFY, Buffer.alloc(0), true), rawPayload(0, hex('00004006'), true)]);
  withUnknown[16] = 49;
  withUnknown.writeUInt32BE(withUnknown.length, 24);
  assert.throws(() => decodeMessage(withUnknown), (e: unknown) => e instanceof IkeDecodeError && e.data?.[0] === 49);
  withUnknown[29] = 0; // clear the critical bit on the unknown payload
  const m = decodeMessage(withUnknown);
  assert.deepEqual(m.skipped, [49]);
  assert.deepEqual(m.payloads, [makeNotify(NotifyType.COOKIE)]);
});

test('SKF: single fragments encode and decode, AAD covers Fragment Number and Total Fragments', () => {
  const key = chachaKey();
  const payloads = ikeAuthPayloads();
  const chain = encodePayloadChain(payloads);
  const half = Math.ceil(chain.bytes.length / 2);
  const parts = [chain.bytes.subarray(0, half), chain.bytes.subarray(half)];
  const frames = parts.map((content, i) => encodeFragment(authHeader,
    { fragmentNumber: i + 1, totalFragments: 2, firstPayload: chain.firstPayload, content }, { key, iv: Buffer.from([0, 0, 0, 0, 0, 0, 0, i + 1]) }));
  const decoded = frames.map(decodeMessage);
  decoded.forEach((m, i) => {
    assert.equal(m.header.nextPayload, PayloadType.SKF);
    assert.ok(m.encrypted?.kind === 'SKF');
    assert.equal(m.encrypted.fragmentNumber, i + 1);
    assert.equal(m.encrypted.totalFragments, 2);
    assert.equal(m.encrypted.nextPayload, i === 0 ? chain.firstPayload : 0);
    assert.ok(m.encrypted.aad.equals(frames[i]!.subarray(0, 36)));
    assert.equal(describeMessage(m.header, m.payloads, m.encrypted), `IKE_AUTH request 1 [ EF(${i + 1}/2) ]`);
  });
  const content = Buffer.concat(decoded.map((m) => openSkf(m, key)));
  assert.deepEqual(decodePayloadChain(chain.firstPayload, content).payloads, payloads);
  // Fragment Number is authenticated
  const tampered = Buffer.from(frames[1]!);
  tampered.writeUInt16BE(1, 32);
  tampered[28] = 0; // keep "next payload 0" so the header check passes
  assert.throws(() => openSkf(decodeMessage(tampered), key), (e: unknown) => e instanceof IkeDecodeError && e.kind === 'integrity');
  // openSk refuses a fragment and vice versa
  assert.throws(() => openSk(decoded[0]!, key), IkeDecodeError);
  assert.throws(() => openSkf(decodeMessage(encodeMessage(authHeader, payloads, { key, iv: Buffer.alloc(8) })), key), IkeDecodeError);
});

test('SKF: invalid fragment numbering is INVALID_SYNTAX', () => {
  const key = chachaKey();
  const f = encodeFragment(authHeader, { fragmentNumber: 2, totalFragments: 3, firstPayload: 0, content: Buffer.alloc(10) }, { key, iv: Buffer.alloc(8) });
  const cases: [number, number, number][] = [[0, 3, 0], [4, 3, 0], [1, 0, 0], [2, 3, PayloadType.NOTIFY]];
  for (const [num, total, next] of cases) {
    const b = Buffer.from(f);
    b.writeUInt16BE(num, 32);
    b.writeUInt16BE(total, 34);
    b[28] = next;
    assert.throws(() => decodeMessage(b), (e: unknown) => e instanceof IkeDecodeError && e.kind === 'syntax', `${num}/${total} next ${next}`);
  }
  assert.throws(() => encodeFragment(authHeader, { fragmentNumber: 3, totalFragments: 2, firstPayload: 0, content: Buffer.alloc(1) }, { key, iv: Buffer.alloc(8) }), RangeError);
});

test('encodeMessage refuses an IV that is not 8 bytes and oversize messages', () => {
  assert.throws(() => encodeMessage(authHeader, [], { key: gcmKey(), iv: Buffer.alloc(12) }), RangeError);
  const huge: Payload[] = [{ type: PayloadType.VENDOR_ID, data: Buffer.alloc(65000) }, { type: PayloadType.VENDOR_ID, data: Buffer.alloc(1000) }];
  assert.throws(() => encodeMessage(initHeader, huge), RangeError);
});

test('AAD covers unencrypted payloads that precede the SK payload (RFC 5282 sec 5)', () => {
  const key = gcmKey();
  const iv = Buffer.alloc(8, 3);
  const inner = encodePayloadChain([makeNotify(NotifyType.INITIAL_CONTACT)]);
  const vid = rawPayload(PayloadType.SK, Buffer.from('outpost'));
  const plain = Buffer.concat([inner.bytes, Buffer.from([0])]);
  const skLen = 4 + 8 + plain.length + 16;
  const head = encodeMessage(authHeader, []).subarray(0, 28);
  head[16] = PayloadType.VENDOR_ID;
  head.writeUInt32BE(28 + vid.length + skLen, 24);
  const aad = Buffer.concat([head, vid, Buffer.from([inner.firstPayload, 0, skLen >> 8, skLen & 0xff])]);
  const bytes = Buffer.concat([aad, iv, key.seal(iv, aad, plain)]);
  const m = decodeMessage(bytes);
  assert.deepEqual(m.payloads, [{ type: PayloadType.VENDOR_ID, data: Buffer.from('outpost') }]);
  assert.ok(m.encrypted?.aad.equals(aad));
  assert.deepEqual(openSk(m, key), [makeNotify(NotifyType.INITIAL_CONTACT)]);
  assert.equal(describeMessage(m.header, m.payloads, m.encrypted), 'IKE_AUTH request 1 [ V SK ]');
  const tampered = Buffer.from(bytes);
  tampered[33]! ^= 1; // inside the plaintext Vendor ID
  assert.throws(() => openSk(decodeMessage(tampered), key), (e: unknown) => e instanceof IkeDecodeError && e.kind === 'integrity');
});
