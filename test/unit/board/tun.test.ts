// The TUN wrapper without privileges: the addon loads, and errors have the documented shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { requireEnv } from '../../lib/netns.ts';
import { loadTunAddon, tunAddonCandidates, TunDevice, TunError, TUN_BATCH_MAX } from '../../../board/tun/index.ts';

const built = () => tunAddonCandidates().find(existsSync) ?? tunAddonCandidates().at(-1)!;

test('TUN addon: looked for next to the bundle, then in the node-gyp output', () => {
  const [bundled, dev] = tunAddonCandidates();
  assert.match(bundled!, /\/board\/tun\/outpost_tun\.node$/);
  assert.match(dev!, /\/board\/tun\/build\/Release\/outpost_tun\.node$/);
});

test('TUN addon: loads and exposes the device class', (t) => {
  if (!requireEnv(t, { files: [built()] })) return;
  const addon = loadTunAddon();
  assert.equal(typeof addon.Tun, 'function');
  assert.equal(addon.BATCH_MAX, TUN_BATCH_MAX);
  assert.equal(loadTunAddon(), addon, 'loaded once');
});

test('TunError: a name the kernel would truncate is refused before any system call', (t) => {
  if (!requireEnv(t, { files: [built()] })) return;
  const name = 'x'.repeat(16);
  assert.throws(() => TunDevice.open({ name }), (e: unknown) => {
    assert.ok(e instanceof TunError);
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'TunError');
    assert.equal(e.errno, 22);
    assert.equal(e.code, 'EINVAL');
    assert.equal(e.op, 'name');
    assert.equal(e.message, `interface name "${name}" is too long (16 bytes): Linux allows at most 15`);
    return true;
  });
  // 15 ASCII characters fit, but not 15 characters of two bytes each.
  assert.throws(() => TunDevice.open({ name: 'é'.repeat(8) }), /too long \(16 bytes\)/);
  assert.throws(() => TunDevice.open({ name: 'a\u0000b' }), (e: unknown) =>
    e instanceof TunError && e.op === 'name' && /contains a NUL/.test(e.message));
});

test('TunDevice.open: a bad MTU is a RangeError, not a system call', () => {
  for (const mtu of [-1, 1.5, NaN, 2 ** 31]) assert.throws(() => TunDevice.open({ mtu }), RangeError);
});
