import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdType, PayloadType } from '../../../../firmware/ike/constants.ts';
import { IkeDecodeError } from '../../../../firmware/ike/errors.ts';
import { decodeId, dnText, encodeId, ipv6Bytes, ipv6Text, makeId } from '../../../../firmware/ike/payloads/id.ts';
import { hex } from '../codec-fixtures.ts';

// RFC 7296 3.5 figure: ID Type, RESERVED (3), Identification Data.
test('ID: FQDN matches hand-assembled bytes and reads back as text', () => {
  const h = '02 00 00 00' + Buffer.from('hq.example.net').toString('hex');
  const id = makeId(PayloadType.IDr, IdType.FQDN, 'hq.example.net');
  assert.equal(encodeId(id).toString('hex'), hex(h).toString('hex'));
  assert.deepEqual(decodeId(hex(h), PayloadType.IDr), id);
  assert.equal(id.text, 'hq.example.net');
});

test('ID: IPv4, IPv6, RFC822, KEY_ID', () => {
  const v4 = makeId(PayloadType.IDi, IdType.IPV4_ADDR, '192.0.2.1');
  assert.equal(encodeId(v4).toString('hex'), '01000000c0000201');
  assert.equal(decodeId(hex('01000000c0000201')).text, '192.0.2.1');
  const v6 = makeId(PayloadType.IDi, IdType.IPV6_ADDR, '2001:db8::1');
  assert.equal(encodeId(v6).toString('hex'), '0500000020010db8000000000000000000000001');
  assert.equal(decodeId(encodeId(v6)).text, '2001:db8::1');
  assert.equal(decodeId(encodeId(makeId(PayloadType.IDi, IdType.RFC822_ADDR, 'tech@example.net'))).text, 'tech@example.net');
  const kid = makeId(PayloadType.IDi, IdType.KEY_ID, 'a1b2c3');
  assert.equal(encodeId(kid).toString('hex'), '0b000000a1b2c3');
  assert.equal(kid.text, 'a1b2c3');
});

test('ID: DER distinguished name is rendered like strongSwan', () => {
  // SEQUENCE { SET { SEQ { OID 2.5.4.6, PrintableString "CH" } }, SET { SEQ { OID 2.5.4.10, UTF8 "Outpost" } }, SET { SEQ { OID 2.5.4.3, UTF8 "hq" } } }
  const der = hex(`30 2c
    31 0b 30 09 06 03 55 04 06 13 02 43 48
    31 10 30 0e 06 03 55 04 0a 0c 07 4f 75 74 70 6f 73 74
    31 0b 30 09 06 03 55 04 03 0c 02 68 71`);
  assert.equal(dnText(der), 'C=CH, O=Outpost, CN=hq');
  const id = decodeId(Buffer.concat([hex('09000000'), der]));
  assert.equal(id.idType, IdType.DER_ASN1_DN);
  assert.equal(id.text, 'C=CH, O=Outpost, CN=hq');
  assert.deepEqual(id.data, der);
  // not a DN: still decodes, text falls back to hex
  assert.equal(decodeId(hex('09000000 3005 0102')).text, 'dn:30050102');
});

test('ID: control characters are escaped in text, never passed to logs raw', () => {
  const id = decodeId(Buffer.concat([hex('02000000'), Buffer.from('a\nb\\c\x1b')]));
  assert.equal(id.text, 'a\\x0ab\\x5cc\\x1b');
});

test('ID: wrong address lengths and short bodies are INVALID_SYNTAX', () => {
  for (const h of ['01000000c00002', '05000000c0000201', '020000']) {
    assert.throws(() => decodeId(hex(h)), IkeDecodeError);
  }
});

test('ipv6 helpers round-trip and compress the longest zero run', () => {
  for (const t of ['::', '::1', 'fd00::', '2001:db8:0:0:1::1', '1:2:3:4:5:6:7:8', '::ffff:192.0.2.1']) {
    const b = ipv6Bytes(t);
    assert.equal(b.length, 16);
    assert.deepEqual(ipv6Bytes(ipv6Text(b)), b, t);
  }
  assert.equal(ipv6Text(ipv6Bytes('2001:db8:0:0:1:0:0:1')), '2001:db8::1:0:0:1');
});
