// X.509 certificates as Outpost needs them: parsed once (structure by @peculiar/asn1-x509,
// signatures and keys by node:crypto) into a plain object with the fields that path
// validation, identity matching and `outpost cert show` read. Parsing is bounded and any
// failure is a CertAuthError('malformed'), never an exception from deep inside a parser.
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { AsnConvert, AsnParser } from '@peculiar/asn1-schema';
import {
  BasicConstraints, Certificate, KeyUsage, KeyUsageFlags, SubjectAlternativeName,
  id_ce_basicConstraints, id_ce_keyUsage, id_ce_subjectAltName,
} from '@peculiar/asn1-x509';
import { dnText, ipv6Bytes } from '../ike/payloads/id.ts';
import { CertAuthError } from './errors.ts';

/** Larger certificates are refused: IKE peers send a handful of small ones. */
export const MAX_CERT_BYTES = 16 * 1024;

export interface SubjectAltNames {
  dns: string[];
  email: string[];
  /** 4 or 16 bytes each. */
  ip: Buffer[];
  /** DER Names (directoryName). */
  dn: Buffer[];
}

export interface ParsedCert {
  der: Buffer;
  x509: X509Certificate;
  subjectDer: Buffer;
  issuerDer: Buffer;
  /** "C=CH, O=Example, CN=hq" (order as encoded, like strongSwan prints it). */
  subject: string;
  issuer: string;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  /** KeyUsageFlags bits, or undefined when the extension is absent. */
  keyUsage?: number;
  isCa: boolean;
  pathLen?: number;
  san: SubjectAltNames;
  publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo. */
  spki: Buffer;
  /** SHA-256 of the DER, "AB:CD:..." like openssl and node print it. */
  fingerprint256: string;
  selfIssued: boolean;
}

export const KU = KeyUsageFlags;

const dn = (der: Buffer) => dnText(der) ?? `dn:${der.toString('hex')}`;

function ipSanBytes(text: string): Buffer | undefined {
  try {
    if (text.includes(':')) return ipv6Bytes(text);
    const parts = text.split('.').map(Number);
    if (parts.length === 4 && parts.every((n) => Number.isInteger(n) && n >= 0 && n <= 255)) return Buffer.from(parts);
  } catch { /* not an address we can compare */ }
  return undefined;
}

/** Parses one DER certificate; throws CertAuthError('malformed'). */
export function parseCertificate(der: Buffer, what = 'certificate'): ParsedCert {
  if (der.length === 0 || der.length > MAX_CERT_BYTES) throw new CertAuthError('malformed', `${what} of ${der.length} bytes (limit ${MAX_CERT_BYTES})`);
  let asn: Certificate;
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
    asn = AsnParser.parse(der, Certificate);
  } catch (err) {
    throw new CertAuthError('malformed', `${what} does not parse as X.509: ${(err as Error).message}`);
  }
  const tbs = asn.tbsCertificate;
  const san: SubjectAltNames = { dns: [], email: [], ip: [], dn: [] };
  let keyUsage: number | undefined;
  let isCa = false;
  let pathLen: number | undefined;
  try {
    for (const ext of tbs.extensions ?? []) {
      if (ext.extnID === id_ce_keyUsage) {
        keyUsage = AsnParser.parse(ext.extnValue, KeyUsage).toNumber();
      } else if (ext.extnID === id_ce_basicConstraints) {
        const bc = AsnParser.parse(ext.extnValue, BasicConstraints);
        isCa = bc.cA;
        pathLen = bc.pathLenConstraint;
      } else if (ext.extnID === id_ce_subjectAltName) {
        for (const gn of AsnParser.parse(ext.extnValue, SubjectAlternativeName)) {
          if (gn.dNSName !== undefined) san.dns.push(gn.dNSName);
          else if (gn.rfc822Name !== undefined) san.email.push(gn.rfc822Name);
          else if (gn.iPAddress !== undefined) { const b = ipSanBytes(gn.iPAddress); if (b) san.ip.push(b); }
          else if (gn.directoryName !== undefined) san.dn.push(Buffer.from(AsnConvert.serialize(gn.directoryName)));
        }
      }
    }
  } catch (err) {
    throw new CertAuthError('malformed', `${what} has a malformed extension: ${(err as Error).message}`);
  }
  const subjectDer = Buffer.from(AsnConvert.serialize(tbs.subject));
  const issuerDer = Buffer.from(AsnConvert.serialize(tbs.issuer));
  // OpenSSL decodes the key lazily: an undecodable one must fail here, as a malformed certificate.
  let publicKey: KeyObject;
  try {
    publicKey = x509.publicKey;
  } catch (err) {
    throw new CertAuthError('malformed', `${what} has a public key that cannot be decoded: ${(err as Error).message}`);
  }
  const notBefore = tbs.validity.notBefore.getTime(), notAfter = tbs.validity.notAfter.getTime();
  // @peculiar's Time.getTime() returns a Date: check the Dates' time values.
  if (!Number.isFinite(notBefore.getTime()) || !Number.isFinite(notAfter.getTime())) throw new CertAuthError('malformed', `${what} has an unreadable validity period`);
  return {
    der, x509, subjectDer, issuerDer, subject: dn(subjectDer), issuer: dn(issuerDer),
    serialHex: Buffer.from(tbs.serialNumber).toString('hex'),
    notBefore, notAfter,
    ...(keyUsage !== undefined ? { keyUsage } : {}), isCa, ...(pathLen !== undefined ? { pathLen } : {}),
    san, publicKey, spki: Buffer.from(AsnConvert.serialize(tbs.subjectPublicKeyInfo)),
    fingerprint256: x509.fingerprint256, selfIssued: subjectDer.equals(issuerDer),
  };
}

/** SHA-1 of the SubjectPublicKeyInfo: the CA key hash in CERTREQ (RFC 7296 3.7). */
export function caKeyHash(cert: ParsedCert): Buffer {
  return createHash('sha1').update(cert.spki).digest();
}

/** The base64 bodies of PEM blocks with `label` ("CERTIFICATE", "X509 CRL", ...), in order. */
export function pemBlocks(text: string, label: string): Buffer[] {
  const out: Buffer[] = [];
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  for (const m of text.matchAll(re)) out.push(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  return out;
}

/** Certificates from a file's contents: PEM (one or more blocks) or a single DER certificate. */
export function certificatesFromFile(data: Buffer): Buffer[] {
  const text = data.toString('latin1');
  if (text.includes('-----BEGIN')) return pemBlocks(text, 'CERTIFICATE');
  return data.length && data[0] === 0x30 ? [data] : []; // DER starts with a SEQUENCE
}

export function toPem(der: Buffer, label: string): string {
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

export const isoDate = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
