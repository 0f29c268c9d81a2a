// The release manifest: what a bundle holds (every file with its size, mode and SHA-256), which
// firmware, for which architecture, built from which commit. manifest.sig is an Ed25519 signature
// over manifest.json's exact bytes; the key that must have made it is baked into the firmware.
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export const MANIFEST_FILE = 'manifest.json';
export const SIGNATURE_FILE = 'manifest.sig';
export const MANIFEST_FORMAT = 1;
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface ManifestFile {
  path: string;
  size: number;
  /** Permission bits (0o755 for programs, 0o644 otherwise). */
  mode: number;
  sha256: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  name: 'outpost';
  version: string;
  platform: 'linux';
  arch: 'arm64' | 'x64';
  /** The bundled Node runtime's version. */
  node: string;
  commit: string;
  sourceDateEpoch: number;
  /** Which key signed it: the first 16 hex digits of SHA-256 over the raw public key. */
  keyId: string;
  files: ManifestFile[];
}

export class BundleError extends Error {
  override readonly name = 'BundleError';
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** An Ed25519 public key from its raw 32 bytes (base64). */
export function publicKeyFromRaw(base64: string): KeyObject {
  const raw = Buffer.from(base64, 'base64');
  if (raw.length !== 32) throw new BundleError(`an Ed25519 public key is 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

/** The raw 32 bytes of an Ed25519 public key, base64. */
export function rawPublicKey(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' }) as { crv?: string; x?: string };
  if (jwk.crv !== 'Ed25519' || !jwk.x) throw new BundleError('the release key must be Ed25519');
  return Buffer.from(jwk.x, 'base64url').toString('base64');
}

export function keyIdOf(rawBase64: string): string {
  return sha256Hex(Buffer.from(rawBase64, 'base64')).slice(0, 16);
}

/** The manifest's canonical bytes (what is signed). */
export function encodeManifest(m: Manifest): Buffer {
  const files = [...m.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return Buffer.from(JSON.stringify({ ...m, files }, null, 2) + '\n', 'utf8');
}

/** The signature file's content: base64 of the 64-byte Ed25519 signature, one line. */
export function signManifest(bytes: Uint8Array, privateKey: KeyObject): Buffer {
  return Buffer.from(sign(null, bytes, privateKey).toString('base64') + '\n', 'ascii');
}

/** Checks the signature and parses the manifest; throws BundleError saying what is wrong. */
export function verifyManifest(bytes: Uint8Array, sigFile: Uint8Array, publicKey: KeyObject): Manifest {
  if (bytes.length > MAX_MANIFEST_BYTES) throw new BundleError('manifest.json is too large');
  const text = Buffer.from(sigFile).toString('ascii').trim();
  if (!/^[A-Za-z0-9+/]{86}==$/.test(text)) throw new BundleError('manifest.sig is not an Ed25519 signature (base64 of 64 bytes)');
  if (!verify(null, bytes, publicKey, Buffer.from(text, 'base64'))) {
    throw new BundleError('bad signature: manifest.sig does not verify with the release key built into this firmware (a bundle from someone else, or altered)');
  }
  let m: unknown;
  try {
    m = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new BundleError('manifest.json is not JSON');
  }
  return checkManifestShape(m);
}

function checkManifestShape(v: unknown): Manifest {
  const m = v as Partial<Manifest>;
  const fail = (what: string): never => { throw new BundleError(`manifest.json: ${what}`); };
  if (typeof m !== 'object' || m === null) fail('not an object');
  if (m.format !== MANIFEST_FORMAT) fail(`format ${String(m.format)} is not ${MANIFEST_FORMAT}`);
  if (m.name !== 'outpost') fail('not an Outpost release');
  if (typeof m.version !== 'string' || !/^[0-9A-Za-z.+-]{1,64}$/.test(m.version)) fail('bad version');
  if (m.platform !== 'linux' || (m.arch !== 'arm64' && m.arch !== 'x64')) fail('bad platform or arch');
  if (!Array.isArray(m.files) || m.files.length === 0 || m.files.length > 20_000) fail('bad file list');
  const seen = new Set<string>();
  for (const f of m.files!) {
    if (typeof f !== 'object' || f === null || typeof f.path !== 'string' || typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256)
      || !Number.isInteger(f.size) || f.size < 0 || !Number.isInteger(f.mode) || f.mode < 0 || f.mode > 0o7777) fail('bad file entry');
    if (seen.has(f.path)) fail(`${f.path} listed twice`);
    if (f.path === MANIFEST_FILE || f.path === SIGNATURE_FILE) fail(`${f.path} cannot list itself`);
    seen.add(f.path);
  }
  return m as Manifest;
}

/** The architecture name Node uses here, as a manifest arch (undefined for others). */
export function hostArch(): Manifest['arch'] | undefined {
  return process.arch === 'arm64' ? 'arm64' : process.arch === 'x64' ? 'x64' : undefined;
}
