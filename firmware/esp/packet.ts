// ESP packet framing (RFC 4303) for the combined-mode AEADs of RFC 4106 and RFC 7634:
//
//   SPI (4) | Sequence Number, low 32 bits (4) | IV (8) | ciphertext | ICV (16)
//   ciphertext = encrypt(payload | padding 1,2,3... | pad length (1) | next header (1))
//   AAD = SPI | seq low (4) without ESN, SPI | seq high | seq low with ESN (RFC 4106 section 5)
//
// These functions are pure (no SA state): the SA adds sequence numbers, replay and counters.

import type { AeadKey } from '../crypto/aead.ts';
import { sealWithPrefix } from '../crypto/node-aead.ts';

export const ESP_HEADER_BYTES = 8; // SPI + sequence number
export const ESP_IV_BYTES = 8;
export const ESP_ICV_BYTES = 16;
/** SPI, sequence number and IV: what precedes the ciphertext. */
export const ESP_PREFIX_BYTES = ESP_HEADER_BYTES + ESP_IV_BYTES;
/** Smallest well-formed packet: header, IV, pad length + next header, ICV. */
export const ESP_MIN_BYTES = ESP_PREFIX_BYTES + 2 + ESP_ICV_BYTES;
/** Largest packet accepted or built unless an SA configures less (it must fit an IP datagram). */
export const ESP_MAX_BYTES = 65535;

export const NEXT_HEADER_IPV4 = 4;
export const NEXT_HEADER_IPV6 = 41;
/** RFC 4303 2.6: a dummy packet (traffic flow confidentiality), dropped silently by the receiver. */
export const NEXT_HEADER_NONE = 59;

/** The SPI of an ESP packet (for the SAD lookup), or undefined when too short or zero. */
export function readSpi(packet: Uint8Array): number | undefined {
  if (packet.length < ESP_HEADER_BYTES) return undefined;
  const spi = ((packet[0]! << 24) | (packet[1]! << 16) | (packet[2]! << 8) | packet[3]!) >>> 0;
  return spi === 0 ? undefined : spi;
}

/** The transmitted (low 32 bits of the) sequence number; the caller checked the length. */
export function readSeqLow(packet: Uint8Array): number {
  return ((packet[4]! << 24) | (packet[5]! << 16) | (packet[6]! << 8) | packet[7]!) >>> 0;
}

/** Padding length for a payload so that pad length and next header end on a 4-byte boundary. */
export function padLengthFor(payloadBytes: number): number {
  return (4 - ((payloadBytes + 2) & 3)) & 3;
}

/** Total ESP packet size for a payload. */
export function espPacketBytes(payloadBytes: number): number {
  return ESP_PREFIX_BYTES + payloadBytes + padLengthFor(payloadBytes) + 2 + ESP_ICV_BYTES;
}

/** Writes payload | padding | pad length | next header into `out` at 0; returns the length written. */
export function writePlaintext(out: Uint8Array, payload: Uint8Array, nextHeader: number): number {
  const pad = padLengthFor(payload.length);
  out.set(payload, 0);
  let o = payload.length;
  for (let i = 1; i <= pad; i++) out[o++] = i;
  out[o++] = pad;
  out[o++] = nextHeader;
  return o;
}

export type TrailerResult = { payloadBytes: number; nextHeader: number } | null;

/**
 * Checks the trailer of a decrypted ESP plaintext: the pad length must fit and the padding must
 * be 1, 2, 3, ... (RFC 4303 2.4). Null when it is not.
 */
export function parseTrailer(plaintext: Uint8Array): TrailerResult {
  const n = plaintext.length;
  if (n < 2) return null;
  const pad = plaintext[n - 2]!;
  const payloadBytes = n - 2 - pad;
  if (payloadBytes < 0) return null;
  for (let i = 0; i < pad; i++) if (plaintext[payloadBytes + i] !== i + 1) return null;
  return { payloadBytes, nextHeader: plaintext[n - 1]! };
}

/** Big-endian uint32 store without a DataView (hot path). */
export function putU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 24;
  buf[off + 1] = v >>> 16;
  buf[off + 2] = v >>> 8;
  buf[off + 3] = v;
}

