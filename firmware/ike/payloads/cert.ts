// Certificate payload (RFC 7296 3.6): encoding, then the certificate data (DER for X.509).
import { PayloadType, type CertEncoding } from '../constants.ts';
import { Reader, u8 } from './reader.ts';

export interface CertPayload {
  type: PayloadType.CERT;
  encoding: CertEncoding;
  data: Buffer;
}

export function decodeCert(body: Buffer): CertPayload {
  const r = new Reader(body, 'CERT');
  const encoding = r.u8('cert encoding');
  return { type: PayloadType.CERT, encoding, data: r.rest() };
}

export function encodeCert(c: CertPayload): Buffer {
  return Buffer.concat([u8(c.encoding, 'cert encoding'), c.data]);
}
