// NAT keepalives (RFC 3948 2.3): while the IKE engine says we are behind a NAT, send a one-byte
// 0xFF datagram to each such peer every `intervalMs` so the NAT keeps the 4500 mapping open.
// One timer for all peers; it runs only while at least one peer needs keepalives.
import type { Endpoint } from '../ike/actions.ts';

export const DEFAULT_KEEPALIVE_MS = 20_000;

/** setInterval/clearInterval, injectable so tests drive the ticks. */
export interface IntervalTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

const realTimers: IntervalTimers = {
  setInterval: (fn, ms) => {
    const h = setInterval(fn, ms);
    h.unref(); // keepalives alone must not keep the process alive
    return h;
  },
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};

export interface NatKeepaliveOptions {
  intervalMs?: number;
  timers?: IntervalTimers;
}

export class NatKeepalive {
  private readonly peers = new Map<string, Endpoint>();
  private readonly intervalMs: number;
  private readonly timers: IntervalTimers;
  private handle: unknown = undefined;

  constructor(private readonly send: (to: Endpoint) => void, opts: NatKeepaliveOptions = {}) {
    this.intervalMs = opts.intervalMs ?? DEFAULT_KEEPALIVE_MS;
    if (!Number.isFinite(this.intervalMs) || this.intervalMs < 1) throw new RangeError('keepalive interval must be >= 1 ms');
    this.timers = opts.timers ?? realTimers;
  }

  /** Keepalives to `remote` for this IKE SA when `behindNat`, none otherwise. Call again on a new remote. */
  set(ikeId: string, remote: Endpoint, behindNat: boolean): void {
    if (behindNat) this.peers.set(ikeId, { address: remote.address, port: remote.port });
    else this.peers.delete(ikeId);
    this.arm();
  }

  /** Follows a NAT mapping change for an IKE SA that already gets keepalives. */
  updateRemote(ikeId: string, remote: Endpoint): void {
    if (this.peers.has(ikeId)) this.peers.set(ikeId, { address: remote.address, port: remote.port });
  }

  remove(ikeId: string): void {
    this.peers.delete(ikeId);
    this.arm();
  }

  /** The endpoints that currently get keepalives (for status). */
  targets(): Endpoint[] {
    return [...this.peers.values()].map((e) => ({ ...e }));
  }

  close(): void {
    this.peers.clear();
    this.arm();
  }

  private tick = (): void => {
    for (const to of this.peers.values()) this.send(to);
  };

  private arm(): void {
    if (this.peers.size > 0 && this.handle === undefined) {
      this.handle = this.timers.setInterval(this.tick, this.intervalMs);
    } else if (this.peers.size === 0 && this.handle !== undefined) {
      this.timers.clearInterval(this.handle);
      this.handle = undefined;
    }
  }
}
