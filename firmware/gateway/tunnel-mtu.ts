// The tunnel MTU: the largest inner packet whose ESP-in-UDP packet (RFC 3948) still fits the WAN
// MTU, for a given AEAD and outer address family:
//
//   outer IP (20 | 40) + UDP (8) + SPI/seq (8) + IV + payload + pad + 2 (pad length, next header) + ICV
//
// with payload + pad + 2 a multiple of 4 (RFC 4303 2.4). The WAN MTU is read from the interface
// the kernel would use towards HQ.
import { readFile } from 'node:fs/promises';
import { aeadByName } from '../crypto/aeads.ts';
import { runIp, type IpOptions } from './routes.ts';

export const DEFAULT_WAN_MTU = 1500;
const UDP_HEADER = 8;
const ESP_HEADER = 8;

/** Bytes an ESP-in-UDP packet adds besides padding, or undefined for an unknown AEAD. */
export function espFixedOverhead(aead: string, outer: 4 | 6): number | undefined {
  const a = aeadByName(aead);
  if (!a) return undefined;
  return (outer === 4 ? 20 : 40) + UDP_HEADER + ESP_HEADER + a.ivBytes + a.icvBytes;
}

/** The largest inner packet that fits `wanMtu` with this AEAD, or undefined for an unknown AEAD. */
export function tunnelMtuFor(wanMtu: number, aead: string, outer: 4 | 6 = 4): number | undefined {
  const fixed = espFixedOverhead(aead, outer);
  if (fixed === undefined) return undefined;
  // payload + 2 rounded up to 4 must fit in wanMtu - fixed.
  return Math.floor((wanMtu - fixed) / 4) * 4 - 2;
}

/**
 * The tunnel MTU for a list of ESP proposals ("aes256gcm16", "chacha20poly1305-x25519", ...):
 * the smallest over the AEADs that could be negotiated, so whichever one HQ picks fits.
 */
export function tunnelMtuForProposals(wanMtu: number, proposals: readonly string[], outer: 4 | 6 = 4): number {
  let best: number | undefined;
  for (const p of proposals) {
    for (const word of p.toLowerCase().split('-')) {
      const m = tunnelMtuFor(wanMtu, word, outer);
      if (m !== undefined) best = best === undefined ? m : Math.min(best, m);
    }
  }
  return best ?? tunnelMtuFor(wanMtu, 'aes256gcm16', outer)!;
}

export interface WanMtuOptions extends IpOptions {
  /** Where interfaces' MTUs are read; default /sys/class/net. */
  sysClassNet?: string;
}

/**
 * The MTU of the interface the kernel routes `remote` through (the default route's when remote is
 * undefined, as for a responder); DEFAULT_WAN_MTU when that cannot be found out.
 */
export async function wanMtu(remote: string | undefined, opts: WanMtuOptions = {}): Promise<{ mtu: number; dev: string | null }> {
  try {
    const out = remote ? await runIp(['route', 'get', remote], opts) : await runIp(['-4', 'route', 'show', 'default'], opts);
    const dev = /\bdev (\S+)/.exec(out)?.[1];
    if (!dev || !/^[^\s/:]{1,15}$/.test(dev)) return { mtu: DEFAULT_WAN_MTU, dev: null };
    const text = await readFile(`${opts.sysClassNet ?? '/sys/class/net'}/${dev}/mtu`, 'utf8');
    const mtu = Number.parseInt(text.trim(), 10);
    return Number.isInteger(mtu) && mtu >= 576 && mtu <= 65535 ? { mtu, dev } : { mtu: DEFAULT_WAN_MTU, dev };
  } catch {
    return { mtu: DEFAULT_WAN_MTU, dev: null };
  }
}
