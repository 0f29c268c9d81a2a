// Fault matrix, row 7: the daemon SIGKILLed at random points and started again with the same
// config, the way systemd's Restart=always would. Each run is killed at one point: with the
// tunnel up and passing traffic; at seeded random delays after its start (0.1-1.6 s, from
// loading the config to the tunnel coming up; FAULT_SEED=n varies them); just after it sent
// IKE_AUTH (HQ may have the IKE_SA, the box not yet). Between those, the running (up) daemon is
// killed too. After each restart the config loads as it is (no fallback to
// the last-known-good copy), a stale control socket does not stop it, the tunnel comes back
// and HQ drops the stale IKE_SA on the new one's INITIAL_CONTACT; the broker publishes the
// last will (offline) for the killed run and online again for the new one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEVICE, FaultRig, dur } from '../lib/fault-rig.ts';
import type { Received } from '../lib/mosquitto.ts';

function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
}

const SEED = Number(process.env.FAULT_SEED ?? 7);
const isStatus = (state: string) => (m: Received) => m.topic === `outpost/${DEVICE}/status` && m.json?.state === state;

test(`fault: daemon SIGKILLed at random points and restarted (seed ${SEED}): config loads, tunnel back, HQ drops the stale SA`, { timeout: 150_000 }, async (t) => {
  await FaultRig.run(t, {}, async (r) => {
    await r.firstUp();
    const rnd = prng(SEED);
    const delay = (ms: number) => new Promise((res) => setTimeout(res, ms));
    // Where each run is killed, measured from its start.
    const points: { name: string; wait: () => Promise<unknown> }[] = [{ name: 'tunnel up, traffic passing', wait: async () => {} }];
    // Start-up (Node and tsx loading, config, TUN, UDP, IKE) takes about a second here.
    for (let i = 0; i < 4; i++) {
      const ms = Math.round(100 + rnd() * 1500);
      points.push({ name: `${ms} ms after start`, wait: () => delay(ms) });
    }
    points.push({ name: 'IKE_AUTH sent', wait: () => r.d.waitFor(/IKE_AUTH/, 'IKE_AUTH sent') });

    const times: number[] = [];
    const events: string[] = [];
    let initialContacts = 0;
    let wills = 0;
    let kills = 0;
    const kill = async () => {
      kills++;
      const exited = new Promise((res) => r.d.proc.once('exit', res));
      r.d.proc.kill('SIGKILL');
      await exited;
    };
    for (const [i, p] of points.entries()) {
      const from = r.mark();
      const hqLog = r.hq.logOffset();
      // The run to kill at this point: the first is the one firstUp() saw up; later ones are
      // started after killing the previous (up) run.
      if (i > 0) { await kill(); r.d.start(); }
      await p.wait();
      await kill();
      // systemd starts it again: this run must bring everything back.
      const mark = r.d.output.length;
      r.d.start();
      const ms = await r.trafficBack(40_000);
      times.push(ms);
      const out = r.d.output.slice(mark);
      assert.match(out, /outpost: running/);
      assert.doesNotMatch(out, /config-fallback|config-warning/, 'the config file loaded as it is');
      await r.w!.waitFor(isStatus('online'), 'online again', { from });
      await r.event('tunnel-up', from, 10_000);
      await r.assertIntact();
      if (/INITIAL_CONTACT/.test(r.hq.logText(hqLog))) initialContacts++;
      if (r.w!.messages.slice(from).some(isStatus('offline'))) wills++;
      events.push(...r.eventsSince(from).filter((e) => e !== 'rekey'));
      t.diagnostic(`killed at "${p.name}": traffic back ${dur(ms)} after the restart`);
    }
    // The run killed with the tunnel up had an IKE_SA at HQ and a broker connection for sure.
    assert.ok(initialContacts > 0, 'HQ saw INITIAL_CONTACT from a restarted box');
    assert.ok(wills > 0, 'the broker published the last will of a killed run');
    const sorted = [...times].sort((a, b) => a - b);
    r.report(t, `row 7: daemon SIGKILL + restart (x${kills}, seed ${SEED})`,
      `median ${dur(sorted[Math.floor(sorted.length / 2)]!)}, max ${dur(sorted.at(-1)!)} after the restart`,
      [...new Set(events)], `kill points: ${points.map((p) => p.name).join(', ')} (each after a kill while up); a last will seen in ${wills}/${points.length} rounds; HQ logged INITIAL_CONTACT in ${initialContacts}/${points.length}`);
  });
});
