// The native ESP fast path, as the data plane sees it: an ESP SA with EspSa's surface whose
// packets are sealed and opened in the addon (board/tun/esp.ts), and the port a UDP transport
// offers when its NAT-T socket belongs to the addon.
//
// Why: node:crypto costs a cipher object per packet (about 8 us, DESIGN.md "Facts") and node:dgram
// a system call per datagram. In the addon an SA keeps one OpenSSL cipher context for its life,
// and whole batches are sealed and sent (sendmmsg) or received and opened (recvmmsg) per call.
// EspSa (firmware/esp/sa.ts) stays the reference: test/unit/esp/native*.test.ts compares the two
// packet by packet, drop by drop.
import { EspAlg, OPEN_CODE_NAMES, SA_STAT_NAMES, SealCode, type NativeEspEngine } from '../../board/tun/esp.ts';
import type { AeadAlgorithm } from '../crypto/aead.ts';
import { newDropCounters } from '../esp/drops.ts';
import { ESP_MAX_BYTES, ESP_MIN_BYTES, NEXT_HEADER_IPV4, NEXT_HEADER_IPV6, NEXT_HEADER_NONE } from '../esp/packet.ts';
import { DEFAULT_REPLAY_WINDOW, MAX_REPLAY_WINDOW } from '../esp/replay.ts';
import { DEFAULT_SOFT_LIMIT_32, DEFAULT_SOFT_LIMIT_64, type Direction, type OpenResult, type SaCounters, type SealResult, type TunnelNextHeader } from '../esp/sa.ts';

const U32_MAX = 0xffff_ffff;
const MAX_SEQ_32 = 0xffff_ffffn;
const MAX_SEQ_64 = 0xffff_ffff_ffff_ffffn;
const split64 = (v: bigint): [number, number] => [Number(v >> 32n), Number(v & 0xffff_ffffn)];

const S = Object.fromEntries(SA_STAT_NAMES.map((n, i) => [n, i])) as Record<(typeof SA_STAT_NAMES)[number], number>;

/** Drops a native SA counts that the JavaScript data plane counts per child. */
export type NativeChildDrop = 'too_big' | 'seq_exhausted' | 'send_dropped' | 'tun_full' | 'tun_down' | 'tun_error';
const CHILD_DROPS: readonly NativeChildDrop[] = ['too_big', 'seq_exhausted', 'send_dropped', 'tun_full', 'tun_down', 'tun_error'];

export interface NativeEspSaOptions {
  spi: number;
  direction: Direction;
  alg: AeadAlgorithm;
  /** Cipher key followed by the 4-byte salt, as IKE's KEYMAT gives it. Copied into OpenSSL. */
  keyAndSalt: Uint8Array;
  esn?: boolean;
  replayWindow?: number;
  maxPacketBytes?: number;
  softLimit?: bigint;
  nextSeq?: bigint;
}

const DUMMY: OpenResult = Object.freeze({ kind: 'dummy' });
const DROPS = Object.freeze(Object.fromEntries(OPEN_CODE_NAMES.slice(2).map((r) => [r, Object.freeze({ kind: 'drop', drop: r })]))) as Record<string, OpenResult>;
const EXHAUSTED = Object.freeze({ error: 'seq_exhausted' as const });
const TOO_BIG = Object.freeze({ error: 'too_big' as const });

/**
 * One ESP SA in one direction, held by a native engine. Same options, checks, results and counters
 * as EspSa; the key lives only in OpenSSL's context. dispose() removes it from the engine.
 */
export class NativeEspSa {
  readonly spi: number;
  readonly direction: Direction;
  readonly esn: boolean;
  readonly maxPacketBytes: number;
  readonly algorithm: string;
  /** The engine's handle (what sealSend plans and receive records carry). */
  readonly id: number;
  readonly #engine: NativeEspEngine;
  readonly #stats = new Float64Array(SA_STAT_NAMES.length);
  readonly #openOut = new Int32Array(2);
  #disposed = false;

