// Shared by the flood tests: an attacker namespace wired to a gateway, the flood sender run in
// it, and the daemon's resident memory and CPU time read from /proc.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab, Netns } from '../lib/netns.ts';
import { waitForExit } from './flood-wait.ts';

export const FLOOD_ADDR = { attacker: '203.0.113.2', gateway: '203.0.113.1' } as const;

/** A fifth namespace on its own link to `gw` (203.0.113.0/24): it can reach gw's UDP 500/4500. */
export function attacker(lab: Lab, gw: Netns): Netns {
  const ns = lab.ns('flood');
  lab.link(ns, `${FLOOD_ADDR.attacker}/24`, gw, `${FLOOD_ADDR.gateway}/24`);
  return ns;
}

/** Runs flood-sender.ts in `ns`; resolves with the number of datagrams it sent. */
export async function flood(lab: Lab, ns: Netns, args: (string | number)[]): Promise<number> {
  const p = lab.track(ns.spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'flood-sender.ts'), ...args.map(String)], { cwd: join(import.meta.dirname, '../..') }));
  let out = '';
  p.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  p.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await waitForExit(p);
  const m = /flood: sent (\d+)/.exec(out);
  if (code !== 0 || !m) throw new Error(`flood sender failed (${code}): ${out.slice(-2000)}`);
  return Number(m[1]);
}

/** Resident memory (bytes) and CPU time (ms, user + system) of a process. */
export function usage(pid: number): { rss: number; cpuMs: number } {
  const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  // /proc/PID/stat: fields after the ")" of the command name; utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { rss: rssKb * 1024, cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / 100 };
}

export const mb = (n: number) => (n / 2 ** 20).toFixed(1);
