// The Payload union and per-type dispatch. The generic payload header (next payload, critical
// bit, length) is handled by message.ts; these functions see only the body.
import { PayloadType } from '../constants.ts';
import { decodeAuth, encodeAuth, type AuthPayload } from './auth.ts';
import { decodeCert, encodeCert, type CertPayload } from './cert.ts';
import { decodeCertReq, encodeCertReq, type CertReqPayload } from './certreq.ts';
import { decodeCp, encodeCp, type CpPayload } from './cp.ts';
import { decodeDelete, encodeDelete, type DeletePayload } from './delete.ts';
import { decodeEap, encodeEap, type EapPayload } from './eap.ts';
import { decodeId, encodeId, type IdPayload } from './id.ts';
import { decodeKe, encodeKe, type KePayload } from './ke.ts';
import { decodeNonce, encodeNonce, type NoncePayload } from './nonce.ts';
import { decodeNotify, encodeNotify, type NotifyPayload } from './notify.ts';
import { decodeSa, encodeSa, type SaPayload } from './sa.ts';
import { decodeTs, encodeTs, type TsPayload } from './ts.ts';
import { decodeVendorId, encodeVendorId, type VendorIdPayload } from './vendor-id.ts';

export type Payload =
  | SaPayload | KePayload | IdPayload | CertPayload | CertReqPayload | AuthPayload | NoncePayload
  | NotifyPayload | DeletePayload | VendorIdPayload | TsPayload | CpPayload | EapPayload;

export type {
  AuthPayload, CertPayload, CertReqPayload, CpPayload, DeletePayload, EapPayload, IdPayload, KePayload,
  NoncePayload, NotifyPayload, SaPayload, TsPayload, VendorIdPayload,
};

/** Payload types this codec parses into a Payload (SK and SKF are framed by message.ts). */
export function isKnownPayloadType(type: number): boolean {
  switch (type) {
    case PayloadType.SA: case PayloadType.KE: case PayloadType.IDi: case PayloadType.IDr:
    case PayloadType.CERT: case PayloadType.CERTREQ: case PayloadType.AUTH: case PayloadType.NONCE:
    case PayloadType.NOTIFY: case PayloadType.DELETE: case PayloadType.VENDOR_ID: case PayloadType.TSi:
    case PayloadType.TSr: case PayloadType.CP: case PayloadType.EAP:
      return true;
    default:
      return false;
  }
}

/** Decodes one payload body of a known type; returns null for types isKnownPayloadType rejects. */
export function decodePayloadBody(type: number, body: Buffer): Payload | null {
  switch (type) {
    case PayloadType.SA: return decodeSa(body);
    case PayloadType.KE: return decodeKe(body);
    case PayloadType.IDi: return decodeId(body, PayloadType.IDi);
    case PayloadType.IDr: return decodeId(body, PayloadType.IDr);
    case PayloadType.CERT: return decodeCert(body);
    case PayloadType.CERTREQ: return decodeCertReq(body);
    case PayloadType.AUTH: return decodeAuth(body);
    case PayloadType.NONCE: return decodeNonce(body);
    case PayloadType.NOTIFY: return decodeNotify(body);
    case PayloadType.DELETE: return decodeDelete(body);
    case PayloadType.VENDOR_ID: return decodeVendorId(body);
    case PayloadType.TSi: return decodeTs(body, PayloadType.TSi);
    case PayloadType.TSr: return decodeTs(body, PayloadType.TSr);
    case PayloadType.CP: return decodeCp(body);
    case PayloadType.EAP: return decodeEap(body);
    default: return null;
  }
}

export function encodePayloadBody(p: Payload): Buffer {
  switch (p.type) {
    case PayloadType.SA: return encodeSa(p);
    case PayloadType.KE: return encodeKe(p);
    case PayloadType.IDi: case PayloadType.IDr: return encodeId(p);
    case PayloadType.CERT: return encodeCert(p);
    case PayloadType.CERTREQ: return encodeCertReq(p);
    case PayloadType.AUTH: return encodeAuth(p);
    case PayloadType.NONCE: return encodeNonce(p);
    case PayloadType.NOTIFY: return encodeNotify(p);
    case PayloadType.DELETE: return encodeDelete(p);
    case PayloadType.VENDOR_ID: return encodeVendorId(p);
    case PayloadType.TSi: case PayloadType.TSr: return encodeTs(p);
    case PayloadType.CP: return encodeCp(p);
    case PayloadType.EAP: return encodeEap(p);
    default: {
      const never: never = p;
      throw new RangeError(`cannot encode payload ${(never as { type: number }).type}`);
    }
  }
}
