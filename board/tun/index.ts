// Typed wrapper over the TUN addon (board/tun/src): a layer-3 Linux TUN interface whose packets
// arrive in batches on the event loop. Mechanism only: addressing, routing and drop accounting
// belong to the caller.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface TunOptions {
  /** Interface name, at most 15 characters; omitted or '' lets the kernel choose (tun0, tun1, ...). */
  name?: string;
  /** MTU to set at open; omitted leaves the kernel default (1500). */
  mtu?: number;
  /** Bring the interface up at open (default false). */
  up?: boolean;
  /**
   * Let the kernel hand over TCP in large GSO packets and leave checksums to us (virtio-net
   * headers, TSO; board/tun/src/tun_gso.h). Reads still deliver ordinary IP packets (the addon
   * segments them) and writes still take them, so callers see no difference but far fewer system
   * calls and kernel passes per byte. Default true.
   */
  offload?: boolean;
}

/** One wake-up's packets, in arrival order: views into one buffer, valid indefinitely unless the
 *  callback was registered with `reuseBuffer` (then only until it returns). */
export type PacketBatch = Buffer[];

export interface OnPacketsOptions {
  /**
   * Hand out views of the device's own read buffer instead of a copy per batch: no allocation
   * and no copy per wake-up, but the packets are overwritten by the next batch, so the callback
   * must be done with them (or copy them) before it returns. Default false.
   */
  reuseBuffer?: boolean;
  /** With a lead (setLead): what it reports for JavaScript to look at (esp.ts News bits). */
  onLeadNews?: (news: number) => void;
}

/** A TUN failure: `errno` is the positive Linux errno (0 when no system call failed), `code` its
 *  name ("EPERM"), `op` the step that failed ("open", "TUNSETIFF", "write", ...). */
export class TunError extends Error {
  override readonly name = 'TunError';
  constructor(message: string, readonly errno: number, readonly code: string, readonly op: string) {
    super(message);
  }
}

/** Reading stops once a batch holds this many packets (the rest come on the next turn). With
 *  offload the last read of a batch may be a large TCP packet cut into segments, which can take
 *  that batch past it, to at most TUN_BATCH_MAX + 127 packets. */
export const TUN_BATCH_MAX = 256;

interface NativeTun {
  readonly name: string;
  readonly offload: boolean;
  readonly vnet: boolean;
  dropped(): number;
  /** cb(err, count, first, news): `first` of the `count` packets were taken by the lead. */
  start(cb: (err: NativeError | null, count: number, first: number, news: number) => void): void;
  setLead(hook: unknown): void;
  slab(): ArrayBuffer | undefined;
  ends(): Uint32Array | undefined;
  stop(): void;
  write(pkt: Uint8Array): boolean;
  writeBatch(pkts: readonly Uint8Array[]): number;
  getFd(): number;
  getMtu(): number;
  setMtu(mtu: number): void;
  setUp(up: boolean): void;
  close(): void;
}
interface NativeAddon {
  Tun: new (name: string, mtu: number, up: boolean, offload: boolean) => NativeTun;
  BATCH_MAX: number;
  /** tun_gso.c on buffers (tests): one read (virtio-net header + packet) split into packets. */
  gsoSplit(headerAndPacket: Uint8Array): Buffer[];
  /** tun_gso.c on buffers (tests): what writing these packets in order puts on the wire, each
   *  with its virtio-net header. */
  groMerge(packets: readonly Uint8Array[]): Buffer[];
  /** mem_trim.c: drops the resident pages of clean read-only file mappings (board/memory.ts). */
  trimFilePages(): { mappings: number; failed: number; bytes: number };
}
interface NativeError extends Error { errno: number; code: string; op: string }

const ADDON_FILE = 'outpost_tun.node';
let addon: NativeAddon | undefined;

/** Where the addon may be: next to the running bundle (dist/), or the node-gyp output in development. */
export function tunAddonCandidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, ADDON_FILE), join(here, 'build', 'Release', ADDON_FILE)];
}

