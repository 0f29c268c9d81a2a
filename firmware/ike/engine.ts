// The sans-I/O IKEv2 engine for one tunnel policy: it takes datagrams and the time, and returns
// Actions (send, install/remove CHILD_SA, events). It owns message IDs and the window of one
// (RFC 7296 2.3), retransmission with exponential backoff (2.1), the responder's answer cache
// (2.1), half-open limits and cookies (2.6), rekey and DPD schedules, and reconnects.
// The exchanges themselves live in exchanges/, one file each.
import { cryptoRandom, newSpi, type RandomSource } from '../crypto/random.ts';
import { EsnId } from './constants.ts';
import { aeadByTransform } from '../crypto/aeads.ts';
import { logger, type Logger } from '../log.ts';
import type { Action, Endpoint, IkeEvent } from './actions.ts';
import { ExchangeType, NotifyType, PayloadType } from './constants.ts';
import { answerChildRequest, completeChildOffer } from './exchanges/child-sa.ts';
import { ExchangeError, notify, notifyOf, type EngineCore } from './exchanges/core.ts';
import { answerChildExchange, answerIkeRekey, deleteChildren, deleteIkeSa, startChildRekey, startIkeRekey } from './exchanges/create-child-sa.ts';
import { answerAuthRequest, buildAuthRequest, processAuthResponse } from './exchanges/ike-auth.ts';
import { answerInitRequest, buildInitRequest, firstAttempt, makeCookie, processInitResponse, type InitAttempt } from './exchanges/ike-sa-init.ts';
import { answerInformational, startDpd } from './exchanges/informational.ts';
import type { IkeHeader } from './header.ts';
import { IkeSa, type ChildSa } from './ike-sa.ts';
import type { ChildSaKeys } from './keys.ts';
import { decodeMessage, describeMessage, encodeMessage, openSk, type DecodedMessage, type Payload } from './message.ts';
import type { TunnelPolicy } from './policy.ts';
import { formatSelectors } from './selectors.ts';
import { isIkeDecodeError } from './errors.ts';

export interface EngineOptions {
  /** 'initiator' connects to the configured remote and keeps reconnecting; 'responder' only answers. */
  role: 'initiator' | 'responder';
  policy: TunnelPolicy;
  random?: RandomSource;
  log?: Logger;
}

export interface EngineCounters {
  malformed: number;
  unknownSpi: number;
  integrityFailures: number;
  invalidMessageId: number;
  retransmissionsSent: number;
  retransmitsAnswered: number;
  cookiesSent: number;
  halfOpenDropped: number;
  ikeSaInitRequests: number;
}

const HEX = (b: Buffer) => b.toString('hex');
/** A CHILD_SA that carries or will carry traffic (not one on its way out). */
const usableChild = (c: ChildSa) => c.state === 'installed' || c.state === 'rekeying';
/** How long past its hard lifetime a CHILD_SA being deleted may wait for the Delete's answer. */
const DELETE_GRACE_MS = 30_000;
/** How long an IKE SA replaced by the peer's rekey waits for the peer's Delete. */
const RETIRED_LINGER_MS = 60_000;

export class IkeEngine implements EngineCore {
  readonly policy: TunnelPolicy;
  readonly random: RandomSource;
  readonly log: Logger;
  readonly role: 'initiator' | 'responder';
  readonly counters: EngineCounters = { malformed: 0, unknownSpi: 0, integrityFailures: 0, invalidMessageId: 0, retransmissionsSent: 0, retransmitsAnswered: 0, cookiesSent: 0, halfOpenDropped: 0, ikeSaInitRequests: 0 };
  private readonly sas = new Map<string, IkeSa>();
  private out: Action[] = [];
  private reconnectAt: number | undefined;
  private backoffMs: number;
  private connecting = false;
  private stopped = false;
  private readonly cookieSecret: Buffer;
  lastError = '';

  constructor(opts: EngineOptions) {
    this.policy = opts.policy;
    this.role = opts.role;
    this.random = opts.random ?? cryptoRandom;
    this.log = opts.log ?? logger('ike');
    this.backoffMs = this.policy.reconnectMinMs;
    this.cookieSecret = this.random(32);
  }

  // ------------------------------------------------------------ shell-facing API

  /** Starts the engine: an initiator asks to connect at once. */
  start(now: number): Action[] {
    if (this.role === 'initiator') this.reconnectAt = now;
    return this.tick(now);
  }

