// Board support against fake sysfs/procfs trees in a temp dir: profile detection from the device
// tree model, LEDs driven through trigger/brightness/delay files and given back on close, the
// watchdog fed only while healthy and magic-closed, the liveness check, LAN setup through a fake
// `ip`, the LED state for a status, the LEDs held until the first exchange is over, and whether
// the WAN is up (route tables from procfs; as root, real routes in a namespace of the test's own).
// Without the hardware, each is a no-op with a log line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PROFILES, profileForModel, readModel, resolveBoard } from '../../../board/profiles.ts';
import { LED_PATTERNS, Leds, parseTrigger } from '../../../board/leds.ts';
import { Watchdog } from '../../../board/watchdog.ts';
import { Liveness } from '../../../board/liveness.ts';
import { enableForwarding, setupLan } from '../../../board/lan.ts';
import { Board, firstExchangeSettled, ledStateFor } from '../../../board/index.ts';
import { interfaceUp, parseDefaultRoutes4, parseDefaultRoutes6, routeDevice, wanUp } from '../../../board/wan.ts';
import type { DaemonEvent } from '../../../firmware/daemon.ts';
import type { IkeEvent } from '../../../firmware/ike/actions.ts';
import { Lab, requireEnv, waitForLine, withTimeout } from '../../lib/netns.ts';
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

test('Board: the LEDs stay "booting" until the first exchange is over, then follow the daemon', async (t) => {
  const d = scratch(t);
  const act = fakeLed(join(d, 'leds'), 'ACT');
  writeFileSync(join(d, 'model'), 'Raspberry Pi 4 Model B Rev 1.5\0');
  const board = await Board.open({ tunnel: { remote: '%any' } } as ResolvedConfig, { paths: { deviceTreeModel: join(d, 'model'), leds: join(d, 'leds') }, log: recorder().log });
  let polls = 0;
  const daemon = { status: () => { polls++; return upModel(); }, tunnelOverdueMs: () => 0 };
  let over!: () => void;
  board.attach(daemon, { firstUpdate: new Promise<void>((r) => { over = r; }) });
  await new Promise<void>((r) => setImmediate(r));
  assert.equal(polls, 0, 'no poll during the exchange');
  assert.equal(readFileSync(join(act, 'trigger'), 'utf8'), 'timer', 'still booting');
  over();
  await new Promise<void>((r) => setImmediate(r));
  assert.equal(polls, 1);
  assert.equal(readFileSync(join(act, 'brightness'), 'utf8'), '255', 'tunnel up: steady');
  board.close();
});

/** A stand-in for the Daemon's event stream. */
function fakeDaemon(remote: string) {
  const em = new EventEmitter<{ event: [DaemonEvent] }>();
  return Object.assign(em, { config: { tunnel: { remote } } });
}
const tunnelEvent = (event: IkeEvent): DaemonEvent => ({ type: 'tunnel', event });

test('firstExchangeSettled: ends with child-up or a failure, not with progress; capped; at once for a responder', async () => {
  const d = fakeDaemon('198.51.100.2');
  const up = firstExchangeSettled(d, 60_000);
  d.emit('event', tunnelEvent({ type: 'exchange-sent', ikeId: 'a', exchange: 'IKE_SA_INIT', detail: '' }));
  d.emit('event', tunnelEvent({ type: 'ike-up', ikeId: 'a', remote: { address: '198.51.100.2', port: 4500 }, proposal: 'p', natLocal: false, natRemote: false, remoteId: 'hq' }));
  d.emit('event', { type: 'config-applied', sections: [] });
  assert.equal(d.listenerCount('event'), 1, 'still waiting');
  const child: IkeEvent = { type: 'child-up', ikeId: 'a', spiIn: '1', spiOut: '2', proposal: 'aes256gcm16', localTs: '', remoteTs: '', rekey: false };
  d.emit('event', tunnelEvent(child));
  assert.deepEqual(await up, child);
  assert.equal(d.listenerCount('event'), 0, 'unsubscribed');

  const failed = firstExchangeSettled(d, 60_000);
  d.emit('event', tunnelEvent({ type: 'auth-failed', ikeId: 'b', reason: 'AUTHENTICATION_FAILED' }));
  assert.equal((await failed)?.type, 'auth-failed');
  const unreachable = firstExchangeSettled(d, 60_000);
  d.emit('event', tunnelEvent({ type: 'connect-failed', reason: 'cannot reach hq' }));
  assert.equal((await unreachable)?.type, 'connect-failed');

  const alive = setTimeout(() => {}, 10_000); // the cap's timer is unref'd (it must not hold a stopping daemon)
  assert.equal(await firstExchangeSettled(d, 1), undefined, 'nothing happened: the cap');
  clearTimeout(alive);
  assert.equal(d.listenerCount('event'), 0);
  assert.equal(await firstExchangeSettled(fakeDaemon('%any'), 60_000), undefined, 'a responder has no first exchange of its own');
});

test('WAN: default routes from /proc/net/route and ipv6_route', () => {
  const route4 = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0',
    'eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0',
    'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    'eth1\t00000000\t00000000\t0200\t0\t0\t0\t00000000\t0\t0\t0',
    'bad/name\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0',
  ].join('\n');
  assert.deepEqual(parseDefaultRoutes4(route4), ['eth0', 'wlan0'], 'lowest metric first; not a subnet route, a down route or a bad name');
  const z = '0'.repeat(32);
  const route6 = [
    `fd000000000000000000000000000000 40 ${z} 00 ${z} 00000100 00000001 00000000 00000001     eth0`,
    `${z} 00 ${z} 00 fd000000000000000000000000000001 00000400 00000003 00000000 00000003     ppp0`,
    `${z} 00 ${z} 00 ${z} ffffffff 00000001 00000000 00200200       lo`,
  ].join('\n');
  assert.deepEqual(parseDefaultRoutes6(route6), ['ppp0'], 'the kernel\'s unreachable ::/0 on lo is not a route');
  assert.deepEqual(parseDefaultRoutes4(''), []);
  assert.deepEqual(parseDefaultRoutes6('garbage\n\n  '), []);
});

