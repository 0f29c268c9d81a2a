// Outpost's data plane end to end with static keys (no IKE): branch and hq each run
// test/lib/static-peer.ts with mirrored keys, and lanhost reaches hqhost through ESP in UDP 4500:
// pings, then 2 MB of random bytes over TCP whose SHA-256 must match at the far end.
// Needs root (namespaces, TUN) and the TUN addon.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tunAddonCandidates } from '../../board/tun/index.ts';
import { requireEnv, waitForLine } from '../lib/netns.ts';
import { ADDR, buildTopology, type Topology } from '../lib/topology.ts';
import { peerOutput, peerStatus, startStaticPair, stopPeer, type PeerStatus } from '../lib/static-pair.ts';

const TRANSFER_BYTES = 2 * 1024 * 1024;
const TCP_PORT = 5001;
const SUITES = [
  { aead: 'aes256gcm16', esn: false },
  { aead: 'aes128gcm16', esn: false },
  { aead: 'chacha20poly1305', esn: true },
];

function ready(t: TestContext): boolean {
  const addon = tunAddonCandidates().find(existsSync) ?? tunAddonCandidates().at(-1)!;
  return requireEnv(t, { root: true, cmds: ['ip', 'ping'], files: ['/dev/net/tun', addon] });
}

// Plain JS for `node -e` (no tsx needed): the server hashes what it receives, the client hashes what it sends.
const SERVER = `const net=require('net'),crypto=require('crypto');
const s=net.createServer(c=>{const h=crypto.createHash('sha256');let n=0;
c.on('data',d=>{h.update(d);n+=d.length});c.on('error',e=>{console.log('error '+e.message);process.exit(1)});
c.on('end',()=>{console.log('received '+n+' '+h.digest('hex'));c.end();s.close()})});
s.listen(${TCP_PORT},process.argv[1],()=>console.log('listening'));`;
const CLIENT = `const net=require('net'),crypto=require('crypto');const n=Number(process.argv[2]);
const b=crypto.randomBytes(n);console.log('sent '+n+' '+crypto.createHash('sha256').update(b).digest('hex'));
const c=net.connect(${TCP_PORT},process.argv[1],()=>c.end(b));
c.on('close',e=>process.exit(e?1:0));c.on('error',e=>{console.log('error '+e.message);process.exit(1)});`;

const exitOf = (p: ChildProcess) =>
  new Promise<number | null>((r) => (p.exitCode !== null ? r(p.exitCode) : p.once('exit', (c) => r(c))));

async function tcpTransfer(topo: Topology): Promise<{ sent: string; received: string }> {
  const server = topo.lab.track(topo.hqhost.spawn(process.execPath, ['-e', SERVER, ADDR.hqhost]));
  await waitForLine(server, (l) => l === 'listening', 'TCP server listening');
  const receivedLine = waitForLine(server, (l) => l.startsWith('received ') || l.startsWith('error '), 'server result');
  const client = topo.lab.track(topo.lanhost.spawn(process.execPath, ['-e', CLIENT, ADDR.hqhost, String(TRANSFER_BYTES)]));
  const sentLine = waitForLine(client, (l) => l.startsWith('sent '), 'client hash');
  const [sent, received, code] = await Promise.all([sentLine, receivedLine, exitOf(client)]);
  assert.equal(code, 0, 'TCP client exit code');
  return { sent: sent.slice('sent '.length), received: received.slice('received '.length) };
}

const DATA_PLANE_ERRORS = ['auth_failed', 'replay', 'bad_padding', 'malformed', 'unknown_spi', 'selector_mismatch', 'seq_exhausted', 'too_big', 'tun_error'];

function assertCarried(name: string, s: PeerStatus, minPackets: number, out: string): void {
  const c = s.dataplane.children[0];
  assert.ok(c, `${name}: one child installed`);
  assert.ok(c.packetsIn >= minPackets, `${name}: packets in ${c.packetsIn} >= ${minPackets}\n${out}`);
  assert.ok(c.packetsOut >= minPackets, `${name}: packets out ${c.packetsOut} >= ${minPackets}\n${out}`);
  assert.ok(c.bytesIn > 0 && c.bytesOut > 0, `${name}: bytes counted`);
  for (const r of DATA_PLANE_ERRORS) assert.equal(s.dataplane.drops[r] ?? 0, 0, `${name}: no ${r} drops (${JSON.stringify(s.dataplane.drops)})`);
  assert.ok(s.udp.espIn! >= minPackets && s.udp.espOut! >= minPackets, `${name}: UDP ESP counters ${JSON.stringify(s.udp)}`);
  assert.equal(s.udp.sendErrors, 0, `${name}: no UDP send errors`);
}

for (const suite of SUITES) {
  const label = `${suite.aead}${suite.esn ? ' with ESN' : ''}`;
  test(`static-key tunnel, ${label}: ping and a ${TRANSFER_BYTES >> 20} MB TCP transfer lanhost -> hqhost`, async (t) => {
    if (!ready(t)) return;
    const topo = buildTopology();
    let cleanup = () => {};
    try {
      const pair = await startStaticPair(topo, suite);
      cleanup = pair.cleanup;

      const ping = topo.lanhost.run('ping', '-n', '-c', '3', '-i', '0.2', '-W', '5', ADDR.hqhost);
      assert.match(ping, /3 packets transmitted, 3 received/, ping);

      const before = await peerStatus(pair.hq);
      assertCarried('hq after ping', before, 3, peerOutput(pair.hq));

      const { sent, received } = await tcpTransfer(topo);
      const [sentBytes, sentHash] = sent.split(' ');
      assert.equal(received, `${sentBytes} ${sentHash}`, 'hqhost received exactly the bytes lanhost sent');
      assert.equal(Number(sentBytes), TRANSFER_BYTES);

      const hq = await stopPeer(pair.hq);
      const branch = await stopPeer(pair.branch);
      assert.equal(hq.code, 0, 'hq peer exits cleanly on SIGTERM');
      assert.equal(branch.code, 0, 'branch peer exits cleanly on SIGTERM');
      // 2 MB in at most 1400-byte packets is well over 1400 packets one way.
      const minData = Math.floor(TRANSFER_BYTES / 1400);
      assertCarried('branch', branch.status, 3, peerOutput(pair.branch));
      assertCarried('hq', hq.status, 3, peerOutput(pair.hq));
      assert.ok(hq.status.dataplane.children[0]!.packetsIn >= minData, `hq received ${hq.status.dataplane.children[0]!.packetsIn} ESP packets >= ${minData}`);
      assert.ok(hq.status.dataplane.children[0]!.bytesIn >= TRANSFER_BYTES, 'hq decrypted at least the transfer size');
      assert.ok(branch.status.dataplane.children[0]!.bytesOut >= TRANSFER_BYTES, 'branch encrypted at least the transfer size');
    } finally {
      cleanup();
      await topo.lab.destroy();
    }
  });
}
