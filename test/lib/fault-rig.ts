// The fault matrix's common ground (test/interop/fault-*.test.ts): Outpost in the branch
// namespace against a strongSwan 5.9.8 HQ, a mosquitto on the branch namespace's loopback with
// mosquitto_sub watching outpost/<id>/#, and what every row checks at its end: the tunnel passes
// traffic again (measured from the end of the fault to the first ping answered through it), the
// config file is byte for byte the one the daemon started with, and the events the fleet saw.
// Each test prints one `fault-matrix:` line with its numbers (docs/fault-matrix.md collects them).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { requireEnv, waitForLine, type Lab, type Netns } from './netns.ts';
import { buildNatTopology, buildTopology, ADDR, type NatTopology, type Topology } from './topology.ts';
import { Charon, siteToSiteConf, stopAll, type SiteToSiteOptions } from './strongswan.ts';
import { OutpostDaemon, branchConfig, type DaemonOptions } from './outpost-daemon.ts';
import { Mosquitto, Watcher, type Received } from './mosquitto.ts';
import { assertPing, within } from './traffic.ts';
import { DPD_RANGE } from '../../firmware/config/defaults.ts';
import { assertValid } from '../unit/health/schemas.ts';
import { ptyPair, type PtyPair } from '../unit/provisioning/helpers.ts';

const ROOT = resolve(import.meta.dirname, '../..');

export const PSK = 'interop-test-psk-0123456789';
export const DEVICE = 'branch-test';
export const DPD = DPD_RANGE.min;
/** MQTT port on the branch namespace's loopback; CLOSED_PORT has nobody listening. */
export const BROKER_PORT = 1883;
export const CLOSED_PORT = 1884;

export interface RigOptions {
  /** The branch behind a NAT router (buildNatTopology) instead of on the WAN directly. */
  nat?: boolean;
  /** 'local': a mosquitto on the branch's loopback (default); 'closed': the config points at a
   *  port nobody listens on; the watcher then is not started. */
  broker?: 'local' | 'closed';
  dpdSeconds?: number;
  /** Extra environment for the daemon (OUTPOST_* knobs). */
  env?: Record<string, string>;
  /** Overrides for HQ's swanctl.conf. */
  hq?: Partial<SiteToSiteOptions>;
  /** Extra config fields merged over branchConfig() at the top level. */
  config?: Record<string, unknown>;
  healthIntervalSeconds?: number;
  /** Keep the config directory on a tmpfs of this many KiB, mounted in the daemon's own (private)
   *  mount namespace; the test reaches it through /proc/PID/root (TmpfsDaemon). */
  configTmpfsKiB?: number;
  /** A serial console on a socat pty pair (the daemon's end in config.console.path). */
  console?: boolean;
}

export const hqConf = (over: Partial<SiteToSiteOptions> = {}): string => siteToSiteConf({
  conn: 'branch', localAddrs: ADDR.hqWan, remoteAddrs: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net',
  psk: PSK, localTs: [ADDR.hqSubnet], remoteTs: [ADDR.branchSubnet], ...over,
});

export const isEvent = (type: string) => (m: Received): boolean => m.topic === `outpost/${DEVICE}/events` && m.json?.type === type;

export class FaultRig {
  hq!: Charon;
  d!: OutpostDaemon;
  broker?: Mosquitto;
  w?: Watcher;
  /** The config file's bytes when the daemon started (assertIntact compares the stored file to it). */
  configText = '';
  pty?: PtyPair;
  private ptyDir?: string;
  readonly brokerUrl: string;

  private constructor(readonly topo: Topology | NatTopology, readonly opts: RigOptions) {
    this.brokerUrl = `mqtt://127.0.0.1:${opts.broker === 'closed' ? CLOSED_PORT : BROKER_PORT}`;
  }

  get branch(): Netns { return this.topo.branch; }
  get nat(): NatTopology { return this.topo as NatTopology; }

