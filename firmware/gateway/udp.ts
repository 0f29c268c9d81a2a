// UDP transport for IKE (port 500) and RFC 3948 NAT traversal (port 4500): one socket each.
// Port 4500 carries ESP (to the data plane), IKE behind the non-ESP marker (to the engine) and NAT
// keepalives (counted, ignored). Nothing here queues without bound: when the kernel's send buffer
// is full libuv would queue in userspace, so past `maxSendQueue` pending sends we drop and count.
// Send failures (no route, unreachable) are counted and logged at a rate limit, never thrown.
//
// With the ESP addon (board/tun/esp.ts, the default when it loads) the port-4500 socket is the
// addon's: it reads batches with recvmmsg, opens ESP for the SAs the data plane installed in it
// and hands each batch over in one call (fastPath, fastpath.ts); IKE, keepalives and ESP for
// unknown SPIs come out here exactly as from the node:dgram socket. Its sends never queue: a full
// socket buffer is a counted drop.
import dgram, { type RemoteInfo, type Socket } from 'node:dgram';
import { isIP, isIPv6 } from 'node:net';
import { constants as osConstants } from 'node:os';
import { Meta, RxKind, createEspEngine, espAddonAvailable, readEngineStats, recordAddress, type NativeEspEngine } from '../../board/tun/esp.ts';
import { ESP_HEADER_BYTES } from '../esp/packet.ts';
import { addNonEspMarker, buildKeepalive, classifyUdp4500 } from '../esp/udp-encap.ts';
import type { Endpoint } from '../ike/actions.ts';
import { logger, type Logger } from '../log.ts';
import type { FastPathPort } from './fastpath.ts';
import { RateLimitedLog } from './rate-log.ts';

export const IKE_PORT = 500;
export const NAT_T_PORT = 4500;
/** Asked for per socket; Linux caps it at net.core.rmem_max (reported in `info()`). */
export const DEFAULT_RECV_BUFFER_BYTES = 4 * 1024 * 1024;
export const DEFAULT_SEND_BUFFER_BYTES = 1024 * 1024;
/** Sends libuv may hold (socket buffer full) before we drop instead. */
export const DEFAULT_MAX_SEND_QUEUE = 256;

export type IkeHandler = (data: Buffer, from: Endpoint, localPort: number) => void;
export type EspHandler = (packet: Buffer, from: Endpoint) => void;

export interface UdpTransportOptions {
  /** Local address to bind; default '0.0.0.0' (an IPv6 address makes IPv6-only sockets). */
  bindAddress?: string;
  /** IKE port; default 500, 0 for an ephemeral port, null for no port-500 socket. */
  ikePort?: number | null;
  /** NAT-T port (ESP in UDP, IKE with marker); default 4500, 0 for an ephemeral port. */
  natTPort?: number;
  recvBufferBytes?: number;
  sendBufferBytes?: number;
  maxSendQueue?: number;
  onIke?: IkeHandler;
  onEsp?: EspHandler;
  log?: Logger;
  /** Clock for the log rate limit (ms). */
  now?: () => number;
  /** Port 4500 through the ESP addon (batched I/O, native ESP). Default: when the addon loads. */
  fastPath?: boolean;
  /** Fast path: the I/O thread's busy polling after work, in µs (busyPollFromEnv). Default 0. */
  busyPollMicros?: number;
}

/** The daemon's default busy polling (io_thread.h): an answer within 50 µs finds the thread awake. */
export const DEFAULT_BUSY_POLL_US = 50;

/**
 * OUTPOST_BUSY_POLL_US: how long the data plane's I/O thread keeps polling after it handled
 * packets before it sleeps, 0..1000 µs (0 turns it off; at most 5 % of a core either way).
 * Refused at start-up rather than ignored when it is not a whole number in range.
 */
export function busyPollFromEnv(text = process.env.OUTPOST_BUSY_POLL_US): number {
  if (text === undefined || text === '') return DEFAULT_BUSY_POLL_US;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n > 1000) throw new Error(`OUTPOST_BUSY_POLL_US="${text}": expected whole microseconds, 0..1000 (0: off)`);
  return n;
}

