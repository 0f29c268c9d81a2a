// Two remote subnets behind a strongSwan 5.9.8 HQ (10.2.0.0/24 and 10.3.0.0/24, each with a
// host): Outpost negotiates both in its CHILD_SA and lanhost reaches both hosts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireEnv } from '../lib/netns.ts';
import { buildTopology, ADDR } from '../lib/topology.ts';
import { Charon, siteToSiteConf, stopAll } from '../lib/strongswan.ts';
import { OutpostDaemon, branchConfig } from '../lib/outpost-daemon.ts';
import { assertPing, assertTcpTransfer, within } from '../lib/traffic.ts';

const PSK = 'interop-test-psk-0123456789';
const SECOND = { subnet: '10.3.0.0/24', gw: '10.3.0.1', host: '10.3.0.2' };

test('two remote subnets behind HQ are both reachable through one tunnel', { timeout: 90_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'swanctl', 'socat', 'ping'], files: ['/usr/lib/ipsec/charon'] })) return;
  const topo = buildTopology();
  let hq: Charon | undefined;
  let d: OutpostDaemon | undefined;
  try {
    const hqhost2 = topo.lab.ns('hqhost2');
    topo.lab.link(topo.hq, `${SECOND.gw}/24`, hqhost2, `${SECOND.host}/24`);
    hqhost2.ip('route', 'add', 'default', 'via', SECOND.gw);

    hq = await Charon.start(topo.hq, {
      name: 'hq',
      swanctlConf: siteToSiteConf({
        conn: 'branch', localAddrs: ADDR.hqWan, remoteAddrs: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net',
        psk: PSK, localTs: [ADDR.hqSubnet, SECOND.subnet], remoteTs: [ADDR.branchSubnet],
      }),
    });
    await hq.loadAll();
    d = new OutpostDaemon(topo.lab, topo.branch, { name: 'branch', config: branchConfig({ remoteSubnets: [ADDR.hqSubnet, SECOND.subnet] }) });
    await within(d.start().waitFor(/child-up/), 20_000, 'child-up');
    const { child } = await hq.waitForChildUp('net', { ike: 'branch' });
    assert.deepEqual([...child.localTs].sort(), [ADDR.hqSubnet, SECOND.subnet].sort(), 'HQ installed both subnets');
    const st = await d.status();
    assert.deepEqual([...st.tunnel.childSas[0]!.remoteTs].sort(), [ADDR.hqSubnet, SECOND.subnet].sort(), 'Outpost installed both subnets');

    assertPing(topo.lanhost, ADDR.hqhost);
    assertPing(topo.lanhost, SECOND.host);
    await assertTcpTransfer(topo.lab, topo.lanhost, topo.hqhost, ADDR.hqhost, 256 * 1024);
    await assertTcpTransfer(topo.lab, topo.lanhost, hqhost2, SECOND.host, 256 * 1024);
    // Replies from the second subnet come back through the same CHILD_SA.
    assertPing(hqhost2, ADDR.lanhost);
  } catch (e) {
    if (d) process.stderr.write(`--- outpost tail ---\n${d.tail(60)}\n`);
    if (hq) process.stderr.write(`${hq.logTail()}\n`);
    throw e;
  } finally {
    await d?.stop();
    await stopAll([hq]);
    await topo.lab.destroy();
  }
});
