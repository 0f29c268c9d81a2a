// Makes Jazzer.js's prebuilt libFuzzer addon loadable on this machine, without rebuilding it.
//
// @jazzer.js/fuzzer 4.0.0 ships fuzzer-linux-x64.node linked on a newer distribution: it asks for
// GLIBC_2.38 (only for __isoc23_strtol/strtoul, C23's strtol that also takes "0b" prefixes) and
// GLIBCXX_3.4.32 (only for std::ios_base_library_init, a symbol GCC 13 references to pull in
// iostream initialisation; the addon never calls or relocates it). Debian 12 has glibc 2.36 and
// libstdc++ 3.4.30, so dlopen refuses the file. When (and only when) that is the refusal, we write
// a copy to the temp dir whose version needs say GLIBC_2.2.5 / GLIBCXX_3.4 instead and whose two
// strtol imports are the classic ones (libFuzzer parses its decimal flags with them), and load
// that copy in place of the original through a require hook (redirect.cjs). node_modules is
// never modified. If the addon loads as shipped, it is used as shipped.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** The shipped addon for this platform, or undefined when @jazzer.js is not installed. */
export function shippedAddon() {
  let pkg;
  try { pkg = require.resolve('@jazzer.js/fuzzer/package.json'); } catch { return undefined; }
  const p = join(dirname(pkg), 'prebuilds', `fuzzer-${process.platform}-${process.arch}.node`);
  return existsSync(p) ? p : undefined;
}

/** dlopen in a child (a failed dlopen can leave a process in a bad state): '' or the error text. */
function loadError(path) {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path)})`], { encoding: 'utf8' });
  return r.status === 0 ? '' : (r.stderr || `exit ${r.status}`);
}

const VERSION_MAP = { 'GLIBC_2.38': 'GLIBC_2.2.5', 'GLIBCXX_3.4.32': 'GLIBCXX_3.4' };
const SYMBOL_MAP = { __isoc23_strtol: 'strtol', __isoc23_strtoul: 'strtoul' };

/** The System V ELF hash of a version name (vna_hash). */
function elfHash(s) {
  let h = 0;
  for (const c of Buffer.from(s, 'latin1')) {
    h = ((h << 4) + c) >>> 0;
    const g = h & 0xf0000000;
    if (g) h ^= g >>> 24;
    h = (h & ~g) >>> 0;
  }
  return h;
}

/** Returns the patched bytes, or throws naming what did not look as expected. */
export function patchAddon(input) {
  const b = Buffer.from(input);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) throw new Error('not a little-endian ELF64 file');
  const shoff = Number(b.readBigUInt64LE(0x28)), shentsize = b.readUInt16LE(0x3a), shnum = b.readUInt16LE(0x3c), shstrndx = b.readUInt16LE(0x3e);
  const secs = Array.from({ length: shnum }, (_, i) => {
    const o = shoff + i * shentsize;
    return { name: b.readUInt32LE(o), type: b.readUInt32LE(o + 4), offset: Number(b.readBigUInt64LE(o + 0x18)), size: Number(b.readBigUInt64LE(o + 0x20)), info: b.readUInt32LE(o + 0x2c) };
  });
  const cstr = (off) => b.toString('latin1', off, b.indexOf(0, off));
  const sec = (name) => {
    const s = secs.find((x) => cstr(secs[shstrndx].offset + x.name) === name);
    if (!s) throw new Error(`no ${name} section`);
    return s;
  };
  const dynstr = sec('.dynstr'), dynsym = sec('.dynsym'), verneed = sec('.gnu.version_r');
  const str = (off) => cstr(dynstr.offset + off);
  // Every Vernaux entry: [fileOffset, name].
  const aux = [];
  for (let o = verneed.offset, n = 0; n < verneed.info; n++) {
    const cnt = b.readUInt16LE(o + 2), next = b.readUInt32LE(o + 12);
    for (let a = o + b.readUInt32LE(o + 8), k = 0; k < cnt; k++) {
      aux.push([a, str(b.readUInt32LE(a + 8))]);
      const nx = b.readUInt32LE(a + 12);
      if (!nx) break;
      a += nx;
    }
    if (!next) break;
    o += next;
  }
  let versions = 0;
  for (const [a, name] of aux) {
    const to = VERSION_MAP[name];
    if (!to) continue;
    const target = aux.find(([, n]) => n === to);
    if (!target) throw new Error(`no ${to} version name to reuse`);
    b.writeUInt32LE(elfHash(to), a);
    b.writeUInt32LE(b.readUInt32LE(target[0] + 8), a + 8);
    versions++;
  }
  let symbols = 0;
  for (let i = 0; i < dynsym.size / 24; i++) {
    const so = dynsym.offset + i * 24;
    const to = SYMBOL_MAP[str(b.readUInt32LE(so))];
    if (!to) continue;
    // In place: the new name is a suffix of the old one, so a name sharing the old one's tail
    // (string tables merge suffixes) still reads the same.
    b.write(`${to}\0`, dynstr.offset + b.readUInt32LE(so), 'latin1');
    symbols++;
  }
  if (versions === 0) throw new Error('no GLIBC_2.38 / GLIBCXX_3.4.32 needs found');
  return { bytes: b, versions, symbols };
}

/**
 * What to run Jazzer with: { ok: true, env, note } where env carries OUTPOST_JAZZER_ADDON when a
 * patched copy is needed (redirect.cjs reads it), or { ok: false, reason }.
 */
export function prepareAddon() {
  const shipped = shippedAddon();
  if (!shipped) return { ok: false, reason: `@jazzer.js/fuzzer has no prebuilt addon for ${process.platform}-${process.arch} (npm install?)` };
  const err = loadError(shipped);
  if (!err) return { ok: true, env: {}, note: 'shipped addon' };
  if (!/GLIBC_2\.38|GLIBCXX_3\.4\.32/.test(err)) return { ok: false, reason: `the Jazzer.js addon does not load: ${err.split('\n').find((l) => /Error/.test(l)) ?? err}` };
  const orig = readFileSync(shipped);
  const dir = join(tmpdir(), 'outpost-jazzer');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `fuzzer-${createHash('sha256').update(orig).digest('hex').slice(0, 12)}.node`);
  if (!existsSync(out)) {
    const { bytes } = patchAddon(orig);
    const trial = `${out.slice(0, -5)}-trial-${process.pid}.node`;
    writeFileSync(trial, bytes);
    const e2 = loadError(trial);
    rmSync(trial, { force: true });
    if (e2) return { ok: false, reason: `the version-patched Jazzer.js addon does not load either: ${e2.split('\n')[0]}` };
    writeFileSync(`${out}.${process.pid}`, bytes);
    renameSync(`${out}.${process.pid}`, out); // atomic: parallel runs never see half a file
  }
  return { ok: true, env: { OUTPOST_JAZZER_ADDON: out }, note: `addon needs glibc 2.38/GLIBCXX_3.4.32; using a version-patched copy (${out})` };
}