export interface UdpCounters {
  ikeIn: number;
  espIn: number;
  keepalivesIn: number;
  /** Datagrams on 4500 that are neither (empty, truncated IKE or ESP, bad keepalive). */
  malformedIn: number;
  ikeOut: number;
  espOut: number;
  keepalivesOut: number;
  /** Sends the kernel refused (EHOSTUNREACH, ENETUNREACH, EMSGSIZE, ...). */
  sendErrors: number;
  /** Sends dropped because too many were already waiting for socket buffer space. */
  sendQueueFull: number;
  socketErrors: number;
}

/** Counters only the fast path keeps. */
export interface UdpFastPathCounters {
  /** Datagrams the kernel dropped because the port-4500 receive buffer was full (SO_RXQ_OVFL). */
  rxOverflow: number;
  rxBatches: number;
  txBatches: number;
  /** Packets the flow cache sealed, and decrypted packets it let in, without JavaScript. */
  flowHitsOut: number;
  flowHitsIn: number;
}

export interface UdpInfo {
  bindAddress: string;
  ikePort: number | null;
  natTPort: number;
  /** Effective kernel buffer sizes (Linux reports twice what it grants as payload room). */
  recvBufferBytes: number;
  sendBufferBytes: number;
}

export class UdpBindError extends Error {
  override readonly name = 'UdpBindError';
  constructor(readonly address: string, readonly port: number, readonly code: string, message: string) {
    super(message);
  }
}

const errCode = (e: unknown): string =>
  (typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '') || 'UNKNOWN';

const NOOP_IKE: IkeHandler = () => {};
const NOOP_ESP: EspHandler = () => {};

const ERRNO_NAMES = new Map<number, string>(Object.entries(osConstants.errno).map(([k, v]) => [v, k]));
const errnoName = (n: number): string => ERRNO_NAMES.get(n) ?? `errno ${n}`;
const WOULD_BLOCK = new Set([osConstants.errno.EAGAIN, osConstants.errno.EWOULDBLOCK, osConstants.errno.ENOBUFS]);

/** The port-4500 socket in the ESP addon, and what the transport reads back from it. */
class NativeNatT implements FastPathPort {
  onEspRecords: FastPathPort['onEspRecords'] = undefined;
  readonly rx: Buffer;
  readonly meta: Int32Array;
  private readonly scratch = new Float64Array(32);
  private loggedSendErrors = 0;
  constructor(readonly engine: NativeEspEngine, private readonly sendFailed: (code: string) => void) {
    this.rx = Buffer.from(engine.rxBuffer());
    this.meta = engine.rxMeta();
  }
  logSendErrors(): void {
    const s = readEngineStats(this.engine, this.scratch);
    for (; this.loggedSendErrors < s.sendErrors; this.loggedSendErrors++) this.sendFailed(errnoName(s.lastSendErrno));
  }
}

export class UdpTransport {
  /** Receivers; replace them at any time (the data plane and the IKE engine are built after). */
  onIke: IkeHandler;
  onEsp: EspHandler;
  // What this side counts; the addon counts its own socket's traffic (counters sums both).
  private readonly own: UdpCounters = {
    ikeIn: 0, espIn: 0, keepalivesIn: 0, malformedIn: 0, ikeOut: 0, espOut: 0, keepalivesOut: 0,
    sendErrors: 0, sendQueueFull: 0, socketErrors: 0,
  };

  private readonly log: Logger;
  private readonly limited: RateLimitedLog;
  private readonly maxQueue: number;
  private readonly keepalive = buildKeepalive();
  private _ikePort: number | null = null;
  private _natTPort = 0;
  private closed = false;
  // One callback for every send (no closure per packet); it only has the error to go on.
  private readonly afterSend = (err: Error | null): void => { if (err) this.sendFailed(err); };

