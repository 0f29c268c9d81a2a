// Whole IKEv2 exchanges between two in-process engines with a fake clock: establishment,
// failures, retransmission, cookies, INVALID_KE, rekeys (including collisions), DPD and delete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IkePair, policy, mirrored, B_ADDR } from '../../lib/ike-pair.ts';
import { ExchangeType } from '../../../firmware/ike/constants.ts';
import { decodeMessage } from '../../../firmware/ike/message.ts';
import { deleteChildren } from '../../../firmware/ike/exchanges/create-child-sa.ts';

const types = (evs: { type: string }[]) => evs.map((e) => e.type);

test('initiator and responder establish an IKE SA and a mirrored CHILD_SA', () => {
  const p = new IkePair(policy(), policy({ local: 'hq.example.net', remote: 'branch.example.net', localNet: ['10.2.0.0/24'], remoteNet: ['10.1.0.0/24'] }));
  p.start();
  assert.ok(mirrored(p.a.children, p.b.children), 'children mirror each other');
  const c = [...p.a.children.values()][0]!;
  assert.equal(c.aead, 'aes256gcm16');
  assert.equal(c.keyOut.length, 36);
  assert.equal(c.remote.port, 4500, 'forced UDP encapsulation floats to 4500');
  assert.deepEqual(types(p.a.events), ['exchange-sent', 'exchange-sent', 'ike-up', 'child-up']);
  assert.deepEqual(types(p.b.events), ['ike-up', 'child-up']);
  assert.ok(p.a.engine.up && p.b.engine.up);
});

test('narrowing: responder allows only part of what the initiator asks for', () => {
  const p = new IkePair(policy({ remoteNet: ['10.2.0.0/16'] }), policy({ local: 'hq.example.net', remote: 'branch.example.net', localNet: ['10.2.3.0/24'], remoteNet: ['10.1.0.0/24'] }));
  p.start();
  const c = [...p.a.children.values()][0]!;
  assert.equal(c.remoteTs[0]!.startAddress.join('.'), '10.2.3.0');
  assert.equal(c.remoteTs[0]!.endAddress.join('.'), '10.2.3.255');
});

test('wrong PSK: AUTHENTICATION_FAILED on both sides, no CHILD_SA, reconnect with growing backoff', () => {
  const pb = policy({ local: 'hq.example.net', remote: 'branch.example.net', localNet: ['10.2.0.0/24'], remoteNet: ['10.1.0.0/24'] });
  pb.psk = Buffer.from('another secret entirely');
  const p = new IkePair(policy(), pb);
  p.start();
  assert.equal(p.a.children.size, 0);
  assert.ok(p.b.events.some((e) => e.type === 'auth-failed'));
  assert.ok(p.a.events.some((e) => e.type === 'auth-failed'));
  // Retries come with backoff, not in a tight loop.
  const sendsAt: number[] = [];
  const before = p.a.actions.length;
  p.advance(20_000);
  p.a.actions.slice(before).forEach((a) => { if (a.kind === 'send' && decodeMessage(a.data).header.exchangeType === ExchangeType.IKE_SA_INIT) sendsAt.push(1); });
  assert.ok(sendsAt.length >= 2 && sendsAt.length <= 6, `IKE_SA_INIT attempts in 20 s: ${sendsAt.length}`);
});

test('remote identity mismatch is refused', () => {
  const p = new IkePair(policy({ remote: 'other-hq.example.net' }), policy({ local: 'hq.example.net', remote: 'branch.example.net', localNet: ['10.2.0.0/24'], remoteNet: ['10.1.0.0/24'] }));
  p.start();
  const ev = p.a.events.find((e) => e.type === 'auth-failed') as { reason: string } | undefined;
  assert.match(ev?.reason ?? '', /other-hq\.example\.net/);
});

