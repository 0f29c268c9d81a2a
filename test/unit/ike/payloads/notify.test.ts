import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NotifyType, PayloadType, ProtocolId } from '../../../../firmware/ike/constants.ts';
import { IkeDecodeError } from '../../../../firmware/ike/errors.ts';
import { decodeNotify, encodeNotify, makeNotify } from '../../../../firmware/ike/payloads/notify.ts';
import { hex } from '../codec-fixtures.ts';

// RFC 7296 3.10 figure: Protocol ID, SPI Size, Notify Message Type, SPI, Notification Data.
test('Notify: NAT_DETECTION_SOURCE_IP (no SPI, 20-byte hash) matches hand-assembled bytes', () => {
  const h = '00 00 40 04' + ' 11'.repeat(20);
  const n = makeNotify(NotifyType.NAT_DETECTION_SOURCE_IP, Buffer.alloc(20, 0x11));
  assert.equal(encodeNotify(n).toString('hex'), hex(h).toString('hex'));
  assert.deepEqual(decodeNotify(hex(h)), n);
});

test('Notify: REKEY_SA for an ESP SA carries a 4-byte SPI', () => {
  const h = '03 04 40 09 de ad be ef';
  const n = makeNotify(NotifyType.REKEY_SA, Buffer.alloc(0), ProtocolId.ESP, hex('deadbeef'));
  assert.equal(encodeNotify(n).toString('hex'), hex(h).toString('hex'));
  assert.deepEqual(decodeNotify(hex(h)), n);
  assert.equal(n.type, PayloadType.NOTIFY);
});

test('Notify: SPI size overrunning the body is INVALID_SYNTAX', () => {
  for (const h of ['03 04 40 09 de ad', '00 00 40', '']) {
    assert.throws(() => decodeNotify(hex(h)), (e: unknown) => e instanceof IkeDecodeError && e.notify === NotifyType.INVALID_SYNTAX);
  }
});
