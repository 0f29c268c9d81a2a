import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExchangeType, NotifyType } from '../../../firmware/ike/constants.ts';
import { IkeDecodeError } from '../../../firmware/ike/errors.ts';
import { IKE_HEADER_LENGTH, decodeHeader, describeHeader, encodeHeader, type IkeHeader } from '../../../firmware/ike/header.ts';
import { hex } from './codec-fixtures.ts';

// RFC 7296 3.1 figure, by hand: SPIi, SPIr, Next Payload (SK = 0x2e), version 0x20,
// exchange IKE_AUTH (0x23), flags R (0x20), Message ID 1, Length 28.
const HDR = '0102030405060708 1112131415161718 2e 20 23 20 00000001 0000001c';

const h: IkeHeader = {
  spiI: hex('0102030405060708'), spiR: hex('1112131415161718'), exchangeType: ExchangeType.IKE_AUTH,
  initiator: false, response: true, messageId: 1,
};

test('header: encodes and decodes the RFC 7296 3.1 layout', () => {
  assert.equal(encodeHeader(h, 0x2e, 28).toString('hex'), hex(HDR).toString('hex'));
  assert.deepEqual(decodeHeader(hex(HDR)), { ...h, nextPayload: 0x2e, majorVersion: 2, minorVersion: 0, length: 28 });
  assert.equal(IKE_HEADER_LENGTH, 28);
  assert.equal(describeHeader(h), 'IKE_AUTH response 1');
});

test('header: I and V flags, minor version and reserved flag bits', () => {
  const b = hex(HDR);
  b[19] = 0x08 | 0x10 | 0x01 | 0x80; // I, V, and two reserved bits that must be ignored
  b[17] = 0x21; // minor version 1 is accepted
  const d = decodeHeader(b);
  assert.equal(d.initiator, true);
  assert.equal(d.response, false);
  assert.equal(d.higherVersion, true);
  assert.equal(d.minorVersion, 1);
  assert.equal(encodeHeader(d, d.nextPayload, d.length)[19], 0x18);
});

test('header: major version other than 2 is a typed INVALID_MAJOR_VERSION error', () => {
  for (const v of [0x10, 0x30, 0xf0]) {
    const b = hex(HDR);
    b[17] = v;
    assert.throws(() => decodeHeader(b), (e: unknown) =>
      e instanceof IkeDecodeError && e.kind === 'major-version' && e.notify === NotifyType.INVALID_MAJOR_VERSION);
  }
});

test('header: length field must equal the datagram length; short and oversize inputs', () => {
  const syntax = (b: Buffer): void => {
    assert.throws(() => decodeHeader(b), (e: unknown) => e instanceof IkeDecodeError && e.notify === NotifyType.INVALID_SYNTAX);
  };
  syntax(Buffer.concat([hex(HDR), Buffer.alloc(1)])); // datagram longer than the length field
  const short = hex(HDR);
  short.writeUInt32BE(29, 24); // length field larger than the datagram
  syntax(short);
  const zero = hex(HDR);
  zero.writeUInt32BE(0, 24);
  syntax(zero);
  syntax(hex(HDR).subarray(0, 27));
  syntax(Buffer.alloc(0));
  const big = Buffer.alloc(65536);
  hex(HDR).copy(big);
  big.writeUInt32BE(65536, 24);
  assert.throws(() => decodeHeader(big), (e: unknown) => e instanceof IkeDecodeError && e.kind === 'limit');
});

test('header: encoder refuses values it cannot represent', () => {
  assert.throws(() => encodeHeader({ ...h, spiI: Buffer.alloc(4) }, 0, 28), RangeError);
  assert.throws(() => encodeHeader({ ...h, messageId: 2 ** 32 }, 0, 28), RangeError);
  assert.throws(() => encodeHeader(h, 0, 70000), RangeError);
});
