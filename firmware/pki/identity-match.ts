// IKE identities against certificates (RFC 4945 3.1 in spirit, as strongSwan does it): an FQDN,
// email or IP identity must be a subjectAltName of the peer's certificate; a DN identity must be
// its subject (or a directoryName SAN). DNs compare by meaning, not bytes: string types, case
// and spacing may differ between the text in a config file and the DER in a certificate.
import { AsnConvert, AsnParser } from '@peculiar/asn1-schema';
import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import { IdType } from '../ike/constants.ts';
import { dnText, ipv6Text } from '../ike/payloads/id.ts';
import type { ParsedCert } from './x509.ts';

const ATTR_OIDS: Record<string, string> = {
  CN: '2.5.4.3', SN: '2.5.4.4', SERIALNUMBER: '2.5.4.5', C: '2.5.4.6', L: '2.5.4.7', ST: '2.5.4.8', S: '2.5.4.8',
  STREET: '2.5.4.9', O: '2.5.4.10', OU: '2.5.4.11', T: '2.5.4.12', TITLE: '2.5.4.12', G: '2.5.4.42', GN: '2.5.4.42',
  DNQUALIFIER: '2.5.4.46', E: '1.2.840.113549.1.9.1', EMAIL: '1.2.840.113549.1.9.1', EMAILADDRESS: '1.2.840.113549.1.9.1',
  DC: '0.9.2342.19200300.100.1.25', UID: '0.9.2342.19200300.100.1.1',
};
const IA5_OIDS = new Set(['1.2.840.113549.1.9.1', '0.9.2342.19200300.100.1.25']);
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

export class DnSyntaxError extends Error {
  override readonly name = 'DnSyntaxError';
}

/** Splits "C=CH, O=Example\, Inc, CN=hq" at unescaped ',' (or '/', as strongSwan also accepts). */
function splitRdns(text: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) { cur += text[++i]; continue; }
    if (c === ',' || (c === '/' && /^\s*[A-Za-z][A-Za-z0-9.]*\s*=/.test(text.slice(i + 1)))) { parts.push(cur); cur = ''; continue; }
    cur += c;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

/**
 * DER Name from text in the order written (strongSwan's and Outpost's dnText order), e.g.
 * "C=CH, O=Example, CN=hq.example.net". Values become PrintableString when they fit, else
 * UTF8String; E and DC are IA5String.
 */
export function dnFromText(text: string): Buffer {
  const rdns = splitRdns(text);
  if (rdns.length === 0) throw new DnSyntaxError(`"${text}" is not a distinguished name`);
  const name = new Name(rdns.map((rdn) => {
    const eq = rdn.indexOf('=');
    if (eq <= 0) throw new DnSyntaxError(`"${rdn}" in "${text}" is not TYPE=value`);
    const key = rdn.slice(0, eq).trim();
    const value = rdn.slice(eq + 1).trim();
    const oid = ATTR_OIDS[key.toUpperCase()] ?? (/^\d+(\.\d+)+$/.test(key) ? key : undefined);
    if (!oid) throw new DnSyntaxError(`unknown attribute "${key}" in "${text}" (use CN, O, OU, C, L, ST, E, DC, ... or an OID)`);
    if (value.length === 0 || value.length > 256) throw new DnSyntaxError(`attribute ${key} in "${text}" has an empty or too long value`);
    const v = IA5_OIDS.has(oid) ? new AttributeValue({ ia5String: value })
      : PRINTABLE.test(value) ? new AttributeValue({ printableString: value }) : new AttributeValue({ utf8String: value });
    return new RelativeDistinguishedName([new AttributeTypeAndValue({ type: oid, value: v })]);
  }));
  return Buffer.from(AsnConvert.serialize(name));
}

/** A canonical form for comparison: per RDN, sorted "oid=value" with case folded and spaces collapsed. */
export function dnCanonical(der: Buffer): string | null {
  try {
    const name = AsnParser.parse(der, Name);
    if (Buffer.from(AsnConvert.serialize(name)).length !== der.length) return null;
    return name.map((rdn) => rdn.map((atv) => `${atv.type}=${atv.value.toString().trim().replace(/\s+/g, ' ').toLowerCase()}`).sort().join('+')).join(',');
  } catch {
    return null;
  }
}

export function dnEqual(a: Buffer, b: Buffer): boolean {
  if (a.equals(b)) return true;
  const ca = dnCanonical(a);
  return ca !== null && ca === dnCanonical(b);
}

export interface IdentityLike {
  idType: number;
  data: Buffer;
}

/** The same identity: DNs by meaning, names case-insensitively, addresses by bytes. */
export function identitiesEqual(a: IdentityLike, b: IdentityLike): boolean {
  if (a.idType !== b.idType) return false;
  if (a.idType === IdType.DER_ASN1_DN) return dnEqual(a.data, b.data);
  if (a.idType === IdType.FQDN || a.idType === IdType.RFC822_ADDR) return a.data.toString('latin1').toLowerCase() === b.data.toString('latin1').toLowerCase();
  return a.data.equals(b.data);
}

const lower = (b: Buffer) => b.toString('latin1').toLowerCase();

/** Whether the certificate vouches for the IKE identity the peer presented. */
export function certMatchesIdentity(cert: ParsedCert, id: IdentityLike): boolean {
  switch (id.idType) {
    case IdType.FQDN: return cert.san.dns.some((d) => d.toLowerCase() === lower(id.data));
    case IdType.RFC822_ADDR: return cert.san.email.some((m) => m.toLowerCase() === lower(id.data));
    case IdType.IPV4_ADDR:
    case IdType.IPV6_ADDR: return cert.san.ip.some((ip) => ip.equals(id.data));
    case IdType.DER_ASN1_DN: return dnEqual(cert.subjectDer, id.data) || cert.san.dn.some((d) => dnEqual(d, id.data));
    default: return false;
  }
}

/** The names a certificate holds, for error messages: "DN C=CH, CN=hq; DNS hq.example.net; IP 10.0.0.1". */
export function certNames(cert: ParsedCert): string {
  const out = [`DN "${cert.subject}"`];
  for (const d of cert.san.dns) out.push(`DNS ${d}`);
  for (const e of cert.san.email) out.push(`email ${e}`);
  for (const ip of cert.san.ip) out.push(`IP ${ip.length === 4 ? Array.from(ip).join('.') : ipv6Text(ip)}`);
  for (const d of cert.san.dn) out.push(`dirName "${dnText(d) ?? d.toString('hex')}"`);
  return out.join('; ');
}
