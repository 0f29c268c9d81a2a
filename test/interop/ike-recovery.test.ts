// Recovery against a real strongSwan 5.9.8 HQ: (1) HQ's charon is killed (SIGKILL) and
// restarted: Outpost notices through DPD (dpdSeconds 5, the validator's minimum), reconnects,
// and traffic flows again; (2) HQ deletes the IKE_SA (swanctl --terminate): Outpost reconnects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireEnv } from '../lib/netns.ts';
import { buildTopology, ADDR } from '../lib/topology.ts';
import { Charon, siteToSiteConf, stopAll } from '../lib/strongswan.ts';
import { OutpostDaemon, branchConfig } from '../lib/outpost-daemon.ts';
import { DPD_RANGE } from '../../firmware/config/defaults.ts';
import { assertPing, within } from '../lib/traffic.ts';

const PSK = 'interop-test-psk-0123456789';
const DPD = DPD_RANGE.min;
// DPD interval, then OUTPOST_IKE_RETRANSMIT=1000,1.5,3 (1 + 1.5 + 2.25 + 3.4 s), then the
// first reconnect (1 s +-25%), with slack for a loaded 2-core machine.
const RECOVERY_BOUND_MS = (DPD + 1 + 1.5 + 2.25 + 3.4 + 1.25 + 5) * 1000;

test('Outpost recovers from an HQ crash (DPD) and from an HQ-initiated delete', { timeout: 120_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'swanctl', 'socat', 'ping'], files: ['/usr/lib/ipsec/charon'] })) return;
  const topo = buildTopology();
  let hq: Charon | undefined;
  let d: OutpostDaemon | undefined;
  try {
    hq = await Charon.start(topo.hq, {
      name: 'hq',
      swanctlConf: siteToSiteConf({
        conn: 'branch', localAddrs: ADDR.hqWan, remoteAddrs: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net',
        psk: PSK, localTs: [ADDR.hqSubnet], remoteTs: [ADDR.branchSubnet],
      }),
    });
    await hq.loadAll();
    d = new OutpostDaemon(topo.lab, topo.branch, { name: 'branch', config: branchConfig({ dpdSeconds: DPD }) });
    await within(d.start().waitFor(/child-up/), 20_000, 'first child-up');
    await hq.waitForChildUp('net', { ike: 'branch' });
    assertPing(topo.lanhost, ADDR.hqhost);
    const first = (await d.status()).tunnel;
    // Subtest failures are not thrown here, so each prints the logs itself.
    const logged = (fn: () => Promise<void>) => async () => {
      try { await fn(); } catch (e) { process.stderr.write(`--- outpost tail ---\n${d!.tail(60)}\n${hq!.logTail()}\n`); throw e; }
    };

    await t.test('HQ killed and restarted: DPD notices, the tunnel comes back', logged(async () => {
      await hq!.kill('SIGKILL');
      await hq!.restart();
      const started = Date.now();
      const dpd = d!.waitFor(/dpd-timeout|ike-down/);
      const up = d!.waitFor(/child-up/);
      await within(dpd, RECOVERY_BOUND_MS, 'DPD noticing the dead IKE_SA');
      await within(up, RECOVERY_BOUND_MS - (Date.now() - started), 'child-up after HQ restart');
      await hq!.waitForChildUp('net', { ike: 'branch' });
      const st = (await d!.status()).tunnel;
      assert.equal(st.state, 'up');
      assert.notEqual(st.ikeSa!.spiInitiator, first.ikeSa!.spiInitiator, 'a new IKE_SA');
      assert.notEqual(st.childSas[0]!.spiIn, first.childSas[0]!.spiIn, 'a new CHILD_SA');
      assertPing(topo.lanhost, ADDR.hqhost);
    }));

    await t.test('HQ deletes the IKE_SA: Outpost reconnects', logged(async () => {
      const before = (await d!.status()).tunnel;
      const down = d!.waitFor(/ike-down/);
      const up = d!.waitFor(/child-up/);
      await hq!.terminate('branch');
      await within(down, 10_000, 'ike-down after the Delete');
      await within(up, 15_000, 'child-up after the Delete');
      await hq!.waitForChildUp('net', { ike: 'branch' });
      const st = (await d!.status()).tunnel;
      assert.equal(st.state, 'up');
      assert.notEqual(st.ikeSa!.spiInitiator, before.ikeSa!.spiInitiator, 'a new IKE_SA');
      assertPing(topo.lanhost, ADDR.hqhost);
    }));
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
