// The staged candidate: per-field checks on set, notes about other fields, auth switching,
// site loading that keeps secrets, diffs that never show a secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Candidate, diffConfigs } from '../../../provisioning/candidate.ts';
import { ConsoleError } from '../../../provisioning/errors.ts';
import { fieldSpec, parseHumanValue, requireField, checkJsonValue, FIELDS } from '../../../provisioning/fields.ts';
import { validateConfig } from '../../../firmware/config/validate.ts';
import { PSK, siteConfig } from './helpers.ts';

const f = (p: string) => requireField(p);

function rejects(fn: () => unknown, code: string, re?: RegExp): ConsoleError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConsoleError, String(e));
    assert.equal(e.code, code);
    if (re) assert.match(e.message, re);
    return e;
  }
  assert.fail('expected an error');
}

test('every field of the table is a real config field the validator knows', () => {
  const cfg = siteConfig();
  for (const spec of FIELDS) {
    const c = new Candidate(cfg);
    const v = spec.type === 'int' ? 30 : spec.type === 'list' ? ['/x'] : 'x';
    try {
      c.set(spec, v);
    } catch (e) {
      // refused values are fine; unknown-field errors from the validator are not
      assert.ok(!/unknown field/.test((e as Error).message), `${spec.path}: ${(e as Error).message}`);
    }
  }
});

test('a valid set changes the candidate only; diff shows it', () => {
  const c = new Candidate(siteConfig());
  assert.equal(c.dirty, false);
  c.set(f('tunnel.remote'), 'hq.example.net');
  assert.equal(c.dirty, true);
  assert.equal((c.running.tunnel as { remote: string }).remote, '198.51.100.2');
  assert.deepEqual(c.diff(), [{ field: 'tunnel.remote', change: 'changed', old: '198.51.100.2', new: 'hq.example.net' }]);
});

test('an invalid value is refused with the field and reason; the candidate keeps the old value', () => {
  const c = new Candidate(siteConfig());
  const e = rejects(() => c.set(f('tunnel.remoteSubnets'), ['10.2.0.1/16']), 'invalid', /tunnel\.remoteSubnets\[0\].*host bits/);
  assert.equal(e.extra.field, 'tunnel.remoteSubnets');
  rejects(() => c.set(f('lan.address'), '10.1.0.0/24'), 'invalid', /network address/);
  rejects(() => c.set(f('tunnel.dpdSeconds'), 2), 'invalid', /out of range/);
  assert.equal(c.dirty, false);
});

test('a refused secret never appears in the error', () => {
  const c = new Candidate(siteConfig());
  const e = rejects(() => c.set(f('tunnel.auth.psk'), 'short77'), 'invalid', /shorter than 8/);
  assert.ok(!e.message.includes('short77'));
  const e2 = rejects(() => checkJsonValue(f('tunnel.auth.psk'), 12345678), 'invalid');
  assert.ok(!e2.message.includes('12345678'));
});

test('changes that break another field are accepted with a note naming that field', () => {
  const c = new Candidate(siteConfig());
  const r = c.set(f('tunnel.remote'), '%any');
  assert.deepEqual(r.notes, []); // remoteId is set, so nothing else breaks
  c.unset('tunnel.remoteId');
  const v = c.validate();
  assert.equal(v.ok, false);
  assert.ok(!v.ok && v.errors.some((i) => i.path === 'tunnel.remoteId'));
});

test('setting certificate fields removes the PSK, and setting a PSK removes them', () => {
  const c = new Candidate(siteConfig());
  const r = c.set(f('tunnel.auth.cert'), '/etc/outpost/branch.crt');
  assert.deepEqual(r.removed, ['tunnel.auth.psk']);
  assert.ok(r.notes.some((i) => i.path === 'tunnel.auth.key'), JSON.stringify(r.notes));
  c.set(f('tunnel.auth.key'), '/etc/outpost/branch.key');
  c.set(f('tunnel.auth.ca'), ['/etc/outpost/ca.crt']);
  assert.equal(c.validate().ok, true);
  const back = c.set(f('tunnel.auth.psk'), PSK);
  assert.deepEqual(back.removed.sort(), ['tunnel.auth.ca', 'tunnel.auth.cert', 'tunnel.auth.key']);
  assert.equal(c.dirty, false);
});

