// Client side of the control socket: one request, one response, with errors a person can read
// ("outpost daemon is not running (no control socket at /run/outpost/control.sock)").
import { createConnection } from 'node:net';
import { DEFAULT_CONTROL_SOCKET, encodeControlLine } from '../gateway/control.ts';

export const DEFAULT_CONTROL_TIMEOUT_MS = 5000;
/** Responses can be larger than requests (many child SAs), but are still bounded. */
export const MAX_CONTROL_RESPONSE_BYTES = 4 * 1024 * 1024;

export type ControlClientErrorKind = 'not-running' | 'permission' | 'timeout' | 'protocol' | 'failed';

export class ControlClientError extends Error {
  override readonly name = 'ControlClientError';
  constructor(readonly kind: ControlClientErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface ControlClientOptions {
  socketPath?: string;
  timeoutMs?: number;
}

/** The socket path: explicit, else $OUTPOST_CONTROL_SOCKET, else the default. */
export function controlSocketPath(explicit?: string): string {
  return explicit ?? (process.env.OUTPOST_CONTROL_SOCKET || DEFAULT_CONTROL_SOCKET);
}

let nextId = 1;

/** Sends `cmd` and resolves with the daemon's `result`; rejects with ControlClientError. */
export function controlRequest(cmd: string, args?: unknown, opts: ControlClientOptions = {}): Promise<unknown> {
  const path = controlSocketPath(opts.socketPath);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS;
  const id = nextId++;
  return new Promise((resolve, reject) => {
    let settled = false;
    const chunks: Buffer[] = [];
    let len = 0;
    const s = createConnection(path);
    const done = (err: ControlClientError | null, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err); else resolve(value);
    };
    const timer = setTimeout(() => done(new ControlClientError('timeout', `no answer from the outpost daemon on ${path} within ${timeoutMs / 1000}s`)), timeoutMs);
    s.on('connect', () => {
      s.write(encodeControlLine(args === undefined ? { id, cmd } : { id, cmd, args }));
    });
    s.on('data', (chunk: Buffer) => {
      const nl = chunk.indexOf(10);
      if (nl === -1) {
        len += chunk.length;
        chunks.push(chunk);
        if (len > MAX_CONTROL_RESPONSE_BYTES) done(new ControlClientError('protocol', `the daemon's answer is larger than ${MAX_CONTROL_RESPONSE_BYTES} bytes`));
        return;
      }
      chunks.push(chunk.subarray(0, nl));
      let resp: unknown;
      try {
        resp = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return done(new ControlClientError('protocol', 'the daemon answered with something that is not JSON'));
      }
      if (typeof resp !== 'object' || resp === null || typeof (resp as { ok?: unknown }).ok !== 'boolean') {
        return done(new ControlClientError('protocol', 'the daemon answered without an "ok" field'));
      }
      const r = resp as { id?: unknown; ok: boolean; result?: unknown; error?: unknown };
      if (!r.ok) return done(new ControlClientError('failed', `the daemon refused "${cmd}": ${String(r.error ?? 'no reason given')}`));
      if (r.id !== id) return done(new ControlClientError('protocol', `the daemon answered request ${JSON.stringify(r.id)}, expected ${id}`));
      done(null, r.result);
    });
    s.on('end', () => done(new ControlClientError('protocol', `the outpost daemon closed ${path} without answering`)));
    s.on('error', (e: NodeJS.ErrnoException) => {
      switch (e.code) {
        case 'ENOENT':
        case 'ENOTDIR':
          return done(new ControlClientError('not-running', `outpost daemon is not running (no control socket at ${path})`, { cause: e }));
        case 'ECONNREFUSED':
          return done(new ControlClientError('not-running', `outpost daemon is not running (nothing answers on the control socket at ${path})`, { cause: e }));
        case 'EACCES':
        case 'EPERM':
          return done(new ControlClientError('permission', `permission denied on the control socket ${path} (run as root)`, { cause: e }));
        default:
          return done(new ControlClientError('protocol', `cannot talk to the outpost daemon on ${path}: ${e.code ?? e.message}`, { cause: e }));
      }
    });
  });
}