/** Loads the addon once; a missing or broken build gives a TunError saying how to fix it. */
export function loadTunAddon(): NativeAddon {
  if (addon) return addon;
  const candidates = tunAddonCandidates();
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new TunError(
      `TUN addon not built: run npm run build:native (looked for ${candidates.join(', ')})`,
      0, 'ADDON_NOT_BUILT', 'load');
  }
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (e) {
    throw new TunError(
      `TUN addon ${path} does not load (${(e as Error).message}): rebuild it with npm run build:native`,
      0, 'ADDON_LOAD_FAILED', 'load');
  }
  if (addon.BATCH_MAX !== TUN_BATCH_MAX) throw new Error(`TUN addon batch size ${addon.BATCH_MAX} != ${TUN_BATCH_MAX}`);
  return addon;
}

const NEED_PRIVILEGE = 'run Outpost as root or grant it CAP_NET_ADMIN';

/** The sentence a technician reads, from the failed step and errno name. */
function explain(op: string, code: string, name: string, detail: string): string {
  const ifc = name ? `interface "${name}"` : 'the TUN interface';
  switch (`${op}:${code}`) {
    case 'open:EPERM': case 'open:EACCES':
      return `no permission to open /dev/net/tun: ${NEED_PRIVILEGE}`;
    case 'open:ENOENT': case 'open:ENODEV': case 'open:ENXIO':
      return '/dev/net/tun is missing: load the tun kernel module (modprobe tun)';
    case 'open:EMFILE': case 'open:ENFILE':
      return 'cannot open /dev/net/tun: too many open files';
    case 'name:EINVAL':
      return Buffer.byteLength(name) > 15
        ? `interface name "${name}" is too long (${Buffer.byteLength(name)} bytes): Linux allows at most 15`
        : `interface name ${JSON.stringify(name)} contains a NUL character`;
    case 'TUNSETIFF:EPERM': case 'TUNSETIFF:EACCES':
      return `no permission to create ${ifc}: ${NEED_PRIVILEGE} (or it is a persistent TUN owned by another user)`;
    case 'TUNSETIFF:EBUSY':
      return `${ifc} is already open by another program (is another Outpost running?)`;
    case 'TUNSETIFF:EINVAL':
      return `${ifc} cannot be a TUN device: the name is invalid (1-15 characters, no '/', ':' or spaces) ` +
        'or already belongs to an interface that is not a TUN device';
    case 'SIOCSIFMTU:EINVAL':
      return `MTU rejected for ${ifc}: a TUN interface takes 68 to 65535`;
    case 'SIOCSIFMTU:EPERM': case 'SIOCSIFFLAGS:EPERM': case 'SIOCSIFMTU:EACCES': case 'SIOCSIFFLAGS:EACCES':
      return `no permission to configure ${ifc}: ${NEED_PRIVILEGE}`;
    case 'SIOCGIFMTU:ENODEV': case 'SIOCSIFMTU:ENODEV': case 'SIOCGIFFLAGS:ENODEV': case 'SIOCSIFFLAGS:ENODEV':
      return `${ifc} is not in Outpost's network namespace (moved or renamed?): configure it with ip there`;
    case 'write:EIO':
      return `${ifc} is down: bring it up before writing packets`;
    case 'write:EINVAL':
      return `${ifc} refused a packet that is not IPv4 or IPv6`;
    case 'closed:EBADF':
      return `${ifc} is closed`;
    default:
      return `${ifc}: ${detail}`;
  }
}

function toTunError(e: unknown, name: string): unknown {
  const n = e as Partial<NativeError>;
  if (!(e instanceof Error) || typeof n.errno !== 'number' || typeof n.op !== 'string') return e;
  const code = n.code ?? 'UNKNOWN';
  return new TunError(explain(n.op, code, name, e.message), n.errno, code, n.op);
}

/** A layer-3 TUN interface (IFF_TUN | IFF_NO_PI): reads and writes bare IPv4/IPv6 packets. */
export class TunDevice {
  readonly name: string;
  private _mtu: number;
  private errorHandler: ((err: TunError) => void) | undefined;

  private constructor(private readonly native: NativeTun) {
    this.name = native.name;
    this._mtu = native.getMtu();
  }

  /** Creates (or attaches to) the interface. Throws TunError. */
  static open(opts: TunOptions = {}): TunDevice {
    const name = opts.name ?? '';
    const mtu = opts.mtu ?? 0;
    if (!Number.isInteger(mtu) || mtu < 0 || mtu > 0x7fffffff) throw new RangeError(`TUN mtu must be a positive integer, got ${mtu}`);
    const { Tun } = loadTunAddon();
    try {
      return new TunDevice(new Tun(name, mtu, opts.up ?? false, opts.offload ?? true));
    } catch (e) {
      throw toTunError(e, name);
    }
  }

