// Certificate Request payload (RFC 7296 3.7): encoding, then the CA data (for X.509: SHA-1
// hashes of trusted CAs' public keys, 20 bytes each; kept raw here).
import { PayloadType, type CertEncoding } from '../constants.ts';
import { Reader, u8 } from './reader.ts';

export interface CertReqPayload {
  type: PayloadType.CERTREQ;
  encoding: CertEncoding;
  data: Buffer;
}

export function decodeCertReq(body: Buffer): CertReqPayload {
  const r = new Reader(body, 'CERTREQ');
  const encoding = r.u8('cert encoding');
  return { type: PayloadType.CERTREQ, encoding, data: r.rest() };
}

export function encodeCertReq(c: CertReqPayload): Buffer {
  return Buffer.concat([u8(c.encoding, 'cert encoding'), c.data]);
}
