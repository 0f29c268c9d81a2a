// RFC 3948 UDP encapsulation on port 4500: one socket carries NAT keepalives, IKE messages
// (behind a 4-byte zero non-ESP marker) and ESP packets (whose SPI is never zero).

import { ESP_HEADER_BYTES, readSpi } from './packet.ts';

export const NAT_T_PORT = 4500;
export const NON_ESP_MARKER_BYTES = 4;
/** An IKE message is at least its fixed header (RFC 7296 3.1). */
export const IKE_HEADER_BYTES = 28;

export type UdpMalformed = 'empty' | 'short_ike' | 'short_esp' | 'bad_keepalive';

export type Udp4500Payload =
  | { kind: 'keepalive' }
  | { kind: 'ike'; message: Uint8Array }
  | { kind: 'esp'; spi: number; packet: Uint8Array }
  | { kind: 'malformed'; reason: UdpMalformed };

const KEEPALIVE = Object.freeze({ kind: 'keepalive' as const });
const MALFORMED: Record<UdpMalformed, Udp4500Payload> = {
  empty: Object.freeze({ kind: 'malformed', reason: 'empty' }),
  short_ike: Object.freeze({ kind: 'malformed', reason: 'short_ike' }),
  short_esp: Object.freeze({ kind: 'malformed', reason: 'short_esp' }),
  bad_keepalive: Object.freeze({ kind: 'malformed', reason: 'bad_keepalive' }),
};

/**
 * Classifies a UDP payload received on port 4500. The returned IKE message and ESP packet are
 * views of `payload` (no copy). Never throws.
 */
export function classifyUdp4500(payload: Uint8Array): Udp4500Payload {
  const n = payload.length;
  if (n === 0) return MALFORMED.empty;
  if (n === 1) return payload[0] === 0xff ? KEEPALIVE : MALFORMED.bad_keepalive;
  if (n < NON_ESP_MARKER_BYTES) return MALFORMED.short_esp;
  if (payload[0] === 0 && payload[1] === 0 && payload[2] === 0 && payload[3] === 0) {
    if (n - NON_ESP_MARKER_BYTES < IKE_HEADER_BYTES) return MALFORMED.short_ike;
    return { kind: 'ike', message: payload.subarray(NON_ESP_MARKER_BYTES) };
  }
  if (n < ESP_HEADER_BYTES) return MALFORMED.short_esp;
  return { kind: 'esp', spi: readSpi(payload)!, packet: payload };
}

/** The NAT keepalive payload (RFC 3948 2.3): a single 0xFF byte. */
export function buildKeepalive(): Buffer {
  return Buffer.from([0xff]);
}

/** An IKE message as sent on port 4500: non-ESP marker (4 zero bytes) then the message. */
export function addNonEspMarker(ikeMessage: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(NON_ESP_MARKER_BYTES + ikeMessage.length);
  out.fill(0, 0, NON_ESP_MARKER_BYTES);
  out.set(ikeMessage, NON_ESP_MARKER_BYTES);
  return out;
}

/** The IKE message behind a non-ESP marker, or undefined when the payload does not carry one. */
export function stripNonEspMarker(payload: Uint8Array): Uint8Array | undefined {
  const c = classifyUdp4500(payload);
  return c.kind === 'ike' ? c.message : undefined;
}
