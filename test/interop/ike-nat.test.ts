// The branch behind a masquerading NAT router (test/lib/topology.ts buildNatTopology), HQ a
// real strongSwan 5.9.8: the tunnel comes up with NAT detected on Outpost's side, traffic flows,
// and after the NAT mapping changes (new source port range, conntrack flushed) the tunnel
// carries traffic again once Outpost's next IKE message (DPD, 5 s) shows HQ the new mapping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireEnv } from '../lib/netns.ts';
import { buildNatTopology, ADDR, NAT_ADDR } from '../lib/topology.ts';
import { Charon, siteToSiteConf, stopAll } from '../lib/strongswan.ts';
import { OutpostDaemon, branchConfig } from '../lib/outpost-daemon.ts';
import { DPD_RANGE } from '../../firmware/config/defaults.ts';
import { assertPing, assertTcpTransfer, within } from '../lib/traffic.ts';

const PSK = 'interop-test-psk-0123456789';
const NEW_PORTS = '20000-20100';

test('Outpost behind NAT: tunnel up, and traffic again after a NAT mapping change', { timeout: 120_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'swanctl', 'socat', 'ping', 'iptables', 'conntrack'], files: ['/usr/lib/ipsec/charon'] })) return;
  const topo = buildNatTopology();
  let hq: Charon | undefined;
  let d: OutpostDaemon | undefined;
  try {
    hq = await Charon.start(topo.hq, {
      name: 'hq',
      swanctlConf: siteToSiteConf({
        conn: 'branch', localAddrs: ADDR.hqWan, remoteAddrs: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net',
        psk: PSK, localTs: [ADDR.hqSubnet], remoteTs: [ADDR.branchSubnet],
        // HQ must not be the one that refreshes the mapping: Outpost's DPD does it.
        dpdDelay: 0, encap: false,
      }),
    });
    await hq.loadAll();
    d = new OutpostDaemon(topo.lab, topo.branch, { name: 'branch', config: branchConfig({ dpdSeconds: DPD_RANGE.min }) });
    await within(d.start().waitFor(/child-up/), 20_000, 'child-up');
    const { ike } = await hq.waitForChildUp('net', { ike: 'branch' });
    assert.equal(ike.remoteHost, NAT_ADDR.natOutside, 'HQ sees the NAT router\'s address');
    assert.ok(ike.natRemote, 'HQ detected the NAT in front of Outpost');
    const st = (await d.status()).tunnel;
    assert.equal(st.nat.local, true, 'Outpost knows it is behind NAT');

    assertPing(topo.lanhost, ADDR.hqhost);
    await assertTcpTransfer(topo.lab, topo.lanhost, topo.hqhost, ADDR.hqhost, 256 * 1024);

    await t.test('NAT mapping change', async () => {
      try {
        const from = hq!.logOffset();
        topo.remap(NEW_PORTS);
        // Outpost's next IKE message (DPD after dpdSeconds of silence from HQ) arrives from the new port...
        await hq!.waitForLog(/received packet: from 198\.51\.100\.1\[20\d\d\d\]/, { fromOffset: from, timeoutMs: (DPD_RANGE.min + 10) * 1000 });
        await hq!.waitForState(async () => {
          const s = (await hq!.listSas()).find((x) => x.name === 'branch');
          return !!s && s.remotePort !== undefined && s.remotePort >= 20000 && s.remotePort <= 20100;
        }, 'HQ following the new NAT mapping');
        // ...and HQ answers to it. (strongSwan's kernel-libipsec cannot update an SA's addresses,
        // so charon follows a mapping change by rekeying the CHILD_SA towards the new port.)
        assertPing(topo.lanhost, ADDR.hqhost);
        await assertTcpTransfer(topo.lab, topo.lanhost, topo.hqhost, ADDR.hqhost, 256 * 1024);
        assert.equal((await d!.status()).tunnel.state, 'up');
      } catch (e) {
        process.stderr.write(`--- outpost tail ---\n${d!.tail(60)}\n${hq!.logTail()}\n`);
        throw e;
      }
    });
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
