// Fault matrix, row 2: the WAN gone for longer than dead peer detection takes, twice: first the
// branch's WAN link down (`ip link set v1a down`: sends fail at once, no route), then a silent
// black hole (iptables DROP both ways, the link stays up). Each time DPD (5 s plus retransmissions)
// declares HQ dead, the fleet hears dpd-timeout and tunnel-down with the reason (the link-down
// case stays out until a reconnect attempt has failed too); when the WAN is back the box reconnects
// (INITIAL_CONTACT makes HQ drop the stale IKE_SA) and traffic flows. Measured: from the WAN
// back to the first ping answered through the tunnel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultRig, dur } from '../lib/fault-rig.ts';

test('fault: WAN down (link down, then a silent drop) for longer than DPD: tunnel-down reported, back when the WAN is', { timeout: 150_000 }, async (t) => {
  await FaultRig.run(t, {}, async (r) => {
    await r.firstUp();
    const wan = r.topo.ifs.branchWan;
    const faults: { name: string; cut(): void; heal(): void; longer?: boolean }[] = [
      { name: 'link down', longer: true, cut: () => r.branch.ip('link', 'set', wan, 'down'), heal: () => r.branch.ip('link', 'set', wan, 'up') },
      {
        name: 'DROP both ways',
        cut: () => { for (const [c, d] of [['INPUT', '-i'], ['OUTPUT', '-o']]) r.branch.run('iptables', '-I', c!, d!, wan, '-j', 'DROP'); },
        heal: () => { for (const [c, d] of [['INPUT', '-i'], ['OUTPUT', '-o']]) r.branch.run('iptables', '-D', c!, d!, wan, '-j', 'DROP'); },
      },
    ];
    const results: string[] = [];
    const events: string[] = [];
    for (const f of faults) {
      const before = (await r.d.status()).tunnel;
      const from = r.mark();
      const cutAt = performance.now();
      f.cut();
      const down = await r.event('tunnel-down', from, 40_000);
      assert.match(down.json.reason, /dead peer detection/);
      await r.event('dpd-timeout', from, 1_000);
      const downAfter = down.at - cutAt;
      // The link-down case stays out until a reconnect attempt has failed against it too.
      if (f.longer) await r.d.waitFor(/exchange-timeout .*request=IKE_SA_INIT/, 'a failed reconnect');
      const st = await r.d.status();
      assert.notEqual(st.tunnel.state, 'up');
      assert.ok(st.tunnel.lastError, 'status says why the tunnel is down');
      f.heal();
      const ms = await r.trafficBack(60_000);
      await r.event('tunnel-up', from, 10_000);
      await r.assertIntact();
      const after = (await r.d.status()).tunnel;
      assert.notEqual(after.ikeSa!.spiInitiator, before.ikeSa!.spiInitiator, 'a new IKE_SA');
      results.push(`${f.name}: ${dur(ms)} (down reported ${dur(downAfter)} after the cut)`);
      events.push(...r.eventsSince(from));
    }
    r.report(t, 'row 2: WAN down > DPD', results.join('; '), events);
  });
});
