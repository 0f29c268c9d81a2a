// Fault matrix, row 5: the fleet broker is down for the whole run (health.broker points at a
// port nobody listens on). The tunnel does not care: it comes up, passes traffic, is deleted by
// HQ and comes back, rekeys; meanwhile `outpost status` says the broker is not connected and why,
// and counts the events waiting for it (none dropped). When a broker finally appears on that
// port, the queued events go out in order, numbered from 1 without gaps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLOSED_PORT, DEVICE, FaultRig, isEvent, dur } from '../lib/fault-rig.ts';
import { Mosquitto, Watcher } from '../lib/mosquitto.ts';
import { assertTcpTransfer } from '../lib/traffic.ts';
import { ADDR } from '../lib/topology.ts';

test('fault: broker unreachable throughout: the tunnel works, events are queued and counted, delivered once a broker appears', { timeout: 120_000 }, async (t) => {
  await FaultRig.run(t, { broker: 'closed' }, async (r) => {
    await r.firstUp();
    await assertTcpTransfer(r.topo.lab, r.topo.lanhost, r.topo.hqhost, ADDR.hqhost, 256 * 1024);
    let h = (await r.d.status()).health;
    assert.equal(h.broker, r.brokerUrl);
    assert.equal(h.connected, false);
    assert.match(h.lastError ?? '', /ECONNREFUSED|refused/i);
    assert.equal(h.eventsQueued, 1, 'tunnel-up waits for the broker');

    // HQ deletes the IKE_SA: the box reconnects (tunnel-down, tunnel-up), then HQ rekeys the CHILD_SA.
    const down = r.d.waitFor(/ike-down/, 'ike-down');
    await r.hq.terminate('branch');
    await down;
    const ms = await r.trafficBack(30_000);
    await r.hq.waitForChildUp('net', { ike: 'branch' });
    const rekeyed = r.d.waitFor(/child-rekeyed/, 'child-rekeyed');
    await r.hq.rekeyChild('net');
    await rekeyed;
    await r.assertIntact();
    h = (await r.d.status()).health;
    assert.equal(h.connected, false);
    assert.equal(h.eventsQueued, 4, 'tunnel-up, tunnel-down, tunnel-up, rekey wait for the broker');
    assert.equal(h.eventsDropped, 0);
    const before = r.d.output.length;

    // A broker at last: the queue drains in order (the box retries with backoff, at most 60 s apart).
    const brokerAt = performance.now();
    const broker = await Mosquitto.start({ ns: r.branch, bind: '127.0.0.1', port: CLOSED_PORT, persistence: false });
    const w = await Watcher.spawnSub(r.branch, '127.0.0.1', CLOSED_PORT, `outpost/${DEVICE}/#`);
    try {
      const last = await w.waitFor((m) => isEvent('rekey')(m), 'the last queued event (rekey)', { guardMs: 70_000 });
      const evs = w.on('events').map((m) => m.json);
      assert.deepEqual(evs.map((e) => e.seq), [1, 2, 3, 4]);
      assert.deepEqual(evs.map((e) => e.type), ['tunnel-up', 'tunnel-down', 'tunnel-up', 'rekey']);
      assert.match(evs[1].reason, /deleted by peer/);
      await w.waitFor((m) => m.topic.endsWith('/health'), 'a health report');
      h = (await r.d.status()).health;
      assert.equal(h.connected, true);
      assert.equal(h.eventsQueued, 0);
      assert.doesNotMatch(r.d.output.slice(before), /events-dropped/);
      r.report(t, 'row 5: broker unreachable throughout', ms, evs.map((e) => e.reason ? `${e.type}(${e.reason})` : e.type),
        `4 events queued, 0 dropped; delivered in order ${dur(last.at - brokerAt)} after a broker started listening (reconnect backoff)`);
    } finally {
      await w.close();
      await broker.close();
    }
  });
});
