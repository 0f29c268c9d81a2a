// Reading a release bundle (a gzip'd or plain ustar archive, manifest.json and manifest.sig
// first): the signature is checked against the release key before any other file is accepted,
// then each file is written into a staging directory while its SHA-256 is computed, and compared
// with the signed manifest. Anything unlisted, missing, resized or changed is refused.
import { createReadStream } from 'node:fs';
import { closeSync, fchmodSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createHash, type Hash, type KeyObject } from 'node:crypto';
import { dirname, join } from 'node:path';
import { createGunzip } from 'node:zlib';
import {
  BundleError, MANIFEST_FILE, SIGNATURE_FILE, verifyManifest, type Manifest, type ManifestFile,
} from './manifest.ts';
import { TarError, TarReader, type EntrySink, type TarHeader } from './tar.ts';

const SMALL_MAX = 4 * 1024 * 1024;

/** Collects a small entry into memory (manifest, signature), bounded. */
class Collect implements EntrySink {
  readonly parts: Buffer[] = [];
  private size = 0;
  constructor(private readonly what: string, private readonly done: (b: Buffer) => void) {}
  write(c: Uint8Array): void {
    this.size += c.length;
    if (this.size > SMALL_MAX) throw new BundleError(`${this.what} is too large`);
    this.parts.push(Buffer.from(c));
  }
  end(): void { this.done(Buffer.concat(this.parts)); }
}

/** Writes a file into the staging directory while hashing it; compares at the end. */
class FileSink implements EntrySink {
  private readonly fd: number | null;
  private readonly hash: Hash = createHash('sha256');
  private size = 0;
  constructor(private readonly entry: ManifestFile, private readonly path: string | null, private readonly onDone: () => void) {
    if (path) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
      this.fd = openSync(path, 'wx', 0o600);
    } else {
      this.fd = null;
    }
  }
  write(c: Uint8Array): void {
    this.size += c.length;
    if (this.size > this.entry.size) throw new BundleError(`${this.entry.path}: larger than the signed manifest says (the bundle was altered)`);
    this.hash.update(c);
    if (this.fd !== null) writeSync(this.fd, c);
  }
  end(): void {
    if (this.fd !== null) {
      fchmodSync(this.fd, this.entry.mode);
      closeSync(this.fd);
    }
    if (this.size !== this.entry.size) throw new BundleError(`${this.entry.path}: ${this.size} bytes, the signed manifest says ${this.entry.size} (the bundle was altered or truncated)`);
    if (this.hash.digest('hex') !== this.entry.sha256) {
      throw new BundleError(`${this.entry.path}: SHA-256 does not match the signed manifest (the bundle was altered or damaged)`);
    }
    this.onDone();
  }
}

export interface ReadBundleOptions {
  publicKey: KeyObject;
  /** Where to write the files; undefined only verifies. Must not exist yet (created here). */
  into?: string;
}

/**
 * Verifies a bundle file and (with `into`) extracts it. Resolves with the manifest; rejects with
 * a BundleError naming the problem. On failure the caller removes `into`.
 */
export async function readBundle(file: string, opts: ReadBundleOptions): Promise<Manifest> {
  if (opts.into) mkdirSync(opts.into, { recursive: false, mode: 0o755 });
  let manifestBytes: Buffer | null = null;
  let manifest: Manifest | null = null;
  let files: Map<string, ManifestFile> | null = null;
  const seen = new Set<string>();
  let index = 0;
  const reader = new TarReader((h: TarHeader): EntrySink => {
    const i = index++;
    if (i === 0) {
      if (h.path !== MANIFEST_FILE) throw new BundleError(`not an Outpost bundle: ${MANIFEST_FILE} must come first, found ${JSON.stringify(h.path)}`);
      return new Collect(MANIFEST_FILE, (b) => { manifestBytes = b; });
    }
    if (i === 1) {
      if (h.path !== SIGNATURE_FILE) throw new BundleError(`not a signed bundle: ${SIGNATURE_FILE} must follow ${MANIFEST_FILE}`);
      return new Collect(SIGNATURE_FILE, (sig) => {
        manifest = verifyManifest(manifestBytes!, sig, opts.publicKey);
        files = new Map(manifest.files.map((f) => [f.path, f]));
      });
    }
    const entry = files!.get(h.path);
    if (!entry) throw new BundleError(`${h.path}: not in the signed manifest (the bundle was altered)`);
    if (seen.has(h.path)) throw new BundleError(`${h.path}: appears twice`);
    if (h.size !== entry.size) throw new BundleError(`${h.path}: ${h.size} bytes, the signed manifest says ${entry.size} (the bundle was altered)`);
    seen.add(h.path);
    return new FileSink(entry, opts.into ? join(opts.into, h.path) : null, () => {});
  });

  try {
    const gz = await isGzip(file);
    const src = createReadStream(file, { highWaterMark: 256 * 1024 });
    const input: AsyncIterable<Buffer> = gz ? src.pipe(createGunzip()) : src;
    try {
      for await (const chunk of input) reader.push(chunk);
    } finally {
      src.destroy();
    }
    reader.end();
    return finish();
  } catch (e) {
    throw wrap(e);
  }

  function finish(): Manifest {
    if (!manifest) throw new BundleError('the bundle is empty or has no manifest');
    const m: Manifest = manifest;
    const missing = m.files.filter((f) => !seen.has(f.path)).map((f) => f.path);
    if (missing.length) throw new BundleError(`missing from the bundle: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
    return m;
  }
}

async function isGzip(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await fh.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

function wrap(e: unknown): Error {
  if (e instanceof BundleError) return e;
  if (e instanceof TarError) return new BundleError(`not a valid bundle: ${e.message}`);
  const code = (e as { code?: string }).code;
  if (code?.startsWith('Z_')) return new BundleError(`the bundle is not a valid gzip file (${(e as Error).message})`);
  if (code === 'ENOENT') return new BundleError(`no such file: ${(e as { path?: string }).path ?? ''}`);
  return e as Error;
}
