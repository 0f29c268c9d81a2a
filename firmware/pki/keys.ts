// Private keys made on the box: Ed25519 or ECDSA P-256, written as PKCS#8 PEM to a file only
// root can read (0600), atomically (a temp file renamed into place), never overwriting an
// existing key unless asked. The key never leaves the box: what goes out is a CSR.
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync, fchmodSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export const KEY_TYPES = ['ed25519', 'ecdsa-p256'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export const isKeyType = (t: unknown): t is KeyType => (KEY_TYPES as readonly unknown[]).includes(t);

export function generatePrivateKey(type: KeyType): KeyObject {
  return type === 'ed25519' ? generateKeyPairSync('ed25519').privateKey : generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

export function privateKeyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** SHA-256 of the public key's SubjectPublicKeyInfo, hex: names a key without showing it. */
export function publicKeyId(key: KeyObject): string {
  return createHash('sha256').update(createPublicKey(key).export({ type: 'spki', format: 'der' })).digest('hex');
}

/** Writes `data` to `path` with `mode`, via a temp file in the same directory and a rename. */
export function writeFileAtomic(path: string, data: string | Buffer, mode: number): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    fchmodSync(fd, mode); // the umask may have taken bits away; set exactly what we want
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

export class KeyFileExistsError extends Error {
  override readonly name = 'KeyFileExistsError';
}

export interface GeneratedKey {
  path: string;
  type: KeyType;
  key: KeyObject;
  /** SHA-256 of the public key (hex). */
  publicKeyId: string;
}

/** Generates a key and writes it to `path` (0600). Refuses to replace an existing file unless `force`. */
export function generateKeyFile(path: string, type: KeyType, opts: { force?: boolean } = {}): GeneratedKey {
  if (!opts.force && existsSync(path)) throw new KeyFileExistsError(`${path} exists; pass --force to replace it (the old key is lost for good)`);
  const key = generatePrivateKey(type);
  writeFileAtomic(path, privateKeyPem(key), 0o600);
  return { path, type, key, publicKeyId: publicKeyId(key) };
}
