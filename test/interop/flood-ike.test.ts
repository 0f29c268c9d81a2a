// IKE_SA_INIT floods against an Outpost responder (HQ role) from a fifth namespace, while a
// strongSwan branch's tunnel carries pings.
// 1. Requests from random SPIs that never answer: cookies engage once the half-open SAs reach the
//    policy's cookieThreshold, the half-open count stays at that bound and drains to zero after
//    the half-open timeout.
// 2. A flood that answers every COOKIE (as one from a real address would): half-open SAs are
//    capped at halfOpenMax, the excess is dropped and counted, and they all expire.
// In both the established tunnel keeps passing traffic, the daemon's memory stays bounded, and
// `outpost status --json` shows it all in tunnel.ike.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { requireEnv, type Netns } from '../lib/netns.ts';
import { buildTopology, ADDR, type Topology } from '../lib/topology.ts';
import { Charon, siteToSiteConf, stopAll, type IkeSa } from '../lib/strongswan.ts';
import { OutpostDaemon } from '../lib/outpost-daemon.ts';
import { ping } from '../lib/traffic.ts';
import { validateConfig } from '../../firmware/config/validate.ts';
import { policyFromConfig } from '../../firmware/gateway/policy-from-config.ts';
import type { TunnelPolicy } from '../../firmware/ike/policy.ts';
import { attacker, flood, FLOOD_ADDR, mb, usage } from './flood-lib.ts';

const PSK = 'interop-test-psk-0123456789';

interface Rig { topo: Topology; evil: Netns; d: OutpostDaemon; branch: Charon; policy: TunnelPolicy; ikeBefore: IkeSa }

/** Outpost responder at hq, strongSwan initiator at branch with its tunnel up, an attacker namespace. */
async function withResponder(t: TestContext, fn: (r: Rig) => Promise<void>): Promise<void> {
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
    await fn({ topo, evil, d, branch, policy: policyFromConfig(v.config), ikeBefore });
  } catch (e) {
    if (d) process.stderr.write(`--- outpost tail ---\n${d.tail(40)}\n`);
    if (branch) process.stderr.write(`${branch.logTail(30)}\n`);
    throw e;
  } finally {
    await d?.stop();
    await stopAll([branch]);
    await topo.lab.destroy();
  }
}

/** Floods while pinging through the tunnel; returns the flood's output line and pings received. */
async function floodWhilePinging(r: Rig, args: (string | number)[], seconds: number): Promise<{ sent: number; received: number; pings: number }> {
  const pings = Math.ceil(seconds / 0.2) + 5;
  const pinging = r.topo.lab.track(r.topo.lanhost.spawn('ping', ['-n', '-c', String(pings), '-i', '0.2', '-W', '2', ADDR.hqhost]));
  let out = '';
  pinging.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  const done = new Promise((res) => pinging.once('exit', res));
  const sent = await flood(r.topo.lab, r.evil, args);
  await done;
  return { sent, received: Number(/(\d+) received/.exec(out)?.[1] ?? 0), pings };
}

/** The same IKE SA as before the flood, up, and half-open SAs gone after the half-open timeout. */
async function afterwards(t: TestContext, r: Rig): Promise<void> {
  const ikeAfter = (await r.branch.listSas()).find((s) => s.name === 'hq');
  assert.equal(ikeAfter?.initiatorSpi, r.ikeBefore.initiatorSpi, 'same IKE SA after the flood');
  assert.equal((await r.d.status()).tunnel.state, 'up');
  await r.branch.waitForState(async () => (await r.d.status()).tunnel.ike!.halfOpen === 0, 'half-open IKE SAs expired', r.policy.halfOpenTimeoutMs + 15_000);
  t.diagnostic(`after the half-open timeout: 0 half-open, RSS ${mb(usage(r.d.proc.pid!).rss)} MB`);
  assert.equal(ping(r.topo.lanhost, ADDR.hqhost, { count: 3, interval: 0.2 }).received, 3, 'tunnel still passes traffic');
}

const COUNT = Number(process.env.FLOOD_COUNT ?? 4000);
const RATE = Number(process.env.FLOOD_RATE ?? 800);

