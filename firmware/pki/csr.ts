// PKCS#10 certificate requests (RFC 2986) for the box's own key: subject CN = the IKE identity
// (or the identity itself when it is a DN), and a subjectAltName that holds the identity as
// DNS name, email or IP address, so the certificate the CA returns matches what IKE sends.
import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { AsnConvert, AsnParser, OctetString } from '@peculiar/asn1-schema';
import { Attributes, CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr';
import {
  AlgorithmIdentifier, Attribute, Extension, Extensions, GeneralName, Name, SubjectAlternativeName, SubjectPublicKeyInfo,
  id_ce_subjectAltName,
} from '@peculiar/asn1-x509';
import { IdType } from '../ike/constants.ts';
import { dnText } from '../ike/payloads/id.ts';
import { identityFromText } from '../ike/policy.ts';
import { dnFromText } from './identity-match.ts';
import { ALG_ID, keyKindOf, verifyByAlgorithm, schemeOf } from './signature-auth.ts';
import { pemBlocks, toPem, type SubjectAltNames } from './x509.ts';

/** PKCS#9 extensionRequest: the extensions the CA is asked to put in the certificate. */
export const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';

function sanFor(localId: string): GeneralName[] {
  const id = identityFromText(localId);
  switch (id.idType) {
    case IdType.FQDN: return [new GeneralName({ dNSName: localId })];
    case IdType.RFC822_ADDR: return [new GeneralName({ rfc822Name: localId })];
    case IdType.IPV4_ADDR:
    case IdType.IPV6_ADDR: return [new GeneralName({ iPAddress: localId })];
    default: return [];
  }
}

/** A DER PKCS#10 request signed with `key` (Ed25519 or ECDSA P-256, as generated on the box). */
export function createCsr(key: KeyObject, localId: string): Buffer {
  const kind = keyKindOf(key);
  const isDn = identityFromText(localId).idType === IdType.DER_ASN1_DN;
  const subject = AsnParser.parse(isDn ? dnFromText(localId) : dnFromText(`CN=${localId.replace(/([,\\/])/g, '\\$1')}`), Name);
  const san = sanFor(localId);
  const attrs = new Attributes(san.length ? [new Attribute({
    type: OID_EXTENSION_REQUEST,
    values: [AsnConvert.serialize(new Extensions([new Extension({ extnID: id_ce_subjectAltName, critical: false, extnValue: new OctetString(AsnConvert.serialize(new SubjectAlternativeName(san))) })]))],
  })] : []);
  const info = new CertificationRequestInfo({
    version: 0, subject,
    subjectPKInfo: AsnParser.parse(createPublicKey(key).export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo),
    attributes: attrs,
  });
  const tbs = Buffer.from(AsnConvert.serialize(info));
  let alg: Buffer;
  let sig: Buffer;
  if (kind.kind === 'ed25519') { alg = ALG_ID.ed25519; sig = sign(null, tbs, key); }
  else if (kind.kind === 'ecdsa' && kind.curve === 'prime256v1') { alg = ALG_ID.ecdsaSha256; sig = sign('sha256', tbs, key); }
  else throw new Error(`CSRs are made for Ed25519 or ECDSA P-256 keys, not ${key.asymmetricKeyType}${kind.curve ? ` ${kind.curve}` : ''}`);
  const req = new CertificationRequest({ certificationRequestInfo: info, signatureAlgorithm: AsnParser.parse(alg, AlgorithmIdentifier), signature: new Uint8Array(sig).buffer });
  return Buffer.from(AsnConvert.serialize(req));
}

export const csrPem = (der: Buffer) => toPem(der, 'CERTIFICATE REQUEST');

export interface CsrInfo {
  subject: string;
  subjectDer: Buffer;
  san: SubjectAltNames;
  publicKey: KeyObject;
  signatureAlgorithm: string;
  /** The request is signed by the key it carries (proof of possession). */
  signatureValid: boolean;
}

/** Parses a PEM or DER request; throws on malformed input. */
export function parseCsr(data: Buffer): CsrInfo {
  const text = data.toString('latin1');
  const der = text.includes('-----BEGIN') ? pemBlocks(text, 'CERTIFICATE REQUEST')[0] ?? pemBlocks(text, 'NEW CERTIFICATE REQUEST')[0] : data;
  if (!der || der.length > 16384) throw new Error('no certificate request found');
  const req = AsnParser.parse(der, CertificationRequest);
  const info = req.certificationRequestInfo;
  const publicKey = createPublicKey({ key: Buffer.from(AsnConvert.serialize(info.subjectPKInfo)), format: 'der', type: 'spki' });
  const signed = req.certificationRequestInfoRaw ? Buffer.from(req.certificationRequestInfoRaw) : Buffer.from(AsnConvert.serialize(info));
  const san: SubjectAltNames = { dns: [], email: [], ip: [], dn: [] };
  for (const attr of info.attributes) {
    if (attr.type !== OID_EXTENSION_REQUEST) continue;
    for (const v of attr.values) {
      for (const ext of AsnParser.parse(v, Extensions)) {
        if (ext.extnID !== id_ce_subjectAltName) continue;
        for (const gn of AsnParser.parse(ext.extnValue, SubjectAlternativeName)) {
          if (gn.dNSName) san.dns.push(gn.dNSName);
          if (gn.rfc822Name) san.email.push(gn.rfc822Name);
          if (gn.iPAddress) san.ip.push(Buffer.from(identityFromText(gn.iPAddress).data));
        }
      }
    }
  }
  const subjectDer = Buffer.from(AsnConvert.serialize(info.subject));
  let valid = false;
  try { valid = verifyByAlgorithm(req.signatureAlgorithm, publicKey, signed, Buffer.from(req.signature)); } catch { valid = false; }
  return { subject: dnText(subjectDer) ?? subjectDer.toString('hex'), subjectDer, san, publicKey, signatureAlgorithm: schemeOf(req.signatureAlgorithm).name, signatureValid: valid };
}
