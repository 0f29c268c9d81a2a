// The health reporter against a real mosquitto (our own instance, own config, 127.0.0.1, a free
// port): retained online for late subscribers, the last will on SIGKILL and on a silent hang
// (keepalive), reconnection after a broker restart with the outage's events delivered in order,
// TLS with a test CA, user name and password, a wrong password reported and retried with
// backoff, and a client certificate. Every message received is checked against docs/schemas.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DaemonEvent } from '../../firmware/daemon.ts';
import type { ResolvedHealth } from '../../firmware/config/schema.ts';
import { HealthReporter, type HealthSource, type ReporterOptions } from '../../firmware/health/reporter.ts';
import { setLogSink, type LogRecord } from '../../firmware/log.ts';
import { requireEnv, waitForLine } from '../lib/netns.ts';
import { Mosquitto, Watcher, type Received } from '../lib/mosquitto.ts';
import { downModel } from '../unit/cli/fixtures.ts';
import { assertValid } from '../unit/health/schemas.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const FAST: Partial<ReporterOptions> = { keepaliveSeconds: 2, backoff: { minMs: 200, maxMs: 1600 }, connectTimeoutMs: 5000 };

/** The daemon as the reporter sees it: a config, a status model, an event stream. */
class FakeDaemon extends EventEmitter<{ event: [DaemonEvent] }> implements HealthSource {
  readonly startedAt = Date.now();
  config: HealthSource['config'];
  constructor(id: string, health: ResolvedHealth) {
    super();
    // Only tunnel.auth is read (for certificate files); the rest of the tunnel is not needed.
    this.config = { device: { id }, tunnel: { auth: { psk: 'not-a-real-psk' } } as HealthSource['config']['tunnel'], health };
  }
  /** Down: an up tunnel would be reported as a tunnel-up event at start (seq 1). */
  status() { return { ...downModel(), deviceId: this.config.device.id }; }
}

/** Log records from the in-process reporter, with waiters. */
class Logs {
  readonly records: LogRecord[] = [];
  private waiters: Array<() => void> = [];
  constructor() {
    setLogSink((r) => {
      this.records.push(r);
      for (const w of this.waiters.splice(0)) w();
    });
  }
  /** Resolves once `n` records (from index `from`) match. */
  waitFor(pred: (r: LogRecord) => boolean, what: string, n = 1, from = 0): Promise<LogRecord[]> {
    return new Promise((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error(`log: ${what} (${n}x) not seen; got:\n${this.text(from)}`)), 60_000);
      const check = () => {
        const hits = this.records.slice(from).filter(pred);
        if (hits.length >= n) { clearTimeout(guard); resolve(hits); } else this.waiters.push(check);
      };
      check();
    });
  }
  text(from = 0): string {
    return this.records.slice(from).map((r) => `${r.level} ${r.component}: ${r.event} ${JSON.stringify(r.fields)}`).join('\n');
  }
}

function validateAll(w: Watcher): void {
  for (const m of w.messages) {
    const kind = m.topic.split('/')[2] as 'status' | 'health' | 'events';
    assertValid(kind, m.json);
  }
}

function need(t: TestContext, cmds: string[] = []): boolean {
  return requireEnv(t, { cmds: ['mosquitto', 'mosquitto_sub', ...cmds], files: ['/usr/sbin/mosquitto'] });
}

// The reporter as its own process, so the test can SIGKILL or SIGSTOP it.
const CHILD = `
import { EventEmitter } from 'node:events';
import { HealthReporter } from ${JSON.stringify(join(ROOT, 'firmware/health/reporter.ts'))};
import { upModel } from ${JSON.stringify(join(ROOT, 'test/unit/cli/fixtures.ts'))};
const arg = JSON.parse(process.env.HEALTH_CHILD);
class Src extends EventEmitter { config = arg.config; startedAt = Date.now(); status() { return upModel(); } }
const r = new HealthReporter(new Src(), { firmwareVersion: '0.1.0', ...arg.opts });
await r.start();
`;

function spawnReporter(config: unknown, opts: Partial<ReporterOptions>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HEALTH_CHILD: JSON.stringify({ config, opts }), OUTPOST_LOG_LEVEL: 'debug' },
  });
}

async function endChild(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise((r) => p.once('exit', r));
  process.kill(p.pid!, 'SIGKILL');
  await done;
}

