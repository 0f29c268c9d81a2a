// Time for the console, injectable: PIN back-off, commit-confirmed deadlines, idle logout and
// progress timeouts all go through a Clock so tests can move time without waiting.

export interface Timer {
  readonly handle: unknown;
}

export interface Clock {
  /** Wall-clock milliseconds (persisted deadlines use it). */
  now(): number;
  setTimer(fn: () => void, ms: number): Timer;
  clearTimer(t: Timer | undefined): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const h = setTimeout(fn, Math.max(0, Math.min(ms, 0x7fffffff)));
    return { handle: h };
  },
  clearTimer(t) {
    if (t) clearTimeout(t.handle as NodeJS.Timeout);
  },
};
