// The data plane on the native fast path (UdpTransport through the ESP addon, SAs in C) against
// the data plane on the reference path (node:dgram, EspSa), over loopback with a fake TUN:
// packets sealed by one are opened by the other in both directions, the same datagrams (good,
// replayed, mangled, for unknown SPIs, outside the selectors) give the same inner packets and the
// same drop counters on both, outbound refusals are counted alike, and IKE keeps its own receive
// queue when ESP overflows the socket. Counts only; no timing.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { espAddonCandidates } from '../../../board/tun/esp.ts';
import { DataPlane, type RekeyReason } from '../../../firmware/gateway/dataplane.ts';
import { UdpTransport } from '../../../firmware/gateway/udp.ts';
import type { ChildSaSpec } from '../../../firmware/ike/actions.ts';
import { setLogSink } from '../../../firmware/log.ts';
import { requireEnv } from '../../lib/netns.ts';
import { FakeTun, FakeUdp, mirroredSpecs, packet, ts } from '../gateway/helpers.ts';
import { Prng } from './helpers.ts';


setLogSink(() => {});
const LO = '127.0.0.1';

function ready(t: TestContext): boolean {
  const addon = espAddonCandidates().find(existsSync) ?? espAddonCandidates().at(-1)!;
  return requireEnv(t, { files: [addon] });
}

