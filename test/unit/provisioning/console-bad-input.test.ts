// What a serial line really delivers: megabyte lines, binary garbage, a terminal at the wrong
// speed, lines in pieces, and a cable pulled in the middle of a commit. Each gets a clear error,
// the console keeps answering, and the stored config is always the old or the new one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { requireEnv } from '../../lib/netns.ts';
import { loadConfig } from '../../../firmware/config/store.ts';
import { createPinStateText } from '../../../provisioning/pin.ts';
import { ProvisionClient, RemoteError } from '../../../provisioning/tool/client.ts';
import { atWrongBaud, client, closePort, harness, openPort, PIN, prng, ptyPair, TEST_SCRYPT } from './helpers.ts';

test('a megabyte line is discarded and reported; the next line works (human and JSON)', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const h = await harness();
  try {
    const big = Buffer.alloc(1024 * 1024, 0x41);
    h.term.send(Buffer.concat([big, Buffer.from('\r')]));
    await h.term.expect(/error: line too long \(1048576 bytes; at most 65536\): discarded\r\noutpost:branch-042> $/, 60_000);
    assert.ok(h.term.buf.length < 70 * 1024, 'the console echoed at most one line\'s worth');
    assert.match(await h.term.cmd('status'), /hq: DOWN/);
    const c = client(h);
    const err = new Promise<string>((r) => h.toolPort.on('data', (d: Buffer) => { const m = /\{"id":null,"ok":false,"error":\{"code":"line-too-long"[^\n]*\n/.exec(h.term.buf); if (m) r(m[0]); }));
    h.term.send(Buffer.concat([Buffer.from('{"id":1,"cmd":"load","config":"'), big, Buffer.from('"}\n')]));
    assert.match(await err, /"message":"line too long \(1048609 bytes; at most 65536\): discarded"/);
    assert.equal((await c.request<{ deviceId: string }>('hello')).deviceId, 'branch-042');
    c.close();
  } finally {
    await h.close();
  }
});

test('binary garbage and a terminal at the wrong speed get "not text" errors; the console carries on', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const h = await harness({ pinFile: await createPinStateText(PIN, TEST_SCRYPT) });
  const before = readFileSync(h.configPath, 'utf8');
  try {
    const r = prng(0x5e41a1);
    for (let i = 0; i < 20; i++) h.term.send(r.bytes(1 + r.int(3000)));
    h.term.send('\x15\r'); // Ctrl-U and Enter, as the tool does, to end whatever is pending
    // "status" typed at 9600 baud into a 115200 line, and the other way round
    h.term.send(Buffer.concat([atWrongBaud(Buffer.from('status\r'), 9600, 115200), Buffer.from('\r')]));
    h.term.send(Buffer.concat([atWrongBaud(Buffer.from('commit\r'), 115200, 9600), Buffer.from('\r')]));
    assert.match(await h.term.cmd('info'), /board:/);
    assert.match(h.term.buf, /error: ignored (a line of \d+ bytes that is|\d+ lines \(\d+ bytes\) that are) not text \(noise on the line, or a terminal not set to 115200 8N1\?\)/);
    assert.equal(readFileSync(h.configPath, 'utf8'), before, 'noise changed nothing');
    assert.equal(h.daemon.applied.length, 0);
    // machine mode answers too
    const c = client(h);
    assert.equal((await c.request<{ protocol: number }>('hello')).protocol, 1);
    c.close();
  } finally {
    await h.close();
  }
});

test('a wrong-speed byte stream is not text (the simulation itself)', () => {
  const slow = atWrongBaud(Buffer.from('status\r'), 9600, 115200);
  const fast = atWrongBaud(Buffer.from('commit\r'), 115200, 9600);
  assert.equal(atWrongBaud(Buffer.from('status\r'), 115200, 115200).toString(), 'status\r');
  for (const b of [slow, fast]) assert.ok(!/status|commit/.test(b.toString('latin1')));
  assert.ok(slow.some((x) => x >= 0x80 || x === 0));
});

