// One ESP security association in one direction (RFC 4303 tunnel mode, RFC 4106 / RFC 7634
// AEADs), sans-I/O: bytes in, bytes or a typed result out, no clock. The gateway finds the SA by
// SPI (readSpi in packet.ts), calls open()/seal(), and reads counters and rekeyNeeded.
//
// Outbound: the IV is the 64-bit sequence number, unique per SA as RFC 4106 3.1 and RFC 7634 2
// allow; the counter never wraps. Inbound: the replay window is checked before decryption and
// advanced only once the ICV verifies; with ESN the high half is inferred (RFC 4303 Appendix A).

import type { AeadKey } from '../crypto/aead.ts';
import { countDrop, newDropCounters, type DropCounters, type DropReason } from './drops.ts';
import { DEFAULT_REPLAY_WINDOW, ReplayWindow } from './replay.ts';
import {
  ESP_MAX_BYTES, ESP_MIN_BYTES, ESP_PREFIX_BYTES, NEXT_HEADER_IPV4, NEXT_HEADER_IPV6, NEXT_HEADER_NONE,
  espPacketBytes, openFramed, putU32, readSeqLow, readSpi, sealFramed, writeAad,
} from './packet.ts';

export type Direction = 'in' | 'out';
/** Next header values an SA carries in tunnel mode: IPv4, IPv6, and 59 for dummy packets. */
export type TunnelNextHeader = 4 | 41 | 59;

const U32_MAX = 0xffff_ffff;
const MAX_SEQ_32 = 0xffff_ffffn;
const MAX_SEQ_64 = 0xffff_ffff_ffff_ffffn;
/** Default soft limits: rekey well before the hard end (2^28 packets before it without ESN). */
export const DEFAULT_SOFT_LIMIT_32 = 0xf000_0000n;
export const DEFAULT_SOFT_LIMIT_64 = 0xffff_ffff_0000_0000n;

export interface EspSaOptions {
  spi: number;
  direction: Direction;
  key: AeadKey;
  /** Extended (64-bit) sequence numbers, RFC 4304. Default false. */
  esn?: boolean;
  /** Inbound anti-replay window in packets (32..65536). Default 1024. */
  replayWindow?: number;
  /** Largest ESP packet built or accepted (ESP_MIN_BYTES..65535). Default 65535. */
  maxPacketBytes?: number;
  /** rekeyNeeded becomes true once a sequence number at or above this is sent / accepted. */
  softLimit?: bigint;
  /** Outbound: the next sequence number to send (default 1). For tests of exhaustion. */
  nextSeq?: bigint;
}

/** Per-SA counters. bytes count inner IP packets (as `swanctl --list-sas` does). Read-only for callers. */
export interface SaCounters {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  /** Dummy (next header 59) packets, not in packets/bytes. */
  dummyIn: number;
  dummyOut: number;
  drops: DropCounters;
}

export type SealError = 'seq_exhausted' | 'too_big';
export type SealResult = Buffer | { error: SealError };

export type OpenResult =
  | { kind: 'packet'; inner: Buffer; nextHeader: 4 | 41 }
  | { kind: 'dummy' }
  | { kind: 'drop'; drop: DropReason };

const DUMMY: OpenResult = Object.freeze({ kind: 'dummy' });
const DROPS: Record<DropReason, OpenResult> = Object.freeze({
  replay: Object.freeze({ kind: 'drop', drop: 'replay' }),
  auth_failed: Object.freeze({ kind: 'drop', drop: 'auth_failed' }),
  malformed: Object.freeze({ kind: 'drop', drop: 'malformed' }),
  bad_padding: Object.freeze({ kind: 'drop', drop: 'bad_padding' }),
  unknown_spi: Object.freeze({ kind: 'drop', drop: 'unknown_spi' }),
  selector_mismatch: Object.freeze({ kind: 'drop', drop: 'selector_mismatch' }),
}) as Record<DropReason, OpenResult>;
const EXHAUSTED = Object.freeze({ error: 'seq_exhausted' as const });
const TOO_BIG = Object.freeze({ error: 'too_big' as const });

function split64(v: bigint): [number, number] {
  return [Number(v >> 32n), Number(v & 0xffff_ffffn)];
}

