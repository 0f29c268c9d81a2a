// tunnel.auth { key, cert, ca[], crl[] } from files into a certificate policy: the good case
// through policyFromConfig, and each bad file giving an error that names the field and file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../../firmware/config/index.ts';
import type { ResolvedConfig } from '../../../firmware/config/schema.ts';
import { IdType } from '../../../firmware/ike/constants.ts';
import { policyFromConfig } from '../../../firmware/gateway/policy-from-config.ts';
import { loadCertAuth } from '../../../firmware/pki/load.ts';
import { toPem } from '../../../firmware/pki/x509.ts';
import { issue, issueCrl, makeKey } from './mini-ca.ts';

const DAY = 86400_000;

function files() {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-load-test-'));
  const ca = issue({ subject: 'C=CH, O=Example, CN=Site CA', ca: true });
  const inter = issue({ subject: 'C=CH, O=Example, CN=Branch CA', issuer: ca, ca: true });
  const keys = makeKey('ec-p256');
  const own = issue({ subject: 'C=CH, O=Example, CN=branch-042', issuer: inter, keys, san: { dns: ['branch-042.example.net'] } });
  const w = (name: string, data: string | Buffer, mode = 0o600) => { const p = join(dir, name); writeFileSync(p, data, { mode }); chmodSync(p, mode); return p; };
  return {
    dir, ca, keys, own,
    key: w('box.key', keys.privateKey.export({ type: 'sec1', format: 'pem' }) as string),
    cert: w('box.pem', toPem(own.der, 'CERTIFICATE') + toPem(inter.der, 'CERTIFICATE'), 0o644),
    caFile: w('ca.pem', toPem(ca.der, 'CERTIFICATE'), 0o644),
    crl: w('crl.pem', toPem(issueCrl({ issuer: ca, revoked: [{ serial: 77 }] }), 'X509 CRL'), 0o644),
    w,
  };
}

test('a certificate config becomes a cert policy: chain, CAs, CRLs, and a DN localId sent as the certificate encodes it', () => {
  const f = files();
  try {
    const raw = {
      device: { id: 'branch-042' }, lan: { interface: 'eth1', address: '10.1.0.1/24' },
      tunnel: { remote: 'hq.example.net', localId: 'branch-042.example.net', auth: { key: f.key, cert: f.cert, ca: [f.caFile], crl: [f.crl] }, remoteSubnets: ['10.2.0.0/16'] },
    };
    const v = validateConfig(raw);
    assert.ok(v.ok, JSON.stringify(v));
    const p = policyFromConfig((v as { config: ResolvedConfig }).config);
    assert.equal(p.auth?.kind, 'cert');
    assert.equal(p.psk, undefined);
    if (p.auth?.kind !== 'cert') return;
    assert.equal(p.auth.chain.length, 2, 'end certificate and intermediate from one file');
    assert.deepEqual(p.auth.chain[0], f.own.der);
    assert.equal(p.auth.cas.length, 1);
    assert.equal(p.auth.crls.length, 1);
    assert.equal(p.localId.idType, IdType.FQDN);

    const dn = loadCertAuth({ key: f.key, cert: f.cert, ca: [f.caFile], crl: [] }, 'c=ch, o=example, cn=BRANCH-042');
    assert.equal(dn.localId.idType, IdType.DER_ASN1_DN);
    assert.deepEqual(dn.localId.data, dn.own.subjectDer, 'the certificate\'s own DN bytes');
    assert.deepEqual(dn.warnings, []);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('each bad credential file is an error naming the field and the file', () => {
  const f = files();
  try {
    const base = { key: f.key, cert: f.cert, ca: [f.caFile], crl: [] as string[] };
    const fails = (a: Partial<typeof base>, id: string, re: RegExp) => assert.throws(() => loadCertAuth({ ...base, ...a }, id), re);
    fails({ key: join(f.dir, 'nope.key') }, 'branch-042.example.net', /tunnel\.auth\.key: .*nope\.key: cannot read it \(ENOENT\)/);
    fails({ key: f.caFile }, 'branch-042.example.net', /tunnel\.auth\.key: .*ca\.pem: not a private key/);
    fails({ key: f.w('enc.key', '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n') }, 'x', /tunnel\.auth\.key: .*enc\.key: the key is encrypted/);
    fails({ key: f.w('other.key', makeKey('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string) }, 'branch-042.example.net', /tunnel\.auth\.cert: .*box\.pem: certificate "C=CH, O=Example, CN=branch-042" does not belong to the private key in tunnel\.auth\.key/);
    fails({ cert: f.w('empty.pem', 'nothing here\n') }, 'x', /tunnel\.auth\.cert: .*empty\.pem: holds no certificate/);
    fails({ ca: [f.caFile, f.w('garbage.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')] }, 'x', /tunnel\.auth\.ca\[1\]: .*garbage\.pem: malformed certificate data/);
    fails({ crl: [f.caFile] }, 'x', /tunnel\.auth\.crl\[0\]: .*ca\.pem: holds no CRL/);
    fails({ ca: [] }, 'x', /tunnel\.auth\.ca: /);
    fails({}, 'branch-043.example.net', /tunnel\.localId: branch-043\.example\.net: is not in the certificate .*box\.pem \(it holds DN "C=CH, O=Example, CN=branch-042"; DNS branch-042\.example\.net\)/);
    fails({}, 'CN=x, XX=1', /tunnel\.localId: /);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('softer problems are warnings: a readable key file, an expired own certificate, a stale CRL', () => {
  const f = files();
  try {
    chmodSync(f.key, 0o644);
    const stale = f.w('stale.crl', toPem(issueCrl({ issuer: f.ca, revoked: [], thisUpdate: new Date(Date.now() - 40 * DAY), nextUpdate: new Date(Date.now() - 10 * DAY) }), 'X509 CRL'));
    const r = loadCertAuth({ key: f.key, cert: f.cert, ca: [f.caFile], crl: [stale] }, 'branch-042.example.net', () => Date.now() + 2 * 365 * DAY);
    const w = r.warnings.join('\n');
    assert.match(w, /tunnel\.auth\.key: .* can be read by other users; make it mode 0600/);
    assert.match(w, /tunnel\.auth\.cert: .* expired on /);
    assert.match(w, /tunnel\.auth\.crl\[0\]: .* was due for an update/);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});
