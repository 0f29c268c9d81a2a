// The board's LEDs as a state display (sysfs: /sys/class/leds/NAME/{trigger,brightness,
// delay_on,delay_off}). Activity (green) and power (red) LEDs, where the profile has them:
//
//   booting    green blinks fast, red on
//   wan-up     green blinks slowly (WAN has a route to HQ, the tunnel is not up yet)
//   tunnel-up  green steady, red on
//   fault      green off, red blinks (WAN down, authentication failed, no proposal, ...)
//
// On a machine without them (or without permission) it logs once and does nothing. The
// triggers found at start are put back on close, so the Pi's own SD-card activity display returns.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { logger, type Logger } from '../firmware/log.ts';
import type { BoardProfile } from './profiles.ts';

export type LedState = 'booting' | 'wan-up' | 'tunnel-up' | 'fault';

type Pattern = { kind: 'on' } | { kind: 'off' } | { kind: 'blink'; onMs: number; offMs: number };

const ON: Pattern = { kind: 'on' };
const OFF: Pattern = { kind: 'off' };
const blink = (onMs: number, offMs: number): Pattern => ({ kind: 'blink', onMs, offMs });

/** What each LED shows per state: [activity, power]. */
export const LED_PATTERNS: Readonly<Record<LedState, readonly [Pattern, Pattern]>> = {
  booting: [blink(100, 100), ON],
  'wan-up': [blink(500, 1500), ON],
  'tunnel-up': [ON, ON],
  fault: [OFF, blink(250, 250)],
};

interface Led {
  name: string;
  dir: string;
  max: number;
  /** The trigger active when we took the LED over. */
  savedTrigger: string | null;
}

export interface LedsOptions {
  /** Default /sys/class/leds. */
  dir?: string;
  log?: Logger;
}

export class Leds {
  private readonly log: Logger;
  private leds: Array<Led | null>;
  private current: LedState | null = null;
  private failed = false;

  private constructor(leds: Array<Led | null>, log: Logger) {
    this.leds = leds;
    this.log = log;
  }

  /** Finds the profile's LEDs; logs what it found (or that there are none). Never throws. */
  static open(profile: BoardProfile, opts: LedsOptions = {}): Leds {
    const log = opts.log ?? logger('board.leds');
    const dir = opts.dir ?? '/sys/class/leds';
    const find = (names: readonly string[]): Led | null => {
      for (const name of names) {
        const d = join(dir, name);
        if (!existsSync(join(d, 'brightness'))) continue;
        return { name, dir: d, max: readMax(d), savedTrigger: readTrigger(d) };
      }
      return null;
    };
    const leds = [find(profile.leds.activity), find(profile.leds.power)];
    const found = leds.filter((l): l is Led => l !== null).map((l) => l.name);
    if (found.length === 0) log.info('leds-absent', { board: profile.id, dir, note: 'no status LEDs on this board; state is shown in logs only' });
    else log.info('leds', { board: profile.id, leds: found.join(',') });
    return new Leds(leds, log);
  }

  get state(): LedState | null { return this.current; }
  get available(): boolean { return !this.failed && this.leds.some((l) => l !== null); }

  /** Shows a state (no-op when it is already shown or there are no LEDs). */
  set(state: LedState): void {
    if (state === this.current) return;
    this.current = state;
    if (!this.available) return;
    const patterns = LED_PATTERNS[state];
    try {
      this.leds.forEach((l, i) => { if (l) apply(l, patterns[i]!); });
      this.log.debug('led-state', { state });
    } catch (e) {
      this.failed = true;
      this.log.warn('leds-unwritable', { reason: (e as Error).message, note: 'LED display off from now on' });
    }
  }

  /** Gives the LEDs back to the triggers they had. */
  close(): void {
    if (this.failed) return;
    for (const l of this.leds) {
      if (!l || l.savedTrigger === null) continue;
      try { writeFileSync(join(l.dir, 'trigger'), l.savedTrigger); } catch { /* best effort on the way out */ }
    }
    this.leds = [];
  }
}

function readMax(dir: string): number {
  try {
    const n = Number.parseInt(readFileSync(join(dir, 'max_brightness'), 'utf8').trim(), 10);
    return Number.isInteger(n) && n > 0 && n <= 65535 ? n : 1;
  } catch {
    return 1;
  }
}

/** The active trigger: sysfs lists them all with the active one in brackets ("none [mmc0] timer"). */
export function parseTrigger(text: string): string | null {
  const m = /\[([^\]\s]{1,64})\]/.exec(text.slice(0, 4096));
  if (m) return m[1]!;
  const t = text.trim();
  return /^[\w:-]{1,64}$/.test(t) ? t : null;
}

function readTrigger(dir: string): string | null {
  try {
    return parseTrigger(readFileSync(join(dir, 'trigger'), 'utf8'));
  } catch {
    return null;
  }
}

function apply(l: Led, p: Pattern): void {
  if (p.kind === 'blink') {
    // The timer trigger creates delay_on/delay_off once selected.
    writeFileSync(join(l.dir, 'trigger'), 'timer');
    writeFileSync(join(l.dir, 'delay_on'), String(p.onMs));
    writeFileSync(join(l.dir, 'delay_off'), String(p.offMs));
    return;
  }
  writeFileSync(join(l.dir, 'trigger'), 'none');
  writeFileSync(join(l.dir, 'brightness'), String(p.kind === 'on' ? l.max : 0));
}