test('WAN: a host-name remote is up when a default route\'s interface is', async (t) => {
  const d = scratch(t);
  const net = join(d, 'net'), sys = join(d, 'sys');
  mkdirSync(net);
  for (const [dev, state] of [['eth0', 'down'], ['ppp0', 'unknown'], ['wlan0', 'up']] as const) {
    mkdirSync(join(sys, dev), { recursive: true });
    writeFileSync(join(sys, dev, 'operstate'), `${state}\n`);
  }
  const route4 = (dev: string) => `Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n${dev}\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n`;
  const paths = { procNet: net, sysClassNet: sys };
  writeFileSync(join(net, 'route'), route4('eth0'));
  assert.equal(await wanUp('hq.example.net', paths), false, 'the default route\'s interface is down');
  writeFileSync(join(net, 'route'), route4('wlan0'));
  assert.equal(await wanUp('hq.example.net', paths), true);
  writeFileSync(join(net, 'route'), route4('ppp0'));
  assert.equal(await wanUp('hq.example.net', paths), true, 'PPP reports "unknown"');
  writeFileSync(join(net, 'route'), route4('eth9'));
  assert.equal(await wanUp('hq.example.net', paths), false, 'no such interface');
  writeFileSync(join(net, 'route'), 'Iface\tDestination\n');
  assert.equal(await wanUp('hq.example.net', paths), false, 'no default route (and no ipv6_route file)');
  assert.equal(await wanUp('%any', paths), true, 'a responder');
  assert.equal(await interfaceUp('../../etc', sys), false, 'not an interface name');
  const board = await Board.open({ tunnel: { remote: 'hq.example.net' } } as ResolvedConfig, { paths: { deviceTreeModel: join(d, 'none'), leds: join(d, 'none'), ...paths }, log: recorder().log });
  writeFileSync(join(net, 'route'), route4('wlan0'));
  assert.equal(await board.wanUp(), true, 'Board.wanUp reads the same paths');
  board.close();
});

test('WAN: an address is looked up in the kernel\'s routes (loopback here)', async () => {
  assert.equal(await routeDevice('127.0.0.1'), 'lo');
  assert.equal(await wanUp('127.0.0.1'), true, 'lo reports "unknown"');
  await assert.rejects(routeDevice('hq.example.net'), RangeError);
});

test('WAN (root): reachable, unreachable, link down, admin down, default route, in namespaces of our own', { timeout: 60_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip'] })) return;
  const lab = new Lab();
  try {
    const box = lab.ns('box'), isp = lab.ns('isp');
    const [wan, peer] = lab.link(box, '192.0.2.1/24', isp, '192.0.2.2/24');
    box.ip('addr', 'add', '2001:db8::1/64', 'dev', wan, 'nodad');
    const check = (...remotes: string[]): Record<string, boolean> =>
      JSON.parse(box.run(process.execPath, '--import', 'tsx', resolve(import.meta.dirname, 'wan-check.ts'), ...remotes));
    const far = '203.0.113.9', name = 'hq.example.net';
    assert.deepEqual(check('192.0.2.2', '2001:db8::2', far, name), { '192.0.2.2': true, '2001:db8::2': true, [far]: false, [name]: false },
      'on-link addresses reachable; no route beyond, no default route');
    box.ip('route', 'add', 'default', 'via', '192.0.2.2');
    assert.deepEqual(check(far, name), { [far]: true, [name]: true }, 'through the default route');
    // No carrier: the routes stay, the interface is not up. The kernel changes operstate a little
    // later (linkwatch): wait for it on `ip monitor`, listening once it reports an MTU change of
    // ours (changed again until it does: a change made before it subscribed is not reported).
    const mon = lab.track(box.spawn('ip', ['monitor', 'link']));
    let heard = false;
    const listening = waitForLine(mon, (l) => / mtu 14\d\d /.test(l), 'ip monitor listening').then(() => { heard = true; });
    for (let i = 0; i < 50 && !heard; i++) {
      box.ip('link', 'set', wan, 'mtu', String(1450 - i));
      await Promise.race([listening, new Promise((r) => setTimeout(r, 200))]);
    }
    await withTimeout(listening, 1000, 'ip monitor listening');
    const carrierGone = waitForLine(mon, (l) => l.includes(`${wan}@`) && /state (LOWERLAYERDOWN|DOWN)/.test(l), 'operstate down');
    isp.ip('link', 'set', peer, 'down');
    await withTimeout(carrierGone, 10_000, 'operstate down');
    assert.match(box.run('cat', `/sys/class/net/${wan}/operstate`), /lowerlayerdown|down/);
    assert.deepEqual(check('192.0.2.2', far, name), { '192.0.2.2': false, [far]: false, [name]: false }, 'link down');
    isp.ip('link', 'set', peer, 'up');
    box.ip('link', 'set', wan, 'down'); // admin down: the kernel drops the routes
    assert.deepEqual(check('192.0.2.2', far, name), { '192.0.2.2': false, [far]: false, [name]: false }, 'interface down');
  } finally {
    await lab.destroy();
  }
});
