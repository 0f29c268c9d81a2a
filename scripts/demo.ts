// The demo: a branch LAN host behind an Outpost box, HQ (an Outpost responder, or strongSwan with
// --hq strongswan) with a host behind it, and an MQTT broker, all in network namespaces this
// script creates and removes. It shows the tunnel coming up, pings crossing it, `outpost status`,
// and the messages a fleet dashboard receives (status, health, events), printed compactly as
// they arrive.
//
//   scripts/demo.sh [--once] [--hq outpost|strongswan] [--broker mqtt://HOST:PORT]
//
// The broker: a mosquitto the demo starts on the branch namespace's loopback, unless --broker
// names one; the branch box then reaches it through a socat bridge (TCP in the namespace, a unix
// socket across, TCP to the broker outside). Ctrl-C cleans up; running it again works. --once
// pings three times, waits for the health messages, prints "demo: OK" and exits (tests use it).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildTopology, ADDR } from '../test/lib/topology.ts';
import { OutpostDaemon, branchConfig } from '../test/lib/outpost-daemon.ts';
import { Charon, CHARON_BIN, siteToSiteConf } from '../test/lib/strongswan.ts';
import { Mosquitto, MOSQUITTO_BIN, Watcher, type Received } from '../test/lib/mosquitto.ts';
import { have, waitForLine } from '../test/lib/netns.ts';
import { statusText } from '../firmware/cli/status-text.ts';

const { values } = parseArgs({
  options: { once: { type: 'boolean' }, hq: { type: 'string', default: 'outpost' }, broker: { type: 'string' }, help: { type: 'boolean' } },
});
if (values.help) {
  console.log('usage: scripts/demo.sh [--once] [--hq outpost|strongswan] [--broker mqtt://HOST:PORT]');
  process.exit(0);
}
const once = values.once === true;
const hqKind = values.hq;
if (hqKind !== 'outpost' && hqKind !== 'strongswan') { console.error('demo: --hq is outpost or strongswan'); process.exit(2); }
if (process.getuid?.() !== 0) {
  console.error('demo: needs root (it creates network namespaces and TUN devices); run: sudo scripts/demo.sh');
  process.exit(1);
}
if (hqKind === 'strongswan' && !existsSync(CHARON_BIN)) { console.error(`demo: --hq strongswan needs ${CHARON_BIN} (apt-get install strongswan-charon libcharon-extra-plugins)`); process.exit(1); }
let brokerUrl: URL | undefined;
if (values.broker) {
  try { brokerUrl = new URL(values.broker); } catch { /* below */ }
  if (!brokerUrl || brokerUrl.protocol !== 'mqtt:' || !brokerUrl.hostname) { console.error('demo: --broker takes mqtt://HOST[:PORT]'); process.exit(2); }
  if (!have('socat')) { console.error('demo: --broker needs socat'); process.exit(1); }
} else if (!existsSync(MOSQUITTO_BIN)) {
  console.error(`demo: needs ${MOSQUITTO_BIN} for its embedded broker (apt-get install mosquitto), or --broker URL`);
  process.exit(1);
}

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s: string) => console.log(bold(`== ${s}`));
const psk = 'demo-only-pre-shared-key-' + Math.random().toString(36).slice(2);
const DEVICE = 'branch-demo';
const interval = once ? 2 : 5;

say(`building namespaces: lanhost ${ADDR.lanhost} - branch - WAN 198.51.100.0/24 - hq (${hqKind}) - hqhost ${ADDR.hqhost}`);
const topo = buildTopology();
const work = mkdtempSync(join(tmpdir(), 'outpost-demo-'));
let hq: OutpostDaemon | undefined;
let charon: Charon | undefined;
let branch: OutpostDaemon | undefined;
let broker: Mosquitto | undefined;
let watcher: Watcher | undefined;
const bridges: ChildProcess[] = [];
let stopping = false;