  /** Opens an IKE SA to `remote` (after the shell resolved it). */
  connect(now: number, local: Endpoint, remote: Endpoint): Action[] {
    this.connecting = false;
    if (this.stopped) return this.flush();
    const sa = new IkeSa(true, newSpi(8, this.random), Buffer.alloc(8), local, remote);
    sa.createdAt = now;
    this.sas.set(sa.id, sa);
    this.log.info('connecting', { ike: sa.id, remote: `${remote.address}:${remote.port}` });
    this.initRequest(sa, firstAttempt(this), now);
    return this.flush();
  }

  /** The shell could not resolve or reach the remote: try again later. */
  connectFailed(now: number, reason: string): Action[] {
    this.connecting = false;
    this.lastError = reason;
    this.log.warn('connect-failed', { reason });
    this.event({ type: 'connect-failed', reason });
    this.scheduleReconnect(now);
    return this.flush();
  }

  /** One IKE datagram (non-ESP marker already removed) from `from`, received on local `to`. */
  receive(now: number, data: Buffer, from: Endpoint, to: Endpoint): Action[] {
    let m: DecodedMessage;
    try {
      m = decodeMessage(data);
    } catch (err) {
      this.counters.malformed++;
      this.log.debug('malformed-message', { from: `${from.address}:${from.port}`, reason: (err as Error).message });
      this.answerUnsupportedCritical(err, data, from, to);
      return this.flush();
    }
    const h = m.header;
    if (h.exchangeType === ExchangeType.IKE_SA_INIT && !h.response) {
      this.onInitRequest(now, m, data, from, to);
      return this.flush();
    }
    const sa = this.sas.get(HEX(h.initiator ? h.spiR : h.spiI));
    if (!sa || sa.state === 'dead') {
      this.counters.unknownSpi++;
      this.log.debug('unknown-ike-sa', { spi: HEX(h.initiator ? h.spiR : h.spiI), exchange: ExchangeType[h.exchangeType] });
      return this.flush();
    }
    if (h.response) this.onResponse(now, sa, m, data, from, to);
    else this.onRequest(now, sa, m, from, to);
    return this.flush();
  }

  tick(now: number): Action[] {
    for (const sa of [...this.sas.values()]) this.tickSa(sa, now);
    if (this.reconnectAt !== undefined && now >= this.reconnectAt && !this.connecting && !this.stopped) {
      this.reconnectAt = undefined;
      this.connecting = true;
      this.act({ kind: 'connect-due' });
    }
    return this.flush();
  }

  /** When tick() next has work, or undefined when nothing is scheduled. */
  nextDeadline(): number | undefined {
    let t = this.reconnectAt ?? Infinity;
    for (const sa of this.sas.values()) {
      if (sa.pending) t = Math.min(t, sa.pending.nextRetransmitAt);
      if (!sa.initiator && (sa.state === 'connecting' || sa.state === 'authenticating')) t = Math.min(t, sa.createdAt + this.policy.halfOpenTimeoutMs);
      if (sa.state === 'rekeyed' && sa.retiredAt !== undefined) t = Math.min(t, sa.retiredAt + RETIRED_LINGER_MS);
      if (sa.state !== 'established' || sa.pending) continue;
      t = Math.min(t, sa.rekeyAt);
      if (this.wantsChild(sa)) t = Math.min(t, sa.childRetryAt);
      if (this.policy.dpdSeconds > 0) t = Math.min(t, sa.lastInboundAt + this.policy.dpdSeconds * 1000);
      for (const c of sa.children) t = Math.min(t, c.state === 'installed' ? c.rekeyAt : Infinity, c.state === 'deleting' ? c.expireAt + DELETE_GRACE_MS : c.expireAt);
    }
    return t === Infinity ? undefined : t;
  }

  /** Deletes every IKE SA (telling peers) and stops reconnecting. */
  shutdown(now: number): Action[] {
    this.stopped = true;
    this.reconnectAt = undefined;
    for (const sa of this.sas.values()) {
      if (sa.state === 'established') {
        sa.queue = [];
        sa.pending = undefined;
        deleteIkeSa(this, sa, now, 'shutdown');
      } else {
        this.killIkeSa(sa, 'shutdown', now);
      }
    }
    return this.flush();
  }

  /**
   * RFC 7296 2.4: an authenticated ESP packet proves the peer alive as well as an IKE message
   * does, so dead peer detection waits for silence on both. `lastInboundAt` comes from the data plane.
   */
  noteEspInbound(lastInboundAt: (spiIn: Buffer) => number | undefined): void {
    for (const sa of this.sas.values()) {
      for (const c of sa.children) {
        const at = lastInboundAt(c.spiIn);
        if (at !== undefined && at > sa.lastInboundAt) sa.lastInboundAt = at;
      }
    }
  }