  constructor(engine: NativeEspEngine, o: NativeEspSaOptions) {
    // The checks of EspSa's constructor, in its order, with its messages.
    if (!Number.isInteger(o.spi) || o.spi < 256 || o.spi > U32_MAX) {
      throw new RangeError('SPI must be a uint32 >= 256 (0-255 are reserved, RFC 4303 2.1)');
    }
    if (o.direction !== 'in' && o.direction !== 'out') throw new RangeError('direction must be "in" or "out"');
    const max = o.maxPacketBytes ?? ESP_MAX_BYTES;
    if (!Number.isInteger(max) || max < ESP_MIN_BYTES || max > ESP_MAX_BYTES) {
      throw new RangeError(`maxPacketBytes must be in ${ESP_MIN_BYTES}..${ESP_MAX_BYTES}`);
    }
    const alg = EspAlg[o.alg.name as keyof typeof EspAlg];
    if (alg === undefined) throw new RangeError(`${o.alg.name} has no native implementation`);
    if (o.keyAndSalt.length !== o.alg.keyBytes + 4) throw new RangeError(`${o.alg.name}: key material must be ${o.alg.keyBytes + 4} bytes`);
    const esn = o.esn ?? false;
    const hard = esn ? MAX_SEQ_64 : MAX_SEQ_32;
    const soft = o.softLimit ?? (esn ? DEFAULT_SOFT_LIMIT_64 : DEFAULT_SOFT_LIMIT_32);
    if (soft < 1n || soft > hard) throw new RangeError('softLimit must be within the sequence number space');
    if (o.nextSeq !== undefined) {
      if (o.direction !== 'out') throw new RangeError('nextSeq applies to outbound SAs');
      if (o.nextSeq < 1n || o.nextSeq > hard) throw new RangeError('nextSeq must be within the sequence number space');
    }
    const window = o.replayWindow ?? DEFAULT_REPLAY_WINDOW;
    if (o.direction === 'in') {
      if (!Number.isInteger(window) || window < 32 || window > MAX_REPLAY_WINDOW) {
        throw new RangeError(`replay window must be an integer in 32..${MAX_REPLAY_WINDOW}`);
      }
    } else if (o.replayWindow !== undefined) throw new RangeError('replayWindow applies to inbound SAs');

    this.spi = o.spi;
    this.direction = o.direction;
    this.esn = esn;
    this.maxPacketBytes = max;
    this.algorithm = o.alg.name;
    this.#engine = engine;
    const [softHi, softLo] = split64(soft);
    const [nextHi, nextLo] = split64(o.nextSeq ?? 1n);
    this.id = engine.addSa(o.direction === 'out', o.spi, alg, o.keyAndSalt, esn, o.direction === 'in' ? window : 0, max, softHi, softLo, nextHi, nextLo);
  }

  #read(): Float64Array {
    if (!this.#disposed) this.#engine.saStats(this.id, this.#stats);
    return this.#stats;
  }

  /** Counters as EspSa keeps them (read from the engine; the last values after dispose()). */
  get counters(): SaCounters {
    const s = this.#read();
    const drops = newDropCounters();
    drops.replay = s[S.replay]!;
    drops.auth_failed = s[S.auth_failed]!;
    drops.malformed = s[S.malformed]!;
    drops.bad_padding = s[S.bad_padding]!;
    drops.unknown_spi = s[S.unknown_spi]!;
    return {
      packetsIn: s[S.packetsIn]!, bytesIn: s[S.bytesIn]!, packetsOut: s[S.packetsOut]!, bytesOut: s[S.bytesOut]!,
      dummyIn: s[S.dummyIn]!, dummyOut: s[S.dummyOut]!, drops,
    };
  }

