// A deterministic ustar writer and a strict, bounded, streaming ustar reader for release bundles.
// Only regular files: the writer emits them in the order given (the caller sorts) with fixed
// owner (0/0, no names), the given mtime and mode; the reader refuses anything else (links,
// devices, pax headers), absolute or ".." paths, and sizes past its limits.

const BLOCK = 512;

export interface TarFile {
  path: string;
  data: Uint8Array;
  /** Permission bits, e.g. 0o644 or 0o755. */
  mode: number;
}

export class TarError extends Error {
  override readonly name = 'TarError';
}

function octal(n: number, width: number): string {
  // width-1 digits, then NUL (GNU and BSD tar read this form).
  const s = n.toString(8);
  if (s.length > width - 1) throw new TarError(`value ${n} does not fit a ${width}-byte tar field`);
  return s.padStart(width - 1, '0') + '\0';
}

/** Splits a path into ustar's prefix (<=155) and name (<=100) at a slash. */
function splitPath(path: string): { name: string; prefix: string } {
  const bytes = Buffer.byteLength(path);
  if (bytes <= 100) return { name: path, prefix: '' };
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== '/') continue;
    const prefix = path.slice(0, i), name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name.length > 0) return { name, prefix };
  }
  throw new TarError(`path too long for ustar: ${path}`);
}

export function checkEntryPath(path: string): string | null {
  if (path.length === 0 || path.length > 255) return 'empty or too long';
  if (path.startsWith('/')) return 'absolute';
  if (path.includes('\\') || /[\u0000-\u001f\u007f]/.test(path)) return 'has a backslash or control character';
  if (path.split('/').some((c) => c === '' || c === '.' || c === '..')) return 'has an empty, "." or ".." component';
  return null;
}

function header(f: TarFile, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  const { name, prefix } = splitPath(f.path);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(f.mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(f.data.length, 12), 124, 'ascii');
  h.write(octal(mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum counted as spaces
  h.write('0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

/** A tar archive of `files` in the given order, every entry stamped with `mtime` (seconds). */
export function writeTar(files: readonly TarFile[], mtime: number): Buffer {
  const parts: Buffer[] = [];
  const seen = new Set<string>();
  for (const f of files) {
    const bad = checkEntryPath(f.path);
    if (bad) throw new TarError(`bad path ${JSON.stringify(f.path)}: ${bad}`);
    if (seen.has(f.path)) throw new TarError(`duplicate path ${f.path}`);
    seen.add(f.path);
    parts.push(header(f, mtime), Buffer.from(f.data.buffer, f.data.byteOffset, f.data.length));
    const pad = (BLOCK - (f.data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

export interface TarHeader {
  path: string;
  mode: number;
  size: number;
  mtime: number;
}

/** Receives one entry's data in order; end() after the last byte. */
export interface EntrySink {
  write(chunk: Uint8Array): void;
  end(): void;
}

export interface TarLimits {
  maxEntries: number;
  maxEntryBytes: number;
  maxTotalBytes: number;
}

export const DEFAULT_TAR_LIMITS: TarLimits = { maxEntries: 20_000, maxEntryBytes: 512 * 1024 * 1024, maxTotalBytes: 1024 * 1024 * 1024 };

function parseOctal(b: Buffer, off: number, len: number, what: string): number {
  const s = b.toString('ascii', off, off + len).replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (s === '') return 0;
  if (!/^[0-7]{1,12}$/.test(s)) throw new TarError(`bad ${what} field in a tar header`);
  return Number.parseInt(s, 8);
}

function cString(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end === -1 || end > off + len ? off + len : end);
}

/**
 * Streaming reader: push() chunks as they arrive, end() at the end of input. For each entry it
 * calls onEntry(header) and feeds the returned sink. Throws TarError on anything unexpected.
 */
export class TarReader {
  private head = Buffer.alloc(BLOCK);
  private headFill = 0;
  private remaining = 0;
  private padding = 0;
  private sink: EntrySink | null = null;
  private entries = 0;
  private total = 0;
  private zeroBlocks = 0;
  private done = false;

  constructor(private readonly onEntry: (h: TarHeader) => EntrySink, private readonly limits: TarLimits = DEFAULT_TAR_LIMITS) {}

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.done) {
        // Trailing bytes after the end-of-archive marker must be zero padding.
        for (; i < chunk.length; i++) if (chunk[i] !== 0) throw new TarError('data after the end of the archive');
        return;
      }
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - i);
        this.sink!.write(chunk.subarray(i, i + n));
        this.remaining -= n;
        i += n;
        if (this.remaining === 0) { this.sink!.end(); this.sink = null; }
        continue;
      }
      if (this.padding > 0) {
        const n = Math.min(this.padding, chunk.length - i);
        this.padding -= n;
        i += n;
        continue;
      }
      const n = Math.min(BLOCK - this.headFill, chunk.length - i);
      this.head.set(chunk.subarray(i, i + n), this.headFill);
      this.headFill += n;
      i += n;
      if (this.headFill === BLOCK) {
        this.headFill = 0;
        this.onHeader();
      }
    }
  }

  /** Checks the archive ended cleanly. */
  end(): void {
    if (this.remaining > 0 || this.padding > 0 || this.headFill > 0) throw new TarError('the archive is truncated');
    if (!this.done) throw new TarError('the archive has no end-of-archive marker (truncated?)');
  }

  private onHeader(): void {
    const h = this.head;
    if (h.every((b) => b === 0)) {
      if (++this.zeroBlocks === 2) this.done = true;
      return;
    }
    if (this.zeroBlocks) throw new TarError('a lone zero block inside the archive');
    let sum = 0;
    for (let j = 0; j < BLOCK; j++) sum += j >= 148 && j < 156 ? 32 : h[j]!;
    if (parseOctal(h, 148, 8, 'checksum') !== sum) throw new TarError('tar header checksum mismatch');
    if (h.toString('ascii', 257, 262) !== 'ustar') throw new TarError('not a ustar archive');
    const type = String.fromCharCode(h[156]!);
    const name = cString(h, 0, 100), prefix = cString(h, 345, 155);
    const path = prefix ? `${prefix}/${name}` : name;
    if (type !== '0' && type !== '\0') throw new TarError(`entry ${JSON.stringify(path.slice(0, 100))} is not a regular file (type ${JSON.stringify(type)})`);
    const bad = checkEntryPath(path);
    if (bad) throw new TarError(`entry path ${JSON.stringify(path.slice(0, 100))} is ${bad}`);
    const size = parseOctal(h, 124, 12, 'size');
    if (++this.entries > this.limits.maxEntries) throw new TarError(`more than ${this.limits.maxEntries} entries`);
    if (size > this.limits.maxEntryBytes) throw new TarError(`entry ${path} is ${size} bytes, over the limit`);
    this.total += size;
    if (this.total > this.limits.maxTotalBytes) throw new TarError('the archive is larger than allowed');
    const header: TarHeader = { path, mode: parseOctal(h, 100, 8, 'mode') & 0o7777, size, mtime: parseOctal(h, 136, 12, 'mtime') };
    this.sink = this.onEntry(header);
    this.remaining = size;
    this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (size === 0) { this.sink.end(); this.sink = null; }
  }
}