const cleanup = async (code: number) => {
  if (stopping) return;
  stopping = true;
  say('cleaning up');
  await watcher?.close().catch(() => {});
  await branch?.stop().catch(() => {});
  await hq?.stop().catch(() => {});
  await charon?.stop().catch(() => {});
  await broker?.close().catch(() => {});
  for (const p of bridges) if (p.exitCode === null && p.pid) { try { process.kill(p.pid, 'SIGTERM'); } catch { /* gone */ } }
  await topo.lab.destroy();
  rmSync(work, { recursive: true, force: true });
  process.exit(code);
};
process.on('SIGINT', () => void cleanup(0));
process.on('SIGTERM', () => void cleanup(0));

/** One line per MQTT message, the way a dashboard would summarise it. */
function compact(m: Received): string {
  const kind = m.topic.split('/').pop();
  const j = m.json;
  if (!j) return `${m.topic} ${m.payload.slice(0, 80)}`;
  if (kind === 'status') return `${m.topic}  ${j.state}${j.reason ? ` (${j.reason})` : ''}  firmware ${j.firmwareVersion} board ${j.board}${m.retain ? '  [retained]' : ''}`;
  if (kind === 'health') {
    const t = j.tunnel ?? {};
    const sa = t.childSas?.[0];
    const kb = (n: number) => `${(n / 1024).toFixed(1)} kB`;
    return `${m.topic}  tunnel ${t.state}${sa ? `  ${sa.algorithms}  in ${kb(sa.bytesIn)} out ${kb(sa.bytesOut)}` : ''}`
      + `${t.rttMs != null ? `  rtt ${t.rttMs} ms` : ''}  load ${j.system?.load?.[0] ?? '?'}  mem ${Math.round((j.system?.memory?.processRssBytes ?? 0) / 1048576)} MB`;
  }
  if (kind === 'events') return `${m.topic}  #${j.seq} ${j.type}${j.detail ? `  ${typeof j.detail === 'string' ? j.detail : JSON.stringify(j.detail).slice(0, 100)}` : ''}`;
  return `${m.topic} ${m.payload.slice(0, 100)}`;
}

let printed = 0;
/** Prints what arrived and is not printed yet. */
function flushMessages(w: Watcher): void {
  for (; printed < w.messages.length; printed++) console.log(`  mqtt   | ${compact(w.messages[printed]!)}`);
}

async function printMessages(w: Watcher): Promise<void> {
  while (!stopping) {
    await w.waitFor(() => true, 'any message', { from: printed, guardMs: 2_000_000_000 }).catch(() => undefined);
    if (stopping) return;
    flushMessages(w);
  }
}

