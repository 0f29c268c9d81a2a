// The daemon's resident memory after start-up.
//
// Starting touches much of the node executable (the dynamic linker's tables, V8's snapshot, module
// loading, the crypto and IKE warm-up) that the running daemon never uses again; left alone those
// pages count in its resident set until the kernel needs the memory. Once start-up is over (the
// first CHILD_SA is up, or the tunnel keeps failing) the TUN addon drops the clean, read-only file
// pages from the page tables (board/tun/src/mem_trim.c): what the daemon runs again comes back on a
// minor fault from the page cache, so RSS shows the working set. Once per process; nothing is lost.
import { readFileSync } from 'node:fs';
import { loadTunAddon } from './tun/index.ts';
import type { Logger } from '../firmware/log.ts';

export interface TrimResult {
  /** Mappings whose pages were dropped ("regions": the logger masks fields named like "pin"), and their resident size before. */
  regions: number;
  droppedMb: number;
  rssMbBefore: number;
  rssMbAfter: number;
}

/** Resident set size of this process in MB (VmRSS), NaN where /proc is not readable. */
export function residentMb(): number {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

const mb = (x: number) => Math.round(x * 10) / 10;

/** Drops the start-up-only file pages now (see the header). */
export function trimFilePages(): TrimResult {
  const rssMbBefore = residentMb();
  const r = loadTunAddon().trimFilePages();
  return { regions: r.mappings, droppedMb: mb(r.bytes / 1048576), rssMbBefore: mb(rssMbBefore), rssMbAfter: mb(residentMb()) };
}

/** What the trim watches: the daemon's events (a Daemon). */
export interface TrimEvents {
  on(ev: 'event', fn: (e: { type: string; event?: { type: string } }) => void): unknown;
  off(ev: 'event', fn: (e: { type: string; event?: { type: string } }) => void): unknown;
}

export interface TrimOptions {
  /** After the first CHILD_SA is up, let the rest of start-up finish first. */
  afterUpMs?: number;
  /** When no CHILD_SA comes up (HQ unreachable, not provisioned): trim anyway after this long. */
  latestMs?: number;
  log: Logger;
}

/** Trims once, a little after the first CHILD_SA is up, or after latestMs at the latest. Returns a
 *  cancel function (daemon stop). */
export function trimAfterStartup(daemon: TrimEvents, opts: TrimOptions): () => void {
  let timer: NodeJS.Timeout | undefined;
  const run = () => {
    cancel();
    try {
      opts.log.info('memory-trimmed', { ...trimFilePages() });
    } catch (e) {
      opts.log.warn('memory-trim-failed', { reason: (e as Error).message });
    }
  };
  const schedule = (ms: number) => {
    clearTimeout(timer);
    timer = setTimeout(run, ms);
    timer.unref();
  };
  const onEvent = (e: { type: string; event?: { type: string } }) => {
    if (e.type === 'tunnel' && e.event?.type === 'child-up') {
      daemon.off('event', onEvent);
      schedule(opts.afterUpMs ?? 3000);
    }
  };
  const cancel = () => { clearTimeout(timer); daemon.off('event', onEvent); };
  daemon.on('event', onEvent);
  schedule(opts.latestMs ?? 60_000);
  return cancel;
}
