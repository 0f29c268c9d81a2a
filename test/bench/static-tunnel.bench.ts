// Throughput of Outpost's data plane with static keys (no IKE): iperf3 TCP lanhost -> hqhost
// through branch and hq running test/lib/static-peer.ts, per AEAD, against plain routing as the
// baseline. Also the peers' CPU time (from /proc) and data-plane drops. Prints a table; asserts nothing.
// Run: node --import tsx test/bench/static-tunnel.bench.ts
// Env: IPERF_SECONDS (default 5), SUITES (default "aes256gcm16,aes128gcm16,chacha20poly1305").
import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { have, waitForLine } from '../lib/netns.ts';
import { ADDR, buildTopology, type Topology } from '../lib/topology.ts';
import { peerStatus, startStaticPair, type PeerStatus } from '../lib/static-pair.ts';

const IPERF_SECONDS = Number(process.env.IPERF_SECONDS ?? 5);
const SUITES = (process.env.SUITES ?? 'aes256gcm16,aes128gcm16,chacha20poly1305').split(',');

if (process.getuid?.() !== 0 || !have('iperf3')) {
  console.log('SKIPPED: needs root and iperf3');
  process.exit(0);
}

const CLK_TCK = 100; // Linux USER_HZ
/** utime + stime of a process in seconds, and its resident memory in MB. */
function procStats(pid: number): { cpu: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
  const cpu = (Number(f[11]) + Number(f[12])) / CLK_TCK; // fields 14, 15
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpu, rssMb: m ? Number(m[1]) / 1024 : NaN };
}

async function iperf(topo: Topology, seconds: number): Promise<{ mbps: number; retransmits: number }> {
  // --forceflush: iperf3 buffers stdout on a pipe, and the readiness line would never come.
  const server = topo.lab.track(topo.hqhost.spawn('iperf3', ['-s', '-1', '-B', ADDR.hqhost, '--forceflush']));
  await waitForLine(server, (l) => /Server listening/.test(l), 'iperf3 server listening');
  const client = topo.lab.track(topo.lanhost.spawn('iperf3', ['-c', ADDR.hqhost, '-t', String(seconds), '-J']));
  let out = '';
  client.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((r) => client.once('exit', (c) => r(c)));
  await new Promise((r) => (server.exitCode !== null ? r(null) : server.once('exit', r)));
  if (code !== 0) throw new Error(`iperf3 client failed (${code}): ${out.slice(0, 500)}`);
  const j = JSON.parse(out);
  return { mbps: j.end.sum_received.bits_per_second / 1e6, retransmits: j.end.sum_sent.retransmits ?? 0 };
}

/** Kernel-side drops in a gateway namespace: UDP receive buffer overflows and TUN queue overflows. */
function kernelDrops(ns: Topology['branch'], tun: string): string {
  const snmp = ns.run('cat', '/proc/net/snmp').split('\n').filter((l) => l.startsWith('Udp:'));
  const [names, values] = snmp.map((l) => l.trim().split(/\s+/));
  const rcvbuf = values?.[names?.indexOf('RcvbufErrors') ?? -1] ?? '?';
  const link = JSON.parse(ns.ip('-s', '-j', 'link', 'show', 'dev', tun)) as Array<{ stats64?: { tx?: { dropped?: number } } }>;
  return `${rcvbuf}/${link[0]?.stats64?.tx?.dropped ?? '?'}`;
}

const dropsText = (s: PeerStatus) => {
  const d = { ...s.dataplane.drops };
  if (s.udp.sendQueueFull) d.udp_queue_full = s.udp.sendQueueFull;
  if (s.udp.sendErrors) d.udp_send_errors = s.udp.sendErrors;
  const e = Object.entries(d).filter(([, v]) => v);
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(',') : '-';
};

const rows: string[][] = [];

{
  const topo = buildTopology();
  try {
    topo.branch.ip('route', 'add', ADDR.hqSubnet, 'via', ADDR.hqWan);
    topo.hq.ip('route', 'add', ADDR.branchSubnet, 'via', ADDR.branchWan);
    const r = await iperf(topo, IPERF_SECONDS);
    rows.push(['none (plain routing)', r.mbps.toFixed(0), String(r.retransmits), '-', '-', '-', '-', '-']);
  } finally {
    await topo.lab.destroy();
  }
}

for (const aead of SUITES) {
  const topo = buildTopology();
  let cleanup = () => {};
  try {
    const pair = await startStaticPair(topo, { aead });
    cleanup = pair.cleanup;
    const peers: ChildProcess[] = [pair.branch, pair.hq];
    const before = peers.map((p) => procStats(p.pid!));
    const r = await iperf(topo, IPERF_SECONDS);
    const after = peers.map((p) => procStats(p.pid!));
    const kernel = `${kernelDrops(topo.branch, pair.config.branch.tun)} | ${kernelDrops(topo.hq, pair.config.hq.tun)}`;
    const [bs, hs] = [await peerStatus(pair.branch), await peerStatus(pair.hq)];
    const cpu = after.map((a, i) => a.cpu - before[i]!.cpu);
    rows.push([
      aead, r.mbps.toFixed(0), String(r.retransmits),
      cpu.map((c) => `${c.toFixed(2)}s (${((100 * c) / IPERF_SECONDS).toFixed(0)}%)`).join(' / '),
      after.map((a) => a.rssMb.toFixed(0)).join(' / '),
      `${bs.dataplane.packetsOut} / ${hs.dataplane.packetsIn}`,
      `${dropsText(bs)} | ${dropsText(hs)}`, kernel,
    ]);
  } finally {
    cleanup();
    await topo.lab.destroy();
  }
}

const head = ['ESP (static keys)', `TCP lanhost->hqhost Mbit/s (${IPERF_SECONDS}s)`, 'TCP retr',
  'CPU branch / hq (share of one core)', 'RSS MB br/hq', 'ESP pkts br out / hq in', 'drops branch | hq',
  'kernel drops UDP-rcvbuf/TUN-tx br | hq'];
console.log(`Outpost data plane, static keys, iperf3 ${IPERF_SECONDS}s, TUN MTU 1400, node ${process.version}, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const fmt = (r: string[]) => r.map((c, i) => c.padEnd(w[i]!)).join(' | ');
console.log(fmt(head));
console.log(w.map((n) => '-'.repeat(n)).join('-|-'));
for (const r of rows) console.log(fmt(r));
