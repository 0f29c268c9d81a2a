// Data-plane performance side by side, in the standard topology (lanhost - branch - hq - hqhost),
// every tunnel end a real process in its namespace on this machine:
//   strongswan   strongSwan 5.9.8 both ends, kernel-libipsec (userspace ESP in UDP 4500)
//   wireguard-go Debian's wireguard-go both ends (ChaCha20-Poly1305 only)
//   outpost      the bundled Outpost daemon both ends (branch initiator, HQ responder), IKE + ESP
//   outpost>ss   an Outpost branch towards a strongSwan HQ (limited by strongSwan; Outpost's CPU shown)
// Rounds interleave the implementations (A B A B ...), each in a fresh topology. Per run:
//   TCP   iperf3 -c hqhost from lanhost, one stream, IPERF_SECONDS; CPU of the tunnel processes
//         from /proc (both ends, share of one core) and their resident memory
//   idle  resident memory with the tunnel up STEADY_SECONDS (10) before any traffic
//   RTT   ping lanhost -> hqhost at idle, less plain routing's in the same round
//   flood (first round) iperf3 -u -b 1G for FLOOD_SECONDS: what arrives, the largest and the last
//         resident memory of the tunnel processes, Outpost's drop counters, and its IKE SA still up
// Prints one table (medians over rounds, min-max) with the ratios to strongSwan and wireguard-go.
// Asserts nothing. Needs root, iperf3, swanctl, wireguard-go. Run: npm run bench test/bench/throughput.bench.ts
// Env: ROUNDS (3), IPERF_SECONDS (10), FLOOD_SECONDS (5), STEADY_SECONDS (10), SUITES ("aes256gcm16,chacha20poly1305"),
//      IMPLS ("strongswan,wireguard-go,outpost,outpost>ss").
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { have, waitForLine, withTimeout } from '../lib/netns.ts';
import { Charon, siteToSiteConf, stopAll } from '../lib/strongswan.ts';
import { ADDR, buildTopology, type Topology } from '../lib/topology.ts';
import { startWireGuardPair } from '../lib/wireguard.ts';
import { BENCH_PSK, bundleOutpost, OutpostProc, outpostConfig } from '../lib/outpost-bundle.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const IPERF_SECONDS = Number(process.env.IPERF_SECONDS ?? 10);
const FLOOD_SECONDS = Number(process.env.FLOOD_SECONDS ?? 5);
const SUITES = (process.env.SUITES ?? 'aes256gcm16,chacha20poly1305').split(',');
const IMPLS = (process.env.IMPLS ?? 'strongswan,wireguard-go,outpost,outpost>ss').split(',') as Impl[];
const PSK = BENCH_PSK;
/** Idle memory is read this long after the tunnel is up, when every implementation has settled. */
const STEADY_SECONDS = Number(process.env.STEADY_SECONDS ?? 10);

type Impl = 'strongswan' | 'wireguard-go' | 'outpost' | 'outpost>ss';

const missing = ['iperf3', 'swanctl', 'wireguard-go', 'wg', 'ping'].filter((c) => !have(c));
if (process.getuid?.() !== 0 || missing.length) {
  console.log(`SKIPPED: needs root and ${missing.join(', ') || 'nothing else'}`);
  process.exit(0);
}

const progress = (s: string) => process.stderr.write(`  .. ${s}\n`);
const median = (xs: number[]) => { const s = xs.filter(Number.isFinite).sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)]! : NaN; };
const CLK_TCK = 100;

/** CPU seconds (user + system), resident MB, and of that the anonymous MB (not the binary's
 *  and libraries' file pages) of a process. */
function proc(pid: number): { cpu: number; rssMb: number; anonMb: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1]) / 1024;
    return { cpu: (Number(f[11]) + Number(f[12])) / CLK_TCK, rssMb: kb('VmRSS'), anonMb: kb('RssAnon') };
  } catch {
    return { cpu: NaN, rssMb: NaN, anonMb: NaN };
  }
}

