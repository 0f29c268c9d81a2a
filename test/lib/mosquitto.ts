// A private mosquitto for tests: its own config, password file and persistence in a temp dir,
// one listener on a port we choose, started in the root namespace (127.0.0.1) or inside a test
// namespace. Start, stop and restart by PID, waiting on the broker's own log lines, never on
// sleeps. Never the system service.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForLine, type Netns } from './netns.ts';

export const MOSQUITTO_BIN = '/usr/sbin/mosquitto';

export interface MosquittoOptions {
  /** Where to run it; the root namespace when absent. */
  ns?: Netns;
  /** Default 127.0.0.1. */
  bind?: string;
  /** Default: a free port on 127.0.0.1 in the root namespace, 1883 (8883 with TLS) in a namespace. */
  port?: number;
  /** PEM file paths: the listener then speaks TLS only. */
  tls?: { ca: string; cert: string; key: string };
  /** user -> password; anonymous clients are refused when given. */
  users?: Record<string, string>;
  /** Keep retained messages and persistent sessions across restart(). Default true. */
  persistence?: boolean;
  /** With tls: clients must present a certificate signed by tls.ca. */
  requireClientCert?: boolean;
}

/** A port that is free on 127.0.0.1 right now (the kernel's choice). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class Mosquitto {
  readonly dir: string;
  readonly confPath: string;
  proc?: ChildProcess;
  output = '';

  private constructor(readonly opts: MosquittoOptions, readonly port: number) {
    this.dir = mkdtempSync(join(tmpdir(), 'outpost-mosquitto-'));
    this.confPath = join(this.dir, 'mosquitto.conf');
    const lines = [
      `listener ${port} ${opts.bind ?? '127.0.0.1'}`,
      // Run as whoever started it (as root, mosquitto would otherwise switch to "mosquitto"
      // and could not read this directory).
      `user ${process.getuid?.() === 0 ? 'root' : (process.env.USER ?? 'nobody')}`,
      'log_dest stderr',
      'log_type all',
      'connection_messages true',
      `persistence ${opts.persistence === false ? 'false' : 'true'}`,
      `persistence_location ${this.dir}/`,
      'autosave_interval 0',
    ];
    if (opts.users) {
      const pw = join(this.dir, 'passwd');
      writeFileSync(pw, '', { mode: 0o600 });
      for (const [u, p] of Object.entries(opts.users)) execFileSync('mosquitto_passwd', ['-b', pw, u, p], { stdio: 'pipe' });
      lines.push('allow_anonymous false', `password_file ${pw}`);
    } else {
      lines.push('allow_anonymous true');
    }
    if (opts.tls) lines.push(`cafile ${opts.tls.ca}`, `certfile ${opts.tls.cert}`, `keyfile ${opts.tls.key}`, 'tls_version tlsv1.2');
    if (opts.tls && opts.requireClientCert) lines.push('require_certificate true');
    writeFileSync(this.confPath, lines.join('\n') + '\n');
  }

  static async start(opts: MosquittoOptions = {}): Promise<Mosquitto> {
    const port = opts.port ?? (opts.ns ? (opts.tls ? 8883 : 1883) : await freePort());
    const m = new Mosquitto(opts, port);
    try {
      await m.launch();
    } catch (e) {
      m.cleanup();
      throw e;
    }
    return m;
  }

  get pid(): number | undefined { return this.proc?.pid; }
  get running(): boolean { return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null; }
  get host(): string { return this.opts.bind ?? '127.0.0.1'; }
  get url(): string { return `${this.opts.tls ? 'mqtts' : 'mqtt'}://${this.host}:${this.port}`; }

  /** Resolves on the next broker log line matching `re`. */
  waitForLog(re: RegExp, what = String(re)): Promise<string> {
    if (!this.proc) return Promise.reject(new Error('mosquitto is not running'));
    return waitForLine(this.proc, (l) => re.test(l), `mosquitto: ${what}`);
  }

  /** Stops it with SIGTERM (it saves retained messages and sessions) and waits for its exit. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || !this.running) return;
    const exited = new Promise((r) => p.once('exit', r));
    process.kill(p.pid!, 'SIGTERM');
    await exited;
  }

  /** Stops it and starts it again on the same port with the same config and persistence. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  /** Stops it and removes its directory. */
  async close(): Promise<void> {
    await this.stop();
    this.cleanup();
  }

  tail(lines = 40): string {
    return this.output.split('\n').slice(-lines).join('\n');
  }

  private cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    const args = ['-c', this.confPath];
    const p = this.opts.ns
      ? this.opts.ns.spawn(MOSQUITTO_BIN, args)
      : spawn(MOSQUITTO_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    const keep = (d: Buffer) => { this.output += d.toString(); if (this.output.length > 1_000_000) this.output = this.output.slice(-500_000); };
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    // "Opening ipv4 listen socket on port N." comes before "mosquitto version X running".
    try {
      await waitForLine(p, (l) => /mosquitto version \S+ running/.test(l), 'mosquitto running');
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${this.tail()}`);
    }
  }
}

export interface Received {
  topic: string;
  payload: string;
  /** The payload parsed as JSON, or undefined if it is not JSON. */
  json: any;
  retain: boolean;
  /** performance.now() when it arrived. */
  at: number;
}

/**
 * Records what a subscriber receives, through MQTT.js (root namespace) or mosquitto_sub (inside
 * a test namespace, whose loopback the test process cannot reach).
 */
export class Watcher {
  readonly messages: Received[] = [];
  private waiters: Array<() => void> = [];
  private client?: MqttClient;
  private proc?: ChildProcess;

  /** Connects, subscribes with QoS 1 and resolves once the broker acknowledged the subscription. */
  static async connect(url: string, topic: string, opts: IClientOptions = {}): Promise<Watcher> {
    const w = new Watcher();
    const c = connect(url, { reconnectPeriod: 200, connectTimeout: 5000, ...opts });
    w.client = c;
    c.on('error', () => { /* reconnects; a test waiting on messages reports what is missing */ });
    c.on('message', (t, p, packet) => w.add(t, p.toString(), packet.retain));
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => c.subscribe(topic, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    });
    return w;
  }

  /** mosquitto_sub inside `ns`; resolves once it has its SUBACK. */
  static async spawnSub(ns: Netns, host: string, port: number, topic: string): Promise<Watcher> {
    const w = new Watcher();
    // stdbuf: mosquitto_sub's stdout is a pipe here, which stdio would block-buffer.
    const p = ns.spawn('stdbuf', ['-oL', 'mosquitto_sub', '-d', '-h', host, '-p', String(port), '-q', '1', '-t', topic, '-F', '%r %t %p']);
    w.proc = p;
    let buf = '';
    p.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const m = /^([01]) (\S+) (.*)$/.exec(line);
        if (m) w.add(m[2]!, m[3]!, m[1] === '1');
      }
    });
    await waitForLine(p, (l) => /received SUBACK/.test(l), 'mosquitto_sub SUBACK');
    return w;
  }

  private add(topic: string, payload: string, retain: boolean): void {
    let json: unknown;
    try { json = JSON.parse(payload); } catch { json = undefined; }
    this.messages.push({ topic, payload, json, retain, at: performance.now() });
    for (const w of this.waiters.splice(0)) w();
  }

  /**
   * The first message at index >= `from` matching `pred`, waiting for it if need be. `guardMs`
   * only turns a hang into a readable failure listing what did arrive.
   */
  waitFor(pred: (m: Received) => boolean, what: string, opts: { from?: number; guardMs?: number } = {}): Promise<Received> {
    return new Promise((resolve, reject) => {
      const from = opts.from ?? 0;
      const check = (): boolean => {
        const m = this.messages.slice(from).find(pred);
        if (m) { clearTimeout(guard); resolve(m); return true; }
        return false;
      };
      const guard = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== onMessage);
        const seen = this.messages.slice(from).map((m) => `  ${m.topic} ${m.payload.slice(0, 160)}`).join('\n');
        reject(new Error(`no message: ${what}; received since #${from}:\n${seen}`));
      }, opts.guardMs ?? 60_000);
      const onMessage = () => { if (!check()) this.waiters.push(onMessage); };
      if (!check()) this.waiters.push(onMessage);
    });
  }

  /** Messages at index >= from on topics ending in `/suffix`. */
  on(suffix: string, from = 0): Received[] {
    return this.messages.slice(from).filter((m) => m.topic.endsWith(`/${suffix}`));
  }

  async close(): Promise<void> {
    if (this.client) await this.client.endAsync(true);
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      const done = new Promise((r) => p.once('exit', r));
      process.kill(p.pid!, 'SIGTERM');
      await done;
    }
  }
}