test('health over MQTT: retained online for a late subscriber; last will on SIGKILL and on a hang', { timeout: 120_000 }, async (t) => {
  if (!need(t)) return;
  const broker = await Mosquitto.start();
  const children: ChildProcess[] = [];
  const watchers: Watcher[] = [];
  try {
    await t.test('a late subscriber gets the retained "online" with firmware, board and boot time', async () => {
      const id = 'branch-kill';
      const child = spawnReporter({ device: { id }, tunnel: { auth: { psk: 'x' } }, health: { broker: broker.url, intervalSeconds: 1 } }, FAST);
      children.push(child);
      await waitForLine(child, (l) => /health: connected/.test(l), 'reporter connected');
      // Subscribed only now: what arrives first is the retained status.
      const w = await Watcher.connect(broker.url, `outpost/${id}/#`);
      watchers.push(w);
      const online = await w.waitFor((m) => m.topic === `outpost/${id}/status`, 'retained status');
      assert.equal(online.retain, true, 'status is retained');
      assert.equal(online.json.state, 'online');
      assert.equal(online.json.deviceId, id);
      assert.equal(online.json.firmwareVersion, '0.1.0');
      assert.ok(online.json.board.length > 0);
      assert.ok(Date.parse(online.json.bootTime) <= Date.parse(online.json.startedAt), 'booted before the daemon started');
      assert.ok(Date.parse(online.json.startedAt) <= Date.parse(online.json.time));
      const health = await w.waitFor((m) => m.topic.endsWith('/health'), 'a health message');
      assert.equal(health.retain, false);
      assert.equal(health.json.tunnel.state, 'up');
      validateAll(w);

      // SIGKILL: the kernel closes the socket without DISCONNECT, so the broker sends the will.
      const from = w.messages.length;
      const killedAt = performance.now();
      await endChild(child);
      const off = await w.waitFor((m) => m.topic === `outpost/${id}/status` && m.json?.state === 'offline', 'offline (last will)', { from });
      assert.equal(off.json.reason, 'connection-lost');
      assert.equal('time' in off.json, false, 'the will carries no time');
      assert.equal(off.json.bootTime, online.json.bootTime);
      t.diagnostic(`offline ${(off.at - killedAt).toFixed(0)} ms after SIGKILL (keepalive 2 s)`);
      // And it is retained: a subscriber arriving now learns the box is offline.
      const late = await Watcher.connect(broker.url, `outpost/${id}/status`);
      watchers.push(late);
      const r = await late.waitFor(() => true, 'retained offline');
      assert.equal(r.retain, true);
      assert.equal(r.json.state, 'offline');
      validateAll(w);
      validateAll(late);
    });

    await t.test('a reporter that hangs (SIGSTOP, socket left open) goes offline by the keepalive', async () => {
      const id = 'branch-hang';
      const w = await Watcher.connect(broker.url, `outpost/${id}/status`);
      watchers.push(w);
      const child = spawnReporter({ device: { id }, tunnel: { auth: { psk: 'x' } }, health: { broker: broker.url, intervalSeconds: 1 } }, FAST);
      children.push(child);
      await w.waitFor((m) => m.json?.state === 'online', 'online');
      const from = w.messages.length;
      const timedOut = broker.waitForLog(new RegExp(`Client outpost-${id} has exceeded timeout`), 'keepalive timeout');
      const stoppedAt = performance.now();
      process.kill(child.pid!, 'SIGSTOP');
      try {
        await timedOut;
        const off = await w.waitFor((m) => m.json?.state === 'offline', 'offline (last will)', { from });
        assert.equal(off.json.reason, 'connection-lost');
        t.diagnostic(`offline ${(off.at - stoppedAt).toFixed(0)} ms after SIGSTOP (keepalive 2 s: the broker allows 1.5x)`);
      } finally {
        process.kill(child.pid!, 'SIGCONT');
      }
      validateAll(w);
    });
  } catch (e) {
    process.stderr.write(`--- mosquitto ---\n${broker.tail(60)}\n`);
    throw e;
  } finally {
    for (const c of children) await endChild(c);
    for (const w of watchers) await w.close();
    await broker.close();
  }
});

