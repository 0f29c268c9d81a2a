// Typed wrapper over the ESP fast-path addon (board/tun/src/esp_addon.c): ESP SAs whose AEAD runs
// in OpenSSL with a cipher context made once per SA, and the RFC 3948 UDP socket read with
// recvmmsg and written with sendmmsg. Mechanism only: which SA a packet uses, and whether a
// decrypted packet may enter the LAN, are decided by the caller (firmware/gateway/fastpath.ts).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TunError } from './index.ts';

/** Algorithm numbers of the addon (esp_alg_t). */
export const EspAlg = { aes128gcm16: 1, aes192gcm16: 2, aes256gcm16: 3, chacha20poly1305: 4 } as const;
export type EspAlgName = keyof typeof EspAlg;

/** esp_open_result_t: what open() and the receive records report. */
export const OpenCode = { packet: 0, dummy: 1, replay: 2, auth_failed: 3, malformed: 4, bad_padding: 5, unknown_spi: 6 } as const;
export const OPEN_CODE_NAMES = ['packet', 'dummy', 'replay', 'auth_failed', 'malformed', 'bad_padding', 'unknown_spi'] as const;
/** esp_seal_result_t, as seal() returns it instead of a Buffer. */
export const SealCode = { exhausted: 1, too_big: 2, failed: 3 } as const;

/** Receive record layout (rxMeta(), META_INTS int32 per datagram). */
export const Meta = { kind: 0, sa: 1, off: 2, len: 3, verdict: 4, info: 5, family: 6, port: 7, addr: 8 } as const;
export const RxKind = { none: 0, inner: 1, dummy: 2, drop: 3, ike: 4, espRaw: 5 } as const;

/** Bits sealSend returns and the receive callback gets: something to look at in the stats. */
export const News = { rekey: 1, sendError: 2 } as const;

/** Engine stats (stats()), by index. */
export const STAT_NAMES = [
  'espIn', 'ikeIn', 'keepalivesIn', 'malformedIn', 'espOut', 'ikeOut', 'keepalivesOut',
  'sendErrors', 'sendQueueFull', 'socketErrors', 'rxOverflow', 'rxBatches', 'txBatches',
  'rekeyEvents', 'lastSendErrno', 'lastTunErrno', 'ikeSocket', 'tunMerged', 'tunMergedSegments',
  'udpGso', 'udpGro', 'rxCoalesced',
  // Packets the flow cache handled without JavaScript, out (sealCached) and in (known flows).
  'flowHitsOut', 'flowHitsIn',
] as const;
export type EngineStats = Record<(typeof STAT_NAMES)[number], number>;

/** Per-SA stats (saStats()), by index. */
export const SA_STAT_NAMES = [
  'packetsIn', 'bytesIn', 'packetsOut', 'bytesOut', 'dummyIn', 'dummyOut', 'replay', 'auth_failed',
  'malformed', 'bad_padding', 'too_big', 'seq_exhausted', 'send_dropped', 'tun_full', 'tun_down', 'tun_error',
  'rekeyNeeded', 'exhausted', 'lastSeqHi', 'lastSeqLo', 'unknown_spi', 'rekeyNoted',
  // Milliseconds since the last authentic inbound packet, -1 before the first.
  'idleMs',
] as const;
export type SaStats = Record<(typeof SA_STAT_NAMES)[number], number>;

export interface NativeEspEngine {
  addSa(outbound: boolean, spi: number, alg: number, keyAndSalt: Uint8Array, esn: boolean, replayWindow: number,
    maxPacketBytes: number, softHi: number, softLo: number, nextHi: number, nextLo: number): number;
  removeSa(id: number): boolean;
  setRemote(id: number, address: string, port: number): void;
  saStats(id: number, out: Float64Array): boolean;
  seal(id: number, inner: Uint8Array, nextHeader: number): Buffer | number;
  open(id: number, esp: Uint8Array, out: Int32Array): Buffer | null;
  bind(address: string, port: number, recvBufferBytes: number, sendBufferBytes: number): number;
  rxBuffer(): ArrayBuffer;
  rxMeta(): Int32Array;
  /** busyPollUs: how long the I/O thread keeps polling after work before it sleeps (0: never; io_thread.h). */
  start(cb: (count: number, news: number) => void, busyPollUs?: number): void;
  stop(): void;
  sendTo(data: Uint8Array, address: string, port: number): number;
  /** Returns News bits (0 in the common case). */
  sealSend(packets: readonly Uint8Array[], plan: Int32Array, n: number): number;
  attachTun(fd: number): void;
  /** The flow cache (esp_addon.c): on, with the MTU guard's MTU (0: no guard). Forgets all flows. */
  setFlows(on: boolean, mtu: number): void;
  /** Seals and sends the leading packets of a TUN batch (packet i is slab[ends[i-1] .. ends[i]))
   *  whose flows are known; returns the index of the first one left to JavaScript + 65536 * news. */
  sealCached(slab: Uint8Array, ends: Uint32Array, count: number): number;
  /** The same for a TUN device in C (TunDevice.setLead): an External holding a reference. */
  tunLeadHook(): unknown;
  /** Engine counters; with `kernel`, rxOverflow is refreshed from the sockets first (system calls). */
  stats(out: Float64Array, kernel?: boolean): void;
  bufferSizes(): [number, number];
  close(): void;
}

