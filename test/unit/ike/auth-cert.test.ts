// Two in-process engines authenticating each other with certificates (RFC 7427 signatures,
// X.509 chains), and each refusal giving auth-failed events that name the cause.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KeyObject } from 'node:crypto';
import { IkePair, policy, mirrored } from '../../lib/ike-pair.ts';
import { AuthMethod, ExchangeType, NotifyType, PayloadType } from '../../../firmware/ike/constants.ts';
import { decodeMessage, openSk, type Payload } from '../../../firmware/ike/message.ts';
import type { CertAuth, TunnelPolicy } from '../../../firmware/ike/policy.ts';
import { KU } from '../../../firmware/pki/x509.ts';
import { certSerial, issue, issueCrl, makeKey, type Issued, type KeyKind } from '../pki/mini-ca.ts';

const DAY = 86400_000;
const CA_KU = KU.keyCertSign | KU.cRLSign;
const root = issue({ subject: 'C=CH, O=Outpost Test, CN=Root CA', ca: true, keyUsage: CA_KU });
const other = issue({ subject: 'C=CH, O=Elsewhere, CN=Other CA', ca: true, keyUsage: CA_KU });

const leaf = (name: string, o: Partial<Parameters<typeof issue>[0]> = {}, kind: KeyKind = 'ec-p256') =>
  issue({ subject: `C=CH, O=Outpost Test, CN=${name}`, issuer: root, keys: makeKey(kind), san: { dns: [name] }, keyUsage: KU.digitalSignature, ...o });

function certAuth(own: Issued, o: { intermediates?: Issued[]; cas?: Issued[]; crls?: Buffer[]; key?: KeyObject; clock?: () => number } = {}): CertAuth {
  return {
    kind: 'cert', key: o.key ?? own.key, chain: [own.der, ...(o.intermediates ?? []).map((i) => i.der)],
    cas: (o.cas ?? [root]).map((c) => c.der), crls: o.crls ?? [], clock: o.clock ?? (() => Date.now()),
  };
}

const branchPolicy = (auth: CertAuth, over: Partial<TunnelPolicy> & { local?: string; remote?: string } = {}) => policy({ auth, psk: undefined, ...over });
const hqPolicy = (auth: CertAuth, over: Partial<TunnelPolicy> & { local?: string; remote?: string } = {}) =>
  policy({ auth, psk: undefined, local: 'hq.example.net', remote: 'branch.example.net', localNet: ['10.2.0.0/24'], remoteNet: ['10.1.0.0/24'], ...over });

const reasons = (evs: { type: string }[]) => evs.flatMap((e) => (e.type === 'auth-failed' && 'reason' in e ? [String(e.reason)] : []));

/** Payloads of the IKE_AUTH messages seen on the wire, decrypted with the responder's keys. */
function authPayloads(p: IkePair): { req: Payload[]; res: Payload[] } {
  const sa = p.b.engine.ikeSas()[0]!;
  const out: { req: Payload[]; res: Payload[] } = { req: [], res: [] };
  const aeadFor = (fromA: boolean) => (fromA ? sa.aeadIn! : sa.aeadOut!);
  for (const [side, acts] of [['a', p.a.actions], ['b', p.b.actions]] as const) {
    for (const a of acts) {
      if (a.kind !== 'send') continue;
      const m = decodeMessage(a.data);
      if (m.header.exchangeType !== ExchangeType.IKE_AUTH) continue;
      (side === 'a' ? out.req : out.res).push(...openSk(m, aeadFor(side === 'a')));
    }
  }
  return out;
}

