// The native data plane's flow cache (esp_addon.c; the TUN device's lead hook, tun_lead.h): known flows go without
// JavaScript, in both directions, and everything the policy or the MTU guard must see still
// reaches it: new flows, SYNs, oversized packets; a new SA takes a flow over at once. A native
// end against a reference end over loopback, as in native-dataplane.test.ts. Counts only.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { espAddonCandidates } from '../../../board/tun/esp.ts';
import { DataPlane } from '../../../firmware/gateway/dataplane.ts';
import { MtuGuard } from '../../../firmware/gateway/mtu-guard.ts';
import { UdpTransport } from '../../../firmware/gateway/udp.ts';
import { setLogSink } from '../../../firmware/log.ts';
import { requireEnv } from '../../lib/netns.ts';
import { FakeTun, mirroredSpecs, packet } from '../gateway/helpers.ts';

setLogSink(() => {});
const LO = '127.0.0.1';

function ready(t: TestContext): boolean {
  return requireEnv(t, { files: [espAddonCandidates().find(existsSync) ?? espAddonCandidates().at(-1)!], cmds: ['mkfifo'] });
}

/** A TUN batch as the device hands it to `lead`: one buffer and the end of each packet. */
function slabOf(pkts: Buffer[]): { slab: Buffer; ends: Uint32Array } {
  const ends = new Uint32Array(pkts.length);
  let at = 0;
  pkts.forEach((p, i) => { at += p.length; ends[i] = at; });
  return { slab: Buffer.concat(pkts), ends };
}