  /** The data plane says a CHILD_SA is running out of sequence numbers: rekey it now. */
  rekeyChildNow(spiIn: Buffer, now: number): Action[] {
    for (const sa of this.sas.values()) {
      const c = sa.child(spiIn);
      if (c && c.state === 'installed') c.rekeyAt = Math.min(c.rekeyAt, now);
    }
    return this.tick(now);
  }

  ikeSas(): IkeSa[] {
    return [...this.sas.values()];
  }

  /** True once an IKE SA with at least one CHILD_SA is up. */
  get up(): boolean {
    return [...this.sas.values()].some((s) => s.state === 'established' && s.children.length > 0);
  }

  // ------------------------------------------------------------ EngineCore

  act(a: Action): void {
    this.out.push(a);
  }

  event(e: IkeEvent): void {
    this.out.push({ kind: 'event', event: e });
  }

  request(sa: IkeSa, now: number, exchange: ExchangeType, label: string, build: () => Payload[] | null,
    onResponse: (payloads: Payload[], header: IkeHeader, now: number, sent: { firstSentAt: number; tries: number }) => void, onTimeout?: (now: number) => void): void {
    sa.queue.push({
      label,
      start: (t) => {
        const payloads = build();
        if (payloads === null) return;
        const id = sa.nextRequestId;
        const header = sa.header(exchange, false, id);
        const datagrams = exchange === ExchangeType.IKE_SA_INIT ? [encodeMessage(header, payloads)] : sa.seal(exchange, false, id, payloads);
        if (exchange === ExchangeType.IKE_SA_INIT) sa.ourInitMessage = datagrams[0]!;
        sa.pending = {
          messageId: id, exchange, datagrams, firstSentAt: t, tries: 0,
          nextRetransmitAt: t + this.policy.retransmit.timeoutMs, onResponse, label,
          onTimeout: onTimeout ?? ((t2) => this.killIkeSa(sa, `no answer to ${label} after ${this.policy.retransmit.tries} retransmissions`, t2)),
        };
        // `msg` is a getter: the logger reads fields only for lines it writes, so messages are
        // described (a string per payload) only at debug level, not in every exchange.
        this.log.debug('send', { ike: sa.id, get msg() { return describeMessage(header, payloads); }, to: `${sa.remote.address}:${sa.remote.port}`, fragments: datagrams.length });
        for (const d of datagrams) this.send(sa, d);
        // The first steps of a connection, for people watching it come up (console progress).
        if (exchange === ExchangeType.IKE_SA_INIT || exchange === ExchangeType.IKE_AUTH) {
          this.event({ type: 'exchange-sent', ikeId: sa.id, exchange: ExchangeType[exchange], detail: `${sa.remote.address}:${sa.remote.port}` });
        }
      },
    });
    this.pump(sa, now);
  }

  installChild(sa: IkeSa, child: ChildSa, keys: ChildSaKeys, weInitiated: boolean, now: number, rekey: boolean): void {
    const alg = aeadByTransform(child.suite.encr.id, child.suite.encr.keyLength)!;
    sa.children.push(child);
    this.act({
      kind: 'install-child',
      child: {
        ikeId: sa.id, spiIn: child.spiIn, spiOut: child.spiOut, aead: alg.name,
        keyIn: weInitiated ? keys.encrR : keys.encrI, keyOut: weInitiated ? keys.encrI : keys.encrR,
        esn: child.suite.esn === EsnId.YES, localTs: child.localTs, remoteTs: child.remoteTs, local: sa.local, remote: sa.remote,
      },
    });
    this.backoffMs = this.policy.reconnectMinMs;
    this.lastError = '';
    const spiIn = HEX(child.spiIn), spiOut = HEX(child.spiOut), localTs = formatSelectors(child.localTs), remoteTs = formatSelectors(child.remoteTs);
    this.event({ type: 'child-up', ikeId: sa.id, spiIn, spiOut, proposal: child.suite.name, localTs, remoteTs, rekey });
    this.log.info(rekey ? 'child-rekeyed' : 'child-up', { ike: sa.id, spi_in: spiIn, spi_out: spiOut, proposal: child.suite.name, local_ts: localTs, remote_ts: remoteTs });
    void now;
  }

