// Fault matrix, row 4: the NAT router in front of the box changes its mapping mid-session (new
// source port range, conntrack flushed), twice, while the LAN pings HQ. HQ's packets to the old
// mapping are lost, so the box hears nothing; its dead peer detection (5 s) sends an IKE
// message from the new mapping, HQ follows it (strongSwan rekeys the CHILD_SA towards the new
// port, as its kernel-libipsec cannot move an SA) and traffic flows again, without the tunnel
// going down. Measured: from the remap to the first ping answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultRig, dur } from '../lib/fault-rig.ts';
import { NAT_ADDR } from '../lib/topology.ts';

test('fault: NAT mapping changes mid-session (twice): HQ follows, traffic flows again, no tunnel-down', { timeout: 90_000 }, async (t) => {
  // HQ must not be the one that refreshes the mapping: the box's DPD does (as behind a real NAT,
  // where HQ's packets cannot reach the box until it speaks from the new mapping).
  await FaultRig.run(t, { nat: true, hq: { dpdDelay: 0, encap: false } }, async (r) => {
    await r.firstUp();
    const { ike } = await r.hq.waitForChildUp('net', { ike: 'branch' });
    assert.equal(ike.remoteHost, NAT_ADDR.natOutside);
    assert.equal((await r.d.status()).tunnel.nat.local, true, 'the box knows it is behind NAT');
    const from = r.mark();
    const times: number[] = [];
    for (const [lo, hi] of [[20000, 20100], [30000, 30100]] as const) {
      const before = (await r.d.status()).tunnel;
      r.nat.remap(`${lo}-${hi}`);
      times.push(await r.trafficBack(30_000));
      await r.hq.waitForState(async () => {
        const s = (await r.hq.listSas()).find((x) => x.name === 'branch');
        return !!s && s.remotePort !== undefined && s.remotePort >= lo && s.remotePort <= hi;
      }, `HQ following the mapping to ports ${lo}-${hi}`);
      await r.assertIntact();
      const after = (await r.d.status()).tunnel;
      assert.equal(after.ikeSa!.spiInitiator, before.ikeSa!.spiInitiator, 'the same IKE_SA all along');
    }
    const events = r.eventsSince(from);
    assert.ok(!events.some((e) => e.startsWith('tunnel-down')), `no tunnel-down: ${events.join(', ')}`);
    r.report(t, 'row 4: NAT mapping change (x2)', times.map((ms) => `${dur(ms)}`).join(' / '), events);
  });
});
