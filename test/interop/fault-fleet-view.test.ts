// Fault matrix, rows 1 and 6 as the fleet sees them. fault-wan-loss.test.ts and
// fault-tun-removed.test.ts test the tunnel's side of those faults (HQ-initiated rekey under
// 10 % and 30 % loss; two TUN deletions); this adds what they do not look at: the MQTT events,
// the config file, the box's own rekey under loss, and every message valid for its schema.
// - the TUN device deleted: recreated, the same SAs carry traffic, and no tunnel-down reaches
//   the fleet (the SAs never went away);
// - 30 % loss both ways on the branch's WAN while the LAN pings HQ, until the box's own CHILD_SA
//   rekey (lifetime 20 s) is reported (or, if the loss defeats it, the tunnel-down it causes);
//   then the loss is lifted and the tunnel passes traffic, and any tunnel-down was followed by
//   a tunnel-up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultRig, isEvent, dur } from '../lib/fault-rig.ts';

const LOSS = 0.3;

test('fault, as the fleet sees it: TUN deleted (no tunnel-down), then 30 % WAN loss through the box\'s own rekey', { timeout: 90_000 }, async (t) => {
  await FaultRig.run(t, { env: { OUTPOST_CHILD_LIFETIME_SECONDS: '20' } }, async (r) => {
    await r.firstUp();

    // Row 6: the TUN device deleted from under the daemon.
    let from = r.mark();
    const before = (await r.d.status()).tunnel;
    const recovered = r.d.waitFor(/tunnel: tun-recovered/, 'tun-recovered');
    r.branch.ip('link', 'del', 'outpost0');
    const tunMs = await r.trafficBack(20_000);
    await recovered;
    const h = await r.w!.waitFor((m) => m.topic.endsWith('/health') && m.json.tunnel.state === 'up', 'health: tunnel up after the TUN came back', { from: r.mark() });
    assert.equal(h.json.tunnel.childSas[0].spiIn, before.childSas[0]!.spiIn, 'the same CHILD_SA');
    await r.assertIntact();
    const tunEvents = r.eventsSince(from);
    assert.ok(!tunEvents.some((e) => e.startsWith('tunnel-down')), `no tunnel-down for a recreated TUN: ${tunEvents.join(', ')}`);

    // Row 1: loss on the WAN, both directions, until the box's rekey (or the failure it causes) is reported.
    from = r.mark();
    const wan = r.topo.ifs.branchWan;
    const rules = [['INPUT', '-i'], ['OUTPUT', '-o']].map(([chain, dir]) => [chain!, dir!, wan, '-m', 'statistic', '--mode', 'random', '--probability', String(LOSS), '-j', 'DROP']);
    for (const rule of rules) r.branch.run('iptables', '-A', ...rule);
    const bg = r.backgroundPing(0.2);
    const first = await r.w!.waitFor((m) => isEvent('rekey')(m) || isEvent('tunnel-down')(m), 'rekey or tunnel-down under loss', { from, guardMs: 45_000 });
    const under = await bg.stop();
    for (const rule of rules) r.branch.run('iptables', '-D', ...rule);
    const lossMs = await r.trafficBack(60_000);
    if (r.w!.on('events', from).some((m) => m.json.type === 'tunnel-down')) {
      const lastDown = r.w!.messages.lastIndexOf(r.w!.on('events', from).filter((m) => m.json.type === 'tunnel-down').at(-1)!);
      const down = r.w!.messages[lastDown]!;
      assert.ok(down.json.reason, 'tunnel-down says why');
      await r.event('tunnel-up', lastDown + 1, 30_000);
    }
    await r.assertIntact();
    assert.ok(under.received > 0, `traffic passed under ${LOSS * 100} % loss (${under.received}/${under.sent})`);
    const lossEvents = r.eventsSince(from);
    t.diagnostic(`under ${LOSS * 100} % loss: first event ${first.json.type}; pings ${under.received}/${under.sent}; retransmissions ${(await r.d.status()).tunnel.ike?.retransmissionsSent}`);
    r.report(t, `rows 6 and 1, MQTT view: TUN deleted / ${LOSS * 100} % loss through a rekey`,
      `${dur(tunMs)} after the deletion / ${dur(lossMs)} after the loss was lifted`, [...tunEvents, '|', ...lossEvents],
      `pings under loss ${under.received}/${under.sent}`);
  });
});