test(`IKE_SA_INIT flood (${COUNT} at ${RATE}/s): cookies, bounded half-open SAs that expire, tunnel keeps passing traffic`, { timeout: 180_000 }, (t) => withResponder(t, async (r) => {
  const pid = r.d.proc.pid!;
  const before = usage(pid);
  const st0 = (await r.d.status()).tunnel.ike!;
  const { sent, received, pings } = await floodWhilePinging(r, ['ike-init', FLOOD_ADDR.gateway, 500, COUNT, RATE], COUNT / RATE);
  const during = usage(pid);
  const st1 = (await r.d.status()).tunnel.ike!;
  const requests = st1.ikeSaInitRequests - st0.ikeSaInitRequests;
  t.diagnostic(`flood: ${sent} IKE_SA_INIT sent; Outpost counted ${requests} requests, ${st1.cookiesSent - st0.cookiesSent} cookies sent, ${st1.halfOpen} half-open (threshold ${r.policy.cookieThreshold}, max ${r.policy.halfOpenMax}), ${st1.halfOpenDropped} dropped at the cap`);
  t.diagnostic(`daemon RSS ${mb(before.rss)} MB before, ${mb(during.rss)} MB after; CPU ${Math.round(during.cpuMs - before.cpuMs)} ms during the ${(COUNT / RATE).toFixed(1)} s flood`);
  t.diagnostic(`pings through the tunnel during the flood: ${received}/${pings}`);
  assert.ok(requests >= sent * 0.5, `Outpost saw ${requests} of ${sent} IKE_SA_INIT requests`);
  assert.ok(st1.cookiesSent - st0.cookiesSent >= requests - r.policy.cookieThreshold - 5, `cookies engaged: ${st1.cookiesSent - st0.cookiesSent} for ${requests} requests`);
  assert.ok(st1.halfOpen <= r.policy.cookieThreshold, `half-open SAs ${st1.halfOpen} above the cookie threshold ${r.policy.cookieThreshold}`);
  assert.ok(received >= pings - 1, `tunnel traffic during the flood: ${received}/${pings} pings`);
  assert.ok(during.rss < before.rss + 64 * 2 ** 20, `RSS grew from ${mb(before.rss)} to ${mb(during.rss)} MB`);
  await afterwards(t, r);
}));

const COOKIE_COUNT = Number(process.env.FLOOD_COOKIE_COUNT ?? 1500);
const COOKIE_RATE = Number(process.env.FLOOD_COOKIE_RATE ?? 300);

test(`IKE_SA_INIT flood answering cookies (${COOKIE_COUNT} at ${COOKIE_RATE}/s): half-open SAs capped at halfOpenMax, excess dropped and counted, all expire`, { timeout: 180_000 }, (t) => withResponder(t, async (r) => {
  const pid = r.d.proc.pid!;
  const before = usage(pid);
  const st0 = (await r.d.status()).tunnel.ike!;
  const { sent, received, pings } = await floodWhilePinging(r, ['ike-init-cookie', FLOOD_ADDR.gateway, 500, COOKIE_COUNT, COOKIE_RATE], COOKIE_COUNT / COOKIE_RATE);
  const during = usage(pid);
  const st1 = (await r.d.status()).tunnel.ike!;
  const dropped = st1.halfOpenDropped - st0.halfOpenDropped;
  t.diagnostic(`flood: ${sent} IKE_SA_INIT sent (cookies answered); ${st1.ikeSaInitRequests - st0.ikeSaInitRequests} requests, ${st1.cookiesSent - st0.cookiesSent} cookies, ${st1.halfOpen} half-open (max ${r.policy.halfOpenMax}), ${dropped} dropped at the cap`);
  t.diagnostic(`daemon RSS ${mb(before.rss)} MB before, ${mb(during.rss)} MB with ${st1.halfOpen} half-open SAs; CPU ${Math.round(during.cpuMs - before.cpuMs)} ms`);
  t.diagnostic(`pings through the tunnel during the flood: ${received}/${pings}`);
  assert.ok(st1.halfOpen <= r.policy.halfOpenMax, `half-open ${st1.halfOpen} above halfOpenMax ${r.policy.halfOpenMax}`);
  assert.ok(st1.halfOpen > r.policy.cookieThreshold, `answered cookies create half-open state (${st1.halfOpen})`);
  if (sent > r.policy.halfOpenMax + r.policy.cookieThreshold + 50) assert.ok(dropped > 0, `no request dropped at the cap (${st1.halfOpen} half-open)`);
  assert.ok(received >= pings - 2, `tunnel traffic during the flood: ${received}/${pings} pings`);
  assert.ok(during.rss < before.rss + 128 * 2 ** 20, `RSS grew from ${mb(before.rss)} to ${mb(during.rss)} MB`);
  await afterwards(t, r);
}));
