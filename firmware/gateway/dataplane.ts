// The data plane: CHILD_SAs installed by the IKE engine, packets between the TUN and UDP 4500.
//
//   outbound  TUN batch -> parseFlow -> first child (newest first) whose selectors match -> seal -> sendEsp
//   inbound   ESP in UDP -> SPI lookup -> open (replay, ICV) -> inner selectors check -> TUN write
//
// Newest first: during a rekey the new SA carries outbound traffic as soon as it is installed,
// while the old one still accepts inbound packets until the engine removes it.
// Per packet there are no closures, log lines or allocations beyond parseFlow's small object and
// what seal/open return; every drop is counted, per child when a child is known, else globally.
//
// Two ways to run the SAs, chosen at construction:
//   - JavaScript (the reference): EspSa with node:crypto keys, one udp.sendEsp per packet;
//   - native (fastpath.ts), when the UDP transport offers a fast path: the SAs live in the ESP
//     addon, and per batch the plane only decides, per packet, which SA it leaves by (the
//     selectors and the MTU guard run here, in the same place as for the reference) and whether
//     each decrypted packet may enter the LAN; the addon seals and sends the whole batch with
//     sendmmsg, and receives, opens and writes to the TUN device in batches.
// Both count the same drops under the same names.
import { readFileSync } from 'node:fs';
import type { NativeEspEngine } from '../../board/tun/esp.ts';
import { Meta, News, RxKind, STAT_NAMES } from '../../board/tun/esp.ts';
import { aeadByName } from '../crypto/aeads.ts';
import type { DropCounters } from '../esp/drops.ts';
import { NEXT_HEADER_IPV4, NEXT_HEADER_IPV6, readSpi } from '../esp/packet.ts';
import { EspSa } from '../esp/sa.ts';
import { NativeEspSa, type FastPathPort } from './fastpath.ts';
import type { ChildSaSpec, Endpoint } from '../ike/actions.ts';
import { formatSelector } from '../ike/selectors.ts';
import { logger, type Logger } from '../log.ts';
import { RateLimitedLog } from './rate-log.ts';
import { parseFlow } from './ip-packet.ts';
import { SelectorPair } from './spd.ts';

/** Where decrypted packets go (a TunDevice). write() returns false when the kernel had no room and
 *  throws an error with code 'EIO' when the interface is down. */
export interface PacketSink {
  write(pkt: Uint8Array): boolean;
}

/** Where ESP packets go (a UdpTransport). */
export interface EspSender {
  sendEsp(packet: Uint8Array, to: Endpoint): boolean;
  /** Present when the transport's NAT-T socket is the ESP addon's: the plane then runs native. */
  readonly fastPath?: FastPathPort | undefined;
}

/** Drops the data plane counts besides the SA's own (replay, auth_failed, malformed, bad_padding). */
export type PlaneDrop =
  /** Outbound packet matching no CHILD_SA's selectors. */
  | 'no_policy'
  /** Outbound packet that is not IPv4/IPv6 or too short for its header. */
  | 'not_ip'
  /** ESP packet whose SPI is not installed. */
  | 'unknown_spi'
  /** Decrypted packet outside the SA's selectors (RFC 4301 5.2). */
  | 'selector_mismatch'
  /** The outbound SA used its last sequence number. */
  | 'seq_exhausted'
  /** The ESP packet would exceed the SA's maximum size. */
  | 'too_big'
  /** The UDP transport refused the send (its queue full, closed). */
  | 'send_dropped'
  /** TUN interface down (EIO), full (write returned false), or another write error. */
  | 'tun_down'
  | 'tun_full'
  | 'tun_error';

type PlaneCounters = Record<PlaneDrop, number>;
const newPlaneCounters = (): PlaneCounters => ({
  no_policy: 0, not_ip: 0, unknown_spi: 0, selector_mismatch: 0, seq_exhausted: 0, too_big: 0,
  send_dropped: 0, tun_down: 0, tun_full: 0, tun_error: 0,
});

