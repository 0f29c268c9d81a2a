// The optional `board` section of the config file: a known profile is accepted, anything else is
// refused naming the field, with a did-you-mean; unknown keys inside it are still errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../../firmware/config/index.ts';

const BASE = {
  device: { id: 'branch-042' },
  lan: { interface: 'eth1', address: '10.1.0.1/24' },
  tunnel: { remote: 'hq.example.net', localId: 'branch-042.example.net', auth: { psk: 'a-long-random-pre-shared-key-0123' }, remoteSubnets: ['10.2.0.0/16'] },
  health: { broker: 'mqtt://fleet.example.net' },
};

test('board.profile: each known profile is accepted; the section may be empty or absent', () => {
  for (const profile of ['rpi4', 'rpi5', 'cm4', 'generic']) {
    const r = validateConfig({ ...BASE, board: { profile } });
    assert.ok(r.ok, profile);
    assert.deepEqual(r.config.board, { profile });
  }
  const empty = validateConfig({ ...BASE, board: {} });
  assert.ok(empty.ok);
  assert.deepEqual(empty.config.board, {});
  const none = validateConfig(BASE);
  assert.ok(none.ok);
  assert.equal(none.config.board, undefined);
});

test('board.profile: unknown profile, wrong type, unknown key, not an object', () => {
  const bad = (board: unknown) => {
    const r = validateConfig({ ...BASE, board });
    assert.equal(r.ok, false);
    return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
  };
  assert.match(bad({ profile: 'rpi3' }).join('\n'), /^board\.profile: "rpi3" is not a known board \(did you mean "rpi4"\?\); use one of rpi4, rpi5, cm4, generic/m);
  assert.match(bad({ profile: 4 }).join('\n'), /^board\.profile: expected a string/m);
  assert.match(bad({ profil: 'rpi4' }).join('\n'), /^board\.profil: unknown field \(did you mean "profile"\?\)/m);
  assert.match(bad('rpi4').join('\n'), /^board: expected an object/m);
});

test('unknown top-level keys are still refused, and board is among the known ones', () => {
  const r = validateConfig({ ...BASE, bord: { profile: 'rpi4' } });
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.errors.map((e) => `${e.path}: ${e.message}`).join('\n'), /^bord: unknown field \(did you mean "board"\?\); known fields here: device, lan, tunnel, health, console, board$/m);
});