test('no common IKE proposal: the responder logs both sides, the initiator gets NO_PROPOSAL_CHOSEN', () => {
  const p = new IkePair(policy({ ikeP: ['chacha20poly1305-prfsha256-x25519'] }), policy({ ikeP: ['aes128gcm16-prfsha384-ecp384'], local: 'hq.example.net', remote: 'branch.example.net' }));
  p.start();
  const ev = p.a.events.find((e) => e.type === 'negotiation-failed') as { notify: string } | undefined;
  assert.equal(ev?.notify, 'NO_PROPOSAL_CHOSEN');
  assert.equal(p.a.children.size, 0);
});

test('unacceptable selectors: TS_UNACCEPTABLE and no CHILD_SA', () => {
  const p = new IkePair(policy(), policy({ local: 'hq.example.net', remote: 'branch.example.net', localNet: ['10.9.0.0/24'], remoteNet: ['10.1.0.0/24'] }));
  p.start();
  const ev = p.a.events.find((e) => e.type === 'negotiation-failed') as { notify: string; detail: string } | undefined;
  assert.equal(ev?.notify, 'TS_UNACCEPTABLE');
  assert.match(ev!.detail, /10\.1\.0\.0\/24/);
  assert.equal(p.a.children.size, 0);
  assert.equal(p.b.children.size, 0);
});

test('INVALID_KE_PAYLOAD: the initiator retries with the group the responder asks for', () => {
  const p = new IkePair(policy({ ikeP: ['aes256gcm16-prfsha256-x25519-ecp256'] }), policy({ ikeP: ['aes256gcm16-prfsha256-ecp256'], local: 'hq.example.net', remote: 'branch.example.net', localNet: ['10.2.0.0/24'], remoteNet: ['10.1.0.0/24'] }));
  p.start();
  assert.ok(mirrored(p.a.children, p.b.children));
  assert.match(p.a.engine.ikeSas()[0]!.suite!.name, /ecp256/);
});

test('cookies: a responder under load demands a cookie and the initiator comes back with it', () => {
  const p = new IkePair(policy(), policy({ cookieThreshold: 0, local: 'hq.example.net', remote: 'branch.example.net', localNet: ['10.2.0.0/24'], remoteNet: ['10.1.0.0/24'] }));
  p.start();
  assert.equal(p.b.engine.counters.cookiesSent, 1);
  assert.ok(mirrored(p.a.children, p.b.children));
});

test('a lost response is retransmitted for and answered from the cache', () => {
  const p = new IkePair(policy(), policy({ local: 'hq.example.net', remote: 'branch.example.net', localNet: ['10.2.0.0/24'], remoteNet: ['10.1.0.0/24'] }));
  let dropped = 0;
  p.filter = (d) => {
    if (d.toSide === 'a' && decodeMessage(d.data).header.exchangeType === ExchangeType.IKE_AUTH && dropped === 0) { dropped++; return false; }
    return true;
  };
  p.start();
  assert.equal(p.a.children.size, 0);
  p.step();
  assert.equal(p.b.engine.counters.retransmitsAnswered, 1);
  assert.ok(mirrored(p.a.children, p.b.children));
  assert.equal(p.b.children.size, 1, 'the responder processed the request once');
});

const hq = (over = {}) => policy({ local: 'hq.example.net', remote: 'branch.example.net', localNet: ['10.2.0.0/24'], remoteNet: ['10.1.0.0/24'], ...over });

test('CHILD_SA rekey (with and without PFS) keeps exactly one mirrored pair', () => {
  for (const esp of [['aes256gcm16'], ['aes256gcm16-x25519']]) {
    const p = new IkePair(policy({ childLifetimeSeconds: 60, espP: esp }), hq({ childLifetimeSeconds: 60, espP: esp }));
    p.start();
    const first = [...p.a.children.keys()][0];
    p.advance(59_000);
    assert.ok(mirrored(p.a.children, p.b.children), `mirrored after rekey (${esp})`);
    assert.equal(p.a.children.size, 1);
    assert.notEqual([...p.a.children.keys()][0], first, 'a new SA replaced the old one');
    assert.ok(p.a.events.some((e) => e.type === 'child-up' && e.rekey));
  }
});

