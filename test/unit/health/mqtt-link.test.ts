// How connection failures are put into words (the interop tests see them come from a broker).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeFailure } from '../../../firmware/health/mqtt-link.ts';

const err = (message: string, code?: unknown) => Object.assign(new Error(message), code === undefined ? {} : { code });

test('connection failures: refused credentials are "auth" and name the config fields', () => {
  for (const code of [4, 134]) assert.deepEqual(describeFailure(err('Connection refused: Bad username or password', code)), { kind: 'auth', reason: 'broker rejected the user name or password' });
  for (const code of [5, 135]) {
    const d = describeFailure(err('Connection refused: Not authorized', code));
    assert.equal(d.kind, 'auth');
    assert.match(d.reason, /health\.username and health\.password/);
  }
  assert.equal(describeFailure(err('Connection refused: Server unavailable', 3)).kind, 'protocol');
});

test('connection failures: TLS and network errors keep the system\'s words and code', () => {
  assert.deepEqual(describeFailure(err('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT')), { kind: 'tls', reason: 'TLS: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)' });
  assert.equal(describeFailure(err('unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE')).kind, 'tls');
  assert.equal(describeFailure(err("Hostname/IP does not match certificate's altnames", 'ERR_TLS_CERT_ALTNAME_INVALID')).kind, 'tls');
  assert.deepEqual(describeFailure(err('connect ECONNREFUSED 127.0.0.1:1883', 'ECONNREFUSED')), { kind: 'network', reason: 'connect ECONNREFUSED 127.0.0.1:1883 (ECONNREFUSED)' });
  assert.deepEqual(describeFailure(err('connack timeout')), { kind: 'network', reason: 'connack timeout' });
});
