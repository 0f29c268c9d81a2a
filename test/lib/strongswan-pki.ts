// Certificates for the certificate interop tests, made by strongSwan's own `pki` tool (so the
// material is what a real HQ admin would produce): CAs, an intermediate, end certificates for
// each key type, an expired one, one from another CA, one whose names miss the identity, and
// a CRL. All in a temp directory that the caller removes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type KeyType = 'ecdsa' | 'ed25519' | 'rsa';

export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'outpost-pki-'));

  pki(args: string[], out: string): string {
    const data = execFileSync('pki', args, { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 20 });
    const path = join(this.dir, out);
    writeFileSync(path, data, { mode: 0o600 });
    return path;
  }

  key(name: string, type: KeyType): string {
    const size = type === 'ecdsa' ? ['--size', '256'] : type === 'rsa' ? ['--size', '2048'] : [];
    return this.pki(['--gen', '--type', type, ...size, '--outform', 'pem'], `${name}.key`);
  }

  /** A self-signed CA; returns { key, cert } paths. */
  ca(name: string, dn: string, type: KeyType = 'ecdsa'): { key: string; cert: string } {
    const key = this.key(name, type);
    const cert = this.pki(['--self', '--ca', '--in', key, '--type', 'priv', '--dn', dn, '--outform', 'pem'], `${name}.pem`);
    return { key, cert };
  }

  /** A certificate for `name` (SAN DNS name) issued by `ca`; extra pki args (dates, --ca) appended. */
  issue(name: string, ca: { key: string; cert: string }, o: { type?: KeyType; dn?: string; san?: string[]; extra?: string[]; file?: string } = {}): { key: string; cert: string } {
    const file = o.file ?? name;
    const key = this.key(file, o.type ?? 'ecdsa');
    const sans = (o.san ?? [name]).flatMap((s) => ['--san', s]);
    const cert = this.pki(['--issue', '--cacert', ca.cert, '--cakey', ca.key, '--type', 'priv', '--in', key,
      '--dn', o.dn ?? `C=CH, O=Outpost Test, CN=${name}`, ...sans, ...(o.extra ?? []), '--outform', 'pem'], `${file}.pem`);
    return { key, cert };
  }

  /** A CRL by `ca` revoking the given certificate files. */
  crl(ca: { key: string; cert: string }, revoke: string[], file = 'crl.pem'): string {
    return this.pki(['--signcrl', '--cacert', ca.cert, '--cakey', ca.key, '--reason', 'key-compromise',
      ...revoke.flatMap((c) => ['--cert', c]), '--outform', 'pem'], file);
  }

  /** Concatenates PEM files (end certificate first, then intermediates). */
  bundle(file: string, parts: string[]): string {
    const path = join(this.dir, file);
    writeFileSync(path, parts.map((p) => readFileSync(p, 'utf8')).join(''));
    return path;
  }

  read(path: string): string {
    return readFileSync(path, 'utf8');
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
