// Outpost under more than it can carry: iperf3 sends 1 Gbit/s of UDP from lanhost to hqhost
// through the tunnel. Outpost drops what it cannot carry and counts it (the TUN queue at the
// branch, the port-4500 receive buffer at HQ, in `outpost status`), its resident memory stays
// bounded and flat, and IKE keeps working meanwhile: with an Outpost HQ the branch's dead peer
// detection is answered through the flooded HQ; with a strongSwan HQ, HQ rekeys the CHILD_SA and
// the IKE_SA during the flood and Outpost completes both. Asserts counts, never speeds.
// Needs root, iperf3 (and swanctl for the second test).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { requireEnv, waitForLine } from '../lib/netns.ts';
import { ADDR, buildTopology, type Topology } from '../lib/topology.ts';
import { Charon, siteToSiteConf, stopAll } from '../lib/strongswan.ts';
import { OutpostDaemon, branchConfig } from '../lib/outpost-daemon.ts';
import { ping, within } from '../lib/traffic.ts';

const PSK = 'interop-test-psk-0123456789';
const FLOOD_SECONDS = Number(process.env.OVERLOAD_SECONDS ?? 12);
/** How much resident memory may grow under the flood, over the same daemon idle with the tunnel up. */
const RSS_GROWTH_LIMIT_MB = 24;
/**
 * ... and how much it may still move in the second half of the flood (flat). V8 grows its heap
 * in steps whose timing depends on GC, so a single late step of ~10 MB is not a leak; a leak at
 * flood rates (tens of thousands of packets a second) would go far past this within seconds.
 */
const RSS_DRIFT_LIMIT_MB = 16;

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

function ready(t: TestContext, cmds: string[]): boolean {
  return requireEnv(t, { root: true, cmds: ['ip', 'ping', 'iperf3', ...cmds], files: ['/dev/net/tun'] });
}

/** iperf3 -u -b 1G from lanhost to hqhost; samples the daemons' RSS every 250 ms meanwhile. */
async function udpFlood(topo: Topology, pids: number[], during?: () => Promise<void>): Promise<{ report: any; rss: number[][] }> {
  const server = topo.lab.track(topo.hqhost.spawn('iperf3', ['-s', '-1', '--forceflush', '-B', ADDR.hqhost]));
  await within(waitForLine(server, (l) => /Server listening/.test(l), 'iperf3 server'), 10_000, 'iperf3 server');
  const rss: number[][] = pids.map(() => []);
  const sample = setInterval(() => pids.forEach((p, i) => rss[i]!.push(rssMb(p))), 250);
  const client = topo.lab.track(topo.lanhost.spawn('iperf3', ['-c', ADDR.hqhost, '-u', '-b', '1G', '-l', '1300', '-t', String(FLOOD_SECONDS), '-J']));
  let out = '';
  client.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => client.once('exit', (c) => r(c)));
  try {
    if (during) await during();
    const code = await within(exited, FLOOD_SECONDS * 1000 + 30_000, 'iperf3 client');
    assert.equal(code, 0, `iperf3: ${out.slice(0, 500)}`);
  } finally {
    clearInterval(sample);
  }
  await within(new Promise((r) => (server.exitCode !== null ? r(null) : server.once('exit', r))), 10_000, 'iperf3 server exit').catch(() => server.kill());
  return { report: JSON.parse(out), rss };
}

/** The RSS samples are bounded (growth over idle) and flat (second half against the first). */
function assertMemory(t: TestContext, name: string, idle: number, samples: number[]): void {
  const max = Math.max(...samples);
  const half = samples.slice(Math.floor(samples.length / 2));
  const firstMax = Math.max(...samples.slice(0, Math.floor(samples.length / 2)));
  t.diagnostic(`${name}: RSS idle ${idle.toFixed(1)} MB, flood max ${max.toFixed(1)} MB, second half ${Math.min(...half).toFixed(1)}-${Math.max(...half).toFixed(1)} MB`);
  assert.ok(samples.length >= 8, `${name}: sampled ${samples.length} times`);
  assert.ok(max - idle <= RSS_GROWTH_LIMIT_MB, `${name}: RSS grew ${(max - idle).toFixed(1)} MB under the flood (limit ${RSS_GROWTH_LIMIT_MB})`);
  assert.ok(Math.max(...half) - firstMax <= RSS_DRIFT_LIMIT_MB, `${name}: RSS still growing in the second half (${firstMax.toFixed(1)} -> ${Math.max(...half).toFixed(1)} MB)`);
}

