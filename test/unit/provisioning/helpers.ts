// Test doubles and harnesses for the serial console: a fake clock, a fake daemon (config,
// applyConfig, status, events), a socat pseudo-terminal pair, the device console on one end and a
// terminal (raw bytes) or the tool's client on the other.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SerialPort } from 'serialport';
import { closeSerialPort, openSerialPort } from '../../../provisioning/serial-port.ts';
import { isDeepStrictEqual } from 'node:util';
import type { Clock, Timer } from '../../../provisioning/clock.ts';
import { ProvisioningConsole, type ConsoleOptions } from '../../../provisioning/console.ts';
import { SerialLink } from '../../../provisioning/serial-link.ts';
import { ProvisionClient } from '../../../provisioning/tool/client.ts';
import { validateConfig } from '../../../firmware/config/validate.ts';
import type { ResolvedConfig } from '../../../firmware/config/schema.ts';
import type { DaemonEvent } from '../../../firmware/daemon.ts';
import type { HealthLinkStatus, StatusModel, TunnelStatus } from '../../../firmware/cli/status-model.ts';
import type { IkeEvent } from '../../../firmware/ike/actions.ts';
import { waitForLine } from '../../lib/netns.ts';
import { setLogLevel } from '../../../firmware/log.ts';

// The console logs every command; tests read the terminal, not the log.
setLogLevel((process.env.OUTPOST_LOG_LEVEL as 'debug' | undefined) ?? 'error');

export const PSK = 'provisioning-test-psk-0123456789';
export const PIN = '482913';
/** Cheap scrypt for tests (the state file records the parameters). */
export const TEST_SCRYPT = { N: 1024, r: 8, p: 1 };

export function siteConfig(over: { id?: string; remote?: string; psk?: string; remoteSubnets?: string[] } = {}): Record<string, unknown> {
  return {
    device: { id: over.id ?? 'branch-042' },
    lan: { interface: 'eth1', address: '10.1.0.1/24' },
    tunnel: {
      remote: over.remote ?? '198.51.100.2', localId: 'branch-042.example.net', remoteId: 'hq.example.net',
      auth: { psk: over.psk ?? PSK }, remoteSubnets: over.remoteSubnets ?? ['10.2.0.0/24'],
    },
  };
}

export function resolve(raw: unknown): ResolvedConfig {
  const v = validateConfig(raw);
  if (!v.ok) throw new Error(`test config invalid: ${JSON.stringify(v.errors)}`);
  return v.config;
}

export class FakeClock implements Clock {
  t = Date.UTC(2026, 0, 15, 12, 0, 0);
  private seq = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  now(): number { return this.t; }
  setTimer(fn: () => void, ms: number): Timer {
    const id = ++this.seq;
    this.timers.push({ at: this.t + Math.max(0, ms), fn, id });
    return { handle: id };
  }
  clearTimer(t: Timer | undefined): void {
    if (t) this.timers = this.timers.filter((x) => x.id !== t.handle);
  }
  get pending(): number { return this.timers.length; }
  /** Moves time forward, firing due timers in order, letting async work settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

/** Lets promise chains and I/O callbacks that are already due run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

function downTunnel(): TunnelStatus {
  return { name: 'hq', state: 'down', local: null, remote: null, nat: { local: false, remote: false }, ikeSa: null, childSas: [], lastError: null };
}

/** The daemon as the console sees it; applyConfig can be held, made to fail, and scripted. */
export class FakeDaemon extends EventEmitter<{ event: [DaemonEvent] }> {
  config: ResolvedConfig;
  tunnel: TunnelStatus = downTunnel();
  health: HealthLinkStatus = { broker: null, connected: false, lastPublishSeconds: null };
  readonly applied: ResolvedConfig[] = [];
  /** When set, applyConfig waits for it (a slow restart). */
  gate: Promise<void> | undefined;
  failNext: Error | undefined;
  /** Called after each apply (e.g. to script the tunnel coming up). */
  onApplied: ((cfg: ResolvedConfig) => void) | undefined;

  constructor(cfg: ResolvedConfig) {
    super();
    this.config = cfg;
  }

  /** Called when applyConfig starts (before the gate). */
  onApplyStart: (() => void) | undefined;

