// The hardware watchdog (/dev/watchdog, Linux watchdog API): once opened, the board resets unless
// something is written to it within its timeout (15 s on a Raspberry Pi). Outpost writes only
// while its liveness check passes, so a hung event loop or a stalled tunnel manager ends in a
// reset rather than a box that looks alive and passes no traffic. On a clean exit it writes the
// magic 'V' before closing, which disarms the watchdog ("magic close").
//
// No device (or it is busy, e.g. systemd's RuntimeWatchdogSec holds it): a log line, no-op.
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { logger, type Logger } from '../firmware/log.ts';

export interface WatchdogOptions {
  device: string;
  /** How often to feed it; well under the hardware timeout. Default 5000. */
  intervalMs?: number;
  /** null when healthy, else why not (then the watchdog is not fed). */
  check: () => string | null;
  log?: Logger;
}

export class Watchdog {
  private fd: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private starving: string | null = null;
  /** Writes made (feeds), for status and tests. */
  feeds = 0;

  private constructor(private readonly opts: WatchdogOptions) {
    this.log = opts.log ?? logger('board.watchdog');
  }

  /** Opens the device and starts feeding it; a missing device gives a no-op Watchdog. */
  static open(opts: WatchdogOptions): Watchdog {
    const w = new Watchdog(opts);
    try {
      // No O_CREAT: a missing device must not become a regular file in /dev.
      w.fd = openSync(opts.device, constants.O_WRONLY);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      w.log.info('watchdog-absent', { device: opts.device, code, note: code === 'EBUSY' ? 'held by another process (systemd RuntimeWatchdogSec?)' : 'no hardware watchdog; not fed' });
      return w;
    }
    w.log.info('watchdog-armed', { device: opts.device, intervalMs: opts.intervalMs ?? 5000 });
    w.feed();
    w.timer = setInterval(() => w.feed(), opts.intervalMs ?? 5000);
    return w;
  }

  get armed(): boolean { return this.fd !== null; }

  /** Feeds it now if healthy (also called by the timer). */
  feed(): void {
    if (this.fd === null) return;
    const why = this.opts.check();
    if (why !== null) {
      if (this.starving === null) this.log.error('watchdog-starved', { reason: why, note: 'not feeding: the board resets unless this recovers' });
      this.starving = why;
      return;
    }
    if (this.starving !== null) this.log.info('watchdog-fed-again', { after: this.starving });
    this.starving = null;
    try {
      writeSync(this.fd, '.');
      this.feeds++;
    } catch (e) {
      this.log.error('watchdog-write-failed', { reason: (e as Error).message });
    }
  }

  /** Clean exit: magic close ('V'), so the board does not reset after we are gone. */
  close(): void {
    clearInterval(this.timer);
    if (this.fd === null) return;
    try {
      writeSync(this.fd, 'V');
      closeSync(this.fd);
      this.log.info('watchdog-disarmed', { device: this.opts.device });
    } catch (e) {
      this.log.error('watchdog-close-failed', { reason: (e as Error).message });
    }
    this.fd = null;
  }
}
