// The tunnel policies the IKE targets use: the branch (initiator) and HQ (responder) of the
// interop tests, so strongSwan-captured seeds carry matching identities, proposals and selectors.
import type { CertAuth, TunnelPolicy } from '../../../firmware/ike/policy.ts';
import { KU } from '../../../firmware/pki/x509.ts';
import { policy } from '../../lib/ike-pair.ts';
import { issue, makeKey, type Issued } from '../../unit/pki/mini-ca.ts';

export const branchPolicy = (): TunnelPolicy => policy();
export const hqPolicy = (): TunnelPolicy => policy({ local: 'hq.example.net', remote: 'branch.example.net', localNet: ['10.2.0.0/24'], remoteNet: ['10.1.0.0/24'] });

// Certificate variants (ECDSA P-256 under one root), made once per process: IKE_AUTH inputs in
// certificate mode reach CERT/CERTREQ handling, chain validation and signature verification.
let pki: { root: Issued; branch: Issued; hq: Issued } | undefined;
function certs() {
  if (!pki) {
    const root = issue({ subject: 'C=CH, O=Outpost Fuzz, CN=Root CA', ca: true, keyUsage: KU.keyCertSign | KU.cRLSign });
    const leaf = (name: string) => issue({ subject: `C=CH, O=Outpost Fuzz, CN=${name}`, issuer: root, keys: makeKey('ec-p256'), san: { dns: [name] }, keyUsage: KU.digitalSignature });
    pki = { root, branch: leaf('branch.example.net'), hq: leaf('hq.example.net') };
  }
  return pki;
}
const certAuth = (own: Issued): CertAuth => ({ kind: 'cert', key: own.key, chain: [own.der], cas: [certs().root.der], crls: [], clock: () => Date.now() });
export const branchCertPolicy = (): TunnelPolicy => policy({ auth: certAuth(certs().branch), psk: undefined });
export const hqCertPolicy = (): TunnelPolicy => policy({ auth: certAuth(certs().hq), psk: undefined, local: 'hq.example.net', remote: 'branch.example.net', localNet: ['10.2.0.0/24'], remoteNet: ['10.1.0.0/24'] });
