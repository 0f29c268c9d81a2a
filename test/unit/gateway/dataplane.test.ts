// The data plane with a fake TUN and fake UDP: two planes (branch, hq) wired back to back by
// handing one's sent ESP packets to the other's onEsp.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSpi, readSeqLow } from '../../../firmware/esp/packet.ts';
import { DataPlane, type RekeyReason } from '../../../firmware/gateway/dataplane.ts';
import { setLogSink, type LogRecord } from '../../../firmware/log.ts';
import { Clock, FakeTun, FakeUdp, mirroredSpecs, packet, ts } from './helpers.ts';

// Keep test output clean, and let tests look at what was logged.
const logged: LogRecord[] = [];
setLogSink((r) => { logged.push(r); });

function plane(clock = new Clock(), onRekeyNeeded?: (spi: Buffer, why: RekeyReason) => void) {
  const tun = new FakeTun(), udp = new FakeUdp();
  const dp = new DataPlane({ tun, udp, now: clock.now, ...(onRekeyNeeded ? { onRekeyNeeded } : {}) });
  return { dp, tun, udp, clock };
}

/** Branch and hq with one mirrored child each. */
function pair(opts: Partial<Parameters<typeof mirroredSpecs>[0]> = {}) {
  const clock = new Clock();
  const b = plane(clock), h = plane(clock);
  const specs = mirroredSpecs({ spiBranch: 0xb0000001, spiHq: 0xa0000001, ...opts });
  b.dp.installChild(specs.branch);
  h.dp.installChild(specs.hq);
  return { b, h, clock, specs };
}

/** Delivers everything `from` sent to `to`. */
function deliver(from: FakeUdp, to: DataPlane): number {
  const sent = from.take();
  for (const s of sent) to.onEsp(s.packet, { address: '198.51.100.1', port: 4500 });
  return sent.length;
}

const LAN_PKT = packet({ src: '10.1.0.2', dst: '10.2.0.2', protocol: 17, payloadBytes: 100 });

for (const [aead, esn] of [['aes256gcm16', false], ['aes128gcm16', false], ['chacha20poly1305', true]] as const) {
  test(`round trip ${aead}${esn ? ' ESN' : ''}: branch TUN -> ESP -> hq TUN, both ways, byte for byte`, () => {
    const { b, h } = pair({ aead, esn });
    b.dp.onTunPackets([LAN_PKT, LAN_PKT]);
    assert.equal(b.udp.sent.length, 2);
    const first = b.udp.sent[0]!;
    assert.deepEqual(first.to, { address: '198.51.100.2', port: 4500 });
    assert.equal(readSpi(first.packet), 0xa0000001, 'outbound SPI is the peer\'s');
    assert.deepEqual(b.udp.sent.map((s) => readSeqLow(s.packet)), [1, 2]);
    assert.equal(deliver(b.udp, h.dp), 2);
    assert.deepEqual(h.tun.written, [LAN_PKT, LAN_PKT]);

    const reply = packet({ src: '10.2.0.2', dst: '10.1.0.2', protocol: 1, payloadBytes: 56 });
    h.dp.onTunPackets([reply]);
    deliver(h.udp, b.dp);
    assert.deepEqual(b.tun.written, [reply]);
  });
}