  removeChild(sa: IkeSa, child: ChildSa, reason: string): void {
    // An IKE rekey may have moved the CHILD_SA to the new IKE SA while its Delete was in flight.
    if (!sa.children.includes(child)) sa = [...this.sas.values()].find((s) => s.children.includes(child)) ?? sa;
    const i = sa.children.indexOf(child);
    if (i < 0) return;
    sa.children.splice(i, 1);
    this.act({ kind: 'remove-child', spiIn: child.spiIn });
    this.event({ type: 'child-down', ikeId: sa.id, spiIn: HEX(child.spiIn), reason });
    this.log.info('child-down', { ike: sa.id, spi_in: HEX(child.spiIn), reason });
  }

  /** The initiator keeps a CHILD_SA on its IKE SA: one the peer deleted (or let expire) is replaced. */
  private wantsChild(sa: IkeSa): boolean {
    return this.role === 'initiator' && !this.stopped && sa.state === 'established' && !sa.children.some(usableChild);
  }

  killIkeSa(sa: IkeSa, reason: string, now: number): void {
    if (sa.state === 'dead') return;
    const wasRekeyed = sa.state === 'rekeyed';
    sa.state = 'dead';
    sa.pending = undefined;
    sa.queue = [];
    for (const c of [...sa.children]) this.removeChild(sa, c, reason);
    this.sas.delete(sa.id);
    if (!wasRekeyed) {
      this.event({ type: 'ike-down', ikeId: sa.id, reason });
      this.log.info('ike-down', { ike: sa.id, reason });
      if (reason !== 'shutdown' && reason !== 'rekeyed') this.lastError = reason;
    }
    const alive = [...this.sas.values()].some((s) => s.state !== 'dead' && s.state !== 'rekeyed' && s.state !== 'deleting');
    if (this.role === 'initiator' && !alive && !this.stopped && !wasRekeyed) this.scheduleReconnect(now);
  }

  adoptIkeSa(sa: IkeSa): void {
    this.sas.set(sa.id, sa);
  }

  findIkeSa(ourSpi: Buffer): IkeSa | undefined {
    return this.sas.get(HEX(ourSpi));
  }

  otherIkeSas(sa: IkeSa): IkeSa[] {
    return [...this.sas.values()].filter((s) => s !== sa);
  }

  established(sa: IkeSa, now: number): void {
    sa.state = 'established';
    sa.childRetryMs = this.policy.reconnectMinMs;
    sa.establishedAt = now;
    sa.lastInboundAt = now;
    const life = this.policy.ikeLifetimeSeconds * 1000;
    sa.rekeyAt = now + life * ((sa.initiator ? 0.8 : 0.88) + (this.random(1)[0]! / 255) * 0.07);
  }

  // ------------------------------------------------------------ internals

  private flush(): Action[] {
    const a = this.out;
    this.out = [];
    return a;
  }

  private send(sa: IkeSa, data: Buffer): void {
    this.act({ kind: 'send', from: sa.local, to: sa.remote, data });
  }

  private pump(sa: IkeSa, now: number): void {
    while (!sa.pending && sa.queue.length && sa.state !== 'dead') sa.queue.shift()!.start(now);
  }

  private scheduleReconnect(now: number): void {
    if (this.reconnectAt !== undefined || this.connecting) return;
    const jitter = 0.75 + (this.random(1)[0]! / 255) * 0.5;
    this.reconnectAt = now + this.backoffMs * jitter;
    this.log.info('reconnect-scheduled', { in_ms: Math.round(this.backoffMs * jitter) });
    this.backoffMs = Math.min(this.backoffMs * 2, this.policy.reconnectMaxMs);
  }