test('ECDSA P-256 certificates on both sides: IKE SA and CHILD_SA up, RFC 7427 AUTH, CERT and CERTREQ exchanged', () => {
  const p = new IkePair(branchPolicy(certAuth(leaf('branch.example.net'))), hqPolicy(certAuth(leaf('hq.example.net'))));
  p.start();
  assert.ok(mirrored(p.a.children, p.b.children));
  assert.deepEqual(reasons(p.a.events), []);
  // SIGNATURE_HASH_ALGORITHMS both ways; CERTREQ in the IKE_SA_INIT response.
  const init = (acts: typeof p.a.actions) => decodeMessage(acts.find((a) => a.kind === 'send')!.data as Buffer).payloads;
  for (const side of [p.a, p.b]) {
    const n = init(side.actions).find((x) => x.type === PayloadType.NOTIFY && x.notifyType === NotifyType.SIGNATURE_HASH_ALGORITHMS);
    assert.equal((n as { data: Buffer } | undefined)?.data.toString('hex'), '0002000300040005');
  }
  const cr = init(p.b.actions).find((x) => x.type === PayloadType.CERTREQ) as { data: Buffer } | undefined;
  assert.equal(cr?.data.length, 20, 'one SHA-1 CA key hash');
  assert.equal(p.a.engine.ikeSas()[0]!.peerSignatureHashes?.join(), '2,3,4,5');
  const { req, res } = authPayloads(p);
  for (const msg of [req, res]) {
    assert.equal(msg.filter((x) => x.type === PayloadType.CERT).length, 1);
    const auth = msg.find((x) => x.type === PayloadType.AUTH) as { method: number; data: Buffer };
    assert.equal(auth.method, AuthMethod.DIGITAL_SIGNATURE);
    assert.equal(auth.data.subarray(1, 1 + auth.data[0]!).toString('hex'), '300a06082a8648ce3d040302');
  }
  assert.ok(req.some((x) => x.type === PayloadType.CERTREQ), 'initiator sends CERTREQ in IKE_AUTH');
});

test('every key type the box or HQ may hold: Ed25519, P-384, RSA, in both roles', () => {
  for (const [a, b] of [['ed25519', 'ec-p256'], ['ec-p256', 'rsa2048'], ['ec-p384', 'ed25519'], ['rsa2048', 'ed25519']] as const) {
    const p = new IkePair(branchPolicy(certAuth(leaf('branch.example.net', {}, a))), hqPolicy(certAuth(leaf('hq.example.net', {}, b))));
    p.start();
    assert.ok(mirrored(p.a.children, p.b.children), `${a} initiator, ${b} responder`);
  }
});

test('intermediate CA chains are sent and validated; DN and IP identities work', () => {
  const inter = issue({ subject: 'C=CH, O=Outpost Test, CN=Branch CA', issuer: root, ca: true, keyUsage: CA_KU });
  const branch = issue({ subject: 'C=CH, O=Outpost Test, CN=branch-042', issuer: inter, san: { ip: ['198.51.100.1'] } });
  const hq = leaf('hq.example.net');
  const p = new IkePair(
    branchPolicy(certAuth(branch, { intermediates: [inter] }), { local: '198.51.100.1', remote: 'C=CH, O=Outpost Test, CN=hq.example.net' }),
    hqPolicy(certAuth(hq), { local: 'C=CH, O=Outpost Test, CN=hq.example.net', remote: '198.51.100.1' }),
  );
  p.start();
  assert.ok(mirrored(p.a.children, p.b.children));
  assert.equal(authPayloads(p).req.filter((x) => x.type === PayloadType.CERT).length, 2, 'end certificate and intermediate');
  assert.equal(p.b.engine.ikeSas()[0]!.remoteIdText, '198.51.100.1');
  assert.equal(p.a.engine.ikeSas()[0]!.remoteIdText, 'C=CH, O=Outpost Test, CN=hq.example.net');
});

interface RefusalCase {
  name: string;
  /** Builds the pair; by default the responder's (HQ's) certificate is the bad one. */
  make: () => IkePair;
  /** The side that refuses, and what its auth-failed reason must say. */
  refuser: 'a' | 'b';
  reason: RegExp;
}

const goodBranch = () => certAuth(leaf('branch.example.net'));
const goodHq = () => certAuth(leaf('hq.example.net'));

