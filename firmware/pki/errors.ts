// Why a certificate or a signature was refused. Every refusal carries one of these reasons so
// the log line (and the auth-failed event) says what went wrong in words a technician can act on.

export type CertRefusal =
  | 'expired'
  | 'not-yet-valid'
  | 'unknown-ca'
  | 'identity-mismatch'
  | 'bad-signature'
  | 'revoked'
  | 'key-usage'
  | 'no-certificate'
  | 'unsupported'
  | 'malformed';

const LABEL: Record<CertRefusal, string> = {
  expired: 'certificate expired',
  'not-yet-valid': 'certificate not yet valid',
  'unknown-ca': 'unknown CA',
  'identity-mismatch': 'identity mismatch',
  'bad-signature': 'bad signature',
  revoked: 'certificate revoked',
  'key-usage': 'unsuitable key usage',
  'no-certificate': 'no certificate',
  unsupported: 'unsupported algorithm',
  malformed: 'malformed certificate data',
};

/** A refused certificate, chain or signature; `message` starts with the reason's label. */
export class CertAuthError extends Error {
  override readonly name = 'CertAuthError';
  constructor(readonly reason: CertRefusal, detail: string) {
    super(`${LABEL[reason]}: ${detail}`);
  }
}

export const isCertAuthError = (e: unknown): e is CertAuthError => e instanceof CertAuthError;
