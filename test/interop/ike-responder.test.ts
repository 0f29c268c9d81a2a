// Outpost as the responder (HQ, remote "%any") and a real strongSwan 5.9.8 at the branch as
// the initiator: the tunnel comes up, and pings and a TCP transfer lanhost -> hqhost cross it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireEnv } from '../lib/netns.ts';
import { buildTopology, ADDR } from '../lib/topology.ts';
import { Charon, siteToSiteConf, stopAll } from '../lib/strongswan.ts';
import { OutpostDaemon } from '../lib/outpost-daemon.ts';
import { assertPing, assertTcpTransfer } from '../lib/traffic.ts';

const PSK = 'interop-test-psk-0123456789';

test('strongSwan initiates towards an Outpost responder; traffic flows both ways', { timeout: 120_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'swanctl', 'socat', 'ping'], files: ['/usr/lib/ipsec/charon'] })) return;
  const topo = buildTopology();
  let branch: Charon | undefined;
  let d: OutpostDaemon | undefined;
  try {
    d = new OutpostDaemon(topo.lab, topo.hq, {
      name: 'hq',
      config: {
        device: { id: 'hq-test' },
        lan: { interface: topo.ifs.hqLan, address: `${ADDR.hqLan}/24` },
        tunnel: {
          remote: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net', auth: { psk: PSK },
          localSubnets: [ADDR.hqSubnet], remoteSubnets: [ADDR.branchSubnet],
        },
      },
    });
    await d.start().waitFor(/control socket listening/);
    branch = await Charon.start(topo.branch, {
      name: 'branch',
      swanctlConf: siteToSiteConf({
        conn: 'hq', localAddrs: ADDR.branchWan, remoteAddrs: ADDR.hqWan, localId: 'branch.example.net', remoteId: 'hq.example.net',
        psk: PSK, localTs: [ADDR.branchSubnet], remoteTs: [ADDR.hqSubnet],
        ike: ['aes256gcm16-prfsha256-x25519'], esp: ['aes256gcm16'],
      }),
    });
    await branch.loadAll();
    const up = d.waitFor(/child-up/);
    await branch.initiate('net', 'hq');
    await up;
    const { ike, child } = await branch.waitForChildUp('net', { ike: 'hq' });
    assert.ok(ike.initiator, 'strongSwan initiated');
    assert.equal(ike.remoteId, 'hq.example.net');

    const st = await d.status();
    assert.equal(st.tunnel.state, 'up');
    assert.equal(st.tunnel.ikeSa?.role, 'responder');
    assert.equal(st.tunnel.ikeSa?.remoteId, 'branch.example.net');
    assert.equal(st.tunnel.childSas.length, 1);
    assert.equal(st.tunnel.childSas[0]!.spiIn, child.spiOut);
    assert.equal(st.tunnel.childSas[0]!.spiOut, child.spiIn);

    assertPing(topo.lanhost, ADDR.hqhost);
    await assertTcpTransfer(topo.lab, topo.lanhost, topo.hqhost, ADDR.hqhost, 512 * 1024);
    // And the other direction, started from HQ's side.
    assertPing(topo.hqhost, ADDR.lanhost);
    await assertTcpTransfer(topo.lab, topo.hqhost, topo.lanhost, ADDR.lanhost, 256 * 1024);

    const st2 = await d.status();
    const c = st2.tunnel.childSas[0]!;
    assert.ok(c.bytesIn >= 512 * 1024 && c.bytesOut >= 256 * 1024, `Outpost counters in=${c.bytesIn} out=${c.bytesOut}`);
  } catch (e) {
    if (d) process.stderr.write(`--- outpost tail ---\n${d.tail(60)}\n`);
    if (branch) process.stderr.write(`${branch.logTail()}\n`);
    throw e;
  } finally {
    await d?.stop();
    await stopAll([branch]);
    await topo.lab.destroy();
  }
});