test('unset: optional fields and sections only', () => {
  const c = new Candidate({ ...siteConfig(), health: { broker: 'mqtt://10.9.0.1' } });
  rejects(() => c.unset('tunnel.remote'), 'usage', /required/);
  rejects(() => c.unset('tunnel.dpdSeconds'), 'usage', /not set/);
  rejects(() => c.unset('tunnel.nope'), 'unknown-field');
  c.unset('health');
  assert.equal(c.value.health, undefined);
  assert.equal(c.validate().ok, true);
});

test('unknown fields get a did-you-mean', () => {
  rejects(() => requireField('tunnel.remot'), 'unknown-field', /did you mean "tunnel\.remote"/);
});

test('human values: words and commas for lists, JSON arrays, digits for numbers', () => {
  assert.deepEqual(parseHumanValue(f('tunnel.remoteSubnets'), ['10.2.0.0/16,', '10.3.0.0/16']), ['10.2.0.0/16', '10.3.0.0/16']);
  assert.deepEqual(parseHumanValue(f('tunnel.remoteSubnets'), ['["10.2.0.0/16",', '"10.4.0.0/16"]']), ['10.2.0.0/16', '10.4.0.0/16']);
  assert.equal(parseHumanValue(f('tunnel.dpdSeconds'), ['45']), 45);
  rejects(() => parseHumanValue(f('tunnel.dpdSeconds'), ['4x']), 'invalid', /whole number/);
  assert.equal(parseHumanValue(f('tunnel.localId'), ['CN=a,', 'O=b']), 'CN=a, O=b');
  assert.equal(fieldSpec('tunnel.auth.psk')?.secret, true);
});

test('load: sections replace, absent ones stay, "<secret>" keeps the box\'s secret, invalid loads change nothing', () => {
  const running = { ...siteConfig(), console: { path: '/dev/ttyAMA0' } };
  const c = new Candidate(running);
  const site = siteConfig({ id: 'branch-777', remote: '203.0.113.9' });
  (site.tunnel as { auth: { psk: string } }).auth.psk = '<secret>';
  const r = c.load(site);
  assert.deepEqual(r.sections, ['device', 'lan', 'tunnel']);
  const v = c.value as { console: unknown; tunnel: { auth: { psk: string }; remote: string } };
  assert.deepEqual(v.console, { path: '/dev/ttyAMA0' });
  assert.equal(v.tunnel.auth.psk, PSK);
  assert.equal(v.tunnel.remote, '203.0.113.9');

  const before = c.value;
  const bad = rejects(() => c.load({ device: { id: 'a/b' }, tunnel: { remote: 'x y' } }), 'invalid', /nothing was loaded/);
  assert.ok((bad.extra.issues ?? []).some((i) => i.path === 'device.id'));
  rejects(() => c.load({ devise: {} }), 'invalid', /did you mean "device"/);
  rejects(() => c.load([1, 2]), 'invalid');
  rejects(() => c.load(JSON.parse('{"__proto__": {"x": 1}}')), 'invalid', /unknown section/);
  assert.deepEqual(c.value, before);
});

test('diffs mark changed secrets without showing them (PEM material too)', () => {
  const a = siteConfig();
  const b = siteConfig({ psk: 'another-long-secret-value-123' });
  const d = diffConfigs(a, b);
  assert.deepEqual(d, [{ field: 'tunnel.auth.psk', change: 'changed', old: '<secret>', new: '<secret>' }]);
  assert.ok(!JSON.stringify(d).includes('another-long'));
  const c = diffConfigs(a, { ...a, health: { broker: 'mqtt://10.0.0.1', password: 'pw-123456' } });
  assert.ok(!JSON.stringify(c).includes('pw-123456'));
  assert.deepEqual(c.map((x) => x.field), ['health.broker', 'health.password']);
});

test('the test site config is valid (sanity)', () => {
  assert.equal(validateConfig(siteConfig()).ok, true);
});
