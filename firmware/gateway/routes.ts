// Interface state and routes for the TUN, through iproute2's `ip` (execFile, never a shell).
// Routes for the remote subnets point at the TUN; `src` makes the box's own traffic (pings from
// the console, health reports to HQ) leave with its LAN address so it matches the selectors.
import { execFile } from 'node:child_process';
import { isIPv4, isIPv6 } from 'node:net';

export class IpCommandError extends Error {
  override readonly name = 'IpCommandError';
  constructor(readonly command: string, readonly stderr: string, readonly exitCode: number | null, message: string) {
    super(message);
  }
}

export interface IpOptions {
  /** Path of the ip binary; default 'ip' from PATH. */
  ipPath?: string;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_OUTPUT = 1024 * 1024;

/** Runs `ip ARGS`; resolves with stdout, rejects with IpCommandError giving the command and stderr. */
export function runIp(args: readonly string[], opts: IpOptions = {}): Promise<string> {
  const bin = opts.ipPath ?? 'ip';
  const command = [bin, ...args].join(' ');
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxBuffer: MAX_OUTPUT, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) { resolve(stdout); return; }
      const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean };
      const exitCode = typeof e.code === 'number' ? e.code : null;
      const detail = (stderr ?? '').trim() || (e.code === 'ENOENT' ? `${bin} not found (install iproute2)` : e.killed ? 'timed out' : e.message);
      reject(new IpCommandError(command, (stderr ?? '').trim(), exitCode, `${command}: ${detail}`));
    });
  });
}

const DEV = /^[^\s/:]{1,15}$/;

function checkDev(dev: string): void {
  if (!DEV.test(dev)) throw new RangeError(`bad interface name ${JSON.stringify(dev)}`);
}

/** "10.2.0.0/16" or "2001:db8::/32" (a bare address means a host route). */
export function checkCidr(cidr: string): string {
  const [addr, len, extra] = cidr.split('/');
  const bits = addr && isIPv4(addr) ? 32 : addr && isIPv6(addr) ? 128 : 0;
  const n = len === undefined ? bits : Number(len);
  if (bits === 0 || extra !== undefined || !Number.isInteger(n) || n < 0 || n > bits || (len !== undefined && !/^\d+$/.test(len))) {
    throw new RangeError(`not an IP prefix: ${JSON.stringify(cidr)}`);
  }
  return cidr;
}

export interface LinkSettings {
  mtu?: number;
  up?: boolean;
}

/** `ip link set dev DEV [mtu N] [up|down]`. */
export async function setLink(dev: string, s: LinkSettings, opts?: IpOptions): Promise<void> {
  checkDev(dev);
  const args = ['link', 'set', 'dev', dev];
  if (s.mtu !== undefined) {
    if (!Number.isInteger(s.mtu) || s.mtu < 68 || s.mtu > 65535) throw new RangeError(`MTU must be 68..65535, got ${s.mtu}`);
    args.push('mtu', String(s.mtu));
  }
  if (s.up !== undefined) args.push(s.up ? 'up' : 'down');
  if (args.length === 4) return;
  await runIp(args, opts);
}

/** `ip addr replace ADDR/LEN dev DEV` (idempotent). */
export async function setAddress(dev: string, cidr: string, opts?: IpOptions): Promise<void> {
  checkDev(dev);
  await runIp(['addr', 'replace', checkCidr(cidr), 'dev', dev], opts);
}

export interface RouteOptions {
  /** Preferred source address for the box's own packets on these routes. */
  src?: string;
  metric?: number;
}

function routeArgs(verb: 'replace' | 'del', dev: string, cidr: string, r: RouteOptions = {}): string[] {
  const args = ['route', verb, checkCidr(cidr), 'dev', dev];
  if (r.src !== undefined) {
    if (!isIPv4(r.src) && !isIPv6(r.src)) throw new RangeError(`route src is not an address: ${r.src}`);
    args.push('src', r.src);
  }
  if (r.metric !== undefined) args.push('metric', String(r.metric));
  return args;
}

/** `ip route replace CIDR dev DEV [src S] [metric M]` for each subnet (idempotent). */
export async function addRoutes(dev: string, subnets: readonly string[], r?: RouteOptions, opts?: IpOptions): Promise<void> {
  checkDev(dev);
  if (r?.src !== undefined && !isIPv4(r.src) && !isIPv6(r.src)) throw new RangeError(`route src is not an address: ${r.src}`);
  for (const cidr of subnets) checkCidr(cidr);
  for (const cidr of subnets) {
    // src only fits routes of its own family
    const fam = isIPv4(cidr.split('/')[0]!) ? 4 : 6;
    const src = r?.src !== undefined && (isIPv4(r.src) ? 4 : 6) === fam ? r.src : undefined;
    await runIp(routeArgs('replace', dev, cidr, { ...r, src }), opts);
  }
}

/** Deletes those routes; a route (or device) already gone is not an error. Returns how many were removed. */
export async function removeRoutes(dev: string, subnets: readonly string[], opts?: IpOptions): Promise<number> {
  checkDev(dev);
  let removed = 0;
  for (const cidr of subnets) {
    try {
      await runIp(routeArgs('del', dev, cidr), opts);
      removed++;
    } catch (e) {
      if (e instanceof IpCommandError && /No such process|Cannot find device|does not exist/i.test(e.stderr)) continue;
      throw e;
    }
  }
  return removed;
}

/** Routes currently via DEV, as `ip route` prints their destinations ("10.2.0.0/16"). */
export async function routesVia(dev: string, opts?: IpOptions): Promise<string[]> {
  checkDev(dev);
  const out: string[] = [];
  for (const fam of ['-4', '-6']) {
    const text = await runIp([fam, 'route', 'show', 'dev', dev], opts).catch((e: unknown) => {
      if (e instanceof IpCommandError && /Cannot find device/i.test(e.stderr)) return '';
      throw e;
    });
    for (const line of text.split('\n')) {
      const dst = line.trim().split(/\s+/)[0];
      if (dst && !dst.startsWith('fe80:') && !line.includes('proto kernel')) out.push(dst);
    }
  }
  return out;
}