try {
  // The broker, as the branch box sees it: 127.0.0.1:1883 in its namespace.
  if (brokerUrl) {
    const port = brokerUrl.port || '1883';
    const sock = join(work, 'broker.sock');
    say(`bridging the branch box to ${brokerUrl.host} (socat: 127.0.0.1:1883 in the namespace -> ${sock} -> ${brokerUrl.hostname}:${port})`);
    const outside = topo.lab.track(spawn('socat', [`UNIX-LISTEN:${sock},fork`, `TCP:${brokerUrl.hostname}:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] }));
    bridges.push(outside);
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => { if (existsSync(sock)) { clearInterval(t); resolve(); } }, 20);
      outside.once('exit', (c) => { clearInterval(t); reject(new Error(`socat exited (${c})`)); });
    });
    bridges.push(topo.lab.track(topo.branch.spawn('socat', ['TCP-LISTEN:1883,bind=127.0.0.1,fork,reuseaddr', `UNIX-CONNECT:${sock}`])));
    watcher = await Watcher.connect(brokerUrl.href, `outpost/${DEVICE}/#`);
  } else {
    say('starting the embedded MQTT broker (mosquitto on 127.0.0.1:1883 in the branch namespace)');
    broker = await Mosquitto.start({ ns: topo.branch, port: 1883, persistence: false });
    watcher = await Watcher.spawnSub(topo.branch, '127.0.0.1', 1883, `outpost/${DEVICE}/#`);
  }
  say('subscribed to outpost/+/# like a dashboard; messages appear below as "mqtt |"');
  void printMessages(watcher);

  if (hqKind === 'strongswan') {
    say('starting the HQ responder (strongSwan 5.9 charon, kernel-libipsec)');
    charon = await Charon.start(topo.hq, {
      name: 'hq-demo',
      swanctlConf: siteToSiteConf({
        conn: 'branch', localAddrs: ADDR.hqWan, remoteAddrs: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net',
        psk, localTs: [ADDR.hqSubnet], remoteTs: [ADDR.branchSubnet], dpdDelay: 10,
      }),
    });
    await charon.loadAll();
  } else {
    say('starting the HQ responder (Outpost, remote %any)');
    hq = new OutpostDaemon(topo.lab, topo.hq, {
      name: 'hq',
      config: {
        device: { id: 'hq-demo' },
        lan: { interface: topo.ifs.hqLan, address: `${ADDR.hqLan}/24` },
        tunnel: { remote: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net', auth: { psk }, localSubnets: [ADDR.hqSubnet], remoteSubnets: [ADDR.branchSubnet], dpdSeconds: 10 },
      },
      env: { OUTPOST_LOG_LEVEL: 'info' },
    });
    hq.start();
    await hq.waitFor(/control socket listening/, 'HQ listening');
  }

  say(`starting the branch box (Outpost, initiator towards ${ADDR.hqWan}, health to the broker every ${interval} s)`);
  const cfg = branchConfig({ psk, dpdSeconds: 10 }) as Record<string, unknown>;
  branch = new OutpostDaemon(topo.lab, topo.branch, {
    name: 'branch',
    config: { ...cfg, device: { id: DEVICE }, health: { broker: 'mqtt://127.0.0.1:1883', intervalSeconds: interval } },
    env: { OUTPOST_LOG_LEVEL: 'info' },
  });
  branch.start();
  branch.proc.stderr!.on('data', (d: Buffer) => {
    for (const l of d.toString().split('\n')) {
      if (/(tunnel\.ike: (ike-up|child-up|auth-failed|negotiation-failed|ike-down))|outpost: mtu|health[^ ]*: (connected|mqtt-connected)/.test(l)) console.log(`  branch | ${l}`);
    }
  });
  await waitForLine(branch.proc, (l) => /child-up/.test(l), 'CHILD_SA up');
  say('tunnel up; outpost status on the branch box:');
  console.log(statusText(await branch.status()));

  const pings = once ? 3 : Infinity;
  for (let i = 1; i <= pings && !stopping; i++) {
    try {
      const out = topo.lanhost.run('ping', '-c', '1', '-W', '2', ADDR.hqhost);
      console.log(`  ping   | lanhost ${ADDR.lanhost} -> hqhost ${ADDR.hqhost}: ${out.split('\n').find((l) => l.includes('time='))?.trim() ?? 'reply'}`);
    } catch {
      console.log(`  ping   | lanhost -> hqhost: no reply`);
      if (once) throw new Error('ping through the tunnel failed');
    }
    if (i % 15 === 0) console.log(statusText(await branch.status()));
    if (!once) await new Promise((r) => setTimeout(r, 1000));
  }

  if (once) {
    // What a dashboard must have seen: the retained "online", a health report with the tunnel up
    // and traffic counted, and the tunnel-up event.
    const w = watcher;
    const guard = { guardMs: 30_000 };
    await w.waitFor((m) => m.topic.endsWith('/status') && m.json?.state === 'online', 'status online', guard);
    await w.waitFor((m) => m.topic.endsWith('/events') && m.json?.type === 'tunnel-up', 'a tunnel-up event', guard);
    const h = await w.waitFor((m) => m.topic.endsWith('/health') && m.json?.tunnel?.state === 'up' && (m.json?.tunnel?.childSas?.[0]?.packetsOut ?? 0) > 0, 'health with the tunnel up and traffic', guard);
    flushMessages(w);
    say(`demo: OK (tunnel up, 3 pings, ${w.messages.length} MQTT messages, last health at ${h.json.time})`);
  }
  await cleanup(0);
} catch (e) {
  console.error(`demo failed: ${(e as Error).message}`);
  if (branch) console.error(`--- branch log ---\n${branch.tail(30)}`);
  if (hq) console.error(`--- hq log ---\n${hq.tail(30)}`);
  if (charon) console.error(charon.logTail());
  await cleanup(1);
}
