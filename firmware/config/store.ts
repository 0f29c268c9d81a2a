// Config file persistence. Writes are atomic (temp file in the same directory, fsync, rename,
// fsync the directory) and 0600 (the file holds the PSK). Before a new config replaces a valid
// one, the old one is kept as FILE.lkg ("last known good"); loading falls back to it when the
// main file is missing, corrupt or invalid, and says so (the caller logs `fallback`).
import { open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { ConfigFileError, formatIssue, type ConfigIssue } from './errors.ts';
import { parseJsonText } from './json.ts';
import { validateConfig } from './validate.ts';
import type { ResolvedConfig } from './schema.ts';

export const MAX_CONFIG_BYTES = 1024 * 1024;
export const CONFIG_FILE_MODE = 0o600;

export function lkgPathFor(path: string): string {
  return `${path}.lkg`;
}

export interface ValidatedFile {
  /** The file that was read. */
  path: string;
  /** The JSON as written (defaults not applied): what `saveConfig` would write back. */
  raw: unknown;
  config: ResolvedConfig;
  warnings: ConfigIssue[];
  /** The exact bytes read. */
  text: string;
}

export interface LoadedConfig extends ValidatedFile {
  /** 'main' when the config file itself was used, 'lkg' when its last-known-good copy was. */
  source: 'main' | 'lkg';
  /** When source is 'lkg': why the main file could not be used. */
  fallback?: ConfigFileError;
}

export interface SaveResult {
  warnings: ConfigIssue[];
  /** True when the previous config was valid and is now the last-known-good copy. */
  lkgUpdated: boolean;
}

function errno(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

async function readText(path: string): Promise<{ text: string; mode: number }> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if (errno(e) === 'ENOENT') throw new ConfigFileError('missing', path, 'the file does not exist', [], { cause: e });
    throw new ConfigFileError('read', path, `cannot be opened (${errno(e) ?? (e as Error).message})`, [], { cause: e });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new ConfigFileError('read', path, 'is not a regular file');
    if (st.size > MAX_CONFIG_BYTES) throw new ConfigFileError('too-large', path, `is ${st.size} bytes; a config file is at most ${MAX_CONFIG_BYTES} bytes`);
    // Read at most MAX+1 bytes: the file may grow between stat and read.
    const buf = Buffer.alloc(Math.min(MAX_CONFIG_BYTES + 1, Math.max(st.size, 0) + 1));
    let n = 0;
    for (;;) {
      const r = await fh.read(buf, n, buf.length - n, n);
      if (r.bytesRead === 0) break;
      n += r.bytesRead;
      if (n === buf.length) break;
    }
    if (n > MAX_CONFIG_BYTES) throw new ConfigFileError('too-large', path, `is larger than ${MAX_CONFIG_BYTES} bytes`);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, n));
    } catch (e) {
      throw new ConfigFileError('parse', path, 'is not valid UTF-8 text (a binary or corrupted file?)', [], { cause: e });
    }
    return { text, mode: st.mode & 0o777 };
  } catch (e) {
    if (e instanceof ConfigFileError) throw e;
    throw new ConfigFileError('read', path, `cannot be read (${errno(e) ?? (e as Error).message})`, [], { cause: e });
  } finally {
    await fh.close();
  }
}

/** Parses and validates text as a config file; throws ConfigFileError ('parse' or 'invalid'). */
export function parseConfigText(path: string, text: string): Omit<ValidatedFile, 'text'> {
  const j = parseJsonText(text);
  if (!j.ok) throw new ConfigFileError('parse', path, `is not valid JSON: line ${j.line}, column ${j.column}: ${j.message}`);
  const v = validateConfig(j.value);
  if (!v.ok) throw new ConfigFileError('invalid', path, `has ${v.errors.length} error${v.errors.length === 1 ? '' : 's'}`, v.errors);
  return { path, raw: j.value, config: v.config, warnings: v.warnings };
}

/** Reads one file (no fallback): parsed, validated, with a warning if others can read it. */
export async function readConfigFile(path: string): Promise<ValidatedFile> {
  const { text, mode } = await readText(path);
  const r = parseConfigText(path, text);
  if (mode & 0o077) {
    r.warnings.push({ path: 'config', message: `${path} is readable by other users (mode ${mode.toString(8).padStart(4, '0')}) but holds secrets; run: chmod 600 ${path}` });
  }
  return { ...r, text };
}

