// Loads the files named by tunnel.auth { key, cert, ca[], crl[] } into a CertAuth policy. Every
// problem is an error naming the config field and the file: unreadable, not a key, not a
// certificate, a certificate that does not belong to the key, a localId the certificate does
// not vouch for. Softer problems (an expired own certificate, a key file others can read) are
// returned as warnings for the log.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { ResolvedCertAuth } from '../config/schema.ts';
import { IdType } from '../ike/constants.ts';
import { identityFromText, type CertAuth, type Identity } from '../ike/policy.ts';
import { parseCrl, crlsFromFile } from './crl.ts';
import { certMatchesIdentity, certNames, dnEqual } from './identity-match.ts';
import { keyKindOf } from './signature-auth.ts';
import { certificatesFromFile, isoDate, parseCertificate, type ParsedCert } from './x509.ts';

/** Key and certificate files are small; anything larger is a wrong path. */
const MAX_FILE_BYTES = 1024 * 1024;

export class CredentialError extends Error {
  override readonly name = 'CredentialError';
  constructor(readonly field: string, readonly file: string, detail: string) {
    super(`${field}: ${file}: ${detail}`);
  }
}

export interface LoadedCertAuth {
  auth: CertAuth;
  /** Our end certificate, parsed. */
  own: ParsedCert;
  /** The identity to send: for a DN, the certificate's exact subject encoding. */
  localId: Identity;
  warnings: string[];
}

export function readBounded(field: string, file: string): Buffer {
  let data: Buffer;
  try {
    if (statSync(file).size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
    data = readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CredentialError(field, file, `cannot read it (${e.code ?? e.message})`);
  }
  return data;
}

/** A private key from PEM (PKCS#8, SEC1 or PKCS#1) or DER (PKCS#8). */
export function privateKeyFromFile(field: string, file: string, data: Buffer): KeyObject {
  const text = data.toString('latin1');
  if (/ENCRYPTED/.test(text)) throw new CredentialError(field, file, 'the key is encrypted; Outpost needs it unencrypted (protected by file permissions, 0600)');
  try {
    return text.includes('-----BEGIN') ? createPrivateKey(text) : createPrivateKey({ key: data, format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new CredentialError(field, file, `not a private key (expected PEM or DER PKCS#8, SEC1 or PKCS#1): ${(err as Error).message}`);
  }
}

function certsFrom(field: string, file: string): ParsedCert[] {
  const ders = certificatesFromFile(readBounded(field, file));
  if (!ders.length) throw new CredentialError(field, file, 'holds no certificate (expected PEM "CERTIFICATE" blocks or one DER certificate)');
  try {
    return ders.map((d, i) => parseCertificate(d, ders.length > 1 ? `certificate ${i + 1}` : 'certificate'));
  } catch (err) {
    throw new CredentialError(field, file, (err as Error).message);
  }
}

/** Whether a certificate holds the public half of `key`. */
export function certMatchesKey(cert: ParsedCert, key: KeyObject): boolean {
  return createPublicKey(key).export({ type: 'spki', format: 'der' }).equals(cert.spki);
}

export function loadCertAuth(a: ResolvedCertAuth, localIdText: string, clock: () => number = Date.now): LoadedCertAuth {
  const warnings: string[] = [];
  const key = privateKeyFromFile('tunnel.auth.key', a.key, readBounded('tunnel.auth.key', a.key));
  const kind = keyKindOf(key);
  if (kind.kind === 'other') throw new CredentialError('tunnel.auth.key', a.key, `a ${key.asymmetricKeyType} key cannot sign IKE AUTH; use Ed25519, ECDSA (P-256) or RSA`);
  if (kind.kind === 'rsa' && (kind.bits ?? 0) < 2048) throw new CredentialError('tunnel.auth.key', a.key, `RSA key of ${kind.bits} bits; at least 2048 are needed`);
  try {
    if (statSync(a.key).mode & 0o077) warnings.push(`tunnel.auth.key: ${a.key} can be read by other users; make it mode 0600`);
  } catch { /* read above; a race here is harmless */ }

  const chain = certsFrom('tunnel.auth.cert', a.cert);
  const own = chain[0]!;
  if (!certMatchesKey(own, key)) {
    throw new CredentialError('tunnel.auth.cert', a.cert, `certificate "${own.subject}" does not belong to the private key in tunnel.auth.key (${a.key})`);
  }
  const now = new Date(clock());
  if (now > own.notAfter) warnings.push(`tunnel.auth.cert: ${a.cert}: certificate "${own.subject}" expired on ${isoDate(own.notAfter)}; peers will refuse it`);
  if (now < own.notBefore) warnings.push(`tunnel.auth.cert: ${a.cert}: certificate "${own.subject}" is valid only from ${isoDate(own.notBefore)}`);

  if (a.ca.length === 0) throw new CredentialError('tunnel.auth.ca', '(none)', 'at least one CA certificate is needed to check the peer');
  const cas = a.ca.flatMap((f, i) => certsFrom(`tunnel.auth.ca[${i}]`, f));
  const crls = a.crl.flatMap((f, i) => {
    const field = `tunnel.auth.crl[${i}]`;
    const ders = crlsFromFile(readBounded(field, f));
    if (!ders.length) throw new CredentialError(field, f, 'holds no CRL (expected PEM "X509 CRL" or DER)');
    return ders.map((d) => {
      try {
        const c = parseCrl(d);
        if (c.nextUpdate && now > c.nextUpdate) warnings.push(`${field}: ${f}: CRL of "${c.issuer}" was due for an update on ${isoDate(c.nextUpdate)}; it is still used`);
        return d;
      } catch (err) {
        throw new CredentialError(field, f, (err as Error).message);
      }
    });
  });

  let localId: Identity;
  try {
    localId = identityFromText(localIdText);
  } catch (err) {
    throw new CredentialError('tunnel.localId', localIdText, (err as Error).message);
  }
  if (!certMatchesIdentity(own, localId)) {
    throw new CredentialError('tunnel.localId', localIdText, `is not in the certificate ${a.cert} (it holds ${certNames(own)}); peers would refuse it`);
  }
  // Send the DN exactly as the certificate encodes it, so peers comparing bytes agree too.
  if (localId.idType === IdType.DER_ASN1_DN && dnEqual(own.subjectDer, localId.data)) localId = { ...localId, data: own.subjectDer };

  return {
    auth: { kind: 'cert', key, chain: chain.map((c) => c.der), cas: cas.map((c) => c.der), crls, clock },
    own, localId, warnings,
  };
}