interface EspAddon {
  EspEngine: new () => NativeEspEngine;
  META_INTS: number;
  RX_BATCH: number;
  RX_SLOT: number;
  TX_BATCH: number;
  STATS_COUNT: number;
  SA_STATS_COUNT: number;
  MAX_SAS: number;
  /** flow_key_of() (tests): version, protocol, ports (BE) and both addresses (16 bytes each), or
   *  null when the packet must not use the flow cache. */
  flowKeyOf(packet: Uint8Array): Buffer | null;
}

const ADDON_FILE = 'outpost_esp.node';
let addon: EspAddon | undefined;
let loadError: TunError | undefined;

/** Where the addon may be: next to the running bundle (dist/), or the node-gyp output in development. */
export function espAddonCandidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, ADDON_FILE), join(here, 'build', 'Release', ADDON_FILE)];
}

/** Loads the addon once; throws a TunError saying how to fix a missing or broken build. */
export function loadEspAddon(): EspAddon {
  if (addon) return addon;
  if (loadError) throw loadError;
  const candidates = espAddonCandidates();
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    loadError = new TunError(`ESP addon not built: run npm run build:native (looked for ${candidates.join(', ')})`, 0, 'ADDON_NOT_BUILT', 'load');
    throw loadError;
  }
  let a: EspAddon;
  try {
    a = createRequire(import.meta.url)(path) as EspAddon;
  } catch (e) {
    loadError = new TunError(`ESP addon ${path} does not load (${(e as Error).message}): rebuild it with npm run build:native`, 0, 'ADDON_LOAD_FAILED', 'load');
    throw loadError;
  }
  if (a.META_INTS !== 12 || a.STATS_COUNT !== STAT_NAMES.length || a.SA_STATS_COUNT !== SA_STAT_NAMES.length) {
    loadError = new TunError(`ESP addon ${path} is from another version: rebuild it with npm run build:native`, 0, 'ADDON_LOAD_FAILED', 'load');
    throw loadError;
  }
  addon = a;
  return a;
}

/** True when the addon loads (the fast path is available). */
export function espAddonAvailable(): boolean {
  try {
    loadEspAddon();
    return true;
  } catch {
    return false;
  }
}

/** A new engine: an empty SA table, no socket yet. */
export function createEspEngine(): NativeEspEngine {
  return new (loadEspAddon().EspEngine)();
}

/** Decodes stats() output. */
export function readEngineStats(engine: NativeEspEngine, scratch = new Float64Array(STAT_NAMES.length), kernel = false): EngineStats {
  engine.stats(scratch, kernel);
  const out = {} as EngineStats;
  STAT_NAMES.forEach((n, i) => { out[n] = scratch[i]!; });
  return out;
}

/** Decodes saStats() output; undefined when the id is not installed. */
export function readSaStats(engine: NativeEspEngine, id: number, scratch = new Float64Array(SA_STAT_NAMES.length)): SaStats | undefined {
  if (!engine.saStats(id, scratch)) return undefined;
  const out = {} as SaStats;
  SA_STAT_NAMES.forEach((n, i) => { out[n] = scratch[i]!; });
  return out;
}

/** The sender of a receive record as an address string. */
export function recordAddress(meta: Int32Array, base: number): string {
  if (meta[base + Meta.family] === 4) {
    const a = meta[base + Meta.addr]! >>> 0;
    return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
  }
  const b = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) b.writeUInt32BE(meta[base + Meta.addr + i]! >>> 0, 4 * i);
  const words: string[] = [];
  for (let i = 0; i < 8; i++) words.push(b.readUInt16BE(2 * i).toString(16));
  // An IPv4-mapped sender prints as IPv4, as node:dgram reports it on a dual-stack socket.
  if (words.slice(0, 5).every((w) => w === '0') && words[5] === 'ffff') return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  return compressV6(words);
}

function compressV6(words: string[]): string {
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return words.join(':');
  return `${words.slice(0, best).join(':')}::${words.slice(best + bestLen).join(':')}`;
}
