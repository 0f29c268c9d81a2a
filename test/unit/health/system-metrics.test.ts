// System metrics against a fake sysfs/procfs tree in a temp dir, and once against this machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GENERIC_BOARD, readAvailableMemory, readBoardModel, readBootTime, readTemperatureC, SystemMetricsReader,
} from '../../../firmware/health/system-metrics.ts';

function fakeRoot(): string {
  return mkdtempSync(join(tmpdir(), 'outpost-sysfs-'));
}

test('board: the device tree model without its NUL, else generic-linux', async () => {
  const d = fakeRoot();
  try {
    writeFileSync(join(d, 'model'), 'Raspberry Pi 4 Model B Rev 1.4\0');
    assert.equal(await readBoardModel(join(d, 'model')), 'Raspberry Pi 4 Model B Rev 1.4');
    writeFileSync(join(d, 'odd'), 'Board\u001b[31m X\0garbage');
    assert.equal(await readBoardModel(join(d, 'odd')), 'Board[31m X');
    writeFileSync(join(d, 'empty'), '\0');
    assert.equal(await readBoardModel(join(d, 'empty')), GENERIC_BOARD);
    assert.equal(await readBoardModel(join(d, 'missing')), GENERIC_BOARD);
  } finally {
    rmSync(d, { recursive: true });
  }
});

test('temperature: the hottest readable thermal zone in degrees C; null without zones', async () => {
  const d = fakeRoot();
  try {
    assert.equal(await readTemperatureC(join(d, 'none')), null);
    assert.equal(await readTemperatureC(d), null);
    const zone = (n: string, text: string | null) => {
      mkdirSync(join(d, n));
      if (text !== null) writeFileSync(join(d, n, 'temp'), text);
    };
    zone('thermal_zone0', '47234\n');
    zone('thermal_zone1', '51850\n');
    zone('thermal_zone2', 'garbage\n'); // a sensor that is asleep or broken
    zone('thermal_zone3', null); // no temp file
    zone('cooling_device0', '99999\n'); // not a thermal zone
    assert.equal(await readTemperatureC(d), 51.9);
  } finally {
    rmSync(d, { recursive: true });
  }
});

test('memory: MemAvailable from meminfo; boot time from btime', async () => {
  const d = fakeRoot();
  try {
    writeFileSync(join(d, 'meminfo'), 'MemTotal:        3884292 kB\nMemFree:          200000 kB\nMemAvailable:    2000000 kB\n');
    assert.equal(await readAvailableMemory(join(d, 'meminfo')), 2_000_000 * 1024);
    writeFileSync(join(d, 'stat'), 'cpu  1 2 3\nintr 0 0 0\nbtime 1741593600\nprocesses 5\n');
    assert.equal(await readBootTime(join(d, 'stat')), 1741593600_000);
    // Without btime: now minus uptime, to the second.
    const t = await readBootTime(join(d, 'missing'), 1_800_000_000_123);
    assert.equal(t % 1000, 0);
    assert.ok(t < 1_800_000_000_123);
  } finally {
    rmSync(d, { recursive: true });
  }
});

test('metrics on this machine are sane and fit the health schema shape', async () => {
  const m = await new SystemMetricsReader().read();
  assert.ok(m.board.length > 0);
  assert.ok(m.cpuCount >= 1);
  assert.equal(m.load.length, 3);
  assert.ok(m.memory.totalBytes > 0 && m.memory.availableBytes > 0 && m.memory.availableBytes <= m.memory.totalBytes);
  assert.ok(m.processRssBytes > 0);
  assert.ok(m.temperatureC === null || Number.isFinite(m.temperatureC));
  assert.ok(m.uptimeSeconds > 0);
});
