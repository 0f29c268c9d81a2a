// Keeps the console attached to its serial device: opens it (115200 8N1 by default), feeds bytes
// to the console, and when the device goes away (a USB gadget unplugged, a pty closed) detaches
// the console and tries again every few seconds. The console keeps running meanwhile: a commit
// in progress completes, only its output is lost.
import type { SerialPort } from 'serialport';
import { logger, type Logger } from '../firmware/log.ts';
import type { ConsoleDaemon } from './committer.ts';
import { ProvisioningConsole } from './console.ts';
import { openSerialPort } from './serial-port.ts';

export interface SerialLinkOptions {
  path: string;
  baudRate?: number;
  reopenMs?: number;
  log?: Logger;
}

export class SerialLink {
  private port: SerialPort | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failures = 0;
  private readonly log: Logger;
  private opened?: () => void;

  constructor(private readonly console_: ProvisioningConsole, private readonly opts: SerialLinkOptions) {
    this.log = opts.log ?? logger('console');
  }

  /** Starts opening the port; resolves once it is open the first time (or stays pending). */
  start(): Promise<void> {
    const p = new Promise<void>((r) => { this.opened = r; });
    this.open();
    return p;
  }

  get isOpen(): boolean {
    return this.port?.isOpen ?? false;
  }

  private open(): void {
    if (this.stopped) return;
    const baud = this.opts.baudRate ?? 115200;
    openSerialPort(this.opts.path, baud).then((port) => {
      if (this.stopped) { port.close(() => {}); return; }
      this.failures = 0;
      this.port = port;
      this.log.info('serial-open', { path: this.opts.path, baud });
      this.console_.attach((data) => {
        if (port.isOpen) port.write(data, (e) => { if (e) this.log.warn('serial-write-failed', { reason: e.message }); });
      });
      port.on('data', (d: Buffer) => this.console_.input(d));
      port.on('error', (e) => this.log.warn('serial-error', { path: this.opts.path, reason: e.message }));
      port.on('close', () => {
        if (this.port !== port) return;
        this.port = undefined;
        this.console_.detach();
        this.log.warn('serial-closed', { path: this.opts.path });
        this.retry();
      });
      this.opened?.();
      this.opened = undefined;
    }, (err: Error) => {
      if (this.failures++ % 30 === 0) this.log.warn('serial-open-failed', { path: this.opts.path, reason: err.message, retry_ms: this.reopenMs() });
      this.retry();
    });
  }

  private reopenMs(): number {
    return this.opts.reopenMs ?? 2000;
  }

  private retry(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), this.reopenMs());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const p = this.port;
    this.port = undefined;
    this.console_.detach();
    if (p?.isOpen) await new Promise<void>((r) => p.close(() => r()));
  }
}

/**
 * Starts the provisioning console on the serial device `path` (default: config.console.path) for
 * a running daemon; main.ts calls this after daemon.start(). Returns undefined when no console
 * is configured.
 */
export async function startConsole(daemon: ConsoleDaemon, o: { configPath: string; firmwareVersion: string; path?: string | undefined }): Promise<{ stop(): Promise<void> } | undefined> {
  const path = o.path ?? daemon.config.console?.path;
  if (!path) return undefined;
  const baudRate = daemon.config.console?.baudRate ?? 115200;
  const c = new ProvisioningConsole({ configPath: o.configPath, daemon, firmwareVersion: o.firmwareVersion, baudRate });
  await c.init();
  const link = new SerialLink(c, { path, baudRate });
  void link.start();
  return {
    async stop() {
      await link.stop();
      await c.close();
    },
  };
}
