// Fault matrix, row 3: HQ misbehaving.
// (a) HQ's charon killed (SIGKILL) and started again at once: it forgot every SA, so the box's
//     dead peer detection finds nobody home, reports it and reconnects to the new charon.
// (b) HQ's configuration changed to refuse the box (another PSK: setSwanctlConf + loadAll) and
//     the IKE_SA deleted from HQ: the box's attempts fail authentication (auth-failed reported,
//     each time, with backoff) until HQ's configuration is fixed; then the tunnel is back.
// Measured: from HQ back (restarted, or its configuration fixed) to the first ping answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultRig, hqConf, dur } from '../lib/fault-rig.ts';

test('fault: HQ killed and restarted, then refusing the box and fixed: reported and recovered', { timeout: 120_000 }, async (t) => {
  await FaultRig.run(t, {}, async (r) => {
    await r.firstUp();

    // (a) HQ crash and restart.
    let from = r.mark();
    await r.hq.kill('SIGKILL');
    await r.hq.restart();
    const back = r.trafficBack(40_000); // from HQ running again to the first ping answered
    const down = await r.event('tunnel-down', from, 40_000);
    assert.match(down.json.reason, /dead peer detection/);
    const crashMs = await back;
    await r.event('tunnel-up', from, 10_000);
    await r.assertIntact();
    const crashEvents = r.eventsSince(from);

    // (b) HQ refuses the box: another PSK, and the IKE_SA deleted so the box must authenticate again.
    from = r.mark();
    r.hq.setSwanctlConf(hqConf({ psk: 'not-the-branch-psk-0123456789' }));
    await r.hq.loadAll();
    await r.hq.terminate('branch');
    const refusedDown = await r.event('tunnel-down', from, 20_000);
    const fail1 = await r.event('auth-failed', from, 20_000);
    await r.event('auth-failed', r.w!.messages.indexOf(fail1) + 1, 20_000); // it keeps trying, and keeps failing
    const st = await r.d.status();
    assert.notEqual(st.tunnel.state, 'up');
    assert.match(st.tunnel.lastError?.message ?? '', /AUTHENTICATION_FAILED|authentication/i);
    r.hq.setSwanctlConf(hqConf());
    await r.hq.loadAll();
    const refusedMs = await r.trafficBack(60_000);
    await r.event('tunnel-up', from, 10_000);
    await r.assertIntact();
    const refusedEvents = r.eventsSince(from);
    assert.ok(refusedDown.json.reason, 'tunnel-down has a reason');

    r.report(t, 'row 3: HQ restarted / HQ refusing then fixed',
      `${dur(crashMs)} after the restart (DPD included) / ${dur(refusedMs)} after the fix`, [...crashEvents, '|', ...refusedEvents]);
  });
});
