import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DhId, EncrId, EsnId, PayloadType, PrfId, ProtocolId, TransformType } from '../../../../firmware/ike/constants.ts';
import { IkeDecodeError } from '../../../../firmware/ike/errors.ts';
import { decodeSa, encodeSa, type SaPayload } from '../../../../firmware/ike/payloads/sa.ts';
import { hex } from '../codec-fixtures.ts';

// RFC 7296 3.3.1/3.3.2/3.3.5 figures, assembled by hand: one IKE proposal, AES-GCM-16 with a
// Key Length attribute (TV, type 14 = 0x800e), PRF_HMAC_SHA2_256, Curve25519.
const IKE_SA_HEX = `
  00 00 00 24   01 01 00 03
  03 00 00 0c   01 00 00 14   80 0e 01 00
  03 00 00 08   02 00 00 05
  00 00 00 08   04 00 00 1f`;

const ikeSa: SaPayload = {
  type: PayloadType.SA,
  proposals: [{
    number: 1, protocol: ProtocolId.IKE, spi: Buffer.alloc(0),
    transforms: [
      { type: TransformType.ENCR, id: EncrId.AES_GCM_16, keyLength: 256 },
      { type: TransformType.PRF, id: PrfId.HMAC_SHA2_256 },
      { type: TransformType.DH, id: DhId.CURVE25519 },
    ],
  }],
};

// Two ESP proposals with a 4-byte SPI: proposal 1 "last substruc" is 2 (more follow).
const ESP_SA_HEX = `
  02 00 00 20   01 03 04 02   c1 c2 c3 c4
  03 00 00 0c   01 00 00 14   80 0e 00 80
  00 00 00 08   05 00 00 00
  00 00 00 1c   02 03 04 02   c1 c2 c3 c4
  03 00 00 08   01 00 00 1c
  00 00 00 08   05 00 00 00`;

const espSa: SaPayload = {
  type: PayloadType.SA,
  proposals: [
    { number: 1, protocol: ProtocolId.ESP, spi: hex('c1c2c3c4'), transforms: [{ type: TransformType.ENCR, id: EncrId.AES_GCM_16, keyLength: 128 }, { type: TransformType.ESN, id: EsnId.NO }] },
    { number: 2, protocol: ProtocolId.ESP, spi: hex('c1c2c3c4'), transforms: [{ type: TransformType.ENCR, id: EncrId.CHACHA20_POLY1305 }, { type: TransformType.ESN, id: EsnId.NO }] },
  ],
};

test('SA: IKE proposal with GCM + key length attribute matches the hand-assembled bytes', () => {
  assert.equal(encodeSa(ikeSa).toString('hex'), hex(IKE_SA_HEX).toString('hex'));
  assert.deepEqual(decodeSa(hex(IKE_SA_HEX)), ikeSa);
});

test('SA: two ESP proposals with SPIs round-trip byte for byte', () => {
  assert.equal(encodeSa(espSa).toString('hex'), hex(ESP_SA_HEX).toString('hex'));
  assert.deepEqual(decodeSa(hex(ESP_SA_HEX)), espSa);
});

test('SA: IKE rekey proposal with an 8-byte SPI, other attributes kept (TV and TLV)', () => {
  const sa: SaPayload = {
    type: PayloadType.SA,
    proposals: [{
      number: 1, protocol: ProtocolId.IKE, spi: hex('0001020304050607'),
      transforms: [{ type: TransformType.ENCR, id: EncrId.AES_GCM_16, keyLength: 256, attributes: [{ type: 99, value: 7 }, { type: 100, value: hex('abcdef') }] }],
    }],
  };
  const bytes = encodeSa(sa);
  assert.deepEqual(decodeSa(bytes), sa);
  // the TLV attribute: type 100 (AF clear), length 3, value
  assert.ok(bytes.toString('hex').endsWith('00640003abcdef'));
});

function rejects(h: string, re: RegExp): void {
  assert.throws(() => decodeSa(hex(h)), (e: unknown) => e instanceof IkeDecodeError && e.kind === 'syntax' && re.test(e.detail));
}

test('SA: substructure nonsense is a typed INVALID_SYNTAX error', () => {
  rejects('', /needs 1 bytes/);
  // last substruc says "more" but nothing follows
  rejects('02 00 00 10 01 01 00 01 00 00 00 08 01 00 00 14', /none follow/);
  // last substruc 3 on a proposal
  rejects('03 00 00 10 01 01 00 01 00 00 00 08 01 00 00 14', /last substruc 3/);
  // transform marked "more" although it is the announced last one
  rejects('00 00 00 10 01 01 00 01 03 00 00 08 01 00 00 14', /last substruc 3/);
  // num transforms 2, only one present
  rejects('00 00 00 10 01 01 00 02 03 00 00 08 01 00 00 14', /needs 1 bytes/);
  // proposal length too big / too small
  rejects('00 00 00 40 01 01 00 01 00 00 00 08 01 00 00 14', /needs 60 bytes/);
  rejects('00 00 00 04 01 01 00 01', /length 4 < 8/);
  // transform length overruns its proposal
  rejects('00 00 00 10 01 01 00 01 00 00 00 0c 01 00 00 14', /needs 8 bytes/);
  // SPI size 4 for IKE, SPI size 8 for ESP
  rejects('00 00 00 14 01 01 04 01 00 00 00 00 00 00 00 08 01 00 00 14', /SPI size 4/);
  rejects('00 00 00 18 01 03 08 01 00 00 00 00 00 00 00 00 00 00 00 08 01 00 00 14', /SPI size 8/);
  // proposal num 0, no transforms, numbering gap
  rejects('00 00 00 10 00 01 00 01 00 00 00 08 01 00 00 14', /proposal num 0/);
  rejects('00 00 00 08 01 01 00 00', /no transforms/);
  rejects('02 00 00 10 01 01 00 01 00 00 00 08 01 00 00 14 00 00 00 10 03 01 00 01 00 00 00 08 01 00 00 14', /proposal num 3 after 1/);
  // attribute truncated, key length as TLV, duplicate key length
  rejects('00 00 00 12 01 01 00 01 00 00 00 0a 01 00 00 14 80 0e', /attribute value/);
  rejects('00 00 00 14 01 01 00 01 00 00 00 0c 01 00 00 14 00 0e 00 00', /must be TV/);
  rejects('00 00 00 18 01 01 00 01 00 00 00 10 01 00 00 14 80 0e 01 00 80 0e 00 80', /duplicate/);
  // trailing bytes after the last proposal
  rejects('00 00 00 10 01 01 00 01 00 00 00 08 01 00 00 14 00', /trailing/);
});
