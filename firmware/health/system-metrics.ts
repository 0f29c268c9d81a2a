// The box itself, for the health payload: board model, CPU load, memory, temperature, uptime.
// There is no board module yet, so the board is read from the device tree (Raspberry Pi and
// other DT boards) and is "generic-linux" elsewhere; temperatures come from the kernel's
// thermal zones where the board has any. Every file read is bounded, and a file that is
// missing or unreadable gives null, never an error.
import { open, readdir } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';

export interface SystemMetrics {
  board: string;
  cpuCount: number;
  /** 1, 5 and 15 minute load averages. */
  load: [number, number, number];
  memory: { totalBytes: number; availableBytes: number };
  /** This daemon's resident memory. */
  processRssBytes: number;
  /** The hottest thermal zone in degrees Celsius; null where the board reports none. */
  temperatureC: number | null;
  /** Seconds since the system booted. */
  uptimeSeconds: number;
}

export interface SystemPaths {
  deviceTreeModel: string;
  thermalDir: string;
  meminfo: string;
}

export const DEFAULT_PATHS: SystemPaths = {
  deviceTreeModel: '/proc/device-tree/model',
  thermalDir: '/sys/class/thermal',
  meminfo: '/proc/meminfo',
};

export const GENERIC_BOARD = 'generic-linux';
const MAX_FILE = 8192;
const MAX_ZONES = 64;

/** The first `max` bytes of a file as text, or null if it cannot be read. */
export async function readSmall(path: string, max = MAX_FILE): Promise<string | null> {
  let fh;
  try {
    fh = await open(path, 'r');
    const buf = Buffer.alloc(max);
    const { bytesRead } = await fh.read(buf, 0, max, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } catch {
    return null;
  } finally {
    await fh?.close().catch(() => {});
  }
}

/** e.g. "Raspberry Pi 4 Model B Rev 1.4"; the device tree string ends in a NUL. */
export async function readBoardModel(path = DEFAULT_PATHS.deviceTreeModel): Promise<string> {
  const raw = await readSmall(path, 256);
  const model = raw?.replace(/\0[\s\S]*$/, '').replace(/[\u0000-\u001f\u007f-\u009f]/g, '').trim();
  return model ? model.slice(0, 128) : GENERIC_BOARD;
}

/** The highest reading among thermal_zone* (millidegrees in sysfs), rounded to 0.1 degree. */
export async function readTemperatureC(dir = DEFAULT_PATHS.thermalDir): Promise<number | null> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /^thermal_zone\d+$/.test(n)).slice(0, MAX_ZONES);
  } catch {
    return null;
  }
  let best: number | null = null;
  for (const n of names) {
    const text = await readSmall(join(dir, n, 'temp'), 32);
    // Some zones answer EINVAL/ENODATA while their sensor sleeps: skip them.
    if (text === null || !/^\s*-?\d+\s*$/.test(text)) continue;
    const c = Math.round(Number(text) / 100) / 10;
    if (Number.isFinite(c) && (best === null || c > best)) best = c;
  }
  return best;
}

/** MemAvailable from /proc/meminfo (what can be used without swapping), else the free memory. */
export async function readAvailableMemory(path = DEFAULT_PATHS.meminfo): Promise<number> {
  const text = await readSmall(path);
  const m = text ? /^MemAvailable:\s+(\d+)\s*kB/m.exec(text) : null;
  return m ? Number(m[1]) * 1024 : os.freemem();
}

export class SystemMetricsReader {
  private board?: Promise<string>;

  constructor(private readonly paths: SystemPaths = DEFAULT_PATHS) {}

  async read(): Promise<SystemMetrics> {
    // The board does not change while we run: read it once.
    this.board ??= readBoardModel(this.paths.deviceTreeModel);
    const [board, temperatureC, availableBytes] = await Promise.all([
      this.board, readTemperatureC(this.paths.thermalDir), readAvailableMemory(this.paths.meminfo),
    ]);
    const [l1, l5, l15] = os.loadavg();
    return {
      board,
      cpuCount: os.availableParallelism?.() ?? os.cpus().length,
      load: [round2(l1 ?? 0), round2(l5 ?? 0), round2(l15 ?? 0)],
      memory: { totalBytes: os.totalmem(), availableBytes },
      processRssBytes: process.memoryUsage.rss(),
      temperatureC,
      uptimeSeconds: Math.floor(os.uptime()),
    };
  }

}

/** When the system booted (ms since the epoch): /proc/stat's btime, else now minus the uptime. */
export async function readBootTime(path = '/proc/stat', now = Date.now()): Promise<number> {
  const text = await readSmall(path, 256 * 1024);
  const m = text ? /^btime\s+(\d{1,12})\s*$/m.exec(text) : null;
  return m ? Number(m[1]) * 1000 : Math.round(now / 1000 - os.uptime()) * 1000;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