  /** The per-child drops the native path counts in the SA (the JavaScript path counts them in the data plane). */
  childDrops(): Record<NativeChildDrop, number> {
    const s = this.#read();
    const out = {} as Record<NativeChildDrop, number>;
    for (const d of CHILD_DROPS) out[d] = s[S[d]]!;
    return out;
  }

  get rekeyNeeded(): boolean { return this.#read()[S.rekeyNeeded] === 1; }
  /** Why the engine first saw this SA need a rekey, after a packet went through it (as the
   *  reference data plane raises it per packet); undefined while it has not. */
  get rekeyNoted(): 'soft_limit' | 'seq_exhausted' | undefined {
    const n = this.#read()[S.rekeyNoted];
    return n === 1 ? 'soft_limit' : n === 2 ? 'seq_exhausted' : undefined;
  }
  get exhausted(): boolean { return this.#read()[S.exhausted] === 1; }
  /** Milliseconds since the engine last accepted an authentic packet on this SA; -1 before the
   *  first one, and once the SA is removed. */
  idleMs(): number { return this.#disposed ? -1 : this.#read()[S.idleMs]!; }
  get lastSeq(): bigint {
    const s = this.#read();
    return (BigInt(s[S.lastSeqHi]!) << 32n) | BigInt(s[S.lastSeqLo]!);
  }

  /** Points an outbound SA at its peer (sealSend sends there). */
  setRemote(address: string, port: number): void {
    this.#engine.setRemote(this.id, address, port);
  }

  /** As EspSa.seal; one packet through the engine (the batch path is the engine's sealSend). */
  seal(inner: Uint8Array, nextHeader: TunnelNextHeader): SealResult {
    if (this.direction !== 'out') throw new Error('seal() on an inbound SA');
    if (nextHeader !== NEXT_HEADER_IPV4 && nextHeader !== NEXT_HEADER_IPV6 && nextHeader !== NEXT_HEADER_NONE) {
      throw new RangeError('next header must be 4, 41 or 59 in tunnel mode');
    }
    const r = this.#engine.seal(this.id, inner, nextHeader);
    if (typeof r !== 'number') return r;
    if (r === SealCode.exhausted) return EXHAUSTED;
    if (r === SealCode.too_big) return TOO_BIG;
    throw new Error('native ESP seal failed');
  }

  /** As EspSa.open: never throws on any input; every drop is counted. */
  open(esp: Uint8Array): OpenResult {
    if (this.direction !== 'in') throw new Error('open() on an outbound SA');
    const inner = this.#engine.open(this.id, esp, this.#openOut);
    const code = this.#openOut[0]!;
    if (inner !== null) return { kind: 'packet', inner, nextHeader: this.#openOut[1] as 4 | 41 };
    if (code === 1) return DUMMY;
    return DROPS[OPEN_CODE_NAMES[code] ?? 'malformed']!;
  }

  /** Removes the SA (and its key) from the engine; counters keep their last values. */
  dispose(): void {
    if (this.#disposed) return;
    this.#read();
    this.#disposed = true;
    this.#engine.removeSa(this.id);
  }
}

/**
 * What a UDP transport offers when its NAT-T socket is the engine's (UdpTransport with the fast
 * path): the data plane installs SAs in `engine`, seals batches with engine.sealSend, and takes
 * each received batch's ESP records through onEspRecords.
 */
export interface FastPathPort {
  readonly engine: NativeEspEngine;
  /**
   * Called once per received batch, before IKE messages in it are dispatched, with the records
   * (board/tun/esp.ts Meta layout) and the arena they point into. Both are reused by the next
   * batch: read them now, copy what must outlive the call. Set a record's verdict to 1 to have
   * the engine write its inner packet to the TUN device it was given (attachTun).
   */
  onEspRecords: ((meta: Int32Array, rx: Buffer, count: number, news: number) => void) | undefined;
  /** Logs (rate-limited) the send errors the engine counted since the last call. */
  logSendErrors(): void;
}