/**
 * Loads the config: the main file if it is valid, else its last-known-good copy (source 'lkg',
 * with `fallback` saying what was wrong with the main file). Leftover temp files from an
 * interrupted save are removed first. Throws the main file's ConfigFileError when neither works.
 */
export async function loadConfig(path: string): Promise<LoadedConfig> {
  await cleanupTempFiles(path);
  try {
    return { ...(await readConfigFile(path)), source: 'main' };
  } catch (e) {
    if (!(e instanceof ConfigFileError)) throw e;
    const lkg = lkgPathFor(path);
    try {
      return { ...(await readConfigFile(lkg)), source: 'lkg', fallback: e };
    } catch (e2) {
      if (!(e2 instanceof ConfigFileError)) throw e2;
      const why = e2.kind === 'missing' ? 'there is no last-known-good copy' : `the last-known-good copy ${lkg} is not usable either (${e2.reason})`;
      throw new ConfigFileError(e.kind, e.path, `${e.reason}; ${why}`, e.issues, { cause: e });
    }
  }
}

/**
 * Validates `cfg` (the file form: defaults are not written, so later firmware can improve them)
 * and writes it atomically with mode 0600. If the current file is valid and differs, it becomes
 * FILE.lkg first. Throws ConfigFileError 'invalid' (nothing written) or 'write'.
 */
export async function saveConfig(path: string, cfg: unknown): Promise<SaveResult> {
  const v = validateConfig(cfg);
  if (!v.ok) throw new ConfigFileError('invalid', path, `refusing to save: ${v.errors.length} error${v.errors.length === 1 ? '' : 's'}`, v.errors);
  const text = JSON.stringify(cfg, null, 2) + '\n';
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) throw new ConfigFileError('too-large', path, `the config would be larger than ${MAX_CONFIG_BYTES} bytes`);
  await cleanupTempFiles(path);

  let lkgUpdated = false;
  let current: ValidatedFile | undefined;
  try {
    current = await readConfigFile(path);
  } catch (e) {
    if (!(e instanceof ConfigFileError)) throw e; // missing, corrupt or invalid: not worth keeping
  }
  if (current && current.text !== text) {
    await writeFileAtomic(lkgPathFor(path), current.text);
    lkgUpdated = true;
  }
  await writeFileAtomic(path, text);
  return { warnings: v.warnings, lkgUpdated };
}

function tempPrefix(path: string): string {
  return `.${basename(path)}.tmp.`;
}

/**
 * Writes `data` to `path` so that a crash at any point leaves either the old file or the new
 * one: temp file (0600) in the same directory, fsync, rename over, fsync the directory.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = CONFIG_FILE_MODE): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `${tempPrefix(path)}${process.pid}.${randomBytes(4).toString('hex')}`);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx', mode);
    await fh.chmod(mode); // the umask may have narrowed it; never widened, but be exact
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (e) {
    if (fh) await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw new ConfigFileError('write', path, `could not be written (${errno(e) ?? (e as Error).message})`, [], { cause: e });
  }
  try {
    const d = await open(dir, 'r');
    try { await d.sync(); } finally { await d.close(); }
  } catch (e) {
    throw new ConfigFileError('write', path, `was written but its directory could not be synced (${errno(e) ?? (e as Error).message})`, [], { cause: e });
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) === 'EPERM';
  }
}

/**
 * Removes temp files an interrupted save left next to `path`. A temp file whose writer is still
 * running (by the pid in its name) is left alone. Returns the removed paths.
 */
export async function cleanupTempFiles(path: string): Promise<string[]> {
  const dir = dirname(path);
  const prefix = tempPrefix(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const m = /^(\d+)\.[0-9a-f]+$/.exec(n.slice(prefix.length));
    if (m && pidAlive(Number(m[1]))) continue;
    try {
      await unlink(join(dir, n));
      removed.push(join(dir, n));
    } catch {
      // already gone or not ours to remove; loading does not depend on it
    }
  }
  return removed;
}

/** One line per problem, for logs and the console. */
export function describeConfigError(e: ConfigFileError): string[] {
  return [`${e.path}: ${e.reason}`, ...e.issues.map(formatIssue)];
}