test('outbound selection follows the selectors: subnets, protocol/port, IPv6, no match -> no_policy', () => {
  const { dp, udp } = plane();
  const a = mirroredSpecs({ spiBranch: 0x1000, spiHq: 0x1001, hqTs: ts('10.2.0.0/24'), hqEnd: { address: '192.0.2.1', port: 4500 } }).branch;
  const c = mirroredSpecs({ spiBranch: 0x2000, spiHq: 0x2001, hqTs: ts('10.3.0.0/16'), hqEnd: { address: '192.0.2.2', port: 4501 } }).branch;
  const web = mirroredSpecs({ spiBranch: 0x3000, spiHq: 0x3001, hqTs: [{ ...ts('10.4.0.0/24')[0]!, ipProtocol: 6, startPort: 443, endPort: 443 }] }).branch;
  const v6 = mirroredSpecs({ spiBranch: 0x4000, spiHq: 0x4001, branchTs: ts('2001:db8:1::/48'), hqTs: ts('2001:db8:2::/48') }).branch;
  for (const s of [a, c, web, v6]) dp.installChild(s);

  const cases: Array<[Buffer, number | null]> = [
    [packet({ src: '10.1.0.2', dst: '10.2.0.9' }), 0x1001],
    [packet({ src: '10.1.0.2', dst: '10.3.200.1' }), 0x2001],
    [packet({ src: '10.1.0.2', dst: '10.4.0.1', protocol: 6, dstPort: 443 }), 0x3001],
    [packet({ src: '10.1.0.2', dst: '10.4.0.1', protocol: 6, dstPort: 80 }), null],
    [packet({ src: '10.1.0.2', dst: '10.4.0.1', protocol: 17, dstPort: 443 }), null],
    [packet({ src: '10.9.0.2', dst: '10.2.0.9' }), null], // source outside the local selectors
    [packet({ src: '2001:db8:1::5', dst: '2001:db8:2::7' }), 0x4001],
    [packet({ src: '2001:db8:1::5', dst: '2001:db8:3::7' }), null],
  ];
  for (const [pkt, want] of cases) {
    dp.onTunPackets([pkt]);
    const sent = udp.take();
    if (want === null) assert.equal(sent.length, 0, 'dropped');
    else {
      assert.equal(sent.length, 1);
      assert.equal(readSpi(sent[0]!.packet), want);
    }
  }
  assert.deepEqual(udp.sent, []);
  assert.equal(dp.status().drops.no_policy, 4);
  const toC = (() => { dp.onTunPackets([packet({ src: '10.1.0.2', dst: '10.3.0.1' })]); return udp.take()[0]!.to; })();
  assert.deepEqual(toC, { address: '192.0.2.2', port: 4501 }, 'each child sends to its own remote');
});

test('not an IP packet -> not_ip, nothing sent', () => {
  const { dp, udp } = pair().b;
  dp.onTunPackets([Buffer.from([0x45, 0, 0]), Buffer.alloc(0), Buffer.alloc(40, 0x10)]);
  assert.equal(udp.sent.length, 0);
  assert.equal(dp.status().drops.not_ip, 3);
});

test('newest SA wins for the same selectors; the old one still accepts inbound until removed', () => {
  const { b, h, specs } = pair();
  // Rekey: new SPIs, new keys, same selectors, installed on both sides.
  const next = mirroredSpecs({ spiBranch: 0xb0000002, spiHq: 0xa0000002, keyByte: 7 });
  b.dp.installChild(next.branch);
  h.dp.installChild(next.hq);

  b.dp.onTunPackets([LAN_PKT]);
  assert.equal(readSpi(b.udp.sent[0]!.packet), 0xa0000002, 'new outbound SA carries traffic at once');
  deliver(b.udp, h.dp);
  assert.equal(h.tun.written.length, 1);

  const st = b.dp.status();
  assert.deepEqual(st.children.map((c) => [c.spiIn, c.outbound]), [['b0000002', true], ['b0000001', false]]);

  // hq still sends on the old SA (it has not switched yet): branch accepts it.
  const old = plane();
  old.dp.installChild(specs.hq);
  old.dp.onTunPackets([packet({ src: '10.2.0.2', dst: '10.1.0.2' })]);
  deliver(old.udp, b.dp);
  assert.equal(b.tun.written.length, 1, 'old inbound SA still accepted');

  // Removing the new SA puts the old one back in charge.
  assert.equal(b.dp.removeChild(next.branch.spiIn), true);
  b.dp.onTunPackets([LAN_PKT]);
  assert.equal(readSpi(b.udp.take()[0]!.packet), 0xa0000001);
  assert.equal(b.dp.removeChild(next.branch.spiIn), false, 'already removed');
});

test('unknown SPI and packets too short for one are dropped as unknown_spi', () => {
  const { b, h } = pair();
  b.dp.onTunPackets([LAN_PKT]);
  const esp = b.udp.take()[0]!.packet;
  esp.writeUInt32BE(0xdeadbeef, 0);
  h.dp.onEsp(esp);
  h.dp.onEsp(Buffer.from([1, 2, 3]));
  assert.equal(h.tun.written.length, 0);
  assert.equal(h.dp.status().drops.unknown_spi, 2);
  assert.deepEqual(h.dp.status().children[0]!.drops, {}, 'not charged to the child');
});

