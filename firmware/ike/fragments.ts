// IKE message fragmentation (RFC 7383): encrypted messages larger than the path can carry go as
// SKF fragments, each sealed on its own; the receiver verifies each fragment and reassembles.
// Reassembly is bounded in fragment count, bytes and time, and holds one message at a time.
import type { AeadKey } from '../crypto/aead.ts';
import type { IkeHeader } from './header.ts';
import { decodePayloadChain, encodeFragment, encodePayloadChain, openSkf, type DecodedMessage, type Payload } from './message.ts';

/** Encrypted messages above this many bytes are fragmented (RFC 7383 2.5.1: fit 1280-byte IPv6 paths). */
export const FRAGMENT_THRESHOLD = 1280;
/** Inner bytes per fragment: 1280 minus IP/UDP/non-ESP marker, IKE header, SKF header, IV, ICV, pad byte. */
export const FRAGMENT_CONTENT_BYTES = 1280 - 40 - 8 - 4 - 28 - 8 - 8 - 16 - 1;
export const MAX_FRAGMENTS = 64;
export const MAX_REASSEMBLY_BYTES = 64 * 1024;
export const REASSEMBLY_TIMEOUT_MS = 30_000;

/** Splits an encrypted message into SKF fragments; `nextIv` supplies a fresh IV for each. */
export function fragmentMessage(header: IkeHeader, payloads: readonly Payload[], key: AeadKey, nextIv: () => Buffer, contentBytes = FRAGMENT_CONTENT_BYTES): Buffer[] {
  const chain = encodePayloadChain(payloads);
  const total = Math.max(1, Math.ceil(chain.bytes.length / contentBytes));
  if (total > MAX_FRAGMENTS) throw new RangeError(`message needs ${total} fragments (at most ${MAX_FRAGMENTS})`);
  const out: Buffer[] = [];
  for (let i = 0; i < total; i++) {
    out.push(encodeFragment(header, {
      fragmentNumber: i + 1, totalFragments: total, firstPayload: chain.firstPayload,
      content: chain.bytes.subarray(i * contentBytes, (i + 1) * contentBytes),
    }, { key, iv: nextIv() }));
  }
  return out;
}

interface Pending {
  messageId: number;
  response: boolean;
  total: number;
  firstPayload: number;
  parts: Map<number, Buffer>;
  bytes: number;
  startedAt: number;
}

export type ReassemblyResult =
  | { kind: 'complete'; payloads: Payload[] }
  | { kind: 'partial' }
  | { kind: 'rejected'; reason: string };

/** Collects the fragments of one message per direction (requests and responses apart). */
export class Reassembler {
  private pending: Pending[] = [];

  /** Adds a fragment; its ICV is checked first, so forged fragments never occupy memory. */
  add(m: DecodedMessage, key: AeadKey, now: number): ReassemblyResult {
    const e = m.encrypted;
    if (e?.kind !== 'SKF') return { kind: 'rejected', reason: 'not a fragment' };
    if (e.totalFragments > MAX_FRAGMENTS) return { kind: 'rejected', reason: `${e.totalFragments} fragments announced` };
    const content = openSkf(m, key); // throws IkeDecodeError('integrity') on a bad ICV
    const response = m.header.response;
    this.pending = this.pending.filter((p) => now - p.startedAt < REASSEMBLY_TIMEOUT_MS);
    let p = this.pending.find((x) => x.response === response);
    if (p && (p.messageId !== m.header.messageId || p.total !== e.totalFragments)) {
      // A newer message replaces an older incomplete one; an older one is ignored (RFC 7383 2.6).
      if (m.header.messageId < p.messageId) return { kind: 'rejected', reason: 'fragment of an older message' };
      this.pending = this.pending.filter((x) => x !== p);
      p = undefined;
    }
    if (!p) {
      p = { messageId: m.header.messageId, response, total: e.totalFragments, firstPayload: 0, parts: new Map(), bytes: 0, startedAt: now };
      this.pending.push(p);
    }
    if (p.parts.has(e.fragmentNumber)) return { kind: 'partial' };
    if (p.bytes + content.length > MAX_REASSEMBLY_BYTES) {
      this.pending = this.pending.filter((x) => x !== p);
      return { kind: 'rejected', reason: 'reassembled message too large' };
    }
    p.parts.set(e.fragmentNumber, content);
    p.bytes += content.length;
    if (e.fragmentNumber === 1) p.firstPayload = e.nextPayload;
    if (p.parts.size < p.total) return { kind: 'partial' };
    this.pending = this.pending.filter((x) => x !== p);
    const whole = Buffer.concat([...Array(p.total).keys()].map((i) => p!.parts.get(i + 1)!));
    return { kind: 'complete', payloads: decodePayloadChain(p.firstPayload, whole).payloads };
  }
}