export type RekeyReason = 'soft_limit' | 'seq_exhausted';

export interface DataPlaneOptions {
  tun: PacketSink;
  udp: EspSender;
  /** An SA reached its sequence-number soft limit or ran out: negotiate a replacement. Once per child. */
  onRekeyNeeded?: (spiIn: Buffer, reason: RekeyReason) => void;
  /** Milliseconds; default Date.now. */
  now?: () => number;
  replayWindow?: number;
  /** Path MTU enforcement (mtu-guard.ts): MSS clamping both ways, ICMP answers for packets too big. */
  /** Its `mtu` is read once, here: the native flow cache leaves bigger packets to the guard. */
  mtuGuard?: { outbound(pkt: Uint8Array): boolean; inbound(pkt: Uint8Array): void; readonly mtu?: number };
  log?: Logger;
  /** Use the transport's native fast path when it offers one (default true). */
  fastPath?: boolean;
}

/** Per-child sequence-number limits; the defaults are the ESP SA's (rekey well before 2^32 / 2^64). */
export interface ChildLimits {
  /** onRekeyNeeded fires once a sequence number at or above this is sent or accepted. */
  softLimit?: bigint;
  /** First outbound sequence number (default 1); lets tests reach exhaustion. */
  nextSeqOut?: bigint;
}

export interface ChildStatus {
  ikeId: string;
  /** 8 hex digits. */
  spiIn: string;
  spiOut: string;
  aead: string;
  esn: boolean;
  localTs: string[];
  remoteTs: string[];
  local: Endpoint;
  remote: Endpoint;
  /** True when outbound traffic for its selectors uses this SA (false for an SA being replaced). */
  outbound: boolean;
  installedSeconds: number;
  /** Seconds since the last authenticated inbound packet; null when none yet. */
  lastInboundSeconds: number | null;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  /** Non-zero drop counts by reason. */
  drops: Record<string, number>;
  rekeyNeeded: boolean;
}

export interface DataPlaneStatus {
  children: ChildStatus[];
  /** Every drop since start (including children since removed), non-zero reasons only. Besides
   *  the per-packet reasons, what the kernel dropped before Outpost could read it:
   *  `tun_queue_full` (the TUN device's queue, packets from the LAN) and, on the fast path,
   *  `udp_rx_overflow` (the port-4500 receive buffers; a run of datagrams the kernel coalesced
   *  with UDP GRO counts once). */
  drops: Record<string, number>;
  /** Totals since start, including removed children. */
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
}

interface Child {
  readonly ikeId: string;
  readonly spiIn: number;
  readonly spiOut: number;
  readonly spiInBuf: Buffer;
  readonly aead: string;
  readonly esn: boolean;
  readonly inSa: EspSa | NativeEspSa;
  readonly outSa: EspSa | NativeEspSa;
  /** The engine ids of inSa and outSa (native only, else 0). */
  readonly nativeIn: number;
  readonly nativeOut: number;
  readonly selectors: SelectorPair;
  readonly localTs: string[];
  readonly remoteTs: string[];
  readonly local: Endpoint;
  remote: Endpoint;
  readonly installedAt: number;
  lastInboundAt: number;
  rekeyRaised: boolean;
  readonly drops: PlaneCounters;
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');
const STAT_RX_OVERFLOW = STAT_NAMES.indexOf('rxOverflow');

function spiNumber(spi: Buffer | number | string): number {
  if (typeof spi === 'number') return spi >>> 0;
  if (typeof spi === 'string') return Number.parseInt(spi, 16) >>> 0;
  if (spi.length !== 4) throw new RangeError(`an ESP SPI is 4 bytes, got ${spi.length}`);
  return spi.readUInt32BE(0);
}

function nonZero(into: Record<string, number>, from: Record<string, number>): void {
  for (const k in from) {
    const v = from[k]!;
    if (v !== 0) into[k] = (into[k] ?? 0) + v;
  }
}

export class DataPlane {
  private readonly tun: PacketSink;
  private readonly udp: EspSender;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly limited: RateLimitedLog;
  private readonly replayWindow: number | undefined;
  private readonly onRekeyNeeded: (spiIn: Buffer, reason: RekeyReason) => void;
  private readonly mtuGuard: DataPlaneOptions['mtuGuard'];
  private readonly bySpi = new Map<number, Child>();
  /** Outbound search order: newest installed first. */
  private order: Child[] = [];
  private readonly drops: PlaneCounters = newPlaneCounters();
  /** Counters of removed children, so totals never go backwards. */
  private readonly retiredDrops: Record<string, number> = {};
  private readonly retired = { packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0 };
  // Native only: the addon, children by inbound engine id, the per-batch plan and packet list
  // (reused), and a scratch array for the engine's stats.
  private readonly fast: FastPathPort | undefined;
  private readonly engine: NativeEspEngine | undefined;
  private readonly byNativeIn = new Map<number, Child>();
  private plan = new Int32Array(512);
  private readonly txPackets: Uint8Array[] = [];
  private readonly engineStats = new Float64Array(32);
  /** The addon writes accepted packets to the TUN itself (a TunDevice gave it its fd). */
  private readonly nativeTunWrites: boolean = false;