  private native: NativeNatT | undefined;

  private constructor(
    private readonly bindAddress: string,
    private readonly ike: Socket | null,
    private readonly natT: Socket | null,
    opts: UdpTransportOptions,
  ) {
    this.onIke = opts.onIke ?? NOOP_IKE;
    this.onEsp = opts.onEsp ?? NOOP_ESP;
    this.log = opts.log ?? logger('udp');
    this.limited = new RateLimitedLog(this.log, 10_000, opts.now);
    this.maxQueue = opts.maxSendQueue ?? DEFAULT_MAX_SEND_QUEUE;
  }

  /** Binds the sockets; throws UdpBindError naming the address and port when one cannot be bound. */
  static async open(opts: UdpTransportOptions = {}): Promise<UdpTransport> {
    const bindAddress = opts.bindAddress ?? '0.0.0.0';
    const type = isIPv6(bindAddress) ? 'udp6' : 'udp4';
    const sockOpts = {
      type, ipv6Only: type === 'udp6',
      recvBufferSize: opts.recvBufferBytes ?? DEFAULT_RECV_BUFFER_BYTES,
      sendBufferSize: opts.sendBufferBytes ?? DEFAULT_SEND_BUFFER_BYTES,
    } as const;
    const ikePort = opts.ikePort === undefined ? IKE_PORT : opts.ikePort;
    const natTPort = opts.natTPort ?? NAT_T_PORT;
    const fast = opts.fastPath ?? espAddonAvailable();
    const natT = fast ? null : dgram.createSocket(sockOpts);
    const ike = ikePort === null ? null : dgram.createSocket(sockOpts);
    const t = new UdpTransport(bindAddress, ike, natT, opts);
    try {
      if (natT) t._natTPort = await bind(natT, bindAddress, natTPort);
      else t._natTPort = t.bindNative(bindAddress, natTPort, sockOpts.recvBufferSize, sockOpts.sendBufferSize);
      if (ike) t._ikePort = await bind(ike, bindAddress, ikePort!);
    } catch (e) {
      t.close();
      throw e;
    }
    if (natT) {
      natT.on('message', t.onNatTMessage);
      natT.on('error', t.onSocketError);
    } else {
      t.native!.engine.start(t.onNativeBatch, opts.busyPollMicros ?? 0);
    }
    if (ike) {
      ike.on('message', t.onIkeMessage);
      ike.on('error', t.onSocketError);
    }
    const info = t.info();
    const wanted = sockOpts.recvBufferSize;
    // Linux reports double the requested size when it granted it in full.
    if (info.recvBufferBytes < wanted) {
      t.log.info('recv-buffer-capped', { wanted, got: info.recvBufferBytes, hint: 'raise net.core.rmem_max' });
    }
    t.log.info('listening', {
      address: bindAddress, ikePort: t._ikePort, natTPort: t._natTPort, fastPath: natT === null,
      ...(t.native ? { ikeQueue: readEngineStats(t.native.engine).ikeSocket ? 'own' : 'shared' } : {}),
    });
    return t;
  }

  get ikePort(): number | null { return this._ikePort; }
  get natTPort(): number { return this._natTPort; }

  /** The ESP addon behind port 4500, when it is used (the data plane then seals and opens there). */
  get fastPath(): FastPathPort | undefined { return this.closed ? undefined : this.native; }

  /** Traffic counters of both sockets. */
  get counters(): UdpCounters {
    if (!this.native) return this.own;
    const n = readEngineStats(this.native.engine);
    const o = this.own;
    return {
      ikeIn: o.ikeIn + n.ikeIn, espIn: o.espIn + n.espIn, keepalivesIn: o.keepalivesIn + n.keepalivesIn,
      malformedIn: o.malformedIn + n.malformedIn, ikeOut: o.ikeOut, espOut: o.espOut + n.espOut,
      keepalivesOut: o.keepalivesOut, sendErrors: o.sendErrors + n.sendErrors,
      sendQueueFull: o.sendQueueFull + n.sendQueueFull, socketErrors: o.socketErrors + n.socketErrors,
    };
  }