  async applyConfig(next: ResolvedConfig): Promise<string[]> {
    this.onApplyStart?.();
    const changed = (['device', 'lan', 'tunnel', 'health', 'console'] as const).filter((k) => !isDeepStrictEqual(this.config[k], next[k]));
    if (this.gate) await this.gate;
    if (this.failNext) { const e = this.failNext; this.failNext = undefined; throw e; }
    this.config = next;
    this.applied.push(next);
    if (changed.includes('tunnel') || changed.includes('lan')) this.tunnel = downTunnel();
    this.emit('event', { type: 'config-applied', sections: changed });
    this.onApplied?.(next);
    return changed;
  }

  status(): StatusModel {
    return { version: 1, deviceId: this.config.device.id, firmwareVersion: '0.1.0-test', uptimeSeconds: 5, tunnel: this.tunnel, health: this.healthStatus() };
  }

  healthStatus(): HealthLinkStatus {
    return { ...this.health, broker: this.config.health?.broker ?? null };
  }

  ike(e: IkeEvent): void {
    this.emit('event', { type: 'tunnel', event: e });
  }

  /** The tunnel's usual life: IKE_SA_INIT out, IKE_AUTH done, CHILD_SA installed. */
  bringUp(): void {
    const remote = { address: this.config.tunnel.remote, port: 4500 };
    this.tunnel = { ...downTunnel(), state: 'connecting', remote: { address: remote.address, port: 500 }, local: { address: '198.51.100.1', port: 500 } };
    this.ike({ type: 'ike-up', ikeId: 'aa', remote, proposal: 'AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519', natLocal: false, natRemote: false, remoteId: this.config.tunnel.remoteId });
    const localTs = this.config.tunnel.localSubnets.join(','), remoteTs = this.config.tunnel.remoteSubnets.join(',');
    this.tunnel = {
      ...this.tunnel, state: 'up', remote,
      ikeSa: { spiInitiator: '00'.repeat(8), spiResponder: '11'.repeat(8), role: 'initiator', localId: this.config.tunnel.localId, remoteId: this.config.tunnel.remoteId, algorithms: 'AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519', establishedSeconds: 0, rekeySeconds: 14000 },
      childSas: [{ name: 'hq', spiIn: 'c0000001', spiOut: 'c0000002', algorithms: 'AES_GCM_16-256', esn: false, localTs: [localTs], remoteTs: [remoteTs], establishedSeconds: 0, rekeySeconds: 3500, bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, drops: {} }],
    };
    this.ike({ type: 'child-up', ikeId: 'aa', spiIn: 'c0000001', spiOut: 'c0000002', proposal: 'AES_GCM_16-256', localTs, remoteTs, rekey: false });
  }
}

export interface PtyPair {
  dev: string;
  tool: string;
  proc: ChildProcess;
  kill(): Promise<void>;
}

/** A socat pty pair: DIR/dev for the box, DIR/tool for the laptop. */
export async function ptyPair(dir: string, name = 'pty'): Promise<PtyPair> {
  const dev = join(dir, `${name}-dev`), tool = join(dir, `${name}-tool`);
  const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${dev}`, `pty,raw,echo=0,link=${tool}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitForLine(proc, (l) => /starting data transfer loop/.test(l), 'socat ptys');
  return {
    dev, tool, proc,
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await done;
    },
  };
}

export const openPort = (path: string): Promise<SerialPort> => openSerialPort(path, 115200);
export const closePort = closeSerialPort;

/** A terminal on the laptop end: sends bytes, waits for output to match. */
export class Term {
  buf = '';
  private waiters: { re: RegExp; from: number; resolve: (m: RegExpExecArray) => void }[] = [];
  private mark = 0;

