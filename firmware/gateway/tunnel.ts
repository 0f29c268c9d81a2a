// The I/O shell around the sans-I/O IKE engine: UDP 500/4500, the TUN device and its routes,
// the ESP data plane, one timer for the engine's next deadline, name resolution for the remote,
// NAT keepalives, and the status model for `outpost status`.
import { lookup } from 'node:dns/promises';
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { TunDevice } from '../../board/tun/index.ts';
import type { Action, Endpoint, IkeEvent } from '../ike/actions.ts';
import { IKE_PORT } from '../ike/constants.ts';
import { IkeEngine } from '../ike/engine.ts';
import type { TunnelPolicy } from '../ike/policy.ts';
import { logger, type Logger } from '../log.ts';
import type { TunnelStatus } from '../cli/status-model.ts';
import { DataPlane, type PacketSink } from './dataplane.ts';
import { MtuGuard } from './mtu-guard.ts';
import { NatKeepalive } from './keepalive.ts';
import { addRoutes, removeRoutes } from './routes.ts';
import { DEFAULT_BUSY_POLL_US, UdpTransport } from './udp.ts';
import { warmUpCrypto, warmUpIke } from './warm-up.ts';

export interface TunnelOptions {
  name: string;
  policy: TunnelPolicy;
  /** Host name or address of HQ, or "%any" to only respond. */
  remote: string;
  tunName: string;
  tunMtu: number;
  /** The largest inner packet the tunnel carries (tunnel-mtu.ts); default tunMtu. Larger DF packets
   *  are answered with ICMP, SYNs' MSS clamped to fit. */
  innerMtu?: number;
  remoteSubnets: string[];
  /** Source address for the box's own packets into the tunnel (its LAN address). */
  routeSrc?: string;
  bindAddress?: string;
  ikePort?: number;
  natTPort?: number;
  localIdText: string;
  /** The data plane's busy polling after work, µs (udp.ts busyPollFromEnv); default DEFAULT_BUSY_POLL_US. */
  busyPollMicros?: number;
  log?: Logger;
}

export class Tunnel extends EventEmitter<{ event: [IkeEvent] }> {
  readonly engine: IkeEngine;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private tun?: TunDevice;
  /** What the data plane writes to: follows the device when it is recreated (recoverTun). */
  private sink?: TunSink;
  private recovering = false;
  private recoverAgain = false;
  private udp?: UdpTransport;
  private plane?: DataPlane;
  private keepalive?: NatKeepalive;
  private lastErrorAt = 0;
  private closed = false;

  constructor(private readonly opts: TunnelOptions) {
    super();
    this.log = opts.log ?? logger('tunnel');
    this.engine = new IkeEngine({ role: opts.remote === '%any' ? 'responder' : 'initiator', policy: opts.policy, log: this.log.child('ike') });
  }

