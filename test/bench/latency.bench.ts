// Round-trip time added by a tunnel at idle, and where Outpost's share of it goes.
//
// In the standard topology (lanhost - branch - hq - hqhost), per round, each in a fresh topology:
//   plain    routing only (the baseline every "added" figure subtracts);
//   floor    udp-relay.c at both ends: TUN <-> UDP in C, no crypto, no policy, a packet sent as
//            soon as it is read. What any userspace tunnel pays here for its four wake-ups;
//   outpost  the bundled daemon at both ends (AES-256-GCM), measured the same way; then per hop,
//            in a second run of pings, from captures on the gateways' four interfaces (dumpcap):
//            lanhost -> branch (TUN in, ESP out) -> hq (ESP in, TUN out) -> hqhost and back.
// RTT: the median of PINGS (200) pings at 10 ms from lanhost to hqhost. Prints one table.
// Needs root, cc, dumpcap and tshark. Run: npm run bench test/bench/latency.bench.ts  (ROUNDS, PINGS)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { have, waitForLine, withTimeout } from '../lib/netns.ts';
import { ADDR, buildTopology, type Topology } from '../lib/topology.ts';
import { bundleOutpost, OutpostProc, outpostConfig } from '../lib/outpost-bundle.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const PINGS = Number(process.env.PINGS ?? 200);
const missing = ['cc', 'dumpcap', 'tshark', 'ping'].filter((c) => !have(c));
if (process.getuid?.() !== 0 || missing.length) {
  console.log(`SKIPPED: needs root and ${missing.join(', ') || 'nothing else'}`);
  process.exit(0);
}
const progress = (s: string) => process.stderr.write(`  .. ${s}\n`);
const median = (xs: number[]) => { const s = xs.filter(Number.isFinite).sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)]! : NaN; };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pingMs(topo: Topology): number[] {
  const out = topo.lanhost.run('ping', '-n', '-c', String(PINGS), '-i', '0.01', '-W', '2', ADDR.hqhost);
  return [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
}

async function plain(): Promise<number> {
  const topo = buildTopology();
  try {
    topo.branch.ip('route', 'add', ADDR.hqSubnet, 'via', ADDR.hqWan);
    topo.hq.ip('route', 'add', ADDR.branchSubnet, 'via', ADDR.branchWan);
    return median(pingMs(topo));
  } finally {
    await topo.lab.destroy();
  }
}

interface Round { rtt: number; hops: number[][] }

async function floor(relay: string): Promise<Round> {
  const topo = buildTopology();
  const dir = mkdtempSync(join(tmpdir(), 'relay-latency-'));
  try {
    const ends: Array<[Topology['branch'], string, string, string]> = [[topo.branch, ADDR.branchWan, ADDR.hqWan, ADDR.hqSubnet], [topo.hq, ADDR.hqWan, ADDR.branchWan, ADDR.branchSubnet]];
    for (const [ns, local, peer] of ends) {
      const p = topo.lab.track(ns.spawn(relay, ['rl0', local, peer, '4600']));
      await withTimeout(waitForLine(p, (l) => /ready/.test(l), 'relay'), 5000, 'relay ready');
    }
    for (const [ns, , , remote] of ends) { ns.ip('link', 'set', 'rl0', 'up'); ns.ip('route', 'add', remote, 'dev', 'rl0'); }
    return { rtt: median(pingMs(topo)), hops: await captureHops(topo, dir) };
  } finally {
    await topo.lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

const HOPS = ['branch: LAN in -> ESP out', 'wire', 'hq: ESP in -> LAN out', 'hqhost answers', 'hq: LAN in -> ESP out', 'wire', 'branch: ESP in -> LAN out'] as const;

// Per hop, from captures (which cost a little themselves) on both gateways, two interfaces each
// (interface ids 0 and 1 in each file), during a second run of pings.
async function captureHops(topo: Topology, dir: string): Promise<number[][]> {
  const caps = ([['branch', topo.ifs.branchLan, topo.ifs.branchWan], ['hq', topo.ifs.hqWan, topo.ifs.hqLan]] as const).map(([name, a, b]) => {
    const file = join(dir, `${name}.pcapng`);
    const p = topo.lab.track(topo[name].spawn('dumpcap', ['-q', '-i', a, '-i', b, '-w', file]));
    return { name, file, p };
  });
  await sleep(1500); // dumpcap says nothing when it starts capturing: give it time
  pingMs(topo);
  for (const c of caps) { c.p.kill('SIGINT'); await withTimeout(new Promise((r) => c.p.once('exit', r)), 10_000, 'dumpcap exit'); }
  // Events in time order: (time, where, what); the tunnel's packets are ESP or, for the relay, plain UDP.
  const ev: Array<[number, string]> = [];
  for (const c of caps) {
    const out = execFileSync('tshark', ['-r', c.file, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.interface_id', '-e', 'icmp.type', '-e', 'udp.port'], { encoding: 'utf8' });
    for (const l of out.trim().split('\n')) {
      const [t, i, type, port] = l.split('\t');
      ev.push([Number(t), `${c.name}${i}:${type && !port ? `icmp${type}` : port ? 'tunnel' : 'other'}`]);
    }
  }
  ev.sort((a, b) => a[0] - b[0]);
  const path = ['branch0:icmp8', 'branch1:tunnel', 'hq0:tunnel', 'hq1:icmp8', 'hq1:icmp0', 'hq0:tunnel', 'branch1:tunnel', 'branch0:icmp0'];
  const hops: number[][] = HOPS.map(() => []);
  for (let i = 0; i < ev.length; i++) {
    if (ev[i]![1] !== path[0]) continue;
    const ts = [ev[i]![0]];
    for (let j = i + 1; j < ev.length && ts.length < path.length; j++) if (ev[j]![1] === path[ts.length]) ts.push(ev[j]![0]);
    if (ts.length === path.length) for (let h = 0; h < HOPS.length; h++) hops[h]!.push((ts[h + 1]! - ts[h]!) * 1e6);
  }
  return hops;
}

interface OutpostRound extends Round { flowCache: string }

async function outpost(bundle: string): Promise<OutpostRound> {
  const topo = buildTopology();
  const dir = mkdtempSync(join(tmpdir(), 'outpost-latency-'));
  try {
    const hq = new OutpostProc(topo, topo.hq, dir, bundle, 'hq', outpostConfig(topo, 'hq', 'aes256gcm16'));
    await hq.waitFor(/control socket listening/, 'hq ready');
    const branch = new OutpostProc(topo, topo.branch, dir, bundle, 'branch', outpostConfig(topo, 'branch', 'aes256gcm16'));
    await branch.waitFor(/ike: child-up/, 'branch CHILD_SA up');
    topo.lanhost.run('ping', '-n', '-c', '3', '-i', '0.2', ADDR.hqhost); // the flow's first packets
    const rtt = median(pingMs(topo));
    const hops = await captureHops(topo, dir);
    const fc = (await branch.status()).tunnel.dataPlane?.flowCache;
    return { rtt, hops, flowCache: fc ? `${fc.out} out, ${fc.in} in` : '-' };
  } finally {
    await topo.lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

const work = mkdtempSync(join(tmpdir(), 'outpost-relay-'));
const relay = join(work, 'udp-relay');
execFileSync('cc', ['-O2', '-o', relay, fileURLToPath(new URL('./relay/udp-relay.c', import.meta.url))]);
const bundle = await bundleOutpost();
const plains: number[] = [], floors: Round[] = [], outposts: OutpostRound[] = [];
try {
  for (let r = 0; r < ROUNDS; r++) {
    progress(`round ${r + 1}/${ROUNDS}`);
    const p = await plain();
    plains.push(p);
    // Alternate the order of the two tunnels from round to round.
    if (r % 2 === 0) { floors.push(await floor(relay)); outposts.push(await outpost(bundle)); }
    else { outposts.push(await outpost(bundle)); floors.push(await floor(relay)); }
    floors.at(-1)!.rtt -= p;
    outposts.at(-1)!.rtt -= p;
  }
} finally {
  rmSync(bundle, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}

const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const range = (xs: number[], d = 3) => `${f(median(xs), d)} (${f(Math.min(...xs), d)}-${f(Math.max(...xs), d)})`;
console.log(`\nIdle round trip lanhost -> hqhost, ${PINGS} pings at 10 ms, median per round; ${ROUNDS} rounds, load average at end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`plain routing RTT: ${range(plains)} ms\n`);
console.log('| tunnel | RTT added, ms (median of rounds: min-max) |');
console.log('|---|---|');
console.log(`| floor: C relay, no crypto (udp-relay.c) | ${range(floors.map((o) => o.rtt))} |`);
console.log(`| Outpost, AES-256-GCM | ${range(outposts.map((o) => o.rtt))} |`);
console.log(`\nPer hop (us, median over all pings of all rounds); Outpost's flow cache at the branch: ${outposts.map((o) => o.flowCache).join('; ')}\n`);
console.log('| hop | floor | Outpost |');
console.log('|---|---|---|');
const hop = (rs: Round[], i: number) => f(median(rs.flatMap((o) => o.hops[i]!)), 0);
HOPS.forEach((h, i) => console.log(`| ${h} | ${hop(floors, i)} | ${hop(outposts, i)} |`));