  constructor(opts: DataPlaneOptions) {
    this.tun = opts.tun;
    this.udp = opts.udp;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? logger('dataplane');
    this.limited = new RateLimitedLog(this.log, 10_000, this.now);
    this.replayWindow = opts.replayWindow;
    this.onRekeyNeeded = opts.onRekeyNeeded ?? (() => {});
    this.mtuGuard = opts.mtuGuard;
    const fast = opts.fastPath === false ? undefined : opts.udp.fastPath;
    if (fast) {
      this.fast = fast;
      this.engine = fast.engine;
      fast.onEspRecords = this.onEspRecords;
      const fd = (opts.tun as { fd?: unknown }).fd;
      if (typeof fd === 'number' && fd >= 0) {
        this.engine.attachTun(fd);
        this.nativeTunWrites = true;
      }
      // The flow cache respects the guard's MTU (0: no guard); a guard of unknown MTU: off.
      const g = this.mtuGuard;
      const mtu = g === undefined ? 0 : typeof g.mtu === 'number' ? g.mtu : -1;
      this.engine.setFlows(mtu >= 0, Math.max(mtu, 0));
      this.log.info('fast-path', { tunWrites: this.nativeTunWrites ? 'native' : 'javascript' });
    }
  }

  /** True when the SAs run in the native addon. */
  get native(): boolean { return this.engine !== undefined; }

