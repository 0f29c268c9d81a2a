#!/usr/bin/env node
// Bundles the daemon (firmware/main.ts) into dist/outpost.mjs and the technician's tool into
// dist/outpost-provision.mjs with esbuild. Native addons stay external and are copied beside the
// bundle, where board/tun/index.ts looks for them first.
//
// `node build.mjs release --arch arm64|x64` also makes a release bundle a technician can install
// (docs/release.md): dist/release/outpost-VERSION-linux-ARCH.tar.gz with the bundles, a pinned
// Node runtime and the native addons for that architecture, the systemd unit, a default config,
// the install script and a manifest with the SHA-256 of every file, signed with Ed25519. Two
// builds from the same commit are byte-identical (fixed mtimes from SOURCE_DATE_EPOCH, sorted
// entries, owner 0/0, our own tar writer, gzip without a timestamp).
//
// The signing key: OUTPOST_RELEASE_KEY=/path/to/key.pem (PKCS#8 Ed25519) for real releases;
// otherwise a development key made once under .keys/ (gitignored). Its public half is baked into
// the bundles (esbuild define __OUTPOST_RELEASE_KEY__, read by firmware/release-key.ts).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import {
  chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

const outdir = 'dist';
mkdirSync(outdir, { recursive: true });

// --- the release key -----------------------------------------------------------------------------

const DEV_KEY = '.keys/release-dev-ed25519.pem';

