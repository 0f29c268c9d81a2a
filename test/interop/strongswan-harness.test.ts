// Proves the strongSwan harness (test/lib/strongswan.ts): two real charons, "branch" and "hq",
// in the four-namespace topology, PSK, AES-256-GCM + X25519, ESP in UDP 4500 through
// kernel-libipsec, site-to-site 10.1.0.0/24 <-> 10.2.0.0/24, branch initiating.
//
// How forwarded LAN traffic reaches the tunnel with kernel-libipsec (no kernel ESP here):
// - charon creates the TUN device `ipsec0` at startup (in its own namespace) and, for each
//   installed CHILD_SA, a route `REMOTE_TS dev ipsec0 src <own address inside LOCAL_TS>` in
//   table 220 plus the rule `from all lookup 220` (charon.install_routes, on by default). That
//   route is all it takes: a packet from lanhost forwarded by branch (ip_forward=1, set by the
//   topology) is routed into ipsec0, libipsec reads it, matches its own userspace policy, and
//   sends it ESP-in-UDP from port 4500. No XFRM policies or extra routes are involved.
// - On the far side libipsec writes the decrypted packet into ipsec0 and the kernel forwards it
//   to the LAN; the reverse-path check passes because the route back to the source is that
//   same table-220 route via ipsec0.
// - The `src` of the route needs the gateway to own an address inside its local_ts (10.1.0.1,
//   10.2.0.1 here). kernel-libipsec's allow_peer_ts is needed only if a remote_ts contains the
//   peer's WAN address (e.g. 0.0.0.0/0), which would otherwise route IKE/ESP into the tunnel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { requireEnv, waitForLine, withTimeout } from '../lib/netns.ts';
import { buildTopology, ADDR, type Topology } from '../lib/topology.ts';
import { Charon, siteToSiteConf, stopAll, withCharonLogs, type IkeSa } from '../lib/strongswan.ts';

const PSK = 'harness-test-psk-0123456789';

function confs() {
  const common = { ike: ['aes256gcm16-prfsha256-x25519'], esp: ['aes256gcm16'], psk: PSK, dpdDelay: 30 };
  return {
    branch: siteToSiteConf({
      ...common, conn: 'hq', localAddrs: ADDR.branchWan, remoteAddrs: ADDR.hqWan,
      localId: 'branch.example.net', remoteId: 'hq.example.net',
      localTs: [ADDR.branchSubnet], remoteTs: [ADDR.hqSubnet],
    }),
    hq: siteToSiteConf({
      ...common, conn: 'branch', localAddrs: ADDR.hqWan, remoteAddrs: '%any',
      localId: 'hq.example.net', remoteId: 'branch.example.net',
      localTs: [ADDR.hqSubnet], remoteTs: [ADDR.branchSubnet],
    }),
  };
}

function assertSuite(sa: IkeSa, who: string): void {
  assert.equal(sa.state, 'ESTABLISHED', `${who} IKE_SA state`);
  assert.equal(sa.encrAlg, 'AES_GCM_16', `${who} IKE encr`);
  assert.equal(sa.encrKeysize, 256, `${who} IKE key size`);
  assert.equal(sa.dhGroup, 'CURVE_25519', `${who} IKE DH group`);
  assert.ok(sa.natAny, `${who}: encap = yes should fake a NAT so ESP goes in UDP`);
  assert.equal(sa.localPort, 4500, `${who} floated to 4500`);
}