test('lines in pieces: a partial line waits for its end, in both modes', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const h = await harness();
  try {
    h.term.send('st');
    h.term.send('at');
    h.term.send('us\r');
    await h.term.expect(/hq: DOWN, no IKE SA\r\n[^\r]*\r\noutpost:branch-042> $/);
    const c = client(h);
    const got = new Promise<string>((r) => { const f = () => { const m = /\{"id":"p1","ok":true[^\n]*\n/.exec(h.term.buf); if (m) { h.toolPort.off('data', f); r(m[0]); } }; h.toolPort.on('data', f); });
    for (const piece of ['{"id":"p1",', '"cmd":', '"hel', 'lo"}', '\r\n']) h.term.send(piece);
    assert.match(await got, /"deviceId":"branch-042"/);
    c.close();
  } finally {
    await h.close();
  }
});

test('the cable pulled mid-commit: the commit completes, the store holds the old or new config, the console comes back', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const h = await harness({ pinFile: await createPinStateText(PIN, TEST_SCRYPT) });
  let pty2: Awaited<ReturnType<typeof ptyPair>> | undefined;
  try {
    const c = client(h);
    await c.hello();
    await c.request('login', { pin: PIN });
    await c.request('set', { field: 'tunnel.remote', value: '203.0.113.44' });
    let release!: () => void;
    h.daemon.gate = new Promise((r) => { release = r; });
    const applying = new Promise<void>((r) => { h.daemon.onApplyStart = r; });
    const commit = c.request('commit', {}, 20_000).catch((e) => e as Error);
    await applying; // saved, now applying: pull the cable
    await h.pty.kill();
    const failed = await commit;
    assert.ok(failed instanceof Error && /closed/.test(failed.message), String(failed));
    release();
    await h.console.idle();
    const stored = await loadConfig(h.configPath);
    assert.equal(stored.source, 'main');
    assert.equal((stored.raw as { tunnel: { remote: string } }).tunnel.remote, '203.0.113.44');
    assert.equal(h.daemon.config.tunnel.remote, '203.0.113.44');

    // a new cable on the same device path: the console reopens it; the login is gone
    pty2 = await ptyPair(h.dir);
    const port = await openPort(pty2.tool);
    const c2 = new ProvisionClient(port, 5000);
    try {
      const hello = await c2.hello(20, 1000);
      assert.equal(hello.loggedIn, false);
      assert.equal((await c2.request<{ tunnel: unknown }>('status')).tunnel !== undefined, true);
      await assert.rejects(c2.request('diff'), (e: RemoteError) => e.code === 'login-required');
      // a half-sent commit line when the cable goes: nothing is committed
      await c2.request('login', { pin: PIN });
      await c2.request('set', { field: 'tunnel.remote', value: '203.0.113.45' });
      port.write('{"id":99,"cmd":"comm');
      await new Promise<void>((r) => port.drain(() => r()));
    } finally {
      c2.close();
      await closePort(port);
    }
    await pty2.kill();
    await h.console.idle();
    const after = await loadConfig(h.configPath);
    assert.equal((after.raw as { tunnel: { remote: string } }).tunnel.remote, '203.0.113.44');
    assert.equal(h.daemon.applied.length, 1);
  } finally {
    await pty2?.kill();
    await h.close();
  }
});

test('commands queued while one runs are bounded', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const h = await harness({ pinFile: await createPinStateText(PIN, TEST_SCRYPT), console: { maxQueuedLines: 4 } });
  try {
    const c = client(h);
    await c.hello();
    await c.request('login', { pin: PIN });
    await c.request('set', { field: 'device.id', value: 'queued-1' });
    let release!: () => void;
    h.daemon.gate = new Promise((r) => { release = r; });
    const applying = new Promise<void>((r) => { h.daemon.onApplyStart = r; });
    const commit = c.request('commit');
    await applying;
    const many = Promise.all(Array.from({ length: 10 }, () => c.request('hello').then(() => 'ok', (e: RemoteError) => e.code)));
    const busy = new Promise<void>((r) => { const f = () => { if ((h.term.buf.match(/"code":"busy"/g) ?? []).length >= 6) { h.toolPort.off('data', f); r(); } }; h.toolPort.on('data', f); f(); });
    await busy;
    release();
    await commit;
    const answers = await many;
    assert.deepEqual(answers, [...Array(4).fill('ok'), ...Array(6).fill('busy')]);
    assert.match(h.term.buf, /"ok":false,"error":\{"code":"busy","message":"busy: 4 lines are waiting; this line was dropped"\}/);
    c.close();
  } finally {
    await h.close();
  }
});
