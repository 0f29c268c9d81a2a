// Certificates the box depends on (its IKE certificate and CAs, the broker CA and client
// certificate) are checked at start and then daily; one that expires within `warnDays`, or
// already has, is reported as a "certificate-expiring" event, so the fleet renews it in time.
import { X509Certificate } from 'node:crypto';
import type { ResolvedConfig } from '../config/schema.ts';
import { readSmall } from './system-metrics.ts';

export const DEFAULT_CERT_WARN_DAYS = 30;
const DAY_MS = 86_400_000;
const MAX_PEM_FILE = 1 << 20;
const MAX_CERTS_PER_FILE = 64;

export interface ExpiringCert {
  file: string;
  subject: string;
  /** ms since the epoch. */
  notAfter: number;
  /** Whole days left, negative once expired. */
  daysLeft: number;
}

/** The certificate files named by a config, each once. */
export function certFiles(cfg: Pick<ResolvedConfig, 'tunnel' | 'health'>): string[] {
  const files: string[] = [];
  const auth = cfg.tunnel.auth;
  if ('cert' in auth) files.push(auth.cert, ...auth.ca);
  if (cfg.health?.ca) files.push(cfg.health.ca);
  if (cfg.health?.cert) files.push(cfg.health.cert);
  return [...new Set(files)];
}

/** Parses every PEM certificate in `text` (a bundle may hold several); bad blocks are skipped. */
export function parsePemCertificates(text: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  const re = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
  for (let m; (m = re.exec(text)) && out.length < MAX_CERTS_PER_FILE;) {
    try { out.push(new X509Certificate(m[0])); } catch { /* not a certificate: the tunnel reports its own files */ }
  }
  return out;
}

/** Certificates in `files` that expire before now + warnDays. Unreadable files are skipped. */
export async function findExpiring(files: string[], now: number, warnDays = DEFAULT_CERT_WARN_DAYS): Promise<ExpiringCert[]> {
  const out: ExpiringCert[] = [];
  for (const file of files) {
    const text = await readSmall(file, MAX_PEM_FILE);
    if (text === null) continue;
    for (const c of parsePemCertificates(text)) {
      const notAfter = Date.parse(c.validTo);
      if (!Number.isFinite(notAfter) || notAfter - now > warnDays * DAY_MS) continue;
      out.push({ file, subject: c.subject.replace(/\n/g, ', ').slice(0, 256), notAfter, daysLeft: Math.floor((notAfter - now) / DAY_MS) });
    }
  }
  return out;
}