test('health over MQTT: broker restart -> reconnect, online again, outage events in order; health not queued', { timeout: 120_000 }, async (t) => {
  if (!need(t)) return;
  const logs = new Logs();
  const broker = await Mosquitto.start({ persistence: true });
  const id = 'branch-restart';
  const daemon = new FakeDaemon(id, { broker: broker.url, intervalSeconds: 1 });
  const reporter = new HealthReporter(daemon, { firmwareVersion: '0.1.0', ...FAST });
  let w: Watcher | undefined;
  try {
    // A persistent session (clean: false, QoS 1): what is published while this subscriber is
    // reconnecting after the restart waits for it in the broker.
    w = await Watcher.connect(broker.url, `outpost/${id}/#`, { clientId: `watch-${process.pid}`, clean: false });
    await reporter.start();
    const first = await w.waitFor((m) => m.json?.state === 'online', 'first online');
    daemon.emit('event', { type: 'config-applied', sections: ['tunnel'] });
    const before = await w.waitFor((m) => m.json?.type === 'config-committed', 'event while connected');
    assert.equal(before.json.seq, 1);

    const down = logs.waitFor((r) => r.event === 'disconnected', 'reporter disconnected');
    await broker.stop();
    await down;
    assert.equal(reporter.linkStatus().connected, false);

    // The outage: a tunnel that comes up, is rekeyed, loses HQ.
    const remote = { address: '198.51.100.2', port: 4500 };
    const outage: DaemonEvent[] = [
      { type: 'tunnel', event: { type: 'ike-up', ikeId: 'i1', remote, proposal: 'aes256gcm16-prfsha256-x25519', natLocal: false, natRemote: false, remoteId: 'hq' } },
      { type: 'tunnel', event: { type: 'child-up', ikeId: 'i1', spiIn: 'c0000001', spiOut: 'd0000001', proposal: 'aes256gcm16', localTs: '10.1.0.0/24', remoteTs: '10.2.0.0/24', rekey: false } },
      { type: 'tunnel', event: { type: 'child-up', ikeId: 'i1', spiIn: 'c0000002', spiOut: 'd0000002', proposal: 'aes256gcm16', localTs: '10.1.0.0/24', remoteTs: '10.2.0.0/24', rekey: true } },
      { type: 'tunnel', event: { type: 'child-down', ikeId: 'i1', spiIn: 'c0000001', reason: 'rekeyed' } },
      { type: 'tunnel', event: { type: 'dpd-timeout', ikeId: 'i1' } },
      { type: 'tunnel', event: { type: 'child-down', ikeId: 'i1', spiIn: 'c0000002', reason: 'peer did not answer (dead peer detection)' } },
      { type: 'tunnel', event: { type: 'ike-down', ikeId: 'i1', reason: 'peer did not answer (dead peer detection)' } },
      { type: 'tunnel', event: { type: 'auth-failed', ikeId: 'i2', reason: 'AUTHENTICATION_FAILED' } },
    ];
    for (const e of outage) daemon.emit('event', e);
    const expected = ['tunnel-up', 'rekey', 'dpd-timeout', 'tunnel-down', 'auth-failed'];
    assert.deepEqual(reporter.queueState(), { queued: expected.length, dropped: 0 });
    const healthBefore = w.on('health').length;

    const from = w.messages.length;
    const reconnected = logs.waitFor((r) => r.event === 'connected', 'reconnected', 2);
    await broker.restart();
    await reconnected;
    const again = await w.waitFor((m) => m.json?.state === 'online' && m.json.time > first.json.time, 'online after the restart', { from });
    assert.equal(again.json.startedAt, first.json.startedAt, 'same daemon run');
    const last = await w.waitFor((m) => m.json?.type === 'auth-failed', 'the last outage event', { from });
    void last;
    const evs = w.on('events', from).map((m) => m.json);
    assert.deepEqual(evs.map((e) => e.type), expected, 'in order, once each');
    assert.deepEqual(evs.map((e) => e.seq), [2, 3, 4, 5, 6], 'consecutive seq after the one sent before');
    assert.equal(evs[3].reason, 'peer did not answer (dead peer detection)');
    for (const e of evs) assert.ok(Date.parse(e.time) < Date.parse(again.json.time), 'time is when it happened, before the reconnect');
    // Health was not queued: nothing built during the outage, a fresh snapshot on reconnect.
    const h = await w.waitFor((m) => m.topic.endsWith('/health'), 'health after reconnect', { from });
    assert.equal(h.json.reporting.reconnects, 1);
    for (const m of w.on('health', from)) assert.ok(m.json.time >= again.json.time, `health from ${m.json.time}, during the outage`);
    assert.equal(w.on('health').length - w.on('health', from).length, healthBefore);
    await w.waitFor((m) => m.topic.endsWith('/health') && m.json.reporting.eventsQueued === 0, 'health: every event acked', { from });
    assert.equal(reporter.queueState().queued, 0);
    validateAll(w);

    // A clean stop says goodbye: offline with reason and time, retained.
    const f2 = w.messages.length;
    await reporter.stop();
    const bye = await w.waitFor((m) => m.json?.state === 'offline', 'goodbye', { from: f2 });
    assert.equal(bye.json.reason, 'shutdown');
    assert.ok(bye.json.time);
    // Retained: a subscriber arriving now learns the box stopped (MQTT marks the retained copy).
    const late = await Watcher.connect(broker.url, `outpost/${id}/status`);
    const r = await late.waitFor(() => true, 'retained goodbye');
    await late.close();
    assert.equal(r.retain, true);
    assert.deepEqual(r.json, bye.json);
    validateAll(w);
  } catch (e) {
    process.stderr.write(`--- reporter log ---\n${logs.text()}\n--- mosquitto ---\n${broker.tail(60)}\n`);
    throw e;
  } finally {
    await reporter.stop();
    await w?.close();
    await broker.close();
  }
});

