// The release, end to end: `node build.mjs release` for x64 twice (byte-identical) and for arm64
// (binaries checked with `file` to be aarch64, its manifest verified); the x64 bundle installed by
// scripts/install.sh into a scratch root, run with its own Node (--version, check-config), started
// as the branch box against an Outpost HQ in namespaces with the tunnel up; then updates: a bad
// signature and a changed file refused, a healthy update switching slots, and an update whose
// health check fails rolled back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { requireEnv } from '../lib/netns.ts';
import { buildTopology, ADDR } from '../lib/topology.ts';
import { OutpostDaemon, branchConfig } from '../lib/outpost-daemon.ts';
import { TarReader, writeTar, type TarFile } from '../../firmware/update/tar.ts';
import { signManifest } from '../../firmware/update/manifest.ts';
import { waitForLine } from '../lib/netns.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const VERSION = /FIRMWARE_VERSION = '([^']+)'/.exec(readFileSync(join(ROOT, 'firmware/daemon.ts'), 'utf8'))![1]!;
const bundlePath = (arch: string) => join(ROOT, 'dist/release', `outpost-${VERSION}-linux-${arch}.tar.gz`);
const stageDir = (arch: string) => join(ROOT, 'dist/release', `outpost-${VERSION}-linux-${arch}`);

function buildRelease(arch: string): string {
  const r = spawnSync(process.execPath, ['build.mjs', 'release', '--arch', arch], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `build failed:\n${r.stdout}\n${r.stderr}`);
  return createHash('sha256').update(readFileSync(bundlePath(arch))).digest('hex');
}

function entriesOf(file: string): TarFile[] {
  const out: TarFile[] = [];
  const r = new TarReader((h) => {
    const parts: Buffer[] = [];
    return { write: (c) => parts.push(Buffer.from(c)), end: () => out.push({ path: h.path, mode: h.mode, data: Buffer.concat(parts) }) };
  });
  r.push(gunzipSync(readFileSync(file)));
  r.end();
  return out;
}

const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) => spawnSync(cmd, args, { encoding: 'utf8', env });

/** A clean clone of HEAD in a temp dir sharing node_modules (and its cache of the Node runtime). */
function cloneHead(into: string): string {
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', ROOT, into], { stdio: 'pipe' });
  execFileSync('ln', ['-s', join(ROOT, 'node_modules'), join(into, 'node_modules')]);
  return into;
}

test('release: reproducible x64 bundle, arm64 bundle with aarch64 binaries and a verified manifest', { timeout: 600_000 }, (t) => {
  if (!requireEnv(t, { cmds: ['file', 'tar', 'npm', 'git', 'aarch64-linux-gnu-gcc', 'make'] })) return;
  // Two builds of the same commit in two different directories, with the same signing key.
  const tmp = mkdtempSync(join(tmpdir(), 'outpost-repro-'));
  try {
    const keyFile = join(tmp, 'key.pem');
    writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const shas = ['one', 'two'].map((n) => {
      const dir = cloneHead(join(tmp, n));
      const r = spawnSync(process.execPath, ['build.mjs', 'release', '--arch', 'x64'], { cwd: dir, encoding: 'utf8', env: { ...process.env, OUTPOST_RELEASE_KEY: keyFile } });
      assert.equal(r.status, 0, `build in ${dir} failed:\n${r.stdout}\n${r.stderr}`);
      return createHash('sha256').update(readFileSync(join(dir, 'dist/release', `outpost-${VERSION}-linux-x64.tar.gz`))).digest('hex');
    });
    assert.equal(shas[0], shas[1], 'two builds of one commit are byte-identical');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  buildRelease('x64');
  buildRelease('arm64');
  const arm = stageDir('arm64');
  for (const f of ['node/bin/node', 'lib/outpost_tun.node', 'lib/node_modules/@serialport/bindings-cpp/prebuilds/linux-arm64/@serialport+bindings-cpp.armv8.glibc.node']) {
    const what = execFileSync('file', ['-b', join(arm, f)], { encoding: 'utf8' });
    assert.match(what, /ELF 64-bit LSB .*ARM aarch64/, `${f}: ${what}`);
  }
  const x64 = stageDir('x64');
  assert.match(execFileSync('file', ['-b', join(x64, 'lib/outpost_tun.node')], { encoding: 'utf8' }), /x86-64/);
  // The arm64 manifest verified by the (x64) firmware built with the same key, and by its hashes.
  const v = run(join(x64, 'bin/outpost'), ['verify-bundle', bundlePath('arm64')]);
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /good signature .* files intact: outpost .* for linux-arm64/);
  const m = JSON.parse(readFileSync(join(arm, 'manifest.json'), 'utf8'));
  assert.equal(m.arch, 'arm64');
  assert.equal(m.node, '20.20.2');
  for (const f of m.files) assert.equal(createHash('sha256').update(readFileSync(join(arm, f.path))).digest('hex'), f.sha256, f.path);
  const listing = execFileSync('tar', ['-tvzf', bundlePath('arm64')], { encoding: 'utf8' }).trim().split('\n');
  assert.match(listing[0]!, /0\/0 .* manifest\.json$/, 'manifest first, owner 0/0');
  assert.match(listing[1]!, /manifest\.sig$/);
});

test('release: installed into a scratch root, runs with its Node, brings the tunnel up; updates refused, switched, rolled back', { timeout: 600_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'tar', 'ping'], files: [bundlePath('x64')] })) return;
  const scratch = mkdtempSync(join(tmpdir(), 'outpost-release-'));
  const root = join(scratch, 'opt'), etc = join(scratch, 'etc');
  const topo = buildTopology();
  let hq: OutpostDaemon | undefined;
  let branchProc: ReturnType<OutpostDaemon['ns']['spawn']> | undefined;
  try {
    const inst = run('sh', [join(ROOT, 'scripts/install.sh'), bundlePath('x64'), '--root', root, '--etc', etc, '--no-systemd']);
    assert.equal(inst.status, 0, inst.stdout + inst.stderr);
    assert.match(inst.stdout, /signed with key [0-9a-f]{16}/);
    assert.equal(readlinkSync(join(root, 'current')), 'a');
    const outpost = join(root, 'current/bin/outpost');
    assert.equal(run(outpost, ['--version']).stdout.trim(), `outpost ${VERSION}`);
    const cc = run(outpost, ['check-config', join(etc, 'outpost.json')]);
    assert.equal(cc.status, 0, cc.stderr);
    assert.match(cc.stdout, /valid/);
    assert.match(run(join(root, 'current/node/bin/node'), ['--version']).stdout, /^v20\.20\.2/);

    // The installed release as the branch box, an Outpost HQ (from source) as the responder.
    const psk = 'release-test-psk-0123456789';
    hq = new OutpostDaemon(topo.lab, topo.hq, {
      name: 'hq', config: {
        device: { id: 'hq-release' }, lan: { interface: topo.ifs.hqLan, address: `${ADDR.hqLan}/24` },
        tunnel: { remote: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net', auth: { psk }, localSubnets: [ADDR.hqSubnet], remoteSubnets: [ADDR.branchSubnet] },
      },
    });
    await hq.start().waitFor(/control socket listening/);
    const cfg = join(scratch, 'branch.json');
    writeFileSync(cfg, JSON.stringify(branchConfig({ psk })), { mode: 0o600 });
    const sock = join(scratch, 'branch.sock');
    branchProc = topo.lab.track(topo.branch.spawn(outpost, ['--config', cfg, '--control-socket', sock, '--tun', 'outpost0']));
    let log = '';
    branchProc.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
    await waitForLine(branchProc, (l) => /child-up/.test(l), 'child-up from the installed release').catch((e) => { throw new Error(`${e.message}\n${log}`); });
    topo.lanhost.run('ping', '-c', '2', '-W', '2', ADDR.hqhost);
    const statusCmd = `${outpost} status --json --socket ${sock}`;
    const st = JSON.parse(execFileSync('sh', ['-c', statusCmd], { encoding: 'utf8' }));
    assert.equal(st.tunnel.state, 'up');
    assert.equal(st.firmwareVersion, VERSION);

    // Updates, verified by the installed firmware.
    const entries = entriesOf(bundlePath('x64'));
    const write = (name: string, es: TarFile[]) => { const f = join(scratch, name); writeFileSync(f, gzipSync(writeTar(es, 1))); return f; };
    const forged = write('forged.tar.gz', entries.map((e) => (e.path === 'manifest.sig' ? { ...e, data: signManifest(entries[0]!.data, generateKeyPairSync('ed25519').privateKey) } : e)));
    const r1 = run(outpost, ['update', forged, '--root', root, '--no-restart', '--no-health']);
    assert.equal(r1.status, 1);
    assert.match(r1.stderr, /REFUSED .*forged\.tar\.gz: bad signature: manifest\.sig does not verify with the release key built into this firmware/);
    const changed = write('changed.tar.gz', entries.map((e) => (e.path === 'lib/outpost.mjs' ? { ...e, data: Buffer.concat([e.data.subarray(0, e.data.length - 1), Buffer.from('/')]) } : e)));
    const r2 = run(outpost, ['update', changed, '--root', root, '--no-restart', '--no-health']);
    assert.equal(r2.status, 1);
    assert.match(r2.stderr, /REFUSED .*lib\/outpost\.mjs: SHA-256 does not match the signed manifest/);
    assert.equal(readlinkSync(join(root, 'current')), 'a', 'still on a after the refusals');

    const r3 = run(outpost, ['update', bundlePath('x64'), '--root', root, '--no-restart', '--health-cmd', statusCmd, '--deadline', '30']);
    assert.equal(r3.status, 0, r3.stdout + r3.stderr);
    assert.match(r3.stdout, /healthy: tunnel up/);
    assert.equal(readlinkSync(join(root, 'current')), 'b');

    const r4 = run(join(root, 'current/bin/outpost'), ['update', bundlePath('x64'), '--root', root, '--no-restart',
      '--health-cmd', `${outpost} status --json --socket ${join(scratch, 'no-daemon.sock')}`, '--deadline', '3']);
    assert.equal(r4.status, 3, r4.stdout + r4.stderr);
    assert.match(r4.stderr, /did not become healthy .*; rolled back to slot b/);
    assert.equal(readlinkSync(join(root, 'current')), 'b', 'back on the version that was healthy');
  } finally {
    if (branchProc && branchProc.exitCode === null) {
      const done = new Promise((r) => branchProc!.once('exit', r));
      branchProc.kill('SIGTERM');
      await done;
    }
    await hq?.stop();
    await topo.lab.destroy();
    rmSync(scratch, { recursive: true, force: true });
  }
});
