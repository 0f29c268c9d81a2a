// KE, Nonce, AUTH, Vendor ID, CERT, CERTREQ, CP, EAP: round trips against hand-assembled bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthMethod, CertEncoding, CfgType, DhId, PayloadType } from '../../../../firmware/ike/constants.ts';
import { IkeDecodeError } from '../../../../firmware/ike/errors.ts';
import { decodeAuth, encodeAuth } from '../../../../firmware/ike/payloads/auth.ts';
import { decodeCert, encodeCert } from '../../../../firmware/ike/payloads/cert.ts';
import { decodeCertReq, encodeCertReq } from '../../../../firmware/ike/payloads/certreq.ts';
import { decodeCp, encodeCp } from '../../../../firmware/ike/payloads/cp.ts';
import { decodeEap, describeEap, encodeEap } from '../../../../firmware/ike/payloads/eap.ts';
import { decodeKe, encodeKe } from '../../../../firmware/ike/payloads/ke.ts';
import { decodeNonce, encodeNonce } from '../../../../firmware/ike/payloads/nonce.ts';
import { decodeVendorId, encodeVendorId } from '../../../../firmware/ike/payloads/vendor-id.ts';
import { hex } from '../codec-fixtures.ts';

function roundTrip<T>(h: string, value: T, decode: (b: Buffer) => T, encode: (v: T) => Buffer): void {
  assert.equal(encode(value).toString('hex'), hex(h).toString('hex'));
  assert.deepEqual(decode(hex(h)), value);
}

test('KE: group, reserved, data', () => {
  roundTrip('00 1f 00 00 aa bb cc', { type: PayloadType.KE, group: DhId.CURVE25519, data: hex('aabbcc') }, decodeKe, encodeKe);
  assert.throws(() => decodeKe(hex('00 1f 00')), IkeDecodeError);
});

test('Nonce: 16..256 bytes', () => {
  roundTrip('11'.repeat(16), { type: PayloadType.NONCE, data: Buffer.alloc(16, 0x11) }, decodeNonce, encodeNonce);
  assert.equal(decodeNonce(Buffer.alloc(256)).data.length, 256);
  assert.throws(() => decodeNonce(Buffer.alloc(15)), IkeDecodeError);
  assert.throws(() => decodeNonce(Buffer.alloc(257)), IkeDecodeError);
  assert.throws(() => encodeNonce({ type: PayloadType.NONCE, data: Buffer.alloc(8) }), RangeError);
});

test('AUTH: method, reserved, data', () => {
  roundTrip('02 00 00 00 01 02 03', { type: PayloadType.AUTH, method: AuthMethod.PSK, data: hex('010203') }, decodeAuth, encodeAuth);
  assert.throws(() => decodeAuth(hex('02 00')), IkeDecodeError);
});

test('Vendor ID, CERT, CERTREQ', () => {
  roundTrip('4f 50', { type: PayloadType.VENDOR_ID, data: hex('4f50') }, decodeVendorId, encodeVendorId);
  roundTrip('04 30 82', { type: PayloadType.CERT, encoding: CertEncoding.X509_SIGNATURE, data: hex('3082') }, decodeCert, encodeCert);
  roundTrip('04' + 'ab'.repeat(20), { type: PayloadType.CERTREQ, encoding: CertEncoding.X509_SIGNATURE, data: Buffer.alloc(20, 0xab) }, decodeCertReq, encodeCertReq);
  assert.throws(() => decodeCert(Buffer.alloc(0)), IkeDecodeError);
  assert.throws(() => decodeCertReq(Buffer.alloc(0)), IkeDecodeError);
});

test('CP: request for INTERNAL_IP4_ADDRESS and INTERNAL_IP4_DNS, reply with a value', () => {
  roundTrip('01 00 00 00  00 01 00 00  00 03 00 00',
    { type: PayloadType.CP, cfgType: CfgType.CFG_REQUEST, attributes: [{ type: 1, value: Buffer.alloc(0) }, { type: 3, value: Buffer.alloc(0) }] }, decodeCp, encodeCp);
  roundTrip('02 00 00 00  00 01 00 04 0a 00 00 05',
    { type: PayloadType.CP, cfgType: CfgType.CFG_REPLY, attributes: [{ type: 1, value: hex('0a000005') }] }, decodeCp, encodeCp);
  // attribute length overruns
  assert.throws(() => decodeCp(hex('02 00 00 00 00 01 00 08 0a 00 00 05')), IkeDecodeError);
  assert.throws(() => decodeCp(hex('02 00 00 00 00 01 00')), IkeDecodeError);
});

test('EAP: kept raw, its own length field checked', () => {
  roundTrip('01 07 00 05 01', { type: PayloadType.EAP, data: hex('0107000501') }, decodeEap, encodeEap);
  assert.equal(describeEap(decodeEap(hex('0107000501'))), 'EAP/REQ/ID');
  assert.throws(() => decodeEap(hex('01 07 00 09 01')), IkeDecodeError);
  assert.throws(() => decodeEap(hex('01 07 00')), IkeDecodeError);
});
