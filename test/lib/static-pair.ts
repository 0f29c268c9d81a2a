// Two static-key peers (test/lib/static-peer.ts) in the standard topology: branch and hq each run
// Outpost's data plane with mirrored keys, so lanhost <-> hqhost traffic crosses ESP-in-UDP.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { aeadByName } from '../../firmware/crypto/aeads.ts';
import { waitForLine } from './netns.ts';
import { ADDR, type Topology } from './topology.ts';
import type { StaticPeerConfig } from './static-peer.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNNER = fileURLToPath(new URL('./static-peer.ts', import.meta.url));

export interface StaticPair {
  branch: ChildProcess;
  hq: ChildProcess;
  /** The keying each side was given (branch's keyOut is hq's keyIn, and so on). */
  config: { branch: StaticPeerConfig; hq: StaticPeerConfig };
  /** Removes the key files (the processes are the Lab's to end). */
  cleanup(): void;
}

/** What a peer prints on SIGUSR1 / SIGTERM. */
export interface PeerStatus {
  dataplane: {
    children: Array<{ spiIn: string; spiOut: string; packetsIn: number; packetsOut: number; bytesIn: number; bytesOut: number; drops: Record<string, number> }>;
    drops: Record<string, number>;
    packetsIn: number;
    packetsOut: number;
  };
  udp: Record<string, number>;
  cpuMicros: number;
}

export interface PairOptions {
  aead: string;
  esn?: boolean;
  mtu?: number;
}

/** Starts both peers (tracked by the topology's Lab) and resolves once both print "ready". */
export async function startStaticPair(topo: Topology, o: PairOptions): Promise<StaticPair> {
  const alg = aeadByName(o.aead);
  if (!alg) throw new Error(`unknown AEAD ${o.aead}`);
  const keyBytes = alg.keyBytes + 4;
  const k1 = randomBytes(keyBytes).toString('hex'), k2 = randomBytes(keyBytes).toString('hex');
  // SPIs >= 256 (RFC 4303 2.1), distinct per direction.
  const s1 = ((0xc0000000 | randomBytes(3).readUIntBE(0, 3)) >>> 0).toString(16).padStart(8, '0');
  const s2 = ((0xd0000000 | randomBytes(3).readUIntBE(0, 3)) >>> 0).toString(16).padStart(8, '0');
  const common = { aead: alg.name, esn: o.esn ?? false, mtu: o.mtu ?? 1400, port: 4500 };
  const branch: StaticPeerConfig = {
    ...common, tun: 'opstatic', bindAddress: ADDR.branchWan, remote: { address: ADDR.hqWan, port: 4500 },
    spiIn: s1, spiOut: s2, keyIn: k1, keyOut: k2,
    localSubnets: [ADDR.branchSubnet], remoteSubnets: [ADDR.hqSubnet], routeSrc: ADDR.branchLan,
  };
  const hq: StaticPeerConfig = {
    ...common, tun: 'opstatic', bindAddress: ADDR.hqWan, remote: { address: ADDR.branchWan, port: 4500 },
    spiIn: s2, spiOut: s1, keyIn: k2, keyOut: k1,
    localSubnets: [ADDR.hqSubnet], remoteSubnets: [ADDR.branchSubnet], routeSrc: ADDR.hqLan,
  };
  const dir = mkdtempSync(join(tmpdir(), 'outpost-static-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    const start = (ns: Topology['branch'], name: string, cfg: StaticPeerConfig) => {
      const file = join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify(cfg), { mode: 0o600 });
      return keepTail(topo.lab.track(ns.spawn(process.execPath, ['--import', 'tsx', RUNNER, file], { cwd: REPO_ROOT })));
    };
    const b = start(topo.branch, 'branch', branch), h = start(topo.hq, 'hq', hq);
    const ready = (p: ChildProcess, what: string) =>
      waitForLine(p, (l) => l === 'ready', what).catch((e: Error) => { throw new Error(`${e.message}:\n${peerOutput(p)}`); });
    await Promise.all([ready(b, 'branch static peer ready'), ready(h, 'hq static peer ready')]);
    return { branch: b, hq: h, config: { branch, hq }, cleanup };
  } catch (e) {
    cleanup();
    throw e;
  }
}

const TAIL_BYTES = 16 * 1024;
const tails = new WeakMap<ChildProcess, string>();

/** Reads the peer's output all along (so its pipes never fill) and keeps the last 16 KB. */
function keepTail(p: ChildProcess): ChildProcess {
  tails.set(p, '');
  const add = (d: Buffer) => { tails.set(p, ((tails.get(p) ?? '') + d.toString()).slice(-TAIL_BYTES)); };
  p.stdout?.on('data', add);
  p.stderr?.on('data', add);
  return p;
}

/** The end of what a peer printed (logs included), for assertion messages. */
export function peerOutput(p: ChildProcess): string {
  return tails.get(p) ?? '';
}

/** Asks a running peer for its counters (SIGUSR1) and resolves with them. */
export async function peerStatus(p: ChildProcess): Promise<PeerStatus> {
  const line = waitForLine(p, (l) => l.startsWith('status '), 'status line');
  p.kill('SIGUSR1');
  return JSON.parse((await line).slice('status '.length)) as PeerStatus;
}

/** Ends a peer with SIGTERM and resolves with its last status and exit code. */
export async function stopPeer(p: ChildProcess): Promise<{ status: PeerStatus; code: number | null }> {
  const line = waitForLine(p, (l) => l.startsWith('status '), 'final status line');
  const exited = new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
  p.kill('SIGTERM');
  const status = JSON.parse((await line).slice('status '.length)) as PeerStatus;
  return { status, code: await exited };
}