  /** The file descriptor (-1 once closed). The ESP fast path writes decrypted packets to its own
   *  duplicate of it, so the interface lives until that is closed too. */
  get fd(): number { return this.native.getFd(); }

  /** True when the kernel took the offloads (TSO reads, GSO writes); see TunOptions.offload. */
  get offload(): boolean { return this.native.offload; }

  /**
   * Gives each batch read to `hook` (EspEngine.tunLeadHook(), or null for none) before the
   * onPackets callback: the ESP engine seals the leading packets of flows it knows in C, and the
   * callback gets only the rest (see tun_lead.h). While the engine receives, the device is read
   * on the engine's I/O thread (io_thread.h) and the callback still runs on this thread; when
   * the engine stops, the device goes back to Node's loop. Closing the device lets go of it.
   */
  setLead(hook: unknown): void { this.call(() => this.native.setLead(hook)); }

  /** Reads dropped because they could not be split into packets (malformed offload headers). */
  get dropped(): number { return this.native.dropped(); }

  /** The MTU read at open or last set through setMtu (the interface may since have moved namespace). */
  get mtu(): number { return this._mtu; }

  setMtu(mtu: number): void {
    if (!Number.isInteger(mtu) || mtu <= 0 || mtu > 0x7fffffff) throw new RangeError(`TUN mtu must be a positive integer, got ${mtu}`);
    this.call(() => this.native.setMtu(mtu));
    this._mtu = mtu;
  }

  /** Sets or clears IFF_UP (needs the interface in this process's network namespace). */
  setUp(up = true): void { this.call(() => this.native.setUp(up)); }

  /**
   * Delivers the packets ready at each event-loop wake-up as one batch (at most TUN_BATCH_MAX;
   * the rest come on the next turn). Replaces any earlier callback; null stops reading, which also
   * lets the process exit. A read error stops reading and goes to onError's handler, or is thrown
   * (uncaught) when there is none.
   */
  onPackets(cb: ((batch: PacketBatch) => void) | null, opts: OnPacketsOptions = {}): void {
    if (cb === null) { this.native.stop(); return; }
    const reuse = opts.reuseBuffer ?? false;
    const onLeadNews = opts.onLeadNews;
    let slab: Buffer | undefined, ends: Uint32Array | undefined;
    this.call(() => this.native.start((err, count, first, news) => {
      if (news !== 0) onLeadNews?.(news);
      if (count > first) { // the packets the lead (setLead) left, in order
        slab ??= Buffer.from(this.native.slab()!);
        ends ??= this.native.ends()!;
        const used = ends[count - 1]!;
        const src = reuse ? slab : Buffer.from(slab.subarray(0, used));
        const batch: Buffer[] = new Array(count - first);
        let start = first > 0 ? ends[first - 1]! : 0;
        for (let i = first; i < count; i++) {
          const end = ends[i]!;
          batch[i - first] = src.subarray(start, end);
          start = end;
        }
        cb(batch);
      }
      if (err) {
        const te = toTunError(err, this.name) as TunError;
        if (this.errorHandler) this.errorHandler(te);
        else throw te;
      }
    }));
  }

  /** Receives read errors (after which no more packets arrive). */
  onError(handler: ((err: TunError) => void) | null): void { this.errorHandler = handler ?? undefined; }

  /** Writes one packet without blocking. false: the kernel had no room, the packet is dropped.
   *  Throws TunError when the packet is refused (not IP, interface down) or the device is closed. */
  write(pkt: Uint8Array): boolean { return this.call(() => this.native.write(pkt)); }

  /** Writes packets in order until one is refused for lack of room; returns how many were written
   *  (the rest are drops). Throws like write(), after writing the packets before the bad one. */
  writeBatch(pkts: readonly Uint8Array[]): number { return this.call(() => this.native.writeBatch(pkts)); }

  /** Stops reading and closes the fd (a non-persistent interface disappears). No callback runs
   *  afterwards; calling it again does nothing. */
  close(): void { this.native.close(); }

  private call<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw toTunError(e, this.name);
    }
  }
}
