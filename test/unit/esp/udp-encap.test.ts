import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addNonEspMarker, buildKeepalive, classifyUdp4500, stripNonEspMarker, readSpi, NAT_T_PORT,
} from '../../../firmware/esp/index.ts';

const ike = Buffer.alloc(28, 0x11); // shortest IKE message: the fixed header

test('NAT keepalive is a single 0xFF byte, both ways', () => {
  assert.deepEqual(buildKeepalive(), Buffer.from([0xff]));
  assert.deepEqual(classifyUdp4500(buildKeepalive()), { kind: 'keepalive' });
  assert.deepEqual(classifyUdp4500(Buffer.from([0x00])), { kind: 'malformed', reason: 'bad_keepalive' });
  assert.deepEqual(classifyUdp4500(Buffer.from([0xff, 0xff])), { kind: 'malformed', reason: 'short_esp' });
  assert.equal(NAT_T_PORT, 4500);
});

test('IKE behind the non-ESP marker: added, recognised and stripped without a copy', () => {
  const framed = addNonEspMarker(ike);
  assert.equal(framed.length, 32);
  assert.deepEqual(framed.subarray(0, 4), Buffer.alloc(4));
  const c = classifyUdp4500(framed);
  assert.equal(c.kind, 'ike');
  if (c.kind !== 'ike') return;
  assert.deepEqual(c.message, ike);
  assert.equal(c.message.buffer, framed.buffer, 'a view, not a copy');
  assert.deepEqual(stripNonEspMarker(framed), ike);
  assert.equal(stripNonEspMarker(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8])), undefined);
  assert.deepEqual(classifyUdp4500(Buffer.alloc(4 + 27)), { kind: 'malformed', reason: 'short_ike' });
  assert.deepEqual(classifyUdp4500(Buffer.alloc(4)), { kind: 'malformed', reason: 'short_ike' });
});

test('ESP: non-zero SPI and at least the ESP header', () => {
  const esp = Buffer.from('c0ffee0100000001' + '00'.repeat(40), 'hex');
  const c = classifyUdp4500(esp);
  assert.deepEqual(c, { kind: 'esp', spi: 0xc0ffee01, packet: esp });
  assert.equal(readSpi(esp), 0xc0ffee01);
  assert.deepEqual(classifyUdp4500(esp.subarray(0, 7)), { kind: 'malformed', reason: 'short_esp' });
  assert.deepEqual(classifyUdp4500(esp.subarray(0, 8)).kind, 'esp');
  assert.deepEqual(classifyUdp4500(Buffer.alloc(0)), { kind: 'malformed', reason: 'empty' });
  assert.equal(readSpi(Buffer.alloc(8)), undefined, 'SPI 0 is not an ESP SPI');
  assert.equal(readSpi(Buffer.alloc(3, 1)), undefined);
});
