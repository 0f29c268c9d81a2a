// Soak: an Outpost branch against a strongSwan 5.9.8 HQ with short lifetimes on both sides, so
// CHILD_SAs are rekeyed every couple of seconds (by either end, sometimes both at once) and the
// IKE_SA every minute, while lanhost pings hqhost 5 times a second. Prints rekeys done, pings
// lost, and the daemon's resident memory, heap, open fds, libuv timers/handles and process
// listeners over time (sampled inside the daemon by soak-probe.mjs), and fails if the tunnel
// was lost at the end or the curves grew. Root, namespaces, charon. Bounded:
//   SOAK_REKEYS=1000 (stop after this many CHILD rekeys seen by Outpost)
//   SOAK_MAX_MINUTES=45 (stop anyway)        SOAK_CHILD_LIFETIME=3 (Outpost, seconds)
//   SOAK_HQ_REKEY=3 SOAK_HQ_RAND=1 (charon rekey_time / rand_time, whole seconds; 0 = HQ never rekeys)
//   SOAK_IKE_LIFETIME=60 (Outpost IKE_SA, seconds)
//   sudo node --import tsx test/bench/soak.bench.ts       (or: npm run bench -- test/bench/soak.bench.ts)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { requireEnvOrExit } from './soak-env.ts';
import { buildTopology, ADDR } from '../lib/topology.ts';
import { Charon, siteToSiteConf, stopAll } from '../lib/strongswan.ts';
import { OutpostDaemon, branchConfig } from '../lib/outpost-daemon.ts';
import { ping as pingOnce, within } from '../lib/traffic.ts';

const REKEYS = Number(process.env.SOAK_REKEYS ?? 1000);
const MAX_MS = Number(process.env.SOAK_MAX_MINUTES ?? 45) * 60_000;
const CHILD_LIFE = Number(process.env.SOAK_CHILD_LIFETIME ?? 3);
const HQ_REKEY = Number(process.env.SOAK_HQ_REKEY ?? 3);
const HQ_RAND = Number(process.env.SOAK_HQ_RAND ?? 1);
const IKE_LIFE = Number(process.env.SOAK_IKE_LIFETIME ?? 60);
const PSK = 'soak-test-psk-0123456789';

interface Probe { t: number; rss: number; heapUsed: number; external: number; fds: number; timers: number; resources: Record<string, number>; listeners: number; maxListenerWarnings: number }

