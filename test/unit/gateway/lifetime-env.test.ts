// The soak's lab knobs: OUTPOST_CHILD_LIFETIME_SECONDS / OUTPOST_IKE_LIFETIME_SECONDS override the
// config's lifetimes (below the validator's minimums) and refuse malformed values loudly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lifetimeFromEnv } from '../../../firmware/gateway/policy-from-config.ts';

test('lifetime knobs: unset keeps the config, whole seconds override it, anything else throws naming the variable', () => {
  assert.equal(lifetimeFromEnv('OUTPOST_CHILD_LIFETIME_SECONDS', 3600, undefined), 3600);
  assert.equal(lifetimeFromEnv('OUTPOST_CHILD_LIFETIME_SECONDS', 3600, ''), 3600);
  assert.equal(lifetimeFromEnv('OUTPOST_CHILD_LIFETIME_SECONDS', 3600, '4'), 4);
  assert.equal(lifetimeFromEnv('OUTPOST_IKE_LIFETIME_SECONDS', 14400, '30'), 30);
  for (const bad of ['1', '0', '-5', '2.5', 'ten', '86401', '4s']) {
    assert.throws(() => lifetimeFromEnv('OUTPOST_CHILD_LIFETIME_SECONDS', 3600, bad), /OUTPOST_CHILD_LIFETIME_SECONDS="[^"]*": expected whole seconds/, bad);
  }
});
