// Reference numbers for later benchmarks: strongSwan 5.9.8 against itself in the standard
// topology (branch initiator, hq responder), PSK, kernel-libipsec (userspace ESP in UDP 4500).
// Prints a table; asserts nothing. Run: node --import tsx test/bench/reference-strongswan.bench.ts
// Env: ROUNDS (default 5), IPERF_SECONDS (default 5), SUITES (default "aes256gcm16,chacha20poly1305").
import { readFileSync } from 'node:fs';
import { buildTopology, ADDR, type Topology } from '../lib/topology.ts';
import { waitForLine, have, withTimeout } from '../lib/netns.ts';
import { Charon, siteToSiteConf, stopAll, withCharonLogs } from '../lib/strongswan.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const IPERF_SECONDS = Number(process.env.IPERF_SECONDS ?? 5);
const SUITES = (process.env.SUITES ?? 'aes256gcm16,chacha20poly1305').split(',');

if (process.getuid?.() !== 0 || !have('iperf3') || !have('swanctl')) {
  console.log('SKIPPED: needs root, iperf3 and swanctl');
  process.exit(0);
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? NaN; };
const rssMb = (pid: number | undefined) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(pid ? readFileSync(`/proc/${pid}/status`, 'utf8') : '');
  return m ? Number(m[1]) / 1024 : NaN;
};
/** "HH:MM:SS.mmm" from charon's log (time_add_ms) to ms since midnight. */
const logMs = (line: string) => {
  const m = /^(\d\d):(\d\d):(\d\d)\.(\d{3})/.exec(line);
  return m ? ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]) : NaN;
};

async function iperf(topo: Topology, seconds: number): Promise<{ mbps: number; retransmits: number }> {
  // --forceflush: iperf3 block-buffers stdout into a pipe, and "Server listening" never arrives.
  const server = topo.lab.track(topo.hqhost.spawn('iperf3', ['-s', '-1', '--forceflush', '-B', ADDR.hqhost]));
  await withTimeout(waitForLine(server, (l) => /Server listening/.test(l), 'iperf3 server listening'), 10_000, 'iperf3 server');
  const client = topo.lab.track(topo.lanhost.spawn('iperf3', ['-c', ADDR.hqhost, '-t', String(seconds), '-J']));
  let out = '';
  client.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await withTimeout(new Promise<number | null>((r) => client.once('exit', (c) => r(c))), seconds * 1000 + 20_000, 'iperf3 client');
  await withTimeout(new Promise((r) => (server.exitCode !== null ? r(null) : server.once('exit', r))), 10_000, 'iperf3 server exit');
  if (code !== 0) throw new Error(`iperf3 client failed (${code}): ${out.slice(0, 500)}`);
  const j = JSON.parse(out);
  return { mbps: j.end.sum_received.bits_per_second / 1e6, retransmits: j.end.sum_sent.retransmits ?? 0 };
}

const rows: string[][] = [];
const progress = (s: string) => process.stderr.write(`.. ${s}\n`);
for (const esp of SUITES) {
  const topo = buildTopology();
  let branch: Charon | undefined, hq: Charon | undefined;
  try {
    const common = { ike: [`${esp}-prfsha256-x25519`], esp: [esp], psk: 'bench-psk-0123456789' };
    branch = await Charon.start(topo.branch, { name: 'branch', logLevels: { ike: 1, cfg: 1, chd: 1 }, swanctlConf: siteToSiteConf({
      ...common, conn: 'hq', localAddrs: ADDR.branchWan, remoteAddrs: ADDR.hqWan, localId: 'branch.example.net',
      remoteId: 'hq.example.net', localTs: [ADDR.branchSubnet], remoteTs: [ADDR.hqSubnet] }) });
    hq = await Charon.start(topo.hq, { name: 'hq', logLevels: { ike: 1, cfg: 1, chd: 1 }, swanctlConf: siteToSiteConf({
      ...common, conn: 'branch', localAddrs: ADDR.hqWan, remoteAddrs: '%any', localId: 'hq.example.net',
      remoteId: 'branch.example.net', localTs: [ADDR.hqSubnet], remoteTs: [ADDR.branchSubnet] }) });
    await withCharonLogs([branch, hq], async () => {
      await branch!.loadAll();
      await hq!.loadAll();
      const wall: number[] = [], daemon: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        progress(`${esp} round ${i}`);
        const off = branch!.logOffset();
        const t0 = performance.now();
        await branch!.initiate('net', 'hq'); // returns once the CHILD_SA is established
        wall.push(performance.now() - t0);
        const log = branch!.logText(off).split('\n');
        const start = log.find((l) => /initiating IKE_SA/.test(l)), up = log.find((l) => /CHILD_SA net\{\d+\} established/.test(l));
        if (start && up) daemon.push(logMs(up) - logMs(start));
        await hq!.waitForChildUp('net');
        if (i < ROUNDS - 1) {
          await branch!.terminate('hq');
          await hq!.waitForIkeGone('branch');
        }
      }
      progress(`${esp} iperf3`);
      const rssBefore = [rssMb(branch!.pid), rssMb(hq!.pid)];
      const tcp = await iperf(topo, IPERF_SECONDS);
      const rssAfter = [rssMb(branch!.pid), rssMb(hq!.pid)];
      const child = (await hq!.waitForChildUp('net')).child;
      rows.push([esp, `${median(wall).toFixed(1)}`, `${median(daemon).toFixed(0)}`, `${tcp.mbps.toFixed(0)}`, `${tcp.retransmits}`,
        `${child.packetsIn}`, rssBefore.map((x) => x.toFixed(1)).join('/'), rssAfter.map((x) => x.toFixed(1)).join('/')]);
    });
  } finally {
    await stopAll([branch, hq]);
    await topo.lab.destroy();
  }
}

const head = ['ESP (IKE: same-prfsha256-x25519)', 'initiate->up wall ms (median, swanctl incl.)', 'in-daemon ms (log)',
  `TCP lanhost->hqhost Mbit/s (${IPERF_SECONDS}s)`, 'TCP retr', 'hq ESP pkts in', 'RSS MB br/hq before', 'RSS MB br/hq after'];
console.log(`strongSwan 5.9.8 reference, kernel-libipsec, ${ROUNDS} rounds of initiate (PSK), iperf3 ${IPERF_SECONDS}s`);
const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const fmt = (r: string[]) => r.map((c, i) => c.padEnd(w[i]!)).join(' | ');
console.log(fmt(head));
console.log(w.map((n) => '-'.repeat(n)).join('-|-'));
for (const r of rows) console.log(fmt(r));