test('health over MQTT: bounded event queue during an outage drops the oldest and counts them', { timeout: 60_000 }, async (t) => {
  if (!need(t)) return;
  const logs = new Logs();
  const broker = await Mosquitto.start();
  const id = 'branch-flood';
  const daemon = new FakeDaemon(id, { broker: broker.url, intervalSeconds: 1 });
  const reporter = new HealthReporter(daemon, { firmwareVersion: '0.1.0', ...FAST, queueCapacity: 10 });
  let w: Watcher | undefined;
  try {
    await reporter.start();
    await logs.waitFor((r) => r.event === 'connected', 'connected');
    const down = logs.waitFor((r) => r.event === 'disconnected', 'disconnected');
    await broker.stop();
    await down;
    for (let i = 1; i <= 25; i++) daemon.emit('event', { type: 'tunnel', event: { type: 'auth-failed', ikeId: 'x', reason: `attempt ${i}` } });
    assert.deepEqual(reporter.queueState(), { queued: 10, dropped: 15 });
    const from = logs.records.length;
    await broker.restart();
    w = await Watcher.connect(broker.url, `outpost/${id}/#`);
    // The subscriber may come before or after the flush; health reports the count either way.
    const h = await w.waitFor((m) => m.topic.endsWith('/health') && m.json.reporting.eventsDropped === 15 && m.json.reporting.eventsQueued === 0, 'health with the drop count');
    assert.ok(h);
    const [warn] = await logs.waitFor((r) => r.event === 'events-dropped', 'events-dropped warning', 1, from);
    assert.equal(warn!.fields.count, 15);
    validateAll(w);
  } catch (e) {
    process.stderr.write(`--- reporter log ---\n${logs.text()}\n--- mosquitto ---\n${broker.tail(40)}\n`);
    throw e;
  } finally {
    await reporter.stop();
    await w?.close();
    await broker.close();
  }
});

