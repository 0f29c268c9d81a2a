// What the technician reads off the box: identity, firmware, board, serial number, interfaces
// with their MAC addresses, and the certificate fingerprint (none until certificates exist).
// Every file read is bounded; a missing file gives "generic"/"unknown", never an error.
import { X509Certificate } from 'node:crypto';
import { open, readdir } from 'node:fs/promises';
import { arch, networkInterfaces as osInterfaces } from 'node:os';
import { join } from 'node:path';
import type { ResolvedConfig } from '../firmware/config/schema.ts';

export interface InterfaceInfo {
  name: string;
  mac: string | null;
  state: string;
  addresses: string[];
}

export interface DeviceInfo {
  deviceId: string;
  localId: string;
  firmwareVersion: string;
  board: string;
  serialNumber: string;
  interfaces: InterfaceInfo[];
  /** SHA-256 of the box's certificate (tunnel.auth.cert); null with a pre-shared key or an unreadable file. */
  certificateFingerprint: string | null;
  /** True when a console PIN is set (the tool asks for a new one otherwise). */
  pinSet: boolean;
}

export interface DeviceInfoOptions {
  /** Filesystem root, for tests ("/" on the box). */
  root?: string;
  networkInterfaces?: typeof osInterfaces;
  firmwareVersion: string;
}

const MAX_FILE = 4096;
const MAX_INTERFACES = 64;

async function readSmall(path: string, max = MAX_FILE): Promise<string | undefined> {
  try {
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(max);
      const { bytesRead } = await fh.read(buf, 0, max, 0);
      return buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
}

/** Device-tree strings end in NUL; control characters never reach the terminal. */
function clean(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const t = s.replace(/\u0000+$/, '').replace(/[\u0000-\u001f\u007f-\u009f]/g, '').trim();
  return t === '' ? undefined : t.slice(0, 128);
}

async function certFingerprint(cfg: ResolvedConfig): Promise<string | null> {
  const auth = cfg.tunnel.auth;
  if (!('cert' in auth)) return null;
  const pem = await readSmall(auth.cert, 64 * 1024);
  if (pem === undefined) return null;
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch {
    return null;
  }
}

export async function readDeviceInfo(cfg: ResolvedConfig, pinSet: boolean, opts: DeviceInfoOptions): Promise<DeviceInfo> {
  const root = opts.root ?? '/';
  const board = clean(await readSmall(join(root, 'proc/device-tree/model'))) ?? `generic ${arch()}`;
  const serialNumber = clean(await readSmall(join(root, 'proc/device-tree/serial-number')))
    ?? clean(await readSmall(join(root, 'etc/machine-id')))
    ?? 'unknown';
  const addrs = (opts.networkInterfaces ?? osInterfaces)();
  const byName = new Map<string, InterfaceInfo>();
  let names: string[] = [];
  try {
    names = (await readdir(join(root, 'sys/class/net'))).sort().slice(0, MAX_INTERFACES);
  } catch {
    // no sysfs (a container, another OS): the address list alone
  }
  for (const name of names) {
    const mac = clean(await readSmall(join(root, 'sys/class/net', name, 'address')));
    const state = clean(await readSmall(join(root, 'sys/class/net', name, 'operstate'))) ?? 'unknown';
    byName.set(name, { name, mac: mac ?? null, state, addresses: [] });
  }
  for (const [name, list] of Object.entries(addrs)) {
    if (!byName.has(name)) {
      if (byName.size >= MAX_INTERFACES) continue;
      byName.set(name, { name, mac: null, state: 'unknown', addresses: [] });
    }
    const info = byName.get(name)!;
    for (const a of list ?? []) {
      if (info.mac === null && a.mac && a.mac !== '00:00:00:00:00:00') info.mac = a.mac;
      info.addresses.push(a.cidr ?? a.address);
    }
  }
  const interfaces = [...byName.values()]
    .filter((i) => i.name !== 'lo')
    .map((i) => ({ ...i, mac: i.mac === '00:00:00:00:00:00' ? null : i.mac }));
  return {
    deviceId: cfg.device.id,
    localId: cfg.tunnel.localId,
    firmwareVersion: opts.firmwareVersion,
    board,
    serialNumber,
    interfaces,
    certificateFingerprint: await certFingerprint(cfg),
    pinSet,
  };
}

export function deviceInfoText(d: DeviceInfo): string[] {
  const lines = [
    `device:       ${d.deviceId} (IKE identity ${d.localId})`,
    `firmware:     outpost ${d.firmwareVersion}`,
    `board:        ${d.board}`,
    `serial:       ${d.serialNumber}`,
    `certificate:  ${d.certificateFingerprint ? `SHA-256 ${d.certificateFingerprint}` : 'n/a (no certificate: this box uses a pre-shared key, or its certificate file is unreadable)'}`,
    `console PIN:  ${d.pinSet ? 'set' : 'NOT set (set one with "pin set")'}`,
    'interfaces:',
  ];
  for (const i of d.interfaces) {
    lines.push(`  ${i.name.padEnd(12)} ${(i.mac ?? '-').padEnd(17)} ${i.state.padEnd(8)} ${i.addresses.join(' ') || '-'}`);
  }
  if (d.interfaces.length === 0) lines.push('  (none found)');
  return lines;
}