/** Sends `bytes` random bytes lanhost -> hqhost over TCP with socat; returns both SHA-256s. */
async function tcpTransfer(topo: Topology, bytes: number): Promise<{ sent: string; received: string; receivedLen: number }> {
  const data = randomBytes(bytes);
  const server = topo.lab.track(topo.hqhost.spawn('socat', ['-d', '-d', '-u', `TCP-LISTEN:5001,bind=${ADDR.hqhost},reuseaddr`, 'STDOUT']));
  const hash = createHash('sha256');
  let receivedLen = 0;
  server.stdout!.on('data', (d: Buffer) => { hash.update(d); receivedLen += d.length; });
  const serverDone = withTimeout(new Promise<number | null>((r) => server.once('exit', (c) => r(c))), 30_000, 'socat server exit');
  await withTimeout(waitForLine(server, (l) => /listening on/.test(l), 'socat listening'), 10_000, 'socat listening');
  const client = topo.lab.track(topo.lanhost.spawn('socat', ['-u', 'STDIN', `TCP:${ADDR.hqhost}:5001`], { stdio: ['pipe', 'pipe', 'pipe'] }));
  const clientDone = withTimeout(new Promise<number | null>((r) => client.once('exit', (c) => r(c))), 30_000, 'socat client exit');
  client.stdin!.on('error', () => { /* EPIPE if the connection fails; the exit code says so */ });
  client.stdin!.end(data);
  assert.equal(await clientDone, 0, 'socat client exit code');
  assert.equal(await serverDone, 0, 'socat server exit code');
  return { sent: createHash('sha256').update(data).digest('hex'), received: hash.digest('hex'), receivedLen };
}

