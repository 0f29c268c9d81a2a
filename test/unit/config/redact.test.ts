import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactConfig } from '../../../firmware/config/redact.ts';
import { validateConfig } from '../../../firmware/config/validate.ts';
import { exampleConfig } from './fixtures.ts';

test('redactConfig hides the PSK and passwords, keeps everything else, does not mutate', () => {
  const c = exampleConfig();
  c.health.username = 'box42';
  c.health.password = 'broker-password-123';
  const r = validateConfig(c);
  assert.ok(r.ok);
  if (!r.ok) return;
  const shown = redactConfig(r.config);
  const text = JSON.stringify(shown);
  assert.ok(!text.includes('correct-horse'));
  assert.ok(!text.includes('broker-password'));
  assert.equal((shown.tunnel.auth as { psk: string }).psk, '<secret>');
  assert.equal(shown.health?.password, '<secret>');
  assert.equal(shown.health?.username, 'box42');
  assert.deepEqual(shown.tunnel.remoteSubnets, ['10.2.0.0/16']);
  assert.equal((r.config.tunnel.auth as { psk: string }).psk, 'correct-horse-battery-staple-42', 'the original is unchanged');
});

test('redactConfig hides inline key material anywhere, even in an invalid config', () => {
  const pem = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg\n-----END EC PRIVATE KEY-----\n';
  const c = { tunnel: { auth: { key: pem, cert: '/etc/outpost/b.crt' }, oops: [pem] }, __proto__x: 1 };
  const shown = redactConfig(c);
  assert.equal(shown.tunnel.auth.key, '<secret>');
  assert.equal(shown.tunnel.oops[0], '<secret>');
  assert.equal(shown.tunnel.auth.cert, '/etc/outpost/b.crt');
});