  private tickSa(sa: IkeSa, now: number): void {
    const p = sa.pending;
    if (p && now >= p.nextRetransmitAt) {
      if (p.tries < this.policy.retransmit.tries) {
        p.tries++;
        p.nextRetransmitAt = now + this.policy.retransmit.timeoutMs * Math.pow(this.policy.retransmit.base, p.tries);
        this.counters.retransmissionsSent++;
        this.log.info('retransmit', { ike: sa.id, request: p.label, try: p.tries });
        for (const d of p.datagrams) this.send(sa, d);
      } else {
        sa.pending = undefined;
        this.log.warn('exchange-timeout', { ike: sa.id, request: p.label, remote: `${sa.remote.address}:${sa.remote.port}` });
        p.onTimeout(now);
        this.pump(sa, now);
      }
      return;
    }
    if (!sa.initiator && (sa.state === 'connecting' || sa.state === 'authenticating') && now >= sa.createdAt + this.policy.halfOpenTimeoutMs) {
      this.log.info('half-open-expired', { ike: sa.id, remote: sa.remote.address });
      sa.state = 'rekeyed'; // silent: a half-open SA was never up
      this.killIkeSa(sa, 'half-open timeout', now);
      return;
    }
    if (sa.state === 'rekeyed' && sa.retiredAt !== undefined && !sa.pending && now >= sa.retiredAt + RETIRED_LINGER_MS) {
      // The peer rekeyed this SA but never deleted it: nothing uses it any more.
      this.killIkeSa(sa, 'rekeyed', now);
      return;
    }
    if (sa.state !== 'established' || sa.pending || sa.queue.length) return;
    for (const c of [...sa.children]) {
      if (now >= c.expireAt && c.state !== 'deleting') {
        deleteChildren(this, sa, [c], now, 'lifetime expired');
        return;
      }
      // Its Delete went on an IKE SA that is gone: the SA is past its life, drop it here.
      if (c.state === 'deleting' && now >= c.expireAt + DELETE_GRACE_MS) this.removeChild(sa, c, 'lifetime expired');
    }
    if (now >= sa.rekeyAt) {
      startIkeRekey(this, sa, now);
      return;
    }
    if (this.wantsChild(sa) && now >= sa.childRetryAt) {
      sa.childRetryAt = now + sa.childRetryMs;
      sa.childRetryMs = Math.min(sa.childRetryMs * 2, this.policy.reconnectMaxMs);
      startChildRekey(this, sa, undefined, now, (ok) => { if (ok) sa.childRetryMs = this.policy.reconnectMinMs; });
      return;
    }
    const due = sa.children.find((c) => c.state === 'installed' && now >= c.rekeyAt);
    if (due) {
      startChildRekey(this, sa, due, now);
      return;
    }
    if (this.policy.dpdSeconds > 0 && now >= sa.lastInboundAt + this.policy.dpdSeconds * 1000) {
      sa.lastInboundAt = now; // one DPD at a time; an answer refreshes it
      startDpd(this, sa, now);
    }
  }

  private initRequest(sa: IkeSa, attempt: InitAttempt, now: number): void {
    sa.nextRequestId = 0;
    this.request(sa, now, ExchangeType.IKE_SA_INIT, 'IKE_SA_INIT', () => buildInitRequest(this, sa, attempt), (res, h, t) => {
      try {
        const o = processInitResponse(this, sa, attempt, res, h.spiI.equals(sa.spiI) ? h.spiR : h.spiR);
        if (o.kind === 'retry') {
          this.log.info('ike-sa-init-retry', { ike: sa.id, reason: o.why });
          this.initRequest(sa, o.attempt, t);
          return;
        }
      } catch (err) {
        this.fail(sa, err, t);
        return;
      }
      // The SA is now known by its final SPIs; its map key (our SPIi) does not change.
      sa.state = 'authenticating';
      this.log.info('ike-sa-init-done', { ike: sa.id, proposal: sa.suite!.name, nat_local: sa.natLocal, nat_remote: sa.natRemote, port: sa.remote.port });
      this.authRequest(sa, t);
    });
  }

  private authRequest(sa: IkeSa, now: number): void {
    let offer: ReturnType<typeof buildAuthRequest>['offer'];
    const initialContact = ![...this.sas.values()].some((s) => s !== sa && s.state === 'established');
    this.request(sa, now, ExchangeType.IKE_AUTH, 'IKE_AUTH', () => {
      const r = buildAuthRequest(this, sa, initialContact);
      offer = r.offer;
      return r.payloads;
    }, (res, _h, t) => {
      try {
        processAuthResponse(this, sa, res);
      } catch (err) {
        this.fail(sa, err, t);
        return;
      }
      this.established(sa, t);
      this.event({ type: 'ike-up', ikeId: sa.id, remote: sa.remote, proposal: sa.suite!.name, natLocal: sa.natLocal, natRemote: sa.natRemote, remoteId: sa.remoteIdText });
      this.log.info('ike-up', { ike: sa.id, remote_id: sa.remoteIdText, proposal: sa.suite!.name });
      try {
        completeChildOffer(this, sa, offer, res, sa.ni, sa.nr, t, false);
      } catch (err) {
        // An IKE SA without its CHILD_SA carries nothing: close it and retry later with backoff.
        this.reportFailure(sa, err);
        deleteIkeSa(this, sa, t, (err as Error).message);
      }
    });
  }

