// The device side of the serial console: bytes in, one command at a time, text or JSON out.
// Lines are decoded (bounded) as they arrive; human lines are parsed at once (so a secret prompt
// turns echo off before the secret is typed), and commands then run strictly in order from a
// bounded queue. Progress after a commit, and the automatic rollback of an unconfirmed commit,
// are written between commands as they happen. The transport is anything that delivers bytes
// (serial-link.ts opens the serial port); tests drive it over pseudo-terminals with a fake daemon.
import { printable } from '../firmware/cli/status-text.ts';
import { logger, type Logger } from '../firmware/log.ts';
import { Candidate } from './candidate.ts';
import { realClock, type Clock } from './clock.ts';
import { checkParams, findCommand, secretPrefix } from './commands/index.ts';
import { isPrompt, type CommandContext, type CommandDef, type Params, type Prompt } from './commands/types.ts';
import { Committer, type ConsoleDaemon, type RollbackInfo } from './committer.ts';
import { readDeviceInfo, type DeviceInfoOptions } from './device-info.ts';
import { ConsoleError, errorBody, type ErrorBody } from './errors.ts';
import { LineDecoder, type InputEvent } from './line-decoder.ts';
import { PinStore, type ScryptParams } from './pin.ts';
import { ProgressTracker, type ProgressOptions, type ProgressResult, type ProgressUpdate } from './progress.ts';
import { jsonLine, parseRequest, type ConsoleEvent, type RequestId } from './protocol.ts';
import { Session, DEFAULT_IDLE_LOGOUT_MS } from './session.ts';
import { splitWords } from './words.ts';

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;
export const DEFAULT_MAX_QUEUED_LINES = 32;

export interface ConsoleOptions {
  /** The config file in force (the daemon's --config). */
  configPath: string;
  daemon: ConsoleDaemon;
  firmwareVersion: string;
  clock?: Clock;
  log?: Logger;
  /** Default: <config>.pin */
  pinPath?: string;
  /** Written by the image build; factory-reset restores them. Defaults: <config>.factory, <pin>.factory */
  factoryConfigPath?: string;
  factoryPinPath?: string;
  /** Default: <config>.confirm */
  confirmPath?: string;
  maxLineBytes?: number;
  maxQueuedLines?: number;
  idleLogoutMs?: number;
  /** For tests: cheaper scrypt for new PINs. */
  scrypt?: ScryptParams;
  progress?: Omit<ProgressOptions, 'clock'>;
  deviceInfo?: Omit<DeviceInfoOptions, 'firmwareVersion'>;
  /** For the "wrong baud rate?" hint. */
  baudRate?: number;
}

type Job =
  | { kind: 'human'; cmd: CommandDef; params: Params }
  | { kind: 'answer'; cmd: CommandDef; prompt: Prompt; answers: string[] }
  | { kind: 'json'; line: string }
  | { kind: 'error'; json: boolean; error: ErrorBody }
  | { kind: 'noise'; json: boolean; lines: number; bytes: number }
  | { kind: 'prompt'; greet: boolean };

const ICON: Record<ProgressUpdate['state'], string> = { running: '..', ok: 'ok', failed: 'FAIL', skipped: '--' };

export class ProvisioningConsole {
  readonly session: Session;
  readonly pins: PinStore;
  readonly committer: Committer;
  candidate!: Candidate;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly decoder: LineDecoder;
  private readonly maxQueued: number;
  private readonly ctx: CommandContext;
  private out: ((data: Buffer) => void) | undefined;
  private readonly queue: Job[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];
  private asking: { cmd: CommandDef; prompt: Prompt; answers: string[] } | undefined;
  private promptShown = false;
  private greeted = false;
  private follower: ProgressTracker | undefined;
  private closed = false;