  /**
   * Runs `body` against a fresh rig (skipping loudly without root or packages); on failure
   * prints the daemon's, HQ's and the broker's tails and what the watcher received; always
   * stops everything it started (by PID) and removes the namespaces.
   */
  static async run(t: TestContext, opts: RigOptions, body: (r: FaultRig) => Promise<void>): Promise<void> {
    if (!requireEnv(t, { root: true, cmds: ['ip', 'iptables', 'swanctl', 'socat', 'ping', 'mosquitto', 'mosquitto_sub', ...(opts.nat ? ['conntrack'] : [])], files: ['/usr/lib/ipsec/charon', '/usr/sbin/mosquitto'] })) return;
    const r = new FaultRig(opts.nat ? buildNatTopology() : buildTopology(), opts);
    try {
      await r.start();
      await body(r);
    } catch (e) {
      r.dumpLogs();
      throw e;
    } finally {
      await r.close();
    }
  }

  private async start(): Promise<void> {
    if (this.opts.broker !== 'closed') {
      this.broker = await Mosquitto.start({ ns: this.branch, bind: '127.0.0.1', port: BROKER_PORT, persistence: false });
      this.w = await Watcher.spawnSub(this.branch, '127.0.0.1', BROKER_PORT, `outpost/${DEVICE}/#`);
    }
    this.hq = await Charon.start(this.topo.hq, { name: 'hq', swanctlConf: hqConf(this.opts.hq) });
    await this.hq.loadAll();
    if (this.opts.console) {
      this.ptyDir = mkdtempSync(join(tmpdir(), 'outpost-fault-pty-'));
      this.pty = await ptyPair(this.ptyDir, 'console');
    }
    const config = {
      ...(branchConfig({ dpdSeconds: this.opts.dpdSeconds ?? DPD, psk: PSK }) as Record<string, unknown>),
      health: { broker: this.brokerUrl, intervalSeconds: this.opts.healthIntervalSeconds ?? 1 },
      ...(this.pty ? { console: { path: this.pty.dev } } : {}),
      ...this.opts.config,
    };
    const dopts = { name: 'branch', config, ...(this.opts.env ? { env: this.opts.env } : {}) };
    this.d = this.opts.configTmpfsKiB
      ? new TmpfsDaemon(this.topo.lab, this.branch, dopts, this.opts.configTmpfsKiB)
      : new OutpostDaemon(this.topo.lab, this.branch, dopts);
    this.configText = readFileSync(this.d.configPath, 'utf8');
    this.d.start();
  }

  /** The config file the daemon uses, as the test process can read it. */
  get storedConfigPath(): string {
    return this.d instanceof TmpfsDaemon ? this.d.seen(this.d.storedConfigPath) : this.d.configPath;
  }

  /** The tunnel's first coming up: the daemon's child-up, HQ's CHILD_SA installed, a ping through. */
  async firstUp(): Promise<void> {
    await within(this.d.waitFor(/child-up/, 'child-up'), 30_000, 'first child-up');
    await this.hq.waitForChildUp('net', { ike: 'branch' });
    if (this.w) await this.w.waitFor(isEvent('tunnel-up'), 'tunnel-up event', { guardMs: 20_000 });
    assertPing(this.topo.lanhost, ADDR.hqhost);
  }

  /** Index of the next message the watcher receives (to look at what a fault produced). */
  mark(): number { return this.w?.messages.length ?? 0; }

  /** Waits for an event of `type` over MQTT (from message index `from`). */
  event(type: string, from: number, guardMs = 60_000, pred: (m: Received) => boolean = () => true): Promise<Received> {
    assert.ok(this.w, 'no watcher in this rig');
    return this.w.waitFor((m) => isEvent(type)(m) && pred(m), `${type} event`, { from, guardMs });
  }

  /** The events (type, and reason where there is one) received since `from`, for the report. */
  eventsSince(from: number): string[] {
    return (this.w?.on('events', from) ?? []).map((m) => m.json?.reason ? `${m.json.type}(${m.json.reason})` : String(m.json?.type));
  }

