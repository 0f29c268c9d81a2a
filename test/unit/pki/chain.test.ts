// Path validation of the peer's certificate: good chains (direct, intermediate, pinned, mixed
// key types), and each refusal with its reason: expired, not yet valid, unknown CA, tampered
// signature, revoked by CRL, keyUsage without digitalSignature, non-CA intermediate, pathLen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateChain, type TrustStore } from '../../../firmware/pki/chain.ts';
import { parseCrl } from '../../../firmware/pki/crl.ts';
import { CertAuthError } from '../../../firmware/pki/errors.ts';
import { KU, parseCertificate } from '../../../firmware/pki/x509.ts';
import { certSerial, issue, issueCrl, makeKey } from './mini-ca.ts';

const DAY = 86400_000;
const now = new Date();
const CA_KU = KU.keyCertSign | KU.cRLSign;
const root = issue({ subject: 'C=CH, O=Outpost Test, CN=Root CA', ca: true, keyUsage: CA_KU });
const other = issue({ subject: 'C=CH, O=Elsewhere, CN=Other CA', ca: true, keyUsage: CA_KU });
const inter = issue({ subject: 'C=CH, O=Outpost Test, CN=Intermediate CA', issuer: root, ca: true, keyUsage: CA_KU });
const hq = (o: Partial<Parameters<typeof issue>[0]> = {}) => issue({ subject: 'C=CH, O=Outpost Test, CN=hq.example.net', issuer: root, san: { dns: ['hq.example.net'] }, keyUsage: KU.digitalSignature, ...o });

const store = (anchors = [root], crls: Buffer[] = []): TrustStore => ({ anchors: anchors.map((a) => parseCertificate(a.der)), crls: crls.map((c) => parseCrl(c)) });
const refusedWith = (reason: string, text?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof CertAuthError, `CertAuthError, got ${String(e)}`);
  assert.equal(e.reason, reason, e.message);
  if (text) assert.match(e.message, text);
  return true;
};

test('a certificate issued by the configured CA validates', () => {
  const v = validateChain(hq().der, [], store(), now);
  assert.equal(v.end.subject, 'C=CH, O=Outpost Test, CN=hq.example.net');
  assert.equal(v.anchor.subject, 'C=CH, O=Outpost Test, CN=Root CA');
  assert.equal(v.path.length, 1);
});

test('mixed key types along the chain: RSA root, Ed25519 and P-384 end certificates', () => {
  const rsaRoot = issue({ subject: 'CN=RSA Root', keys: makeKey('rsa2048'), ca: true });
  for (const kind of ['ed25519', 'ec-p384', 'rsa2048'] as const) {
    const c = issue({ subject: `CN=${kind}`, issuer: rsaRoot, keys: makeKey(kind) });
    assert.equal(validateChain(c.der, [], store([rsaRoot]), now).end.subject, `CN=${kind}`);
  }
  const edRoot = issue({ subject: 'CN=Ed Root', keys: makeKey('ed25519'), ca: true });
  validateChain(issue({ subject: 'CN=leaf', issuer: edRoot }).der, [], store([edRoot]), now);
});

test('expired and not-yet-valid certificates (end and CA) are refused with dates', () => {
  assert.throws(() => validateChain(hq({ notBefore: new Date(+now - 400 * DAY), notAfter: new Date(+now - DAY) }).der, [], store(), now),
    refusedWith('expired', /peer certificate "C=CH, O=Outpost Test, CN=hq\.example\.net" expired on \d{4}-\d\d-\d\dT/));
  assert.throws(() => validateChain(hq({ notBefore: new Date(+now + DAY) }).der, [], store(), now), refusedWith('not-yet-valid'));
  const oldRoot = issue({ subject: 'CN=Old Root', ca: true, notBefore: new Date(+now - 900 * DAY), notAfter: new Date(+now - DAY) });
  assert.throws(() => validateChain(hq({ issuer: oldRoot }).der, [], store([oldRoot]), now), refusedWith('expired', /CA certificate "CN=Old Root"/));
  // The same certificate is fine at a time inside its validity.
  validateChain(hq({ issuer: oldRoot, notBefore: new Date(+now - 20 * DAY) }).der, [], store([oldRoot]), new Date(+now - 10 * DAY));
});

test('a certificate from another CA is refused as unknown CA, naming the issuer', () => {
  assert.throws(() => validateChain(hq({ issuer: other }).der, [], store(), now), refusedWith('unknown-ca', /issued by "C=CH, O=Elsewhere, CN=Other CA", which is not a configured CA/));
  // Several configured CAs: any one may vouch.
  validateChain(hq({ issuer: other }).der, [], store([root, other]), now);
});

test('intermediate CA: validates with the intermediate sent along, refused without it', () => {
  const leaf = hq({ issuer: inter });
  const v = validateChain(leaf.der, [inter.der], store(), now);
  assert.deepEqual(v.path.map((c) => c.subject), ['C=CH, O=Outpost Test, CN=hq.example.net', 'C=CH, O=Outpost Test, CN=Intermediate CA']);
  assert.equal(v.anchor.subject, 'C=CH, O=Outpost Test, CN=Root CA');
  assert.throws(() => validateChain(leaf.der, [], store(), now), refusedWith('unknown-ca', /Intermediate CA/));
  // Unrelated extra certificates are ignored; the intermediate configured as a CA works alone.
  validateChain(leaf.der, [other.der, inter.der], store(), now);
  validateChain(leaf.der, [], store([inter]), now);
});

