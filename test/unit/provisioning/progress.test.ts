// Following the tunnel after a commit: each step from the daemon's events and status, and the
// step that failed with its reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressTracker, type ProgressUpdate } from '../../../provisioning/progress.ts';
import { firstHost } from '../../../provisioning/probe.ts';
import { FakeClock, FakeDaemon, resolve, settle, siteConfig } from './helpers.ts';

function track(daemon: FakeDaemon, clock: FakeClock, opts: { restarted?: boolean; resolve?: (h: string) => Promise<string>; probe?: () => Promise<boolean>; timeoutMs?: number } = {}) {
  const updates: ProgressUpdate[] = [];
  const t = new ProgressTracker(daemon, {
    clock, pollMs: 500, timeoutMs: opts.timeoutMs ?? 30_000, healthTimeoutMs: 10_000,
    resolve: opts.resolve ?? (async () => '198.51.100.2'), probe: opts.probe ?? (async () => true),
  }, (u) => updates.push(u));
  t.attach(opts.restarted ?? true);
  return { t, updates, line: () => updates.map((u) => `${u.step}:${u.state}`).join(' ') };
}

test('the whole way up after a commit: resolve, IKE_SA_INIT, auth, CHILD_SA, probe, no health', async () => {
  const clock = new FakeClock();
  const d = new FakeDaemon(resolve(siteConfig({ remote: 'hq.example.net' })));
  const { t, updates, line } = track(d, clock);
  // the old tunnel going down before config-applied is not a failure of the new one
  d.ike({ type: 'ike-down', ikeId: 'old', reason: 'shutdown' });
  const done = t.run();
  await settle();
  await d.applyConfig(resolve(siteConfig({ remote: 'hq.example.net', id: 'x1' })));
  d.tunnel = { ...d.tunnel, state: 'connecting', remote: { address: '198.51.100.2', port: 500 } };
  await clock.advance(500);
  d.bringUp();
  const r = await done;
  assert.equal(r.ok, true, line());
  assert.equal(r.tunnelUp, true);
  assert.deepEqual(r.steps.map((s) => `${s.step}:${s.state}`), ['resolve:ok', 'ike-init:ok', 'auth:ok', 'child:ok', 'probe:ok', 'health:skipped']);
  const msg = (step: string) => r.steps.find((s) => s.step === step)!.message;
  assert.equal(msg('resolve'), 'hq.example.net is 198.51.100.2');
  assert.equal(msg('ike-init'), 'IKE_SA_INIT sent to 198.51.100.2:500');
  assert.match(msg('auth'), /authenticated: HQ is "hq\.example\.net", AES_GCM_16-256/);
  assert.equal(msg('child'), 'CHILD_SA up: 10.1.0.0/24 === 10.2.0.0/24, AES_GCM_16-256');
  assert.equal(msg('probe'), '10.2.0.1 answered a ping from 10.1.0.1 through the tunnel');
  assert.ok(updates.some((u) => u.step === 'resolve' && u.state === 'running'));
});

test('authentication failure names the step and the reason', async () => {
  const clock = new FakeClock();
  const d = new FakeDaemon(resolve(siteConfig()));
  const { t } = track(d, clock);
  const done = t.run();
  await d.applyConfig(resolve(siteConfig({ psk: 'another-psk-0123456789xyz' })));
  d.ike({ type: 'auth-failed', ikeId: 'a1', reason: 'AUTHENTICATION_FAILED from the peer (wrong PSK or identity?)' });
  const r = await done;
  assert.equal(r.ok, false);
  const last = r.steps.at(-1)!;
  assert.deepEqual([last.step, last.state], ['auth', 'failed']);
  assert.match(last.message, /authentication failed: AUTHENTICATION_FAILED/);
  assert.match(r.message, /^auth failed/);
});

test('NO_PROPOSAL_CHOSEN fails the step in progress', async () => {
  const clock = new FakeClock();
  const d = new FakeDaemon(resolve(siteConfig()));
  const { t } = track(d, clock);
  const done = t.run();
  await d.applyConfig(resolve(siteConfig({ id: 'y' })));
  d.ike({ type: 'negotiation-failed', ikeId: 'a1', notify: 'NO_PROPOSAL_CHOSEN', detail: 'HQ accepted none of our IKE proposals' });
  const r = await done;
  const last = r.steps.at(-1)!;
  assert.deepEqual([last.step, last.state], ['ike-init', 'failed']);
  assert.equal(last.message, 'NO_PROPOSAL_CHOSEN: HQ accepted none of our IKE proposals');
});