  constructor(private readonly opts: ConsoleOptions) {
    this.clock = opts.clock ?? realClock;
    this.log = opts.log ?? logger('console');
    this.maxQueued = opts.maxQueuedLines ?? DEFAULT_MAX_QUEUED_LINES;
    this.session = new Session(this.clock, opts.idleLogoutMs ?? DEFAULT_IDLE_LOGOUT_MS);
    const pinPath = opts.pinPath ?? `${opts.configPath}.pin`;
    this.pins = new PinStore({ path: pinPath, clock: this.clock, ...(opts.scrypt ? { scrypt: opts.scrypt } : {}) });
    this.committer = new Committer({
      configPath: opts.configPath, daemon: opts.daemon, clock: this.clock, log: this.log,
      ...(opts.confirmPath ? { confirmPath: opts.confirmPath } : {}),
      onRollback: (info) => this.onRollback(info),
    });
    this.decoder = new LineDecoder(
      { maxLineBytes: opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES, interactive: true, secretPrefix },
      { event: (e) => this.onInput(e), echo: (b) => this.write(b) },
    );
    const self = this;
    this.ctx = {
      session: this.session,
      get candidate() { return self.candidate; },
      committer: this.committer,
      pins: this.pins,
      daemon: opts.daemon,
      clock: this.clock,
      firmwareVersion: opts.firmwareVersion,
      deviceInfo: () => readDeviceInfo(opts.daemon.config, this.pins.isSet, { ...opts.deviceInfo, firmwareVersion: opts.firmwareVersion }),
      tracker: (id) => new ProgressTracker(opts.daemon, { clock: this.clock, ...opts.progress }, (u) => this.onProgress(id, u)),
      follow: (id, t) => this.follow(id, t),
      factory: {
        configPath: opts.factoryConfigPath ?? `${opts.configPath}.factory`,
        pinPath: opts.factoryPinPath ?? `${pinPath}.factory`,
      },
    };
  }

  /** Reads the PIN state and the running config, and resumes a pending `commit confirmed`. */
  async init(): Promise<void> {
    await this.pins.load();
    await this.committer.init();
    this.candidate = new Candidate(this.committer.running);
  }

  /** A terminal is connected: output goes to `write` from now on. */
  attach(write: (data: Buffer) => void): void {
    this.out = write;
    this.decoder.reset();
    this.session.mode = 'human';
    this.promptShown = false;
    this.greeted = false;
  }

  /** The line went away (cable pulled, port closed): the login ends, output is dropped. */
  detach(): void {
    this.out = undefined;
    this.asking = undefined;
    this.decoder.reset();
    this.session.logout();
    this.follower?.cancel('the serial line closed');
    this.follower = undefined;
  }

  input(chunk: Uint8Array): void {
    if (!this.closed) this.decoder.push(chunk);
  }