/** A charon's milliseconds since midnight from its log, an Outpost log line's from its ISO time. */
const charonMs = (line: string) => { const m = /^(\d\d):(\d\d):(\d\d)\.(\d{3})/.exec(line); return m ? ((+m[1]! * 60 + +m[2]!) * 60 + +m[3]!) * 1000 + +m[4]! : NaN; };
const isoMs = (line: string) => Date.parse(line.split(' ')[0]!);

// ---- setups ----------------------------------------------------------------------------------

interface Running {
  /** Tunnel processes, branch first. */
  pids: Array<{ label: string; pid: number; outpost?: OutpostProc }>;
  /** In-daemon time from the first IKE message to the CHILD_SA installed, at the branch. */
  setupMs?: number;
  /** Inner MTU of the tunnel, for the table's notes. */
  mtu: number;
  stop(): Promise<void>;
}

const ssConf = (role: 'branch' | 'hq', esp: string) => role === 'hq'
  ? siteToSiteConf({ conn: 'branch', localAddrs: ADDR.hqWan, remoteAddrs: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net', psk: PSK, localTs: [ADDR.hqSubnet], remoteTs: [ADDR.branchSubnet], ike: [`${esp}-prfsha256-x25519`], esp: [esp] })
  : siteToSiteConf({ conn: 'hq', localAddrs: ADDR.branchWan, remoteAddrs: ADDR.hqWan, localId: 'branch.example.net', remoteId: 'hq.example.net', psk: PSK, localTs: [ADDR.branchSubnet], remoteTs: [ADDR.hqSubnet], ike: [`${esp}-prfsha256-x25519`], esp: [esp] });
// Quiet, but the harness waits for "[JOB] spawning N worker threads" and the setup time reads IKE/CHD lines.
const QUIET = { ike: 1, cfg: 0, chd: 1, knl: 0, net: 0, esp: 0, mgr: 0, job: 1, lib: 0 };

async function startStrongSwan(topo: Topology, esp: string): Promise<Running> {
  let branch: Charon | undefined, hq: Charon | undefined;
  try {
    hq = await Charon.start(topo.hq, { name: 'hq', logLevels: QUIET, swanctlConf: ssConf('hq', esp) });
    branch = await Charon.start(topo.branch, { name: 'branch', logLevels: QUIET, swanctlConf: ssConf('branch', esp) });
    await hq.loadAll();
    await branch.loadAll();
    const off = branch.logOffset();
    await branch.initiate('net', 'hq');
    await hq.waitForChildUp('net');
    const log = branch.logText(off).split('\n');
    const start = log.find((l) => /initiating IKE_SA/.test(l)), up = log.find((l) => /CHILD_SA net\{\d+\} established/.test(l));
    const b = branch, h = hq;
    return {
      pids: [{ label: 'branch', pid: b.pid! }, { label: 'hq', pid: h.pid! }], mtu: 1400,
      ...(start && up ? { setupMs: charonMs(up) - charonMs(start) } : {}),
      stop: () => stopAll([b, h]),
    };
  } catch (e) {
    await stopAll([branch, hq]);
    throw e;
  }
}

async function startWg(topo: Topology): Promise<Running> {
  const wg = await startWireGuardPair(topo.lab, topo.branch, topo.hq, ADDR);
  // WireGuard's first packet does the handshake: send one so the measurement starts established.
  topo.lanhost.run('ping', '-n', '-c', '2', '-i', '0.2', '-W', '3', ADDR.hqhost);
  return { pids: [{ label: 'branch', pid: wg.branch.pid }, { label: 'hq', pid: wg.hq.pid }], mtu: 1420, stop: async () => wg.cleanup() };
}

async function startOutpost(topo: Topology, esp: string, bundle: string, hqIsStrongSwan: boolean): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-run-'));
  let charon: Charon | undefined;
  try {
    let hq: OutpostProc | undefined;
    if (hqIsStrongSwan) {
      charon = await Charon.start(topo.hq, { name: 'hq', logLevels: QUIET, swanctlConf: ssConf('hq', esp) });
      await charon.loadAll();
    } else {
      hq = new OutpostProc(topo, topo.hq, dir, bundle, 'hq', outpostConfig(topo, 'hq', esp));
      await hq.waitFor(/control socket listening/, 'hq daemon ready');
    }
    const branch = new OutpostProc(topo, topo.branch, dir, bundle, 'branch', outpostConfig(topo, 'branch', esp));
    const mtuLine = branch.waitFor(/ mtu .*tunMtu=\d+/, 'branch MTU');
    const connecting = branch.waitFor(/ike: connecting/, 'branch connecting');
    const up = branch.waitFor(/ike: child-up/, 'branch CHILD_SA up');
    const setupMs = isoMs(await up) - isoMs(await connecting);
    if (charon) await charon.waitForChildUp('net');
    const mtu = Number(/tunMtu=(\d+)/.exec(await mtuLine)![1]);
    const c = charon;
    return {
      pids: [{ label: 'branch', pid: branch.pid, outpost: branch }, hq ? { label: 'hq', pid: hq.pid, outpost: hq } : { label: 'hq(strongSwan)', pid: c!.pid! }],
      setupMs, mtu,
      stop: async () => {
        for (const p of [branch, hq]) {
          if (!p || p.proc.exitCode !== null) continue;
          const done = new Promise((r) => p.proc.once('exit', r));
          p.proc.kill('SIGTERM');
          await withTimeout(done, 10_000, 'outpost exit').catch(() => p.proc.kill('SIGKILL'));
        }
        await stopAll([c]);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await stopAll([charon]);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

// ---- measurements ----------------------------------------------------------------------------

async function iperf(topo: Topology, args: string[], seconds: number): Promise<any> {
  const server = topo.lab.track(topo.hqhost.spawn('iperf3', ['-s', '-1', '--forceflush', '-B', ADDR.hqhost]));
  await withTimeout(waitForLine(server, (l) => /Server listening/.test(l), 'iperf3 server'), 10_000, 'iperf3 server');
  const client = topo.lab.track(topo.lanhost.spawn('iperf3', ['-c', ADDR.hqhost, '-t', String(seconds), '-J', ...args]));
  let out = '';
  client.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await withTimeout(new Promise<number | null>((r) => client.once('exit', (c) => r(c))), seconds * 1000 + 30_000, 'iperf3 client');
  await withTimeout(new Promise((r) => (server.exitCode !== null ? r(null) : server.once('exit', r))), 10_000, 'iperf3 server exit').catch(() => server.kill('SIGKILL'));
  if (code !== 0) throw new Error(`iperf3 ${args.join(' ')} failed (${code}): ${out.slice(0, 400)}`);
  return JSON.parse(out);
}

async function tcp(topo: Topology, r: Running): Promise<{ mbps: number; cpu: number[]; rss: number[] }> {
  const before = r.pids.map((p) => proc(p.pid));
  const j = await iperf(topo, [], IPERF_SECONDS);
  const after = r.pids.map((p) => proc(p.pid));
  const secs = j.end.sum_received.seconds as number;
  return { mbps: j.end.sum_received.bits_per_second / 1e6, cpu: after.map((a, i) => (100 * (a.cpu - before[i]!.cpu)) / secs), rss: after.map((a) => a.rssMb) };
}

/** Median RTT lanhost -> hqhost in ms over 100 pings (the median: other load on the machine
 *  delays a few of them by milliseconds, which an average would carry). */
function rtt(topo: Topology): number {
  const out = topo.lanhost.run('ping', '-n', '-c', '100', '-i', '0.01', '-W', '2', ADDR.hqhost);
  return median([...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])));
}

interface Flood { mbps: number; lossPct: number; rssMax: number[]; rssEnd: number[]; drops: string; ikeUp: string }

async function flood(topo: Topology, r: Running): Promise<Flood> {
  const rssMax = r.pids.map(() => 0);
  const sample = setInterval(() => r.pids.forEach((p, i) => { rssMax[i] = Math.max(rssMax[i]!, proc(p.pid).rssMb); }), 200);
  let j: any;
  try {
    j = await iperf(topo, ['-u', '-b', '1G', '-l', '1300'], FLOOD_SECONDS);
  } finally {
    clearInterval(sample);
  }
  const s = j.end.sum;
  const drops: string[] = [];
  let ikeUp = '-';
  for (const p of r.pids) {
    if (!p.outpost) continue;
    try {
      const st = await p.outpost.status();
      const all = st.tunnel.dataPlane?.drops ?? st.tunnel.childSas[0]?.drops ?? {};
      const d = Object.entries(all).filter(([k, v]) => v && k !== 'no_policy').map(([k, v]) => `${k}=${v}`).join(',');
      drops.push(`${p.label}:${d || '-'}`);
      ikeUp = (ikeUp === '-' ? '' : ikeUp + ' ') + `${p.label}:${st.tunnel.state}`;
    } catch (e) {
      drops.push(`${p.label}:status failed (${(e as Error).message})`);
    }
  }
  return {
    mbps: (s.bits_per_second / 1e6) * (1 - (s.lost_percent ?? 0) / 100), lossPct: s.lost_percent ?? NaN,
    rssMax, rssEnd: r.pids.map((p) => proc(p.pid).rssMb), drops: drops.join(' '), ikeUp,
  };
}

// ---- the run ---------------------------------------------------------------------------------

interface Sample { mbps: number; cpu: number[]; rss: number[]; rssIdle: number[]; anonIdle: number[]; rttAdded: number; setupMs?: number; flood?: Flood; mtu: number }
const results = new Map<string, Sample[]>();
const plainMbps: number[] = [];
const key = (impl: Impl, esp: string) => impl === 'wireguard-go' ? 'wireguard-go|chacha20poly1305' : `${impl}|${esp}`;

const runs: Array<{ impl: Impl; esp: string }> = [];
for (const impl of IMPLS) {
  if (impl === 'wireguard-go') runs.push({ impl, esp: 'chacha20poly1305' });
  else if (impl === 'outpost>ss') runs.push({ impl, esp: SUITES[0]! });
  else for (const esp of SUITES) runs.push({ impl, esp });
}

const bundle = await bundleOutpost();
const t0 = performance.now();
try {
  for (let round = 0; round < ROUNDS; round++) {
    // Plain routing in the same round: the RTT baseline (and, once, TCP for scale).
    let plainRtt = NaN;
    {
      const topo = buildTopology();
      try {
        topo.branch.ip('route', 'add', ADDR.hqSubnet, 'via', ADDR.hqWan);
        topo.hq.ip('route', 'add', ADDR.branchSubnet, 'via', ADDR.branchWan);
        plainRtt = rtt(topo);
        if (round === 0) plainMbps.push((await iperf(topo, [], Math.min(IPERF_SECONDS, 5))).end.sum_received.bits_per_second / 1e6);
      } finally {
        await topo.lab.destroy();
      }
    }
    // Rotate the order each round so no implementation always runs first (A B, B A, ...).
    const order = runs.map((_, i) => runs[(i + round) % runs.length]!);
    for (const { impl, esp } of order) {
      progress(`round ${round + 1}/${ROUNDS}: ${impl} ${esp}`);
      const topo = buildTopology();
      let r: Running | undefined;
      try {
        r = impl === 'strongswan' ? await startStrongSwan(topo, esp)
          : impl === 'wireguard-go' ? await startWg(topo)
          : await startOutpost(topo, esp, bundle, impl === 'outpost>ss');
        await new Promise((res) => setTimeout(res, STEADY_SECONDS * 1000));
        const idle = r.pids.map((p) => proc(p.pid));
        const rssIdle = idle.map((p) => p.rssMb), anonIdle = idle.map((p) => p.anonMb);
        const added = rtt(topo) - plainRtt;
        const t = await tcp(topo, r);
        const sample: Sample = { ...t, rssIdle, anonIdle, rttAdded: added, mtu: r.mtu, ...(r.setupMs !== undefined ? { setupMs: r.setupMs } : {}) };
        if (round === 0 && FLOOD_SECONDS > 0) sample.flood = await flood(topo, r);
        const k = key(impl, esp);
        results.set(k, [...(results.get(k) ?? []), sample]);
      } catch (e) {
        progress(`${impl} ${esp} failed: ${(e as Error).message.split('\n').slice(0, 6).join(' | ')}`);
      } finally {
        await r?.stop().catch(() => {});
        await topo.lab.destroy();
      }
    }
  }
} finally {
  rmSync(bundle, { recursive: true, force: true });
}

// ---- the table -------------------------------------------------------------------------------

const fmt = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const range = (xs: number[], d = 0) => `${fmt(median(xs), d)} (${fmt(Math.min(...xs), d)}-${fmt(Math.max(...xs), d)})`;
const per = (ss: Sample[], f: (s: Sample) => number[]) => [0, 1].map((i) => median(ss.map((s) => f(s)[i] ?? NaN)));
const med = (k: string) => median((results.get(k) ?? []).map((s) => s.mbps));

const head = ['tunnel', 'ESP', `TCP Mbit/s (${IPERF_SECONDS}s, median of ${ROUNDS}: min-max)`, 'x strongSwan', 'x wireguard-go',
  'CPU % of a core br/hq', 'RSS MB idle br/hq (anon)', 'RSS MB after TCP', 'RTT added ms', 'setup ms', `UDP 1G ${FLOOD_SECONDS}s: Mbit/s delivered, loss`, 'flood RSS max/end MB br/hq', 'flood drops (Outpost)', 'IKE after flood'];
const rows: string[][] = [];
for (const { impl, esp } of runs) {
  const k = key(impl, esp);
  const ss = results.get(k) ?? [];
  if (ss.length === 0) { rows.push([impl, esp, 'failed', ...head.slice(3).map(() => '-')]); continue; }
  const mbps = ss.map((s) => s.mbps);
  const vsSs = med(`strongswan|${esp}`), vsWg = med('wireguard-go|chacha20poly1305');
  const f = ss.find((s) => s.flood)?.flood;
  const setup = ss.map((s) => s.setupMs ?? NaN).filter(Number.isFinite);
  rows.push([
    impl, esp, range(mbps),
    impl === 'strongswan' ? '1' : fmt(median(mbps) / vsSs, 2), impl === 'wireguard-go' ? '1' : fmt(median(mbps) / vsWg, 2),
    per(ss, (s) => s.cpu).map((x) => fmt(x)).join(' / '),
    [0, 1].map((i) => `${fmt(per(ss, (s) => s.rssIdle)[i]!, 1)} (${fmt(per(ss, (s) => s.anonIdle)[i]!, 1)})`).join(' / '),
    per(ss, (s) => s.rss).map((x) => fmt(x, 1)).join(' / '),
    fmt(median(ss.map((s) => s.rttAdded)), 3),
    setup.length ? fmt(median(setup), 0) : '-',
    f ? `${fmt(f.mbps)}, ${fmt(f.lossPct, 1)}%` : '-',
    f ? f.rssMax.map((x, i) => `${fmt(x, 1)}/${fmt(f.rssEnd[i]!, 1)}`).join(' ; ') : '-',
    f?.drops || '-', f?.ikeUp ?? '-',
  ]);
}
const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => '| ' + r.map((c, i) => c.padEnd(w[i]!)).join(' | ') + ' |';
console.log(`\nData-plane throughput, ${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}, node ${process.version}, load average at end ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
console.log(`plain routing (no tunnel) TCP: ${fmt(median(plainMbps))} Mbit/s; inner MTU: strongSwan 1400 (libipsec), wireguard-go 1420, Outpost ${[...results.entries()].filter(([k]) => k.startsWith('outpost|')).map(([, v]) => v[0]!.mtu).find((m) => m) ?? '?'}`);
console.log(line(head));
console.log('|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|');
for (const r of rows) console.log(line(r));
