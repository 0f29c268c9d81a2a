// Board support against fake sysfs/procfs trees in a temp dir: profile detection from the device
// tree model, LEDs driven through trigger/brightness/delay files and given back on close, the
// watchdog fed only while healthy and magic-closed, the liveness check, LAN setup through a fake
// `ip`, and the LED state for a status. Without the hardware, each is a no-op with a log line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROFILES, profileForModel, readModel, resolveBoard } from '../../../board/profiles.ts';
import { LED_PATTERNS, Leds, parseTrigger } from '../../../board/leds.ts';
import { Watchdog } from '../../../board/watchdog.ts';
import { Liveness } from '../../../board/liveness.ts';
import { enableForwarding, setupLan } from '../../../board/lan.ts';
import { Board, ledStateFor } from '../../../board/index.ts';
import type { LogRecord, Logger } from '../../../firmware/log.ts';
import { upModel } from '../cli/fixtures.ts';
import type { ResolvedConfig } from '../../../firmware/config/schema.ts';

function scratch(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'outpost-board-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A logger that records (event, fields) for assertions. */
function recorder(): { log: Logger; records: Array<Pick<LogRecord, 'level' | 'event' | 'fields'>> } {
  const records: Array<Pick<LogRecord, 'level' | 'event' | 'fields'>> = [];
  const mk = (): Logger => ({
    debug: (event, fields = {}) => records.push({ level: 'debug', event, fields }),
    info: (event, fields = {}) => records.push({ level: 'info', event, fields }),
    warn: (event, fields = {}) => records.push({ level: 'warn', event, fields }),
    error: (event, fields = {}) => records.push({ level: 'error', event, fields }),
    child: () => mk(),
  });
  return { log: mk(), records };
}

function fakeLed(dir: string, name: string, trigger = 'none [mmc0] timer heartbeat', max = '255'): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'brightness'), '0');
  writeFileSync(join(d, 'max_brightness'), max);
  writeFileSync(join(d, 'trigger'), trigger);
  return d;
}

test('profiles: device-tree models map to profiles; the config overrides; no model is generic', async (t) => {
  assert.equal(profileForModel('Raspberry Pi 4 Model B Rev 1.4'), 'rpi4');
  assert.equal(profileForModel('Raspberry Pi 400 Rev 1.0'), 'rpi4');
  assert.equal(profileForModel('Raspberry Pi 5 Model B Rev 1.0'), 'rpi5');
  assert.equal(profileForModel('Raspberry Pi Compute Module 4 Rev 1.1'), 'cm4');
  assert.equal(profileForModel('Raspberry Pi 3 Model B Plus Rev 1.3'), 'generic');
  assert.equal(profileForModel(null), 'generic');
  const d = scratch(t);
  const model = join(d, 'model');
  writeFileSync(model, Buffer.from('Raspberry Pi 5 Model B Rev 1.0\0\0'));
  assert.equal(await readModel(model), 'Raspberry Pi 5 Model B Rev 1.0');
  assert.deepEqual((await resolveBoard(undefined, model)).profile, PROFILES.rpi5);
  const forced = await resolveBoard('cm4', model);
  assert.equal(forced.profile.id, 'cm4');
  assert.equal(forced.source, 'config');
  const none = await resolveBoard(undefined, join(d, 'absent'));
  assert.equal(none.profile.id, 'generic');
  assert.equal(none.model, null);
  writeFileSync(model, Buffer.alloc(100_000, 0x41)); // an absurd model is bounded
  assert.equal((await readModel(model))!.length, 256);
  assert.equal(PROFILES.rpi4.consoleDevice, '/dev/serial0');
  assert.equal(PROFILES.generic.leds.activity.length, 0, 'no LEDs driven on a generic machine');
});

test('LEDs: each state writes its pattern; close restores the saved triggers', (t) => {
  const d = scratch(t);
  const act = fakeLed(d, 'ACT');
  const pwr = fakeLed(d, 'PWR', 'none rfkill-any [default-on]', '1');
  const { log } = recorder();
  const leds = Leds.open(PROFILES.rpi4, { dir: d, log });
  assert.equal(leds.available, true);
  const read = (dir: string, f: string) => readFileSync(join(dir, f), 'utf8');
  leds.set('booting');
  assert.equal(read(act, 'trigger'), 'timer');
  assert.equal(read(act, 'delay_on'), '100');
  assert.equal(read(pwr, 'trigger'), 'none');
  assert.equal(read(pwr, 'brightness'), '1', 'max_brightness of the power LED');
  leds.set('tunnel-up');
  assert.equal(read(act, 'trigger'), 'none');
  assert.equal(read(act, 'brightness'), '255');
  leds.set('fault');
  assert.equal(read(act, 'brightness'), '0');
  assert.equal(read(pwr, 'trigger'), 'timer');
  assert.equal(read(pwr, 'delay_off'), String((LED_PATTERNS.fault[1] as { offMs: number }).offMs));
  leds.set('wan-up');
  assert.equal(read(act, 'trigger'), 'timer');
  assert.equal(read(act, 'delay_off'), '1500');
  leds.close();
  assert.equal(read(act, 'trigger'), 'mmc0');
  assert.equal(read(pwr, 'trigger'), 'default-on');
});

