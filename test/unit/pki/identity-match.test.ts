// IKE identities against certificates, for each ID type, and DNs from text and by meaning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdType } from '../../../firmware/ike/constants.ts';
import { dnText, idDataFromText } from '../../../firmware/ike/payloads/id.ts';
import { identityFromText } from '../../../firmware/ike/policy.ts';
import { DnSyntaxError, certMatchesIdentity, certNames, dnEqual, dnFromText, identitiesEqual } from '../../../firmware/pki/identity-match.ts';
import { parseCertificate } from '../../../firmware/pki/x509.ts';
import { issue } from './mini-ca.ts';

const cert = parseCertificate(issue({
  subject: 'C=CH, O=Outpost Test, CN=hq.example.net',
  san: { dns: ['hq.example.net', 'vpn.example.net'], email: ['ops@example.net'], ip: ['198.51.100.2', '2001:db8::2'], dn: ['O=Alt, CN=alt name'] },
}).der);
const id = (text: string) => identityFromText(text);

test('FQDN identities match dNSName SANs (case-insensitively), not the CN alone', () => {
  assert.ok(certMatchesIdentity(cert, id('hq.example.net')));
  assert.ok(certMatchesIdentity(cert, id('VPN.Example.NET')));
  assert.ok(!certMatchesIdentity(cert, id('branch.example.net')));
  const cnOnly = parseCertificate(issue({ subject: 'CN=cn-only.example.net' }).der);
  assert.ok(!certMatchesIdentity(cnOnly, id('cn-only.example.net')));
});

test('email and IP identities match rfc822Name and iPAddress SANs', () => {
  assert.ok(certMatchesIdentity(cert, id('ops@example.net')));
  assert.ok(!certMatchesIdentity(cert, id('root@example.net')));
  assert.ok(certMatchesIdentity(cert, id('198.51.100.2')));
  assert.ok(!certMatchesIdentity(cert, id('198.51.100.3')));
  assert.ok(certMatchesIdentity(cert, id('2001:db8:0::2')));
  assert.ok(!certMatchesIdentity(cert, id('2001:db8::3')));
  // An FQDN that looks like the address does not match an IP SAN.
  assert.ok(!certMatchesIdentity(cert, { idType: IdType.FQDN, data: Buffer.from('198.51.100.2') }));
});

test('DN identities match the subject by meaning, or a directoryName SAN', () => {
  assert.ok(certMatchesIdentity(cert, id('C=CH, O=Outpost Test, CN=hq.example.net')));
  assert.ok(certMatchesIdentity(cert, id('c=ch,o=outpost  test,  cn=HQ.example.net')), 'case and spacing');
  assert.ok(!certMatchesIdentity(cert, id('C=CH, O=Outpost Test, CN=branch.example.net')));
  assert.ok(!certMatchesIdentity(cert, id('CN=hq.example.net, O=Outpost Test, C=CH')), 'RDN order matters');
  assert.ok(certMatchesIdentity(cert, id('O=Alt, CN=alt name')));
  assert.ok(!certMatchesIdentity(cert, { idType: IdType.KEY_ID, data: Buffer.from('abcd', 'hex') }));
});

test('dnFromText encodes in written order and round-trips through dnText; string types do not matter', () => {
  const der = dnFromText('C=CH, O=Example\\, Inc., OU=Branches, CN=branch-042.example.net, E=ops@example.net');
  assert.equal(dnText(der), 'C=CH, O=Example, Inc., OU=Branches, CN=branch-042.example.net, E=ops@example.net');
  assert.equal(dnText(dnFromText('/C=CH/O=Example/CN=x')), 'C=CH, O=Example, CN=x');
  // UTF8String vs PrintableString for the same value compare equal.
  const utf8 = Buffer.from(dnFromText('CN=hq'));
  const i = utf8.indexOf(Buffer.from([0x13, 0x02])); // PrintableString "hq"
  utf8[i] = 0x0c;
  assert.ok(!utf8.equals(dnFromText('CN=hq')) && dnEqual(utf8, dnFromText('CN=hq')));
  assert.match(dnText(dnFromText('CN=Zürich')) ?? '', /^CN=Z\\x/);
  assert.throws(() => dnFromText('XX=1'), DnSyntaxError);
  assert.throws(() => dnFromText('CN='), DnSyntaxError);
  assert.throws(() => dnFromText(''), DnSyntaxError);
});

test('identitiesEqual: DNs by meaning, names case-insensitively, types must agree', () => {
  assert.ok(identitiesEqual(id('CN=hq, O=Example'), id('cn=HQ,o=example')));
  assert.ok(identitiesEqual(id('HQ.example.net'), id('hq.example.net')));
  assert.ok(!identitiesEqual(id('hq.example.net'), { idType: IdType.RFC822_ADDR, data: Buffer.from('hq.example.net') }));
  assert.ok(identitiesEqual(id('10.0.0.1'), { idType: IdType.IPV4_ADDR, data: idDataFromText(IdType.IPV4_ADDR, '10.0.0.1') }));
});

test('certNames lists what a certificate vouches for', () => {
  assert.equal(certNames(cert), 'DN "C=CH, O=Outpost Test, CN=hq.example.net"; DNS hq.example.net; DNS vpn.example.net; email ops@example.net; IP 198.51.100.2; IP 2001:db8::2; dirName "O=Alt, CN=alt name"');
});