  /** Installs a CHILD_SA pair (replacing one with the same inbound SPI). Throws on a bad spec. */
  installChild(spec: ChildSaSpec, limits: ChildLimits = {}): void {
    const alg = aeadByName(spec.aead);
    if (!alg) throw new RangeError(`unsupported ESP AEAD "${spec.aead}"`);
    const spiIn = spiNumber(spec.spiIn), spiOut = spiNumber(spec.spiOut);
    const soft = limits.softLimit === undefined ? {} : { softLimit: limits.softLimit };
    const window = this.replayWindow ? { replayWindow: this.replayWindow } : {};
    const next = limits.nextSeqOut === undefined ? {} : { nextSeq: limits.nextSeqOut };
    let inSa: EspSa | NativeEspSa, outSa: EspSa | NativeEspSa;
    if (this.engine) {
      const engine = this.engine;
      inSa = new NativeEspSa(engine, { spi: spiIn, direction: 'in', alg, keyAndSalt: spec.keyIn, esn: spec.esn, ...soft, ...window });
      try {
        outSa = new NativeEspSa(engine, { spi: spiOut, direction: 'out', alg, keyAndSalt: spec.keyOut, esn: spec.esn, ...soft, ...next });
        outSa.setRemote(spec.remote.address, spec.remote.port);
      } catch (e) {
        inSa.dispose();
        (outSa! as NativeEspSa | undefined)?.dispose();
        throw e;
      }
    } else {
      inSa = new EspSa({ spi: spiIn, direction: 'in', key: alg.createKey(spec.keyIn), esn: spec.esn, ...soft, ...window });
      outSa = new EspSa({ spi: spiOut, direction: 'out', key: alg.createKey(spec.keyOut), esn: spec.esn, ...soft, ...next });
    }
    const child: Child = {
      ikeId: spec.ikeId, spiIn, spiOut, spiInBuf: Buffer.alloc(4),
      aead: alg.name, esn: spec.esn, inSa, outSa,
      nativeIn: inSa instanceof NativeEspSa ? inSa.id : 0, nativeOut: outSa instanceof NativeEspSa ? outSa.id : 0,
      selectors: new SelectorPair(spec.localTs, spec.remoteTs),
      localTs: spec.localTs.map(formatSelector), remoteTs: spec.remoteTs.map(formatSelector),
      local: { address: spec.local.address, port: spec.local.port },
      remote: { address: spec.remote.address, port: spec.remote.port },
      installedAt: this.now(), lastInboundAt: 0, rekeyRaised: false, drops: newPlaneCounters(),
    };
    child.spiInBuf.writeUInt32BE(spiIn, 0);
    if (this.bySpi.has(spiIn)) {
      this.log.warn('child-replaced', { spiIn: hex8(spiIn) });
      this.removeChild(spiIn);
    }
    this.bySpi.set(spiIn, child);
    if (child.nativeIn) this.byNativeIn.set(child.nativeIn, child);
    this.order = [child, ...this.order];
    this.log.info('child-installed', {
      ikeId: spec.ikeId, spiIn: hex8(spiIn), spiOut: hex8(spiOut), aead: alg.name, esn: spec.esn,
      localTs: child.localTs.join(' '), remoteTs: child.remoteTs.join(' '), remote: `${child.remote.address}:${child.remote.port}`,
    });
  }

  /** Removes a CHILD_SA by its inbound SPI; false when it was not installed. */
  removeChild(spiIn: Buffer | number | string): boolean {
    const spi = spiNumber(spiIn);
    const c = this.bySpi.get(spi);
    if (!c) return false;
    this.bySpi.delete(spi);
    this.order = this.order.filter((x) => x !== c);
    if (c.nativeIn) this.byNativeIn.delete(c.nativeIn);
    // Native SAs leave the engine now (their keys with them); their counters stay readable.
    if (c.inSa instanceof NativeEspSa) c.inSa.dispose();
    if (c.outSa instanceof NativeEspSa) c.outSa.dispose();
    const st = this.childCounters(c);
    nonZero(this.retiredDrops, st.drops);
    this.retired.packetsIn += st.packetsIn;
    this.retired.packetsOut += st.packetsOut;
    this.retired.bytesIn += st.bytesIn;
    this.retired.bytesOut += st.bytesOut;
    this.log.info('child-removed', { ikeId: c.ikeId, spiIn: hex8(spi), spiOut: hex8(c.spiOut), packetsIn: st.packetsIn, packetsOut: st.packetsOut });
    return true;
  }

  /** Points every child of an IKE SA at a new peer address (NAT mapping change); returns how many. */
  updateRemote(ikeId: string, remote: Endpoint): number {
    let n = 0;
    for (const c of this.order) {
      if (c.ikeId !== ikeId) continue;
      c.remote = { address: remote.address, port: remote.port };
      if (c.outSa instanceof NativeEspSa) c.outSa.setRemote(remote.address, remote.port);
      n++;
    }
    if (n > 0) this.log.info('remote-updated', { ikeId, remote: `${remote.address}:${remote.port}`, children: n });
    return n;
  }

  /** Inbound SPIs installed, newest first. */
  children(): Buffer[] {
    return this.order.map((c) => Buffer.from(c.spiInBuf));
  }