  async start(): Promise<void> {
    const tun = TunDevice.open({ name: this.opts.tunName, mtu: this.opts.tunMtu, up: true });
    this.tun = tun;
    this.sink = new TunSink(tun);
    const sink = this.sink;
    const udp = await UdpTransport.open({
      bindAddress: this.opts.bindAddress ?? '0.0.0.0', ikePort: this.opts.ikePort ?? IKE_PORT,
      ...(this.opts.natTPort !== undefined ? { natTPort: this.opts.natTPort } : {}), log: this.log.child('udp'),
      busyPollMicros: this.opts.busyPollMicros ?? DEFAULT_BUSY_POLL_US,
    });
    this.udp = udp;
    const plane = new DataPlane({
      tun: sink, udp, log: this.log.child('esp'),
      mtuGuard: new MtuGuard({ mtu: this.opts.innerMtu ?? this.opts.tunMtu, reply: (p) => sink.write(p) }),
      onRekeyNeeded: (spi, why) => {
        this.log.info('rekey-needed', { spi: spi.toString('hex'), why });
        this.run(this.engine.rekeyChildNow(spi, Date.now()));
      },
    });
    this.plane = plane;
    this.keepalive = new NatKeepalive((to) => udp.sendKeepalive(to));
    udp.onEsp = (pkt, from) => plane.onEsp(pkt, from);
    udp.onIke = (data, from, localPort) => this.run(this.engine.receive(Date.now(), data, from, { address: this.opts.bindAddress ?? '0.0.0.0', port: localPort }));
    this.readFrom(tun);
    await addRoutes(tun.name, this.opts.remoteSubnets, this.opts.routeSrc ? { src: this.opts.routeSrc } : {});
    this.log.info('started', { tun: tun.name, mtu: this.opts.tunMtu, innerMtu: this.opts.innerMtu ?? this.opts.tunMtu, remote: this.opts.remote, routes: this.opts.remoteSubnets.join(',') });
    // Before the first exchange: cold crypto (OpenSSL setup) and cold code (V8 compiles each
    // function at its first call) would otherwise land in it (warm-up.ts).
    const warm = warmUpCrypto([...this.opts.policy.ike, ...this.opts.policy.esp]);
    const ike = warmUpIke(this.opts.policy);
    this.log.info('warmed-up', { algorithms: warm.algorithms.join(','), exchange: ike.ok ? 'ok' : 'failed', ms: Math.round((warm.ms + ike.ms) * 10) / 10 });
    this.run(this.engine.start(Date.now()));
  }

  /** Outbound packets from `tun` to the data plane; a read error (the device deleted under us:
   *  EBADF from poll) starts the device's recovery. */
  private readFrom(tun: TunDevice): void {
    const plane = this.plane!;
    tun.onError((e) => {
      this.log.error('tun-read-failed', { code: e.code, reason: e.message });
      if (tun === this.tun) void this.recoverTun();
    });
    // The plane is done with each batch when it returns: read into one reused buffer, no copies.
    // Native: packets of known flows are sealed in C before any of this (DataPlane.leadHook).
    tun.setLead(plane.leadHook() ?? null);
    tun.onPackets((batch) => plane.onTunPackets(batch), { reuseBuffer: true, onLeadNews: plane.onLeadNews });
  }

