// Keys made on the box (0600 PKCS#8 files), PKCS#10 requests (parsed back, signature checked by
// @noble/curves, subject and SAN right for each identity type), importing the certificate the
// CA returns (checked against the key, the CA, the identity), and the `outpost key|csr|cert`
// commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { AsnParser } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { createCsr, csrPem, parseCsr } from '../../../firmware/pki/csr.ts';
import { KeyFileExistsError, generateKeyFile, generatePrivateKey } from '../../../firmware/pki/keys.ts';
import { ImportError, checkCertificateImport, importCertificateFiles } from '../../../firmware/pki/cert-tools.ts';
import { runPkiCommand } from '../../../firmware/pki/cli.ts';
import { toPem } from '../../../firmware/pki/x509.ts';
import { KU } from '../../../firmware/pki/x509.ts';
import { issue, makeKey } from './mini-ca.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'outpost-pki-test-'));
const DAY = 86400_000;

test('generated keys are PKCS#8 PEM files of mode 0600, whatever the umask; existing keys are kept unless forced', () => {
  const dir = tmp();
  const old = process.umask(0o000);
  try {
    for (const type of ['ed25519', 'ecdsa-p256'] as const) {
      const path = join(dir, `${type}.key`);
      const k = generateKeyFile(path, type);
      assert.equal(statSync(path).mode & 0o777, 0o600, `${type} key file mode`);
      const text = readFileSync(path, 'utf8');
      assert.match(text, /^-----BEGIN PRIVATE KEY-----\n/);
      const back = createPrivateKey(text);
      assert.equal(back.asymmetricKeyType, type === 'ed25519' ? 'ed25519' : 'ec');
      if (type === 'ecdsa-p256') assert.equal(back.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      assert.equal(k.publicKeyId, createHash('sha256').update(createPublicKey(back).export({ type: 'spki', format: 'der' })).digest('hex'));
      assert.throws(() => generateKeyFile(path, type), KeyFileExistsError);
      assert.equal(readFileSync(path, 'utf8'), text, 'the old key is untouched');
      generateKeyFile(path, type, { force: true });
      assert.notEqual(readFileSync(path, 'utf8'), text);
      assert.equal(statSync(path).mode & 0o777, 0o600);
    }
  } finally {
    process.umask(old);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CSR round trip: subject CN and SAN per identity type, signature verified by @noble/curves', () => {
  const cases: [string, string, (s: ReturnType<typeof parseCsr>['san']) => void][] = [
    ['branch-042.example.net', 'CN=branch-042.example.net', (s) => assert.deepEqual(s.dns, ['branch-042.example.net'])],
    ['branch-042@example.net', 'CN=branch-042@example.net', (s) => assert.deepEqual(s.email, ['branch-042@example.net'])],
    ['198.51.100.1', 'CN=198.51.100.1', (s) => assert.deepEqual(s.ip, [Buffer.from([198, 51, 100, 1])])],
    ['2001:db8::42', 'CN=2001:db8::42', (s) => assert.equal(s.ip[0]?.toString('hex'), '20010db8000000000000000000000042')],
    ['C=CH, O=Example, CN=branch-042', 'C=CH, O=Example, CN=branch-042', (s) => assert.deepEqual(s, { dns: [], email: [], ip: [], dn: [] })],
  ];
  for (const type of ['ecdsa-p256', 'ed25519'] as const) {
    const key = generatePrivateKey(type);
    for (const [id, subject, checkSan] of cases) {
      const der = createCsr(key, id);
      const info = parseCsr(Buffer.from(csrPem(der)));
      assert.equal(info.subject, subject);
      checkSan(info.san);
      assert.ok(info.signatureValid, `${type} ${id}: signature verifies`);
      assert.deepEqual(info.publicKey.export({ type: 'spki', format: 'der' }), createPublicKey(key).export({ type: 'spki', format: 'der' }));
      // Independent check of the proof of possession.
      const req = AsnParser.parse(der, CertificationRequest);
      const tbs = new Uint8Array(req.certificationRequestInfoRaw!);
      const sig = new Uint8Array(req.signature);
      const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
      if (type === 'ed25519') {
        assert.equal(info.signatureAlgorithm, 'Ed25519');
        assert.ok(ed25519.verify(sig, tbs, spki.subarray(-32)));
      } else {
        assert.equal(info.signatureAlgorithm, 'ecdsa-with-SHA256');
        assert.ok(p256.verify(sig, tbs, spki.subarray(-65), { format: 'der', lowS: false }));
      }
    }
  }
  // A request altered after signing no longer verifies.
  const der = createCsr(generatePrivateKey('ecdsa-p256'), 'branch.example.net');
  const t = Buffer.from(der);
  t[t.indexOf(Buffer.from('branch'))] = 'B'.charCodeAt(0);
  assert.equal(parseCsr(t).signatureValid, false);
  assert.throws(() => createCsr(makeKey('rsa2048').privateKey, 'x.example.net'), /Ed25519 or ECDSA P-256/);
});

test('certificate import: checked against the key, the CA, validity, keyUsage and the identity', () => {
  const ca = issue({ subject: 'CN=Site CA', ca: true });
  const other = issue({ subject: 'CN=Other CA', ca: true });
  const key = generatePrivateKey('ecdsa-p256');
  const keys = { privateKey: key, publicKey: createPublicKey(key) };
  const cert = (o: Partial<Parameters<typeof issue>[0]> = {}) => Buffer.from(toPem(issue({ subject: 'CN=branch.example.net', issuer: ca, keys, san: { dns: ['branch.example.net'] }, ...o }).der, 'CERTIFICATE'));
  const caPem = Buffer.from(toPem(ca.der, 'CERTIFICATE'));

  const ok = checkCertificateImport({ cert: cert(), key, ca: caPem, localId: 'branch.example.net' });
  assert.equal(ok.info.subject, 'CN=branch.example.net');
  assert.equal(ok.ca, 'CN=Site CA');
  assert.match(ok.info.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.match(ok.pem, /^-----BEGIN CERTIFICATE-----/);

  const fails = (o: Parameters<typeof checkCertificateImport>[0], re: RegExp) => assert.throws(() => checkCertificateImport(o), (e: unknown) => e instanceof ImportError && re.test(e.message));
  fails({ cert: cert(), key: generatePrivateKey('ecdsa-p256') }, /is not for this key/);
  fails({ cert: cert({ issuer: other }), key, ca: caPem }, /checked against the CA: unknown CA/);
  fails({ cert: cert({ notBefore: new Date(Date.now() - 9 * DAY), notAfter: new Date(Date.now() - DAY) }), key }, /expired on/);
  fails({ cert: cert({ keyUsage: KU.keyEncipherment }), key }, /digital signatures/);
  fails({ cert: cert(), key, localId: 'branch-043.example.net' }, /does not hold the identity "branch-043\.example\.net"/);
  fails({ cert: Buffer.from('hello'), key }, /no certificate/);
  const future = checkCertificateImport({ cert: cert({ notBefore: new Date(Date.now() + DAY) }), key });
  assert.match(future.warnings.join(), /valid only from/);
});

test('outpost key generate | csr | cert import | cert show, as the console and CLI run them', async () => {
  const dir = tmp();
  try {
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } };
    const run = (...argv: string[]) => { out.length = 0; err.length = 0; return runPkiCommand(argv, io); };
    const keyPath = join(dir, 'box.key');
    assert.equal(await run('key', 'generate', '--type', 'ed25519', '--out', keyPath), 0);
    assert.match(out.join(''), /ed25519 key written to .*box\.key \(mode 0600\)/);
    assert.equal(statSync(keyPath).mode & 0o777, 0o600);
    assert.equal(await run('key', 'generate', '--type', 'ed25519', '--out', keyPath), 1);
    assert.match(err.join(''), /exists; pass --force/);
    assert.equal(await run('key', 'generate', '--type', 'rsa', '--out', keyPath), 2);

    assert.equal(await run('csr', '--key', keyPath, '--id', 'branch.example.net'), 0);
    const csr = out.join('');
    assert.match(csr, /^-----BEGIN CERTIFICATE REQUEST-----/);
    assert.ok(parseCsr(Buffer.from(csr)).signatureValid);

    // The CA signs it (here: the test CA, with the public key from the request).
    const ca = issue({ subject: 'CN=Site CA', ca: true });
    const pub = parseCsr(Buffer.from(csr)).publicKey;
    const signed = issue({ subject: 'CN=branch.example.net', issuer: ca, keys: { publicKey: pub, privateKey: createPrivateKey(readFileSync(keyPath)) }, san: { dns: ['branch.example.net'] } });
    const certPath = join(dir, 'box.pem');
    const caPath = join(dir, 'ca.pem');
    writeFileSync(certPath, toPem(signed.der, 'CERTIFICATE'));
    writeFileSync(caPath, toPem(ca.der, 'CERTIFICATE'));
    const installed = join(dir, 'installed.pem');
    assert.equal(await run('cert', 'import', '--cert', certPath, '--key', keyPath, '--ca', caPath, '--id', 'branch.example.net', '--out', installed), 0, err.join(''));
    assert.match(out.join(''), /OK: the certificate belongs to the key and chains to CA "CN=Site CA"; written to/);
    assert.equal(readFileSync(installed, 'utf8'), toPem(signed.der, 'CERTIFICATE'));
    assert.equal(await run('cert', 'import', '--cert', caPath, '--key', keyPath), 1);
    assert.match(err.join(''), /is not for this key/);

    assert.equal(await run('cert', 'show', certPath), 0);
    const shown = out.join('');
    assert.match(shown, /^subject: +CN=branch\.example\.net$/m);
    assert.match(shown, /^issuer: +CN=Site CA$/m);
    assert.match(shown, /^validity: +\d{4}-\d\d-\d\dT\S+Z \.\. \d{4}-\d\d-\d\dT\S+Z \(\d+ days left\)$/m);
    assert.match(shown, /^fingerprint: SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$/m);
    assert.match(shown, /^key: +Ed25519$/m);
    assert.equal(await run('cert', 'show'), 2);
    assert.equal(await run('cert', 'show', join(dir, 'missing.pem')), 1);
    assert.equal(await run('csr', '--key', keyPath), 2);
    // The private key never appears in any output.
    const keyBody = readFileSync(keyPath, 'utf8').split('\n')[1]!;
    assert.ok(!shown.includes(keyBody) && !csr.includes(keyBody));
    void importCertificateFiles;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
