// Rekeys against a real strongSwan 5.9.8 HQ while lanhost pings hqhost every 100 ms: CHILD_SA
// and IKE_SA rekeys started by HQ (swanctl --rekey), and a CHILD_SA rekey started by Outpost
// (childLifetimeSeconds 60, the validator's minimum: its rekey falls at about 48-53 s). After
// each rekey Outpost's status shows the new SPIs (matching HQ's), and at most one ping is lost
// per rekey.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { requireEnv, waitForLine, type Netns, type Lab } from '../lib/netns.ts';
import { buildTopology, ADDR } from '../lib/topology.ts';
import { Charon, siteToSiteConf, stopAll, type IkeSa } from '../lib/strongswan.ts';
import { OutpostDaemon, branchConfig } from '../lib/outpost-daemon.ts';
import { CHILD_LIFETIME_RANGE } from '../../firmware/config/defaults.ts';
import { within } from '../lib/traffic.ts';

const PSK = 'interop-test-psk-0123456789';

/** A `ping -i 0.1` running in the background; stop() sends SIGINT and parses the summary. */
class Pinger {
  private proc: ChildProcess;
  private out = '';
  constructor(lab: Lab, ns: Netns, dst: string) {
    this.proc = lab.track(ns.spawn('ping', ['-n', '-i', '0.1', '-W', '1', dst]));
    this.proc.stdout!.on('data', (d: Buffer) => { this.out += d.toString(); });
  }
  /** Resolves after `n` more echo replies. */
  async replies(n: number): Promise<void> {
    let left = n;
    await within(waitForLine(this.proc, (l) => /bytes from/.test(l) && --left <= 0, `${n} ping replies`), n * 100 + 10_000, `${n} ping replies`);
  }
  async stop(): Promise<{ transmitted: number; received: number; output: string }> {
    const done = new Promise((r) => this.proc.once('exit', r));
    if (this.proc.exitCode === null) this.proc.kill('SIGINT');
    await done;
    const m = /(\d+) packets transmitted, (\d+) received/.exec(this.out);
    assert.ok(m, `ping summary:\n${this.out.slice(-2000)}`);
    return { transmitted: Number(m[1]), received: Number(m[2]), output: this.out };
  }
}

const ikeOf = async (hq: Charon): Promise<IkeSa | undefined> => (await hq.listSas()).find((s) => s.name === 'branch');

test('CHILD and IKE rekeys by either side keep traffic flowing', { timeout: 180_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'swanctl', 'socat', 'ping'], files: ['/usr/lib/ipsec/charon'] })) return;
  const topo = buildTopology();
  let hq: Charon | undefined;
  let d: OutpostDaemon | undefined;
  try {
    hq = await Charon.start(topo.hq, {
      name: 'hq',
      swanctlConf: siteToSiteConf({
        conn: 'branch', localAddrs: ADDR.hqWan, remoteAddrs: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net',
        psk: PSK, localTs: [ADDR.hqSubnet], remoteTs: [ADDR.branchSubnet], esp: ['aes256gcm16-x25519'],
        // HQ rekeys only when told to (swanctl --rekey), so Outpost's own timer is what fires last.
        ikeRekeyTime: 0, rekeyTime: 0, lifeTime: 0,
      }),
    });
    await hq.loadAll();
    d = new OutpostDaemon(topo.lab, topo.branch, {
      name: 'branch', config: branchConfig({ esp: ['aes256gcm16-x25519'], childLifetimeSeconds: CHILD_LIFETIME_RANGE.min }),
    });
    await within(d.start().waitFor(/child-up/), 20_000, 'first child-up');
    await hq.waitForChildUp('net', { ike: 'branch' });
    const logged = (fn: () => Promise<void>) => async () => {
      try { await fn(); } catch (e) { process.stderr.write(`--- outpost tail ---\n${d!.tail(60)}\n${hq!.logTail()}\n`); throw e; }
    };

    /** Runs `rekey` while pinging; checks the loss, and that both ends agree on the new child. */
    const underPing = async (rekey: () => Promise<void>) => {
      const before = (await d!.status()).tunnel;
      const p = new Pinger(topo.lab, topo.lanhost, ADDR.hqhost);
      try {
        await p.replies(5);
        await rekey();
        await p.replies(10);
      } finally {
        const r = await p.stop();
        assert.ok(r.transmitted - r.received <= 1, `lost ${r.transmitted - r.received} of ${r.transmitted} pings across one rekey`);
      }
      await hq!.waitForState(async () => ((await ikeOf(hq!))?.children.length ?? 0) === 1, 'HQ back to one CHILD_SA');
      const after = (await d!.status()).tunnel;
      const h = (await ikeOf(hq!))!;
      assert.equal(after.state, 'up');
      assert.equal(after.childSas.length, 1, JSON.stringify(after.childSas));
      assert.equal(after.childSas[0]!.spiIn, h.children[0]!.spiOut, 'Outpost inbound SPI is HQ outbound');
      assert.equal(after.childSas[0]!.spiOut, h.children[0]!.spiIn, 'Outpost outbound SPI is HQ inbound');
      return { before, after, hqSa: h };
    };

    await t.test('HQ rekeys the CHILD_SA', logged(async () => {
      const { before, after, hqSa } = await underPing(async () => {
        const rekeyed = d!.waitFor(/child-rekeyed/);
        await hq!.rekeyChild('net');
        await within(rekeyed, 10_000, 'child-rekeyed');
      });
      assert.notEqual(after.childSas[0]!.spiIn, before.childSas[0]!.spiIn, 'new inbound SPI');
      assert.equal(hqSa.children[0]!.dhGroup, 'CURVE_25519', 'the rekey used PFS');
    }));

    await t.test('HQ rekeys the IKE_SA', logged(async () => {
      const oldSpi = (await ikeOf(hq!))!.initiatorSpi;
      const { before, after, hqSa } = await underPing(async () => {
        await hq!.rekeyIke('branch');
        await hq!.waitForState(async () => {
          const all = (await hq!.listSas()).filter((s) => s.name === 'branch');
          return all.length === 1 && all[0]!.state === 'ESTABLISHED' && all[0]!.initiatorSpi !== oldSpi;
        }, 'the rekeyed IKE_SA alone');
      });
      assert.notEqual(after.ikeSa!.spiInitiator, before.ikeSa!.spiInitiator, 'new IKE SPI');
      assert.equal(after.ikeSa!.spiInitiator, hqSa.initiatorSpi!.replace(/^0x/, '').padStart(16, '0'));
      assert.equal(after.childSas[0]!.spiIn, before.childSas[0]!.spiIn, 'the CHILD_SA moved over unchanged');
    }));

    await t.test('Outpost rekeys the CHILD_SA when its lifetime runs out', { timeout: 90_000 }, logged(async () => {
      const { before, after } = await underPing(async () => {
        await within(d!.waitFor(/child-rekeyed/), CHILD_LIFETIME_RANGE.min * 1000, 'Outpost-initiated child-rekeyed');
      });
      assert.notEqual(after.childSas[0]!.spiIn, before.childSas[0]!.spiIn, 'new inbound SPI');
      assert.ok(d!.output.match(/CREATE_CHILD_SA request \d+ \[[^\]]*N\(REKEY_SA\)/), 'Outpost sent the CREATE_CHILD_SA request');
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
