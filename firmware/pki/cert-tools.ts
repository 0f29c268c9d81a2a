// What `outpost cert show` and `outpost cert import` do, as functions the serial console can
// call too: describe a certificate (subject, issuer, validity, fingerprint, names), and check a
// certificate the CA sent back against the box's key, the CA and (optionally) the identity
// before it is put in place.
import type { KeyObject } from 'node:crypto';
import { validateChain } from './chain.ts';
import { CertAuthError } from './errors.ts';
import { certMatchesIdentity, certNames } from './identity-match.ts';
import { certMatchesKey, privateKeyFromFile, readBounded } from './load.ts';
import { identityFromText } from '../ike/policy.ts';
import { keyKindOf } from './signature-auth.ts';
import { writeFileAtomic } from './keys.ts';
import { KU, certificatesFromFile, isoDate, parseCertificate, toPem, type ParsedCert } from './x509.ts';

export interface CertificateInfo {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  /** Whole days until notAfter; negative once expired. */
  daysLeft: number;
  /** SHA-256 of the DER, "AB:CD:...". */
  fingerprint: string;
  /** Names the certificate vouches for (DN, DNS, email, IP). */
  names: string;
  keyType: string;
  isCa: boolean;
}

export function certificateInfo(c: ParsedCert, now = Date.now()): CertificateInfo {
  const k = keyKindOf(c.publicKey);
  const keyType = k.kind === 'ecdsa' ? `ECDSA ${k.curve === 'prime256v1' ? 'P-256' : k.curve === 'secp384r1' ? 'P-384' : k.curve ?? ''}`.trim()
    : k.kind === 'ed25519' ? 'Ed25519' : k.kind === 'rsa' ? `RSA ${k.bits ?? ''}`.trim() : String(c.publicKey.asymmetricKeyType);
  return {
    subject: c.subject, issuer: c.issuer, serial: c.serialHex, notBefore: isoDate(c.notBefore), notAfter: isoDate(c.notAfter),
    daysLeft: Math.floor((c.notAfter.getTime() - now) / 86400_000), fingerprint: c.fingerprint256, names: certNames(c), keyType, isCa: c.isCa,
  };
}

export function formatCertificateInfo(i: CertificateInfo): string {
  const left = i.daysLeft < 0 ? `EXPIRED ${-i.daysLeft} days ago` : `${i.daysLeft} days left`;
  return [
    `subject:     ${i.subject}`,
    `issuer:      ${i.issuer}`,
    `serial:      ${i.serial}`,
    `validity:    ${i.notBefore} .. ${i.notAfter} (${left})`,
    `key:         ${i.keyType}${i.isCa ? ', CA' : ''}`,
    `names:       ${i.names}`,
    `fingerprint: SHA-256 ${i.fingerprint}`,
  ].join('\n') + '\n';
}

/** All certificates in a file (PEM bundle or DER), described. */
export function showCertificateFile(path: string, now = Date.now()): CertificateInfo[] {
  const ders = certificatesFromFile(readBounded('cert', path));
  if (!ders.length) throw new Error(`${path}: holds no certificate`);
  return ders.map((d) => certificateInfo(parseCertificate(d), now));
}

export interface ImportCheck {
  /** File contents: the end certificate first, then any intermediates. */
  cert: Buffer;
  key: KeyObject;
  /** CA certificate file contents to check the chain against. */
  ca?: Buffer;
  /** The box's identity (tunnel.localId), which the certificate must hold. */
  localId?: string;
  now?: number;
}

export interface ImportResult {
  info: CertificateInfo;
  /** PEM of the end certificate and intermediates, ready to be written. */
  pem: string;
  /** Subject of the CA the chain was checked against, when one was given. */
  ca?: string;
  warnings: string[];
}

export class ImportError extends Error {
  override readonly name = 'ImportError';
}

/** Checks a signed certificate before the box uses it; throws ImportError saying what is wrong. */
export function checkCertificateImport(o: ImportCheck): ImportResult {
  const now = o.now ?? Date.now();
  const ders = certificatesFromFile(o.cert);
  if (!ders.length) throw new ImportError('the certificate file holds no certificate (expected PEM or DER)');
  let chain: ParsedCert[];
  try {
    chain = ders.map((d, i) => parseCertificate(d, i ? `intermediate certificate ${i}` : 'certificate'));
  } catch (err) {
    throw new ImportError((err as Error).message);
  }
  const end = chain[0]!;
  const warnings: string[] = [];
  if (!certMatchesKey(end, o.key)) throw new ImportError(`certificate "${end.subject}" is not for this key (its public key differs): was the CSR made with another key?`);
  if (now > end.notAfter.getTime()) throw new ImportError(`certificate "${end.subject}" expired on ${isoDate(end.notAfter)}`);
  if (now < end.notBefore.getTime()) warnings.push(`certificate "${end.subject}" is valid only from ${isoDate(end.notBefore)}; check the clock`);
  if (end.keyUsage !== undefined && !(end.keyUsage & KU.digitalSignature)) throw new ImportError(`certificate "${end.subject}" does not allow digital signatures (keyUsage), which IKE needs`);
  if (o.localId !== undefined) {
    let ok = false;
    try { ok = certMatchesIdentity(end, identityFromText(o.localId)); } catch { ok = false; }
    if (!ok) throw new ImportError(`certificate does not hold the identity "${o.localId}" (it holds ${certNames(end)})`);
  }
  let ca: string | undefined;
  if (o.ca) {
    const anchors = certificatesFromFile(o.ca).map((d) => parseCertificate(d, 'CA certificate'));
    if (!anchors.length) throw new ImportError('the CA file holds no certificate');
    try {
      ca = validateChain(end.der, chain.slice(1).map((c) => c.der), { anchors, crls: [] }, new Date(now)).anchor.subject;
    } catch (err) {
      if (err instanceof CertAuthError) throw new ImportError(`checked against the CA: ${err.message}`);
      throw err;
    }
  }
  return { info: certificateInfo(end, now), pem: chain.map((c) => toPem(c.der, 'CERTIFICATE')).join(''), ...(ca ? { ca } : {}), warnings };
}

/** Reads the files, checks them, and with `out` writes the certificate (chain) there atomically. */
export function importCertificateFiles(o: { cert: string; key: string; ca?: string; localId?: string; out?: string; now?: number }): ImportResult {
  const key = privateKeyFromFile('--key', o.key, readBounded('--key', o.key));
  const r = checkCertificateImport({
    cert: readBounded('--cert', o.cert), key, ...(o.ca ? { ca: readBounded('--ca', o.ca) } : {}),
    ...(o.localId !== undefined ? { localId: o.localId } : {}), ...(o.now !== undefined ? { now: o.now } : {}),
  });
  if (o.out) writeFileAtomic(o.out, r.pem, 0o644);
  return r;
}
