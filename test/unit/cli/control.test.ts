// The control socket over a real unix socket in a temp dir, and `outpost status` against it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer, ControlSocketError, MAX_CONTROL_LINE_BYTES } from '../../../firmware/gateway/control.ts';
import { controlRequest, ControlClientError } from '../../../firmware/cli/control-client.ts';
import { runStatusCommand } from '../../../firmware/cli/status.ts';
import type { Logger } from '../../../firmware/log.ts';
import { upModel } from './fixtures.ts';

const quiet: Logger = (() => {
  const l: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => l };
  return l;
})();

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-ctl-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function withServer(fn: (srv: ControlServer, path: string) => Promise<void>, opts: { maxClients?: number } = {}): Promise<void> {
  await withDir(async (dir) => {
    const path = join(dir, 'run', 'control.sock');
    const srv = new ControlServer({ path, log: quiet, ...opts });
    srv.handle('status', async () => upModel());
    srv.handle('echo', (args) => args);
    srv.handle('boom', () => { throw new Error('tunnel exploded'); });
    srv.handle('big', () => ({ n: 10n ** 20n }));
    await srv.listen();
    try {
      await fn(srv, path);
    } finally {
      await srv.close();
    }
  });
}

/** A raw JSON-lines client: send lines, read response lines in order. */
class RawClient {
  private buf = '';
  private lines: string[] = [];
  private waiters: Array<(l: string | null) => void> = [];
  private ended = false;
  constructor(readonly s: Socket) {
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      this.buf += d;
      let nl;
      while ((nl = this.buf.indexOf('\n')) !== -1) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const w = this.waiters.shift();
        if (w) w(line); else this.lines.push(line);
      }
    });
    const end = () => { this.ended = true; for (const w of this.waiters.splice(0)) w(null); };
    s.on('end', end);
    s.on('close', end);
    s.on('error', () => {});
  }
  static async connect(path: string): Promise<RawClient> {
    const s = createConnection(path);
    await once(s, 'connect');
    return new RawClient(s);
  }
  send(text: string): void { this.s.write(text); }
  next(): Promise<any> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(JSON.parse(l));
    if (this.ended) return Promise.resolve(null);
    return new Promise((r) => this.waiters.push((x) => r(x === null ? null : JSON.parse(x))));
  }
  closed(): Promise<void> {
    return this.ended ? Promise.resolve() : new Promise((r) => this.waiters.push(() => r()));
  }
  close(): void { this.s.destroy(); }
}

test('round trip: status over a real unix socket, socket mode 0600', () => withServer(async (_srv, path) => {
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.deepEqual(await controlRequest('status', undefined, { socketPath: path }), upModel());
  assert.deepEqual(await controlRequest('echo', { a: [1, 'x'] }, { socketPath: path }), { a: [1, 'x'] });
  assert.deepEqual(await controlRequest('big', undefined, { socketPath: path }), { n: '100000000000000000000' });
}));

test('JSON lines protocol: ids echoed, several requests in one write, errors as ok:false', () => withServer(async (_srv, path) => {
  const c = await RawClient.connect(path);
  try {
    c.send('{"id":1,"cmd":"echo","args":7}\n{"id":"b","cmd":"nope"}\r\n\n{"id":3,"cmd":"boom"}\nnot json\n[1]\n{"id":{},"cmd":"echo"}\n{"id":6}\n');
    assert.deepEqual(await c.next(), { id: 1, ok: true, result: 7 });
    assert.deepEqual(await c.next(), { id: 'b', ok: false, error: 'unknown command "nope" (known: big, boom, echo, status)' });
    assert.deepEqual(await c.next(), { id: 3, ok: false, error: 'tunnel exploded' });
    assert.deepEqual(await c.next(), { id: null, ok: false, error: 'request is not valid JSON' });
    assert.deepEqual(await c.next(), { id: null, ok: false, error: 'request must be a JSON object like {"id":1,"cmd":"status"}' });
    assert.deepEqual(await c.next(), { id: null, ok: false, error: '"id" must be a number or a short string' });
    assert.deepEqual(await c.next(), { id: 6, ok: false, error: 'request needs "cmd", a command name string' });
    // The connection stays usable after errors.
    c.send('{"id":7,"cmd":"echo","args":"still here"}\n');
    assert.deepEqual(await c.next(), { id: 7, ok: true, result: 'still here' });
  } finally {
    c.close();
  }
}));

test('an overlong request line gets an error and the connection is closed', () => withServer(async (srv, path) => {
  const c = await RawClient.connect(path);
  try {
    // No newline at all: the server must not wait for one forever.
    c.send('{"id":1,"cmd":"echo","args":"' + 'x'.repeat(MAX_CONTROL_LINE_BYTES) + '"}');
    assert.deepEqual(await c.next(), { id: null, ok: false, error: `request line longer than ${MAX_CONTROL_LINE_BYTES} bytes` });
    await c.closed();
    assert.equal(await c.next(), null);
  } finally {
    c.close();
  }
  // The server is fine afterwards.
  assert.equal(((await controlRequest('status', undefined, { socketPath: path })) as any).deviceId, 'branch-042');
  assert.ok(srv.clientCount <= 1);
}));

