// What the technician watches after a commit: the tunnel coming up step by step, or the step
// that failed and why. Driven by the daemon's events (the IKE engine's IkeEvents), with the
// status model polled for what has no event (the first IKE_SA_INIT, a peer that cannot be
// reached). Steps: resolve HQ -> IKE_SA_INIT sent -> authenticated -> CHILD_SA up -> probe
// across the tunnel -> MQTT connected (when health reporting is configured).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ResolvedConfig } from '../firmware/config/schema.ts';
import { isResponder } from '../firmware/config/schema.ts';
import type { HealthLinkStatus, StatusModel } from '../firmware/cli/status-model.ts';
import { printable } from '../firmware/cli/status-text.ts';
import type { DaemonEvent } from '../firmware/daemon.ts';
import type { IkeEvent } from '../firmware/ike/actions.ts';
import type { Clock, Timer } from './clock.ts';
import { firstHost, pingProbe } from './probe.ts';

export type StepId = 'resolve' | 'ike-init' | 'auth' | 'child' | 'probe' | 'health';
export type StepState = 'running' | 'ok' | 'failed' | 'skipped';
export const STEP_ORDER: readonly StepId[] = ['resolve', 'ike-init', 'auth', 'child', 'probe', 'health'];

export interface ProgressUpdate {
  step: StepId;
  state: StepState;
  message: string;
}

export interface ProgressResult {
  /** No step failed. */
  ok: boolean;
  /** The CHILD_SA came up. */
  tunnelUp: boolean;
  /** Following was stopped (Ctrl-C, the line closed, a newer commit); the tunnel carries on. */
  cancelled: boolean;
  /** The last update of each step that ran, in order. */
  steps: ProgressUpdate[];
  message: string;
}

/** The part of the daemon progress needs (firmware/daemon.ts's Daemon has it). */
export interface ProgressDaemon {
  readonly config: ResolvedConfig;
  status(): StatusModel;
  healthStatus(): HealthLinkStatus;
  on(event: 'event', fn: (e: DaemonEvent) => void): unknown;
  off(event: 'event', fn: (e: DaemonEvent) => void): unknown;
}

export interface ProgressOptions {
  clock: Clock;
  /** Resolves HQ's name (default: dns.lookup, IPv4 as the tunnel does). */
  resolve?: (host: string) => Promise<string>;
  /** Pings dst from src across the tunnel (default: iputils ping). */
  probe?: (src: string, dst: string) => Promise<boolean>;
  /** Bound for resolve + IKE + CHILD_SA. */
  timeoutMs?: number;
  /** Bound for the MQTT connection once the tunnel is up. */
  healthTimeoutMs?: number;
  pollMs?: number;
  resolveTimeoutMs?: number;
}

export const DEFAULT_PROGRESS_TIMEOUT_MS = 90_000;
export const DEFAULT_HEALTH_TIMEOUT_MS = 30_000;

const TUNNEL_STEPS: StepId[] = ['ike-init', 'auth', 'child'];

export class ProgressTracker {
  private readonly events: DaemonEvent[] = [];
  private waiter: (() => void) | undefined;
  private timer: Timer | undefined;
  private readonly last = new Map<StepId, ProgressUpdate>();
  private cancelled: string | undefined;
  private restarted = false;
  private applied = false;
  private readonly listener = (e: DaemonEvent) => { this.events.push(e); if (this.events.length > 1000) this.events.shift(); this.wake(); };

  constructor(private readonly daemon: ProgressDaemon, private readonly opts: ProgressOptions, private readonly onUpdate: (u: ProgressUpdate) => void) {}

  /**
   * Starts listening. Call before daemon.applyConfig when the tunnel is about to restart
   * (restarted: true): tunnel events before the 'config-applied' event belong to the old one.
   */
  attach(restarted: boolean): this {
    this.restarted = restarted;
    this.applied = !restarted;
    this.daemon.on('event', this.listener);
    return this;
  }

  /** Stops listening without running (the commit it was attached for failed). */
  detach(): void {
    this.daemon.off('event', this.listener);
  }