test('many CHILD_SA rekeys in a row stay consistent', () => {
  const p = new IkePair(policy({ childLifetimeSeconds: 10 }), hq({ childLifetimeSeconds: 10 }));
  p.start();
  p.advance(600_000);
  assert.ok(mirrored(p.a.children, p.b.children));
  assert.equal(p.a.children.size, 1);
  const rekeys = p.a.events.filter((e) => e.type === 'child-up' && e.rekey).length + p.b.events.filter((e) => e.type === 'child-up' && e.rekey).length;
  assert.ok(rekeys >= 60, `rekeys: ${rekeys}`);
});

test('simultaneous CHILD_SA rekey: both sides end with the same single pair', () => {
  const p = new IkePair(policy(), hq());
  p.start();
  // Start both rekeys before either side sees the other's request.
  const ca = p.a.engine.ikeSas()[0]!.children[0]!;
  const cb = p.b.engine.ikeSas()[0]!.children[0]!;
  ca.rekeyAt = 5000;
  cb.rekeyAt = 5000;
  p.now = 5000;
  p.apply('a', p.a.engine.tick(5000));
  p.apply('b', p.b.engine.tick(5000));
  p.run();
  p.advance(30_000);
  assert.ok(mirrored(p.a.children, p.b.children), 'one consistent pair');
  assert.equal(p.a.children.size, 1);
});

test('IKE SA rekey moves the CHILD_SA to the new IKE SA; the old one is gone on both sides', () => {
  const p = new IkePair(policy({ ikeLifetimeSeconds: 100 }), hq({ ikeLifetimeSeconds: 100 }));
  p.start();
  const oldA = p.a.engine.ikeSas()[0]!.id;
  p.advance(99_000);
  assert.equal(p.a.engine.ikeSas().length, 1);
  assert.equal(p.b.engine.ikeSas().length, 1);
  assert.notEqual(p.a.engine.ikeSas()[0]!.id, oldA);
  assert.equal(p.a.engine.ikeSas()[0]!.children.length, 1);
  assert.ok(mirrored(p.a.children, p.b.children));
  assert.ok(!p.a.events.some((e) => e.type === 'ike-down' || e.type === 'child-down'));
});

test('simultaneous IKE SA rekey: one IKE SA survives with the CHILD_SA', () => {
  const p = new IkePair(policy(), hq());
  p.start();
  p.a.engine.ikeSas()[0]!.rekeyAt = 5000;
  p.b.engine.ikeSas()[0]!.rekeyAt = 5000;
  p.now = 5000;
  p.apply('a', p.a.engine.tick(5000));
  p.apply('b', p.b.engine.tick(5000));
  p.run();
  p.advance(40_000);
  const la = p.a.engine.ikeSas().filter((s) => s.state === 'established');
  const lb = p.b.engine.ikeSas().filter((s) => s.state === 'established');
  assert.equal(la.length, 1);
  assert.equal(lb.length, 1);
  assert.equal(la[0]!.spiI.toString('hex'), lb[0]!.spiI.toString('hex'));
  assert.ok(mirrored(p.a.children, p.b.children));
});

test('DPD: a silent peer is declared dead, the CHILD_SA removed, and the initiator reconnects when it returns', () => {
  const p = new IkePair(policy({ dpdSeconds: 10 }), hq({ dpdSeconds: 0 }));
  p.start();
  let down = true;
  p.filter = () => !down;
  p.advance(40_000);
  assert.ok(p.a.events.some((e) => e.type === 'dpd-timeout'));
  assert.equal(p.a.children.size, 0);
  down = false;
  p.advance(200_000);
  assert.equal(p.a.children.size, 1, 'reconnected');
  assert.equal(p.b.engine.ikeSas().filter((s) => s.state === 'established').length, 1, 'INITIAL_CONTACT cleared the stale SA on the responder');
});

