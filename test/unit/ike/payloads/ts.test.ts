import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NotifyType, PayloadType, TsType } from '../../../../firmware/ike/constants.ts';
import { IkeDecodeError } from '../../../../firmware/ike/errors.ts';
import { decodeTs, encodeTs, type TsPayload } from '../../../../firmware/ike/payloads/ts.ts';
import { hex } from '../codec-fixtures.ts';

// RFC 7296 3.13.1 figure: TS Type, IP Protocol ID, Selector Length, Start/End Port, Start/End Address.
const TS_HEX = `
  02 00 00 00
  07 00 00 10   00 00 ff ff   0a 01 00 00   0a 01 00 ff
  08 06 00 28   01 bb 01 bb
     fd 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
     fd 00 00 00 00 00 00 00 ff ff ff ff ff ff ff ff`;

const ts: TsPayload = {
  type: PayloadType.TSr,
  selectors: [
    { tsType: TsType.IPV4_ADDR_RANGE, ipProtocol: 0, startPort: 0, endPort: 65535, startAddress: hex('0a010000'), endAddress: hex('0a0100ff') },
    { tsType: TsType.IPV6_ADDR_RANGE, ipProtocol: 6, startPort: 443, endPort: 443, startAddress: hex('fd000000000000000000000000000000'), endAddress: hex('fd00000000000000ffffffffffffffff') },
  ],
};

test('TS: IPv4 and IPv6 ranges match the hand-assembled bytes', () => {
  assert.equal(encodeTs(ts).toString('hex'), hex(TS_HEX).toString('hex'));
  assert.deepEqual(decodeTs(hex(TS_HEX), PayloadType.TSr), ts);
  assert.equal(decodeTs(hex(TS_HEX)).type, PayloadType.TSi);
});

test('TS: an unknown selector type is a typed error answered with TS_UNACCEPTABLE', () => {
  // type 10 (TS_SECLABEL, RFC 9478)
  assert.throws(() => decodeTs(hex('01 00 00 00 0a 00 00 08 00 00 00 00')), (e: unknown) =>
    e instanceof IkeDecodeError && e.kind === 'unknown-ts-type' && e.notify === NotifyType.TS_UNACCEPTABLE && e.data?.[0] === 10);
});

test('TS: wrong selector lengths, counts and truncation are INVALID_SYNTAX', () => {
  const bad = (h: string): void => {
    assert.throws(() => decodeTs(hex(h)), (e: unknown) => e instanceof IkeDecodeError && e.notify === NotifyType.INVALID_SYNTAX);
  };
  bad('01 00 00 00 07 00 00 28 00 00 ff ff 0a 01 00 00 0a 01 00 ff'); // IPv4 with IPv6 length
  bad('01 00 00 00 07 00 00 10 00 00 ff ff 0a 01 00 00 0a 01 00'); // truncated end address
  bad('02 00 00 00 07 00 00 10 00 00 ff ff 0a 01 00 00 0a 01 00 ff'); // count 2, one selector
  bad('01 00 00 00 07 00 00 10 00 00 ff ff 0a 01 00 00 0a 01 00 ff 00'); // trailing byte
  bad('01 00 00'); // short header
});