export class EspSa {
  readonly spi: number;
  readonly direction: Direction;
  readonly esn: boolean;
  readonly key: AeadKey;
  readonly maxPacketBytes: number;
  readonly counters: SaCounters;

  readonly #softHi: number;
  readonly #softLo: number;
  #rekeyNeeded = false;
  // Outbound: next sequence number to send, as two uint32 halves.
  #nextHi = 0;
  #nextLo = 1;
  #exhausted = false;
  // Reused per packet: SPI | seq low | IV (= seq hi | seq low), its IV view, and the AAD.
  readonly #prefix = Buffer.alloc(ESP_PREFIX_BYTES);
  readonly #iv: Uint8Array;
  readonly #aad: Uint8Array;
  readonly #window: ReplayWindow | undefined;

  constructor(o: EspSaOptions) {
    if (!Number.isInteger(o.spi) || o.spi < 256 || o.spi > U32_MAX) {
      throw new RangeError('SPI must be a uint32 >= 256 (0-255 are reserved, RFC 4303 2.1)');
    }
    if (o.direction !== 'in' && o.direction !== 'out') throw new RangeError('direction must be "in" or "out"');
    const max = o.maxPacketBytes ?? ESP_MAX_BYTES;
    if (!Number.isInteger(max) || max < ESP_MIN_BYTES || max > ESP_MAX_BYTES) {
      throw new RangeError(`maxPacketBytes must be in ${ESP_MIN_BYTES}..${ESP_MAX_BYTES}`);
    }
    if (o.key.alg.ivBytes !== 8 || o.key.alg.icvBytes !== 16) throw new RangeError('ESP needs an AEAD with an 8-byte IV and 16-byte ICV');
    this.spi = o.spi;
    this.direction = o.direction;
    this.esn = o.esn ?? false;
    this.key = o.key;
    this.maxPacketBytes = max;
    this.counters = { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, dummyIn: 0, dummyOut: 0, drops: newDropCounters() };

    const hard = this.esn ? MAX_SEQ_64 : MAX_SEQ_32;
    const soft = o.softLimit ?? (this.esn ? DEFAULT_SOFT_LIMIT_64 : DEFAULT_SOFT_LIMIT_32);
    if (soft < 1n || soft > hard) throw new RangeError('softLimit must be within the sequence number space');
    [this.#softHi, this.#softLo] = split64(soft);

    if (o.nextSeq !== undefined) {
      if (o.direction !== 'out') throw new RangeError('nextSeq applies to outbound SAs');
      if (o.nextSeq < 1n || o.nextSeq > hard) throw new RangeError('nextSeq must be within the sequence number space');
      [this.#nextHi, this.#nextLo] = split64(o.nextSeq);
      this.#rekeyNeeded = o.nextSeq - 1n >= soft;
    }
    if (o.direction === 'in') this.#window = new ReplayWindow(o.replayWindow ?? DEFAULT_REPLAY_WINDOW);
    else if (o.replayWindow !== undefined) throw new RangeError('replayWindow applies to inbound SAs');

    putU32(this.#prefix, 0, this.spi);
    this.#iv = this.#prefix.subarray(8, 16);
    this.#aad = new Uint8Array(this.esn ? 12 : 8);
  }

  /** strongSwan-style algorithm name, for status output. */
  get algorithm(): string { return this.key.alg.name; }

  /** True once the sequence number reached the soft limit: negotiate a replacement SA. */
  get rekeyNeeded(): boolean { return this.#rekeyNeeded; }

  /** Outbound: true once the last sequence number was used; seal() refuses from then on. */
  get exhausted(): boolean { return this.#exhausted; }

  /** Outbound: the last sequence number sent; inbound: the highest accepted (0n before any). */
  get lastSeq(): bigint {
    if (this.#window) return this.#window.top;
    const next = (BigInt(this.#nextHi) << 32n) | BigInt(this.#nextLo);
    return this.#exhausted ? next : next - 1n;
  }

  /** Encrypts one inner IP packet (or a dummy, next header 59) into an ESP packet. */
  seal(inner: Uint8Array, nextHeader: TunnelNextHeader): SealResult {
    if (this.direction !== 'out') throw new Error('seal() on an inbound SA');
    if (nextHeader !== NEXT_HEADER_IPV4 && nextHeader !== NEXT_HEADER_IPV6 && nextHeader !== NEXT_HEADER_NONE) {
      throw new RangeError('next header must be 4, 41 or 59 in tunnel mode');
    }
    if (this.#exhausted) return EXHAUSTED;
    if (espPacketBytes(inner.length) > this.maxPacketBytes) return TOO_BIG;

    const hi = this.#nextHi, lo = this.#nextLo;
    if (lo === U32_MAX) {
      if (!this.esn || hi === U32_MAX) this.#exhausted = true; // that was the last one
      else { this.#nextHi = hi + 1; this.#nextLo = 0; }
    } else {
      this.#nextLo = lo + 1;
    }
    if (!this.#rekeyNeeded && (hi > this.#softHi || (hi === this.#softHi && lo >= this.#softLo))) this.#rekeyNeeded = true;

    const prefix = this.#prefix;
    putU32(prefix, 4, lo);
    putU32(prefix, 8, hi);
    putU32(prefix, 12, lo);
    writeAad(this.#aad, this.spi, hi, lo);
    const out = sealFramed(this.key, prefix, this.#iv, this.#aad, inner, nextHeader);

    const c = this.counters;
    if (nextHeader === NEXT_HEADER_NONE) c.dummyOut++;
    else { c.packetsOut++; c.bytesOut += inner.length; }
    return out;
  }

  /** Decrypts and checks one ESP packet. Never throws on any input; every drop is counted. */
  open(esp: Uint8Array): OpenResult {
    const w = this.#window;
    if (!w) throw new Error('open() on an outbound SA');
    const n = esp.length;
    if (n < ESP_MIN_BYTES || n > this.maxPacketBytes) return this.#drop('malformed');
    if (readSpi(esp) !== this.spi) return this.#drop('unknown_spi');

    const lo = readSeqLow(esp);
    const hi = this.esn ? w.inferHigh(lo) : 0;
    if (hi < 0 || !w.check(hi, lo)) return this.#drop('replay');

    const r = openFramed(this.key, esp, writeAad(this.#aad, this.spi, hi, lo));
    if (!r.ok) {
      // Bad padding under a valid ICV came from the peer: its sequence number is used up.
      if (r.reason === 'bad_padding') this.#accept(w, hi, lo);
      return this.#drop(r.reason);
    }
    this.#accept(w, hi, lo);

    const nh = r.nextHeader;
    if (nh === NEXT_HEADER_NONE) {
      this.counters.dummyIn++;
      return DUMMY;
    }
    const inner = innerPacket(r.payload, nh);
    if (inner === null) return this.#drop('malformed');
    this.counters.packetsIn++;
    this.counters.bytesIn += inner.length;
    return { kind: 'packet', inner, nextHeader: nh as 4 | 41 };
  }

  #accept(w: ReplayWindow, hi: number, lo: number): void {
    w.accept(hi, lo);
    if (!this.#rekeyNeeded && (hi > this.#softHi || (hi === this.#softHi && lo >= this.#softLo))) this.#rekeyNeeded = true;
  }

  #drop(reason: DropReason): OpenResult {
    countDrop(this.counters.drops, reason);
    return DROPS[reason];
  }
}

/**
 * The inner packet of a tunnel-mode payload: its IP version must match the next header, and any
 * TFC padding after the IP datagram (RFC 4303 2.7) is cut off using the IP length field.
 */
function innerPacket(p: Buffer, nextHeader: number): Buffer | null {
  if (nextHeader === NEXT_HEADER_IPV4) {
    if (p.length < 20 || p[0]! >> 4 !== 4) return null;
    const total = (p[2]! << 8) | p[3]!;
    if (total < (p[0]! & 0x0f) * 4 || (p[0]! & 0x0f) < 5 || total > p.length) return null;
    return total === p.length ? p : p.subarray(0, total);
  }
  if (nextHeader === NEXT_HEADER_IPV6) {
    if (p.length < 40 || p[0]! >> 4 !== 6) return null;
    const total = 40 + ((p[4]! << 8) | p[5]!);
    if (total > p.length) return null;
    return total === p.length ? p : p.subarray(0, total);
  }
  return null;
}
