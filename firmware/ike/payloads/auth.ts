// Authentication payload (RFC 7296 3.8): method, three reserved bytes, authentication data.
import { PayloadType, type AuthMethod } from '../constants.ts';
import { Reader, u8 } from './reader.ts';

export interface AuthPayload {
  type: PayloadType.AUTH;
  method: AuthMethod;
  data: Buffer;
}

export function decodeAuth(body: Buffer): AuthPayload {
  const r = new Reader(body, 'AUTH');
  const method = r.u8('auth method');
  r.skip(3, 'reserved');
  return { type: PayloadType.AUTH, method, data: r.rest() };
}

export function encodeAuth(a: AuthPayload): Buffer {
  return Buffer.concat([u8(a.method, 'auth method'), Buffer.alloc(3), a.data]);
}