test('strongSwan harness: branch and hq charons bring up a PSK site-to-site tunnel over UDP 4500', { timeout: 120_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'swanctl', 'tshark', 'socat'], files: ['/usr/lib/ipsec/charon'] })) return;
  const topo = buildTopology();
  let branch: Charon | undefined, hq: Charon | undefined;
  try {
    const c = confs();
    branch = await Charon.start(topo.branch, { name: 'branch', swanctlConf: c.branch });
    hq = await Charon.start(topo.hq, { name: 'hq', swanctlConf: c.hq });
    // Subtest failures do not propagate as exceptions, so each step prints the logs itself; the
    // steps build on each other, so after a failure the rest fail at once instead of timing out.
    let broken = '';
    const step = (name: string, fn: () => Promise<void>) => t.test(name, async () => {
      if (broken) throw new Error(`not run: earlier step "${broken}" failed`);
      try {
        await withCharonLogs([branch, hq], fn);
      } catch (e) {
        broken = name;
        throw e;
      }
    });
    await withCharonLogs([branch, hq], async () => {
      await branch!.loadAll();
      await hq!.loadAll();

      await step('branch initiates; the CHILD_SA is INSTALLED on both with the configured suite', async () => {
        await branch!.initiate('net', 'hq');
        const b = await branch!.waitForChildUp('net', { ike: 'hq' });
        const h = await hq!.waitForChildUp('net', { ike: 'branch' });
        assertSuite(b.ike, 'branch');
        assertSuite(h.ike, 'hq');
        assert.ok(b.ike.initiator && !h.ike.initiator, 'branch is the initiator');
        for (const [child, who] of [[b.child, 'branch'], [h.child, 'hq']] as const) {
          assert.equal(child.mode, 'TUNNEL', `${who} mode`);
          assert.equal(child.protocol, 'ESP', `${who} protocol`);
          assert.ok(child.encap, `${who} CHILD_SA uses UDP encapsulation`);
          assert.equal(child.encrAlg, 'AES_GCM_16', `${who} ESP encr`);
          assert.equal(child.encrKeysize, 256, `${who} ESP key size`);
        }
        assert.deepEqual(b.child.localTs, [ADDR.branchSubnet]);
        assert.deepEqual(b.child.remoteTs, [ADDR.hqSubnet]);
        // The two ends agree on the SPIs (one's inbound is the other's outbound).
        assert.equal(b.child.spiIn, h.child.spiOut);
        assert.equal(b.child.spiOut, h.child.spiIn);
        // kernel-libipsec's route into the TUN device, in table 220 (see the header comment).
        assert.match(topo.branch.ip('route', 'show', 'table', '220'), new RegExp(`^${ADDR.hqSubnet.replace(/\./g, '\\.')} dev ipsec0 .*src ${ADDR.branchLan.replace(/\./g, '\\.')}`, 'm'));
        assert.match(topo.hq.ip('route', 'show', 'table', '220'), /^10\.1\.0\.0\/24 dev ipsec0 /m);
      });

      await step('ping lanhost -> hqhost crosses the tunnel as ESP in UDP 4500 on hq\'s WAN', async () => {
        const before = (await hq!.waitForChildUp('net')).child;
        // 3 echo requests + 3 replies. udp[8:4] != 0 keeps ESP only: IKE on 4500 starts with the
        // 4-byte non-ESP marker (zero), and 1-byte NAT keepalives are too short to match.
        const cap = topo.lab.track(topo.hq.spawn('tshark', ['-l', '-n', '-i', topo.ifs.hqWan, '-c', '6', '-a', 'duration:20',
          '-f', 'udp port 4500 and udp[8:4] != 0', '-T', 'fields', '-E', 'separator=,',
          '-e', 'ip.src', '-e', 'ip.dst', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'esp.spi', '-e', 'frame.protocols']));
        let capOut = '';
        cap.stdout!.on('data', (d: Buffer) => { capOut += d.toString(); });
        // tshark's own autostop (-a duration:20) bounds this wait.
        const capDone = new Promise<number | null>((r) => cap.once('exit', (code) => r(code)));
        // "Capturing on" comes before dumpcap is live (the first packets were missed); this is later.
        await withTimeout(waitForLine(cap, (l) => /Capture started/.test(l), 'tshark capture started'), 15_000, 'tshark');

        const out = topo.lanhost.run('ping', '-c', '3', '-i', '0.2', '-W', '3', ADDR.hqhost);
        assert.match(out, /3 packets transmitted, 3 received/);
        assert.equal(await capDone, 0, 'tshark exit code');

        const rows = capOut.trim().split('\n').map((l) => l.split(','));
        assert.equal(rows.length, 6, `captured:\n${capOut}`);
        const spis = new Set([before.spiIn, before.spiOut].map((s) => parseInt(s!, 16)));
        for (const [src, dst, sport, dport, spi, protos] of rows) {
          assert.match(protos ?? '', /:ip:udp:udpencap:esp$/, 'ESP in UDP, nothing else');
          assert.deepEqual(new Set([src, dst]), new Set([ADDR.branchWan, ADDR.hqWan]));
          assert.equal(sport, '4500');
          assert.equal(dport, '4500');
          assert.ok(spis.has(parseInt(spi ?? '', 16)), `ESP SPI ${spi} belongs to the CHILD_SA; captured:\n${capOut}`);
        }
        const after = (await hq!.waitForChildUp('net')).child;
        assert.ok(after.packetsIn >= before.packetsIn + 3, `hq inbound packets ${before.packetsIn} -> ${after.packetsIn}`);
        assert.ok(after.packetsOut >= before.packetsOut + 3, `hq outbound packets ${before.packetsOut} -> ${after.packetsOut}`);
      });

      await step('a 1 MiB TCP transfer lanhost -> hqhost arrives intact', async () => {
        const r = await tcpTransfer(topo, 1 << 20);
        assert.equal(r.receivedLen, 1 << 20);
        assert.equal(r.received, r.sent);
        const h = (await hq!.waitForChildUp('net')).child;
        assert.ok(h.bytesIn >= 1 << 20, `hq CHILD_SA counted ${h.bytesIn} bytes in`);
      });

      await step('hq killed with SIGKILL and restarted: branch re-initiates and traffic flows again', async () => {
        const oldPid = hq!.pid;
        await hq!.kill('SIGKILL');
        assert.equal(hq!.running, false);
        // Its TUN device went away with the process, and with it the table-220 route.
        assert.doesNotMatch(topo.hq.ip('link'), /ipsec0/);
        await hq!.restart();
        assert.notEqual(hq!.pid, oldPid);
        assert.deepEqual(await hq!.listSas(), []);
        await branch!.terminate('hq', { force: true });
        await branch!.waitForIkeGone('hq');
        await branch!.initiate('net', 'hq');
        await hq!.waitForChildUp('net', { ike: 'branch' });
        assert.match(topo.lanhost.run('ping', '-c', '3', '-i', '0.2', '-W', '3', ADDR.hqhost), /3 packets transmitted, 3 received/);
      });
    });
  } finally {
    await stopAll([branch, hq]);
    await topo.lab.destroy();
  }
});
