// The local control socket: a unix socket (mode 0600, root only) speaking JSON lines.
//   request   {"id":1,"cmd":"status","args":{...}}            (args optional)
//   response  {"id":1,"ok":true,"result":{...}}  or  {"id":1,"ok":false,"error":"..."}
// The daemon registers handlers (`server.handle('status', async () => model)`). Bounded: line
// length (longer -> error and close), clients (more -> error and close), one request in flight
// per client (reading pauses until its answer is written), idle clients are dropped.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { lstat, mkdir, unlink, chmod } from 'node:fs/promises';
import { dirname } from 'node:path';
import { logger, type Logger } from '../log.ts';

export const DEFAULT_CONTROL_SOCKET = '/run/outpost/control.sock';
export const MAX_CONTROL_LINE_BYTES = 64 * 1024;
export const DEFAULT_MAX_CONTROL_CLIENTS = 8;
export const DEFAULT_CONTROL_IDLE_MS = 60_000;
const MAX_CMD_LENGTH = 64;

export type ControlId = number | string | null;

export interface ControlRequest {
  id?: ControlId;
  cmd: string;
  args?: unknown;
}

export type ControlResponse =
  | { id: ControlId; ok: true; result: unknown }
  | { id: ControlId; ok: false; error: string };

export type ControlHandler = (args: unknown) => unknown | Promise<unknown>;

export type ControlSocketErrorKind = 'in-use' | 'not-a-socket' | 'listen';

export class ControlSocketError extends Error {
  override readonly name = 'ControlSocketError';
  constructor(readonly kind: ControlSocketErrorKind, readonly path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface ControlServerOptions {
  /** Default DEFAULT_CONTROL_SOCKET. */
  path?: string;
  maxClients?: number;
  maxLineBytes?: number;
  /** A client silent this long is disconnected. */
  idleTimeoutMs?: number;
  log?: Logger;
}

/** JSON with bigints as decimal strings (counters may be bigints in the core). */
export function encodeControlLine(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)) + '\n';
}

function errno(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

/** Does a process accept connections on this socket path? */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', (e) => {
      s.destroy();
      const code = errno(e);
      if (code === 'ECONNREFUSED' || code === 'ENOENT') resolve(false);
      else if (code === 'EAGAIN') resolve(true); // backlog full: someone is there
      else reject(e);
    });
  });
}

export class ControlServer {
  readonly path: string;
  private readonly maxClients: number;
  private readonly maxLine: number;
  private readonly idleMs: number;
  private readonly log: Logger;
  private readonly handlers = new Map<string, ControlHandler>();
  private readonly clients = new Set<Socket>();
  private server: Server | null = null;
  private inode: number | null = null;

  constructor(opts: ControlServerOptions = {}) {
    this.path = opts.path ?? DEFAULT_CONTROL_SOCKET;
    this.maxClients = opts.maxClients ?? DEFAULT_MAX_CONTROL_CLIENTS;
    this.maxLine = opts.maxLineBytes ?? MAX_CONTROL_LINE_BYTES;
    this.idleMs = opts.idleTimeoutMs ?? DEFAULT_CONTROL_IDLE_MS;
    this.log = opts.log ?? logger('control');
  }

