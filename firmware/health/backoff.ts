// Reconnect delays for the broker link: exponential from `minMs` to `maxMs`, each delay drawn
// at random from its upper half ("equal jitter"), so a fleet that lost its broker at the same
// moment does not come back in lockstep, yet no box retries sooner than half the step.

export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  /** Growth per failed attempt; default 2. */
  factor?: number;
  /** Uniform in [0, 1); injectable so tests are deterministic. */
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 1000, maxMs: 60_000 };

export class Backoff {
  private step: number;
  private readonly factor: number;
  private readonly random: () => number;

  constructor(private readonly opts: BackoffOptions = DEFAULT_BACKOFF) {
    if (!(opts.minMs > 0) || !(opts.maxMs >= opts.minMs)) throw new RangeError('backoff needs 0 < minMs <= maxMs');
    this.step = opts.minMs;
    this.factor = opts.factor ?? 2;
    this.random = opts.random ?? Math.random;
  }

  /** The delay before the next attempt; each call widens the step until maxMs. */
  next(): number {
    const step = this.step;
    this.step = Math.min(this.opts.maxMs, step * this.factor);
    return Math.round(step / 2 + this.random() * (step / 2));
  }

  /** After a connection that worked: start again from minMs. */
  reset(): void {
    this.step = this.opts.minMs;
  }
}