  private fail(sa: IkeSa, err: unknown, now: number): void {
    this.reportFailure(sa, err);
    this.killIkeSa(sa, (err as Error).message, now);
  }

  private reportFailure(sa: IkeSa, err: unknown): void {
    const msg = (err as Error).message;
    if (err instanceof ExchangeError && err.notifyType === NotifyType.AUTHENTICATION_FAILED) {
      this.event({ type: 'auth-failed', ikeId: sa.id, reason: msg });
      this.log.error('auth-failed', { ike: sa.id, reason: msg });
    } else if (err instanceof ExchangeError) {
      this.event({ type: 'negotiation-failed', ikeId: sa.id, notify: NotifyType[err.notifyType] ?? String(err.notifyType), detail: msg });
      this.log.error('negotiation-failed', { ike: sa.id, notify: NotifyType[err.notifyType] ?? err.notifyType, reason: msg });
    } else {
      this.log.error('exchange-failed', { ike: sa.id, reason: msg });
    }
  }

  private onResponse(now: number, sa: IkeSa, m: DecodedMessage, raw: Buffer, from: Endpoint, to: Endpoint): void {
    const p = sa.pending;
    if (!p || p.messageId !== m.header.messageId || p.exchange !== m.header.exchangeType) {
      this.counters.invalidMessageId++;
      return;
    }
    let payloads: Payload[];
    if (m.header.exchangeType === ExchangeType.IKE_SA_INIT) {
      payloads = m.payloads;
      sa.peerInitMessage = raw;
    } else {
      const opened = this.open(sa, m, now);
      if (!opened) return;
      payloads = opened;
      this.noteAuthenticatedSource(sa, from, to);
    }
    this.log.debug('received', { ike: sa.id, get msg() { return describeMessage(m.header, payloads); } });
    sa.lastInboundAt = now;
    sa.pending = undefined;
    sa.nextRequestId++;
    try {
      p.onResponse(payloads, m.header, now, p);
    } catch (err) {
      this.fail(sa, err, now);
    }
    this.pump(sa, now);
  }

  /** Decrypts an SK message, or adds an SKF fragment (null until the message is complete). */
  private open(sa: IkeSa, m: DecodedMessage, now: number): Payload[] | null {
    if (!sa.aeadIn || !m.encrypted || (m.encrypted.kind === 'SKF' && !sa.fragmentation)) {
      this.counters.malformed++;
      return null;
    }
    try {
      if (m.encrypted.kind === 'SKF') {
        this.log.debug('fragment', { ike: sa.id, get msg() { return describeMessage(m.header, [], m.encrypted); } });
        const r = sa.reassembler.add(m, sa.aeadIn, now);
        if (r.kind === 'rejected') this.log.debug('fragment-rejected', { ike: sa.id, reason: r.reason });
        return r.kind === 'complete' ? r.payloads : null;
      }
      return openSk(m, sa.aeadIn);
    } catch (err) {
      if (isIkeDecodeError(err) && err.kind === 'integrity') this.counters.integrityFailures++;
      else this.counters.malformed++;
      this.log.debug('undecryptable', { ike: sa.id, reason: (err as Error).message });
      return null;
    }
  }

  /** RFC 7296 2.23: behind a NAT, follow the peer's address/port as seen in authenticated messages. */
  private noteAuthenticatedSource(sa: IkeSa, from: Endpoint, to: Endpoint): void {
    if (from.address === sa.remote.address && from.port === sa.remote.port) return;
    if (!(sa.natLocal || sa.natRemote) && sa.state === 'established') return;
    this.log.info('peer-moved', { ike: sa.id, from: `${sa.remote.address}:${sa.remote.port}`, to: `${from.address}:${from.port}` });
    sa.remote = { ...from };
    sa.local = { ...sa.local, port: to.port };
    if (sa.children.length) this.act({ kind: 'update-remote', ikeId: sa.id, remote: sa.remote });
  }