function releaseKey() {
  const path = process.env.OUTPOST_RELEASE_KEY;
  let privateKey;
  let kind;
  if (path) {
    privateKey = createPrivateKey(readFileSync(path));
    kind = 'production';
  } else {
    if (!existsSync(DEV_KEY)) {
      mkdirSync(dirname(DEV_KEY), { recursive: true, mode: 0o700 });
      const { privateKey: k } = generateKeyPairSync('ed25519');
      writeFileSync(DEV_KEY, k.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      console.log(`build: made a development release key ${DEV_KEY} (bundles it signs install only on boxes built with it)`);
    }
    privateKey = createPrivateKey(readFileSync(DEV_KEY));
    kind = 'development';
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('the release key must be Ed25519 (PKCS#8 PEM)');
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  const publicRaw = Buffer.from(jwk.x, 'base64url').toString('base64');
  const committed = /PRODUCTION_RELEASE_KEY: string \| null = '([A-Za-z0-9+/=]+)'/.exec(readFileSync('firmware/release-key.ts', 'utf8'))?.[1];
  if (kind === 'production' && committed && committed !== publicRaw) {
    throw new Error('OUTPOST_RELEASE_KEY does not match PRODUCTION_RELEASE_KEY in firmware/release-key.ts');
  }
  return { privateKey, publicRaw, kind, keyId: createHash('sha256').update(Buffer.from(publicRaw, 'base64')).digest('hex').slice(0, 16) };
}

const key = releaseKey();

// --- the bundles ---------------------------------------------------------------------------------

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'eof',
  logLevel: 'warning',
  external: ['*.node', 'serialport', '@serialport/*'],
  define: { __OUTPOST_RELEASE_KEY__: JSON.stringify(`${key.kind}:${key.publicRaw}`) },
  // ESM output still meets CommonJS dependencies that call require(); give them one.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
};

// The daemon's Node options (board/node-flags.json) ride in its shebang and in the release's bin/outpost.
const NODE_FLAGS = JSON.parse(readFileSync('board/node-flags.json', 'utf8')).daemon.join(' ');
await build({ ...common, entryPoints: ['firmware/main.ts'], outfile: `${outdir}/outpost.mjs`, banner: { js: `#!/usr/bin/env -S node ${NODE_FLAGS}\n${common.banner.js}` } });
chmodSync(`${outdir}/outpost.mjs`, 0o755);
// The technician's tool (runs on the laptop; needs serialport from node_modules there).
await build({ ...common, entryPoints: ['provisioning/provision-tool.ts'], outfile: `${outdir}/outpost-provision.mjs`, banner: { js: `#!/usr/bin/env node\n${common.banner.js}` } });
chmodSync(`${outdir}/outpost-provision.mjs`, 0o755);

const ADDONS = [['outpost_tun', 'will not open TUN devices'], ['outpost_esp', 'will use the slower JavaScript ESP path']];
for (const [name, without] of ADDONS) {
  const addon = `board/tun/build/Release/${name}.node`;
  if (existsSync(addon)) copyFileSync(addon, `${outdir}/${name}.node`);
  else console.warn(`build: ${addon} is missing (run npm run build:native); the bundle ${without}`);
}
console.log(`build: ${outdir}/outpost.mjs ${outdir}/outpost-provision.mjs (release key ${key.kind} ${key.keyId})`);


// --- the release ---------------------------------------------------------------------------------

/** The Node runtime shipped in releases: the npm registry's node-linux-* packages, pinned by version and integrity. */
const NODE_VERSION = '20.20.2';
const NODE_INTEGRITY = {
  arm64: 'sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==',
  x64: 'sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==',
};
const CACHE = 'node_modules/.cache/outpost-release';
const TOOLCHAIN = {
  arm64: { CC: 'aarch64-linux-gnu-gcc', CXX: 'aarch64-linux-gnu-g++', LINK: 'aarch64-linux-gnu-g++', AR: 'aarch64-linux-gnu-ar', STRIP: 'aarch64-linux-gnu-strip', apt: 'gcc-aarch64-linux-gnu g++-aarch64-linux-gnu' },
  x64: { CC: 'x86_64-linux-gnu-gcc', CXX: 'x86_64-linux-gnu-g++', LINK: 'x86_64-linux-gnu-g++', AR: 'x86_64-linux-gnu-ar', STRIP: 'x86_64-linux-gnu-strip', apt: 'gcc-x86-64-linux-gnu g++-x86-64-linux-gnu' },
};

function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

function fail(msg) {
  console.error(`build release: ${msg}`);
  process.exit(1);
}

/** The pinned Node package for `arch`, fetched once with `npm pack` and checked against its integrity. */
function nodeRuntime(arch) {
  const pkg = `node-linux-${arch}`;
  const tgz = join(CACHE, `${pkg}-${NODE_VERSION}.tgz`);
  const dir = join(CACHE, `${pkg}-${NODE_VERSION}`);
  mkdirSync(CACHE, { recursive: true });
  if (!existsSync(tgz)) {
    console.log(`build release: npm pack ${pkg}@${NODE_VERSION}`);
    sh('npm', ['pack', `${pkg}@${NODE_VERSION}`, '--pack-destination', CACHE, '--silent']);
  }
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
  if (integrity !== NODE_INTEGRITY[arch]) {
    rmSync(tgz, { force: true });
    fail(`${tgz} does not match the pinned integrity (${integrity}); removed it, run again`);
  }
  if (!existsSync(join(dir, 'package/bin/node'))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    sh('tar', ['-xzf', tgz, '-C', dir]);
  }
  return join(dir, 'package');
}

/** Builds the native addons for `arch` against the pinned Node's headers, in a fixed directory (same paths, same bytes). */
function nativeAddons(arch, nodeDir) {
  const tc = TOOLCHAIN[arch];
  const host = process.arch === 'arm64' ? 'arm64' : 'x64';
  const env = { ...process.env };
  delete env.npm_config_nodedir;
  if (arch !== host) {
    try { sh('which', [tc.CC]); } catch { fail(`${tc.CC} is missing: apt-get install ${tc.apt} (scripts/setup.sh installs it)`); }
    Object.assign(env, { CC: tc.CC, CXX: tc.CXX, LINK: tc.LINK, AR: tc.AR });
  }
  const work = join('dist/release/.build', `native-${arch}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  copyFileSync('board/tun/binding.gyp', join(work, 'binding.gyp'));
  cpSync('board/tun/src', join(work, 'src'), { recursive: true });
  console.log(`build release: native addons for ${arch}${arch !== host ? ` with ${tc.CC}` : ''}`);
  try {
    sh(process.execPath, ['node_modules/node-gyp/bin/node-gyp.js', 'rebuild', '--directory', work, `--arch=${arch}`, `--nodedir=${resolve(nodeDir)}`, '--release'], { env });
  } catch (e) {
    fail(`node-gyp failed:\n${e.stderr || e.message}`);
  }
  const out = {};
  for (const f of readdirSync(join(work, 'build/Release')).filter((n) => n.endsWith('.node')).sort()) {
    const p = join(work, 'build/Release', f);
    sh(arch === host ? 'strip' : tc.STRIP, ['--strip-unneeded', p]);
    out[f] = readFileSync(p);
  }
  if (!out['outpost_tun.node']) fail('the TUN addon was not built');
  return out;
}

/** serialport and what it needs at run time, for `arch` only (other prebuilds, sources and build-time packages left out). */
function serialportTree(arch) {
  const files = [];
  const seen = new Set();
  const skipFile = /\.(md|markdown|map|ts|mts|cts|cc|cpp|c|h|hpp|gyp|gypi|yml|yaml)$|^(\.npmignore|\.eslintrc.*|tsconfig.*\.json)$/i;
  const visit = (pkgDir) => {
    if (seen.has(pkgDir)) return;
    seen.add(pkgDir);
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    const walk = (d) => {
      for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const p = join(d, e.name);
        const rel = relative(pkgDir, p);
        if (e.isDirectory()) {
          if (e.name === 'node_modules' || e.name === 'test' || e.name === 'build' || e.name === '.github') continue;
          if (rel.startsWith('prebuilds') && rel !== 'prebuilds' && rel !== `prebuilds/linux-${arch}`) continue;
          walk(p);
        } else if (e.isFile() && !skipFile.test(e.name)) {
          files.push({ path: join('lib', p), data: readFileSync(p), mode: 0o644 });
        }
      }
    };
    walk(pkgDir);
    for (const dep of Object.keys(pkg.dependencies ?? {})) {
      if (dep === 'node-addon-api') continue; // headers for building, not needed at run time
      // Node's lookup: DIR/node_modules/DEP for DIR = the package and each enclosing package, then the top.
      const candidates = [];
      for (let base = pkgDir; ; ) {
        candidates.push(join(base, 'node_modules', dep));
        const idx = base.lastIndexOf('/node_modules/');
        if (idx < 0) break;
        base = base.slice(0, idx);
      }
      candidates.push(join('node_modules', dep));
      const found = candidates.find((c) => existsSync(join(c, 'package.json')));
      if (!found) fail(`cannot find ${dep} (needed by ${pkg.name})`);
      visit(found);
    }
  };
  visit('node_modules/serialport');
  return files;
}

const WRAPPER = (entry, flags = '') => `#!/bin/sh
# Runs ${entry} with the Node runtime this release was built and tested with.
here=$(dirname "$(readlink -f "$0")")
exec "$here/../node/bin/node" ${flags ? `${flags} ` : ''}"$here/../lib/${entry}" "$@"
`;

/** The config installed when there is none: valid, harmless (HQ "hq.invalid" never resolves), replaced by provisioning. */
const DEFAULT_CONFIG = {
  device: { id: 'unprovisioned' },
  lan: { interface: 'eth1', address: '192.168.50.1/24' },
  tunnel: {
    remote: 'hq.invalid', localId: 'unprovisioned.invalid', remoteId: 'hq.invalid',
    auth: { psk: 'not-provisioned-set-this-over-the-serial-console' },
    remoteSubnets: ['10.255.255.0/24'],
  },
};

function tarFiles(files, mtime) {
  // The same ustar layout as firmware/update/tar.ts (which reads it back and has the tests).
  const parts = [];
  const octal = (n, w) => n.toString(8).padStart(w - 1, '0') + '\0';
  for (const f of files) {
    const h = Buffer.alloc(512);
    let name = f.path, prefix = '';
    if (Buffer.byteLength(name) > 100) {
      const i = [...f.path].map((c, j) => (c === '/' ? j : -1)).filter((j) => j > 0 && j <= 155 && Buffer.byteLength(f.path.slice(j + 1)) <= 100)[0];
      if (i === undefined) fail(`path too long for ustar: ${f.path}`);
      prefix = f.path.slice(0, i);
      name = f.path.slice(i + 1);
    }
    h.write(name, 0, 100, 'utf8');
    h.write(octal(f.mode, 8), 100, 'ascii');
    h.write(octal(0, 8), 108, 'ascii');
    h.write(octal(0, 8), 116, 'ascii');
    h.write(octal(f.data.length, 12), 124, 'ascii');
    h.write(octal(mtime, 12), 136, 'ascii');
    h.write('        ', 148, 'ascii');
    h.write('0', 156, 'ascii');
    h.write('ustar\0', 257, 'ascii');
    h.write('00', 263, 'ascii');
    h.write(prefix, 345, 155, 'utf8');
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
    parts.push(h, f.data);
    const pad = (512 - (f.data.length % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

async function release(args) {
  const i = args.indexOf('--arch');
  const arch = i >= 0 ? args[i + 1] : undefined;
  if (arch !== 'arm64' && arch !== 'x64') fail('usage: node build.mjs release --arch arm64|x64');
  const version = /FIRMWARE_VERSION = '([^']+)'/.exec(readFileSync('firmware/daemon.ts', 'utf8'))?.[1] ?? fail('no FIRMWARE_VERSION in firmware/daemon.ts');
  let commit = 'unknown', epoch = Number(process.env.SOURCE_DATE_EPOCH);
  try {
    commit = sh('git', ['rev-parse', 'HEAD']).trim();
    if (sh('git', ['status', '--porcelain', '--untracked-files=no']).trim() !== '') commit += '+dirty';
    if (!Number.isInteger(epoch)) epoch = Number(sh('git', ['log', '-1', '--format=%ct']).trim());
  } catch { /* not a git checkout: SOURCE_DATE_EPOCH must say when */ }
  if (!Number.isInteger(epoch) || epoch <= 0) fail('set SOURCE_DATE_EPOCH (no git commit to take it from)');

  const nodeDir = nodeRuntime(arch);
  const addons = nativeAddons(arch, nodeDir);
  const files = [
    { path: 'bin/outpost', data: Buffer.from(WRAPPER('outpost.mjs', NODE_FLAGS)), mode: 0o755 },
    { path: 'lib/outpost.mjs', data: readFileSync('dist/outpost.mjs'), mode: 0o644 },
    { path: 'node/bin/node', data: readFileSync(join(nodeDir, 'bin/node')), mode: 0o755 },
    { path: 'node/LICENSE', data: readFileSync(join(nodeDir, 'LICENSE')), mode: 0o644 },
    { path: 'systemd/outpost.service', data: readFileSync('board/systemd/outpost.service'), mode: 0o644 },
    { path: 'config/outpost.json', data: Buffer.from(JSON.stringify(DEFAULT_CONFIG, null, 2) + '\n'), mode: 0o644 },
    { path: 'install.sh', data: readFileSync('scripts/install.sh'), mode: 0o755 },
    { path: 'LICENSE', data: readFileSync('LICENSE'), mode: 0o644 },
    ...Object.entries(addons).map(([n, data]) => ({ path: `lib/${n}`, data, mode: 0o644 })),
    ...serialportTree(arch),
  ];
  if (existsSync('dist/outpost-provision.mjs')) {
    files.push({ path: 'bin/outpost-provision', data: Buffer.from(WRAPPER('outpost-provision.mjs')), mode: 0o755 });
    files.push({ path: 'lib/outpost-provision.mjs', data: readFileSync('dist/outpost-provision.mjs'), mode: 0o644 });
  }
  for (const doc of ['docs/technician.md', 'docs/release.md']) if (existsSync(doc)) files.push({ path: doc, data: readFileSync(doc), mode: 0o644 });
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  const manifest = {
    format: 1, name: 'outpost', version, platform: 'linux', arch, node: NODE_VERSION, commit, sourceDateEpoch: epoch, keyId: key.keyId,
    files: files.map((f) => ({ path: f.path, size: f.data.length, mode: f.mode, sha256: createHash('sha256').update(f.data).digest('hex') })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2) + '\n');
  const sig = Buffer.from(sign(null, manifestBytes, key.privateKey).toString('base64') + '\n');
  const entries = [{ path: 'manifest.json', data: manifestBytes, mode: 0o644 }, { path: 'manifest.sig', data: sig, mode: 0o644 }, ...files];

  const name = `outpost-${version}-linux-${arch}`;
  const rel = 'dist/release';
  const stage = join(rel, name);
  rmSync(stage, { recursive: true, force: true });
  for (const f of entries) {
    mkdirSync(dirname(join(stage, f.path)), { recursive: true });
    writeFileSync(join(stage, f.path), f.data, { mode: f.mode });
    chmodSync(join(stage, f.path), f.mode);
  }
  const bundle = join(rel, `${name}.tar.gz`);
  const gz = gzipSync(tarFiles(entries, epoch), { level: 9 });
  writeFileSync(bundle, gz);
  const digest = createHash('sha256').update(gz).digest('hex');
  writeFileSync(`${bundle}.sha256`, `${digest}  ${name}.tar.gz\n`);
  const mb = (n) => (n / 1048576).toFixed(1);
  console.log(`build release: ${bundle} (${mb(gz.length)} MB, ${files.length} files, node ${NODE_VERSION}, commit ${commit.slice(0, 12)}, ${key.kind} key ${key.keyId})`);
  console.log(`build release: sha256 ${digest}`);
  console.log(`build release: unpacked copy in ${stage}/ (${mb(files.reduce((s, f) => s + f.data.length, 0))} MB)`);
}

if (process.argv[2] === 'release') await release(process.argv.slice(3));
