// Path validation for the peer's certificate (RFC 5280 section 6, the parts a site-to-site
// gateway needs): from the end certificate through intermediates the peer sent to one of the
// configured CAs, each signature verified, each certificate within its validity period, CA
// certificates marked as CAs, the end certificate fit for signing, nothing revoked by a
// configured CRL. Pure: the time comes in as an argument.
import { CertAuthError } from './errors.ts';
import { dnEqual } from './identity-match.ts';
import type { ParsedCrl } from './crl.ts';
import { serialKey } from './crl.ts';
import { KU, isoDate, parseCertificate, type ParsedCert } from './x509.ts';

/** Longest chain accepted, counting the end certificate and the intermediates. */
export const MAX_CHAIN = 8;

export interface TrustStore {
  anchors: ParsedCert[];
  crls: ParsedCrl[];
}

export interface ValidatedChain {
  end: ParsedCert;
  /** End certificate first, then intermediates, ending below the anchor. */
  path: ParsedCert[];
  anchor: ParsedCert;
}

function checkTime(c: ParsedCert, now: Date, role: string): void {
  if (now < c.notBefore) throw new CertAuthError('not-yet-valid', `${role} "${c.subject}" is valid only from ${isoDate(c.notBefore)} (now ${isoDate(now)})`);
  if (now > c.notAfter) throw new CertAuthError('expired', `${role} "${c.subject}" expired on ${isoDate(c.notAfter)} (now ${isoDate(now)})`);
}

const signedBy = (c: ParsedCert, issuer: ParsedCert): boolean => {
  try { return c.x509.verify(issuer.publicKey); } catch { return false; }
};

/** Validates `endDer` (+ intermediates) against the store at time `now`. Throws CertAuthError. */
export function validateChain(endDer: Buffer, extraDers: Buffer[], store: TrustStore, now: Date): ValidatedChain {
  if (extraDers.length > MAX_CHAIN) throw new CertAuthError('malformed', `peer sent ${extraDers.length + 1} certificates (limit ${MAX_CHAIN})`);
  const end = parseCertificate(endDer, 'peer certificate');
  const extras = extraDers.map((d, i) => parseCertificate(d, `peer intermediate certificate ${i + 1}`));
  checkTime(end, now, 'peer certificate');
  if (end.keyUsage !== undefined && !(end.keyUsage & KU.digitalSignature)) {
    throw new CertAuthError('key-usage', `peer certificate "${end.subject}" has a keyUsage without digitalSignature`);
  }
  const path: ParsedCert[] = [end];
  let cur = end;
  for (;;) {
    // The peer's own certificate configured as a CA pins it directly.
    const pinned = store.anchors.find((a) => a.der.equals(cur.der));
    if (pinned) return finish(end, path.slice(0, -1), pinned, store);
    const named = store.anchors.filter((a) => dnEqual(a.subjectDer, cur.issuerDer));
    const anchor = named.find((a) => signedBy(cur, a));
    if (anchor) {
      checkTime(anchor, now, 'CA certificate');
      return finish(end, path, anchor, store);
    }
    const next = extras.find((x) => !path.includes(x) && dnEqual(x.subjectDer, cur.issuerDer) && signedBy(cur, x));
    if (!next) {
      if (named.length) throw new CertAuthError('bad-signature', `certificate "${cur.subject}" names CA "${cur.issuer}" as issuer, but its signature does not verify with that CA's key`);
      const tampered = extras.find((x) => !path.includes(x) && dnEqual(x.subjectDer, cur.issuerDer));
      if (tampered) throw new CertAuthError('bad-signature', `certificate "${cur.subject}" does not verify with the key of its issuer "${tampered.subject}"`);
      throw new CertAuthError('unknown-ca', cur === end
        ? `peer certificate "${end.subject}" was issued by "${end.issuer}", which is not a configured CA`
        : `peer certificate "${end.subject}" chains up to "${cur.subject}", issued by "${cur.issuer}", which is not a configured CA`);
    }
    if (!next.isCa) throw new CertAuthError('unknown-ca', `issuer certificate "${next.subject}" is not a CA certificate (basicConstraints)`);
    if (next.keyUsage !== undefined && !(next.keyUsage & KU.keyCertSign)) throw new CertAuthError('key-usage', `issuer certificate "${next.subject}" may not sign certificates (keyUsage without keyCertSign)`);
    if (next.pathLen !== undefined && path.length - 1 > next.pathLen) throw new CertAuthError('unknown-ca', `intermediate CA "${next.subject}" allows ${next.pathLen} CA certificates below it`);
    checkTime(next, now, 'intermediate CA certificate');
    path.push(next);
    if (path.length > MAX_CHAIN) throw new CertAuthError('unknown-ca', `no configured CA within ${MAX_CHAIN} certificates of "${end.subject}"`);
    cur = next;
  }
}

function finish(end: ParsedCert, path: ParsedCert[], anchor: ParsedCert, store: TrustStore): ValidatedChain {
  // Each certificate against the CRLs of its issuer (the next one up, or the anchor).
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    const issuer = path[i + 1] ?? anchor;
    for (const crl of store.crls) {
      const when = crl.revoked.get(serialKey(c.serialHex));
      if (when && crl.check(issuer)) {
        throw new CertAuthError('revoked', `certificate "${c.subject}" (serial ${serialKey(c.serialHex)}) was revoked on ${isoDate(when)} by the CRL of "${crl.issuer}"`);
      }
    }
  }
  return { end, path: path.length ? path : [end], anchor };
}
