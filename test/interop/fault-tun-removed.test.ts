// Fault: the TUN device is deleted under a running daemon (`ip link del outpost0`), twice. The
// daemon notices (the addon's read fails), recreates the device with the same name, MTU and
// routes, and the tunnel passes traffic again on the same SAs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireEnv } from '../lib/netns.ts';
import { buildTopology, ADDR } from '../lib/topology.ts';
import { Charon, siteToSiteConf, stopAll } from '../lib/strongswan.ts';
import { OutpostDaemon, branchConfig } from '../lib/outpost-daemon.ts';
import { ping, within } from '../lib/traffic.ts';

const PSK = 'interop-test-psk-0123456789';

test('TUN device deleted under the daemon (twice): recreated with its routes, traffic resumes on the same SAs', { timeout: 120_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'swanctl', 'ping'], files: ['/usr/lib/ipsec/charon', '/dev/net/tun'] })) return;
  const topo = buildTopology();
  let hq: Charon | undefined;
  let d: OutpostDaemon | undefined;
  try {
    hq = await Charon.start(topo.hq, {
      name: 'hq',
      swanctlConf: siteToSiteConf({ conn: 'branch', localAddrs: ADDR.hqWan, remoteAddrs: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net',
        psk: PSK, localTs: [ADDR.hqSubnet], remoteTs: [ADDR.branchSubnet] }),
    });
    await hq.loadAll();
    d = new OutpostDaemon(topo.lab, topo.branch, { name: 'branch', config: branchConfig({ psk: PSK }) });
    await within(d.start().waitFor(/child-up/), 20_000, 'child-up');
    await hq.waitForChildUp('net', { ike: 'branch' });
    assert.equal(ping(topo.lanhost, ADDR.hqhost).received, 3, 'tunnel up');
    const before = (await d.status()).tunnel;
    const mtu = topo.branch.run('cat', '/sys/class/net/outpost0/mtu').trim();

    for (let round = 1; round <= 2; round++) {
      const recovered = d.waitFor(/tun-recovered/);
      topo.branch.ip('link', 'del', 'outpost0');
      const line = await within(recovered, 15_000, `tun-recovered (round ${round})`);
      t.diagnostic(`round ${round}: ${line.replace(/^.*?tun-recovered/, 'tun-recovered')}`);
      assert.equal(topo.branch.run('cat', '/sys/class/net/outpost0/mtu').trim(), mtu, 'same MTU');
      assert.match(topo.branch.run('ip', 'route', 'show', ADDR.hqSubnet), /dev outpost0/, 'route to HQ re-added');
      assert.equal(ping(topo.lanhost, ADDR.hqhost).received, 3, `traffic after recovery (round ${round})`);
    }
    const after = (await d.status()).tunnel;
    assert.equal(after.ikeSa?.spiInitiator, before.ikeSa?.spiInitiator, 'same IKE SA');
    assert.equal(after.childSas[0]?.spiIn, before.childSas[0]?.spiIn, 'same CHILD_SA');
    // The pings' flow was known before the device went: on each new device the native flow cache
    // sealed them straight from the TUN read (the lead is handed to the recreated device too).
    const fc0 = before.dataPlane?.flowCache, fc1 = after.dataPlane?.flowCache;
    t.diagnostic(`flow cache: out ${fc0?.out} -> ${fc1?.out}, in ${fc0?.in} -> ${fc1?.in}`);
    assert.ok(fc0 && fc1 && fc1.out >= fc0.out + 6, 'pings after recovery sealed by the flow cache');
    assert.ok(fc1.in >= fc0.in + 6, 'replies let in by the flow cache');
  } catch (e) {
    if (d) process.stderr.write(`--- outpost tail ---\n${d.tail(40)}\n`);
    throw e;
  } finally {
    await d?.stop();
    await stopAll([hq]);
    await topo.lab.destroy();
  }
});