  /** Pings from the branch LAN to HQ's LAN in the background (counted) until stop(). */
  backgroundPing(intervalS = 0.1): { stop(): Promise<{ sent: number; received: number }> } {
    return backgroundPing(this.topo.lab, this.topo.lanhost, ADDR.hqhost, intervalS);
  }

  /** Milliseconds until a ping from the branch LAN to HQ's LAN is answered through the tunnel. */
  trafficBack(boundMs = 60_000): Promise<number> {
    return pingUntilAnswered(this.topo.lab, this.topo.lanhost, ADDR.hqhost, boundMs);
  }

  /**
   * The end state every row asks for: the daemon still running, the tunnel up on both ends
   * and passing traffic, the config file unchanged, every MQTT message valid for its schema,
   * events numbered without gaps.
   */
  async assertIntact(): Promise<void> {
    assert.equal(this.d.proc.exitCode, null, 'the daemon is still running');
    assert.equal(readFileSync(this.storedConfigPath, 'utf8'), this.configText, 'the config file is as expected (unchanged unless a commit succeeded)');
    const st = await this.d.status();
    assert.equal(st.deviceId, DEVICE);
    assert.equal(st.tunnel.state, 'up');
    await this.hq.waitForChildUp('net', { ike: 'branch' });
    // A stale IKE_SA from before the fault would linger at HQ: INITIAL_CONTACT must have removed it.
    const sas = (await this.hq.listSas()).filter((s) => s.name === 'branch');
    assert.equal(sas.length, 1, `HQ holds one IKE_SA for the branch: ${sas.map((s) => `${s.initiatorSpi}/${s.state}`).join(' ')}`);
    assertPing(this.topo.lanhost, ADDR.hqhost);
    if (this.w) {
      for (const m of this.w.messages) assertValid(m.topic.split('/')[2] as 'status' | 'health' | 'events', m.json);
      // One daemon run numbers its events 1, 2, 3, ...: a gap would be a lost event.
      const seqs = this.w.on('events').map((m) => m.json.seq as number);
      const runs: number[][] = [];
      for (const s of seqs) { if (s === 1 || runs.length === 0) runs.push([]); runs.at(-1)!.push(s); }
      for (const run of runs) assert.deepEqual(run, run.map((_, i) => i + 1), `events numbered without gaps: ${seqs.join(',')}`);
    }
  }

  /** The line docs/fault-matrix.md is made of. */
  report(t: TestContext, row: string, recoverMs: number | string, events: string[], extra = ''): void {
    const ms = typeof recoverMs === 'number' ? dur(recoverMs) : recoverMs;
    t.diagnostic(`fault-matrix: ${row} | recovered in ${ms} | events: ${events.join(', ') || '-'}${extra ? ` | ${extra}` : ''}`);
  }

  dumpLogs(): void {
    if (this.d) process.stderr.write(`--- outpost tail ---\n${this.d.tail(80)}\n`);
    if (this.hq) process.stderr.write(`${this.hq.logTail()}\n`);
    if (this.broker) process.stderr.write(`--- mosquitto ---\n${this.broker.tail(20)}\n`);
    if (this.w) process.stderr.write(`--- received ---\n${this.w.messages.filter((m) => !m.topic.endsWith('/health')).map((m) => `${m.topic} ${m.payload.slice(0, 200)}`).slice(-30).join('\n')}\n`);
  }

  private async close(): Promise<void> {
    await this.d?.stop().catch(() => {});
    await this.pty?.kill().catch(() => {});
    if (this.ptyDir) rmSync(this.ptyDir, { recursive: true, force: true });
    await this.w?.close().catch(() => {});
    await this.broker?.close().catch(() => {});
    await stopAll([this.hq]);
    await this.topo.lab.destroy();
  }
}