/** Waits (a turn of the event loop at a time, bounded) until cond() holds. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 20_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

const udpFlow = (payloadBytes = 100) => packet({ src: '10.1.0.2', dst: '10.2.0.2', protocol: 17, srcPort: 40000, dstPort: 53, payloadBytes });
const tcpSyn = () => {
  const p = packet({ src: '10.1.0.2', dst: '10.2.0.2', protocol: 6, payloadBytes: 16, srcPort: 40001, dstPort: 443 });
  p[20 + 12] = 6 << 4; p[20 + 13] = 0x02; p[20 + 20] = 2; p[20 + 21] = 4; p.writeUInt16BE(1460, 20 + 22);
  return p;
};

test('known flows are sealed without JavaScript; SYNs, oversized packets and new flows still reach it; a new SA takes over', async (t) => {
  if (!ready(t)) return;
  const fastUdp = await UdpTransport.open({ bindAddress: LO, ikePort: null, natTPort: 0, fastPath: true });
  const refUdp = await UdpTransport.open({ bindAddress: LO, ikePort: null, natTPort: 0, fastPath: false });
  try {
    const replies: Buffer[] = [];
    const guard = new MtuGuard({ mtu: 1400, reply: (p) => replies.push(Buffer.from(p)) });
    const fast = new DataPlane({ tun: new FakeTun(), udp: fastUdp, mtuGuard: guard });
    const refTun = new FakeTun();
    const ref = new DataPlane({ tun: refTun, udp: refUdp, fastPath: false });
    refUdp.onEsp = (p, from) => ref.onEsp(p, from);
    assert.equal(fast.native, true);
    const ends = (spiBranch: number, spiHq: number) => mirroredSpecs({
      spiBranch, spiHq, branchEnd: { address: LO, port: fastUdp.natTPort }, hqEnd: { address: LO, port: refUdp.natTPort },
    });
    const s1 = ends(0xb0000001, 0xa0000001);
    fast.installChild(s1.branch);
    ref.installChild(s1.hq);
    const hits = () => fastUdp.fastPathCounters()!.flowHitsOut;
    // What the TUN device's lead hook runs in C (tun_lead.h), called from here.
    const lead = (b: { slab: Buffer; ends: Uint32Array }, n: number) => fastUdp.fastPath!.engine.sealCached(b.slab, b.ends, n) % 65536;

    // A new flow: the lead takes nothing; the plane decides and the engine remembers.
    const first = [udpFlow(), udpFlow()];
    let b = slabOf(first);
    assert.equal(lead(b, 2), 0, 'an unknown flow goes to JavaScript');
    fast.onTunPackets(first);
    await until(() => refTun.written.length === 2, 'the first packets');

    // Known now: the whole batch goes without JavaScript, in order, byte for byte.
    const known = [udpFlow(10), udpFlow(20), udpFlow(30)];
    b = slabOf(known);
    assert.equal(lead(b, 3), 3);
    assert.equal(hits(), 3);
    await until(() => refTun.written.length === 5, 'the cached packets');
    assert.deepEqual(refTun.written.slice(2), known);

    // The lead stops at the first packet the policy or the guard must see: a SYN (MSS clamping)...
    const mixed = [udpFlow(), udpFlow(), tcpSyn(), udpFlow()];
    b = slabOf(mixed);
    assert.equal(lead(b, 4), 2, 'stops at the SYN');
    fast.onTunPackets(mixed.slice(2));
    await until(() => refTun.written.length === 9, 'the SYN and the rest');
    assert.equal(guard.counters.mssClampedOut, 1, 'the SYN was clamped');
    assert.equal(refTun.written[7]!.readUInt16BE(20 + 22), 1400 - 40, 'to the tunnel MTU');
    // ... and a packet bigger than the tunnel MTU (answered with ICMP by the guard).
    const big = udpFlow(1400);
    big[6] = 0x40; // don't fragment
    b = slabOf([big]);
    assert.equal(lead(b, 1), 0, 'too big: to the guard');
    fast.onTunPackets([big]);
    assert.equal(guard.counters.tooBig, 1);
    assert.equal(replies.length, 1, 'ICMP fragmentation needed sent back');

    // A rekey: the new SA (newest first) carries the flow from its first packet on.
    const s2 = ends(0xb0000002, 0xa0000002);
    fast.installChild(s2.branch);
    ref.installChild(s2.hq);
    const after = [udpFlow(40)];
    b = slabOf(after);
    assert.equal(lead(b, 1), 0, 'a new SA: the flow is decided again');
    fast.onTunPackets(after);
    b = slabOf([udpFlow(50)]);
    assert.equal(lead(b, 1), 1);
    await until(() => refTun.written.length === 11, 'packets after the rekey');
    const byNew = ref.status().children.find((c) => c.spiIn === 'a0000002')!;
    assert.equal(byNew.packetsIn, 2, 'both came through the new SA');
  } finally {
    fastUdp.close();
    refUdp.close();
  }
});

test('decrypted packets of known flows reach the TUN without JavaScript, and keep the SA alive for DPD', async (t) => {
  if (!ready(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'outpost-flows-'));
  const fifo = join(dir, 'tun');
  execFileSync('mkfifo', [fifo]);
  // A FIFO stands in for the TUN device: the engine writes accepted packets to this fd.
  const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  const fastUdp = await UdpTransport.open({ bindAddress: LO, ikePort: null, natTPort: 0, fastPath: true });
  const refUdp = await UdpTransport.open({ bindAddress: LO, ikePort: null, natTPort: 0, fastPath: false });
  try {
    const fast = new DataPlane({ tun: Object.assign(new FakeTun(), { fd }), udp: fastUdp });
    const ref = new DataPlane({ tun: new FakeTun(), udp: refUdp, fastPath: false });
    const s = mirroredSpecs({ spiBranch: 0xb0000001, spiHq: 0xa0000001, branchEnd: { address: LO, port: fastUdp.natTPort }, hqEnd: { address: LO, port: refUdp.natTPort } });
    fast.installChild(s.branch);
    ref.installChild(s.hq);
    let jsBatches = 0;
    const port = fastUdp.fastPath!;
    const orig = port.onEspRecords!;
    port.onEspRecords = (...a) => { jsBatches++; orig(...a); };
    const fromHq = (n: number, sport = 53) => Array.from({ length: n }, (_, i) => packet({ src: '10.2.0.2', dst: '10.1.0.2', protocol: 17, srcPort: sport, dstPort: 40000, payloadBytes: 50 + i }));
    const readTun = () => { const b = Buffer.alloc(65536); let n = 0; try { n = readSync(fd, b); } catch { /* EAGAIN: empty */ } return b.subarray(0, n); };
    const counters = () => fastUdp.fastPathCounters()!;
    const packetsIn = () => fast.status().packetsIn;

    const one = fromHq(1);
    ref.onTunPackets(one);
    // The engine counts on its receive thread; JavaScript hears of a batch it must decide after that.
    await until(() => packetsIn() === 1 && jsBatches === 1, 'the first packet');
    assert.deepEqual(readTun(), one[0]);

    const more = fromHq(5);
    ref.onTunPackets(more);
    await until(() => packetsIn() === 6, 'the known flow');
    assert.equal(jsBatches, 1, 'a known flow: JavaScript not called');
    assert.equal(counters().flowHitsIn, 5);
    assert.deepEqual(readTun(), Buffer.concat(more));
    const seen = fast.lastInboundAt(s.branch.spiIn);
    assert.ok(seen !== undefined && seen > 0, 'the SA counts as alive for DPD');
    assert.equal(fast.status().children[0]!.lastInboundSeconds, 0, 'status shows the SA in use');

    const other = fromHq(1, 54); // another flow: decided by JavaScript again
    ref.onTunPackets(other);
    await until(() => packetsIn() === 7 && jsBatches === 2, 'another flow');
    assert.deepEqual(readTun(), other[0]);
  } finally {
    fastUdp.close();
    refUdp.close();
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});
