// Sample IKE messages shared by the codec unit tests and the fuzz test.
import { aeadByName } from '../../../firmware/crypto/aeads.ts';
import type { AeadKey } from '../../../firmware/crypto/aead.ts';
import {
  AuthMethod, CertEncoding, CfgType, DhId, EncrId, EsnId, ExchangeType, IdType, NotifyType, PayloadType, PrfId,
  ProtocolId, TransformType, TsType,
} from '../../../firmware/ike/constants.ts';
import type { IkeHeader } from '../../../firmware/ike/header.ts';
import type { Payload } from '../../../firmware/ike/message.ts';
import { makeId } from '../../../firmware/ike/payloads/id.ts';
import { makeNotify } from '../../../firmware/ike/payloads/notify.ts';

export const hex = (s: string): Buffer => Buffer.from(s.replace(/[^0-9a-f]/gi, ''), 'hex');

/** RFC 7634 Appendix B (IKEv2 example): key 80..9f, salt a0..a3. */
export function chachaKey(): AeadKey {
  const alg = aeadByName('chacha20poly1305');
  if (!alg) throw new Error('chacha20poly1305 not registered');
  return alg.createKey(hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f a0a1a2a3'));
}

export function gcmKey(): AeadKey {
  const alg = aeadByName('aes256gcm16');
  if (!alg) throw new Error('aes256gcm16 not registered');
  return alg.createKey(Buffer.alloc(36, 0x42));
}

export const SPI_I = hex('0102030405060708');
export const SPI_R = hex('1112131415161718');

export const initHeader: IkeHeader = {
  spiI: SPI_I, spiR: Buffer.alloc(8), exchangeType: ExchangeType.IKE_SA_INIT, initiator: true, response: false, messageId: 0,
};

export const authHeader: IkeHeader = {
  spiI: SPI_I, spiR: SPI_R, exchangeType: ExchangeType.IKE_AUTH, initiator: true, response: false, messageId: 1,
};

export function ikeSaInitPayloads(): Payload[] {
  return [
    {
      type: PayloadType.SA,
      proposals: [{
        number: 1, protocol: ProtocolId.IKE, spi: Buffer.alloc(0),
        transforms: [
          { type: TransformType.ENCR, id: EncrId.AES_GCM_16, keyLength: 256 },
          { type: TransformType.ENCR, id: EncrId.CHACHA20_POLY1305 },
          { type: TransformType.PRF, id: PrfId.HMAC_SHA2_256 },
          { type: TransformType.DH, id: DhId.CURVE25519 },
        ],
      }],
    },
    { type: PayloadType.KE, group: DhId.CURVE25519, data: Buffer.alloc(32, 0x5a) },
    { type: PayloadType.NONCE, data: Buffer.alloc(32, 0xa5) },
    makeNotify(NotifyType.NAT_DETECTION_SOURCE_IP, Buffer.alloc(20, 0x01)),
    makeNotify(NotifyType.NAT_DETECTION_DESTINATION_IP, Buffer.alloc(20, 0x02)),
    makeNotify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED),
    makeNotify(NotifyType.SIGNATURE_HASH_ALGORITHMS, hex('0002 0003 0004 0005')),
    { type: PayloadType.VENDOR_ID, data: Buffer.from('outpost') },
    { type: PayloadType.CERTREQ, encoding: CertEncoding.X509_SIGNATURE, data: Buffer.alloc(20, 0x33) },
  ];
}

export function ikeAuthPayloads(): Payload[] {
  return [
    makeId(PayloadType.IDi, IdType.FQDN, 'branch-042.example.net'),
    makeNotify(NotifyType.INITIAL_CONTACT),
    makeId(PayloadType.IDr, IdType.FQDN, 'hq.example.net'),
    { type: PayloadType.AUTH, method: AuthMethod.PSK, data: Buffer.alloc(32, 0x77) },
    { type: PayloadType.CP, cfgType: CfgType.CFG_REQUEST, attributes: [{ type: 1, value: Buffer.alloc(0) }, { type: 3, value: Buffer.alloc(0) }] },
    {
      type: PayloadType.SA,
      proposals: [
        {
          number: 1, protocol: ProtocolId.ESP, spi: hex('c1c2c3c4'),
          transforms: [{ type: TransformType.ENCR, id: EncrId.AES_GCM_16, keyLength: 256 }, { type: TransformType.ESN, id: EsnId.NO }],
        },
        {
          number: 2, protocol: ProtocolId.ESP, spi: hex('c1c2c3c4'),
          transforms: [{ type: TransformType.ENCR, id: EncrId.CHACHA20_POLY1305 }, { type: TransformType.ESN, id: EsnId.NO }],
        },
      ],
    },
    {
      type: PayloadType.TSi,
      selectors: [{ tsType: TsType.IPV4_ADDR_RANGE, ipProtocol: 0, startPort: 0, endPort: 0xffff, startAddress: hex('0a010000'), endAddress: hex('0a0100ff') }],
    },
    {
      type: PayloadType.TSr,
      selectors: [
        { tsType: TsType.IPV4_ADDR_RANGE, ipProtocol: 0, startPort: 0, endPort: 0xffff, startAddress: hex('0a020000'), endAddress: hex('0a02ffff') },
        { tsType: TsType.IPV6_ADDR_RANGE, ipProtocol: 6, startPort: 443, endPort: 443, startAddress: hex('fd000000000000000000000000000000'), endAddress: hex('fd00000000000000ffffffffffffffff') },
      ],
    },
    makeNotify(NotifyType.MOBIKE_SUPPORTED),
    { type: PayloadType.DELETE, protocol: ProtocolId.ESP, spiSize: 4, spis: [hex('01020304')] },
    { type: PayloadType.EAP, data: hex('0201000a 01 6869686968') },
  ];
}

/**
 * Hand-rolled SK sealing for tests that need inner bytes or padding encodeMessage would never
 * produce: header || SK generic header || IV || seal(inner || padding || padLength).
 */
export function sealRaw(header: IkeHeader, firstPayload: number, inner: Buffer, key: AeadKey, iv: Buffer, padding = Buffer.alloc(0), padLength = padding.length): Buffer {
  const plain = Buffer.concat([inner, padding, Buffer.from([padLength])]);
  const skLen = 4 + 8 + plain.length + 16;
  const total = 28 + skLen;
  const h = Buffer.alloc(28);
  header.spiI.copy(h, 0);
  header.spiR.copy(h, 8);
  h[16] = PayloadType.SK;
  h[17] = 0x20;
  h[18] = header.exchangeType;
  h[19] = (header.initiator ? 0x08 : 0) | (header.response ? 0x20 : 0);
  h.writeUInt32BE(header.messageId, 20);
  h.writeUInt32BE(total, 24);
  const g = Buffer.from([firstPayload, 0, skLen >> 8, skLen & 0xff]);
  const aad = Buffer.concat([h, g]);
  return Buffer.concat([aad, iv, key.seal(iv, aad, plain)]);
}

/** A generic payload: next, flags (0x80 = critical), length, body. */
export function rawPayload(next: number, body: Buffer, critical = false): Buffer {
  const g = Buffer.alloc(4);
  g[0] = next;
  g[1] = critical ? 0x80 : 0;
  g.writeUInt16BE(body.length + 4, 2);
  return Buffer.concat([g, body]);
}
