// Certificate revocation lists (RFC 5280 section 5): parsed once, trusted only when their
// signature verifies with the key of the CA that issued the certificate being checked.
import { AsnConvert, AsnParser } from '@peculiar/asn1-schema';
import { CertificateList } from '@peculiar/asn1-x509';
import { dnText } from '../ike/payloads/id.ts';
import { CertAuthError } from './errors.ts';
import { verifyByAlgorithm } from './signature-auth.ts';
import { pemBlocks, type ParsedCert } from './x509.ts';
import { dnEqual } from './identity-match.ts';

/** A CRL of a small site CA; larger ones are refused rather than held in memory. */
export const MAX_CRL_BYTES = 1024 * 1024;

export interface ParsedCrl {
  der: Buffer;
  issuerDer: Buffer;
  issuer: string;
  thisUpdate: Date;
  nextUpdate?: Date;
  /** Serial number (hex, no leading zero bytes) -> revocation date. */
  revoked: Map<string, Date>;
  check(issuerKey: ParsedCert): boolean;
}

/** Serial numbers compare as integers: drop the sign-padding zero bytes of the DER INTEGER. */
export function serialKey(bytes: Uint8Array | string): string {
  let hex = typeof bytes === 'string' ? bytes.toLowerCase() : Buffer.from(bytes).toString('hex');
  while (hex.length > 2 && hex.startsWith('00')) hex = hex.slice(2);
  return hex;
}

export function parseCrl(der: Buffer, what = 'CRL'): ParsedCrl {
  if (der.length === 0 || der.length > MAX_CRL_BYTES) throw new CertAuthError('malformed', `${what} of ${der.length} bytes (limit ${MAX_CRL_BYTES})`);
  let crl: CertificateList;
  try {
    crl = AsnParser.parse(der, CertificateList);
  } catch (err) {
    throw new CertAuthError('malformed', `${what} does not parse: ${(err as Error).message}`);
  }
  const tbs = crl.tbsCertList;
  if (!crl.tbsCertListRaw) throw new CertAuthError('malformed', `${what}: no signed part`);
  const signed = Buffer.from(crl.tbsCertListRaw);
  const signature = Buffer.from(crl.signature);
  const issuerDer = Buffer.from(AsnConvert.serialize(tbs.issuer));
  const revoked = new Map<string, Date>();
  for (const r of tbs.revokedCertificates ?? []) revoked.set(serialKey(new Uint8Array(r.userCertificate)), r.revocationDate.getTime());
  const checked = new WeakMap<ParsedCert, boolean>();
  return {
    der, issuerDer, issuer: dnText(issuerDer) ?? issuerDer.toString('hex'),
    thisUpdate: tbs.thisUpdate.getTime(), ...(tbs.nextUpdate ? { nextUpdate: tbs.nextUpdate.getTime() } : {}),
    revoked,
    check(ca: ParsedCert): boolean {
      if (!dnEqual(ca.subjectDer, issuerDer)) return false;
      let ok = checked.get(ca);
      if (ok === undefined) {
        try { ok = verifyByAlgorithm(crl.signatureAlgorithm, ca.publicKey, signed, signature); } catch { ok = false; }
        checked.set(ca, ok);
      }
      return ok;
    },
  };
}

/** CRLs from a file's contents: PEM "X509 CRL" blocks or one DER CRL. */
export function crlsFromFile(data: Buffer): Buffer[] {
  const text = data.toString('latin1');
  if (text.includes('-----BEGIN')) return pemBlocks(text, 'X509 CRL');
  return data.length && data[0] === 0x30 ? [data] : [];
}