  /** When the last authenticated packet arrived on this SA (ms, the plane's clock); undefined
   *  when none has or the SA is not installed. IKE skips DPD while this is recent. */
  lastInboundAt(spiIn: Buffer | number | string): number | undefined {
    const c = this.bySpi.get(spiNumber(spiIn));
    if (c === undefined) return undefined;
    this.refreshInbound(c);
    return c.lastInboundAt > 0 ? c.lastInboundAt : undefined;
  }

  /** Native: packets of known flows reach the LAN without this plane seeing them (the flow cache);
   *  the engine keeps the time of the last one. */
  private refreshInbound(c: Child): void {
    if (!(c.inSa instanceof NativeEspSa)) return;
    const idle = c.inSa.idleMs();
    if (idle >= 0) c.lastInboundAt = Math.max(c.lastInboundAt, this.now() - idle);
  }

  /**
   * Native: the hook for TunDevice.setLead. The TUN device offers each batch to the engine in C
   * first, which seals and sends the leading packets of flows this plane already decided (the
   * flow cache, esp_addon.c); the rest come to onTunPackets, in order. Undefined off the fast path.
   */
  leadHook(): unknown {
    return this.engine?.tunLeadHook();
  }

  /** What the engine reported while sealing for the TUN device's lead (TunDevice onLeadNews). */
  readonly onLeadNews = (news: number): void => { this.onNews(news); };

  /** Outbound: packets read from the TUN. */
  onTunPackets(batch: readonly Uint8Array[]): void {
    if (this.engine) { this.outboundNative(batch); return; }
    for (let i = 0; i < batch.length; i++) this.outbound(batch[i]!);
  }

  /** Inbound: one ESP packet (SPI first) from UDP 4500. */
  onEsp(packet: Uint8Array, _from?: Endpoint): void {
    const spi = readSpi(packet);
    const c = spi === undefined ? undefined : this.bySpi.get(spi);
    if (c === undefined) { this.drops.unknown_spi++; return; }
    const r = c.inSa.open(packet);
    if (r.kind !== 'packet') {
      if (r.kind === 'dummy') c.lastInboundAt = this.now(); // authentic, just empty
      return; // drops were counted by the SA
    }
    c.lastInboundAt = this.now();
    if (!c.rekeyRaised && c.inSa.rekeyNeeded) this.raiseRekey(c, 'soft_limit');
    const inner = r.inner;
    const f = parseFlow(inner);
    if (f === null || !c.selectors.matchesInbound(f)) { c.drops.selector_mismatch++; return; }
    if (this.mtuGuard !== undefined) this.mtuGuard.inbound(inner);
    this.writeTun(c, inner);
  }

  status(): DataPlaneStatus {
    const now = this.now();
    const drops: Record<string, number> = { ...this.retiredDrops };
    nonZero(drops, this.drops);
    nonZero(drops, this.kernelDrops());
    const totals = { ...this.retired };
    const children: ChildStatus[] = [];
    for (const c of this.order) {
      this.refreshInbound(c);
      const st = this.childCounters(c);
      nonZero(drops, st.drops);
      totals.packetsIn += st.packetsIn;
      totals.packetsOut += st.packetsOut;
      totals.bytesIn += st.bytesIn;
      totals.bytesOut += st.bytesOut;
      // Outbound iff no newer child has the very same selectors (text compare is exact enough here).
      const key = c.localTs.join(' ') + '|' + c.remoteTs.join(' ');
      const shadowed = this.order.slice(0, this.order.indexOf(c)).some((o) => o.localTs.join(' ') + '|' + o.remoteTs.join(' ') === key);
      children.push({
        ikeId: c.ikeId, spiIn: hex8(c.spiIn), spiOut: hex8(c.spiOut), aead: c.aead, esn: c.esn,
        localTs: [...c.localTs], remoteTs: [...c.remoteTs], local: { ...c.local }, remote: { ...c.remote },
        outbound: !shadowed,
        installedSeconds: Math.max(0, Math.floor((now - c.installedAt) / 1000)),
        lastInboundSeconds: c.lastInboundAt > 0 ? Math.max(0, Math.floor((now - c.lastInboundAt) / 1000)) : null,
        ...st,
        rekeyNeeded: c.inSa.rekeyNeeded || c.outSa.rekeyNeeded || c.outSa.exhausted,
      });
    }
    return { children, drops, ...totals };
  }

