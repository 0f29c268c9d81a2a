// The TUN addon against the real kernel: the test process opens a TUN, moves it into a namespace
// it created, and answers pings from JavaScript. Needs root (CI provides it).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Lab, requireEnv, sh, type Netns } from '../lib/netns.ts';
import { TunDevice, TunError, TUN_BATCH_MAX, tunAddonCandidates } from '../../board/tun/index.ts';
import { espAddonCandidates } from '../../board/tun/esp.ts';
import { UdpTransport } from '../../firmware/gateway/udp.ts';

const LOCAL = '10.99.0.1', PEER = '10.99.0.2';
const TUN_MODULE = fileURLToPath(new URL('../../board/tun/index.ts', import.meta.url));

function ready(t: TestContext): boolean {
  const addon = tunAddonCandidates().find(existsSync) ?? tunAddonCandidates().at(-1)!;
  return requireEnv(t, { root: true, cmds: ['ip', 'ping'], files: ['/dev/net/tun', addon] });
}

/** A TUN opened here, moved into a fresh namespace, addressed LOCAL/30 and up there. */
function tunInNamespace(lab: Lab, mtu?: number): { tun: TunDevice; ns: Netns } {
  const ns = lab.ns('tun');
  const tun = TunDevice.open({ name: `${lab.tag}t`, ...(mtu ? { mtu } : {}) });
  try {
    sh('ip', ['link', 'set', tun.name, 'netns', ns.name]); // the fd keeps working across the move
    ns.ip('addr', 'add', `${LOCAL}/30`, 'dev', tun.name);
    ns.ip('link', 'set', tun.name, 'up');
  } catch (e) {
    tun.close();
    throw e;
  }
  return { tun, ns };
}

/** Resolves with the exit code and everything the child printed. */
function finished(p: ChildProcess): Promise<{ code: number | null; out: string }> {
  let out = '';
  p.stdout?.on('data', (d) => { out += d; });
  p.stderr?.on('data', (d) => { out += d; });
  return new Promise((resolve) => p.once('close', (code) => resolve({ code, out })));
}

/** Resolves after `turns` full event-loop iterations (each one includes a poll phase). */
async function loopTurns(turns: number): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