test('a request line just under the limit is accepted', () => withServer(async (_srv, path) => {
  const head = '{"id":1,"cmd":"echo","args":"';
  const tail = '"}';
  const filler = 'y'.repeat(MAX_CONTROL_LINE_BYTES - head.length - tail.length);
  const c = await RawClient.connect(path);
  try {
    c.send(head + filler.slice(0, 1000));
    c.send(filler.slice(1000) + tail + '\n');
    const r = await c.next();
    assert.equal(r.ok, true);
    assert.equal(r.result.length, filler.length);
  } finally {
    c.close();
  }
}));

test('clients are bounded', () => withServer(async (srv, path) => {
  const a = await RawClient.connect(path);
  const b = await RawClient.connect(path);
  try {
    // Make sure both are accepted before the third arrives.
    a.send('{"id":1,"cmd":"echo"}\n');
    b.send('{"id":1,"cmd":"echo"}\n');
    assert.equal((await a.next()).ok, true);
    assert.equal((await b.next()).ok, true);
    assert.equal(srv.clientCount, 2);
    const c = await RawClient.connect(path);
    assert.deepEqual(await c.next(), { id: null, ok: false, error: 'too many control clients (at most 2)' });
    await c.closed();
    c.close();
  } finally {
    a.close();
    b.close();
  }
}, { maxClients: 2 }));

test('the daemon is not running: clear message and non-zero exit', () => withDir(async (dir) => {
  const path = join(dir, 'control.sock');
  await assert.rejects(controlRequest('status', undefined, { socketPath: path }), (e: unknown) => {
    assert.ok(e instanceof ControlClientError);
    assert.equal(e.kind, 'not-running');
    assert.equal(e.message, `outpost daemon is not running (no control socket at ${path})`);
    return true;
  });
  const out = capture();
  assert.equal(await runStatusCommand(['--socket', path], out), 1);
  assert.equal(out.stderrText(), `outpost daemon is not running (no control socket at ${path})\n`);
  assert.equal(out.stdoutText(), '');
}));

test('a live daemon is not displaced; its stale socket (after a crash) is replaced', () => withDir(async (dir) => {
  const path = join(dir, 'control.sock');
  // Another "daemon": a child process listening on the path, later killed the hard way.
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('ready'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [chunk] = await once(child.stdout!, 'data');
    assert.equal(String(chunk).trim(), 'ready');
    const second = new ControlServer({ path, log: quiet });
    await assert.rejects(second.listen(), (e: unknown) => e instanceof ControlSocketError && e.kind === 'in-use' && /already answering/.test(e.message));
  } finally {
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
  assert.equal((await stat(path)).isSocket(), true, 'a crash leaves the socket file behind');
  await assert.rejects(controlRequest('status', undefined, { socketPath: path }), (e: unknown) => e instanceof ControlClientError && e.kind === 'not-running' && /nothing answers/.test(e.message));

  const srv = new ControlServer({ path, log: quiet });
  srv.handle('status', () => upModel());
  await srv.listen();
  try {
    const out = capture();
    assert.equal(await runStatusCommand(['--socket=' + path, '--json'], out), 0);
    assert.deepEqual(JSON.parse(out.stdoutText()), upModel());
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  } finally {
    await srv.close();
  }
  await assert.rejects(stat(path), 'close() removes the socket file');
}));

test('a path that is not a socket is never removed', () => withDir(async (dir) => {
  const path = join(dir, 'control.sock');
  await writeFile(path, 'important');
  const srv = new ControlServer({ path, log: quiet });
  await assert.rejects(srv.listen(), (e: unknown) => e instanceof ControlSocketError && e.kind === 'not-a-socket');
  assert.equal((await stat(path)).isFile(), true);
}));

test('outpost status prints text, JSON, usage', () => withServer(async (_srv, path) => {
  const t = capture();
  assert.equal(await runStatusCommand(['--socket', path], t), 0);
  assert.match(t.stdoutText(), /^outpost branch-042, firmware 0\.1\.0, up 2d 3h\nhq: UP, IKEv2, /);
  assert.match(t.stdoutText(), /in  c1a2b3c4, 1\.2 MB \(1234567 bytes\), 1021 packets/);

  const j = capture();
  assert.equal(await runStatusCommand(['--json', '--socket', path], j), 0);
  assert.deepEqual(JSON.parse(j.stdoutText()), upModel());

  const u = capture();
  assert.equal(await runStatusCommand(['--verbose'], u), 2);
  assert.match(u.stderrText(), /^outpost status: unknown option "--verbose"\nusage: outpost status/);
  const h = capture();
  assert.equal(await runStatusCommand(['--help'], h), 0);
  assert.match(h.stdoutText(), /^usage: outpost status \[--json\] \[--socket PATH\]/);
  assert.equal(await runStatusCommand(['--socket'], capture()), 2);
}));

test('outpost status reports a daemon-side failure', () => withDir(async (dir) => {
  const path = join(dir, 'control.sock');
  const srv = new ControlServer({ path, log: quiet });
  srv.handle('status', () => { throw new Error('gateway not started yet'); });
  await srv.listen();
  try {
    const out = capture();
    assert.equal(await runStatusCommand(['--socket', path], out), 1);
    assert.equal(out.stderrText(), 'the daemon refused "status": gateway not started yet\n');
  } finally {
    await srv.close();
  }
}));

function capture() {
  let o = '';
  let e = '';
  return {
    stdout: { write: (s: string) => { o += s; return true; } },
    stderr: { write: (s: string) => { e += s; return true; } },
    stdoutText: () => o,
    stderrText: () => e,
  };
}
