// Malformed whole messages: every failure is an IkeDecodeError with a notify to answer with.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NotifyType, PayloadType } from '../../../firmware/ike/constants.ts';
import { IkeDecodeError } from '../../../firmware/ike/errors.ts';
import { MAX_PAYLOADS, decodeMessage, encodeMessage, encodePayloadChain, openSk, type Payload } from '../../../firmware/ike/message.ts';
import { authHeader, gcmKey, ikeAuthPayloads, ikeSaInitPayloads, initHeader, rawPayload, sealRaw } from './codec-fixtures.ts';

function decodeErr(b: Buffer, fn: (b: Buffer) => unknown = decodeMessage): IkeDecodeError {
  try {
    fn(b);
  } catch (e) {
    assert.ok(e instanceof IkeDecodeError, `expected IkeDecodeError, got ${String(e)}`);
    return e;
  }
  assert.fail('decoded without error');
}

/** Rewrites the header Length so only the payload-level fault remains. */
function fixLength(b: Buffer): Buffer {
  b.writeUInt32BE(b.length, 24);
  return b;
}

const valid = encodeMessage(initHeader, ikeSaInitPayloads());

test('every truncation of a valid message is a typed error', () => {
  for (let n = 0; n < valid.length; n++) {
    decodeErr(Buffer.from(valid.subarray(0, n)));
    // with the header Length adjusted, the payload chain itself is truncated
    if (n >= 28) decodeErr(fixLength(Buffer.from(valid.subarray(0, n))));
  }
});

test('payload length fields too big, too small, overrunning', () => {
  // first payload (SA) generic header at offset 28: length field at 30
  for (const len of [0, 1, 3, 4, 5, 39, 41, 0xffff]) {
    const b = Buffer.from(valid);
    b.writeUInt16BE(len, 30);
    const e = decodeErr(b);
    assert.equal(e.notify, NotifyType.INVALID_SYNTAX, `length ${len}: ${e.message}`);
  }
});

test('chain announces a next payload that is not there, or bytes follow the last one', () => {
  const only = encodeMessage(initHeader, [{ type: PayloadType.NONCE, data: Buffer.alloc(16) }]);
  const dangling = Buffer.from(only);
  dangling[28] = PayloadType.NOTIFY;
  assert.match(decodeErr(dangling).detail, /truncated generic header/);
  assert.match(decodeErr(fixLength(Buffer.concat([only, Buffer.alloc(3)]))).detail, /3 bytes after the last payload/);
  const noPayloads = Buffer.from(encodeMessage(initHeader, []));
  noPayloads[16] = PayloadType.SA;
  decodeErr(noPayloads);
});

test('payload count is bounded', () => {
  const many = (n: number): Payload[] => Array.from({ length: n }, () => ({ type: PayloadType.VENDOR_ID, data: Buffer.alloc(1) }));
  assert.equal(decodeMessage(encodeMessage(initHeader, many(MAX_PAYLOADS))).payloads.length, MAX_PAYLOADS);
  assert.throws(() => encodeMessage(initHeader, many(MAX_PAYLOADS + 1)), RangeError);
  // hand-built chain of 65 empty unknown payloads: skipped ones count too
  const chain = Buffer.concat(Array.from({ length: MAX_PAYLOADS + 1 }, (_, i) => rawPayload(i === MAX_PAYLOADS ? 0 : 200, Buffer.alloc(0))));
  const b = fixLength(Buffer.concat([encodeMessage(initHeader, []), chain]));
  b[16] = 200;
  assert.equal(decodeErr(b).kind, 'limit');
});

test('SK must be last, must not nest, and must hold at least IV + pad length + ICV', () => {
  const key = gcmKey();
  const iv = Buffer.alloc(8);
  const sk = encodeMessage(authHeader, ikeAuthPayloads(), { key, iv });
  // bytes after the SK payload
  assert.match(decodeErr(fixLength(Buffer.concat([sk, Buffer.alloc(4)]))).detail, /not the last payload/);
  // SK too short: IV + ICV but no pad length byte
  const short = fixLength(Buffer.concat([sk.subarray(0, 28), rawPayload(0, Buffer.alloc(24))]));
  short[16] = PayloadType.SK;
  assert.match(decodeErr(short).detail, /too short/);
  // an SK inside an SK
  const nested = sealRaw(authHeader, PayloadType.SK, rawPayload(0, Buffer.alloc(30)), key, iv);
  assert.match(decodeErr(nested, (b) => openSk(decodeMessage(b), key)).detail, /inside an encrypted payload/);
  // inner chain overruns the decrypted plaintext
  const inner = encodePayloadChain(ikeAuthPayloads()).bytes;
  const overrun = sealRaw(authHeader, PayloadType.IDi, inner.subarray(0, inner.length - 2), key, iv);
  decodeErr(overrun, (b) => openSk(decodeMessage(b), key));
});

test('garbage inside a known payload is reported with the payload context', () => {
  // a Nonce payload of 8 bytes
  const b = fixLength(Buffer.concat([encodeMessage(initHeader, []), rawPayload(0, Buffer.alloc(8))]));
  b[16] = PayloadType.NONCE;
  assert.match(decodeErr(b).detail, /nonce of 8 bytes/);
});
