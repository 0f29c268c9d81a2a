// An IKE_SA_INIT flood against an Outpost responder (HQ role) from a fifth namespace, while a
// strongSwan branch's tunnel carries pings: cookies engage once the half-open SAs reach the
// policy's cookieThreshold, the half-open count stays at that bound and drains to zero after the
// half-open timeout, the established tunnel keeps passing traffic, the daemon's memory stays
// bounded, and `outpost status --json` shows it all in tunnel.ike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireEnv } from '../lib/netns.ts';
import { buildTopology, ADDR } from '../lib/topology.ts';
import { Charon, siteToSiteConf, stopAll } from '../lib/strongswan.ts';
import { OutpostDaemon } from '../lib/outpost-daemon.ts';
import { ping } from '../lib/traffic.ts';
import { validateConfig } from '../../firmware/config/validate.ts';
import { policyFromConfig } from '../../firmware/gateway/policy-from-config.ts';
import { attacker, flood, FLOOD_ADDR, mb, usage } from './flood-lib.ts';

const PSK = 'interop-test-psk-0123456789';
const COUNT = Number(process.env.FLOOD_COUNT ?? 4000);
const RATE = Number(process.env.FLOOD_RATE ?? 800);

test(`IKE_SA_INIT flood (${COUNT} at ${RATE}/s): cookies, bounded half-open SAs that expire, tunnel keeps passing traffic`, { timeout: 180_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'swanctl', 'ping'], files: ['/usr/lib/ipsec/charon', '/dev/net/tun'] })) return;
  const topo = buildTopology();
  const evil = attacker(topo.lab, topo.hq);
  let branch: Charon | undefined;
  let d: OutpostDaemon | undefined;
  const config = {
    device: { id: 'hq-test' },
    lan: { interface: topo.ifs.hqLan, address: `${ADDR.hqLan}/24` },
    tunnel: { remote: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net', auth: { psk: PSK }, localSubnets: [ADDR.hqSubnet], remoteSubnets: [ADDR.branchSubnet] },
  };
  const v = validateConfig(config);
  assert.ok(v.ok);
  const policy = policyFromConfig(v.config);
  try {
    d = new OutpostDaemon(topo.lab, topo.hq, { name: 'hq', config, env: { OUTPOST_LOG_LEVEL: 'info' } });
    await d.start().waitFor(/control socket listening/);
    branch = await Charon.start(topo.branch, {
      name: 'branch',
      swanctlConf: siteToSiteConf({ conn: 'hq', localAddrs: ADDR.branchWan, remoteAddrs: ADDR.hqWan, localId: 'branch.example.net', remoteId: 'hq.example.net',
        psk: PSK, localTs: [ADDR.branchSubnet], remoteTs: [ADDR.hqSubnet], dpdDelay: 2 }),
    });
    await branch.loadAll();
    const up = d.waitFor(/child-up/);
    await branch.initiate('net', 'hq');
    await up;
    const { ike: ikeBefore } = await branch.waitForChildUp('net', { ike: 'hq' });
    assert.equal(ping(topo.lanhost, ADDR.hqhost, { count: 3, interval: 0.2 }).received, 3, 'tunnel up before the flood');
    const pid = d.proc.pid!;
    const before = usage(pid);
    const st0 = (await d.status()).tunnel.ike!;

    // Pings through the tunnel for as long as the flood lasts (it runs COUNT / RATE seconds).
    const pings = Math.ceil(COUNT / RATE / 0.2) + 5;
    const pinging = topo.lab.track(topo.lanhost.spawn('ping', ['-n', '-c', String(pings), '-i', '0.2', '-W', '2', ADDR.hqhost]));
    let pingOut = '';
    pinging.stdout!.on('data', (c: Buffer) => { pingOut += c.toString(); });
    const pingDone = new Promise((r) => pinging.once('exit', r));
    const sent = await flood(topo.lab, evil, ['ike-init', FLOOD_ADDR.gateway, 500, COUNT, RATE]);
    await pingDone;
    const during = usage(pid);
    const st1 = (await d.status()).tunnel.ike!;
    const received = Number(/(\d+) received/.exec(pingOut)?.[1] ?? 0);

    const requests = st1.ikeSaInitRequests - st0.ikeSaInitRequests;
    t.diagnostic(`flood: ${sent} IKE_SA_INIT sent; Outpost counted ${requests} requests, ${st1.cookiesSent - st0.cookiesSent} cookies sent, ${st1.halfOpen} half-open (threshold ${policy.cookieThreshold}, max ${policy.halfOpenMax}), ${st1.halfOpenDropped} dropped at the cap`);
    t.diagnostic(`daemon RSS ${mb(before.rss)} MB before, ${mb(during.rss)} MB after; CPU ${Math.round(during.cpuMs - before.cpuMs)} ms during the ${(COUNT / RATE).toFixed(1)} s flood`);
    t.diagnostic(`pings through the tunnel during the flood: ${received}/${pings}`);

    assert.ok(requests >= sent * 0.5, `Outpost saw ${requests} of ${sent} IKE_SA_INIT requests`);
    assert.ok(st1.cookiesSent - st0.cookiesSent >= requests - policy.cookieThreshold - 5, `cookies engaged: ${st1.cookiesSent - st0.cookiesSent} for ${requests} requests`);
    assert.ok(st1.halfOpen <= policy.cookieThreshold, `half-open SAs ${st1.halfOpen} above the cookie threshold ${policy.cookieThreshold}`);
    assert.ok(received >= pings - 1, `tunnel traffic during the flood: ${received}/${pings} pings`);
    assert.ok(during.rss < before.rss + 64 * 2 ** 20, `RSS grew from ${mb(before.rss)} to ${mb(during.rss)} MB`);

    // The tunnel is the same IKE SA (not torn down and rebuilt), and DPD kept it alive.
    const ikeAfter = (await branch.listSas()).find((s) => s.name === 'hq');
    assert.equal(ikeAfter?.initiatorSpi, ikeBefore.initiatorSpi, 'same IKE SA after the flood');
    assert.equal((await d.status()).tunnel.state, 'up');

    // Half-open SAs expire (policy.halfOpenTimeoutMs), and the count shows it.
    await branch.waitForState(async () => (await d!.status()).tunnel.ike!.halfOpen === 0, 'half-open IKE SAs expired', policy.halfOpenTimeoutMs + 15_000);
    const after = usage(pid);
    t.diagnostic(`after the half-open timeout: 0 half-open, RSS ${mb(after.rss)} MB`);
    assert.equal(ping(topo.lanhost, ADDR.hqhost, { count: 3, interval: 0.2 }).received, 3, 'tunnel still passes traffic');
  } catch (e) {
    if (d) process.stderr.write(`--- outpost tail ---\n${d.tail(40)}\n`);
    if (branch) process.stderr.write(`${branch.logTail(30)}\n`);
    throw e;
  } finally {
    await d?.stop();
    await stopAll([branch]);
    await topo.lab.destroy();
  }
});
