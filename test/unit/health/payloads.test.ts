// Payload builders with a fake clock, checked field by field and against docs/schemas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildEvent, buildHealth, buildOffline, buildOnline, topics, type EventBody, type HealthInputs, type Identity,
} from '../../../firmware/health/payloads.ts';
import { downModel, upModel } from '../cli/fixtures.ts';
import { assertValid, rejects } from './schemas.ts';

const NOW = Date.UTC(2025, 2, 14, 9, 26, 53, 589);
const ID: Identity = {
  deviceId: 'branch-042', firmwareVersion: '0.1.0', board: 'Raspberry Pi 4 Model B Rev 1.4',
  bootTime: Date.UTC(2025, 2, 10, 8, 0, 0), startedAt: Date.UTC(2025, 2, 10, 8, 0, 12, 345),
};

function inputs(over: Partial<HealthInputs> = {}): HealthInputs {
  const status = upModel();
  return {
    status,
    system: { board: ID.board, cpuCount: 4, load: [0.12, 0.08, 0.02], memory: { totalBytes: 4e9, availableBytes: 3.1e9 }, processRssBytes: 48_000_000, temperatureC: 47.2, uptimeSeconds: 352_800 },
    traffic: { bytesIn: 9_000_000, bytesOut: 800_000, packetsIn: 7000, packetsOut: 900, drops: { replay: 5 } },
    rekeys: 3,
    rtt: null,
    reporting: { eventsQueued: 0, eventsDropped: 0, reconnects: 1 },
    ...over,
  };
}

test('topics live under outpost/<device-id>/', () => {
  assert.deepEqual(topics('branch-042'), { status: 'outpost/branch-042/status', health: 'outpost/branch-042/health', events: 'outpost/branch-042/events' });
});

test('status online: firmware, board, boot time and the connect time from the clock', () => {
  const p = buildOnline(ID, NOW);
  assert.deepEqual(p, {
    version: 1, deviceId: 'branch-042', state: 'online', time: '2025-03-14T09:26:53.589Z', firmwareVersion: '0.1.0',
    board: 'Raspberry Pi 4 Model B Rev 1.4', bootTime: '2025-03-10T08:00:00.000Z', startedAt: '2025-03-10T08:00:12.345Z',
  });
  assertValid('status', p);
});

test('status offline: the last will has no time; a goodbye has one', () => {
  const will = buildOffline(ID, 'connection-lost');
  assert.equal(will.state, 'offline');
  assert.equal(will.reason, 'connection-lost');
  assert.equal('time' in will, false);
  assertValid('status', will);
  const bye = buildOffline(ID, 'shutdown', NOW);
  assert.equal(bye.time, '2025-03-14T09:26:53.589Z');
  assertValid('status', bye);
  assert.ok(rejects('status', { ...bye, reason: 'crashed' }), 'unknown reason');
  assert.ok(rejects('status', { ...buildOnline(ID, NOW), time: undefined }), 'online needs its time');
  assert.ok(rejects('status', { ...buildOnline(ID, NOW), extra: 1 }), 'no unknown fields');
});

test('health (tunnel up): SAs with algorithms, ages and rekey times, counters, drops, WAN and NAT', () => {
  const p = buildHealth('branch-042', inputs(), NOW);
  assertValid('health', p);
  assert.equal(p.time, '2025-03-14T09:26:53.589Z');
  assert.equal(p.tunnel.state, 'up');
  assert.deepEqual(p.tunnel.ikeSa, { role: 'initiator', remoteId: 'hq.example.net', algorithms: 'AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519', ageSeconds: 192, rekeySeconds: 14208 });
  const c = p.tunnel.childSas[0]!;
  assert.equal(c.algorithms, 'AES_GCM_16-256');
  assert.equal(c.ageSeconds, 192);
  assert.equal(c.rekeySeconds, 3408);
  assert.deepEqual([c.bytesIn, c.bytesOut, c.packetsIn, c.packetsOut], [1234567, 5678, 1021, 1]);
  assert.deepEqual(c.drops, { replay: 3, auth: 1 }, 'zero counts left out');
  assert.deepEqual(p.tunnel.traffic, inputs().traffic);
  assert.equal(p.tunnel.rekeys, 3);
  assert.equal(p.tunnel.rttMs, null, 'not measured: null, not 0');
  assert.equal(p.tunnel.rttSource, null);
  assert.deepEqual(p.wan, { address: '192.0.2.10', natDetected: true });
  assert.equal(p.system.temperatureC, 47.2);
  assert.deepEqual(p.system.memory, { totalBytes: 4e9, availableBytes: 3.1e9, processRssBytes: 48_000_000 });
  assert.equal(p.uptimeSeconds, upModel().uptimeSeconds);
  assert.equal(p.firmwareVersion, '0.1.0');
});