  /** The fast path's own counters (undefined without it). */
  fastPathCounters(): UdpFastPathCounters | undefined {
    if (!this.native) return undefined;
    const n = readEngineStats(this.native.engine, undefined, true);
    return { rxOverflow: n.rxOverflow, rxBatches: n.rxBatches, txBatches: n.txBatches, flowHitsOut: n.flowHitsOut, flowHitsIn: n.flowHitsIn };
  }

  info(): UdpInfo {
    const [rcv, snd] = this.native ? this.native.engine.bufferSizes() : [this.natT!.getRecvBufferSize(), this.natT!.getSendBufferSize()];
    return { bindAddress: this.bindAddress, ikePort: this._ikePort, natTPort: this._natTPort, recvBufferBytes: rcv, sendBufferBytes: snd };
  }

  /** Sends an IKE message from the socket whose port is `from.port` (4500 adds the non-ESP marker). */
  sendIke(data: Uint8Array, from: Endpoint, to: Endpoint): boolean {
    const onNatT = from.port === this._natTPort || this.ike === null;
    const ok = onNatT ? this.sendNatT(addNonEspMarker(data), to) : this.send(this.ike!, data, to);
    if (ok) this.own.ikeOut++;
    return ok;
  }

  /** Sends one ESP packet from port 4500. false: dropped (queue full, closed); failures are counted. */
  sendEsp(packet: Uint8Array, to: Endpoint): boolean {
    const ok = this.sendNatT(packet, to);
    if (ok) this.own.espOut++;
    return ok;
  }

  /** A NAT keepalive (RFC 3948 2.3) from port 4500. */
  sendKeepalive(to: Endpoint): boolean {
    const ok = this.sendNatT(this.keepalive, to);
    if (ok) this.own.keepalivesOut++;
    return ok;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native?.engine.close();
    for (const s of [this.natT, this.ike]) {
      if (!s) continue;
      try { s.close(); } catch { /* never bound */ }
    }
  }

  private bindNative(address: string, port: number, rcv: number, snd: number): number {
    const engine = createEspEngine();
    try {
      const bound = engine.bind(address, port, rcv, snd);
      this.native = new NativeNatT(engine, (code) => {
        this.limited.warn(`send:${code}`, 'send-failed', { code, message: `send: ${code}` });
      });
      return bound;
    } catch (e) {
      engine.close();
      const errno = (e as { errno?: unknown }).errno;
      const code = typeof errno === 'number' && errno > 0 ? errnoName(errno) : errCode(e);
      if ((e as { op?: string }).op === 'bind' || (e as { op?: string }).op === 'address') throw bindError(address, port, code, (e as Error).message);
      throw e;
    }
  }

  private sendNatT(buf: Uint8Array, to: Endpoint): boolean {
    if (this.natT) return this.send(this.natT, buf, to);
    if (this.closed || !this.native) return false;
    // The addon's sends never wait in user space (nothing is pending), so the bound only bites at 0.
    if (this.maxQueue <= 0) {
      this.own.sendQueueFull++;
      return false;
    }
    // What node:dgram refuses synchronously is refused here too: a bad port or address.
    if (!Number.isInteger(to.port) || to.port <= 0 || to.port > 65535) {
      this.sendFailed(Object.assign(new RangeError(`port ${to.port} out of range`), { code: 'ERR_SOCKET_BAD_PORT' }), to);
      return false;
    }
    if (isIP(to.address) === 0) {
      this.sendFailed(Object.assign(new TypeError(`${to.address} is not an IP address`), { code: 'ERR_INVALID_ADDRESS' }), to);
      return false;
    }
    const err = this.native.engine.sendTo(buf, to.address, to.port);
    if (err === 0) return true;
    if (WOULD_BLOCK.has(err)) {
      this.own.sendQueueFull++;
      return false;
    }
    // Refused by the kernel (unreachable, too big): counted and logged as node:dgram's
    // asynchronous failures are, after the packet was accepted for sending.
    const code = errnoName(err);
    this.sendFailed(Object.assign(new Error(`send ${code}`), { code }), to);
    return true;
  }

