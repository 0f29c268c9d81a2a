// The board around the daemon: which board this is (profiles.ts), the LAN side (lan.ts), the
// status LEDs (leds.ts) showing, among others, whether the WAN is up (wan.ts), and the hardware
// watchdog fed while the liveness check passes (watchdog.ts, liveness.ts). main.ts opens it
// before the daemon starts and attaches it after.
import type { StatusModel } from '../firmware/cli/status-model.ts';
import type { ResolvedConfig } from '../firmware/config/schema.ts';
import type { DaemonEvent } from '../firmware/daemon.ts';
import type { IkeEvent } from '../firmware/ike/actions.ts';
import { logger, type Logger } from '../firmware/log.ts';
import { setupLan, type LanOptions } from './lan.ts';
import { Leds, type LedState } from './leds.ts';
import { Liveness } from './liveness.ts';
import { resolveBoard, type ResolvedBoard } from './profiles.ts';
import { Watchdog } from './watchdog.ts';
import { wanUp } from './wan.ts';

export { PROFILES, profileForModel, resolveBoard, type BoardProfile, type ResolvedBoard } from './profiles.ts';
export type { LedState } from './leds.ts';

/** What the board needs of the daemon (firmware/daemon.ts's Daemon fits). */
export interface BoardDaemon {
  status(): StatusModel;
  tunnelOverdueMs(): number;
}

export interface BoardOptions {
  /** Where to look instead of the real files (tests use a temp dir). */
  paths?: { deviceTreeModel?: string; leds?: string; procSys?: string; procNet?: string; sysClassNet?: string };
  /**
   * The hardware watchdog: undefined, '' or '0' leave it alone (a development machine), '1' uses
   * the profile's device, a path uses that device. The systemd unit sets OUTPOST_WATCHDOG=1.
   */
  watchdog?: string;
  watchdogIntervalMs?: number;
  /** How often LEDs follow the state. Default 2000 ms. */
  pollMs?: number;
  /** How prepareLan runs `ip` (tests use a fake one). */
  ip?: LanOptions['ip'];
  log?: Logger;
}

/** The LED state for a status: tunnel up; else fault when the WAN is down or the last attempt failed; else WAN up. */
export function ledStateFor(status: StatusModel, wanUp: boolean): LedState {
  if (status.tunnel.state === 'up') return 'tunnel-up';
  if (!wanUp || status.tunnel.lastError !== null) return 'fault';
  return 'wan-up';
}

export class Board {
  private readonly log: Logger;
  private watchdog?: Watchdog;
  private liveness?: Liveness;
  private poll: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(readonly board: ResolvedBoard, readonly leds: Leds, private config: ResolvedConfig, private readonly opts: BoardOptions) {
    this.log = opts.log ?? logger('board');
  }

  /** Finds out the board and shows "booting". Never throws for missing hardware. */
  static async open(config: ResolvedConfig, opts: BoardOptions = {}): Promise<Board> {
    const log = opts.log ?? logger('board');
    const board = await resolveBoard(config.board?.profile, opts.paths?.deviceTreeModel);
    log.info('board', { profile: board.profile.id, name: board.profile.name, model: board.model ?? 'none', source: board.source });
    const leds = Leds.open(board.profile, { dir: opts.paths?.leds, log: log.child('leds') });
    leds.set('booting');
    return new Board(board, leds, config, opts);
  }

  get profile() { return this.board.profile; }

  /** Addresses the LAN and enables forwarding (Daemon.beforeTunnel). */
  async prepareLan(config: ResolvedConfig): Promise<void> {
    this.config = config;
    const r = await setupLan(config, { procSys: this.opts.paths?.procSys, ip: this.opts.ip, log: this.log.child('lan') });
    if (r.problems.length) this.leds.set('fault');
  }

  /**
   * Starts the watchdog (if enabled) and the LED display for a running daemon. The LEDs first
   * follow the daemon once `firstUpdate` resolves (main.ts: when the first exchange has ended),
   * so their polling does not run on the event loop during that exchange; "booting" until then.
   */
  attach(daemon: BoardDaemon, opts: { firstUpdate?: Promise<unknown> } = {}): void {
    const wd = this.opts.watchdog;
    if (wd && wd !== '0') {
      const liveness = new Liveness({ tunnelOverdueMs: () => daemon.tunnelOverdueMs() });
      this.liveness = liveness;
      this.watchdog = Watchdog.open({
        device: wd === '1' ? this.profile.watchdogDevice : wd, check: () => liveness.check(),
        ...(this.opts.watchdogIntervalMs ? { intervalMs: this.opts.watchdogIntervalMs } : {}), log: this.log.child('watchdog'),
      });
    } else {
      this.log.info('watchdog-off', { note: 'set OUTPOST_WATCHDOG=1 (the systemd unit does) to feed the hardware watchdog' });
    }
    const update = async () => {
      try {
        const st = daemon.status();
        const wan = st.tunnel.state === 'up' ? true : await this.wanUp();
        if (!this.closed) this.leds.set(ledStateFor(st, wan));
      } catch (e) {
        this.log.debug('led-update-failed', { reason: (e as Error).message });
      }
    };
    const begin = () => {
      if (this.closed) return;
      void update();
      this.poll = setInterval(() => void update(), this.opts.pollMs ?? 2000);
      this.poll.unref();
    };
    if (opts.firstUpdate) void opts.firstUpdate.then(begin, begin);
    else begin();
  }

  /** The WAN has a route to HQ over an interface that is up (a responder waits: up by definition). See wan.ts. */
  wanUp(): Promise<boolean> {
    return wanUp(this.config.tunnel.remote, { procNet: this.opts.paths?.procNet, sysClassNet: this.opts.paths?.sysClassNet });
  }

  /** Clean exit: disarms the watchdog (magic close) and gives the LEDs back. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.poll);
    this.watchdog?.close();
    this.liveness?.close();
    this.leds.close();
  }
}

/** What firstExchangeSettled watches: a Daemon. */
export interface ExchangeSource {
  readonly config: { tunnel: { remote: string } };
  on(ev: 'event', fn: (e: DaemonEvent) => void): unknown;
  off(ev: 'event', fn: (e: DaemonEvent) => void): unknown;
}

/** Tunnel events that end a connection attempt, well or badly. */
const ATTEMPT_OVER = new Set(['child-up', 'auth-failed', 'negotiation-failed', 'connect-failed', 'ike-down']);

/**
 * Resolves once the daemon's first exchange has ended (CHILD_SA up, or the attempt failed) with
 * the tunnel event that ended it, or with undefined after `capMs` (and at once for a responder).
 * Call it right after the daemon has started (the exchange is on its way then). The rest of
 * start-up (LED polling, the health link, the console) waits for it so that it does not share the
 * event loop with the exchange (docs/performance.md, Setup time).
 */
export function firstExchangeSettled(daemon: ExchangeSource, capMs = 1000): Promise<IkeEvent | undefined> {
  if (daemon.config.tunnel.remote === '%any') return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const done = (e?: IkeEvent) => { clearTimeout(timer); daemon.off('event', onEvent); resolve(e); };
    const onEvent = (e: DaemonEvent) => { if (e.type === 'tunnel' && ATTEMPT_OVER.has(e.event.type)) done(e.event); };
    const timer = setTimeout(done, capMs);
    timer.unref();
    daemon.on('event', onEvent);
  });
}