  /** Resolves when no command is queued or running (for tests and shutdown). */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.follower?.cancel('the console is stopping');
    await this.idle();
    this.committer.stop();
    this.out = undefined;
  }

  // ---- output --------------------------------------------------------------------------------

  private write(data: Buffer | string): void {
    if (!this.out) return;
    try {
      this.out(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    } catch (e) {
      this.log.warn('write-failed', { reason: (e as Error).message });
    }
  }

  private writeLines(lines: string[]): void {
    if (lines.length) this.write(lines.map((l) => printable(l)).join('\r\n') + '\r\n');
  }

  private promptText(): string {
    const id = printable(this.opts.daemon.config.device.id);
    return `outpost:${id}${this.candidate?.dirty ? '*' : ''}${this.session.isLoggedIn ? '#' : '>'} `;
  }

  private showPrompt(): void {
    if (this.session.mode !== 'human' || this.asking) return;
    this.write(this.promptText());
    this.promptShown = true;
  }

  /** Output that is not an answer to the current line (progress, rollback): drawn above the prompt. */
  private async_(lines: string[], ev: ConsoleEvent): void {
    if (this.session.mode === 'json') {
      this.write(jsonLine(ev));
      return;
    }
    if (this.promptShown) {
      this.write('\r\x1b[K');
      this.writeLines(lines);
      this.write(this.promptText() + this.decoder.pendingEcho());
    } else {
      this.writeLines(lines);
    }
  }

  private humanError(e: unknown): void {
    const b = errorBody(e);
    if (b.code === 'internal') this.log.error('command-failed', { reason: b.message });
    const lines = [`error: ${b.message}`];
    for (const i of b.issues ?? []) if (!b.message.includes(i.message)) lines.push(`  ${i.field}: ${i.message}`);
    this.writeLines(lines);
  }

  // ---- input ---------------------------------------------------------------------------------

  private enqueue(job: Job): void {
    if (this.queue.length >= this.maxQueued) {
      const error: ErrorBody = { code: 'busy', message: `busy: ${this.queue.length} lines are waiting; this line was dropped` };
      if (job.kind === 'json') {
        const p = parseRequest(job.line); // bounded by the line limit; the id lets the tool match the refusal
        this.write(jsonLine({ id: p.ok ? p.req.id : p.id, ok: false, error }));
      } else if (this.session.mode === 'json') this.write(jsonLine({ id: null, ok: false, error }));
      else this.writeLines([`error: ${error.message}`]);
      return;
    }
    this.queue.push(job);
    void this.pump();
  }

  private onInput(e: InputEvent): void {
    this.promptShown = false;
    switch (e.kind) {
      case 'interrupt':
        if (this.asking) {
          this.asking = undefined;
          this.decoder.hidden = false;
          this.writeLines(['cancelled']);
        } else if (this.follower) {
          this.follower.cancel('stopped following (the tunnel carries on; "status" shows it)');
        }
        this.enqueue({ kind: 'prompt', greet: false });
        return;
      case 'too-long': {
        const max = this.opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
        this.enqueue({ kind: 'error', json: e.json, error: { code: 'line-too-long', message: `line too long (${e.bytes} bytes; at most ${max}): discarded` } });
        return;
      }
      case 'not-text': {
        // Noise arrives as many short "lines": one report per burst keeps the queue for commands.
        const last = this.queue[this.queue.length - 1];
        if (last?.kind === 'noise' && last.json === e.json) { last.lines++; last.bytes += e.bytes; return; }
        this.enqueue({ kind: 'noise', json: e.json, lines: 1, bytes: e.bytes });
        return;
      }
      case 'line':
        this.session.touch();
        if (e.json) {
          if (this.session.mode !== 'json') this.write('\r\n'); // end the prompt line before JSON starts
          this.session.mode = 'json';
          this.enqueue({ kind: 'json', line: e.text });
          return;
        }
        this.session.mode = 'human';
        this.humanLine(e.text);
        return;
    }
  }

  private humanLine(text: string): void {
    if (this.asking) {
      const a = this.asking;
      a.answers.push(text);
      const next = a.prompt.steps[a.answers.length];
      if (next) {
        this.decoder.hidden = next.secret;
        this.write(next.label);
        return;
      }
      this.asking = undefined;
      this.decoder.hidden = false;
      this.enqueue({ kind: 'answer', cmd: a.cmd, prompt: a.prompt, answers: a.answers });
      return;
    }
    const w = splitWords(text);
    if (!w.ok) {
      this.enqueue({ kind: 'error', json: false, error: { code: 'usage', message: `${w.message} (column ${w.column})` } });
      return;
    }
    const greet = !this.greeted; // the banner answers the first Enter on a fresh line
    this.greeted = true;
    if (w.words.length === 0) {
      this.enqueue({ kind: 'prompt', greet });
      return;
    }
    try {
      const cmd = findCommand(w.words[0]!);
      this.checkLogin(cmd);
      const r = cmd.fromText ? cmd.fromText(text.trimStart().slice(w.words[0]!.length), this.ctx) : cmd.fromWords(w.words.slice(1), this.ctx);
      if (isPrompt(r)) {
        this.asking = { cmd, prompt: r, answers: [] };
        this.decoder.hidden = r.steps[0]!.secret; // before the next byte arrives
        this.write(r.steps[0]!.label);
        return;
      }
      this.log.info('command', { cmd: cmd.name, ...(cmd.name === 'set' || cmd.name === 'unset' ? { field: String(r.field) } : {}) });
      this.enqueue({ kind: 'human', cmd, params: r });
    } catch (e) {
      this.enqueue({ kind: 'error', json: false, error: errorBody(e) });
    }
  }

  private checkLogin(cmd: CommandDef): void {
    if (!cmd.login || this.session.isLoggedIn) return;
    if (!this.pins.isSet) throw new ConsoleError('no-pin', `no console PIN is set yet; set one with "pin set", then "${cmd.name}" works`);
    throw new ConsoleError('login-required', `"${cmd.name}" needs the console PIN: type "login" first`);
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length) {
        const job = this.queue.shift()!;
        try {
          await this.runJob(job);
        } catch (e) {
          this.log.error('job-failed', { reason: (e as Error).message });
        }
        const human = job.kind !== 'json' && !((job.kind === 'error' || job.kind === 'noise') && job.json);
        if (human && this.queue.length === 0) this.showPrompt();
      }
    } finally {
      this.running = false;
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  private async runJob(job: Job): Promise<void> {
    switch (job.kind) {
      case 'prompt':
        if (job.greet) {
          this.writeLines([`outpost ${this.opts.firmwareVersion} console on ${this.opts.daemon.config.device.id}; type "help" (there is no shell here)`]);
        }
        return;
      case 'noise': {
        const what = job.lines === 1 ? `a line of ${job.bytes} bytes` : `${job.lines} lines (${job.bytes} bytes)`;
        const message = `ignored ${what} that ${job.lines === 1 ? 'is' : 'are'} not text (noise on the line, or a terminal not set to ${this.opts.baudRate ?? 115200} 8N1?)`;
        return this.runJob({ kind: 'error', json: job.json, error: { code: 'not-text', message } });
      }
      case 'error':
        if (job.json) this.write(jsonLine({ id: null, ok: false, error: job.error }));
        else this.humanError(new ConsoleError(job.error.code, job.error.message));
        return;
      case 'human':
      case 'answer':
        try {
          const params = job.kind === 'answer' ? job.prompt.finish(job.answers) : job.params;
          this.checkLogin(job.cmd);
          const o = await job.cmd.run(this.ctx, params, null);
          this.writeLines(o.text);
          o.after?.();
        } catch (e) {
          this.humanError(e);
        }
        return;
      case 'json':
        await this.runJson(job.line);
        return;
    }
  }

  private async runJson(line: string): Promise<void> {
    const parsed = parseRequest(line);
    if (!parsed.ok) {
      this.write(jsonLine({ id: parsed.id, ok: false, error: parsed.error }));
      return;
    }
    const { id, cmd: name, params } = parsed.req;
    try {
      const cmd = findCommand(name);
      checkParams(cmd, params);
      this.checkLogin(cmd);
      this.log.info('command', { cmd: cmd.name, mode: 'json', ...(cmd.name === 'set' || cmd.name === 'unset' ? { field: String(params.field) } : {}) });
      const o = await cmd.run(this.ctx, params, id);
      this.write(jsonLine({ id, ok: true, result: o.data }));
      o.after?.();
    } catch (e) {
      const error = errorBody(e);
      if (error.code === 'internal') this.log.error('command-failed', { cmd: name.slice(0, 32), reason: error.message });
      this.write(jsonLine({ id, ok: false, error }));
    }
  }

  // ---- progress and rollback -----------------------------------------------------------------

  private follow(id: RequestId, t: ProgressTracker): void {
    this.follower?.cancel('superseded');
    this.follower = t;
    void t.run().then((r) => {
      if (this.follower === t) this.follower = undefined;
      this.onProgressDone(id, r);
    }, (e) => this.log.error('progress-failed', { reason: (e as Error).message }));
  }

  private onProgress(id: RequestId, u: ProgressUpdate): void {
    this.async_([`  ${ICON[u.state].padEnd(4)} ${u.message}`], { event: 'progress', id, step: u.step, state: u.state, message: u.message });
  }

  private onProgressDone(id: RequestId, r: ProgressResult): void {
    const pending = this.committer.pendingConfirm;
    const lines = [r.cancelled ? r.message : r.ok ? `done: ${r.message}` : `FAILED: ${r.message}`];
    if (pending) lines.push(r.tunnelUp ? 'type "confirm" to keep this configuration' : `not confirmed: the previous configuration returns by itself in ${Math.max(0, Math.ceil((pending.deadline - this.clock.now()) / 60_000))} min (or fix it and commit again)`);
    this.async_(lines, { event: 'progress-done', id, ok: r.ok, tunnelUp: r.tunnelUp, message: r.message, steps: r.steps });
  }

  private onRollback(info: RollbackInfo): void {
    const dropped = this.candidate?.dirty ? ' (uncommitted edits were dropped)' : '';
    this.candidate?.setRunning(this.committer.running);
    this.async_([`${info.ok ? 'rolled back' : 'ROLLBACK FAILED'}: ${info.message}${info.sections.length ? ` (${info.sections.join(', ')} changed)` : ''}${dropped}`], { event: 'rollback', ...info });
  }
}
