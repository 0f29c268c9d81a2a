// Board profiles: what differs between the boards Outpost runs on (serial console device, LEDs,
// hardware watchdog, thermal zone, the usual interface names). The board is read from the device
// tree's model string where there is one; the config's board.profile overrides the detection.
import { readFile } from 'node:fs/promises';
import type { BoardProfileId } from '../firmware/config/schema.ts';

export interface BoardProfile {
  id: BoardProfileId;
  /** Human name for logs and docs. */
  name: string;
  /** The serial console the technician plugs into (GPIO14/15 on a Raspberry Pi). */
  consoleDevice: string;
  /** LED names under /sys/class/leds, first existing one wins: activity (green), power (red). */
  leds: { activity: readonly string[]; power: readonly string[] };
  watchdogDevice: string;
  /** sysfs thermal zone of the SoC. */
  thermalZone: string;
  /** Usual interface names: WAN on the built-in port, the LAN on a second (often USB) port. */
  interfaces: { wan: string; lan: string };
}

// Raspberry Pi OS kernels since 6.1 name the LEDs ACT and PWR; older ones led0 and led1.
const PI_LEDS = { activity: ['ACT', 'led0'], power: ['PWR', 'led1'] } as const;

export const PROFILES: Readonly<Record<BoardProfileId, BoardProfile>> = Object.freeze({
  rpi4: {
    id: 'rpi4', name: 'Raspberry Pi 4',
    // /dev/serial0 is the UART on GPIO14/15 (enable_uart=1; PL011 with dtoverlay=disable-bt).
    consoleDevice: '/dev/serial0', leds: PI_LEDS, watchdogDevice: '/dev/watchdog',
    thermalZone: '/sys/class/thermal/thermal_zone0', interfaces: { wan: 'eth0', lan: 'eth1' },
  },
  rpi5: {
    id: 'rpi5', name: 'Raspberry Pi 5',
    // On the Pi 5 the GPIO14/15 UART is ttyAMA0 (dtparam=uart0=on); ttyAMA10 is the debug header.
    consoleDevice: '/dev/ttyAMA0', leds: PI_LEDS, watchdogDevice: '/dev/watchdog',
    thermalZone: '/sys/class/thermal/thermal_zone0', interfaces: { wan: 'eth0', lan: 'eth1' },
  },
  cm4: {
    id: 'cm4', name: 'Raspberry Pi Compute Module 4',
    consoleDevice: '/dev/serial0', leds: PI_LEDS, watchdogDevice: '/dev/watchdog',
    thermalZone: '/sys/class/thermal/thermal_zone0', interfaces: { wan: 'eth0', lan: 'eth1' },
  },
  generic: {
    id: 'generic', name: 'generic Linux',
    // No LEDs: a PC's LEDs (keyboard, disk) are not ours to drive.
    consoleDevice: '/dev/ttyS0', leds: { activity: [], power: [] }, watchdogDevice: '/dev/watchdog',
    thermalZone: '/sys/class/thermal/thermal_zone0', interfaces: { wan: 'eth0', lan: 'eth1' },
  },
});

/** The profile for a device-tree model string ("Raspberry Pi 4 Model B Rev 1.4"). */
export function profileForModel(model: string | null): BoardProfileId {
  if (!model) return 'generic';
  if (/^Raspberry Pi Compute Module 4/.test(model)) return 'cm4';
  if (/^Raspberry Pi 5/.test(model)) return 'rpi5';
  if (/^Raspberry Pi 4/.test(model)) return 'rpi4'; // also the Pi 400
  return 'generic';
}

const MAX_MODEL_BYTES = 256;

/** The device tree's model (NUL and whitespace trimmed, printable only), or null where there is none. */
export async function readModel(path = '/proc/device-tree/model'): Promise<string | null> {
  try {
    const buf = await readFile(path);
    const text = buf.subarray(0, MAX_MODEL_BYTES).toString('latin1').replace(/\0.*$/s, '').replace(/[^\x20-\x7e]/g, '').trim();
    return text === '' ? null : text;
  } catch {
    return null;
  }
}

export interface ResolvedBoard {
  profile: BoardProfile;
  /** The device tree's model, null when absent. */
  model: string | null;
  /** Where the profile came from. */
  source: 'config' | 'detected';
}

/** The board: the configured profile if any, else the detected one. */
export async function resolveBoard(configured: BoardProfileId | undefined, modelPath?: string): Promise<ResolvedBoard> {
  const model = await readModel(modelPath);
  if (configured) return { profile: PROFILES[configured], model, source: 'config' };
  return { profile: PROFILES[profileForModel(model)], model, source: 'detected' };
}
