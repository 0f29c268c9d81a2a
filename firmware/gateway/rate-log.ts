// Warnings that could repeat per packet (send failures, TUN write errors) are logged at a rate
// limit: the first of each key at once, then at most one per interval carrying how many were held back.
import type { Logger } from '../log.ts';

/** Distinct keys remembered at most; keys are error codes, so this is only a safety bound. */
const MAX_KEYS = 64;

/** Logs the first event of each key, then at most one summary per interval with the count suppressed. */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  constructor(private readonly log: Logger, private readonly intervalMs = 10_000, private readonly now: () => number = Date.now) {}
  warn(key: string, event: string, fields: Record<string, unknown>): void {
    const t = this.now();
    const s = this.last.get(key);
    if (s && t - s.at < this.intervalMs) { s.suppressed++; return; }
    if (!s && this.last.size >= MAX_KEYS) this.last.clear();
    this.log.warn(event, s && s.suppressed > 0 ? { ...fields, suppressed: s.suppressed } : fields);
    this.last.set(key, { at: t, suppressed: 0 });
  }
}

