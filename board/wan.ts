// Is the WAN up towards HQ? Answered without starting a process: the box asks this every few
// seconds while the tunnel is down, and once during the first exchange, where a fork+exec of
// `ip` (a copy of the daemon's page tables, then a 70 MB process's worth of exit handling) cost
// milliseconds on the event loop and a core beside HQ's.
//
//   an IP address  the kernel's own route lookup: connecting a UDP socket picks the route and the
//                  source address without sending anything; the interface holding that address
//                  (os.networkInterfaces) must be up (/sys/class/net/DEV/operstate);
//   a host name    the default route's interface (/proc/net/route, then /proc/net/ipv6_route),
//                  as the name may resolve anywhere.
import dgram from 'node:dgram';
import { open } from 'node:fs/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';

export interface WanPaths {
  /** Default /proc/net. */
  procNet?: string;
  /** Default /sys/class/net. */
  sysClassNet?: string;
}

const DEV = /^[^\s/:]{1,15}$/;
const RTF_UP = 0x1;
const RTF_REJECT = 0x200;
/** Route tables read at most this far (a branch box has a handful of routes). */
const MAX_TABLE_BYTES = 256 * 1024;

/** The WAN has a route to `remote` over an interface that is up ('%any': a responder waits, up by definition). */
export async function wanUp(remote: string, paths: WanPaths = {}): Promise<boolean> {
  if (remote === '%any') return true;
  try {
    const devs = isIP(remote) ? [await routeDevice(remote)] : await defaultRouteDevices(paths.procNet);
    for (const dev of devs) {
      if (dev && await interfaceUp(dev, paths.sysClassNet)) return true;
    }
    return false;
  } catch {
    return false;
  }
}

/** The interface the kernel would send to `address` from (null when it has no route). */
export async function routeDevice(address: string): Promise<string | null> {
  const family = isIP(address);
  if (family === 0) throw new RangeError(`not an IP address: ${address}`);
  const local = await sourceAddress(address, family === 6 ? 'udp6' : 'udp4');
  if (local === null) return null;
  // A link-local source carries its interface ("fe80::1%eth0").
  const scope = local.indexOf('%');
  if (scope >= 0) return local.slice(scope + 1) || null;
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (addrs?.some((a) => a.address === local)) return name;
  }
  return null;
}

/** The source address for `remote` by the kernel's route lookup (connect sends no packet), or null when unroutable. */
function sourceAddress(remote: string, type: 'udp4' | 'udp6'): Promise<string | null> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(type);
    const done = (a: string | null) => { try { s.close(); } catch { /* already closed */ } resolve(a); };
    s.on('error', () => done(null));
    // Any port will do: connect only chooses the route.
    s.connect(9, remote, (err?: Error) => {
      if (err) { done(null); return; }
      try { done(s.address().address); } catch { done(null); }
    });
  });
}

/** Interfaces of the default routes (IPv4 by metric, then IPv6), read from procfs. */
export async function defaultRouteDevices(procNet = '/proc/net'): Promise<string[]> {
  const v4 = parseDefaultRoutes4(await readBounded(join(procNet, 'route')));
  const v6 = parseDefaultRoutes6(await readBounded(join(procNet, 'ipv6_route')));
  return [...new Set([...v4, ...v6])];
}

/**
 * /proc/net/route: "Iface Destination Gateway Flags RefCnt Use Metric Mask ..." in hex; a default
 * route has destination and mask 0 and RTF_UP. Lowest metric first.
 */
export function parseDefaultRoutes4(text: string): string[] {
  const found: Array<{ dev: string; metric: number }> = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [dev, dest, , flags, , , metric, mask] = f as [string, string, string, string, string, string, string, string];
    const fl = Number.parseInt(flags, 16);
    if (!DEV.test(dev) || !/^0+$/.test(dest) || !/^0+$/.test(mask) || !(fl & RTF_UP) || fl & RTF_REJECT) continue;
    found.push({ dev, metric: Number.parseInt(metric, 10) || 0 });
  }
  return found.sort((a, b) => a.metric - b.metric).map((r) => r.dev);
}

/**
 * /proc/net/ipv6_route: "dest plen src splen nexthop metric refcnt use flags dev" in hex; a default
 * route is ::/0, up and not a reject route (the kernel keeps an unreachable ::/0 on lo).
 */
export function parseDefaultRoutes6(text: string): string[] {
  const found: Array<{ dev: string; metric: number }> = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [dest, plen, , , , metric, , , flags, dev] = f as [string, string, string, string, string, string, string, string, string, string];
    const fl = Number.parseInt(flags, 16);
    if (!DEV.test(dev) || dev === 'lo' || !/^0{32}$/.test(dest) || !/^0+$/.test(plen) || !(fl & RTF_UP) || fl & RTF_REJECT) continue;
    found.push({ dev, metric: Number.parseInt(metric, 16) || 0 });
  }
  return found.sort((a, b) => a.metric - b.metric).map((r) => r.dev);
}

/** operstate "up", or "unknown" (tunnels, PPP and loopback report no carrier state). */
export async function interfaceUp(dev: string, sysClassNet = '/sys/class/net'): Promise<boolean> {
  if (!DEV.test(dev)) return false;
  try {
    const state = (await readBounded(join(sysClassNet, dev, 'operstate'), 64)).trim();
    return state === 'up' || state === 'unknown';
  } catch {
    return false;
  }
}

/** A file's text, at most `max` bytes of it; '' when it does not exist (no IPv6, say). */
async function readBounded(file: string, max = MAX_TABLE_BYTES): Promise<string> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
  try {
    const buf = Buffer.allocUnsafe(max);
    let n = 0;
    // procfs hands out a page or so per read.
    while (n < max) {
      const { bytesRead } = await fh.read(buf, n, max - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return buf.subarray(0, n).toString('latin1');
  } finally {
    await fh.close();
  }
}
