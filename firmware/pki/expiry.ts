// Our own certificate's expiry: the `certificate` part of `outpost status`, and a log warning
// well before the day (30 days by default), repeated daily, so the box is re-enrolled in time.
import type { CertificateStatus } from '../cli/status-model.ts';
import { logger, type Logger } from '../log.ts';
import { isoDate, type ParsedCert } from './x509.ts';

export const CERT_WARN_DAYS = 30;
const DAY_MS = 86400_000;

export function certificateStatus(cert: ParsedCert, now: number): CertificateStatus {
  return {
    subject: cert.subject, issuer: cert.issuer, notAfter: isoDate(cert.notAfter),
    daysLeft: Math.floor((cert.notAfter.getTime() - now) / DAY_MS),
  };
}

export interface ExpiryWatchOptions {
  warnDays?: number;
  /** How often to look again (default: every 12 hours). */
  intervalMs?: number;
  now?: () => number;
  log?: Logger;
}

/** Checks at start and then periodically; logs a warning while within `warnDays`, an error once expired. */
export class CertExpiryWatch {
  private timer?: NodeJS.Timeout;
  private readonly warnDays: number;
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(readonly cert: ParsedCert, private readonly opts: ExpiryWatchOptions = {}) {
    this.warnDays = opts.warnDays ?? CERT_WARN_DAYS;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? logger('pki');
  }

  status(): CertificateStatus {
    return certificateStatus(this.cert, this.now());
  }

  /** Logs if the certificate needs attention; returns what it found. */
  check(): 'ok' | 'expiring' | 'expired' {
    const s = this.status();
    const fields = { subject: s.subject, not_after: s.notAfter, days_left: s.daysLeft };
    if (this.now() > this.cert.notAfter.getTime()) {
      this.log.error('certificate-expired', { ...fields, hint: 'peers refuse it: issue a new certificate (outpost csr) and import it' });
      return 'expired';
    }
    if (s.daysLeft <= this.warnDays) {
      this.log.warn('certificate-expiring', { ...fields, hint: 'renew it before then (outpost csr, then outpost cert import)' });
      return 'expiring';
    }
    return 'ok';
  }

  start(): this {
    this.check();
    this.timer = setInterval(() => this.check(), this.opts.intervalMs ?? DAY_MS / 2);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

