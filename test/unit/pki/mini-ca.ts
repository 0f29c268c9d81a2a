// A tiny certificate authority for unit tests: issues X.509 certificates and CRLs with any
// validity, keyUsage, SANs and issuer, built with @peculiar/asn1-x509 and signed with
// node:crypto. Deterministic apart from the keys (callers may pass their own).
import { generateKeyPairSync, sign, constants, type KeyObject } from 'node:crypto';
import { AsnConvert, AsnParser, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier, BasicConstraints, Certificate, CertificateList, Extension, Extensions, GeneralName, KeyUsage,
  Name, RevokedCertificate, SubjectAlternativeName, SubjectPublicKeyInfo, TBSCertList, TBSCertificate, Time, Validity, Version,
  id_ce_basicConstraints, id_ce_keyUsage, id_ce_subjectAltName,
} from '@peculiar/asn1-x509';
import { dnFromText } from '../../../firmware/pki/identity-match.ts';

export type KeyKind = 'ec-p256' | 'ec-p384' | 'ed25519' | 'rsa2048';

export interface KeyPair { privateKey: KeyObject; publicKey: KeyObject }

export function makeKey(kind: KeyKind): KeyPair {
  switch (kind) {
    case 'ec-p256': return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ec-p384': return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'ed25519': return generateKeyPairSync('ed25519');
    case 'rsa2048': return generateKeyPairSync('rsa', { modulusLength: 2048 });
  }
}

/** A certificate and the private key of its subject. */
export interface Issued { der: Buffer; key: KeyObject; subject: string }

const DAY = 86400_000;
let serialCounter = 0x1000;

function sigAlg(key: KeyObject): { alg: AlgorithmIdentifier; sign: (data: Buffer) => Buffer } {
  const t = key.asymmetricKeyType;
  if (t === 'ed25519') return { alg: new AlgorithmIdentifier({ algorithm: '1.3.101.112' }), sign: (d) => sign(null, d, key) };
  if (t === 'ec') {
    const p384 = key.asymmetricKeyDetails?.namedCurve === 'secp384r1';
    return { alg: new AlgorithmIdentifier({ algorithm: p384 ? '1.2.840.10045.4.3.3' : '1.2.840.10045.4.3.2' }), sign: (d) => sign(p384 ? 'sha384' : 'sha256', d, key) };
  }
  const nul = new Uint8Array([5, 0]).buffer;
  return { alg: new AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.1.11', parameters: nul }), sign: (d) => sign('sha256', d, { key, padding: constants.RSA_PKCS1_PADDING }) };
}

const ext = (id: string, critical: boolean, value: unknown) => new Extension({ extnID: id, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });

export interface IssueOptions {
  subject: string;
  /** The subject's key pair (made as ec-p256 if absent). */
  keys?: KeyPair;
  /** Self-signed when absent. */
  issuer?: Issued;
  notBefore?: Date;
  notAfter?: Date;
  ca?: boolean;
  pathLen?: number;
  /** KeyUsageFlags bits; no extension when absent. */
  keyUsage?: number;
  san?: { dns?: string[]; email?: string[]; ip?: string[]; dn?: string[] };
  serial?: number;
}

export function issue(o: IssueOptions): Issued {
  const keys = o.keys ?? makeKey('ec-p256');
  const now = Date.now();
  const subjectName = AsnParser.parse(dnFromText(o.subject), Name);
  const issuerName = o.issuer ? AsnParser.parse(certSubjectDer(o.issuer.der), Name) : subjectName;
  const signer = sigAlg(o.issuer?.key ?? keys.privateKey);
  const exts: Extension[] = [];
  if (o.ca !== undefined) exts.push(ext(id_ce_basicConstraints, true, new BasicConstraints({ cA: o.ca, ...(o.pathLen !== undefined ? { pathLenConstraint: o.pathLen } : {}) })));
  if (o.keyUsage !== undefined) exts.push(ext(id_ce_keyUsage, true, new KeyUsage(o.keyUsage)));
  if (o.san) {
    const names = [
      ...(o.san.dns ?? []).map((d) => new GeneralName({ dNSName: d })),
      ...(o.san.email ?? []).map((m) => new GeneralName({ rfc822Name: m })),
      ...(o.san.ip ?? []).map((ip) => new GeneralName({ iPAddress: ip })),
      ...(o.san.dn ?? []).map((dn) => new GeneralName({ directoryName: AsnParser.parse(dnFromText(dn), Name) })),
    ];
    exts.push(ext(id_ce_subjectAltName, false, new SubjectAlternativeName(names)));
  }
  const serial = o.serial ?? serialCounter++;
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: serialBytes(serial),
    signature: signer.alg,
    issuer: issuerName,
    validity: new Validity({ notBefore: o.notBefore ?? new Date(now - DAY), notAfter: o.notAfter ?? new Date(now + 365 * DAY) }),
    subject: subjectName,
    subjectPublicKeyInfo: AsnParser.parse(keys.publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo),
    ...(exts.length ? { extensions: new Extensions(exts) } : {}),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const cert = new Certificate({ tbsCertificate: tbs, signatureAlgorithm: signer.alg, signatureValue: new Uint8Array(signer.sign(tbsDer)).buffer });
  return { der: Buffer.from(AsnConvert.serialize(cert)), key: keys.privateKey, subject: o.subject };
}

export function serialBytes(n: number): ArrayBuffer {
  const hex = n.toString(16);
  const b = Buffer.from((hex.length % 2 ? '0' : '') + hex, 'hex');
  return new Uint8Array(b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b).buffer;
}

export function certSubjectDer(der: Buffer): Buffer {
  return Buffer.from(AsnConvert.serialize(AsnParser.parse(der, Certificate).tbsCertificate.subject));
}

export function certSerial(der: Buffer): number {
  return parseInt(Buffer.from(AsnParser.parse(der, Certificate).tbsCertificate.serialNumber).toString('hex'), 16);
}

export function issueCrl(o: { issuer: Issued; revoked: { serial: number; date?: Date }[]; thisUpdate?: Date; nextUpdate?: Date }): Buffer {
  const signer = sigAlg(o.issuer.key);
  const now = Date.now();
  const tbs = new TBSCertList({
    version: Version.v2,
    signature: signer.alg,
    issuer: AsnParser.parse(certSubjectDer(o.issuer.der), Name),
    thisUpdate: new Time(o.thisUpdate ?? new Date(now - DAY)),
    nextUpdate: new Time(o.nextUpdate ?? new Date(now + 30 * DAY)),
    ...(o.revoked.length ? { revokedCertificates: o.revoked.map((r) => new RevokedCertificate({ userCertificate: serialBytes(r.serial), revocationDate: new Time(r.date ?? new Date(now - DAY)) })) } : {}),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const crl = new CertificateList({ tbsCertList: tbs, signatureAlgorithm: signer.alg, signature: new Uint8Array(signer.sign(tbsDer)).buffer });
  return Buffer.from(AsnConvert.serialize(crl));
}