function onesComplement(b: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

interface Echo { id: number; seq: number; reply: Buffer }

/** An IPv4 ICMP echo request and the reply to it; null for anything else (IPv6 chatter, ...). */
function answerEcho(pkt: Buffer): Echo | null {
  if (pkt.length < 28 || pkt[0]! >> 4 !== 4) return null;
  const ihl = (pkt[0]! & 0x0f) * 4;
  const total = pkt.readUInt16BE(2);
  if (ihl < 20 || total > pkt.length || total < ihl + 8 || pkt[9] !== 1 || pkt[ihl] !== 8) return null;
  // The kernel's checksums must verify with ours, or our reply's would be wrong too.
  assert.equal(onesComplement(pkt, 0, ihl), 0, 'IPv4 header checksum of the request');
  assert.equal(onesComplement(pkt, ihl, total), 0, 'ICMP checksum of the request');
  const r = Buffer.from(pkt.subarray(0, total));
  pkt.copy(r, 12, 16, 20); // swap source and destination
  pkt.copy(r, 16, 12, 16);
  r[8] = 64; // TTL
  r.writeUInt16BE(0, 10);
  r.writeUInt16BE(onesComplement(r, 0, ihl), 10);
  r[ihl] = 0; // echo reply, code 0
  r.writeUInt16BE(0, ihl + 2);
  r.writeUInt16BE(onesComplement(r, ihl, total), ihl + 2);
  return { id: pkt.readUInt16BE(ihl + 4), seq: pkt.readUInt16BE(ihl + 6), reply: r };
}

/** Sends `count` echo requests at once (preload) and waits for ping to give up on replies. */
async function queueRequests(ns: Netns, count: number): Promise<void> {
  const { out } = await finished(ns.spawn('ping', ['-n', '-q', '-c', String(count), '-l', String(count), '-W', '1', PEER]));
  assert.match(out, new RegExp(`${count} packets transmitted`), out);
}

test('TUN: ping through the device, answered from JavaScript', async (t) => {
  if (!ready(t)) return;
  const lab = new Lab();
  let tun: TunDevice | undefined;
  try {
    const made = tunInNamespace(lab, 1400);
    tun = made.tun;
    assert.equal(tun.name, `${lab.tag}t`);
    assert.equal(tun.mtu, 1400);
    assert.match(made.ns.ip('link', 'show', tun.name), /mtu 1400 /);
    const seqs: number[] = [];
    const written: boolean[] = [];
    const device = tun;
    device.onPackets((batch) => {
      for (const pkt of batch) {
        const echo = answerEcho(pkt);
        if (!echo) continue;
        seqs.push(echo.seq);
        written.push(device.write(echo.reply));
      }
    });
    const { code, out } = await finished(lab.track(made.ns.spawn('ping', ['-n', '-c', '3', '-W', '2', '-i', '0.2', PEER])));
    assert.equal(code, 0, out);
    assert.match(out, /3 packets transmitted, 3 received/);
    assert.deepEqual(seqs, [1, 2, 3]);
    assert.deepEqual(written, [true, true, true]);
  } finally {
    tun?.close();
    await lab.destroy();
  }
});

/** Read system calls so far of this process's threads named `name` (/proc task io accounting). */
function threadReads(name: string): number | undefined {
  let total: number | undefined;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== name) continue;
      total = (total ?? 0) + Number(/syscr: (\d+)/.exec(readFileSync(`/proc/self/task/${tid}/io`, 'utf8'))![1]);
    } catch { /* the thread ended meanwhile */ }
  }
  return total;
}

test('TUN with an ESP engine\'s lead: read on the engine\'s I/O thread, back on the loop when the engine stops or the lead goes', async (t) => {
  if (!ready(t) || !requireEnv(t, { files: [espAddonCandidates().find(existsSync) ?? espAddonCandidates().at(-1)!] })) return;
  const lab = new Lab();
  let tun: TunDevice | undefined;
  const transports: UdpTransport[] = [];
  const engine = async () => {
    const u = await UdpTransport.open({ bindAddress: '127.0.0.1', ikePort: null, natTPort: 0, fastPath: true });
    transports.push(u);
    return u.fastPath!.engine;
  };
  try {
    const made = tunInNamespace(lab);
    const device = (tun = made.tun);
    let answered = 0;
    device.onPackets((batch) => {
      for (const pkt of batch) {
        const echo = answerEcho(pkt);
        if (echo && device.write(echo.reply)) answered++;
      }
    });
    const pings = async (what: string) => {
      const before = answered;
      const { code, out } = await finished(lab.track(made.ns.spawn('ping', ['-n', '-c', '3', '-W', '2', '-i', '0.2', PEER])));
      assert.equal(code, 0, `${what}: ${out}`);
      assert.equal(answered - before, 3, what);
    };
    // No SA and no flow: the engine takes nothing, so every packet is handed to JavaScript.
    device.setLead((await engine()).tunLeadHook());
    const io0 = threadReads('outpost-io');
    assert.notEqual(io0, undefined, 'the engine runs its I/O thread');
    await pings('read by the engine\'s thread');
    assert.ok(threadReads('outpost-io')! >= io0! + 3, 'the TUN reads happened on the I/O thread');

    transports.shift()!.close(); // the engine stops receiving: the device goes back to the loop
    assert.equal(threadReads('outpost-io'), undefined, 'the I/O thread ended');
    await pings('read from the loop after the engine closed');

    device.setLead((await engine()).tunLeadHook()); // a new lead while reading: joins at once
    const io1 = threadReads('outpost-io')!;
    await pings('joined again');
    assert.ok(threadReads('outpost-io')! >= io1 + 3);

    device.setLead(null); // and back to the loop, the engine still running
    const io2 = threadReads('outpost-io')!;
    await pings('no lead');
    assert.equal(threadReads('outpost-io'), io2, 'the I/O thread no longer reads the device');
  } finally {
    tun?.close();
    for (const u of transports) u.close();
    await lab.destroy();
  }
});