  private readonly onNativeBatch = (count: number, news: number): void => {
    const nat = this.native;
    if (!nat) return;
    const meta = nat.meta, rx = nat.rx;
    // ESP first: IKE in the same batch may remove the SAs these packets came through.
    nat.onEspRecords?.(meta, rx, count, news);
    for (let i = 0, b = 0; i < count; i++, b += 12) {
      const kind = meta[b + Meta.kind];
      if (kind !== RxKind.ike && kind !== RxKind.espRaw) continue;
      const off = meta[b + Meta.off]!, len = meta[b + Meta.len]!;
      const data = Buffer.from(rx.subarray(off, off + len)); // the arena is reused by the next batch
      const from: Endpoint = { address: recordAddress(meta, b), port: meta[b + Meta.port]! };
      if (kind === RxKind.ike) this.onIke(data, from, this._natTPort);
      else this.onEsp(data, from);
    }
  };

  private send(sock: Socket, buf: Uint8Array, to: Endpoint): boolean {
    if (this.closed) return false;
    if (sock.getSendQueueCount() >= this.maxQueue) {
      this.own.sendQueueFull++;
      return false;
    }
    try {
      sock.send(buf, to.port, to.address, this.afterSend);
      return true;
    } catch (e) {
      // Synchronous refusals: a malformed address or port, a socket closed under us.
      this.sendFailed(e as Error, to);
      return false;
    }
  }

  private sendFailed(err: Error, to?: Endpoint): void {
    this.own.sendErrors++;
    const code = errCode(err);
    this.limited.warn(`send:${code}`, 'send-failed', { code, message: err.message, ...(to ? { to: `${to.address}:${to.port}` } : {}) });
  }

  private readonly onSocketError = (err: Error): void => {
    this.own.socketErrors++;
    const code = errCode(err);
    this.limited.warn(`socket:${code}`, 'socket-error', { code, message: err.message });
  };

  private readonly onIkeMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    this.own.ikeIn++;
    this.onIke(msg, rinfo, this._ikePort!);
  };

  private readonly onNatTMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    // Fast path for the common case, equivalent to classifyUdp4500's 'esp': a non-zero first
    // word (no marker) and room for SPI and sequence number.
    if (msg.length >= ESP_HEADER_BYTES && (msg[0]! | msg[1]! | msg[2]! | msg[3]!) !== 0) {
      this.own.espIn++;
      this.onEsp(msg, rinfo);
      return;
    }
    const c = classifyUdp4500(msg);
    switch (c.kind) {
      case 'ike':
        this.own.ikeIn++;
        this.onIke(Buffer.from(c.message.buffer, c.message.byteOffset, c.message.byteLength), rinfo, this._natTPort);
        return;
      case 'keepalive':
        this.own.keepalivesIn++;
        return;
      case 'esp': // shorter than the fast path allows cannot happen; kept for completeness
        this.own.espIn++;
        this.onEsp(msg, rinfo);
        return;
      default:
        this.own.malformedIn++;
    }
  };
}

function bindError(address: string, port: number, code: string, detail: string): UdpBindError {
  const why = code === 'EADDRINUSE' ? 'is already in use (another IKE daemon running?)'
    : code === 'EACCES' ? 'needs root or CAP_NET_BIND_SERVICE'
    : code === 'EADDRNOTAVAIL' ? 'is not an address of this machine' : detail;
  return new UdpBindError(address, port, code, `cannot bind UDP ${address}:${port}: ${why}`);
}

function bind(sock: Socket, address: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(bindError(address, port, errCode(e), e.message));
    sock.once('error', onError);
    sock.bind({ address, port, exclusive: true }, () => {
      sock.off('error', onError);
      resolve(sock.address().port);
    });
  });
}
