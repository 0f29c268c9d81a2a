// wireguard-go (Debian's userspace WireGuard) between two test namespaces, as a reference data
// plane for benchmarks: same topology as Outpost's tunnel, one process per end.
//
// Facts this is built around: this kernel announces WireGuard support, so wireguard-go refuses to
// start unless WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1; its control socket is
// /var/run/wireguard/NAME.sock on the shared filesystem, so each end gets a unique interface name
// and the sockets are removed afterwards; -f keeps it in the foreground (the PID we track).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sh, waitForLine, withTimeout, type Lab, type Netns } from './netns.ts';

export const WG_PORT = 51820;

export interface WgKeys { privateKey: string; publicKey: string }

export function wgKeys(): WgKeys {
  const privateKey = sh('wg', ['genkey']).trim();
  const publicKey = sh('wg', ['pubkey'], privateKey + '\n').trim();
  return { privateKey, publicKey };
}

export interface WgEndOptions {
  /** Interface name (unique on the host: the control socket path is not per namespace). */
  name: string;
  keys: WgKeys;
  peerPublicKey: string;
  /** The peer's WAN address (port WG_PORT). */
  peerAddress: string;
  /** Subnets behind the peer: routed into the interface and allowed from the peer. */
  remoteSubnets: string[];
  mtu?: number;
}

export class WireGuardEnd {
  private constructor(readonly ns: Netns, readonly name: string, readonly proc: ChildProcess, private readonly dir: string) {}

  get pid(): number { return this.proc.pid!; }

  /** Starts wireguard-go in `ns` (tracked by `lab`), keys it, brings the interface up with routes. */
  static async start(lab: Lab, ns: Netns, o: WgEndOptions): Promise<WireGuardEnd> {
    const dir = mkdtempSync(join(tmpdir(), `outpost-wg-${o.name}-`));
    const proc = lab.track(ns.spawn('env', ['WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1', 'LOG_LEVEL=verbose', 'wireguard-go', '-f', o.name]));
    // Keep its pipes drained for its whole life (verbose logs handshakes, never packets).
    proc.stdout?.on('data', () => {});
    proc.stderr?.on('data', () => {});
    const end = new WireGuardEnd(ns, o.name, proc, dir);
    try {
      await withTimeout(waitForLine(proc, (l) => /UAPI listener started/.test(l), `wireguard-go ${o.name} started`), 10_000, `wireguard-go ${o.name}`);
      const keyFile = join(dir, 'private.key');
      writeFileSync(keyFile, o.keys.privateKey + '\n', { mode: 0o600 });
      ns.run('wg', 'set', o.name, 'private-key', keyFile, 'listen-port', String(WG_PORT),
        'peer', o.peerPublicKey, 'endpoint', `${o.peerAddress}:${WG_PORT}`, 'allowed-ips', o.remoteSubnets.join(','));
      ns.ip('link', 'set', o.name, 'mtu', String(o.mtu ?? 1420), 'up');
      for (const s of o.remoteSubnets) ns.ip('route', 'add', s, 'dev', o.name);
    } catch (e) {
      end.cleanup();
      throw e;
    }
    return end;
  }

  /** Removes the key directory and the control socket (the process is the Lab's to end). */
  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
    rmSync(`/var/run/wireguard/${this.name}.sock`, { force: true });
  }
}

/** Both ends in the standard topology's branch and hq namespaces. */
export async function startWireGuardPair(lab: Lab, branch: Netns, hq: Netns, addr: { branchWan: string; hqWan: string; branchSubnet: string; hqSubnet: string }, mtu?: number): Promise<{ branch: WireGuardEnd; hq: WireGuardEnd; cleanup(): void }> {
  const kb = wgKeys(), kh = wgKeys();
  const tag = lab.tag.slice(-6);
  const b = await WireGuardEnd.start(lab, branch, { name: `wgb${tag}`, keys: kb, peerPublicKey: kh.publicKey, peerAddress: addr.hqWan, remoteSubnets: [addr.hqSubnet], ...(mtu ? { mtu } : {}) });
  let h: WireGuardEnd;
  try {
    h = await WireGuardEnd.start(lab, hq, { name: `wgh${tag}`, keys: kh, peerPublicKey: kb.publicKey, peerAddress: addr.branchWan, remoteSubnets: [addr.branchSubnet], ...(mtu ? { mtu } : {}) });
  } catch (e) {
    b.cleanup();
    throw e;
  }
  return { branch: b, hq: h, cleanup: () => { b.cleanup(); h.cleanup(); } };
}
