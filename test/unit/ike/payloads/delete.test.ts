import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PayloadType, ProtocolId } from '../../../../firmware/ike/constants.ts';
import { IkeDecodeError } from '../../../../firmware/ike/errors.ts';
import { decodeDelete, encodeDelete, type DeletePayload } from '../../../../firmware/ike/payloads/delete.ts';
import { hex } from '../codec-fixtures.ts';

// RFC 7296 3.11 figure: Protocol ID, SPI Size, Num of SPIs, SPIs.
test('Delete: two ESP SPIs match hand-assembled bytes', () => {
  const h = '03 04 00 02  c1 c2 c3 c4  d1 d2 d3 d4';
  const d: DeletePayload = { type: PayloadType.DELETE, protocol: ProtocolId.ESP, spiSize: 4, spis: [hex('c1c2c3c4'), hex('d1d2d3d4')] };
  assert.equal(encodeDelete(d).toString('hex'), hex(h).toString('hex'));
  assert.deepEqual(decodeDelete(hex(h)), d);
});

test('Delete: the IKE SA is deleted with protocol 1 and no SPIs', () => {
  const d: DeletePayload = { type: PayloadType.DELETE, protocol: ProtocolId.IKE, spiSize: 0, spis: [] };
  assert.equal(encodeDelete(d).toString('hex'), '01000000');
  assert.deepEqual(decodeDelete(hex('01000000')), d);
});

test('Delete: counts and sizes that do not add up are INVALID_SYNTAX', () => {
  for (const h of ['03 04 00 02 c1 c2 c3 c4', '03 04 00 01 c1 c2 c3 c4 00', '03 08 00 01 c1 c2 c3 c4 c1 c2 c3 c4', '01 00 00 01', '01 08 00 01 0102030405060708', '03 04 00']) {
    assert.throws(() => decodeDelete(hex(h)), IkeDecodeError, h);
  }
  // unusual protocol: accepted as long as the sizes add up
  assert.equal(decodeDelete(hex('09 02 00 02 aaaa bbbb')).spis.length, 2);
});