test('LEDs: older names (led0/led1) are found; none present is a logged no-op', (t) => {
  const d = scratch(t);
  const led0 = fakeLed(d, 'led0');
  const leds = Leds.open(PROFILES.cm4, { dir: d, log: recorder().log });
  leds.set('tunnel-up');
  assert.equal(readFileSync(join(led0, 'brightness'), 'utf8'), '255');
  const { log, records } = recorder();
  const none = Leds.open(PROFILES.rpi5, { dir: join(d, 'nothing-here'), log });
  none.set('fault');
  none.close();
  assert.equal(none.available, false);
  assert.ok(records.some((r) => r.event === 'leds-absent'));
  const generic = Leds.open(PROFILES.generic, { dir: d, log: recorder().log });
  assert.equal(generic.available, false, 'generic never drives LEDs even where some exist');
});

test('LEDs: an unwritable LED turns the display off with one warning, no throw', (t) => {
  const d = scratch(t);
  const act = fakeLed(d, 'ACT');
  rmSync(join(act, 'trigger'));
  mkdirSync(join(act, 'trigger')); // writing it now fails with EISDIR
  const { log, records } = recorder();
  const leds = Leds.open(PROFILES.rpi4, { dir: d, log });
  leds.set('tunnel-up');
  leds.set('fault');
  assert.equal(records.filter((r) => r.event === 'leds-unwritable').length, 1);
  assert.equal(leds.available, false);
});

test('parseTrigger', () => {
  assert.equal(parseTrigger('none rc-feedback [mmc0] timer\n'), 'mmc0');
  assert.equal(parseTrigger('[none] timer'), 'none');
  assert.equal(parseTrigger('timer\n'), 'timer');
  assert.equal(parseTrigger('a b c'), null);
});

test('watchdog: fed while healthy, starved while not, magic close on exit; absent is a no-op', (t) => {
  const d = scratch(t);
  const dev = join(d, 'watchdog');
  writeFileSync(dev, '');
  let reason: string | null = null;
  const { log, records } = recorder();
  const w = Watchdog.open({ device: dev, intervalMs: 3_600_000, check: () => reason, log });
  assert.equal(w.armed, true);
  w.feed();
  reason = 'event loop delayed 9000 ms';
  w.feed();
  w.feed();
  reason = null;
  w.feed();
  w.close();
  assert.equal(readFileSync(dev, 'utf8'), '...V', 'open feeds once, two healthy feeds, none while starved, then V');
  assert.equal(records.filter((r) => r.event === 'watchdog-starved').length, 1, 'logged once per episode');
  assert.ok(records.some((r) => r.event === 'watchdog-fed-again'));
  w.close(); // idempotent

  const { log: log2, records: rec2 } = recorder();
  const absent = Watchdog.open({ device: join(d, 'no-such-device'), check: () => null, log: log2 });
  assert.equal(absent.armed, false);
  absent.feed();
  absent.close();
  assert.ok(rec2.some((r) => r.event === 'watchdog-absent'));
  assert.equal(existsSync(join(d, 'no-such-device')), false, 'never creates the device file');
});

test('liveness: loop delay and tunnel timer overdue are bounded', () => {
  let delay = 10, overdue = 0;
  const l = new Liveness({ tunnelOverdueMs: () => overdue, loopDelayMs: () => delay, maxLoopDelayMs: 1000, maxTunnelOverdueMs: 20_000 });
  assert.equal(l.check(), null);
  delay = 1500;
  assert.match(l.check()!, /event loop delayed 1500 ms/);
  delay = 10; overdue = 25_000;
  assert.match(l.check()!, /tunnel manager timer overdue by 25 s/);
  overdue = 0;
  assert.equal(l.check(), null);
  const real = new Liveness({ tunnelOverdueMs: () => 0 });
  assert.equal(real.check(), null, 'the real histogram on an idle loop');
  real.close();
});