test('a peer that deletes the IKE SA makes the initiator reconnect', () => {
  const p = new IkePair(policy(), hq());
  p.start();
  p.apply('b', p.b.engine.shutdown(p.now));
  p.run();
  assert.ok(p.a.events.some((e) => e.type === 'ike-down'));
  assert.equal(p.a.children.size, 0);
  p.advance(10_000);
  assert.ok(mirrored(p.a.children, p.b.children), 'the initiator came back');
});

test('the responder drops half-open SAs after their timeout', () => {
  const p = new IkePair(policy(), hq({ halfOpenTimeoutMs: 5000 }));
  p.filter = (d) => !(d.toSide === 'b' && decodeMessage(d.data).header.exchangeType === ExchangeType.IKE_AUTH);
  p.start();
  assert.equal(p.b.engine.ikeSas().length, 1);
  p.advance(6000);
  assert.equal(p.b.engine.ikeSas().length, 0);
});

test('IKE fragmentation: a large IKE_AUTH goes as SKF fragments and survives a lost fragment', () => {
  const nets = (b: number) => Array.from({ length: 50 }, (_, i) => `10.${b}.${i}.0/24`);
  const p = new IkePair(policy({ localNet: nets(1), remoteNet: nets(2) }), hq({ localNet: nets(2), remoteNet: nets(1) }));
  let fragments = 0;
  let dropped = false;
  p.filter = (d) => {
    const m = decodeMessage(d.data);
    if (m.encrypted?.kind !== 'SKF') return true;
    fragments++;
    if (!dropped && m.encrypted.fragmentNumber === 2) { dropped = true; return false; }
    return true;
  };
  p.start();
  p.step(); // the retransmission of every fragment
  assert.ok(fragments >= 3, `fragments seen: ${fragments}`);
  assert.ok(mirrored(p.a.children, p.b.children));
  assert.equal([...p.a.children.values()][0]!.remoteTs.length, 50);
});

test('without fragmentation negotiated, a large message goes whole', () => {
  const nets = (b: number) => Array.from({ length: 50 }, (_, i) => `10.${b}.${i}.0/24`);
  const p = new IkePair(policy({ localNet: nets(1), remoteNet: nets(2) }), hq({ localNet: nets(2), remoteNet: nets(1) }));
  p.start();
  const sa = p.a.engine.ikeSas()[0]!;
  const big = [{ type: 41, protocol: 0, spi: Buffer.alloc(0), notifyType: 16385, data: Buffer.alloc(3000) }] as never;
  assert.ok(sa.seal(ExchangeType.INFORMATIONAL, false, 99, big).length > 1, 'fragmented when negotiated');
  sa.fragmentation = false;
  assert.equal(sa.seal(ExchangeType.INFORMATIONAL, false, 99, big).length, 1, 'whole otherwise');
});

test('HQ deletes the only CHILD_SA but keeps the IKE SA: the initiator asks for a new one', () => {
  const p = new IkePair(policy(), hq());
  p.start();
  const before = [...p.a.children.keys()][0];
  const sa = p.b.engine.ikeSas()[0]!;
  deleteChildren(p.b.engine, sa, [...sa.children], p.now, 'operator');
  p.apply('b', p.b.engine.tick(p.now));
  p.run();
  assert.ok(p.a.events.some((e) => e.type === 'child-down'));
  assert.equal(p.a.children.size, 0);
  p.step(); // the initiator's next tick asks for a replacement
  assert.ok(mirrored(p.a.children, p.b.children), 'a fresh pair');
  assert.notEqual([...p.a.children.keys()][0], before);
});