test('TUN: a flood ping answered with writeBatch loses nothing', async (t) => {
  if (!ready(t)) return;
  const lab = new Lab();
  let tun: TunDevice | undefined;
  try {
    const made = tunInNamespace(lab);
    tun = made.tun;
    const device = tun;
    const sizes: number[] = [];
    let answered = 0;
    device.onPackets((batch) => {
      sizes.push(batch.length);
      const replies = batch.map(answerEcho).filter((e) => e !== null).map((e) => e.reply);
      answered += device.writeBatch(replies);
    });
    // Each reply releases the next request at once; -w bounds a hang, it is not a speed threshold.
    const { code, out } = await finished(lab.track(made.ns.spawn('ping', ['-n', '-q', '-f', '-c', '200', '-w', '30', PEER])));
    assert.equal(code, 0, out);
    assert.match(out, /200 packets transmitted, 200 received/);
    assert.equal(answered, 200);
    t.diagnostic(`batches: ${sizes.length}, largest ${Math.max(...sizes)}`);
  } finally {
    tun?.close();
    await lab.destroy();
  }
});

test('TUN: packets queued before reading come in batches of at most 256, the loop runs in between', async (t) => {
  if (!ready(t)) return;
  const lab = new Lab();
  let tun: TunDevice | undefined;
  try {
    const made = tunInNamespace(lab);
    tun = made.tun;
    await queueRequests(made.ns, 300); // nobody reads yet: all 300 wait in the device's queue
    const batches: number[][] = []; // echo sequence numbers per batch
    const events: string[] = [];
    const all = new Promise<void>((resolve) => {
      let seen = 0;
      tun!.onPackets((batch) => {
        const seqs = batch.map(answerEcho).filter((e) => e !== null).map((e) => e.seq);
        batches.push(seqs);
        events.push(`batch ${batch.length}`);
        if (batches.length === 1) setImmediate(() => events.push('immediate'));
        seen += seqs.length;
        if (seen >= 300) resolve();
      });
    });
    await all;
    assert.ok(batches.every((b) => b.length <= TUN_BATCH_MAX));
    assert.ok(events[0]!.startsWith(`batch ${TUN_BATCH_MAX}`), `first batch is a full one: ${events.join(', ')}`);
    // The remaining packets wait for the next loop turn: work queued meanwhile runs first.
    assert.equal(events[1], 'immediate', events.join(', '));
    assert.deepEqual(batches.flat(), Array.from({ length: 300 }, (_, i) => i + 1), 'every request, in order');
  } finally {
    tun?.close();
    await lab.destroy();
  }
});

test('TUN: close() stops callbacks at once, removes the interface, and is safe twice', async (t) => {
  if (!ready(t)) return;
  const lab = new Lab();
  let tun: TunDevice | undefined;
  try {
    const made = tunInNamespace(lab);
    tun = made.tun;
    const device = tun;
    await queueRequests(made.ns, 300); // more than one batch is waiting
    let calls = 0;
    const first = new Promise<void>((resolve) => device.onPackets(() => {
      calls++;
      device.close(); // from inside the callback: the other 44 must never arrive
      device.close();
      resolve();
    }));
    await first;
    await loopTurns(3);
    assert.equal(calls, 1);
    assert.throws(() => made.ns.ip('link', 'show', device.name), /does not exist/);
    device.close();
    assert.throws(() => device.write(Buffer.alloc(20)),
      (e: unknown) => e instanceof TunError && e.code === 'EBADF' && /is closed/.test(e.message));
    assert.throws(() => device.onPackets(() => {}), (e: unknown) => e instanceof TunError && e.code === 'EBADF');
  } finally {
    tun?.close();
    await lab.destroy();
  }
});