test('intermediates must be CAs allowed to sign certificates, within pathLen', () => {
  const notCa = issue({ subject: 'CN=Not A CA', issuer: root, ca: false });
  assert.throws(() => validateChain(hq({ issuer: notCa }).der, [notCa.der], store(), now), refusedWith('unknown-ca', /not a CA certificate/));
  const noSign = issue({ subject: 'CN=No keyCertSign', issuer: root, ca: true, keyUsage: KU.digitalSignature });
  assert.throws(() => validateChain(hq({ issuer: noSign }).der, [noSign.der], store(), now), refusedWith('key-usage', /keyCertSign/));
  const i1 = issue({ subject: 'CN=I1', issuer: root, ca: true, pathLen: 0 });
  const i2 = issue({ subject: 'CN=I2', issuer: i1, ca: true });
  assert.throws(() => validateChain(hq({ issuer: i2 }).der, [i2.der, i1.der], store(), now), refusedWith('unknown-ca', /allows 0/));
  const expiredInter = issue({ subject: 'CN=Expired I', issuer: root, ca: true, notAfter: new Date(+now - DAY), notBefore: new Date(+now - 9 * DAY) });
  assert.throws(() => validateChain(hq({ issuer: expiredInter }).der, [expiredInter.der], store(), now), refusedWith('expired', /intermediate CA certificate/));
});

test('tampered certificates are refused as bad signature', () => {
  const good = hq();
  const t = Buffer.from(good.der);
  const at = t.indexOf(Buffer.from('hq.example.net'));
  t[at] = 'H'.charCodeAt(0); // edit the signed part: the subject CN
  assert.throws(() => validateChain(t, [], store(), now), refusedWith('bad-signature', /does not verify with that CA's key/));
  // A certificate naming the CA as issuer but signed by some other key.
  const impostorCa = issue({ subject: 'C=CH, O=Outpost Test, CN=Root CA', ca: true });
  assert.throws(() => validateChain(hq({ issuer: impostorCa }).der, [], store(), now), refusedWith('bad-signature'));
  // A fake intermediate with the right name but the wrong key.
  const fakeInter = issue({ subject: 'C=CH, O=Outpost Test, CN=Intermediate CA', issuer: other, ca: true });
  assert.throws(() => validateChain(hq({ issuer: inter }).der, [fakeInter.der], store(), now), refusedWith('bad-signature', /Intermediate CA/));
});

test('revoked by a CRL of the issuing CA; CRLs of other signers are not believed', () => {
  const cert = hq();
  const serial = certSerial(cert.der);
  const crl = issueCrl({ issuer: root, revoked: [{ serial: 1 }, { serial }] });
  assert.throws(() => validateChain(cert.der, [], store([root], [crl]), now), refusedWith('revoked', new RegExp(`serial ${serial.toString(16)}\\) was revoked on .* by the CRL of "C=CH, O=Outpost Test, CN=Root CA"`)));
  validateChain(cert.der, [], store([root], [issueCrl({ issuer: root, revoked: [{ serial: serial + 1 }] })]), now);
  // Same issuer name, wrong key: ignored.
  const forged = issueCrl({ issuer: issue({ subject: 'C=CH, O=Outpost Test, CN=Root CA', ca: true }), revoked: [{ serial }] });
  validateChain(cert.der, [], store([root], [forged]), now);
  // An intermediate revoked by the root, and a leaf revoked by the intermediate.
  const leaf = hq({ issuer: inter });
  assert.throws(() => validateChain(leaf.der, [inter.der], store([root], [issueCrl({ issuer: root, revoked: [{ serial: certSerial(inter.der) }] })]), now), refusedWith('revoked', /Intermediate CA/));
  assert.throws(() => validateChain(leaf.der, [inter.der], store([root], [issueCrl({ issuer: inter, revoked: [{ serial: certSerial(leaf.der) }] })]), now), refusedWith('revoked', /hq\.example\.net/));
});

test('keyUsage present without digitalSignature is refused; absent keyUsage is fine', () => {
  assert.throws(() => validateChain(hq({ keyUsage: KU.keyEncipherment }).der, [], store(), now), refusedWith('key-usage', /without digitalSignature/));
  validateChain(hq({ keyUsage: undefined }).der, [], store(), now);
  validateChain(hq({ keyUsage: KU.digitalSignature | KU.keyEncipherment }).der, [], store(), now);
});

test('a peer certificate configured as a CA is pinned; garbage is malformed', () => {
  const self = issue({ subject: 'CN=hq.example.net', san: { dns: ['hq.example.net'] } });
  validateChain(self.der, [], store([self]), now);
  assert.throws(() => validateChain(self.der, [], store(), now), refusedWith('unknown-ca'));
  assert.throws(() => validateChain(Buffer.from('3003020101', 'hex'), [], store(), now), refusedWith('malformed'));
  assert.throws(() => validateChain(hq().der.subarray(0, 100), [], store(), now), refusedWith('malformed'));
  assert.throws(() => validateChain(Buffer.alloc(20000, 0x30), [], store(), now), refusedWith('malformed', /limit/));
  assert.throws(() => validateChain(hq().der, Array(9).fill(inter.der), store(), now), refusedWith('malformed', /limit/));
});