  /**
   * The per-packet outbound decision, shared by both paths: the child whose selectors match
   * (newest first) after the MTU guard (MSS clamping in place, ICMP for packets too big); or
   * undefined when the packet is dropped (counted).
   */
  private route(pkt: Uint8Array): Child | undefined {
    const f = parseFlow(pkt);
    if (f === null) { this.drops.not_ip++; return undefined; }
    const order = this.order;
    let c: Child | undefined;
    for (let i = 0; i < order.length; i++) {
      if (order[i]!.selectors.matchesOutbound(f)) { c = order[i]; break; }
    }
    if (c === undefined) { this.drops.no_policy++; return undefined; }
    if (this.mtuGuard !== undefined && !this.mtuGuard.outbound(pkt)) return undefined; // too big: answered with ICMP
    return c;
  }

  /** Native: decide every packet here, then seal and send the batch in one addon call. */
  private outboundNative(batch: readonly Uint8Array[]): void {
    const n = batch.length;
    if (this.plan.length < 2 * n) this.plan = new Int32Array(2 * n);
    const plan = this.plan, pkts = this.txPackets;
    pkts.length = n;
    let any = false;
    for (let i = 0; i < n; i++) {
      const pkt = batch[i]!;
      pkts[i] = pkt;
      const c = this.route(pkt);
      if (c === undefined) { plan[2 * i] = 0; continue; }
      plan[2 * i] = c.nativeOut;
      plan[2 * i + 1] = pkt[0]! >> 4 === 4 ? NEXT_HEADER_IPV4 : NEXT_HEADER_IPV6;
      any = true;
    }
    if (!any) return;
    const news = this.engine!.sealSend(pkts, plan, n);
    if (news !== 0) this.onNews(news);
  }

  /** Native: the engine says an SA needs a rekey, or a send failed. */
  private onNews(news: number): void {
    if (news & News.sendError) this.fast!.logSendErrors();
    if (news & News.rekey) this.checkRekeyEvents();
  }

  /**
   * Native inbound, once per received batch (before IKE in it is dispatched): the RFC 4301 5.2
   * selector check and the MTU guard for each decrypted packet, which the addon then writes to
   * the TUN (verdict 1), or this plane does when the TUN is not a device the addon can write to.
   */
  private readonly onEspRecords = (meta: Int32Array, rx: Buffer, count: number, news: number): void => {
    let now = 0;
    for (let i = 0, b = 0; i < count; i++, b += 12) {
      const kind = meta[b + Meta.kind];
      if (kind !== RxKind.inner && kind !== RxKind.dummy) continue;
      const c = this.byNativeIn.get(meta[b + Meta.sa]!);
      if (c === undefined) continue; // removed since: the packet goes nowhere
      if (now === 0) now = this.now();
      c.lastInboundAt = now;
      if (kind === RxKind.dummy) continue;
      if (meta[b + Meta.verdict] === 1) continue; // a known flow: the engine accepted it already
      const off = meta[b + Meta.off]!;
      const inner = rx.subarray(off, off + meta[b + Meta.len]!);
      const f = parseFlow(inner);
      if (f === null || !c.selectors.matchesInbound(f)) { c.drops.selector_mismatch++; continue; }
      if (this.mtuGuard !== undefined) this.mtuGuard.inbound(inner); // in place, before the write
      if (this.nativeTunWrites) meta[b + Meta.verdict] = 1;
      else this.writeTun(c, inner);
    }
    if (news !== 0) this.onNews(news);
  };

