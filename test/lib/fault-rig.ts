// The fault matrix's common ground (test/interop/fault-*.test.ts): Outpost in the branch
// namespace against a strongSwan 5.9.8 HQ, a mosquitto on the branch namespace's loopback with
// mosquitto_sub watching outpost/<id>/#, and what every row checks at its end: the tunnel passes
// traffic again (measured from the end of the fault to the first ping answered through it), the
// config file is byte for byte the one the daemon started with, and the events the fleet saw.
// Each test prints one `fault-matrix:` line with its numbers (docs/fault-matrix.md collects them).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { requireEnv, type Lab, type Netns } from './netns.ts';
import { buildNatTopology, buildTopology, ADDR, type NatTopology, type Topology } from './topology.ts';
import { Charon, siteToSiteConf, stopAll, type SiteToSiteOptions } from './strongswan.ts';
import { OutpostDaemon, branchConfig } from './outpost-daemon.ts';
import { Mosquitto, Watcher, type Received } from './mosquitto.ts';
import { assertPing, within } from './traffic.ts';
import { DPD_RANGE } from '../../firmware/config/defaults.ts';
import { assertValid } from '../unit/health/schemas.ts';

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
  /** The config file's bytes when the daemon started. */
  configText = '';
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
    const config = {
      ...(branchConfig({ dpdSeconds: this.opts.dpdSeconds ?? DPD, psk: PSK }) as Record<string, unknown>),
      health: { broker: this.brokerUrl, intervalSeconds: this.opts.healthIntervalSeconds ?? 1 },
      ...this.opts.config,
    };
    this.d = new OutpostDaemon(this.topo.lab, this.branch, { name: 'branch', config, ...(this.opts.env ? { env: this.opts.env } : {}) });
    this.configText = readFileSync(this.d.configPath, 'utf8');
    this.d.start();
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
    assert.equal(readFileSync(this.d.configPath, 'utf8'), this.configText, 'the config file is unchanged');
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
    const ms = typeof recoverMs === 'number' ? `${(recoverMs / 1000).toFixed(1)} s` : recoverMs;
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
    await this.w?.close().catch(() => {});
    await this.broker?.close().catch(() => {});
    await stopAll([this.hq]);
    await this.topo.lab.destroy();
  }
}

/**
 * Pings `dst` from `from` every 0.2 s until the first answer (ping's own -c 1 -w: it exits on
 * the first reply); resolves with the milliseconds that took, rejects after `boundMs`.
 */
export function pingUntilAnswered(lab: Lab, from: Netns, dst: string, boundMs: number): Promise<number> {
  const started = performance.now();
  const p = lab.track(from.spawn('ping', ['-n', '-q', '-c', '1', '-i', '0.2', '-W', '1', '-w', String(Math.ceil(boundMs / 1000)), dst]));
  let out = '';
  p.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  p.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  return new Promise((resolve, reject) => {
    p.once('exit', (code) => {
      if (code === 0) resolve(performance.now() - started);
      else reject(new Error(`no ping answered from ${dst} within ${boundMs} ms:\n${out}`));
    });
  });
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
