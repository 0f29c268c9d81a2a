// Certificate expiry checks on certificates made with openssl in a temp dir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certFiles, findExpiring, parsePemCertificates } from '../../../firmware/health/cert-expiry.ts';
import { requireEnv } from '../../lib/netns.ts';

function makeCert(dir: string, name: string, days: number): string {
  const crt = join(dir, `${name}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, `${name}.key`),
    '-out', crt, '-days', String(days), '-subj', `/CN=${name}`], { stdio: 'pipe' });
  return crt;
}

test('certificate expiry: certificates within the warning window are found, with days left', async (t) => {
  if (!requireEnv(t, { cmds: ['openssl'] })) return;
  const d = mkdtempSync(join(tmpdir(), 'outpost-certs-'));
  try {
    const soon = makeCert(d, 'soon', 10);
    const later = makeCert(d, 'later', 365);
    const bundle = join(d, 'bundle.pem');
    writeFileSync(bundle, readFileSync(later, 'utf8') + 'junk\n-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n' + readFileSync(soon, 'utf8'));
    assert.equal(parsePemCertificates(readFileSync(bundle, 'utf8')).length, 2, 'the bad block is skipped');
    const now = Date.now();
    const found = await findExpiring([soon, later, bundle, join(d, 'missing.crt')], now, 30);
    assert.deepEqual(found.map((c) => [c.file, c.subject, c.daysLeft]), [[soon, 'CN=soon', 9], [bundle, 'CN=soon', 9]]);
    // 400 days on, both have expired: negative days left.
    const future = await findExpiring([later], now + 400 * 86_400_000, 30);
    assert.equal(future.length, 1);
    assert.ok(future[0]!.daysLeft < 0);
  } finally {
    rmSync(d, { recursive: true });
  }
});

test('certificate expiry: the files come from the tunnel (cert auth) and health sections, once each', () => {
  const tunnel = (auth: object) => ({ auth }) as never;
  assert.deepEqual(certFiles({ tunnel: tunnel({ psk: 'x' }), health: { broker: 'mqtts://h', intervalSeconds: 30, ca: '/c/ca.pem' } }), ['/c/ca.pem']);
  assert.deepEqual(certFiles({
    tunnel: tunnel({ key: '/k', cert: '/c/me.pem', ca: ['/c/ca.pem', '/c/ca2.pem'], crl: [] }),
    health: { broker: 'mqtts://h', intervalSeconds: 30, ca: '/c/ca.pem', cert: '/c/mqtt.pem', key: '/k2' },
  }), ['/c/me.pem', '/c/ca.pem', '/c/ca2.pem', '/c/mqtt.pem']);
  assert.deepEqual(certFiles({ tunnel: tunnel({ psk: 'x' }) }), []);
});