  private onRequest(now: number, sa: IkeSa, m: DecodedMessage, from: Endpoint, to: Endpoint): void {
    const id = m.header.messageId;
    if (sa.lastResponse && id === sa.lastResponse.messageId) {
      // A retransmitted request: answer from the cache, never process it twice (RFC 7296 2.1).
      this.counters.retransmitsAnswered++;
      for (const d of sa.lastResponse.datagrams) this.act({ kind: 'send', from: sa.local, to: from, data: d });
      return;
    }
    if (id !== sa.nextPeerRequestId) {
      this.counters.invalidMessageId++;
      this.log.debug('unexpected-message-id', { ike: sa.id, got: id, want: sa.nextPeerRequestId });
      return;
    }
    let payloads = this.open(sa, m, now);
    if (!payloads && m.encrypted?.kind === 'SKF') return; // more fragments to come (or a bad one)
    let answer: { payloads: Payload[]; after?: () => void };
    if (!payloads) {
      if (!this.criticalPayload(sa, m)) return;
      payloads = [];
      answer = { payloads: [notify(NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, Buffer.from([this.criticalPayload(sa, m)!]))] };
    } else {
      this.noteAuthenticatedSource(sa, from, to);
      sa.lastInboundAt = now;
      const got = payloads;
      this.log.debug('received', { ike: sa.id, get msg() { return describeMessage(m.header, got); } });
      answer = this.answer(sa, m.header.exchangeType, got, now);
    }
    const datagrams = sa.seal(m.header.exchangeType, true, id, answer.payloads);
    const answerHeader = sa.header(m.header.exchangeType, true, id), answerPayloads = answer.payloads;
    this.log.debug('send', { ike: sa.id, get msg() { return describeMessage(answerHeader, answerPayloads); }, to: `${from.address}:${from.port}`, fragments: datagrams.length });
    sa.lastResponse = { messageId: id, datagrams };
    sa.nextPeerRequestId++;
    for (const d of datagrams) this.send(sa, d);
    answer.after?.();
    this.pump(sa, now);
  }

  /** The type of an unsupported critical payload inside the SK payload, if that is why it failed. */
  private criticalPayload(sa: IkeSa, m: DecodedMessage): number | undefined {
    try {
      openSk(m, sa.aeadIn!);
    } catch (err) {
      if (isIkeDecodeError(err) && err.notify === NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD) return err.data?.[0];
    }
    return undefined;
  }

  private answer(sa: IkeSa, exchange: ExchangeType, req: Payload[], now: number): { payloads: Payload[]; after?: () => void } {
    try {
      switch (exchange) {
        case ExchangeType.IKE_AUTH:
          return this.answerAuth(sa, req, now);
        case ExchangeType.CREATE_CHILD_SA:
          if (sa.state !== 'established' && sa.state !== 'rekeying') throw new ExchangeError(NotifyType.TEMPORARY_FAILURE, `IKE SA is ${sa.state}`);
          if (req.some((p) => p.type === PayloadType.SA && p.proposals[0]?.protocol === 1)) return { payloads: answerIkeRekey(this, sa, req, now) };
          return { payloads: answerChildExchange(this, sa, req, now) };
        case ExchangeType.INFORMATIONAL: {
          const a = answerInformational(this, sa, req);
          return a.ikeDeleted ? { payloads: a.payloads, after: () => this.killIkeSa(sa, sa.state === 'rekeyed' ? 'rekeyed' : 'deleted by peer', now) } : { payloads: a.payloads };
        }
        default:
          return { payloads: [] };
      }
    } catch (err) {
      if (err instanceof ExchangeError) {
        this.log.warn('request-refused', { ike: sa.id, exchange: ExchangeType[exchange], notify: NotifyType[err.notifyType], reason: err.message });
        return { payloads: [notify(err.notifyType, err.data)] };
      }
      this.log.error('request-failed', { ike: sa.id, exchange: ExchangeType[exchange], reason: (err as Error).message });
      return { payloads: [notify(NotifyType.INVALID_SYNTAX)] };
    }
  }

  private answerAuth(sa: IkeSa, req: Payload[], now: number): { payloads: Payload[]; after?: () => void } {
    if (sa.state !== 'authenticating') throw new ExchangeError(NotifyType.INVALID_SYNTAX, 'IKE_AUTH on an authenticated IKE SA');
    let auth: ReturnType<typeof answerAuthRequest>;
    try {
      auth = answerAuthRequest(this, sa, req);
    } catch (err) {
      this.reportFailure(sa, err);
      return { payloads: [notify(NotifyType.AUTHENTICATION_FAILED)], after: () => { sa.state = 'rekeyed'; this.killIkeSa(sa, (err as Error).message, now); } };
    }
    if (auth.initialContact) {
      // The peer restarted: its old IKE SAs with us are stale (RFC 7296 2.4).
      for (const other of this.otherIkeSas(sa)) {
        if (other.remoteIdText === sa.remoteIdText && other.state !== 'dead') this.killIkeSa(other, 'peer sent INITIAL_CONTACT', now);
      }
    }
    this.established(sa, now);
    this.event({ type: 'ike-up', ikeId: sa.id, remote: sa.remote, proposal: sa.suite!.name, natLocal: sa.natLocal, natRemote: sa.natRemote, remoteId: sa.remoteIdText });
    this.log.info('ike-up', { ike: sa.id, remote_id: sa.remoteIdText, proposal: sa.suite!.name, role: 'responder' });
    let child: Payload[];
    try {
      child = answerChildRequest(this, sa, req, sa.ni, undefined, true, now, false).payloads;
    } catch (err) {
      if (!(err instanceof ExchangeError)) throw err;
      this.reportFailure(sa, err);
      child = [notify(err.notifyType, err.data)];
    }
    return { payloads: [...auth.payloads, ...child] };
  }

