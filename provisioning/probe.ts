// The probe across a fresh tunnel: a ping from the box's LAN address to the first host of a
// remote subnet. Runs iputils ping (no raw sockets in Node); a few tries, each bounded.
import { execFile } from 'node:child_process';
import { formatIp, parseCidr } from '../firmware/config/net.ts';

/** The first host of a subnet: 10.2.0.0/16 -> 10.2.0.1 (a /32 or /128 is the host itself). */
export function firstHost(subnet: string): string | undefined {
  const c = parseCidr(subnet);
  if (!c.ok) return undefined;
  const max = c.value.family === 4 ? 32 : 128;
  const bytes = new Uint8Array(c.value.bytes);
  if (c.value.prefixLength < max) bytes[bytes.length - 1]! |= 1;
  return formatIp({ family: c.value.family, bytes });
}

/** One ping (per try) from `src` to `dst`; true when any answer came back. */
export function pingProbe(src: string, dst: string, tries = 3, waitSeconds = 2): Promise<boolean> {
  const once = () => new Promise<boolean>((resolve) => {
    execFile('ping', ['-n', '-q', '-c', '1', '-W', String(waitSeconds), '-I', src, dst], { timeout: (waitSeconds + 2) * 1000, maxBuffer: 64 * 1024 }, (err) => resolve(!err));
  });
  return (async () => {
    for (let i = 0; i < tries; i++) if (await once()) return true;
    return false;
  })();
}