test('an IKE_SA_INIT request with an unknown critical payload is answered with UNSUPPORTED_CRITICAL_PAYLOAD', () => {
  const p = new IkePair(policy(), hq());
  let answered: Buffer | undefined;
  p.filter = (d) => {
    if (d.toSide === 'b') {
      const m = decodeMessage(d.data);
      if (m.header.exchangeType === ExchangeType.IKE_SA_INIT && !m.header.response) {
        // Append an unknown payload (type 200) with the critical bit to the chain.
        const chain = Buffer.from(d.data);
        let pos = 28;
        while (chain[pos] !== 0) pos += chain.readUInt16BE(pos + 2);
        chain[pos] = 200;
        const extra = Buffer.from([0, 0x80, 0, 8, 1, 2, 3, 4]);
        const out = Buffer.concat([chain, extra]);
        out.writeUInt32BE(out.length, 24);
        const acts = p.b.engine.receive(p.now, out, d.from, d.to);
        answered = (acts.find((a) => a.kind === 'send') as { data: Buffer } | undefined)?.data;
        return false;
      }
    }
    return true;
  };
  p.start();
  assert.ok(answered, 'the responder answered');
  const r = decodeMessage(answered!);
  const n = r.payloads[0] as { notifyType: number; data: Buffer };
  assert.equal(n.notifyType, 1);
  assert.deepEqual([...n.data], [200]);
  assert.equal(p.b.engine.ikeSas().length, 0, 'no state kept');
});

test('DPD measures the round trip to the peer', () => {
  const p = new IkePair(policy({ dpdSeconds: 10 }), hq({ dpdSeconds: 0 }));
  p.start();
  const sa = p.a.engine.ikeSas()[0]!;
  assert.equal(sa.dpdRttMs, undefined);
  // Deliver the DPD answer 7 ms after the request leaves.
  const orig = p.filter;
  let delayed = false;
  p.filter = (d) => {
    if (!delayed && d.toSide === 'a' && decodeMessage(d.data).header.exchangeType === ExchangeType.INFORMATIONAL) { delayed = true; p.now += 7; }
    return orig(d);
  };
  p.advance(10_500);
  assert.equal(sa.dpdRttMs, 7);
});

test('an IKE SA the peer rekeyed but never deleted is dropped after a while', () => {
  const p = new IkePair(policy({ ikeLifetimeSeconds: 100, dpdSeconds: 0 }), hq({ ikeLifetimeSeconds: 1000, dpdSeconds: 0 }));
  p.start();
  const old = p.a.engine.ikeSas()[0]!.spiI;
  // Swallow every INFORMATIONAL request on the old IKE SA: its Delete after the rekey never arrives.
  p.filter = (d) => {
    const m = decodeMessage(d.data);
    return !(d.toSide === 'b' && m.header.spiI.equals(old) && m.header.exchangeType === ExchangeType.INFORMATIONAL && !m.header.response);
  };
  p.advance(90_000);
  assert.equal(p.b.engine.ikeSas().length, 2, 'the old SA lingers without the Delete');
  p.advance(200_000);
  assert.equal(p.b.engine.ikeSas().length, 1);
  assert.ok(mirrored(p.a.children, p.b.children));
});

test('ESP traffic from the peer postpones DPD (RFC 7296 2.4)', () => {
  const p = new IkePair(policy({ dpdSeconds: 10 }), hq({ dpdSeconds: 0 }));
  p.start();
  const spi = [...p.a.children.values()][0]!.spiIn;
  let dpds = 0;
  p.filter = (d) => { if (d.toSide === 'b' && decodeMessage(d.data).header.exchangeType === ExchangeType.INFORMATIONAL) dpds++; return true; };
  for (let t = 1000; t <= 30_000; t += 1000) {
    p.a.engine.noteEspInbound((s) => (s.equals(spi) ? t : undefined));
    p.advance(t);
  }
  assert.equal(dpds, 0, 'no DPD while ESP arrives every second');
  p.advance(45_000);
  assert.ok(dpds >= 1, 'DPD once ESP stops');
});