/** A FakeTun that can be awaited until it holds `n` packets. */
class WaitTun extends FakeTun {
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  override write(pkt: Uint8Array): boolean {
    const r = super.write(pkt);
    this.waiters = this.waiters.filter((w) => (this.written.length >= w.n ? (w.resolve(), false) : true));
    return r;
  }
  until(n: number): Promise<void> {
    if (this.written.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}

interface End { udp: UdpTransport; dp: DataPlane; tun: WaitTun; rekeys: Array<[string, RekeyReason]> }

async function end(fastPath: boolean): Promise<End> {
  const udp = await UdpTransport.open({ bindAddress: LO, ikePort: null, natTPort: 0, fastPath });
  const tun = new WaitTun();
  const rekeys: Array<[string, RekeyReason]> = [];
  const dp = new DataPlane({ tun, udp, onRekeyNeeded: (spi, why) => rekeys.push([spi.toString('hex'), why]) });
  udp.onEsp = (p, from) => dp.onEsp(p, from);
  assert.equal(dp.native, fastPath, `fast path ${fastPath ? 'on' : 'off'}`);
  return { udp, dp, tun, rekeys };
}

/** Specs for two ends on loopback ports. */
function specs(a: End, b: End, o: { aead?: string; esn?: boolean } = {}): { a: ChildSaSpec; b: ChildSaSpec } {
  const s = mirroredSpecs({
    spiBranch: 0xb0000001, spiHq: 0xa0000001, ...o,
    branchEnd: { address: LO, port: a.udp.natTPort }, hqEnd: { address: LO, port: b.udp.natTPort },
  });
  return { a: s.branch, b: s.hq };
}

const lanPackets = (prng: Prng, n: number) => Array.from({ length: n }, (_, i) => {
  const v6 = i % 7 === 3;
  return v6
    ? packet({ src: '2001:db8:1::2', dst: '2001:db8:2::2', protocol: 17, payloadBytes: 20 + prng.int(1300) })
    : packet({ src: '10.1.0.2', dst: '10.2.0.2', protocol: [1, 6, 17][i % 3]!, payloadBytes: prng.int(1350) });
});

for (const [aead, esn] of [['aes256gcm16', false], ['chacha20poly1305', true], ['aes128gcm16', false]] as const) {
  test(`${aead}${esn ? ' ESN' : ''}: native and reference data planes carry each other's packets, both ways, byte for byte`, async (t) => {
    if (!ready(t)) return;
    const fast = await end(true), ref = await end(false);
    try {
      const s = mirroredSpecs({
        spiBranch: 0xb0000001, spiHq: 0xa0000001, aead, esn,
        branchTs: [...ts('10.1.0.0/24'), ...ts('2001:db8:1::/48')], hqTs: [...ts('10.2.0.0/24'), ...ts('2001:db8:2::/48')],
        branchEnd: { address: LO, port: fast.udp.natTPort }, hqEnd: { address: LO, port: ref.udp.natTPort },
      });
      fast.dp.installChild(s.branch);
      ref.dp.installChild(s.hq);
      const prng = new Prng(aead.length);
      // Batches of several sizes, the largest beyond one sendmmsg call.
      let sent: Buffer[] = [];
      for (const n of [1, 5, 64, 300]) {
        const batch = lanPackets(prng, n);
        sent = sent.concat(batch);
        fast.dp.onTunPackets(batch);
      }
      await ref.tun.until(sent.length);
      assert.deepEqual(ref.tun.written, sent, 'native seal -> reference open');

      const back = lanPackets(prng, 200).map((p) => {
        // Swap source and destination: hq's LAN to the branch's.
        const q = Buffer.from(p);
        if (q[0]! >> 4 === 4) { p.copy(q, 12, 16, 20); p.copy(q, 16, 12, 16); } else { p.copy(q, 8, 24, 40); p.copy(q, 24, 8, 24); }
        return q;
      });
      ref.dp.onTunPackets(back);
      await fast.tun.until(back.length);
      assert.deepEqual(fast.tun.written, back, 'reference seal -> native open');

      const f = fast.dp.status(), r = ref.dp.status();
      assert.equal(f.packetsOut, sent.length);
      assert.equal(r.packetsIn, sent.length);
      assert.equal(f.bytesOut, r.bytesIn);
      assert.equal(f.packetsIn, back.length);
      assert.equal(r.bytesOut, f.bytesIn);
      assert.deepEqual(f.drops, {});
      assert.deepEqual(r.drops, {});
      assert.equal(fast.udp.counters.espOut, sent.length);
      assert.equal(fast.udp.counters.espIn, back.length);
      assert.ok(fast.udp.fastPathCounters()!.txBatches >= 5, 'sent in batches');
    } finally {
      fast.udp.close();
      ref.udp.close();
    }
  });
}

test('the same datagrams (good, replayed, mangled, unknown SPI, outside the selectors) give the same packets and drop counters on both paths', async (t) => {
  if (!ready(t)) return;
  const fast = await end(true), ref = await end(false);
  const sender = dgram.createSocket('udp4');
  try {
    // Both receivers get the same SA (hq's side); a reference plane with wide selectors seals
    // what is sent, so some inner packets fall outside the receivers' selectors.
    const base = mirroredSpecs({ spiBranch: 0xb0000001, spiHq: 0xa0000001, esn: true });
    fast.dp.installChild(base.hq);
    ref.dp.installChild(base.hq);
    const wide = mirroredSpecs({ spiBranch: 0xb0000001, spiHq: 0xa0000001, esn: true, branchTs: ts('0.0.0.0/0'), hqTs: ts('0.0.0.0/0') }).branch;
    const capture = new FakeUdp();
    const sealer = new DataPlane({ tun: new FakeTun(), udp: capture });
    sealer.installChild(wide);
    const prng = new Prng(77);
    const inner: Buffer[] = [];
    for (let i = 0; i < 120; i++) {
      const outside = i % 11 === 5;
      inner.push(packet({ src: outside ? '10.9.0.2' : '10.1.0.2', dst: '10.2.0.2', protocol: 17, payloadBytes: prng.int(1200) }));
    }
    sealer.onTunPackets(inner);
    const good = capture.take().map((s) => s.packet);
    const datagrams: Buffer[] = [];
    for (let i = 0; i < good.length; i++) {
      const p = good[i]!;
      datagrams.push(p);
      const r = prng.int(6);
      if (r === 0) datagrams.push(p); // replay
      else if (r === 1) { const b = Buffer.from(p); b[prng.int(b.length)]! ^= 1 << prng.int(8); datagrams.push(b); }
      else if (r === 2) datagrams.push(p.subarray(0, prng.int(p.length)));
      else if (r === 3) { const b = Buffer.from(p); b.writeUInt32BE(0xdead0001, 0); datagrams.push(b); }
    }
    // Out of order: swap a few neighbours (still within the replay window).
    for (let i = 0; i + 1 < datagrams.length; i += 9) [datagrams[i], datagrams[i + 1]] = [datagrams[i + 1]!, datagrams[i]!];
    // A last good packet: once both have written it, both have seen everything before it.
    sealer.onTunPackets([packet({ src: '10.1.0.2', dst: '10.2.0.2', protocol: 17, payloadBytes: 1 })]);
    const last = capture.take()[0]!.packet;
    const send = (to: number, b: Buffer) => new Promise<void>((res, rej) => sender.send(b, to, LO, (e) => (e ? rej(e) : res())));
    for (const d of [...datagrams, last]) {
      await send(fast.udp.natTPort, d);
      await send(ref.udp.natTPort, d);
    }
    const expected = inner.filter((_, i) => i % 11 !== 5).length + 1;
    await Promise.all([fast.tun.until(expected), ref.tun.until(expected)]);
    assert.deepEqual(fast.tun.written, ref.tun.written, 'the same inner packets, in the same order');
    const f = fast.dp.status(), r = ref.dp.status();
    assert.deepEqual(f.drops, r.drops, 'the same drops');
    assert.deepEqual(f.children[0]!.drops, r.children[0]!.drops, 'the same per-child drops');
    for (const k of ['packetsIn', 'bytesIn'] as const) assert.equal(f[k], r[k], k);
    for (const reason of ['replay', 'auth_failed', 'unknown_spi', 'selector_mismatch']) assert.ok((f.drops[reason] ?? 0) > 0, `some ${reason}: ${JSON.stringify(f.drops)}`);
    const fu = fast.udp.counters, ru = ref.udp.counters;
    assert.deepEqual([fu.espIn, fu.malformedIn], [ru.espIn, ru.malformedIn], 'the transports classify alike');
  } finally {
    sender.close();
    fast.udp.close();
    ref.udp.close();
  }
});

test('outbound refusals are counted alike: no policy, not IP, too big, sequence numbers exhausted (rekey raised once)', async (t) => {
  if (!ready(t)) return;
  const fast = await end(true), ref = await end(false);
  try {
    for (const e of [fast, ref]) {
      const s = specs(e, e);
      e.dp.installChild(s.a, { nextSeqOut: 0xffff_fffen });
    }
    const batch = [
      packet({ src: '10.1.0.2', dst: '10.2.0.2' }),
      packet({ src: '10.1.0.2', dst: '10.3.0.2' }), // no policy
      Buffer.from([0x45, 0, 0]), Buffer.alloc(0), Buffer.alloc(40, 0x10), // not IP
      packet({ src: '10.1.0.2', dst: '10.2.0.2', protocol: 17, payloadBytes: 65535 - 28 }), // too big once sealed
      packet({ src: '10.1.0.2', dst: '10.2.0.2' }), // 2^32 - 1: the last
      packet({ src: '10.1.0.2', dst: '10.2.0.2' }), // exhausted
      packet({ src: '10.1.0.2', dst: '10.2.0.2' }),
    ];
    fast.dp.onTunPackets(batch);
    ref.dp.onTunPackets(batch);
    const f = fast.dp.status(), r = ref.dp.status();
    assert.deepEqual(f.drops, r.drops);
    assert.deepEqual(f.drops, { no_policy: 1, not_ip: 3, too_big: 1, seq_exhausted: 2 });
    assert.equal(f.packetsOut, 2);
    assert.equal(r.packetsOut, 2);
    assert.equal(f.children[0]!.rekeyNeeded, true);
    assert.equal(fast.rekeys.length, 1);
    assert.deepEqual(fast.rekeys, ref.rekeys.map(([spi, why]) => [spi, why]));
  } finally {
    fast.udp.close();
    ref.udp.close();
  }
});

test('removing and replacing children: counters stay in the totals, stale SAs open nothing', async (t) => {
  if (!ready(t)) return;
  const a = await end(true), b = await end(true);
  try {
    const s = specs(a, b);
    a.dp.installChild(s.a);
    b.dp.installChild(s.b);
    a.dp.onTunPackets([packet({ src: '10.1.0.2', dst: '10.2.0.2' })]);
    await b.tun.until(1);
    assert.equal(b.dp.removeChild(s.b.spiIn), true);
    assert.equal(b.dp.status().packetsIn, 1, 'a removed child still counts in the totals');
    a.dp.onTunPackets([packet({ src: '10.1.0.2', dst: '10.2.0.2' })]);
    // The SA is gone from the engine: the datagram goes up as ESP for an unknown SPI.
    const before = b.dp.status().drops.unknown_spi ?? 0;
    await new Promise<void>((resolve) => { const orig = b.udp.onEsp; b.udp.onEsp = (p, f) => { orig(p, f); resolve(); }; });
    assert.equal(b.dp.status().drops.unknown_spi, before + 1);
    b.dp.installChild(s.b);
    a.dp.onTunPackets([packet({ src: '10.1.0.2', dst: '10.2.0.2', payloadBytes: 3 })]);
    await b.tun.until(2);
    assert.equal(b.tun.written[1]!.length, 20 + 8 + 3);
  } finally {
    a.udp.close();
    b.udp.close();
  }
});

test('IKE has its own receive queue: an ESP flood that overflows the socket cannot drop it', async (t) => {
  if (!ready(t)) return;
  const rx = await UdpTransport.open({ bindAddress: LO, ikePort: null, natTPort: 0, fastPath: true, recvBufferBytes: 64 * 1024 });
  const tx = await UdpTransport.open({ bindAddress: LO, ikePort: null, natTPort: 0, fastPath: true });
  try {
    const ike: Buffer[] = [];
    const gotIke = new Promise<void>((resolve) => { rx.onIke = (m) => { ike.push(Buffer.from(m)); resolve(); }; });
    let esp = 0;
    rx.onEsp = () => { esp++; };
    const to = { address: LO, port: rx.natTPort };
    const flood = Buffer.alloc(1400, 0x5a);
    flood.writeUInt32BE(0xc0000001, 0);
    const FLOOD = 2000;
    // All sent before this test yields to the event loop: the receive thread reads one batch at most
    // meanwhile (an unknown SPI is for JavaScript to see, and it waits for this loop to let it).
    for (let i = 0; i < FLOOD; i++) tx.sendEsp(flood, to);
    const message = Buffer.concat([Buffer.alloc(8, 0x11), Buffer.alloc(8), Buffer.from([0x21, 0x20, 0x25, 0x08]), Buffer.alloc(4), Buffer.from([0, 0, 0, 28])]);
    assert.equal(tx.sendIke(message, { address: LO, port: tx.natTPort }, to), true);
    await gotIke;
    assert.deepEqual(ike, [message], 'the IKE message arrived, marker stripped');
    // Wait for the ESP that fitted the buffer, then check the rest was counted as dropped.
    const c = () => rx.fastPathCounters()!;
    // The engine counts on its receive thread, JavaScript hears of each batch after it.
    while (rx.counters.espIn + c().rxOverflow < FLOOD || esp < rx.counters.espIn) await new Promise((r) => setImmediate(r));
    assert.ok(c().rxOverflow > 0, 'the kernel dropped ESP and it was counted');
    assert.equal(rx.counters.espIn + c().rxOverflow, FLOOD, 'every flood datagram is either received or counted as dropped');
    assert.equal(esp, rx.counters.espIn);
  } finally {
    rx.close();
    tx.close();
  }
});

test('over IPv6 (::1): the native and the reference transport carry each other\'s ESP, IKE arrives with its IPv6 sender', async (t) => {
  if (!ready(t)) return;
  const open = (fastPath: boolean) => UdpTransport.open({ bindAddress: '::1', ikePort: null, natTPort: 0, fastPath });
  const a = await open(true), b = await open(false);
  try {
    const ta = new WaitTun(), tb = new WaitTun();
    const da = new DataPlane({ tun: ta, udp: a }), db = new DataPlane({ tun: tb, udp: b });
    a.onEsp = (p, f) => da.onEsp(p, f);
    b.onEsp = (p, f) => db.onEsp(p, f);
    const s = mirroredSpecs({ spiBranch: 0xb0000001, spiHq: 0xa0000001, branchEnd: { address: '::1', port: a.natTPort }, hqEnd: { address: '::1', port: b.natTPort } });
    da.installChild(s.branch);
    db.installChild(s.hq);
    const out = packet({ src: '10.1.0.2', dst: '10.2.0.2' }), back = packet({ src: '10.2.0.2', dst: '10.1.0.2' });
    da.onTunPackets([out]);
    db.onTunPackets([back]);
    await Promise.all([tb.until(1), ta.until(1)]);
    assert.deepEqual(tb.written, [out]);
    assert.deepEqual(ta.written, [back]);
    const from = new Promise<{ address: string; port: number }>((r) => { a.onIke = (_m, f) => r(f); });
    b.sendIke(Buffer.alloc(40, 1), { address: '::1', port: b.natTPort }, { address: '::1', port: a.natTPort });
    assert.deepEqual(await from, { address: '::1', port: b.natTPort });
  } finally {
    a.close();
    b.close();
  }
});