  /**
   * The TUN device stopped working (typically deleted with `ip link del`): close it, open it
   * again with the same name and MTU, give it to the data plane (and the native ESP engine,
   * which writes decrypted packets to its own copy of the fd), re-add the routes. The SAs are
   * untouched, so traffic resumes as soon as the device is back. Retried with backoff (100 ms
   * doubling to 30 s) while it fails; a failure of the new device during recovery runs it again.
   */
  private async recoverTun(): Promise<void> {
    if (this.recovering) { this.recoverAgain = true; return; }
    this.recovering = true;
    const started = Date.now();
    let delay = 100;
    try {
      for (let attempt = 1; !this.closed; attempt++) {
        this.recoverAgain = false;
        try {
          this.tun?.close();
          const tun = TunDevice.open({ name: this.opts.tunName, mtu: this.opts.tunMtu, up: true });
          this.tun = tun;
          this.sink!.dev = tun;
          if (this.plane?.native) this.udp?.fastPath?.engine.attachTun(tun.fd);
          this.readFrom(tun);
          await addRoutes(tun.name, this.opts.remoteSubnets, this.opts.routeSrc ? { src: this.opts.routeSrc } : {});
          if (this.recoverAgain) throw new Error('the new device failed as well');
          this.log.warn('tun-recovered', { tun: tun.name, mtu: this.opts.tunMtu, routes: this.opts.remoteSubnets.join(','), attempts: attempt, ms: Date.now() - started });
          return;
        } catch (err) {
          this.log.error('tun-recovery-failed', { attempt, reason: (err as Error).message, retry_ms: delay });
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 30_000);
        }
      }
    } finally {
      this.recovering = false;
    }
  }

  /** Sends our Deletes, waits briefly for them to leave, and releases everything. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.run(this.engine.shutdown(Date.now()));
    this.closed = true;
    clearTimeout(this.timer);
    await new Promise((r) => setTimeout(r, 50));
    this.keepalive?.close();
    if (this.tun) {
      await removeRoutes(this.tun.name, this.opts.remoteSubnets).catch(() => 0);
      this.tun.close();
    }
    this.udp?.close();
    this.log.info('stopped', {});
  }

  /** Messages for the peer go out first, then local work (SA installs, events and their
   *  listeners): a responder's IKE_AUTH answer leaves before the CHILD_SA is installed and the
   *  daemon hears of it. Safe because it all runs in this one task: ESP the peer sends on the
   *  answer waits in the socket until the install is done. Otherwise in the engine's order. */
  private run(actions: Action[]): void {
    for (const pass of [true, false]) {
      for (const a of actions) {
        if ((a.kind === 'send') !== pass) continue;
        try {
          this.apply(a);
        } catch (err) {
          this.log.error('action-failed', { action: a.kind, reason: (err as Error).message });
        }
      }
    }
    this.schedule();
  }

  private apply(a: Action): void {
    switch (a.kind) {
      case 'send':
        this.udp?.sendIke(a.data, a.from, a.to);
        break;
      case 'install-child':
        this.plane?.installChild(a.child);
        break;
      case 'remove-child':
        this.plane?.removeChild(a.spiIn);
        break;
      case 'update-remote':
        this.plane?.updateRemote(a.ikeId, a.remote);
        this.keepalive?.updateRemote(a.ikeId, a.remote);
        break;
      case 'connect-due':
        void this.connect();
        break;
      case 'event':
        this.onEvent(a.event);
        break;
    }
  }

  private onEvent(e: IkeEvent): void {
    if (e.type === 'ike-up') this.keepalive?.set(e.ikeId, e.remote, e.natLocal);
    if (e.type === 'ike-down') this.keepalive?.remove(e.ikeId);
    if (e.type === 'ike-rekeyed') {
      const sa = this.engine.ikeSas().find((s) => s.id === e.ikeId);
      this.keepalive?.remove(e.oldIkeId);
      if (sa) this.keepalive?.set(sa.id, sa.remote, sa.natLocal);
    }
    if (e.type === 'ike-down' || e.type === 'auth-failed' || e.type === 'negotiation-failed' || e.type === 'dpd-timeout') this.lastErrorAt = Date.now();
    this.emit('event', e);
  }

  /** Resolves the remote (again on every attempt: HQ may have moved) and starts IKE_SA_INIT. */
  private async connect(): Promise<void> {
    try {
      const host = this.opts.remote;
      const address = isIP(host) ? host : (await lookup(host, { family: 4 })).address;
      const remote: Endpoint = { address, port: IKE_PORT };
      const local: Endpoint = { address: await sourceAddressFor(address), port: this.udp?.ikePort ?? IKE_PORT };
      if (this.closed) return;
      this.run(this.engine.connect(Date.now(), local, remote));
    } catch (err) {
      const reason = `cannot reach ${this.opts.remote}: ${(err as Error).message}`;
      this.run(this.engine.connectFailed(Date.now(), reason));
    }
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.closed) return;
    const at = this.engine.nextDeadline();
    if (at === undefined) return;
    this.timer = setTimeout(() => {
      this.noteEspLiveness();
      this.run(this.engine.tick(Date.now()));
    }, Math.max(0, at - Date.now()) + 1);
    this.timer.unref?.();
  }

  /**
   * The data plane knows when each CHILD_SA last received an authenticated packet; the engine
   * counts it as proof of life before each tick. (Without it, DPD ran every dpdSeconds under
   * steady traffic, and on a lossy WAN an unanswered DPD tore down a tunnel passing traffic.)
   */
  private noteEspLiveness(): void {
    const plane = this.plane;
    if (plane) this.engine.noteEspInbound((spi) => plane.lastInboundAt(spi));
  }

  /** Round trip to HQ from the last dead-peer check answered at once, or null before any. */
  rttMs(): number | null {
    const sa = this.engine.ikeSas().find((s) => s.state === 'established' && s.dpdRttMs !== undefined);
    return sa?.dpdRttMs ?? null;
  }

  status(): TunnelStatus {
    const now = Date.now();
    const sa = this.engine.ikeSas().find((s) => s.state === 'established') ?? this.engine.ikeSas()[0];
    const plane = this.plane?.status();
    const fast = this.plane?.native ? this.udp?.fastPathCounters() : undefined;
    const flowCache = fast ? { flowCache: { out: fast.flowHitsOut, in: fast.flowHitsIn } } : {};
    const children = sa ? sa.children.map((c) => {
      const p = plane?.children.find((x) => x.spiIn === c.spiIn.toString('hex'));
      return {
        name: this.opts.name, spiIn: c.spiIn.toString('hex'), spiOut: c.spiOut.toString('hex'), algorithms: c.suite.name,
        esn: c.suite.esn === 1, localTs: p?.localTs ?? [], remoteTs: p?.remoteTs ?? [],
        establishedSeconds: Math.floor((now - c.createdAt) / 1000), rekeySeconds: c.state === 'installed' ? Math.max(0, Math.floor((c.rekeyAt - now) / 1000)) : null,
        bytesIn: p?.bytesIn ?? 0, bytesOut: p?.bytesOut ?? 0, packetsIn: p?.packetsIn ?? 0, packetsOut: p?.packetsOut ?? 0, drops: p?.drops ?? {},
      };
    }) : [];
    const up = this.engine.up;
    return {
      name: this.opts.name,
      state: up ? 'up' : sa ? 'connecting' : 'down',
      local: sa ? sa.local : null,
      remote: sa ? sa.remote : null,
      nat: { local: sa?.natLocal ?? false, remote: sa?.natRemote ?? false },
      ikeSa: sa && sa.suite ? {
        spiInitiator: sa.spiI.toString('hex'), spiResponder: sa.spiR.toString('hex'), role: sa.initiator ? 'initiator' : 'responder',
        localId: this.opts.localIdText, remoteId: sa.remoteIdText, algorithms: sa.suite.name,
        establishedSeconds: sa.establishedAt ? Math.floor((now - sa.establishedAt) / 1000) : 0,
        rekeySeconds: sa.state === 'established' && Number.isFinite(sa.rekeyAt) ? Math.max(0, Math.floor((sa.rekeyAt - now) / 1000)) : null,
      } : null,
      childSas: children,
      lastError: this.engine.lastError ? { message: this.engine.lastError, ageSeconds: Math.floor((now - this.lastErrorAt) / 1000) } : null,
      ike: { ...this.engine.counters, halfOpen: this.engine.ikeSas().filter((s) => !s.initiator && (s.state === 'connecting' || s.state === 'authenticating')).length },
      ...(plane ? { dataPlane: { packetsIn: plane.packetsIn, packetsOut: plane.packetsOut, bytesIn: plane.bytesIn, bytesOut: plane.bytesOut, drops: plane.drops, ...flowCache } } : {}),
    };
  }
}

/** The data plane's PacketSink: the current TUN device, swapped when it is recreated. `fd` is what
 *  the data plane gives the native ESP engine at construction (recoverTun re-attaches the new one). */
class TunSink implements PacketSink {
  constructor(public dev: TunDevice) {}
  get fd(): number { return this.dev.fd; }
  write(pkt: Uint8Array): boolean { return this.dev.write(pkt); }
}

/** The local address the kernel would use towards `remote` (for NAT detection hashes). */
function sourceAddressFor(remote: string): Promise<string> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.on('error', () => { s.close(); resolve('0.0.0.0'); });
    s.connect(IKE_PORT, remote, () => {
      const a = s.address().address;
      s.close();
      resolve(a);
    });
  });
}