/** A duration for the report: "45 ms" below a second, else "1.7 s". */
export function dur(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * The daemon with its config directory on a small tmpfs that exists only in its own mount
 * namespace (`ip netns exec` gives it a private one; the mount is made there before exec), so a
 * full disk can be staged without touching the host. The file the daemon starts with is a copy
 * of `configPath`; the test reads and fills the tmpfs through /proc/PID/root.
 */
export class TmpfsDaemon extends OutpostDaemon {
  /** The mount point (the same path in both namespaces; empty in the test's). */
  readonly etc: string;

  constructor(lab: Lab, ns: Netns, opts: DaemonOptions, readonly sizeKiB: number) {
    super(lab, ns, opts);
    this.etc = join(this.dir, 'etc');
    mkdirSync(this.etc, { mode: 0o700 });
  }

  get storedConfigPath(): string { return join(this.etc, 'outpost.json'); }

  /** `path` inside the daemon's mount namespace, as the test process reaches it. */
  seen(path: string): string {
    assert.ok(this.proc?.pid && this.proc.exitCode === null, 'the daemon is running');
    return `/proc/${this.proc.pid}/root${path}`;
  }

  override start(): this {
    const env = { ...process.env, OUTPOST_LOG_LEVEL: 'debug', OUTPOST_IKE_RETRANSMIT: '1000,1.5,3', ...this.opts.env };
    const envArgs = Object.entries(env).filter(([k]) => k.startsWith('OUTPOST_')).map(([k, v]) => `${k}=${v}`);
    // sh, env and node exec one another: proc.pid is the daemon's, and so is its /proc/PID/root.
    const script = 'mount -t tmpfs -o "size=$1k,mode=0700" outpost-etc "$2" && cp "$3" "$2/outpost.json" && shift 3 && exec "$@"';
    this.proc = this.lab.track(this.ns.spawn('sh', ['-c', script, 'sh', String(this.sizeKiB), this.etc, this.configPath,
      'env', ...envArgs, process.execPath, '--import', 'tsx', join(ROOT, 'firmware/main.ts'), '--config', this.storedConfigPath,
      '--control-socket', this.socket, '--tun', this.opts.tun ?? 'outpost0'], { cwd: ROOT }));
    const keep = (d: Buffer) => { this.output += d.toString(); if (this.output.length > 4_000_000) this.output = this.output.slice(-2_000_000); };
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
    return this;
  }
}

/**
 * Pings `dst` from `from` every 0.2 s until the first echo reply (ICMP errors such as "net
 * unreachable" while routes are missing do not end it); resolves with the milliseconds that
 * took, rejects after `boundMs`.
 */
export function pingUntilAnswered(lab: Lab, from: Netns, dst: string, boundMs: number): Promise<number> {
  const started = performance.now();
  // stdbuf: ping's stdout is a pipe here, which stdio would block-buffer.
  const p = lab.track(from.spawn('stdbuf', ['-oL', 'ping', '-n', '-i', '0.2', '-W', '1', dst]));
  let out = '';
  p.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const reply = waitForLine(p, (l) => { out = (out + l + '\n').slice(-2000); return / bytes from .*icmp_seq=/.test(l); }, `a ping answered by ${dst}`);
  return within(reply, boundMs, `a ping answered by ${dst}`)
    .then(() => performance.now() - started, (e: Error) => { throw new Error(`${e.message}; ping said:\n${out}`); })
    .finally(() => { if (p.exitCode === null && p.signalCode === null) p.kill('SIGINT'); });
}

/** A background ping (every `intervalS`) counting what was sent and answered until stop(). */
export function backgroundPing(lab: Lab, from: Netns, dst: string, intervalS = 0.1): { stop(): Promise<{ sent: number; received: number }> } {
  const p = lab.track(from.spawn('ping', ['-n', '-q', '-i', String(intervalS), '-W', '1', dst]));
  let out = '';
  p.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  return {
    async stop() {
      const done = new Promise((r) => p.once('exit', r));
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGINT'); // ping prints its totals on SIGINT
      await done;
      const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
      return { sent: m ? Number(m[1]) : 0, received: m ? Number(m[2]) : 0 };
    },
  };
}