test('TUN: errors name the problem', (t) => {
  if (!ready(t)) return;
  const base = `ot${process.pid.toString(36)}`;
  const opened: TunDevice[] = [];
  const fails = (fn: () => unknown, code: string, op: string, text: RegExp) =>
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof TunError, String(e));
      assert.equal(e.code, code, e.message);
      assert.equal(e.op, op, e.message);
      assert.ok(e.errno > 0);
      assert.match(e.message, text);
      return true;
    });
  try {
    fails(() => TunDevice.open({ name: 'outpost-too-long0' }), 'EINVAL', 'name', /"outpost-too-long0" is too long \(17 bytes\)/);
    fails(() => TunDevice.open({ name: 'bad/name' }), 'EINVAL', 'TUNSETIFF', /"bad\/name" cannot be a TUN device: the name is invalid/);
    // A name that already belongs to another kind of interface (lo) is refused the same way.
    fails(() => TunDevice.open({ name: 'lo' }), 'EINVAL', 'TUNSETIFF', /"lo" cannot be a TUN device/);
    const a = TunDevice.open({ name: `${base}b` }); // never up: no traffic in the root namespace
    opened.push(a);
    fails(() => opened.push(TunDevice.open({ name: a.name })), 'EBUSY', 'TUNSETIFF', /already open by another program/);
    fails(() => a.setMtu(20), 'EINVAL', 'SIOCSIFMTU', /68 to 65535/);
    fails(() => a.write(Buffer.from('450000140000000040010000', 'hex')), 'EIO', 'write', /is down/);
    const k = TunDevice.open({}); // the kernel's choice of name
    opened.push(k);
    assert.match(k.name, /^tun\d+$/);
    assert.equal(k.mtu, 1500);
  } finally {
    for (const d of opened) d.close();
  }
});

test('TUN: inside a namespace: up at open, a throwing callback is uncaught, the process exits by itself', async (t) => {
  if (!ready(t)) return;
  const lab = new Lab();
  try {
    const ns = lab.ns('child');
    // The child opens the TUN itself inside the namespace (as the daemon would), sends one UDP
    // datagram into it, and ends without process.exit: a handle left open would hang it.
    const script = `
      import { TunDevice } from ${JSON.stringify(TUN_MODULE)};
      import { execFileSync } from 'node:child_process';
      import dgram from 'node:dgram';
      const tun = TunDevice.open({ name: 'outpost0', mtu: 1380, up: true });
      execFileSync('ip', ['addr', 'add', '${LOCAL}/30', 'dev', tun.name]);
      console.log(execFileSync('ip', ['link', 'show', tun.name], { encoding: 'utf8' }));
      const idle = TunDevice.open({}); // opened, never read, never closed: must not hold the loop
      process.on('uncaughtException', (e) => {
        console.log('uncaught: ' + e.message);
        tun.close();
      });
      process.on('exit', () => console.log('exit ' + idle.name));
      tun.onPackets((batch) => {
        if (batch.some((p) => p[0] >> 4 === 4 && p[9] === 17)) throw new Error('boom from the callback');
      });
      const s = dgram.createSocket('udp4');
      s.send('hello', 9, '${PEER}', () => s.close());
    `;
    const child = lab.track(ns.spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]));
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000); // guards a hang only
    const { code, out } = await finished(child);
    clearTimeout(killer);
    assert.equal(code, 0, out);
    assert.match(out, /<[A-Z_,]*\bUP\b[A-Z_,]*> mtu 1380 /);
    assert.match(out, /uncaught: boom from the callback/);
    assert.match(out, /exit tun\d+/);
  } finally {
    await lab.destroy();
  }
});
