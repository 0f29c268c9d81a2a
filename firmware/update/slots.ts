// Side-by-side installation: two slots under a root (/opt/outpost/a and /opt/outpost/b) and a
// `current` symlink naming the active one. An update goes into the inactive slot, `current` is
// switched atomically (a new symlink renamed over the old), the service restarted, and the new
// version must reach "tunnel up and MQTT connected" within a deadline, else `current` is switched
// back and the service restarted on the old version.
import { execFile } from 'node:child_process';
import { existsSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { readBundle } from './bundle.ts';
import { BundleError, hostArch, type Manifest } from './manifest.ts';

export const DEFAULT_ROOT = '/opt/outpost';
export type Slot = 'a' | 'b';

export function activeSlot(root: string): Slot | null {
  try {
    const t = readlinkSync(join(root, 'current'));
    return t === 'a' || t === 'b' ? t : null;
  } catch {
    return null;
  }
}

/** Points `current` at a slot, atomically. */
export function switchTo(root: string, slot: Slot): void {
  const tmp = join(root, `.current.${process.pid}`);
  rmSync(tmp, { force: true });
  symlinkSync(slot, tmp);
  renameSync(tmp, join(root, 'current'));
}

/** What the health check saw: healthy, or why not. */
export type HealthVerdict = { ok: true; detail: string } | { ok: false; detail: string };

/** Judges `outpost status --json` output: tunnel up, and MQTT connected where a broker is configured. */
export function judgeStatus(stdout: string): HealthVerdict {
  let s: any;
  try {
    s = JSON.parse(stdout);
  } catch {
    return { ok: false, detail: 'status is not JSON' };
  }
  const tunnel = s?.tunnel?.state;
  const broker = s?.health?.broker;
  const connected = s?.health?.connected === true;
  if (tunnel !== 'up') return { ok: false, detail: `tunnel ${typeof tunnel === 'string' ? tunnel : 'unknown'}${s?.tunnel?.lastError?.message ? ` (${s.tunnel.lastError.message})` : ''}` };
  if (broker && !connected) return { ok: false, detail: 'tunnel up, MQTT not connected' };
  return { ok: true, detail: broker ? 'tunnel up, MQTT connected' : 'tunnel up (no broker configured)' };
}

export interface UpdateOptions {
  root: string;
  publicKey: KeyObject;
  /** Restart the service (after a switch); resolves when the command finished. */
  restart: (() => Promise<void>) | null;
  /** One health probe: resolves with `outpost status --json`'s output, rejects when it fails. */
  probe: (() => Promise<string>) | null;
  /** How long the new version has to become healthy. */
  deadlineMs: number;
  /** Between probes. Default 2000. */
  probeIntervalMs?: number;
  /** Accept a bundle for another architecture (tests, image builds). */
  anyArch?: boolean;
  say?: (line: string) => void;
}

export type UpdateResult =
  | { outcome: 'installed'; manifest: Manifest; slot: Slot; previous: Slot | null; detail: string }
  | { outcome: 'rolled-back'; manifest: Manifest; slot: Slot; previous: Slot; detail: string }
  | { outcome: 'unhealthy-no-previous'; manifest: Manifest; slot: Slot; detail: string };

/** Verifies, installs into the inactive slot, switches, restarts, checks, rolls back if need be. */
export async function installUpdate(bundle: string, o: UpdateOptions): Promise<UpdateResult> {
  const say = o.say ?? (() => {});
  if (!existsSync(o.root)) throw new BundleError(`install root ${o.root} does not exist`);
  const previous = activeSlot(o.root);
  const slot: Slot = previous === 'a' ? 'b' : 'a';
  const staging = join(o.root, `.${slot}.new`);
  rmSync(staging, { recursive: true, force: true });
  let manifest: Manifest;
  try {
    manifest = await readBundle(bundle, { publicKey: o.publicKey, into: staging });
    const here = hostArch();
    if (!o.anyArch && manifest.arch !== here) throw new BundleError(`the bundle is for ${manifest.arch}, this machine is ${process.arch}`);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
  say(`verified ${manifest.name} ${manifest.version} (${manifest.arch}, commit ${manifest.commit.slice(0, 12)}, key ${manifest.keyId}): ${manifest.files.length} files`);
  rmSync(join(o.root, slot), { recursive: true, force: true });
  renameSync(staging, join(o.root, slot));
  writeFileSync(join(o.root, slot, '.installed'), new Date().toISOString() + '\n');
  switchTo(o.root, slot);
  say(`installed into ${join(o.root, slot)}; current -> ${slot}${previous ? ` (was ${previous})` : ''}`);
  if (o.restart) {
    say('restarting the service');
    await o.restart();
  }
  if (!o.probe) return { outcome: 'installed', manifest, slot, previous, detail: 'not checked' };

  const verdict = await waitHealthy(o.probe, o.deadlineMs, o.probeIntervalMs ?? 2000, say);
  if (verdict.ok) {
    say(`healthy: ${verdict.detail}`);
    return { outcome: 'installed', manifest, slot, previous, detail: verdict.detail };
  }
  if (!previous) {
    say(`not healthy after ${Math.round(o.deadlineMs / 1000)} s (${verdict.detail}); no previous version to go back to`);
    return { outcome: 'unhealthy-no-previous', manifest, slot, detail: verdict.detail };
  }
  say(`not healthy after ${Math.round(o.deadlineMs / 1000)} s (${verdict.detail}): rolling back to ${previous}`);
  switchTo(o.root, previous);
  if (o.restart) await o.restart();
  return { outcome: 'rolled-back', manifest, slot, previous, detail: verdict.detail };
}

async function waitHealthy(probe: () => Promise<string>, deadlineMs: number, intervalMs: number, say: (s: string) => void): Promise<HealthVerdict> {
  const until = Date.now() + deadlineMs;
  let last: HealthVerdict = { ok: false, detail: 'no answer yet' };
  for (;;) {
    try {
      last = judgeStatus(await probe());
    } catch (e) {
      last = { ok: false, detail: `status failed: ${(e as Error).message.split('\n')[0]}` };
    }
    if (last.ok) return last;
    if (Date.now() + intervalMs > until) return last;
    say(`waiting: ${last.detail}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Runs `sh -c CMD`; resolves with stdout, rejects on a non-zero exit. */
export function shell(cmd: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', cmd], { env, timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd}: ${(stderr || err.message).trim()}`));
      else resolve(stdout);
    });
  });
}