test('decrypted packet outside the selectors -> selector_mismatch (RFC 4301 5.2)', () => {
  // The sender's policy is wider than the receiver's: 10.9.0.0/16 is not in hq's remote selectors.
  const specs = mirroredSpecs({ spiBranch: 0x5000, spiHq: 0x5001 });
  const b = plane(), h = plane();
  b.dp.installChild({ ...specs.branch, localTs: ts('10.0.0.0/8') });
  h.dp.installChild(specs.hq);
  b.dp.onTunPackets([packet({ src: '10.9.0.1', dst: '10.2.0.2' }), packet({ src: '10.1.0.9', dst: '10.2.0.2' })]);
  deliver(b.udp, h.dp);
  assert.equal(h.tun.written.length, 1, 'only the in-policy packet reaches the LAN');
  const st = h.dp.status();
  assert.equal(st.children[0]!.drops.selector_mismatch, 1);
  assert.equal(st.drops.selector_mismatch, 1);
  assert.equal(st.children[0]!.packetsIn, 2, 'both decrypted (the SA counts them)');
});

test('ESP drops from the SA: tampered -> auth_failed, replayed -> replay; counted per child and globally', () => {
  const { b, h } = pair();
  b.dp.onTunPackets([LAN_PKT, LAN_PKT]);
  const [p1, p2] = b.udp.take().map((s) => s.packet);
  const bad = Buffer.from(p2!);
  bad[bad.length - 1]! ^= 1;
  h.dp.onEsp(bad);
  h.dp.onEsp(p1!);
  h.dp.onEsp(p1!);
  assert.equal(h.tun.written.length, 1);
  const st = h.dp.status();
  assert.deepEqual(st.children[0]!.drops, { auth_failed: 1, replay: 1 });
  assert.deepEqual(st.drops, { auth_failed: 1, replay: 1 });
});

test('counters, lastInboundAt and status ages follow traffic and the clock', () => {
  const { b, h, clock, specs } = pair();
  assert.equal(h.dp.lastInboundAt(specs.hq.spiIn), undefined, 'no traffic yet');
  assert.equal(h.dp.status().children[0]!.lastInboundSeconds, null);
  clock.advance(5000);
  b.dp.onTunPackets([LAN_PKT, LAN_PKT, LAN_PKT]);
  deliver(b.udp, h.dp);
  assert.equal(h.dp.lastInboundAt(specs.hq.spiIn), clock.t);
  assert.equal(h.dp.lastInboundAt(specs.hq.spiIn.readUInt32BE(0)), clock.t, 'by number too');
  clock.advance(12_500);
  const c = h.dp.status().children[0]!;
  assert.equal(c.lastInboundSeconds, 12);
  assert.equal(c.installedSeconds, 17);
  assert.equal(c.packetsIn, 3);
  assert.equal(c.bytesIn, 3 * LAN_PKT.length);
  assert.equal(c.packetsOut, 0);
  const bc = b.dp.status().children[0]!;
  assert.equal(bc.packetsOut, 3);
  assert.equal(bc.bytesOut, 3 * LAN_PKT.length);
  assert.deepEqual([bc.spiIn, bc.spiOut, bc.aead, bc.esn], ['b0000001', 'a0000001', 'aes256gcm16', false]);
  assert.deepEqual([bc.localTs, bc.remoteTs], [['10.1.0.0/24'], ['10.2.0.0/24']]);
  assert.equal(JSON.stringify(b.dp.status()).includes(specs.branch.keyIn.toString('hex')), false, 'no key material in status');
});

test('removeChild: later traffic is unknown_spi / no_policy, totals are kept', () => {
  const { b, h, specs } = pair();
  b.dp.onTunPackets([LAN_PKT]);
  deliver(b.udp, h.dp);
  assert.equal(h.dp.removeChild(specs.hq.spiIn), true);
  assert.deepEqual(h.dp.children(), []);
  b.dp.onTunPackets([LAN_PKT]);
  deliver(b.udp, h.dp);
  h.dp.onTunPackets([packet({ src: '10.2.0.2', dst: '10.1.0.2' })]);
  const st = h.dp.status();
  assert.deepEqual(st.children, []);
  assert.equal(st.packetsIn, 1, 'removed child\'s packets stay in the totals');
  assert.equal(st.bytesIn, LAN_PKT.length);
  assert.equal(st.drops.unknown_spi, 1);
  assert.equal(st.drops.no_policy, 1);
  assert.equal(h.dp.lastInboundAt(specs.hq.spiIn), undefined);
});

