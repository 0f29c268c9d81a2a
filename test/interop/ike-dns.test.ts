// A `remote` given as a host name is resolved on every connection attempt: HQ moves to a new
// WAN address (the name now points there), HQ drops the old IKE SA, and Outpost follows the name.
// Names resolve through /etc/netns/<branch namespace>/hosts, which `ip netns exec` mounts over
// /etc/hosts for processes in that namespace only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { requireEnv } from '../lib/netns.ts';
import { buildTopology, ADDR } from '../lib/topology.ts';
import { Charon, siteToSiteConf, stopAll } from '../lib/strongswan.ts';
import { OutpostDaemon, branchConfig } from '../lib/outpost-daemon.ts';
import { assertPing, within } from '../lib/traffic.ts';

const PSK = 'interop-test-psk-0123456789';
const NEW_HQ = '198.51.100.3';

test('remote as a host name: resolved at start and again after HQ moves', { timeout: 120_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'swanctl', 'ping'], files: ['/usr/lib/ipsec/charon'] })) return;
  const topo = buildTopology();
  const etc = `/etc/netns/${topo.branch.name}`;
  const hosts = (addr: string) => writeFileSync(`${etc}/hosts`, `127.0.0.1 localhost\n${addr} hq.outpost.test\n`);
  let hq: Charon | undefined;
  let d: OutpostDaemon | undefined;
  try {
    mkdirSync(etc, { recursive: true });
    hosts(ADDR.hqWan);
    // Keep the new address when the old (primary) one is deleted later.
    topo.hq.run('sysctl', '-q', '-w', `net.ipv4.conf.${topo.ifs.hqWan}.promote_secondaries=1`);
    topo.hq.ip('addr', 'add', `${NEW_HQ}/24`, 'dev', topo.ifs.hqWan);
    hq = await Charon.start(topo.hq, {
      name: 'hq',
      swanctlConf: siteToSiteConf({
        conn: 'branch', localAddrs: '%any', remoteAddrs: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net',
        psk: PSK, localTs: [ADDR.hqSubnet], remoteTs: [ADDR.branchSubnet],
      }),
    });
    await hq.loadAll();
    d = new OutpostDaemon(topo.lab, topo.branch, { name: 'branch', config: branchConfig({ psk: PSK, remote: 'hq.outpost.test' }) }).start();
    const first = await within(d.waitFor(/ike: connecting/), 20_000, 'first connection');
    assert.match(first, new RegExp(`remote=${ADDR.hqWan.replace(/\./g, '\\.')}:500`));
    await within(d.waitFor(/child-up/), 20_000, 'CHILD_SA up');
    assertPing(topo.lanhost, ADDR.hqhost);

    // HQ moves: the name now points to the new address; HQ closes the old IKE SA and then
    // gives up its old address.
    hosts(NEW_HQ);
    const again = d.waitFor(/ike: connecting/);
    await hq.terminate('branch');
    const line = await within(again, 30_000, 'reconnection');
    assert.match(line, new RegExp(`remote=${NEW_HQ.replace(/\./g, '\\.')}:500`), 'the name was resolved again');
    await within(d.waitFor(/child-up/), 30_000, 'CHILD_SA up at the new address');
    topo.hq.ip('addr', 'del', `${ADDR.hqWan}/24`, 'dev', topo.ifs.hqWan);
    assertPing(topo.lanhost, ADDR.hqhost);
    const st = await d.status();
    assert.equal(st.tunnel.remote?.address, NEW_HQ);
  } catch (e) {
    if (d) console.log(d.tail(40));
    if (hq) console.log(hq.logTail(40));
    throw e;
  } finally {
    await d?.stop();
    await stopAll([hq]);
    await topo.lab.destroy();
    rmSync(etc, { recursive: true, force: true });
  }
});
