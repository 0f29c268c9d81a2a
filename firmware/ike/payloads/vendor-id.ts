// Vendor ID payload (RFC 7296 3.12): opaque bytes.
import { PayloadType } from '../constants.ts';

export interface VendorIdPayload {
  type: PayloadType.VENDOR_ID;
  data: Buffer;
}

export function decodeVendorId(body: Buffer): VendorIdPayload {
  return { type: PayloadType.VENDOR_ID, data: Buffer.from(body) };
}

export function encodeVendorId(v: VendorIdPayload): Buffer {
  return Buffer.from(v.data);
}