const countLines = (d: OutpostDaemon, from: number, re: RegExp) => d.output.slice(from).split('\n').filter((l) => re.test(l)).length;

test('Outpost to Outpost under a 1 Gbit/s UDP flood: drops counted, memory bounded and flat, DPD answered through the flooded HQ', { timeout: 180_000 }, async (t) => {
  if (!ready(t, [])) return;
  const topo = buildTopology();
  let hq: OutpostDaemon | undefined, br: OutpostDaemon | undefined;
  try {
    hq = new OutpostDaemon(topo.lab, topo.hq, {
      name: 'hq', tun: 'ophq',
      config: {
        device: { id: 'hq-overload' }, lan: { interface: topo.ifs.hqLan, address: `${ADDR.hqLan}/24` },
        tunnel: { remote: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net', auth: { psk: PSK }, localSubnets: [ADDR.hqSubnet], remoteSubnets: [ADDR.branchSubnet], dpdSeconds: 5 },
      },
    });
    await within(hq.start().waitFor(/control socket listening/), 20_000, 'hq listening');
    br = new OutpostDaemon(topo.lab, topo.branch, { name: 'branch', config: { ...(branchConfig({ psk: PSK, dpdSeconds: 5 }) as object), lan: { interface: topo.ifs.branchLan, address: `${ADDR.branchLan}/24` } } });
    await within(br.start().waitFor(/child-up/), 20_000, 'child-up');
    assert.equal(ping(topo.lanhost, ADDR.hqhost, { count: 3, interval: 0.2 }).received, 3, 'tunnel up');

    const [b0, h0] = [await br.status(), await hq.status()];
    const pids = [br.proc.pid!, hq.proc.pid!];
    const idle = pids.map(rssMb);
    const logFrom = br.output.length;
    const { report, rss } = await udpFlood(topo, pids);
    const [b1, h1] = [await br.status(), await hq.status()];

    // What could not be carried was dropped where Outpost could not keep up, and counted.
    const delta = (a: typeof b0, b: typeof b1, k: string) => (b.tunnel.dataPlane?.drops[k] ?? 0) - (a.tunnel.dataPlane?.drops[k] ?? 0);
    const sent = report.end.sum.packets as number, lost = report.end.sum.lost_packets as number;
    const counted = delta(b0, b1, 'tun_queue_full') + delta(b0, b1, 'send_dropped') + delta(h0, h1, 'udp_rx_overflow') + delta(h0, h1, 'tun_full');
    t.diagnostic(`iperf3 sent ${sent} datagrams, ${lost} lost (${report.end.sum.lost_percent.toFixed(1)}%); branch drops ${JSON.stringify(b1.tunnel.dataPlane?.drops)}; hq drops ${JSON.stringify(h1.tunnel.dataPlane?.drops)}`);
    assert.ok(lost > 0, 'the flood was more than the tunnel carries here (else this test proves nothing)');
    assert.ok(counted > 0, 'Outpost counted the packets it dropped');
    const carried = (h1.tunnel.dataPlane?.packetsIn ?? 0) - (h0.tunnel.dataPlane?.packetsIn ?? 0);
    assert.ok(carried > 0 && carried <= sent, `HQ decrypted ${carried} of ${sent}`);

    assertMemory(t, 'branch', idle[0]!, rss[0]!);
    assertMemory(t, 'hq', idle[1]!, rss[1]!);

    // IKE: the branch saw no inbound traffic during the flood, so it checked HQ (DPD every 5 s),
    // and HQ answered through its flooded port 4500; still the same IKE SA and CHILD_SA.
    const dpdAnswered = countLines(br, logFrom, /received .*INFORMATIONAL response/);
    t.diagnostic(`branch DPD exchanges answered during the flood: ${dpdAnswered}`);
    assert.ok(dpdAnswered >= 1, `no DPD answered during the flood:\n${br.tail(30)}`);
    assert.equal(countLines(br, logFrom, /dpd-timeout|ike-down/), 0, 'no DPD timeout');
    assert.equal(b1.tunnel.state, 'up');
    assert.equal(b1.tunnel.ikeSa?.spiInitiator, b0.tunnel.ikeSa?.spiInitiator, 'same IKE SA');
    assert.equal(b1.tunnel.childSas[0]?.spiIn, b0.tunnel.childSas[0]?.spiIn, 'same CHILD_SA');
    assert.equal(ping(topo.lanhost, ADDR.hqhost, { count: 3, interval: 0.2 }).received, 3, 'tunnel passes traffic after the flood');
  } catch (e) {
    if (br) process.stderr.write(`--- branch tail ---\n${br.tail(40)}\n`);
    if (hq) process.stderr.write(`--- hq tail ---\n${hq.tail(40)}\n`);
    throw e;
  } finally {
    await br?.stop();
    await hq?.stop();
    await topo.lab.destroy();
  }
});

test('Outpost branch under a 1 Gbit/s UDP flood towards a strongSwan HQ: HQ rekeys the CHILD_SA and the IKE_SA meanwhile, memory bounded', { timeout: 180_000 }, async (t) => {
  if (!ready(t, ['swanctl'])) return;
  const topo = buildTopology();
  let hq: Charon | undefined, br: OutpostDaemon | undefined;
  try {
    hq = await Charon.start(topo.hq, {
      name: 'hq', logLevels: { ike: 1, chd: 1, knl: 0, net: 0, esp: 0, cfg: 0 },
      swanctlConf: siteToSiteConf({ conn: 'branch', localAddrs: ADDR.hqWan, remoteAddrs: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net', psk: PSK, localTs: [ADDR.hqSubnet], remoteTs: [ADDR.branchSubnet] }),
    });
    await hq.loadAll();
    br = new OutpostDaemon(topo.lab, topo.branch, { name: 'branch', config: { ...(branchConfig({ psk: PSK }) as object), lan: { interface: topo.ifs.branchLan, address: `${ADDR.branchLan}/24` } } });
    await within(br.start().waitFor(/child-up/), 20_000, 'child-up');
    await hq.waitForChildUp('net', { ike: 'branch' });
    const b0 = await br.status();
    const pid = br.proc.pid!;
    const idle = rssMb(pid);
    const h = hq, d = br;
    const { rss } = await udpFlood(topo, [pid], async () => {
      // A third of the way in, while Outpost is saturated: HQ rekeys both SAs; both must complete.
      await new Promise((r) => setTimeout(r, (FLOOD_SECONDS * 1000) / 3));
      const childRekeyed = d.waitFor(/child-rekeyed/);
      await h.rekeyChild('net');
      await within(childRekeyed, 15_000, 'CHILD_SA rekeyed under the flood');
      const oldSpi = (await h.listSas()).find((s) => s.name === 'branch')!.initiatorSpi;
      await h.rekeyIke('branch');
      await h.waitForState(async () => {
        const all = (await h.listSas()).filter((s) => s.name === 'branch');
        return all.length === 1 && all[0]!.state === 'ESTABLISHED' && all[0]!.initiatorSpi !== oldSpi;
      }, 'the IKE_SA rekeyed under the flood', 15_000);
    });
    const b1 = await br.status();
    assertMemory(t, 'branch', idle, rss[0]!);
    assert.equal(b1.tunnel.state, 'up');
    assert.notEqual(b1.tunnel.ikeSa?.spiInitiator, b0.tunnel.ikeSa?.spiInitiator, 'a new IKE SA');
    assert.notEqual(b1.tunnel.childSas.at(-1)?.spiIn, b0.tunnel.childSas[0]?.spiIn, 'a new CHILD_SA');
    const { child } = await hq.waitForChildUp('net', { ike: 'branch' });
    assert.ok(b1.tunnel.childSas.some((c) => c.spiIn === child.spiOut), 'Outpost and HQ agree on the new CHILD_SA');
    assert.equal(ping(topo.lanhost, ADDR.hqhost, { count: 3, interval: 0.2 }).received, 3, 'tunnel passes traffic after the flood');
  } catch (e) {
    if (br) process.stderr.write(`--- branch tail ---\n${br.tail(40)}\n`);
    if (hq) process.stderr.write(`${hq.logTail(30)}\n`);
    throw e;
  } finally {
    await br?.stop();
    await stopAll([hq]);
    await topo.lab.destroy();
  }
});