  /** Registers the handler for `cmd`; its return value (or promise) becomes `result`. */
  handle(cmd: string, fn: ControlHandler): this {
    this.handlers.set(cmd, fn);
    return this;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /**
   * Starts listening. A stale socket file (nobody answers) is removed; if another daemon
   * answers, or the path is something other than a socket, it refuses (ControlSocketError).
   */
  async listen(): Promise<void> {
    if (this.server) throw new ControlSocketError('listen', this.path, 'control socket is already listening');
    const path = this.path;
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    let st;
    try {
      st = await lstat(path);
    } catch (e) {
      if (errno(e) !== 'ENOENT') throw new ControlSocketError('listen', path, `cannot check ${path}: ${errno(e) ?? e}`, { cause: e });
    }
    if (st) {
      if (!st.isSocket()) throw new ControlSocketError('not-a-socket', path, `${path} exists and is not a socket; refusing to replace it`);
      let live: boolean;
      try {
        live = await answers(path);
      } catch (e) {
        throw new ControlSocketError('listen', path, `cannot probe ${path}: ${errno(e) ?? e}`, { cause: e });
      }
      if (live) throw new ControlSocketError('in-use', path, `another outpost daemon is already answering on ${path}`);
      await unlink(path).catch((e) => {
        if (errno(e) !== 'ENOENT') throw new ControlSocketError('listen', path, `cannot remove stale socket ${path}: ${errno(e) ?? e}`, { cause: e });
      });
      this.log.info('stale control socket removed', { path });
    }

    const server = createServer({ allowHalfOpen: false }, (s) => this.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new ControlSocketError(errno(e) === 'EADDRINUSE' ? 'in-use' : 'listen', path, `cannot listen on ${path}: ${errno(e) ?? e}`, { cause: e })));
      // The socket is bound inside listen(): a 0177 umask around it means it is never,
      // even briefly, connectable by other users. chmod afterwards makes the mode exact.
      let old: number | undefined;
      try { old = process.umask(0o177); } catch { /* worker threads cannot set the umask */ }
      try {
        server.listen(path, () => resolve());
      } finally {
        if (old !== undefined) process.umask(old);
      }
    });
    server.on('error', (e) => this.log.error('control socket error', { error: e }));
    await chmod(path, 0o600);
    this.inode = (await lstat(path)).ino;
    this.server = server;
    this.log.info('control socket listening', { path });
  }

  /** Stops listening, disconnects clients and removes the socket file (if it is still ours). */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    for (const c of this.clients) c.destroy();
    this.clients.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      const st = await lstat(this.path);
      if (st.isSocket() && st.ino === this.inode) await unlink(this.path);
    } catch {
      // already gone
    }
  }

  private accept(s: Socket): void {
    if (this.clients.size >= this.maxClients) {
      s.end(encodeControlLine({ id: null, ok: false, error: `too many control clients (at most ${this.maxClients})` }), () => s.destroy());
      return;
    }
    this.clients.add(s);
    s.on('close', () => this.clients.delete(s));
    s.on('error', () => s.destroy()); // a client vanishing mid-write is not our problem
    s.setTimeout(this.idleMs, () => s.destroy());

    let parts: Buffer[] = [];
    let partLen = 0;
    const queue: string[] = [];
    let busy = false;
    let closing = false;

    const fail = (error: string) => {
      closing = true;
      queue.length = 0;
      s.end(encodeControlLine({ id: null, ok: false, error }), () => s.destroy());
    };

    const pump = async () => {
      if (busy) return;
      busy = true;
      s.pause(); // one request in flight: a client cannot make us queue unboundedly
      while (queue.length && !closing && !s.destroyed) {
        const line = queue.shift()!;
        const resp = await this.dispatch(line);
        let text: string;
        try {
          text = encodeControlLine(resp);
        } catch {
          text = encodeControlLine({ id: resp.id, ok: false, error: 'internal error: result is not serializable' });
        }
        if (closing || s.destroyed) break; // an overlong line arrived meanwhile: the error was the last word
        if (!s.write(text)) await new Promise<void>((r) => { s.once('drain', r); s.once('close', r); });
      }
      busy = false;
      if (!closing && !s.destroyed) s.resume();
    };

    s.on('data', (chunk: Buffer) => {
      if (closing) return;
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(10, start);
        if (nl === -1) break;
        partLen += nl - start;
        if (partLen > this.maxLine) return fail(`request line longer than ${this.maxLine} bytes`);
        parts.push(chunk.subarray(start, nl));
        let line = Buffer.concat(parts).toString('utf8');
        parts = [];
        partLen = 0;
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (line.trim() !== '') queue.push(line);
        start = nl + 1;
      }
      if (start < chunk.length) {
        partLen += chunk.length - start;
        if (partLen > this.maxLine) return fail(`request line longer than ${this.maxLine} bytes`);
        parts.push(chunk.subarray(start));
      }
      if (queue.length) void pump();
    });
  }

  private async dispatch(line: string): Promise<ControlResponse> {
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      return { id: null, ok: false, error: 'request is not valid JSON' };
    }
    if (typeof req !== 'object' || req === null || Array.isArray(req)) {
      return { id: null, ok: false, error: 'request must be a JSON object like {"id":1,"cmd":"status"}' };
    }
    const r = req as Record<string, unknown>;
    const rawId = r.id;
    const id: ControlId = typeof rawId === 'number' && Number.isFinite(rawId) ? rawId
      : typeof rawId === 'string' && rawId.length <= 64 ? rawId : null;
    if (rawId !== undefined && rawId !== null && id === null) return { id: null, ok: false, error: '"id" must be a number or a short string' };
    if (typeof r.cmd !== 'string' || r.cmd.length === 0 || r.cmd.length > MAX_CMD_LENGTH) {
      return { id, ok: false, error: 'request needs "cmd", a command name string' };
    }
    const h = this.handlers.get(r.cmd);
    if (!h) {
      return { id, ok: false, error: `unknown command ${JSON.stringify(r.cmd)} (known: ${[...this.handlers.keys()].sort().join(', ') || 'none'})` };
    }
    try {
      const result = await h(r.args);
      return { id, ok: true, result: result === undefined ? null : result };
    } catch (e) {
      this.log.warn('control command failed', { cmd: r.cmd, error: e instanceof Error ? e.message : String(e) });
      return { id, ok: false, error: e instanceof Error ? e.message : String(e) };
    }
  }
}
