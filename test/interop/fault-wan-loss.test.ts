// Fault: random loss on the WAN, both directions (iptables statistic match on the branch's WAN
// interface: 10 % and 30 % of IKE and ESP datagrams in and out). The tunnel is set up under the
// loss, HQ rekeys the CHILD_SA and DPD runs (5 s) while lanhost pings hqhost; then the loss is
// lifted and the tunnel ends up passing traffic. Reported: pings through the lossy tunnel,
// retransmissions, IKE reconnects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireEnv, type Netns } from '../lib/netns.ts';
import { buildTopology, ADDR } from '../lib/topology.ts';
import { Charon, siteToSiteConf, stopAll } from '../lib/strongswan.ts';
import { OutpostDaemon, branchConfig } from '../lib/outpost-daemon.ts';
import { ping, within } from '../lib/traffic.ts';

const PSK = 'interop-test-psk-0123456789';

function setLoss(ns: Netns, dev: string, p: number | null): void {
  ns.run('iptables', '-F', 'INPUT');
  ns.run('iptables', '-F', 'OUTPUT');
  if (p === null) return;
  for (const [chain, dir] of [['INPUT', '-i'], ['OUTPUT', '-o']] as const) {
    ns.run('iptables', '-A', chain, dir, dev, '-p', 'udp', '-m', 'statistic', '--mode', 'random', '--probability', String(p), '-j', 'DROP');
  }
}

/** Pings one at a time until one comes back (the tunnel passes traffic) or `ms` runs out. */
async function untilPingPasses(ns: Netns, dst: string, ms: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (ping(ns, dst, { count: 1, wait: 1 }).received === 1) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`no ping came through within ${ms} ms`);
}

for (const loss of [0.1, 0.3]) {
  test(`WAN loss ${loss * 100} % both directions: tunnel comes up, rekeys, and passes traffic once the loss is lifted`, { timeout: 240_000 }, async (t) => {
    if (!requireEnv(t, { root: true, cmds: ['ip', 'swanctl', 'ping', 'iptables'], files: ['/usr/lib/ipsec/charon', '/dev/net/tun'] })) return;
    const topo = buildTopology();
    let hq: Charon | undefined;
    let d: OutpostDaemon | undefined;
    try {
      hq = await Charon.start(topo.hq, {
        name: 'hq',
        swanctlConf: siteToSiteConf({ conn: 'branch', localAddrs: ADDR.hqWan, remoteAddrs: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net',
          psk: PSK, localTs: [ADDR.hqSubnet], remoteTs: [ADDR.branchSubnet], dpdDelay: 5 }),
        // charon's retransmissions must outlast the loss too: 5 tries from 1 s.
        charonSettings: '    retransmit_tries = 5\n',
      });
      await hq.loadAll();
      setLoss(topo.branch, topo.ifs.branchWan, loss);
      d = new OutpostDaemon(topo.lab, topo.branch, { name: 'branch', config: branchConfig({ psk: PSK, dpdSeconds: 5 }), env: { OUTPOST_LOG_LEVEL: 'info', OUTPOST_IKE_RETRANSMIT: '1000,1.5,5' } });
      await within(d.start().waitFor(/child-up/), 90_000, `child-up under ${loss * 100} % loss`);

      // Traffic, a CHILD rekey by HQ and a few DPD rounds, all under the loss.
      const during = ping(topo.lanhost, ADDR.hqhost, { count: 40, interval: 0.25, wait: 2 });
      let rekey = 'ok';
      try { await hq.swanctl('--rekey', '--child', 'net'); } catch (e) { rekey = `failed: ${(e as Error).message.split('\n')[0]}`; }
      const during2 = ping(topo.lanhost, ADDR.hqhost, { count: 40, interval: 0.25, wait: 2 });
      const st = await d.status();
      const reconnects = (d.output.match(/ connecting /g) ?? []).length - 1;
      t.diagnostic(`under ${loss * 100} % loss: pings ${during.received}/40 before and ${during2.received}/40 after HQ's CHILD rekey (${rekey}); ` +
        `Outpost retransmissions ${st.tunnel.ike?.retransmissionsSent}, answered retransmits ${st.tunnel.ike?.retransmitsAnswered}, IKE reconnects ${reconnects}`);

      setLoss(topo.branch, topo.ifs.branchWan, null);
      const ms = await untilPingPasses(topo.lanhost, ADDR.hqhost, 90_000);
      t.diagnostic(`loss lifted: first ping through after ${ms} ms`);
      assert.equal(ping(topo.lanhost, ADDR.hqhost, { count: 5 }).received, 5, 'tunnel passes traffic after the loss');
      assert.equal((await d.status()).tunnel.state, 'up');
    } catch (e) {
      if (d) process.stderr.write(`--- outpost tail ---\n${d.tail(40)}\n`);
      if (hq) process.stderr.write(`${hq.logTail(30)}\n`);
      throw e;
    } finally {
      await d?.stop();
      await stopAll([hq]);
      await topo.lab.destroy();
    }
  });
}