test('no answer from HQ: the step times out with the tunnel\'s last error', async () => {
  const clock = new FakeClock();
  const d = new FakeDaemon(resolve(siteConfig()));
  const { t } = track(d, clock, { timeoutMs: 20_000 });
  const done = t.run();
  await d.applyConfig(resolve(siteConfig({ id: 'z' })));
  d.tunnel = { ...d.tunnel, state: 'connecting', remote: { address: '198.51.100.2', port: 500 }, lastError: { message: 'IKE_SA_INIT: no response after 3 tries', ageSeconds: 1 } };
  await clock.advance(20_000);
  const r = await done;
  const last = r.steps.at(-1)!;
  assert.deepEqual([last.step, last.state], ['auth', 'failed']);
  assert.match(last.message, /no result within 20 s; last error: IKE_SA_INIT: no response after 3 tries/);
});

test('HQ unreachable (tunnel down with an error) fails at once', async () => {
  const clock = new FakeClock();
  const d = new FakeDaemon(resolve(siteConfig()));
  const { t } = track(d, clock);
  const done = t.run();
  await d.applyConfig(resolve(siteConfig({ id: 'w' })));
  d.tunnel = { ...d.tunnel, lastError: { message: 'cannot reach 198.51.100.2: ENETUNREACH', ageSeconds: 0 } };
  await clock.advance(500);
  const r = await done;
  assert.equal(r.steps.at(-1)!.message, 'cannot reach 198.51.100.2: ENETUNREACH');
  assert.equal(r.steps.at(-1)!.step, 'ike-init');
});

test('a name that does not resolve fails the first step', async () => {
  const clock = new FakeClock();
  const d = new FakeDaemon(resolve(siteConfig({ remote: 'hq.invalid' })));
  const { t } = track(d, clock, { resolve: async () => { throw Object.assign(new Error('x'), { code: 'ENOTFOUND' }); } });
  const r = await t.run();
  assert.deepEqual(r.steps.map((s) => `${s.step}:${s.state}`), ['resolve:failed']);
  assert.equal(r.steps[0]!.message, 'cannot resolve hq.invalid: no such name (ENOTFOUND)');
});

test('watch on a tunnel that is already up, with health: probe skipped when nobody answers; MQTT connected', async () => {
  const clock = new FakeClock();
  const d = new FakeDaemon(resolve({ ...siteConfig(), health: { broker: 'mqtt://10.2.0.5:1883' } }));
  d.bringUp();
  const { t } = track(d, clock, { restarted: false, probe: async () => false });
  const done = t.run();
  await settle();
  await clock.advance(1500);
  d.health = { broker: null, connected: true, lastPublishSeconds: 1 };
  await clock.advance(500);
  const r = await done;
  assert.equal(r.ok, true);
  assert.deepEqual(r.steps.map((s) => `${s.step}:${s.state}`), ['resolve:ok', 'ike-init:ok', 'auth:ok', 'child:ok', 'probe:skipped', 'health:ok']);
  assert.match(r.steps[4]!.message, /no answer from 10\.2\.0\.1/);
  assert.equal(r.steps[5]!.message, 'MQTT connected to mqtt://10.2.0.5:1883');
});

test('health that does not connect fails its step, the tunnel still counts as up', async () => {
  const clock = new FakeClock();
  const d = new FakeDaemon(resolve({ ...siteConfig(), health: { broker: 'mqtt://10.2.0.5:1883' } }));
  d.bringUp();
  const { t } = track(d, clock, { restarted: false });
  const done = t.run();
  await settle();
  await clock.advance(10_000);
  const r = await done;
  assert.equal(r.ok, false);
  assert.equal(r.tunnelUp, true);
  assert.equal(r.steps.at(-1)!.step, 'health');
  assert.match(r.steps.at(-1)!.message, /not connected to mqtt:\/\/10\.2\.0\.5:1883 after 10 s/);
});

test('responder: no resolving, waits for HQ to connect', async () => {
  const clock = new FakeClock();
  const cfg = siteConfig({ remote: '%any' });
  const d = new FakeDaemon(resolve(cfg));
  const { t } = track(d, clock, { restarted: false });
  const done = t.run();
  await settle();
  d.bringUp();
  const r = await done;
  assert.equal(r.steps[0]!.state, 'skipped');
  assert.match(r.steps[0]!.message, /responder/);
  assert.equal(r.tunnelUp, true);
});

test('cancel stops following', async () => {
  const clock = new FakeClock();
  const d = new FakeDaemon(resolve(siteConfig()));
  const { t } = track(d, clock, { restarted: false });
  const done = t.run();
  await settle();
  t.cancel('stopped following');
  const r = await done;
  assert.equal(r.ok, false);
  assert.equal(r.cancelled, true);
  assert.equal(r.message, 'stopped following');
});

test('firstHost: the first address of a subnet', () => {
  assert.equal(firstHost('10.2.0.0/16'), '10.2.0.1');
  assert.equal(firstHost('10.2.0.9/32'), '10.2.0.9');
  assert.equal(firstHost('fd00:2::/64'), 'fd00:2::1');
  assert.equal(firstHost('nonsense'), undefined);
});