requireEnvOrExit();
const topo = buildTopology();
let hq: Charon | undefined;
let d: OutpostDaemon | undefined;
let ping: ChildProcess | undefined;
let failed = false;
let stopRequested = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { stopRequested = true; });
try {
  hq = await Charon.start(topo.hq, {
    name: 'hq',
    logLevels: { ike: 1, chd: 1, knl: 0, cfg: 1 },
    swanctlConf: siteToSiteConf({
      conn: 'branch', localAddrs: ADDR.hqWan, remoteAddrs: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net',
      psk: PSK, localTs: [ADDR.hqSubnet], remoteTs: [ADDR.branchSubnet], esp: ['aes256gcm16'],
      ikeRekeyTime: 0, rekeyTime: HQ_REKEY, lifeTime: HQ_REKEY ? Math.max(HQ_REKEY * 4, 20) : 0, randTime: HQ_RAND,
    }),
  });
  await hq.loadAll();
  // The probe rides in through NODE_OPTIONS, which the daemon's spawn inherits.
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${join(import.meta.dirname, 'soak-probe.mjs')}`.trim();
  d = new OutpostDaemon(topo.lab, topo.branch, {
    name: 'soak', config: branchConfig({ psk: PSK, esp: ['aes256gcm16'] }),
    env: { OUTPOST_LOG_LEVEL: 'info', OUTPOST_CHILD_LIFETIME_SECONDS: String(CHILD_LIFE), OUTPOST_IKE_LIFETIME_SECONDS: String(IKE_LIFE) },
  });
  d.start();
  delete process.env.NODE_OPTIONS;
  const probes: Probe[] = [];
  let rekeys = 0, ikeRekeys = 0, childUps = 0, downs = 0, connects = 0;
  let buf = '';
  const onData = (chunk: Buffer) => {
    buf += chunk.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.startsWith('soak-probe ')) probes.push(JSON.parse(line.slice(11)) as Probe);
      else if (/ child-rekeyed /.test(line)) rekeys++;
      else if (/ child-up /.test(line)) childUps++;
      else if (/ (ike-down|dpd-timeout) /.test(line)) downs++;
      else if (/ connecting /.test(line)) connects++;
    }
  };
  d.proc.stderr!.on('data', onData);
  d.proc.stdout!.on('data', onData);
  await within(d.waitFor(/ child-up /), 20_000, 'first child-up');
  await hq.waitForChildUp('net', { ike: 'branch' });
  ping = topo.lab.track(topo.lanhost.spawn('ping', ['-n', '-D', '-O', '-i', '0.2', '-W', '2', ADDR.hqhost]));
  // -O reports each echo not answered in time: the lost ones, with the time they were sent (-D).
  let pingTail = '';
  const lostAt: number[] = [];
  ping.stdout!.on('data', (c: Buffer) => {
    pingTail = (pingTail + c.toString()).slice(-4000);
    for (const m of c.toString().matchAll(/\[(\d+\.\d+)\] no answer yet for icmp_seq=\d+/g)) lostAt.push(Math.round(Number(m[1]) * 1000));
  });
  const started = Date.now();
  let lastPrint = 0;
  console.log(`soak: Outpost CHILD lifetime ${CHILD_LIFE} s, IKE lifetime ${IKE_LIFE} s; HQ rekey_time ${HQ_REKEY} s rand_time ${HQ_RAND} s; until ${REKEYS} CHILD rekeys or ${MAX_MS / 60_000} min`);
  console.log('  min   rekeys  ike-rekeys  rss(MB)  heap(MB)  fds  timers  handles  listeners  hq-children');
  // The engine logs no line of its own for an IKE rekey: count changes of the IKE SPIs in status.
  let ikeSpi = (await d.status()).tunnel.ikeSa?.spiInitiator;
  const ikeRekeyAt: number[] = [];
  while (!stopRequested && rekeys < REKEYS && Date.now() - started < MAX_MS && d.proc.exitCode === null) {
    await new Promise((r) => setTimeout(r, 1000));
    const spi = (await d.status()).tunnel.ikeSa?.spiInitiator;
    if (spi && spi !== ikeSpi) { ikeRekeys++; ikeSpi = spi; ikeRekeyAt.push(Date.now()); }
    const p = probes.at(-1);
    if (p && p.t !== lastPrint && (probes.length % 6 === 0)) {
      const hqChildren = (await hq.listSas()).reduce((n, s) => n + s.children.length, 0);
      lastPrint = p.t;
      const timers = p.timers;
      const handles = Object.entries(p.resources).filter(([k]) => k !== 'Timeout').reduce((n, [, v]) => n + v, 0);
      console.log(`  ${((Date.now() - started) / 60_000).toFixed(1).padStart(4)}  ${String(rekeys).padStart(6)}  ${String(ikeRekeys).padStart(10)}  ${(p.rss / 2 ** 20).toFixed(1).padStart(7)}  ${(p.heapUsed / 2 ** 20).toFixed(1).padStart(8)}  ${String(p.fds).padStart(3)}  ${String(timers).padStart(6)}  ${String(handles).padStart(7)}  ${String(p.listeners).padStart(9)}  ${String(hqChildren).padStart(11)}`);
    }
  }
  const minutes = (Date.now() - started) / 60_000;
  // Stop ping (SIGINT prints its summary), then check the tunnel still carries traffic.
  const pingDone = new Promise((r) => ping!.once('exit', r));
  ping.kill('SIGINT');
  await pingDone;
  const m = /(\d+) packets transmitted, (\d+) received/.exec(pingTail);
  const tx = Number(m?.[1] ?? 0), rx = Number(m?.[2] ?? 0);
  // The tunnel at the end: pings, retried for up to 20 s so a stall is measured, not just seen.
  const endCheck = Date.now();
  let passing = false;
  while (!passing && Date.now() - endCheck < 20_000) passing = pingOnce(topo.lanhost, ADDR.hqhost, { count: 3, wait: 2 }).received === 3;
  const stallMs = Date.now() - endCheck;
  const st = await d.status();
  if (lostAt.length) {
    // Loss bursts: lost echoes less than 1 s apart belong together.
    const bursts: { at: number; n: number }[] = [];
    for (const t of lostAt) { const b = bursts.at(-1); if (b && t - b.at < 1000 * b.n + 1000) b.n++; else bursts.push({ at: t, n: 1 }); }
    // Which bursts fall within 2 s of an IKE rekey (seen by polling status once a second)?
    const nearIke = bursts.filter((b) => ikeRekeyAt.some((t) => Math.abs(t - b.at) < 2000)).length;
    console.log(`loss bursts near an IKE rekey: ${nearIke} of ${bursts.length}`);
    console.log(`loss bursts (time, echoes lost): ${bursts.slice(0, 40).map((b) => `${new Date(b.at).toISOString().slice(11, 23)} x${b.n}`).join(', ')}${bursts.length > 40 ? ` ... (${bursts.length} bursts)` : ''}`);
  }
  if (!passing || stallMs > 3000) console.log(`end check: tunnel ${passing ? `passing after ${stallMs} ms` : 'NOT passing after 20 s'}; status ${JSON.stringify(st.tunnel)}`);
  // Growth: compare the mean of the last quarter of samples with the second quarter (the first
  // is warm-up: JIT, pools, the first IKE rekey).
  const q = Math.floor(probes.length / 4);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const early = probes.slice(q, 2 * q), late = probes.slice(-q);
  const growth = (f: (p: Probe) => number) => ({ early: mean(early.map(f)), late: mean(late.map(f)) });
  const rss = growth((p) => p.rss / 2 ** 20), heap = growth((p) => p.heapUsed / 2 ** 20), fds = growth((p) => p.fds);
  const timers = growth((p) => p.timers), listeners = growth((p) => p.listeners);
  console.log(`\nsoak: ${minutes.toFixed(1)} min, ${rekeys} CHILD rekeys seen by Outpost (${(rekeys / (minutes * 60)).toFixed(2)}/s), ${ikeRekeys} IKE rekeys, ${childUps} other child-up (the first included), ${downs} IKE SAs lost, ${Math.max(0, connects - 1)} reconnects`);
  console.log(`pings: ${tx} sent, ${rx} received, ${tx - rx} lost (${tx ? ((100 * (tx - rx)) / tx).toFixed(2) : '?'} %); tunnel passing traffic at the end: ${passing}; state ${st.tunnel.state}, ${st.tunnel.childSas.length} CHILD_SA(s)`);
  console.log(`rss MB ${rss.early.toFixed(1)} -> ${rss.late.toFixed(1)}, heap MB ${heap.early.toFixed(1)} -> ${heap.late.toFixed(1)}, fds ${fds.early.toFixed(1)} -> ${fds.late.toFixed(1)}, timers ${timers.early.toFixed(1)} -> ${timers.late.toFixed(1)}, listeners ${listeners.early.toFixed(1)} -> ${listeners.late.toFixed(1)}`);
  console.log(`daemon resources at the end: ${JSON.stringify(probes.at(-1)?.resources)}`);
  if (st.tunnel.ike) console.log(`ike counters: ${JSON.stringify(st.tunnel.ike)}`);
  if (st.tunnel.dataPlane) console.log(`data plane drops: ${JSON.stringify(st.tunnel.dataPlane.drops)}`);
  const hqSas = await hq.listSas();
  console.log(`HQ: ${hqSas.length} IKE_SA(s), ${hqSas.reduce((n, s) => n + s.children.length, 0)} CHILD_SA(s)`);
  const problems = [
    !passing && 'tunnel not passing traffic at the end',
    downs > 0 && 'IKE SA lost',
    st.tunnel.childSas.length !== 1 && `${st.tunnel.childSas.length} CHILD_SAs at the end`,
    st.tunnel.state !== 'up' && `tunnel ${st.tunnel.state}`,
    fds.late > fds.early + 3 && 'open fds grew',
    timers.late > timers.early + 5 && 'timers grew',
    listeners.late > listeners.early + 2 && 'listeners grew',
    (probes.at(-1)?.maxListenerWarnings ?? 0) > 0 && 'MaxListenersExceededWarning',
    rss.late > rss.early * 1.5 + 20 && 'resident memory grew',
  ].filter(Boolean);
  if (problems.length) {
    failed = true;
    console.log(`SOAK FAILED: ${problems.join('; ')}`);
    console.log(d.tail(60));
  } else console.log('soak: OK');
} catch (e) {
  failed = true;
  console.error(e);
  if (d) console.error(d.tail(60));
  if (hq) console.error(hq.logTail(40));
} finally {
  if (ping && ping.exitCode === null) ping.kill('SIGINT');
  await d?.stop();
  await stopAll([hq]);
  await topo.lab.destroy();
}
process.exit(failed ? 1 : 0);
