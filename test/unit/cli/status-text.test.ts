import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanBytes, humanDuration, printable, statusText } from '../../../firmware/cli/status-text.ts';
import { downModel, upModel } from './fixtures.ts';

test('status text of an established tunnel (snapshot)', () => {
  assert.equal(statusText(upModel()), [
    'outpost branch-042, firmware 0.1.0, up 2d 3h',
    'hq: UP, IKEv2, 8a3b1c2d4e5f6071_i* 9182736455463728_r',
    "  local  'branch-042.example.net' @ 192.0.2.10[4500] (behind NAT)",
    "  remote 'hq.example.net' @ 198.51.100.1[4500]",
    '  AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519',
    '  established 3m 12s ago, rekeying in 3h 56m',
    '  net: INSTALLED, TUNNEL-in-UDP, ESP:AES_GCM_16-256',
    '    installed 3m 12s ago, rekeying in 56m 48s',
    '    in  c1a2b3c4, 1.2 MB (1234567 bytes), 1021 packets',
    '    out c5d6e7f8, 5.7 kB (5678 bytes), 1 packet',
    '    local  10.1.0.0/24',
    '    remote 10.2.0.0/16',
    '    drops: auth 1, replay 3',
    'health: mqtts://fleet.example.net:8883, connected, last report 12s ago',
    '',
  ].join('\n'));
});

test('status text of a tunnel that is down; peer text cannot inject terminal escapes', () => {
  const text = statusText(downModel());
  assert.equal(text, [
    'outpost branch-042, firmware 0.1.0, up 45s',
    'hq: DOWN, no IKE SA',
    '  local  -',
    '  remote [2001:db8::1][500]',
    '  last error (5m 0s ago): AUTHENTICATION_FAILED from peer \\x1b[31m',
    'health: mqtts://fleet.example.net:8883, NOT connected, no report sent yet',
    '',
  ].join('\n'));
  assert.ok(!text.includes('\u001b'));
});

test('responder role, ESN, no drops, no rekey, health off', () => {
  const m = upModel();
  m.tunnel.ikeSa!.role = 'responder';
  m.tunnel.ikeSa!.rekeySeconds = null;
  m.tunnel.childSas[0]!.esn = true;
  m.tunnel.childSas[0]!.drops = {};
  m.health = { broker: null, connected: false, lastPublishSeconds: null };
  const text = statusText(m);
  assert.match(text, /^hq: UP, IKEv2, 8a3b1c2d4e5f6071_i 9182736455463728_r\*$/m);
  assert.match(text, /^  established 3m 12s ago, no rekey scheduled$/m);
  assert.match(text, /^  net: INSTALLED, TUNNEL-in-UDP, ESP:AES_GCM_16-256, ESN$/m);
  assert.match(text, /^    drops: none$/m);
  assert.match(text, /^health: reporting off/m);
});

test('humanBytes', () => {
  assert.equal(humanBytes(0), '0 bytes');
  assert.equal(humanBytes(1), '1 byte');
  assert.equal(humanBytes(999), '999 bytes');
  assert.equal(humanBytes(1000), '1.0 kB (1000 bytes)');
  assert.equal(humanBytes(1234567), '1.2 MB (1234567 bytes)');
  assert.equal(humanBytes(999_999), '1.0 MB (999999 bytes)');
  assert.equal(humanBytes(5_000_000_000), '5.0 GB (5000000000 bytes)');
  assert.equal(humanBytes(2 ** 53), '9.0 PB (9007199254740992 bytes)');
  assert.equal(humanBytes(-1), '?');
  assert.equal(humanBytes(NaN), '?');
});

test('humanDuration', () => {
  assert.equal(humanDuration(0), '0s');
  assert.equal(humanDuration(59.9), '59s');
  assert.equal(humanDuration(192), '3m 12s');
  assert.equal(humanDuration(3600), '1h 0m');
  assert.equal(humanDuration(86399), '23h 59m');
  assert.equal(humanDuration(90061), '1d 1h');
  assert.equal(humanDuration(-5), '?');
});

test('printable escapes C0, DEL and C1 control characters', () => {
  assert.equal(printable('a\u0000b\u007fc\u009bd\ne'), 'a\\x00b\\x7fc\\x9bd\\x0ae');
  assert.equal(printable('héllo ✓'), 'héllo ✓');
});