test('LAN: address and link through ip, forwarding written once; failures are reported, not thrown', async (t) => {
  const d = scratch(t);
  const calls = join(d, 'calls');
  const ip = join(d, 'ip');
  writeFileSync(ip, `#!/bin/sh\necho "$@" >> ${calls}\ncase "$*" in *bad0*) echo "Cannot find device \\"bad0\\"" >&2; exit 1;; esac\n`);
  chmodSync(ip, 0o755);
  mkdirSync(join(d, 'sys/net/ipv4'), { recursive: true });
  mkdirSync(join(d, 'sys/net/ipv6/conf/all'), { recursive: true });
  writeFileSync(join(d, 'sys/net/ipv4/ip_forward'), '0\n');
  writeFileSync(join(d, 'sys/net/ipv6/conf/all/forwarding'), '0\n');
  const cfg = { lan: { interface: 'eth1', address: '10.1.0.1/24' }, tunnel: { localSubnets: ['10.1.0.0/24'], remoteSubnets: ['10.2.0.0/16'] } };
  const r = await setupLan(cfg, { procSys: join(d, 'sys'), ip: { ipPath: ip }, log: recorder().log });
  assert.deepEqual(r.problems, []);
  assert.deepEqual(readFileSync(calls, 'utf8').trim().split('\n'), ['addr replace 10.1.0.1/24 dev eth1', 'link set dev eth1 up']);
  assert.equal(readFileSync(join(d, 'sys/net/ipv4/ip_forward'), 'utf8'), '1\n');
  assert.equal(readFileSync(join(d, 'sys/net/ipv6/conf/all/forwarding'), 'utf8'), '0\n', 'IPv6 left alone without IPv6 subnets');
  assert.equal(await enableForwarding(4, join(d, 'sys')), 'on');

  const { log, records } = recorder();
  const bad = await setupLan({ ...cfg, lan: { interface: 'bad0', address: '10.1.0.1/24' }, tunnel: { localSubnets: ['fd00:1::/64'], remoteSubnets: ['fd00:2::/64'] } },
    { procSys: join(d, 'nope'), ip: { ipPath: ip }, log });
  assert.equal(bad.problems.length, 2);
  assert.match(bad.problems[0]!, /cannot address the LAN interface bad0: .*Cannot find device/);
  assert.match(bad.problems[1]!, /cannot enable IPv6 forwarding/);
  assert.ok(records.some((r) => r.event === 'lan-failed' && r.level === 'error'));
});

test('LED state for a status: tunnel up, WAN down, last error, waiting', () => {
  const up = upModel();
  assert.equal(ledStateFor(up, false), 'tunnel-up');
  const down = { ...up, tunnel: { ...up.tunnel, state: 'connecting' as const, lastError: null } };
  assert.equal(ledStateFor(down, true), 'wan-up');
  assert.equal(ledStateFor(down, false), 'fault');
  assert.equal(ledStateFor({ ...down, tunnel: { ...down.tunnel, lastError: { message: 'AUTHENTICATION_FAILED', ageSeconds: 3 } } }, true), 'fault');
});

test('Board: open shows booting, attach follows the daemon, watchdog off unless asked, close disarms', async (t) => {
  const d = scratch(t);
  const act = fakeLed(join(d, 'leds'), 'ACT');
  writeFileSync(join(d, 'model'), 'Raspberry Pi 4 Model B Rev 1.5\0');
  writeFileSync(join(d, 'wd'), '');
  const cfg = { tunnel: { remote: '%any' } } as ResolvedConfig;
  const { log, records } = recorder();
  const off = await Board.open(cfg, { paths: { deviceTreeModel: join(d, 'model'), leds: join(d, 'leds') }, log });
  assert.equal(off.profile.id, 'rpi4');
  assert.equal(readFileSync(join(act, 'trigger'), 'utf8'), 'timer', 'booting blinks');
  let status = upModel();
  const daemon = { status: () => status, tunnelOverdueMs: () => 0 };
  off.attach(daemon);
  assert.ok(records.some((r) => r.event === 'watchdog-off'));
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(readFileSync(join(act, 'brightness'), 'utf8'), '255', 'tunnel up: steady');
  off.close();
  assert.equal(readFileSync(join(act, 'trigger'), 'utf8'), 'mmc0');

  const on = await Board.open(cfg, { paths: { deviceTreeModel: join(d, 'model'), leds: join(d, 'leds') }, watchdog: join(d, 'wd'), log });
  status = { ...status, tunnel: { ...status.tunnel, state: 'connecting', lastError: null } };
  on.attach(daemon);
  await new Promise<void>((resolve) => setImmediate(resolve));
  on.close();
  assert.equal(readFileSync(join(d, 'wd'), 'utf8'), '.V');
});
