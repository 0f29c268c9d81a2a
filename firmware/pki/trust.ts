// The parsed form of a tunnel's certificate credentials, computed once per policy object and
// cached: our chain for CERT payloads, CERTREQ data from the CA keys, the trust store.
import type { CertAuth } from '../ike/policy.ts';
import type { TrustStore } from './chain.ts';
import { parseCrl } from './crl.ts';
import { caKeyHash, parseCertificate, type ParsedCert } from './x509.ts';

export interface Credentials {
  /** Our end certificate (first of the configured chain). */
  own: ParsedCert;
  store: TrustStore;
  /** Concatenated SHA-1 CA key hashes: CERTREQ data (RFC 7296 3.7). */
  certReq: Buffer;
}

const cache = new WeakMap<CertAuth, Credentials>();

export function credentials(auth: CertAuth): Credentials {
  let c = cache.get(auth);
  if (!c) {
    if (auth.chain.length === 0) throw new Error('certificate authentication without a certificate');
    const anchors = auth.cas.map((d, i) => parseCertificate(d, `CA certificate ${i + 1}`));
    c = {
      own: parseCertificate(auth.chain[0]!, 'our certificate'),
      store: { anchors, crls: auth.crls.map((d, i) => parseCrl(d, `CRL ${i + 1}`)) },
      certReq: Buffer.concat(anchors.map(caKeyHash)),
    };
    cache.set(auth, c);
  }
  return c;
}