test('health (tunnel down): nulls where nothing is known, the last error, an RTT when measured', () => {
  const p = buildHealth('branch-042', inputs({ status: downModel(), rtt: { ms: 23.456, source: 'dpd' } }), NOW);
  assertValid('health', p);
  assert.equal(p.tunnel.state, 'down');
  assert.equal(p.tunnel.ikeSa, null);
  assert.deepEqual(p.tunnel.childSas, []);
  assert.deepEqual(p.wan, { address: null, natDetected: false });
  assert.equal(p.tunnel.lastError?.ageSeconds, 300);
  assert.equal(p.tunnel.rttMs, 23.5);
  assert.equal(p.tunnel.rttSource, 'dpd');
});

test('health: a long error text from the peer is clipped; no temperature sensor gives null', () => {
  const status = downModel();
  status.tunnel.lastError = { message: 'x'.repeat(10_000), ageSeconds: 1 };
  const p = buildHealth('b', inputs({ status, system: { ...inputs().system, temperatureC: null } }), NOW);
  assert.equal(p.tunnel.lastError!.message.length, 256);
  assert.equal(p.system.temperatureC, null);
  assertValid('health', p);
  assert.ok(rejects('health', { ...p, tunnel: { ...p.tunnel, state: 'sideways' } }));
  assert.ok(rejects('health', { ...p, tunnel: { ...p.tunnel, traffic: { ...p.tunnel.traffic, bytesIn: -1 } } }));
});

test('events: envelope with seq and the time the event happened (not when it is sent)', () => {
  const bodies: EventBody[] = [
    { type: 'tunnel-up', remote: { address: '198.51.100.2', port: 4500 }, ikeAlgorithms: 'aes256gcm16-prfsha256-x25519', childAlgorithms: 'aes256gcm16', natDetected: false, localTs: '10.1.0.0/24', remoteTs: '10.2.0.0/24' },
    { type: 'tunnel-down', reason: 'peer did not answer (dead peer detection)' },
    { type: 'auth-failed', reason: 'AUTHENTICATION_FAILED' },
    { type: 'negotiation-failed', notify: 'NO_PROPOSAL_CHOSEN', detail: 'no acceptable proposal' },
    { type: 'rekey', sa: 'child', algorithms: 'aes256gcm16' },
    { type: 'rekey', sa: 'ike', algorithms: null },
    { type: 'dpd-timeout' },
    { type: 'config-committed', sections: ['tunnel', 'health'] },
    { type: 'config-rolled-back', reason: 'tunnel did not come up within 120 s' },
    { type: 'certificate-expiring', file: '/etc/outpost/branch.crt', subject: 'CN=branch-042', notAfter: '2025-04-01T00:00:00.000Z', daysLeft: 17 },
  ];
  bodies.forEach((body, i) => {
    const p = buildEvent('branch-042', i + 1, { at: NOW - 60_000, body });
    assert.equal(p.seq, i + 1);
    assert.equal(p.time, '2025-03-14T09:25:53.589Z');
    assert.equal(p.type, body.type);
    assertValid('events', p);
  });
  const ok = buildEvent('b', 1, { at: NOW, body: { type: 'tunnel-down', reason: 'x' } });
  assert.ok(rejects('events', { ...ok, type: 'tunnel-sideways' }), 'unknown type');
  assert.ok(rejects('events', { ...ok, reason: undefined }), 'tunnel-down needs its reason');
  assert.ok(rejects('events', { ...ok, seq: 0 }), 'seq from 1');
  assert.ok(rejects('events', { ...ok, time: 'yesterday' }), 'time format');
});
