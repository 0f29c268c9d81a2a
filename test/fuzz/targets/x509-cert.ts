// Jazzer target: a certificate as it arrives in an IKE CERT payload (DER) through the X.509
// parser the IKE_AUTH exchange uses, and the CA-key hash CERTREQ matching takes from it. A
// malformed certificate is a CertAuthError('malformed'), never another exception.
import { caKeyHash, parseCertificate } from '../../../firmware/pki/x509.ts';
import { isCertAuthError } from '../../../firmware/pki/errors.ts';
import { check } from './bug.ts';

export function fuzz(data: Buffer): void {
  let cert;
  try {
    cert = parseCertificate(Buffer.from(data), 'fuzzed certificate');
  } catch (e) {
    if (isCertAuthError(e)) return;
    throw e;
  }
  check(cert.subjectDer.length > 0 && cert.issuerDer.length > 0, 'empty subject or issuer');
  check(Number.isFinite(Number(cert.notBefore)) && Number.isFinite(Number(cert.notAfter)), 'validity is not a date');
  check(caKeyHash(cert).length === 20, 'CA key hash is not SHA-1 sized');
}
