// Traffic counters that only grow. The data plane counts per CHILD_SA, and a rekey replaces the
// SA with a fresh one whose counters start at zero; a dashboard wants "bytes through the tunnel"
// to be monotonic. This folds each SA's counters into running totals by SPI: what an SA counted
// stays in the total after it is gone (traffic between the last sample and its deletion, at
// most one health interval of it, is not seen).
import type { ChildSaStatus } from '../cli/status-model.ts';

export interface TrafficTotals {
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  drops: Record<string, number>;
}

type Sample = Pick<ChildSaStatus, 'spiIn' | 'bytesIn' | 'bytesOut' | 'packetsIn' | 'packetsOut' | 'drops'>;

const FIELDS = ['bytesIn', 'bytesOut', 'packetsIn', 'packetsOut'] as const;
/** Bounds the number of distinct drop reasons kept (they come from our own data plane, but still). */
const MAX_REASONS = 32;

export class TrafficAccumulator {
  private readonly closed: TrafficTotals = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, drops: {} };
  private live = new Map<string, Sample>();

  /** Takes the current SAs and returns the totals since this accumulator was created. */
  update(children: readonly Sample[]): TrafficTotals {
    const next = new Map<string, Sample>();
    for (const c of children) {
      const prev = this.live.get(c.spiIn);
      // Counters that went backwards mean a new SA reused the SPI: bank the old one.
      if (prev && FIELDS.some((f) => c[f] < prev[f])) this.bank(prev);
      next.set(c.spiIn, c);
    }
    for (const [spi, prev] of this.live) if (!next.has(spi)) this.bank(prev);
    this.live = next;
    const out: TrafficTotals = { ...this.closed, drops: { ...this.closed.drops } };
    for (const c of next.values()) {
      for (const f of FIELDS) out[f] += c[f];
      addDrops(out.drops, c.drops);
    }
    return out;
  }

  private bank(s: Sample): void {
    for (const f of FIELDS) this.closed[f] += s[f];
    addDrops(this.closed.drops, s.drops);
    this.live.delete(s.spiIn);
  }
}

function addDrops(into: Record<string, number>, from: Record<string, number> | undefined): void {
  for (const [reason, n] of Object.entries(from ?? {})) {
    if (!(n > 0) || reason === '__proto__') continue;
    const known = Object.hasOwn(into, reason);
    if (!known && Object.keys(into).length >= MAX_REASONS) continue;
    into[reason] = (known ? into[reason]! : 0) + n;
  }
}
