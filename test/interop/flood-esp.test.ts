// Garbage and replayed ESP on UDP 4500 against an Outpost branch with a strongSwan HQ: random
// SPIs, the live inbound SPI with bad ICVs, and real ESP packets from HQ captured and sent
// again, from a fifth namespace. Each kind is dropped and counted under its reason in
// `outpost status` (tunnel.dataPlane.drops), the tunnel passes traffic afterwards, the IKE SA
// survives and answers HQ's dead-peer checks (DPD every 2 s) during the flood, and memory stays
// bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireEnv, waitForLine } from '../lib/netns.ts';
import { buildTopology, ADDR } from '../lib/topology.ts';
import { Charon, siteToSiteConf, stopAll } from '../lib/strongswan.ts';
import { OutpostDaemon, branchConfig } from '../lib/outpost-daemon.ts';
import { ping, within } from '../lib/traffic.ts';
import { attacker, flood, FLOOD_ADDR, mb, usage } from './flood-lib.ts';
import { waitForExit } from './flood-wait.ts';

const PSK = 'interop-test-psk-0123456789';
const COUNT = Number(process.env.FLOOD_COUNT ?? 3000);
const RATE = Number(process.env.FLOOD_RATE ?? 1000);

test(`garbage and replayed ESP (${COUNT} of each kind at ${RATE}/s): dropped and counted, IKE keeps answering DPD, tunnel passes traffic`, { timeout: 180_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'swanctl', 'ping', 'tshark'], files: ['/usr/lib/ipsec/charon', '/dev/net/tun'] })) return;
  const topo = buildTopology();
  const evil = attacker(topo.lab, topo.branch);
  const dir = mkdtempSync(join(tmpdir(), 'outpost-flood-esp-'));
  let hq: Charon | undefined;
  let d: OutpostDaemon | undefined;
  try {
    hq = await Charon.start(topo.hq, {
      name: 'hq',
      logLevels: { enc: 1 }, // "parsed INFORMATIONAL response N [ ]": a DPD answered
      swanctlConf: siteToSiteConf({ conn: 'branch', localAddrs: ADDR.hqWan, remoteAddrs: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net',
        psk: PSK, localTs: [ADDR.hqSubnet], remoteTs: [ADDR.branchSubnet], dpdDelay: 2 }),
    });
    await hq.loadAll();
    d = new OutpostDaemon(topo.lab, topo.branch, { name: 'branch', config: branchConfig({ psk: PSK }), env: { OUTPOST_LOG_LEVEL: 'info' } });
    await within(d.start().waitFor(/child-up/), 20_000, 'child-up');
    await hq.waitForChildUp('net', { ike: 'branch' });

    // Real ESP from HQ to the branch, to replay: capture the echo replies of a few pings.
    const pcap = join(dir, 'esp.pcapng');
    const cap = topo.lab.track(topo.branch.spawn('tshark', ['-i', topo.ifs.branchWan, '-f', `udp src port 4500 and src host ${ADDR.hqWan}`, '-c', '5', '-w', pcap]));
    await waitForLine(cap, (l) => /Capture started/.test(l), 'tshark capture started');
    assert.equal(ping(topo.lanhost, ADDR.hqhost, { count: 5, interval: 0.2 }).received, 5, 'tunnel up');
    await waitForExit(cap);
    const captured = execFileSync('tshark', ['-r', pcap, '-T', 'fields', '-e', 'udp.payload'], { encoding: 'utf8' })
      .split('\n').map((l) => l.replace(/:/g, '').trim()).filter((h) => h.length > 16 && !h.startsWith('00000000') && h !== 'ff');
    assert.ok(captured.length >= 3, `captured ${captured.length} ESP packets from HQ`);
    const replayFile = join(dir, 'replay.hex');
    writeFileSync(replayFile, captured.join('\n') + '\n');
    const spiIn = captured[0]!.slice(0, 8);

    const st0 = await d.status();
    assert.equal(st0.tunnel.childSas[0]?.spiIn, spiIn, 'the captured packets are for our inbound SA');
    const drops0 = st0.tunnel.dataPlane?.drops ?? {};
    const ikeSpi = st0.tunnel.ikeSa?.spiInitiator;
    const pid = d.proc.pid!;
    const before = usage(pid);
    const logFrom = hq.logText().length;

    const sentGarbage = await flood(topo.lab, evil, ['esp-garbage', FLOOD_ADDR.gateway, 4500, COUNT, RATE]);
    const sentBadIcv = await flood(topo.lab, evil, ['esp-garbage', FLOOD_ADDR.gateway, 4500, COUNT, RATE, spiIn]);
    const sentReplay = await flood(topo.lab, evil, ['replay', FLOOD_ADDR.gateway, 4500, COUNT, RATE, replayFile]);
    const during = usage(pid);

    const st1 = await d.status();
    const drops1 = st1.tunnel.dataPlane?.drops ?? {};
    const delta = (k: string) => (drops1[k] ?? 0) - (drops0[k] ?? 0);
    t.diagnostic(`sent ${sentGarbage} random-SPI, ${sentBadIcv} live-SPI bad-ICV, ${sentReplay} replayed; drops now ${JSON.stringify(drops1)}`);
    t.diagnostic(`daemon RSS ${mb(before.rss)} -> ${mb(during.rss)} MB; CPU ${Math.round(during.cpuMs - before.cpuMs)} ms for ${sentGarbage + sentBadIcv + sentReplay} datagrams`);
    assert.ok(delta('unknown_spi') >= sentGarbage * 0.5, `unknown_spi +${delta('unknown_spi')} for ${sentGarbage} random-SPI packets`);
    assert.ok(delta('auth_failed') + delta('malformed') >= sentBadIcv * 0.5, `auth_failed +${delta('auth_failed')} malformed +${delta('malformed')} for ${sentBadIcv} bad-ICV packets`);
    assert.ok(delta('replay') >= sentReplay * 0.5, `replay +${delta('replay')} for ${sentReplay} replayed packets`);
    const child = st1.tunnel.childSas[0]!;
    assert.equal(child.spiIn, spiIn, 'same CHILD_SA');
    assert.ok(during.rss < before.rss + 64 * 2 ** 20, `RSS grew from ${mb(before.rss)} to ${mb(during.rss)} MB`);

    // IKE kept working: HQ's DPD requests during the flood got answers, and it is the same IKE SA.
    const dpdAnswers = (hq.logText(logFrom).match(/parsed INFORMATIONAL response \d+ \[ \]/g) ?? []).length;
    t.diagnostic(`HQ DPD exchanges answered during the flood: ${dpdAnswers}`);
    assert.ok(dpdAnswers >= 1, `HQ got no DPD answer during the flood:\n${hq.logText(logFrom).slice(-3000)}`);
    assert.equal(st1.tunnel.state, 'up');
    assert.equal(st1.tunnel.ikeSa?.spiInitiator, ikeSpi, 'same IKE SA');
    assert.equal(ping(topo.lanhost, ADDR.hqhost, { count: 3, interval: 0.2 }).received, 3, 'tunnel passes traffic after the flood');
  } catch (e) {
    if (d) process.stderr.write(`--- outpost tail ---\n${d.tail(40)}\n`);
    if (hq) process.stderr.write(`${hq.logTail(30)}\n`);
    throw e;
  } finally {
    await d?.stop();
    await stopAll([hq]);
    await topo.lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