const CASES: RefusalCase[] = [
  {
    name: 'expired HQ certificate', refuser: 'a', reason: /certificate expired: peer certificate ".*CN=hq\.example\.net" expired on/,
    make: () => new IkePair(branchPolicy(goodBranch()), hqPolicy(certAuth(leaf('hq.example.net', { notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) })))),
  },
  {
    name: 'HQ certificate from another CA', refuser: 'a', reason: /unknown CA: .*issued by "C=CH, O=Elsewhere, CN=Other CA"/,
    make: () => new IkePair(branchPolicy(goodBranch()), hqPolicy(certAuth(leaf('hq.example.net', { issuer: other }), { cas: [root] }))),
  },
  {
    name: 'HQ identity not in its certificate', refuser: 'a', reason: /identity mismatch: peer identity "hq\.example\.net" is not in its certificate \(DN ".*CN=vpn\.example\.net"; DNS vpn\.example\.net\)/,
    make: () => new IkePair(branchPolicy(goodBranch()), hqPolicy(certAuth(leaf('vpn.example.net')))),
  },
  {
    name: 'HQ certificate revoked by the branch CRL', refuser: 'a', reason: /certificate revoked: certificate ".*CN=hq\.example\.net" \(serial [0-9a-f]+\) was revoked/,
    make: () => {
      const hq = leaf('hq.example.net');
      return new IkePair(branchPolicy(certAuth(leaf('branch.example.net'), { crls: [issueCrl({ issuer: root, revoked: [{ serial: certSerial(hq.der) }] })] })), hqPolicy(certAuth(hq)));
    },
  },
  {
    name: 'HQ signs with a key that is not its certificate\'s', refuser: 'a', reason: /bad signature: the peer's ecdsa-with-SHA256 AUTH signature does not verify/,
    make: () => new IkePair(branchPolicy(goodBranch()), hqPolicy(certAuth(leaf('hq.example.net'), { key: makeKey('ec-p256').privateKey }))),
  },
  {
    name: 'HQ certificate whose keyUsage lacks digitalSignature', refuser: 'a', reason: /unsuitable key usage: .*without digitalSignature/,
    make: () => new IkePair(branchPolicy(goodBranch()), hqPolicy(certAuth(leaf('hq.example.net', { keyUsage: KU.keyEncipherment })))),
  },
  {
    name: 'expired branch certificate, refused by the responder', refuser: 'b', reason: /certificate expired: .*CN=branch\.example\.net/,
    make: () => new IkePair(branchPolicy(certAuth(leaf('branch.example.net', { notBefore: new Date(Date.now() - 9 * DAY), notAfter: new Date(Date.now() - DAY) }))), hqPolicy(goodHq())),
  },
  {
    name: 'branch identity (email) not in its certificate, refused by the responder', refuser: 'b', reason: /identity mismatch: peer identity "branch@example\.net" is not in its certificate/,
    make: () => new IkePair(branchPolicy(goodBranch(), { local: 'branch@example.net' }), hqPolicy(goodHq(), { remote: 'branch@example.net' })),
  },
  {
    name: 'branch uses a PSK against a certificate HQ', refuser: 'b', reason: /authenticates with a pre-shared key, Outpost is configured for certificates/,
    make: () => new IkePair(policy(), hqPolicy(goodHq())),
  },
  {
    name: 'the responder\'s clock is past the branch certificate', refuser: 'b', reason: /certificate expired/,
    make: () => new IkePair(branchPolicy(goodBranch()), hqPolicy(certAuth(leaf('hq.example.net'), { clock: () => Date.now() + 2 * 365 * DAY }))),
  },
];

for (const c of CASES) {
  test(`refused: ${c.name} -> auth-failed naming the cause, no CHILD_SA`, () => {
    const p = c.make();
    p.start();
    const refuser = p.side(c.refuser);
    const refused = p.side(c.refuser === 'a' ? 'b' : 'a');
    const r = reasons(refuser.events);
    assert.equal(r.length, 1, `one auth-failed on the refusing side: ${JSON.stringify(refuser.events)}`);
    assert.match(r[0]!, c.reason);
    assert.equal(p.a.children.size, 0, 'no CHILD_SA at the initiator');
    assert.ok(!refuser.engine.up);
    if (c.refuser === 'b') {
      // The responder answered AUTHENTICATION_FAILED; the initiator says so.
      assert.match(reasons(refused.events)[0] ?? '', /peer refused our authentication \(AUTHENTICATION_FAILED\)/);
    } else {
      // The initiator told the responder in an INFORMATIONAL (RFC 7296 2.21.2).
      const info = p.a.actions.filter((a) => a.kind === 'send' && decodeMessage(a.data).header.exchangeType === ExchangeType.INFORMATIONAL);
      assert.equal(info.length, 1, 'one INFORMATIONAL after refusing the responder');
    }
  });
}
