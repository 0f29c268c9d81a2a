// The liveness check behind the watchdog: the event loop keeps up (its worst delay since the last
// check is bounded) and the tunnel manager ticks (the IKE engine's next timer is not long overdue).
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface LivenessOptions {
  /** How overdue the engine's next deadline is, in ms (Daemon.tunnelOverdueMs). */
  tunnelOverdueMs: () => number;
  /** Worst event-loop delay tolerated between two checks. Default 5000 ms. */
  maxLoopDelayMs?: number;
  /** Default 30000 ms. */
  maxTunnelOverdueMs?: number;
  /** For tests: the worst loop delay since the last call, in ms. Default: a perf_hooks histogram. */
  loopDelayMs?: () => number;
}

export class Liveness {
  private readonly histogram?: IntervalHistogram;
  private readonly loopDelay: () => number;

  constructor(private readonly opts: LivenessOptions) {
    if (opts.loopDelayMs) {
      this.loopDelay = opts.loopDelayMs;
    } else {
      const h = monitorEventLoopDelay({ resolution: 20 });
      h.enable();
      this.histogram = h;
      this.loopDelay = () => {
        const ms = h.max / 1e6;
        h.reset();
        return Number.isFinite(ms) ? ms : 0;
      };
    }
  }

  /** null when healthy, else the reason. Each call starts a new loop-delay window. */
  check(): string | null {
    const delay = this.loopDelay();
    const maxDelay = this.opts.maxLoopDelayMs ?? 5000;
    if (delay > maxDelay) return `event loop delayed ${Math.round(delay)} ms (limit ${maxDelay} ms)`;
    const overdue = this.opts.tunnelOverdueMs();
    const maxOverdue = this.opts.maxTunnelOverdueMs ?? 30_000;
    if (overdue > maxOverdue) return `tunnel manager timer overdue by ${Math.round(overdue / 1000)} s (limit ${maxOverdue / 1000} s)`;
    return null;
  }

  close(): void {
    this.histogram?.disable();
  }
}
