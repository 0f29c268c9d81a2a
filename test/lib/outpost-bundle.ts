// Outpost as it ships, for the benchmarks: the daemon bundled with esbuild (as build.mjs does),
// the addons beside it, run with the daemon's Node options (board/node-flags.json) in a namespace.
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { controlRequest } from '../../firmware/cli/control-client.ts';
import type { StatusModel } from '../../firmware/cli/status-model.ts';
import { waitForLine, withTimeout } from './netns.ts';
import { ADDR, type Topology } from './topology.ts';

export const BENCH_PSK = 'bench-psk-0123456789abcdef';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The daemon's Node options, as bin/outpost and dist/outpost.mjs's shebang pass them. */
export const NODE_FLAGS = (JSON.parse(readFileSync(join(ROOT, 'board/node-flags.json'), 'utf8')) as { daemon: string[] }).daemon;

/** A fresh bundle in a temporary directory (the caller removes it). */
export async function bundleOutpost(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-'));
  await build({
    entryPoints: [join(ROOT, 'firmware/main.ts')], outfile: join(dir, 'outpost.mjs'), bundle: true, platform: 'node', format: 'esm',
    target: 'node20', logLevel: 'warning', external: ['*.node', 'serialport', '@serialport/*'],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  // The bundle keeps serialport external, as dist/ does: let it resolve from the repository.
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  for (const n of ['outpost_tun.node', 'outpost_esp.node']) {
    const src = join(ROOT, 'board/tun/build/Release', n);
    if (!existsSync(src)) throw new Error(`${src} missing: npm run build:native`);
    copyFileSync(src, join(dir, n));
  }
  return dir;
}

/** One daemon in a namespace, its output kept, its control socket at hand. */
export class OutpostProc {
  readonly proc: ChildProcess;
  readonly socket: string;
  output = '';
  constructor(topo: Topology, ns: Topology['branch'], readonly dir: string, bundle: string, name: string, config: unknown) {
    const cfg = join(dir, `${name}.json`);
    this.socket = join(dir, `${name}.sock`);
    writeFileSync(cfg, JSON.stringify(config), { mode: 0o600 });
    this.proc = topo.lab.track(ns.spawn('env', ['OUTPOST_LOG_LEVEL=info', process.execPath, ...NODE_FLAGS, join(bundle, 'outpost.mjs'), '--config', cfg, '--control-socket', this.socket, '--tun', `op${name}`], { cwd: dir }));
    const keep = (d: Buffer) => { this.output = (this.output + d.toString()).slice(-200_000); };
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
  }
  get pid(): number { return this.proc.pid!; }
  waitFor(re: RegExp, what: string, ms = 20_000): Promise<string> {
    return withTimeout(waitForLine(this.proc, (l) => re.test(l), what), ms, what).catch((e: Error) => { throw new Error(`${e.message}\n${this.output.slice(-3000)}`); });
  }
  status(): Promise<StatusModel> { return controlRequest('status', undefined, { socketPath: this.socket }) as Promise<StatusModel>; }
}

/** The benchmarks' site-to-site config, branch (initiator) or hq (responder, remote %any). */
export function outpostConfig(topo: Topology, role: 'branch' | 'hq', esp: string, remote?: string): unknown {
  const branch = role === 'branch';
  return {
    device: { id: `bench-${role}` },
    lan: { interface: branch ? topo.ifs.branchLan : topo.ifs.hqLan, address: `${branch ? ADDR.branchLan : ADDR.hqLan}/24` },
    tunnel: {
      remote: branch ? (remote ?? ADDR.hqWan) : '%any',
      localId: branch ? 'branch.example.net' : 'hq.example.net', remoteId: branch ? 'hq.example.net' : 'branch.example.net',
      auth: { psk: BENCH_PSK }, localSubnets: [branch ? ADDR.branchSubnet : ADDR.hqSubnet], remoteSubnets: [branch ? ADDR.hqSubnet : ADDR.branchSubnet],
      ike: [`${esp}-prfsha256-x25519`], esp: [esp], dpdSeconds: 30,
    },
  };
}