  /** An IKE_SA_INIT request with a critical payload we do not know gets UNSUPPORTED_CRITICAL_PAYLOAD (RFC 7296 2.5). */
  private answerUnsupportedCritical(err: unknown, data: Buffer, from: Endpoint, to: Endpoint): void {
    if (!isIkeDecodeError(err) || err.kind !== 'unsupported-critical' || data.length < 28) return;
    const exchange = data[18], flags = data[19]!, messageId = data.readUInt32BE(20);
    if (exchange !== ExchangeType.IKE_SA_INIT || (flags & 0x20) !== 0 || messageId !== 0) return;
    this.act({ kind: 'send', from: to, to: from, data: encodeMessage({ spiI: Buffer.from(data.subarray(0, 8)), spiR: Buffer.alloc(8), exchangeType: ExchangeType.IKE_SA_INIT, initiator: false, response: true, messageId: 0 }, [notify(NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, err.data ?? Buffer.alloc(1))]) });
  }

  private onInitRequest(now: number, m: DecodedMessage, raw: Buffer, from: Endpoint, to: Endpoint): void {
    this.counters.ikeSaInitRequests++;
    const h = m.header;
    // A retransmitted IKE_SA_INIT: the cached answer, not a second SA.
    for (const sa of this.sas.values()) {
      if (!sa.initiator && sa.spiI.equals(h.spiI) && sa.remote.address === from.address && sa.lastResponse?.messageId === 0) {
        this.counters.retransmitsAnswered++;
        for (const d of sa.lastResponse.datagrams) this.act({ kind: 'send', from: to, to: from, data: d });
        return;
      }
    }
    const reply = (payloads: Payload[]) => this.act({ kind: 'send', from: to, to: from, data: encodeMessage({ spiI: h.spiI, spiR: Buffer.alloc(8), exchangeType: ExchangeType.IKE_SA_INIT, initiator: false, response: true, messageId: 0 }, payloads) });
    const halfOpen = [...this.sas.values()].filter((s) => !s.initiator && (s.state === 'connecting' || s.state === 'authenticating')).length;
    if (halfOpen >= this.policy.halfOpenMax) {
      this.counters.halfOpenDropped++;
      return;
    }
    if (halfOpen >= this.policy.cookieThreshold) {
      const nonce = m.payloads.find((p) => p.type === PayloadType.NONCE);
      const expected = nonce && makeCookie(this.cookieSecret, 0, (nonce as { data: Buffer }).data, from, h.spiI);
      const got = notifyOf(m.payloads, NotifyType.COOKIE);
      if (!expected || !got || !got.data.equals(expected)) {
        this.counters.cookiesSent++;
        if (expected) reply([notify(NotifyType.COOKIE, expected)]);
        return;
      }
    }
    const a = answerInitRequest(this, { spiI: h.spiI, raw, payloads: m.payloads, from, to });
    if (a.kind === 'reject') {
      this.log.warn('ike-sa-init-refused', { from: from.address, reason: a.reason });
      reply(a.payloads);
      return;
    }
    const sa = a.sa;
    sa.createdAt = now;
    sa.lastInboundAt = now;
    const data = encodeMessage(sa.header(ExchangeType.IKE_SA_INIT, true, 0), a.payloads);
    sa.ourInitMessage = data;
    sa.state = 'authenticating';
    sa.nextPeerRequestId = 1;
    sa.lastResponse = { messageId: 0, datagrams: [data] };
    this.sas.set(sa.id, sa);
    this.log.info('ike-sa-init-answered', { ike: sa.id, from: `${from.address}:${from.port}`, proposal: sa.suite!.name });
    this.send(sa, data);
  }
}
