// UDP transport for IKE (port 500) and RFC 3948 NAT traversal (port 4500): one socket each.
// Port 4500 carries ESP (to the data plane), IKE behind the non-ESP marker (to the engine) and NAT
// keepalives (counted, ignored). Nothing here queues without bound: when the kernel's send buffer
// is full libuv would queue in userspace, so past `maxSendQueue` pending sends we drop and count.
// Send failures (no route, unreachable) are counted and logged at a rate limit, never thrown.
import dgram, { type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { ESP_HEADER_BYTES } from '../esp/packet.ts';
import { addNonEspMarker, buildKeepalive, classifyUdp4500 } from '../esp/udp-encap.ts';
import type { Endpoint } from '../ike/actions.ts';
import { logger, type Logger } from '../log.ts';
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

export class UdpTransport {
  /** Receivers; replace them at any time (the data plane and the IKE engine are built after). */
  onIke: IkeHandler;
  onEsp: EspHandler;
  readonly counters: UdpCounters = {
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

  private constructor(
    private readonly bindAddress: string,
    private readonly ike: Socket | null,
    private readonly natT: Socket,
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
    const natT = dgram.createSocket(sockOpts);
    const ike = ikePort === null ? null : dgram.createSocket(sockOpts);
    const t = new UdpTransport(bindAddress, ike, natT, opts);
    try {
      t._natTPort = await bind(natT, bindAddress, natTPort);
      if (ike) t._ikePort = await bind(ike, bindAddress, ikePort!);
    } catch (e) {
      t.close();
      throw e;
    }
    natT.on('message', t.onNatTMessage);
    natT.on('error', t.onSocketError);
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
    t.log.info('listening', { address: bindAddress, ikePort: t._ikePort, natTPort: t._natTPort });
    return t;
  }

  get ikePort(): number | null { return this._ikePort; }
  get natTPort(): number { return this._natTPort; }

  info(): UdpInfo {
    return {
      bindAddress: this.bindAddress, ikePort: this._ikePort, natTPort: this._natTPort,
      recvBufferBytes: this.natT.getRecvBufferSize(), sendBufferBytes: this.natT.getSendBufferSize(),
    };
  }

  /** Sends an IKE message from the socket whose port is `from.port` (4500 adds the non-ESP marker). */
  sendIke(data: Uint8Array, from: Endpoint, to: Endpoint): boolean {
    const onNatT = from.port === this._natTPort || this.ike === null;
    const ok = onNatT ? this.send(this.natT, addNonEspMarker(data), to) : this.send(this.ike!, data, to);
    if (ok) this.counters.ikeOut++;
    return ok;
  }

  /** Sends one ESP packet from port 4500. false: dropped (queue full, closed); failures are counted. */
  sendEsp(packet: Uint8Array, to: Endpoint): boolean {
    const ok = this.send(this.natT, packet, to);
    if (ok) this.counters.espOut++;
    return ok;
  }

  /** A NAT keepalive (RFC 3948 2.3) from port 4500. */
  sendKeepalive(to: Endpoint): boolean {
    const ok = this.send(this.natT, this.keepalive, to);
    if (ok) this.counters.keepalivesOut++;
    return ok;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [this.natT, this.ike]) {
      if (!s) continue;
      try { s.close(); } catch { /* never bound */ }
    }
  }

  private send(sock: Socket, buf: Uint8Array, to: Endpoint): boolean {
    if (this.closed) return false;
    if (sock.getSendQueueCount() >= this.maxQueue) {
      this.counters.sendQueueFull++;
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
    this.counters.sendErrors++;
    const code = errCode(err);
    this.limited.warn(`send:${code}`, 'send-failed', { code, message: err.message, ...(to ? { to: `${to.address}:${to.port}` } : {}) });
  }

  private readonly onSocketError = (err: Error): void => {
    this.counters.socketErrors++;
    const code = errCode(err);
    this.limited.warn(`socket:${code}`, 'socket-error', { code, message: err.message });
  };

  private readonly onIkeMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    this.counters.ikeIn++;
    this.onIke(msg, rinfo, this._ikePort!);
  };

  private readonly onNatTMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    // Fast path for the common case, equivalent to classifyUdp4500's 'esp': a non-zero first
    // word (no marker) and room for SPI and sequence number.
    if (msg.length >= ESP_HEADER_BYTES && (msg[0]! | msg[1]! | msg[2]! | msg[3]!) !== 0) {
      this.counters.espIn++;
      this.onEsp(msg, rinfo);
      return;
    }
    const c = classifyUdp4500(msg);
    switch (c.kind) {
      case 'ike':
        this.counters.ikeIn++;
        this.onIke(Buffer.from(c.message.buffer, c.message.byteOffset, c.message.byteLength), rinfo, this._natTPort);
        return;
      case 'keepalive':
        this.counters.keepalivesIn++;
        return;
      case 'esp': // shorter than the fast path allows cannot happen; kept for completeness
        this.counters.espIn++;
        this.onEsp(msg, rinfo);
        return;
      default:
        this.counters.malformedIn++;
    }
  };
}

function bind(sock: Socket, address: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => {
      const code = errCode(e);
      const why = code === 'EADDRINUSE' ? 'is already in use (another IKE daemon running?)'
        : code === 'EACCES' ? 'needs root or CAP_NET_BIND_SERVICE'
        : code === 'EADDRNOTAVAIL' ? 'is not an address of this machine' : e.message;
      reject(new UdpBindError(address, port, code, `cannot bind UDP ${address}:${port}: ${why}`));
    };
    sock.once('error', onError);
    sock.bind({ address, port, exclusive: true }, () => {
      sock.off('error', onError);
      resolve(sock.address().port);
    });
  });
}
