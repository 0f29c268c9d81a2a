// Our certificate's expiry: the status model's `certificate`, its text line, and the warning
// log well before the day.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CertExpiryWatch, certificateStatus } from '../../../firmware/pki/expiry.ts';
import { certificateLine } from '../../../firmware/cli/status-text.ts';
import { parseCertificate } from '../../../firmware/pki/x509.ts';
import type { Fields, Logger } from '../../../firmware/log.ts';
import { issue } from './mini-ca.ts';

const DAY = 86400_000;
const notAfter = new Date('2027-03-01T12:00:00Z');
const cert = parseCertificate(issue({ subject: 'C=CH, CN=branch-042.example.net', notBefore: new Date('2026-01-01T00:00:00Z'), notAfter }).der);

function recorder(): { log: Logger; lines: { level: string; event: string; fields?: Fields }[] } {
  const lines: { level: string; event: string; fields?: Fields }[] = [];
  const log: Logger = {
    debug: (event, fields) => lines.push({ level: 'debug', event, ...(fields ? { fields } : {}) }),
    info: (event, fields) => lines.push({ level: 'info', event, ...(fields ? { fields } : {}) }),
    warn: (event, fields) => lines.push({ level: 'warn', event, ...(fields ? { fields } : {}) }),
    error: (event, fields) => lines.push({ level: 'error', event, ...(fields ? { fields } : {}) }),
    child: () => log,
  };
  return { log, lines };
}

test('certificate status: subject, notAfter, whole days left (negative once expired)', () => {
  assert.deepEqual(certificateStatus(cert, notAfter.getTime() - 100 * DAY - 1000), { subject: 'C=CH, CN=branch-042.example.net', issuer: 'C=CH, CN=branch-042.example.net', notAfter: '2027-03-01T12:00:00Z', daysLeft: 100 });
  assert.equal(certificateStatus(cert, notAfter.getTime() + DAY + 1).daysLeft, -2);
});

test('the watch is quiet while far off, warns within 30 days, errors once expired', () => {
  let now = notAfter.getTime() - 45 * DAY;
  const r = recorder();
  const w = new CertExpiryWatch(cert, { now: () => now, log: r.log });
  assert.equal(w.check(), 'ok');
  assert.equal(r.lines.length, 0);
  now = notAfter.getTime() - 29 * DAY;
  assert.equal(w.check(), 'expiring');
  assert.deepEqual(r.lines.at(-1)?.level, 'warn');
  assert.equal(r.lines.at(-1)?.event, 'certificate-expiring');
  assert.equal(r.lines.at(-1)?.fields?.days_left, 29);
  now = notAfter.getTime() + 1000;
  assert.equal(w.check(), 'expired');
  assert.equal(r.lines.at(-1)?.level, 'error');
  assert.equal(r.lines.at(-1)?.event, 'certificate-expired');
  // start() checks at once; stop() leaves no timer behind.
  const r2 = recorder();
  new CertExpiryWatch(cert, { now: () => notAfter.getTime() - 3 * DAY, log: r2.log }).start().stop();
  assert.equal(r2.lines[0]?.event, 'certificate-expiring');
});

test('status text: the certificate line, with a warning within 30 days and EXPIRED after', () => {
  const base = { subject: 'C=CH, CN=branch-042', issuer: 'CN=Site CA', notAfter: '2027-03-01T12:00:00Z' };
  assert.equal(certificateLine({ ...base, daysLeft: 120 }), "certificate: 'C=CH, CN=branch-042' issued by 'CN=Site CA', expires 2027-03-01 (120 days left)");
  assert.equal(certificateLine({ ...base, daysLeft: 12 }), "certificate: 'C=CH, CN=branch-042' issued by 'CN=Site CA', expires 2027-03-01 (WARNING: 12 days left)");
  assert.equal(certificateLine({ ...base, daysLeft: -3 }), "certificate: 'C=CH, CN=branch-042' issued by 'CN=Site CA', EXPIRED on 2027-03-01");
  assert.match(certificateLine({ ...base, subject: 'CN=\u001b[31mred', daysLeft: 1 }), /CN=\\x1b\[31mred/);
});
