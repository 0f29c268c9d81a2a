// The data plane: CHILD_SAs installed by the IKE engine, packets between the TUN and UDP 4500.
//
//   outbound  TUN batch -> parseFlow -> first child (newest first) whose selectors match -> seal -> sendEsp
//   inbound   ESP in UDP -> SPI lookup -> open (replay, ICV) -> inner selectors check -> TUN write
//
// Newest first: during a rekey the new SA carries outbound traffic as soon as it is installed,
// while the old one still accepts inbound packets until the engine removes it.
// Per packet there are no closures, log lines or allocations beyond parseFlow's small object and
// what seal/open return; every drop is counted, per child when a child is known, else globally.
import { aeadByName } from '../crypto/aeads.ts';
import type { DropCounters } from '../esp/drops.ts';
import { NEXT_HEADER_IPV4, NEXT_HEADER_IPV6, readSpi } from '../esp/packet.ts';
import { EspSa } from '../esp/sa.ts';
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
  mtuGuard?: { outbound(pkt: Uint8Array): boolean; inbound(pkt: Uint8Array): void };
  log?: Logger;
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
  /** Every drop since start (including children since removed), non-zero reasons only. */
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
  readonly inSa: EspSa;
  readonly outSa: EspSa;
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

  constructor(opts: DataPlaneOptions) {
    this.tun = opts.tun;
    this.udp = opts.udp;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? logger('dataplane');
    this.limited = new RateLimitedLog(this.log, 10_000, this.now);
    this.replayWindow = opts.replayWindow;
    this.onRekeyNeeded = opts.onRekeyNeeded ?? (() => {});
    this.mtuGuard = opts.mtuGuard;
  }

  /** Installs a CHILD_SA pair (replacing one with the same inbound SPI). Throws on a bad spec. */
  installChild(spec: ChildSaSpec, limits: ChildLimits = {}): void {
    const alg = aeadByName(spec.aead);
    if (!alg) throw new RangeError(`unsupported ESP AEAD "${spec.aead}"`);
    const spiIn = spiNumber(spec.spiIn), spiOut = spiNumber(spec.spiOut);
    const soft = limits.softLimit === undefined ? {} : { softLimit: limits.softLimit };
    const inSa = new EspSa({ spi: spiIn, direction: 'in', key: alg.createKey(spec.keyIn), esn: spec.esn, ...soft, ...(this.replayWindow ? { replayWindow: this.replayWindow } : {}) });
    const outSa = new EspSa({ spi: spiOut, direction: 'out', key: alg.createKey(spec.keyOut), esn: spec.esn, ...soft, ...(limits.nextSeqOut === undefined ? {} : { nextSeq: limits.nextSeqOut }) });
    const child: Child = {
      ikeId: spec.ikeId, spiIn, spiOut, spiInBuf: Buffer.alloc(4),
      aead: alg.name, esn: spec.esn, inSa, outSa,
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
    return c && c.lastInboundAt > 0 ? c.lastInboundAt : undefined;
  }

  /** Outbound: packets read from the TUN. */
  onTunPackets(batch: readonly Uint8Array[]): void {
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
    const totals = { ...this.retired };
    const children: ChildStatus[] = [];
    for (const c of this.order) {
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

  private outbound(pkt: Uint8Array): void {
    const f = parseFlow(pkt);
    if (f === null) { this.drops.not_ip++; return; }
    const order = this.order;
    let c: Child | undefined;
    for (let i = 0; i < order.length; i++) {
      if (order[i]!.selectors.matchesOutbound(f)) { c = order[i]; break; }
    }
    if (c === undefined) { this.drops.no_policy++; return; }
    if (this.mtuGuard !== undefined && !this.mtuGuard.outbound(pkt)) return; // too big: answered with ICMP
    const sa = c.outSa;
    const esp = sa.seal(pkt, f.version === 4 ? NEXT_HEADER_IPV4 : NEXT_HEADER_IPV6);
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
    return { packetsIn: i.packetsIn, packetsOut: o.packetsOut, bytesIn: i.bytesIn, bytesOut: o.bytesOut, drops };
  }
}