test('health over MQTT: a config change (new device id) reconnects: "restart" on the old topics, online on the new', { timeout: 60_000 }, async (t) => {
  if (!need(t)) return;
  const logs = new Logs();
  const broker = await Mosquitto.start();
  const daemon = new FakeDaemon('branch-old', { broker: broker.url, intervalSeconds: 1 });
  const reporter = new HealthReporter(daemon, { firmwareVersion: '0.1.0', ...FAST });
  let w: Watcher | undefined;
  try {
    w = await Watcher.connect(broker.url, 'outpost/#');
    await reporter.start();
    await w.waitFor((m) => m.topic === 'outpost/branch-old/status' && m.json?.state === 'online', 'online (old id)');
    // What main.ts does on a config-applied event listing "device" or "health".
    daemon.config = { ...daemon.config, device: { id: 'branch-new' }, health: { broker: broker.url, intervalSeconds: 2 } };
    daemon.emit('event', { type: 'config-applied', sections: ['device', 'health'] });
    await reporter.reconfigure();
    const bye = await w.waitFor((m) => m.topic === 'outpost/branch-old/status' && m.json?.state === 'offline', 'offline (old id)');
    assert.equal(bye.json.reason, 'restart');
    const on = await w.waitFor((m) => m.topic === 'outpost/branch-new/status' && m.json?.state === 'online', 'online (new id)');
    assert.equal(on.json.deviceId, 'branch-new');
    await w.waitFor((m) => m.topic === 'outpost/branch-new/health', 'health (new id)');
    const commits = w.messages.filter((m) => m.json?.type === 'config-committed');
    assert.equal(commits.length, 1, 'the commit event is sent once, across the reconnect');
    assert.deepEqual(commits[0]!.json.sections, ['device', 'health']);
    assert.equal(reporter.linkStatus().connected, true);
    validateAll(w);
  } catch (e) {
    process.stderr.write(`--- reporter log ---\n${logs.text()}\n--- mosquitto ---\n${broker.tail(40)}\n`);
    throw e;
  } finally {
    await reporter.stop();
    await w?.close();
    await broker.close();
  }
});

