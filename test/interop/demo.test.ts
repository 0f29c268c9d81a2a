// The README's first command, non-interactive: scripts/demo.ts --once builds its namespaces,
// brings the tunnel up, pings across it and shows what a dashboard receives. Checked here: its
// output (tunnel up, pings, the status/events/health lines), its exit code, that it leaves no
// namespace behind (so it can run again), and with --broker a broker of the test's own whose
// messages are checked against docs/schemas; with --hq strongswan, HQ is a real charon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { requireEnv, sh } from '../lib/netns.ts';
import { Mosquitto, Watcher } from '../lib/mosquitto.ts';
import { assertValid } from '../unit/health/schemas.ts';

const ROOT = resolve(import.meta.dirname, '../..');

function namespaces(): string[] {
  return sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}

/** Runs the demo to its end; resolves with exit code, output and its namespace prefix (test/lib/netns.ts Lab tags). */
function runDemo(args: string[]): Promise<{ code: number | null; out: string; prefix: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--once', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const guard = setTimeout(() => p.kill('SIGINT'), 150_000); // Ctrl-C: the demo cleans up and exits
    p.on('exit', (code) => { clearTimeout(guard); resolve({ code, out, prefix: `op${p.pid!.toString(36)}` }); });
  });
}

function checkOutput(out: string, hq: string): void {
  assert.match(out, new RegExp(`hq \\(${hq}\\)`));
  assert.match(out, /tunnel\.ike: child-up .*local_ts=10\.1\.0\.0\/24 remote_ts=10\.2\.0\.0\/24/);
  assert.match(out, /== tunnel up; outpost status on the branch box:\n[^]*?\nhq: UP, IKEv2/);
  assert.equal(out.match(/ping {3}\| lanhost 10\.1\.0\.2 -> hqhost 10\.2\.0\.2: 64 bytes from 10\.2\.0\.2/g)?.length, 3, 'three pings answered');
  assert.match(out, /mqtt {3}\| outpost\/branch-demo\/status {2}online {2}firmware \S+ board \S+/);
  assert.match(out, /mqtt {3}\| outpost\/branch-demo\/events {2}#\d+ tunnel-up/);
  assert.match(out, /mqtt {3}\| outpost\/branch-demo\/health {2}tunnel up {2}aes256gcm16 {2}in [\d.]+ kB out [\d.]+ kB/);
  assert.match(out, /== demo: OK \(tunnel up, 3 pings, \d+ MQTT messages/);
  assert.match(out, /== cleaning up/);
}

test('demo --once: Outpost HQ, embedded broker; runs twice, cleans up', { timeout: 400_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'ping', 'mosquitto_sub'], files: ['/usr/sbin/mosquitto'] })) return;
  for (const round of [1, 2]) {
    const { code, out, prefix } = await runDemo([]);
    assert.equal(code, 0, `round ${round}:\n${out}`);
    checkOutput(out, 'outpost');
    // Only the demo's own namespaces count: other runs on the machine may have theirs.
    assert.deepEqual(namespaces().filter((n) => n.startsWith(prefix)), [], `round ${round}: no namespace left behind`);
  }
});

test('demo --once --broker URL: the box reports to an outside broker; messages match the schemas', { timeout: 200_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'ping', 'socat'], files: ['/usr/sbin/mosquitto'] })) return;
  const broker = await Mosquitto.start();
  const w = await Watcher.connect(broker.url, 'outpost/#');
  try {
    const { code, out } = await runDemo(['--broker', broker.url]);
    assert.equal(code, 0, out);
    checkOutput(out, 'outpost');
    assert.match(out, /bridging the branch box to 127\.0\.0\.1:\d+/);
    const online = await w.waitFor((m) => m.topic === 'outpost/branch-demo/status' && m.json?.state === 'online', 'online');
    assertValid('status', online.json);
    const health = await w.waitFor((m) => m.topic === 'outpost/branch-demo/health' && m.json?.tunnel?.state === 'up', 'health up');
    assertValid('health', health.json);
    const ev = await w.waitFor((m) => m.topic === 'outpost/branch-demo/events' && m.json?.type === 'tunnel-up', 'tunnel-up event');
    assertValid('events', ev.json);
    // The demo stopped the box cleanly: the retained status says so.
    const off = await w.waitFor((m) => m.topic === 'outpost/branch-demo/status' && m.json?.state === 'offline', 'offline on exit');
    assert.equal(off.json.reason, 'shutdown');
    assertValid('status', off.json);
  } finally {
    await w.close();
    await broker.close();
  }
});

test('demo --once --hq strongswan: the same against a real strongSwan HQ', { timeout: 200_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'ping', 'swanctl', 'mosquitto_sub'], files: ['/usr/lib/ipsec/charon', '/usr/sbin/mosquitto'] })) return;
  const { code, out } = await runDemo(['--hq', 'strongswan']);
  assert.equal(code, 0, out);
  checkOutput(out, 'strongswan');
});
