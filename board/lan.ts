// The LAN side of the box: its address on the LAN interface, the interface up, and IP forwarding
// on (routes for the remote subnets go through the TUN, see firmware/gateway/tunnel.ts). Each step
// that fails is logged with what to do and the rest still runs: a box with a miswired LAN should
// still bring its tunnel up and report to the fleet.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setAddress, setLink, type IpOptions } from '../firmware/gateway/routes.ts';
import { logger, type Logger } from '../firmware/log.ts';

export interface LanConfig {
  lan: { interface: string; address: string };
  tunnel: { localSubnets: string[]; remoteSubnets: string[] };
}

export interface LanOptions {
  /** Default /proc/sys. */
  procSys?: string;
  ip?: IpOptions;
  log?: Logger;
}

export interface LanResult {
  /** Problems met, one sentence each; empty when all went well. */
  problems: string[];
}

/** Turns forwarding on for a family by writing its sysctl (nothing when already on). */
export async function enableForwarding(family: 4 | 6, procSys = '/proc/sys'): Promise<'on' | 'enabled'> {
  const file = family === 4 ? join(procSys, 'net/ipv4/ip_forward') : join(procSys, 'net/ipv6/conf/all/forwarding');
  const now = (await readFile(file, 'utf8')).trim();
  if (now === '1') return 'on';
  await writeFile(file, '1\n');
  return 'enabled';
}

export async function setupLan(cfg: LanConfig, opts: LanOptions = {}): Promise<LanResult> {
  const log = opts.log ?? logger('board.lan');
  const problems: string[] = [];
  const dev = cfg.lan.interface;
  try {
    await setAddress(dev, cfg.lan.address, opts.ip);
    await setLink(dev, { up: true }, opts.ip);
    log.info('lan-up', { interface: dev, address: cfg.lan.address });
  } catch (e) {
    const msg = `cannot address the LAN interface ${dev}: ${(e as Error).message}`;
    problems.push(msg);
    log.error('lan-failed', { interface: dev, reason: (e as Error).message, fix: 'check lan.interface names a port of this box (ip link)' });
  }
  const fams = new Set<4 | 6>();
  for (const s of [...cfg.tunnel.localSubnets, ...cfg.tunnel.remoteSubnets]) fams.add(s.includes(':') ? 6 : 4);
  for (const fam of [...fams].sort()) {
    try {
      const r = await enableForwarding(fam, opts.procSys);
      log.info('forwarding', { family: `ipv${fam}`, state: r });
    } catch (e) {
      problems.push(`cannot enable IPv${fam} forwarding: ${(e as Error).message}`);
      log.error('forwarding-failed', { family: `ipv${fam}`, reason: (e as Error).message, fix: 'run as root with CAP_NET_ADMIN, or set it in /etc/sysctl.d' });
    }
  }
  return { problems };
}