test('updateRemote moves every child of that IKE SA, and only those', () => {
  const { dp, udp } = plane();
  const s1 = mirroredSpecs({ spiBranch: 0x6000, spiHq: 0x6001, ikeId: 'ike-a' }).branch;
  const s2 = mirroredSpecs({ spiBranch: 0x7000, spiHq: 0x7001, ikeId: 'ike-b', hqTs: ts('10.3.0.0/24'), hqEnd: { address: '192.0.2.9', port: 4500 } }).branch;
  dp.installChild(s1);
  dp.installChild(s2);
  assert.equal(dp.updateRemote('ike-a', { address: '203.0.113.7', port: 31001 }), 1);
  assert.equal(dp.updateRemote('nope', { address: '203.0.113.8', port: 1 }), 0);
  dp.onTunPackets([packet({ src: '10.1.0.2', dst: '10.2.0.2' }), packet({ src: '10.1.0.2', dst: '10.3.0.2' })]);
  assert.deepEqual(udp.take().map((s) => s.to), [{ address: '203.0.113.7', port: 31001 }, { address: '192.0.2.9', port: 4500 }]);
  assert.deepEqual(dp.status().children.find((c) => c.ikeId === 'ike-a')!.remote, { address: '203.0.113.7', port: 31001 });
});

test('TUN down (EIO), full, or failing, and UDP refusing: counted, never thrown', () => {
  const { b, h } = pair();
  b.dp.onTunPackets([LAN_PKT, LAN_PKT, LAN_PKT]);
  const [p1, p2, p3] = b.udp.take().map((s) => s.packet);
  h.tun.mode = 'EIO';
  h.dp.onEsp(p1!);
  h.tun.mode = 'full';
  h.dp.onEsp(p2!);
  h.tun.mode = 'EINVAL';
  h.dp.onEsp(p3!);
  b.udp.accept = false;
  b.dp.onTunPackets([LAN_PKT]);
  assert.deepEqual(h.dp.status().children[0]!.drops, { tun_down: 1, tun_full: 1, tun_error: 1 });
  assert.deepEqual(b.dp.status().children[0]!.drops, { send_dropped: 1 });
  assert.ok(logged.some((r) => r.event === 'tun-write-failed' && r.fields.code === 'EINVAL'), 'unexpected TUN errors are logged');
});

test('sequence numbers: soft limit raises onRekeyNeeded once, exhaustion drops and raises', () => {
  const calls: Array<[string, RekeyReason]> = [];
  const clock = new Clock();
  const b = plane(clock, (spi, why) => calls.push([spi.toString('hex'), why]));
  const specs = mirroredSpecs({ spiBranch: 0x8000, spiHq: 0x8001 });
  b.dp.installChild(specs.branch, { softLimit: 3n });
  b.dp.onTunPackets([LAN_PKT, LAN_PKT]);
  assert.equal(calls.length, 0);
  b.dp.onTunPackets([LAN_PKT, LAN_PKT]);
  assert.deepEqual(calls, [['00008000', 'soft_limit']], 'once, at the soft limit');
  assert.equal(b.udp.take().length, 4, 'traffic continues past the soft limit');

  const x = plane(clock, (spi, why) => calls.push([spi.toString('hex'), why]));
  x.dp.installChild(mirroredSpecs({ spiBranch: 0x9000, spiHq: 0x9001 }).branch, { nextSeqOut: 0xffff_ffffn });
  x.dp.onTunPackets([LAN_PKT, LAN_PKT, LAN_PKT]);
  assert.equal(x.udp.take().length, 1, 'the last sequence number is used, then nothing');
  assert.deepEqual(calls.slice(1), [['00009000', 'seq_exhausted']]);
  assert.deepEqual(x.dp.status().children[0]!.drops, { seq_exhausted: 2 });
  assert.equal(x.dp.status().children[0]!.rekeyNeeded, true);
});

test('installChild: bad specs throw; the same inbound SPI replaces the old child', () => {
  const { dp } = plane();
  const s = mirroredSpecs({ spiBranch: 0xa000, spiHq: 0xa001 }).branch;
  assert.throws(() => dp.installChild({ ...s, aead: 'des' }), /unsupported ESP AEAD/);
  assert.throws(() => dp.installChild({ ...s, spiIn: Buffer.alloc(3) }), /4 bytes/);
  assert.throws(() => dp.installChild({ ...s, keyIn: Buffer.alloc(5) }));
  assert.deepEqual(dp.children(), [], 'nothing half-installed');
  dp.installChild(s);
  dp.installChild({ ...s, spiOut: Buffer.from('0000b001', 'hex') });
  assert.equal(dp.status().children.length, 1);
  assert.equal(dp.status().children[0]!.spiOut, '0000b001');
  assert.ok(!logged.some((r) => JSON.stringify(r.fields).includes(s.keyIn.toString('hex'))), 'keys never logged');
});
