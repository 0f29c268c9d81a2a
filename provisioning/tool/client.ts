// The technician's side of machine mode: JSON requests over the serial line, each answered by
// one response with its id; events (progress, rollback) delivered as they come. Lines that are
// not JSON (a human prompt left on the line, noise) are ignored. Every wait is bounded.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { ErrorBody } from '../errors.ts';
import { LineDecoder } from '../line-decoder.ts';
import { jsonLine, type ConsoleEvent, type Response } from '../protocol.ts';

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const CLIENT_MAX_LINE_BYTES = 4 * 1024 * 1024;
/** The device's line limit: requests longer than this are refused here, before sending. */
export const DEVICE_MAX_LINE_BYTES = 64 * 1024;

export class RemoteError extends Error {
  override readonly name = 'RemoteError';
  constructor(readonly body: ErrorBody) {
    super(body.message);
  }
  get code(): string { return this.body.code; }
}

export class ClientError extends Error {
  override readonly name = 'ClientError';
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class ProvisionClient extends EventEmitter<{ event: [ConsoleEvent]; noise: [string]; close: [] }> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly decoder: LineDecoder;
  private closed = false;

  constructor(private readonly stream: Duplex, private readonly timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS) {
    super();
    this.decoder = new LineDecoder({ maxLineBytes: CLIENT_MAX_LINE_BYTES, interactive: false }, {
      event: (e) => { if (e.kind === 'line') this.onLine(e.text); },
      echo: () => {},
    });
    stream.on('data', (d: Buffer) => this.decoder.push(d));
    stream.on('close', () => this.onClose());
    stream.on('error', () => this.onClose());
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [, p] of this.pending) { clearTimeout(p.timer); p.reject(new ClientError('the serial line closed')); }
    this.pending.clear();
    this.emit('close');
  }

  private onLine(line: string): void {
    const at = line.indexOf('{');
    if (at < 0) { if (line.trim()) this.emit('noise', line); return; }
    let msg: unknown;
    try {
      msg = JSON.parse(line.slice(at));
    } catch {
      this.emit('noise', line);
      return;
    }
    if (typeof msg !== 'object' || msg === null) return;
    const m = msg as Record<string, unknown>;
    if (typeof m.event === 'string') { this.emit('event', m as unknown as ConsoleEvent); return; }
    if (typeof m.ok !== 'boolean' || typeof m.id !== 'number') return; // not ours (id null: a line-level error)
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    clearTimeout(p.timer);
    const r = m as unknown as Response;
    if (r.ok) p.resolve(r.result);
    else p.reject(new RemoteError(r.error));
  }

  /** Sends one request; resolves with its result, rejects with RemoteError (the device said no) or ClientError. */
  request<T = unknown>(cmd: string, params: Record<string, unknown> = {}, timeoutMs = this.timeoutMs): Promise<T> {
    if (this.closed) return Promise.reject(new ClientError('the serial line is closed'));
    const id = this.nextId++;
    const line = '\x15' + jsonLine({ id, cmd, ...params }); // Ctrl-U first: drop whatever is pending on the line
    if (Buffer.byteLength(line) > DEVICE_MAX_LINE_BYTES) return Promise.reject(new ClientError(`the ${cmd} request is ${Buffer.byteLength(line)} bytes; the console takes at most ${DEVICE_MAX_LINE_BYTES}`));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ClientError(`no answer to "${cmd}" within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.stream.write(line);
    });
  }

  /** The id the next request will get (to match its progress events). */
  peekId(): number {
    return this.nextId;
  }

  /**
   * Finds the console: ends whatever partial line is on the wire (noise, a half-typed command),
   * then asks "hello" a few times.
   */
  async hello(tries = 3, timeoutMs = 3000): Promise<Record<string, unknown>> {
    let last: Error | undefined;
    for (let i = 0; i < tries; i++) {
      this.stream.write('\x15\r\n'); // Ctrl-U clears a half-typed human line; CR LF ends any other
      try {
        return await this.request<Record<string, unknown>>('hello', { client: 'outpost-provision' }, timeoutMs);
      } catch (e) {
        last = e as Error;
        if (e instanceof RemoteError || this.closed) throw e;
      }
    }
    throw new ClientError(`no Outpost console answers on this port (${last?.message}); check the cable, the port and the speed (115200 8N1)`);
  }

  /** Resolves with the first event matching `pred`; rejects after `timeoutMs` or when the line closes. */
  waitEvent(pred: (e: ConsoleEvent) => boolean, timeoutMs: number): Promise<ConsoleEvent> {
    return new Promise((resolve, reject) => {
      const onEvent = (e: ConsoleEvent) => { if (pred(e)) { done(); resolve(e); } };
      const onClose = () => { done(); reject(new ClientError('the serial line closed')); };
      const timer = setTimeout(() => { done(); reject(new ClientError(`no result within ${Math.round(timeoutMs / 1000)} s`)); }, timeoutMs);
      const done = () => { clearTimeout(timer); this.off('event', onEvent); this.off('close', onClose); };
      this.on('event', onEvent);
      this.on('close', onClose);
    });
  }

  close(): void {
    this.onClose();
  }
}