  /** Packets the kernel dropped because Outpost did not read them in time (see DataPlaneStatus). */
  private kernelDrops(): Record<string, number> {
    const out: Record<string, number> = {};
    const name = this.tunName();
    if (name !== undefined) {
      try {
        out.tun_queue_full = Number(readFileSync(`/sys/class/net/${name}/statistics/tx_dropped`, 'utf8')) || 0;
      } catch { /* not in this namespace's /sys, or gone */ }
    }
    if (this.engine) {
      this.engine.stats(this.engineStats, true);
      out.udp_rx_overflow = this.engineStats[STAT_RX_OVERFLOW]!;
    }
    return out;
  }

  /** The TUN interface's name: the sink's own, else the kernel's for its fd ("iff:" in fdinfo). */
  private tunName(): string | undefined {
    const t = this.tun as { name?: unknown; fd?: unknown };
    let name = typeof t.name === 'string' ? t.name : undefined;
    if (name === undefined && typeof t.fd === 'number' && t.fd >= 0) {
      try {
        name = /^iff:\s*(\S+)$/m.exec(readFileSync(`/proc/self/fdinfo/${t.fd}`, 'utf8'))?.[1];
      } catch { /* closed meanwhile */ }
    }
    return name !== undefined && /^[\w.-]{1,15}$/.test(name) ? name : undefined;
  }

  /** Native: the addon saw an SA reach its soft limit (or run out): find it and raise the rekey. */
  private checkRekeyEvents(): void {
    for (const c of this.order) {
      if (c.rekeyRaised) continue;
      const why = (c.outSa as NativeEspSa).rekeyNoted ?? ((c.inSa as NativeEspSa).rekeyNoted && 'soft_limit');
      if (why) this.raiseRekey(c, why);
    }
  }

  private outbound(pkt: Uint8Array): void {
    const c = this.route(pkt);
    if (c === undefined) return;
    const sa = c.outSa;
    const esp = sa.seal(pkt, pkt[0]! >> 4 === 4 ? NEXT_HEADER_IPV4 : NEXT_HEADER_IPV6);
    if (!(esp instanceof Uint8Array)) {
      c.drops[esp.error]++;
      if (esp.error === 'seq_exhausted' && !c.rekeyRaised) this.raiseRekey(c, 'seq_exhausted');
      return;
    }
    if (!c.rekeyRaised && sa.rekeyNeeded) this.raiseRekey(c, sa.exhausted ? 'seq_exhausted' : 'soft_limit');
    if (!this.udp.sendEsp(esp, c.remote)) c.drops.send_dropped++;
  }

  private writeTun(c: Child, inner: Uint8Array): void {
    try {
      if (!this.tun.write(inner)) c.drops.tun_full++;
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === 'EIO') { c.drops.tun_down++; return; }
      c.drops.tun_error++;
      this.limited.warn(`tun:${String(code)}`, 'tun-write-failed', { code: String(code), message: (e as Error).message });
    }
  }

  private raiseRekey(c: Child, reason: RekeyReason): void {
    c.rekeyRaised = true;
    this.log.info('rekey-needed', { ikeId: c.ikeId, spiIn: hex8(c.spiIn), reason });
    try {
      this.onRekeyNeeded(Buffer.from(c.spiInBuf), reason);
    } catch (e) {
      this.log.error('rekey-callback-failed', { message: (e as Error).message });
    }
  }

  private childCounters(c: Child): { packetsIn: number; packetsOut: number; bytesIn: number; bytesOut: number; drops: Record<string, number> } {
    const i = c.inSa.counters, o = c.outSa.counters;
    const drops: Record<string, number> = {};
    nonZero(drops, i.drops as DropCounters & Record<string, number>);
    nonZero(drops, c.drops);
    // Native SAs count these themselves (the JavaScript path counts them in c.drops).
    if (c.inSa instanceof NativeEspSa) nonZero(drops, c.inSa.childDrops());
    if (c.outSa instanceof NativeEspSa) nonZero(drops, c.outSa.childDrops());
    return { packetsIn: i.packetsIn, packetsOut: o.packetsOut, bytesIn: i.bytesIn, bytesOut: o.bytesOut, drops };
  }
}

