// Path MTU through the tunnel, with real packets in namespaces (WAN MTU 1500, AES-GCM: tunnel
// MTU 1438 = 1500 - 20 IP - 8 UDP - 8 ESP - 8 IV - 16 ICV, payload+2 aligned to 4):
// - Outpost's own answer: with the branch TUN forced to MTU 1500 the kernel hands Outpost a
//   1478-byte DF ping, and Outpost writes back "fragmentation needed, mtu 1438" (from the
//   original destination); a 1438-byte DF ping passes;
// - a TCP transfer whose SYN leaves lanhost with MSS 1460 arrives on HQ's LAN with MSS 1398, and
//   the SYN-ACK reaches lanhost clamped too (tshark on both LANs);
// - without the override the TUN itself has MTU 1438 and the kernel answers from the box.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { requireEnv, waitForLine, type Netns } from '../lib/netns.ts';
import { buildTopology, ADDR } from '../lib/topology.ts';
import { OutpostDaemon, branchConfig } from '../lib/outpost-daemon.ts';
import { assertTcpTransfer } from '../lib/traffic.ts';

const PSK = 'mtu-test-psk-0123456789abcdef';

function dfPing(ns: Netns, size: number): { ok: boolean; out: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns.name, 'ping', '-M', 'do', '-s', String(size), '-c', '1', '-W', '3', ADDR.hqhost], { encoding: 'utf8' });
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}

/** tshark on `iface` in `ns` printing src, SYN/ACK flags and the MSS of the first SYN-flagged packet from `src`. */
async function captureSyn(ns: Netns, iface: string, src: string): Promise<{ proc: ChildProcess; result: Promise<string> }> {
  const proc = ns.spawn('tshark', ['-n', '-l', '-i', iface, '-c', '1', '-a', 'duration:60', '-f', `tcp and src host ${src} and tcp[tcpflags] & tcp-syn != 0`,
    '-T', 'fields', '-e', 'ip.src', '-e', 'tcp.flags.ack', '-e', 'tcp.options.mss_val']);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  await waitForLine(proc, (l) => /Capturing on/.test(l), `tshark capturing on ${iface}`);
  const result = new Promise<string>((resolve) => proc.once('exit', () => resolve(out.trim())));
  return { proc, result };
}

test('tunnel MTU: ICMP fragmentation-needed from Outpost and from the TUN, TCP MSS clamped both ways', { timeout: 180_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'ping', 'tshark', 'socat'] })) return;
  const topo = buildTopology();
  let hq: OutpostDaemon | undefined, branch: OutpostDaemon | undefined;
  try {
    hq = new OutpostDaemon(topo.lab, topo.hq, {
      name: 'hq', config: {
        device: { id: 'hq-mtu' }, lan: { interface: topo.ifs.hqLan, address: `${ADDR.hqLan}/24` },
        tunnel: { remote: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net', auth: { psk: PSK }, localSubnets: [ADDR.hqSubnet], remoteSubnets: [ADDR.branchSubnet] },
      },
    });
    await hq.start().waitFor(/control socket listening/);

    // 1. The TUN accepts 1500, the tunnel carries 1438: Outpost answers itself.
    branch = new OutpostDaemon(topo.lab, topo.branch, { name: 'branch', config: branchConfig({ psk: PSK }), env: { OUTPOST_TUN_MTU: '1500' } });
    const up = branch.start().waitFor(/child-up/);
    const mtuLine = await branch.waitFor(/outpost: mtu /);
    assert.match(mtuLine, /wanMtu=1500 tunnelMtu=1438 tunMtu=1500/);
    await up;
    assert.match(topo.branch.ip('-o', 'link', 'show', 'outpost0'), /mtu 1500/);
    const big = dfPing(topo.lanhost, 1450);
    assert.equal(big.ok, false, big.out);
    assert.match(big.out, new RegExp(`From ${ADDR.hqhost.replace(/\./g, '\\.')} icmp_seq=1 Frag needed and DF set \\(mtu = 1438\\)`), big.out);
    const fits = dfPing(topo.lanhost, 1410);
    assert.equal(fits.ok, true, `a 1438-byte DF ping fits: ${fits.out}`);

    // 2. MSS: lanhost offers 1460 (its LAN MTU 1500); hqhost sees 1398, and so does lanhost in the SYN-ACK.
    const atBranch = await captureSyn(topo.lanhost, topo.ifs.lanhost, ADDR.hqhost);
    const atHq = await captureSyn(topo.hq, topo.ifs.hqLan, ADDR.lanhost);
    await assertTcpTransfer(topo.lab, topo.lanhost, topo.hqhost, ADDR.hqhost, 1024 * 1024);
    // "Capturing on" can come a moment before the capture is live: new connections until both
    // captures have their SYN (bounded).
    for (let i = 0; i < 10 && [atHq.proc, atBranch.proc].some((p) => p.exitCode === null && p.signalCode === null); i++) {
      await assertTcpTransfer(topo.lab, topo.lanhost, topo.hqhost, ADDR.hqhost, 64 * 1024);
    }
    const [srcHq, ackHq, mssHq] = (await atHq.result).split('\t');
    assert.deepEqual([srcHq, mssHq], [ADDR.lanhost, '1398'], 'the SYN crossed the tunnel clamped to 1438 - 40');
    assert.ok(ackHq === '0' || ackHq === 'False', `a SYN, not a SYN-ACK: ${ackHq}`);
    const [srcBr, ackBr, mssBr] = (await atBranch.result).split('\t');
    assert.deepEqual([srcBr, mssBr], [ADDR.hqhost, '1398'], 'the SYN-ACK from hqhost (MSS 1460) reached lanhost clamped');
    assert.ok(ackBr === '1' || ackBr === 'True', `a SYN-ACK: ${ackBr}`);
    await branch.stop();

    // 3. Without the override the TUN has the tunnel MTU and the kernel answers, from the box.
    branch = new OutpostDaemon(topo.lab, topo.branch, { name: 'branch2', config: branchConfig({ psk: PSK }) });
    await branch.start().waitFor(/child-up/);
    assert.match(topo.branch.ip('-o', 'link', 'show', 'outpost0'), /mtu 1438/);
    topo.lanhost.ip('route', 'flush', 'cache'); // forget the 1438 learned in step 1
    const k = dfPing(topo.lanhost, 1450);
    assert.equal(k.ok, false);
    assert.match(k.out, new RegExp(`From ${ADDR.branchLan.replace(/\./g, '\\.')} icmp_seq=1 Frag needed and DF set \\(mtu = 1438\\)`), k.out);
    assert.equal(dfPing(topo.lanhost, 1410).ok, true);
  } catch (e) {
    if (branch) process.stderr.write(`--- branch ---\n${branch.tail(40)}\n`);
    if (hq) process.stderr.write(`--- hq ---\n${hq.tail(40)}\n`);
    throw e;
  } finally {
    await branch?.stop();
    await hq?.stop();
    await topo.lab.destroy();
  }
});