  constructor(readonly port: SerialPort) {
    port.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      this.check();
    });
  }

  private check(): void {
    for (const w of [...this.waiters]) {
      const re = new RegExp(w.re.source, w.re.flags.replace('g', ''));
      const m = re.exec(this.buf.slice(w.from));
      if (m) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        this.mark = w.from + m.index + m[0].length;
        w.resolve(m);
      }
    }
  }

  send(s: string | Buffer): void {
    this.port.write(s);
  }

  /** Resolves when output after the last match matches `re`; fails after `ms` with what came. */
  expect(re: RegExp, ms = 10_000): Promise<RegExpExecArray> {
    const from = this.mark;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`expected ${re} within ${ms} ms; got after the last match:\n${JSON.stringify(this.buf.slice(from))}`));
      }, ms);
      const done = (m: RegExpExecArray) => { clearTimeout(timer); resolve(m); };
      this.waiters.push({ re, from, resolve: done });
      this.check();
    });
  }

  /** Output since the last match (for negative checks after a positive one). */
  since(): string {
    return this.buf.slice(this.mark);
  }

  /**
   * Sends a line and waits for its echo and then the prompt that follows its answer (so a prompt
   * still on its way from before is not taken for this one); returns the answer.
   */
  async cmd(line: string, ms = 10_000): Promise<string> {
    this.send(line + '\r');
    await this.expect(new RegExp(line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '\r\n'), ms);
    const from = this.mark;
    await this.expect(/outpost:[^\r\n]*[#>] $/, ms);
    return this.buf.slice(from, this.mark);
  }
}

export interface Harness {
  dir: string;
  configPath: string;
  clock: FakeClock;
  daemon: FakeDaemon;
  console: ProvisioningConsole;
  link: SerialLink;
  pty: PtyPair;
  /** The tool end, opened as a raw terminal. */
  term: Term;
  toolPort: SerialPort;
  close(): Promise<void>;
}

export interface HarnessOptions {
  config?: Record<string, unknown>;
  pinFile?: string;
  console?: Partial<ConsoleOptions>;
  factory?: Record<string, unknown>;
}

/** The device console on a pty with a fake daemon, and a terminal on the other end. */
export async function harness(o: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-console-'));
  const configPath = join(dir, 'outpost.json');
  const raw = o.config ?? siteConfig();
  writeFileSync(configPath, JSON.stringify(raw, null, 2) + '\n', { mode: 0o600 });
  if (o.pinFile) writeFileSync(`${configPath}.pin`, o.pinFile, { mode: 0o600 });
  if (o.factory) writeFileSync(`${configPath}.factory`, JSON.stringify(o.factory), { mode: 0o600 });
  const clock = new FakeClock();
  const daemon = new FakeDaemon(resolve(raw));
  const pty = await ptyPair(dir);
  const c = new ProvisioningConsole({
    configPath, daemon, firmwareVersion: '0.1.0-test', clock, scrypt: TEST_SCRYPT,
    progress: { probe: async () => true, pollMs: 200, timeoutMs: 30_000, healthTimeoutMs: 10_000 },
    deviceInfo: { root: dir },
    ...o.console,
  });
  await c.init();
  const link = new SerialLink(c, { path: pty.dev, reopenMs: 100 });
  await link.start();
  const toolPort = await openPort(pty.tool);
  const term = new Term(toolPort);
  return {
    dir, configPath, clock, daemon, console: c, link, pty, term, toolPort,
    async close() {
      await closePort(toolPort);
      await link.stop();
      await c.close();
      await pty.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The tool's client on the laptop end of a harness. */
export function client(h: Harness): ProvisionClient {
  return new ProvisionClient(h.toolPort, 10_000);
}

/** mulberry32: small and seedable, so a failing fuzz case reproduces from its seed. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  return { next, int, pick, bytes };
}
export type Rng = ReturnType<typeof prng>;

/**
 * What a UART at `rxBaud` makes of bytes sent at `txBaud` (8N1): the sender's bit stream,
 * sampled mid-bit at the receiver's rate; frames without a stop bit are dropped (framing errors).
 */
export function atWrongBaud(data: Buffer, txBaud: number, rxBaud: number): Buffer {
  const bits: number[] = [1, 1, 1];
  for (const b of data) {
    bits.push(0);
    for (let i = 0; i < 8; i++) bits.push((b >> i) & 1);
    bits.push(1);
  }
  bits.push(1, 1, 1);
  const level = (t: number) => bits[Math.min(bits.length - 1, Math.floor(t * txBaud))]!;
  const end = bits.length / txBaud;
  const step = 1 / rxBaud;
  const out: number[] = [];
  let t = 0;
  while (t < end) {
    if (level(t) === 1) { t += step / 4; continue; } // idle: wait for a start bit
    let byte = 0;
    for (let i = 0; i < 8; i++) byte |= level(t + (1.5 + i) * step) << i;
    if (level(t + 9.5 * step) === 1) out.push(byte);
    t += 10 * step;
  }
  return Buffer.from(out);
}