/** Writes the AAD for a packet into `aad` (8 bytes without ESN, 12 with) and returns it. */
export function writeAad(aad: Uint8Array, spi: number, seqHi: number, seqLo: number): Uint8Array {
  putU32(aad, 0, spi);
  if (aad.length === 12) {
    putU32(aad, 4, seqHi);
    putU32(aad, 8, seqLo);
  } else {
    putU32(aad, 4, seqLo);
  }
  return aad;
}

// Plaintext staging buffer shared by every SA: JS runs one seal at a time and node:crypto copies
// its input synchronously. sealFramed keeps packets within ESP_MAX_BYTES, so this stays below 64 KiB.
let staging = Buffer.allocUnsafe(2048);
function stagingFor(bytes: number): Buffer {
  if (staging.length < bytes) staging = Buffer.allocUnsafe(Math.min(ESP_MAX_BYTES, Math.max(bytes, staging.length * 2)));
  return staging;
}

export interface EncodeParams {
  key: AeadKey;
  spi: number;
  seqHi: number;
  seqLo: number;
  esn: boolean;
  /** The 8-byte explicit IV (an SA uses its 64-bit sequence number). */
  iv: Uint8Array;
  payload: Uint8Array;
  nextHeader: number;
}

/**
 * Builds one ESP packet with an explicit IV. The caller checks sizes (espPacketBytes against its
 * maximum) and sequence numbers; this only frames and encrypts.
 */
export function encodeEsp(p: EncodeParams): Buffer {
  const prefix = Buffer.allocUnsafe(ESP_PREFIX_BYTES);
  prefix.writeUInt32BE(p.spi >>> 0, 0);
  prefix.writeUInt32BE(p.seqLo >>> 0, 4);
  prefix.set(p.iv, 8);
  const aad = writeAad(new Uint8Array(p.esn ? 12 : 8), p.spi, p.seqHi, p.seqLo);
  return sealFramed(p.key, prefix, prefix.subarray(8, 16), aad, p.payload, p.nextHeader);
}

/**
 * The hot path under encodeEsp: `prefix` is SPI | seq low | IV already written, `iv` a view of
 * its last 8 bytes, `aad` already written. Returns prefix | ciphertext | ICV.
 */
export function sealFramed(key: AeadKey, prefix: Uint8Array, iv: Uint8Array, aad: Uint8Array, payload: Uint8Array, nextHeader: number): Buffer {
  if (espPacketBytes(payload.length) > ESP_MAX_BYTES) throw new RangeError('payload does not fit an ESP packet');
  const buf = stagingFor(payload.length + 5);
  const n = writePlaintext(buf, payload, nextHeader);
  return sealWithPrefix(key, prefix, iv, aad, buf.subarray(0, n));
}

export type DecodeResult =
  | { ok: true; payload: Buffer; nextHeader: number }
  | { ok: false; reason: 'malformed' | 'auth_failed' | 'bad_padding' };

/**
 * Decrypts one ESP packet whose sequence number's high half is `seqHi` (ignored without ESN).
 * Checks length, ICV and trailer; the SPI, replay and size limits are an SA's business.
 */
export function decodeEsp(key: AeadKey, packet: Uint8Array, esn: boolean, seqHi: number): DecodeResult {
  if (packet.length < ESP_MIN_BYTES) return { ok: false, reason: 'malformed' };
  const aad = writeAad(new Uint8Array(esn ? 12 : 8), readSpi(packet) ?? 0, seqHi, readSeqLow(packet));
  return openFramed(key, packet, aad);
}

/** The hot path under decodeEsp: `packet` is at least ESP_MIN_BYTES and `aad` already written. */
export function openFramed(key: AeadKey, packet: Uint8Array, aad: Uint8Array): DecodeResult {
  const pt = key.open(packet.subarray(ESP_HEADER_BYTES, ESP_PREFIX_BYTES), aad, packet.subarray(ESP_PREFIX_BYTES));
  if (pt === null) return { ok: false, reason: 'auth_failed' };
  const t = parseTrailer(pt);
  if (t === null) return { ok: false, reason: 'bad_padding' };
  return { ok: true, payload: pt.subarray(0, t.payloadBytes), nextHeader: t.nextHeader };
}