  cancel(reason: string): void {
    this.cancelled = reason;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    this.opts.clock.clearTimer(this.timer);
    this.timer = undefined;
    w?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.timer = this.opts.clock.setTimer(() => this.wake(), Math.max(1, ms));
    });
  }

  private update(step: StepId, state: StepState, message: string): void {
    const u = { step, state, message: printable(message) };
    this.last.set(step, u);
    this.onUpdate(u);
  }

  private done(step: StepId): boolean {
    const s = this.last.get(step)?.state;
    return s === 'ok' || s === 'skipped';
  }

  private result(message: string): ProgressResult {
    const steps = STEP_ORDER.map((s) => this.last.get(s)).filter((u): u is ProgressUpdate => u !== undefined);
    return {
      ok: !steps.some((s) => s.state === 'failed') && this.cancelled === undefined,
      tunnelUp: this.last.get('child')?.state === 'ok',
      cancelled: this.cancelled !== undefined,
      steps,
      message,
    };
  }

  async run(): Promise<ProgressResult> {
    try {
      return await this.runSteps();
    } finally {
      this.daemon.off('event', this.listener);
      this.opts.clock.clearTimer(this.timer);
    }
  }

  private async runSteps(): Promise<ProgressResult> {
    const cfg = this.daemon.config;
    const clock = this.opts.clock;
    const deadline = clock.now() + (this.opts.timeoutMs ?? DEFAULT_PROGRESS_TIMEOUT_MS);

    // 1. HQ's address.
    const remote = cfg.tunnel.remote;
    if (isResponder(cfg)) {
      this.update('resolve', 'skipped', 'this box is the responder (tunnel.remote is %any): HQ connects to it');
    } else if (isIP(remote)) {
      this.update('resolve', 'ok', `HQ is ${remote}`);
    } else {
      this.update('resolve', 'running', `resolving HQ's name ${remote}`);
      const r = await this.resolveHq(remote);
      if (this.cancelled) return this.result(this.cancelled);
      if (!r.ok) {
        this.update('resolve', 'failed', `cannot resolve ${remote}: ${r.reason}`);
        return this.result(`HQ's name ${remote} does not resolve`);
      }
      this.update('resolve', 'ok', `${remote} is ${r.address}`);
    }

    // 2-4. IKE_SA_INIT, IKE_AUTH, CHILD_SA.
    const st0 = this.daemon.status();
    if (!this.restarted && st0.tunnel.state === 'up' && st0.tunnel.childSas.length > 0) {
      this.alreadyUp(st0);
    } else {
      const firstError = this.restarted ? null : st0.tunnel.lastError?.message ?? null;
      this.update('ike-init', 'running', isResponder(cfg) ? 'waiting for HQ to connect' : 'starting IKE');
      for (;;) {
        if (this.cancelled) return this.result(this.cancelled);
        const failed = this.takeEvents();
        if (failed) return failed;
        if (this.done('child')) break;
        if (this.applied) {
          const st = this.daemon.status();
          if (!this.done('ike-init') && !isResponder(cfg) && (st.tunnel.state === 'connecting' || st.tunnel.state === 'up') && st.tunnel.remote) {
            this.initSent(`${st.tunnel.remote.address}:${st.tunnel.remote.port}`);
          }
          const err = st.tunnel.lastError?.message ?? null;
          if (st.tunnel.state === 'down' && err !== null && err !== firstError) {
            return this.fail(err);
          }
        }
        const left = deadline - clock.now();
        if (left <= 0) {
          const err = this.daemon.status().tunnel.lastError?.message;
          const secs = Math.round((this.opts.timeoutMs ?? DEFAULT_PROGRESS_TIMEOUT_MS) / 1000);
          return this.fail(`no result within ${secs} s${err ? `; last error: ${err}` : isResponder(cfg) ? '; HQ has not connected' : '; HQ does not answer (is UDP 500/4500 to HQ open?)'}`);
        }
        await this.sleep(Math.min(left, this.opts.pollMs ?? 500));
      }
    }

    // 5. A ping across the tunnel.
    await this.probeStep(cfg);
    if (this.cancelled) return this.result(this.cancelled);

    // 6. The fleet broker.
    if (!cfg.health) {
      this.update('health', 'skipped', 'health reporting is not configured (no health.broker)');
    } else {
      const broker = cfg.health.broker;
      this.update('health', 'running', `connecting to the fleet broker ${broker}`);
      const until = clock.now() + (this.opts.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS);
      for (;;) {
        if (this.cancelled) return this.result(this.cancelled);
        if (this.daemon.healthStatus().connected) { this.update('health', 'ok', `MQTT connected to ${broker}`); break; }
        const left = until - clock.now();
        if (left <= 0) {
          this.update('health', 'failed', `not connected to ${broker} after ${Math.round((this.opts.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS) / 1000)} s (check the broker address, credentials and that the tunnel or WAN reaches it)`);
          return this.result('the tunnel is up but the fleet broker is not connected');
        }
        await this.sleep(Math.min(left, this.opts.pollMs ?? 500));
      }
    }
    return this.result('the tunnel is up');
  }

  private async resolveHq(host: string): Promise<{ ok: true; address: string } | { ok: false; reason: string }> {
    const resolve = this.opts.resolve ?? (async (h: string) => (await lookup(h, { family: 4 })).address);
    const bound = this.opts.resolveTimeoutMs ?? 10_000;
    let timer: Timer | undefined;
    try {
      const address = await Promise.race([
        resolve(host),
        new Promise<never>((_, reject) => { timer = this.opts.clock.setTimer(() => reject(new Error(`no answer within ${Math.round(bound / 1000)} s`)), bound); }),
      ]);
      return { ok: true, address };
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      return { ok: false, reason: err.code === 'ENOTFOUND' ? 'no such name (ENOTFOUND)' : err.code ?? err.message };
    } finally {
      this.opts.clock.clearTimer(timer);
    }
  }

  private alreadyUp(st: StatusModel): void {
    const t = st.tunnel;
    this.update('ike-init', 'ok', `tunnel already established with ${t.remote ? `${t.remote.address}:${t.remote.port}` : 'HQ'}`);
    this.update('auth', 'ok', `authenticated: HQ is "${t.ikeSa?.remoteId ?? '?'}", ${t.ikeSa?.algorithms ?? '?'}`);
    const c = t.childSas[0]!;
    this.update('child', 'ok', `CHILD_SA up: ${c.localTs.join(',')} === ${c.remoteTs.join(',')}, ${c.algorithms}`);
  }

  private initSent(to: string): void {
    this.update('ike-init', 'ok', `IKE_SA_INIT sent to ${to}`);
    this.update('auth', 'running', 'waiting for HQ to answer and authenticate');
  }

  private current(): StepId {
    return TUNNEL_STEPS.find((s) => !this.done(s)) ?? 'child';
  }

  private fail(message: string, step = this.current()): ProgressResult {
    this.update(step, 'failed', message);
    return this.result(`${step} failed: ${message}`);
  }

  /** Applies queued daemon events; returns the result if one ends the run. */
  private takeEvents(): ProgressResult | undefined {
    while (this.events.length) {
      const e = this.events.shift()!;
      if (e.type === 'config-applied') { this.applied = true; continue; }
      if (e.type !== 'tunnel' || !this.applied) continue; // before config-applied: the old tunnel going down
      const r = this.onIke(e.event);
      if (r) return r;
    }
    return undefined;
  }

  private onIke(e: IkeEvent): ProgressResult | undefined {
    switch (e.type) {
      case 'exchange-sent':
        if (e.exchange === 'IKE_SA_INIT' && !this.done('ike-init')) this.initSent(e.detail || 'HQ');
        return undefined;
      case 'ike-up': {
        if (!this.done('ike-init')) this.update('ike-init', 'ok', `IKE_SA_INIT done with ${e.remote.address}:${e.remote.port}`);
        const nat = e.natLocal ? ' (this box is behind NAT)' : '';
        this.update('auth', 'ok', `authenticated: HQ is "${e.remoteId}", ${e.proposal}${nat}`);
        this.update('child', 'running', 'waiting for the CHILD_SA');
        return undefined;
      }
      case 'child-up':
        if (!e.rekey && !this.done('child')) {
          if (!this.done('auth')) this.update('auth', 'ok', 'authenticated');
          this.update('child', 'ok', `CHILD_SA up: ${e.localTs} === ${e.remoteTs}, ${e.proposal}`);
        }
        return undefined;
      case 'auth-failed':
        return this.fail(`authentication failed: ${e.reason}`, 'auth');
      case 'negotiation-failed':
        return this.fail(`${e.notify}: ${e.detail}`);
      case 'ike-down':
        return this.done('child') ? undefined : this.fail(`the IKE SA closed: ${e.reason}`);
      case 'dpd-timeout':
        return this.done('child') ? undefined : this.fail('HQ stopped answering (dead peer detection)');
      default:
        return undefined;
    }
  }

  private async probeStep(cfg: ResolvedConfig): Promise<void> {
    const subnet = cfg.tunnel.remoteSubnets[0];
    const dst = subnet ? firstHost(subnet) : undefined;
    const src = cfg.lan.address.split('/')[0]!;
    if (!dst) {
      this.update('probe', 'skipped', 'no remote subnet to probe');
      return;
    }
    this.update('probe', 'running', `pinging ${dst} from ${src} through the tunnel`);
    let answered = false;
    try {
      answered = await (this.opts.probe ?? pingProbe)(src, dst);
    } catch {
      answered = false;
    }
    if (answered) this.update('probe', 'ok', `${dst} answered a ping from ${src} through the tunnel`);
    else this.update('probe', 'skipped', `no answer from ${dst} (that host may not answer pings; the tunnel itself is up)`);
  }
}
