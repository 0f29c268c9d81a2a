// The daemon's IKE events as the fleet sees them: up/down without flaps across rekeys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DaemonEvent } from '../../../firmware/daemon.ts';
import type { IkeEvent } from '../../../firmware/ike/actions.ts';
import { EventTranslator } from '../../../firmware/health/event-translator.ts';

const ike = (event: IkeEvent): DaemonEvent => ({ type: 'tunnel', event });
const remote = { address: '198.51.100.2', port: 4500 };
const up = (ikeId: string) => ike({ type: 'ike-up', ikeId, remote, proposal: 'aes256gcm16-prfsha256-x25519', natLocal: true, natRemote: false, remoteId: 'hq' });
const child = (ikeId: string, spiIn: string, rekey: boolean) => ike({ type: 'child-up', ikeId, spiIn, spiOut: 'ffff0000', proposal: 'aes256gcm16', localTs: '10.1.0.0/24', remoteTs: '10.2.0.0/24', rekey });
const childDown = (ikeId: string, spiIn: string, reason: string) => ike({ type: 'child-down', ikeId, spiIn, reason });

test('translator: IKE up then the first CHILD_SA -> one tunnel-up with both suites and NAT', () => {
  const t = new EventTranslator();
  assert.deepEqual(t.translate(up('i1')), []);
  assert.deepEqual(t.translate(child('i1', 'c1', false)), [{
    type: 'tunnel-up', remote, ikeAlgorithms: 'aes256gcm16-prfsha256-x25519', childAlgorithms: 'aes256gcm16', natDetected: true, localTs: '10.1.0.0/24', remoteTs: '10.2.0.0/24',
  }]);
  assert.equal(t.tunnelUp, true);
});

test('translator: a CHILD_SA rekey (new before old is removed) is a rekey, not a flap', () => {
  const t = new EventTranslator();
  t.translate(up('i1'));
  t.translate(child('i1', 'c1', false));
  assert.deepEqual(t.translate(child('i1', 'c2', true)), [{ type: 'rekey', sa: 'child', algorithms: 'aes256gcm16' }]);
  assert.deepEqual(t.translate(childDown('i1', 'c1', 'rekeyed')), []);
  assert.equal(t.rekeys, 1);
  assert.equal(t.tunnelUp, true);
});

test('translator: an IKE rekey moves the children; a later ike-down under the new id still reports', () => {
  const t = new EventTranslator();
  t.translate(up('i1'));
  t.translate(child('i1', 'c1', false));
  assert.deepEqual(t.translate(ike({ type: 'ike-rekeyed', oldIkeId: 'i1', ikeId: 'i2' })), [{ type: 'rekey', sa: 'ike', algorithms: 'aes256gcm16-prfsha256-x25519' }]);
  assert.equal(t.rekeys, 1);
  // The engine normally removes children first; an ike-down alone must still end the tunnel.
  assert.deepEqual(t.translate(ike({ type: 'ike-down', ikeId: 'i2', reason: 'deleted by peer' })), [{ type: 'tunnel-down', reason: 'deleted by peer' }]);
  assert.equal(t.tunnelUp, false);
});

test('translator: DPD timeout -> dpd-timeout, then tunnel-down once with the engine\'s reason', () => {
  const t = new EventTranslator();
  t.translate(up('i1'));
  t.translate(child('i1', 'c1', false));
  const reason = 'peer did not answer (dead peer detection)';
  const out = [
    ...t.translate(ike({ type: 'dpd-timeout', ikeId: 'i1' })),
    ...t.translate(childDown('i1', 'c1', reason)),
    ...t.translate(ike({ type: 'ike-down', ikeId: 'i1', reason })),
  ];
  assert.deepEqual(out, [{ type: 'dpd-timeout' }, { type: 'tunnel-down', reason }]);
});

test('translator: failures while connecting are reported; no tunnel-down for a tunnel never up', () => {
  const t = new EventTranslator();
  assert.deepEqual(t.translate(ike({ type: 'auth-failed', ikeId: 'i1', reason: 'AUTHENTICATION_FAILED from peer' })), [{ type: 'auth-failed', reason: 'AUTHENTICATION_FAILED from peer' }]);
  assert.deepEqual(t.translate(ike({ type: 'negotiation-failed', ikeId: 'i1', notify: 'NO_PROPOSAL_CHOSEN', detail: 'd' })), [{ type: 'negotiation-failed', notify: 'NO_PROPOSAL_CHOSEN', detail: 'd' }]);
  assert.deepEqual(t.translate(ike({ type: 'ike-down', ikeId: 'i1', reason: 'no answer to IKE_SA_INIT' })), []);
  assert.deepEqual(t.translate(ike({ type: 'exchange-sent', ikeId: 'i1', exchange: 'IKE_SA_INIT', detail: '' })), []);
});

test('translator: HQ deletes the only CHILD_SA -> down; the replacement -> up again', () => {
  const t = new EventTranslator();
  t.translate(up('i1'));
  t.translate(child('i1', 'c1', false));
  assert.deepEqual(t.translate(childDown('i1', 'c1', 'deleted by peer')), [{ type: 'tunnel-down', reason: 'deleted by peer' }]);
  assert.equal(t.translate(child('i1', 'c2', true))[0]?.type, 'tunnel-up');
  assert.equal(t.rekeys, 0, 'a replacement after a delete is not a rekey');
});

test('translator: config commits list the sections; long reasons are clipped', () => {
  const t = new EventTranslator();
  assert.deepEqual(t.translate({ type: 'config-applied', sections: ['health'] }), [{ type: 'config-committed', sections: ['health'] }]);
  const [e] = t.translate(ike({ type: 'auth-failed', ikeId: 'i', reason: 'y'.repeat(5000) }));
  assert.equal((e as { reason: string }).reason.length, 256);
});

test('translator: a tunnel already up when reporting starts gives one tunnel-up, then tracks it', async () => {
  const { upModel, downModel } = await import('../cli/fixtures.ts');
  const t = new EventTranslator();
  assert.deepEqual(t.seed(downModel().tunnel), []);
  const st = upModel().tunnel;
  const [e] = t.seed(st);
  assert.deepEqual(e, {
    type: 'tunnel-up', remote: st.remote, ikeAlgorithms: st.ikeSa!.algorithms, childAlgorithms: 'AES_GCM_16-256',
    natDetected: true, localTs: '10.1.0.0/24', remoteTs: '10.2.0.0/16',
  });
  assert.deepEqual(t.seed(st), [], 'only once');
  // The engine's later events refer to the same SAs (our SPI as initiator).
  assert.deepEqual(t.translate(ike({ type: 'ike-down', ikeId: st.ikeSa!.spiInitiator, reason: 'deleted by peer' })), [{ type: 'tunnel-down', reason: 'deleted by peer' }]);
});