/** A test CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
function makePki(dir: string): { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string; otherCa: string } {
  const o = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  o('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Outpost Test CA');
  o('req', '-x509', ...ec, '-keyout', 'other-ca.key', '-out', 'other-ca.crt', '-days', '2', '-subj', '/CN=Someone Else CA');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  o('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  o('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  o('req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=branch-tls');
  o('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '2', '-extfile', 'client.ext');
  const p = (f: string) => join(dir, f);
  return { ca: p('ca.crt'), serverCert: p('server.crt'), serverKey: p('server.key'), clientCert: p('client.crt'), clientKey: p('client.key'), otherCa: p('other-ca.crt') };
}

test('health over MQTT: TLS with a test CA and a password; wrong password reported and retried with backoff', { timeout: 120_000 }, async (t) => {
  if (!need(t, ['openssl', 'mosquitto_passwd'])) return;
  const dir = mkdtempSync(join(tmpdir(), 'outpost-mqtt-pki-'));
  const PASSWORD = 'correct horse battery staple';
  const WRONG = 'Tr0ub4dor&3-wrong';
  const logs = new Logs();
  const pki = makePki(dir);
  const broker = await Mosquitto.start({ tls: { ca: pki.ca, cert: pki.serverCert, key: pki.serverKey }, users: { fleet: PASSWORD, watcher: 'watch-pw' } });
  const reporters: HealthReporter[] = [];
  let w: Watcher | undefined;
  try {
    assert.match(broker.url, /^mqtts:\/\/127\.0\.0\.1:/);
    w = await Watcher.connect(broker.url, 'outpost/#', { ca: readFileSync(pki.ca), username: 'watcher', password: 'watch-pw' });

    await t.test('the right password over TLS: online and health arrive', async () => {
      const d = new FakeDaemon('branch-tls', { broker: broker.url, intervalSeconds: 1, ca: pki.ca, username: 'fleet', password: PASSWORD });
      const r = new HealthReporter(d, { firmwareVersion: '0.1.0', ...FAST });
      reporters.push(r);
      await r.start();
      const on = await w!.waitFor((m) => m.topic === 'outpost/branch-tls/status' && m.json?.state === 'online', 'online over TLS');
      assert.equal(on.json.deviceId, 'branch-tls');
      await w!.waitFor((m) => m.topic === 'outpost/branch-tls/health', 'health over TLS');
      const [c] = await logs.waitFor((rec) => rec.event === 'connected' && rec.fields.clientId === 'outpost-branch-tls', 'connected');
      assert.equal(c!.fields.tls, true);
      assert.equal(r.linkStatus().connected, true);
      await r.stop();
    });

    await t.test('a wrong password: reported clearly, retried with growing delays, never logged', async () => {
      const from = logs.records.length;
      const brokerFrom = broker.output.length;
      const d = new FakeDaemon('branch-badpw', { broker: broker.url, intervalSeconds: 1, ca: pki.ca, username: 'fleet', password: WRONG });
      const r = new HealthReporter(d, { firmwareVersion: '0.1.0', ...FAST });
      reporters.push(r);
      await r.start();
      const rejected = await logs.waitFor((rec) => rec.event === 'auth-rejected', 'auth-rejected', 4, from);
      await r.stop();
      for (const rec of rejected) {
        assert.equal(rec.level, 'error');
        assert.match(String(rec.fields.reason), /user name or password|check health\.username and health\.password/);
        assert.equal(rec.fields.username, 'fleet');
        assert.equal(rec.fields.broker, broker.url);
      }
      // Backoff: min 200 ms doubling, each delay in the upper half of its step.
      const delays = rejected.map((rec) => rec.fields.retryInSeconds as number);
      delays.forEach((s, i) => {
        const step = Math.min(1600, 200 * 2 ** i) / 1000;
        assert.ok(s >= step / 2 - 0.05 && s <= step + 0.05, `retry ${i}: ${s} s for a step of ${step} s (${delays.join(', ')})`);
      });
      assert.ok(delays[3]! > delays[0]!, `delays grow: ${delays.join(', ')}`);
      assert.equal(r.linkStatus().connected, false);
      // The broker saw the attempts and refused them.
      assert.ok((broker.output.slice(brokerFrom).match(/disconnected, not authorised/g) ?? []).length >= 4, broker.tail(20));
      // Never in our logs, whatever the level.
      const all = JSON.stringify(logs.records);
      assert.ok(!all.includes(WRONG) && !all.includes(PASSWORD), 'a password reached the log');
      assert.equal(w!.messages.some((m) => m.topic.startsWith('outpost/branch-badpw/')), false, 'nothing published without auth');
    });

    await t.test('a broker certificate from another CA is refused as a TLS failure', async () => {
      const from = logs.records.length;
      const d = new FakeDaemon('branch-wrongca', { broker: broker.url, intervalSeconds: 1, ca: pki.otherCa, username: 'fleet', password: PASSWORD });
      const r = new HealthReporter(d, { firmwareVersion: '0.1.0', ...FAST });
      reporters.push(r);
      await r.start();
      const [f] = await logs.waitFor((rec) => rec.event === 'connect-failed', 'connect-failed', 1, from);
      await r.stop();
      assert.match(String(f!.fields.reason), /^TLS: /);
    });
    validateAll(w);
  } catch (e) {
    process.stderr.write(`--- reporter log ---\n${logs.text()}\n--- mosquitto ---\n${broker.tail(60)}\n`);
    throw e;
  } finally {
    for (const r of reporters) await r.stop();
    await w?.close();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('health over MQTT: client certificate authentication (mqtts with cert and key)', { timeout: 60_000 }, async (t) => {
  if (!need(t, ['openssl'])) return;
  const dir = mkdtempSync(join(tmpdir(), 'outpost-mqtt-pki-'));
  const logs = new Logs();
  const pki = makePki(dir);
  const broker = await Mosquitto.start({ tls: { ca: pki.ca, cert: pki.serverCert, key: pki.serverKey }, requireClientCert: true });
  const reporters: HealthReporter[] = [];
  try {
    const withCert = new HealthReporter(new FakeDaemon('branch-cert', { broker: broker.url, intervalSeconds: 1, ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }), { firmwareVersion: '0.1.0', ...FAST });
    reporters.push(withCert);
    await withCert.start();
    await logs.waitFor((r) => r.event === 'connected' && r.fields.clientId === 'outpost-branch-cert', 'connected with a client certificate');
    await withCert.stop();

    const from = logs.records.length;
    const without = new HealthReporter(new FakeDaemon('branch-nocert', { broker: broker.url, intervalSeconds: 1, ca: pki.ca }), { firmwareVersion: '0.1.0', ...FAST });
    reporters.push(without);
    await without.start();
    const [f] = await logs.waitFor((r) => r.event === 'connect-failed', 'refused without a certificate', 1, from);
    await without.stop();
    assert.ok(f);
    assert.equal(logs.records.slice(from).some((r) => r.event === 'connected'), false);
  } catch (e) {
    process.stderr.write(`--- reporter log ---\n${logs.text()}\n--- mosquitto ---\n${broker.tail(40)}\n`);
    throw e;
  } finally {
    for (const r of reporters) await r.stop();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
