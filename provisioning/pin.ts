// The console PIN: a salted scrypt hash in a small state file next to the config (mode 0600),
// written at image build time (createPinStateText) or at first provisioning (`pin set`).
// Wrong PINs slow down exponentially: after the n-th wrong PIN in a row the next attempt is
// accepted only 2^(n-1) seconds later (at most an hour). The count is persisted before the
// answer is given, so power-cycling the box does not reset it.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { open, readFile, unlink } from 'node:fs/promises';
import { writeFileAtomic } from '../firmware/config/store.ts';
import type { Clock } from './clock.ts';
import { ConsoleError } from './errors.ts';

export interface ScryptParams { N: number; r: number; p: number }

/** About 32 MiB and 0.1-0.3 s on a Raspberry Pi 4: cheap once per login, costly per guess. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 1 << 15, r: 8, p: 1 };
export const PIN_MIN_LENGTH = 6;
export const PIN_MAX_LENGTH = 64;
export const MAX_PIN_DELAY_MS = 3600_000;
const HASH_BYTES = 32;
const SALT_BYTES = 16;
const MAX_STATE_BYTES = 4096;

interface PinState {
  version: 1;
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  hash: string;
  failures: number;
  nextAttemptAt: number;
}

export type VerifyResult =
  | { ok: true }
  | { ok: false; reason: 'wrong' | 'wait'; retryInMs: number };

function scrypt(pin: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const opts: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => scryptCb(pin.normalize('NFC'), salt, HASH_BYTES, opts, (e, k) => (e ? reject(e) : resolve(k))));
}

/** Why a PIN is not acceptable as a new PIN, or null. */
export function pinProblem(pin: string): string | null {
  const chars = [...pin];
  if (chars.length < PIN_MIN_LENGTH) return `the PIN must have at least ${PIN_MIN_LENGTH} characters`;
  if (chars.length > PIN_MAX_LENGTH) return `the PIN may have at most ${PIN_MAX_LENGTH} characters`;
  if (/[\u0000-\u001f\u007f-\u009f]/.test(pin)) return 'the PIN contains control characters';
  if (chars.every((c) => c === chars[0])) return 'the PIN repeats one character; choose one that is harder to guess';
  if (/^[0-9]+$/.test(pin)) {
    const d = chars.map(Number);
    const step = d[1]! - d[0]!;
    if (Math.abs(step) === 1 && d.every((x, i) => i === 0 || x - d[i - 1]! === step)) return 'the PIN is a run of digits (like 123456); choose one that is harder to guess';
  }
  return null;
}

/** The delay after `failures` wrong PINs in a row. */
export function pinDelayMs(failures: number, maxMs = MAX_PIN_DELAY_MS): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, 1000 * 2 ** Math.min(failures - 1, 30));
}

/** A PIN state file's text for `pin` (the image build writes it next to the config). */
export async function createPinStateText(pin: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const problem = pinProblem(pin);
  if (problem) throw new ConsoleError('invalid', problem, { field: 'pin' });
  const salt = randomBytes(SALT_BYTES);
  const hash = await scrypt(pin, salt, params);
  const st: PinState = { version: 1, kdf: 'scrypt', ...params, salt: salt.toString('base64'), hash: hash.toString('base64'), failures: 0, nextAttemptAt: 0 };
  return JSON.stringify(st) + '\n';
}

function parseState(text: string): PinState | string {
  let j: unknown;
  try { j = JSON.parse(text); } catch { return 'not JSON'; }
  if (typeof j !== 'object' || j === null) return 'not an object';
  const o = j as Record<string, unknown>;
  const int = (k: string, min: number, max: number) => typeof o[k] === 'number' && Number.isSafeInteger(o[k]) && (o[k] as number) >= min && (o[k] as number) <= max;
  if (o.version !== 1 || o.kdf !== 'scrypt') return 'unknown version or kdf';
  if (!int('N', 2, 1 << 20) || ((o.N as number) & ((o.N as number) - 1)) !== 0 || !int('r', 1, 64) || !int('p', 1, 16)) return 'bad scrypt parameters';
  if (!int('failures', 0, 1_000_000) || !int('nextAttemptAt', 0, Number.MAX_SAFE_INTEGER)) return 'bad failure counter';
  for (const k of ['salt', 'hash']) {
    if (typeof o[k] !== 'string' || !/^[A-Za-z0-9+/]{8,128}={0,2}$/.test(o[k] as string)) return `bad ${k}`;
  }
  if (Buffer.from(o.hash as string, 'base64').length !== HASH_BYTES) return 'bad hash length';
  return o as unknown as PinState;
}

export interface PinStoreOptions {
  path: string;
  clock: Clock;
  scrypt?: ScryptParams;
  maxDelayMs?: number;
}

export class PinStore {
  private state: PinState | undefined;
  private corrupt: string | undefined;
  private busy: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: PinStoreOptions) {}

  /** Reads the state file: missing means no PIN yet; unreadable means locked (fail closed). */
  async load(): Promise<void> {
    this.state = undefined;
    this.corrupt = undefined;
    let text: string;
    try {
      const fh = await open(this.opts.path, 'r');
      try {
        const buf = Buffer.alloc(MAX_STATE_BYTES + 1);
        const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
        if (bytesRead > MAX_STATE_BYTES) { this.corrupt = 'the file is too large'; return; }
        text = buf.subarray(0, bytesRead).toString('utf8');
      } finally {
        await fh.close();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.corrupt = `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
      return;
    }
    const st = parseState(text);
    if (typeof st === 'string') this.corrupt = st;
    else this.state = st;
  }

  get isSet(): boolean {
    return this.state !== undefined || this.corrupt !== undefined;
  }

  /** Milliseconds until the next attempt is accepted (0: now). A clock that went back counts as no wait beyond the delay. */
  waitMs(): number {
    if (!this.state) return 0;
    const left = this.state.nextAttemptAt - this.opts.clock.now();
    return Math.max(0, Math.min(left, pinDelayMs(this.state.failures, this.opts.maxDelayMs)));
  }

  get failures(): number {
    return this.state?.failures ?? 0;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.busy.then(fn, fn);
    this.busy = r.catch(() => {});
    return r;
  }

  private checkUsable(): PinState {
    if (this.corrupt) throw new ConsoleError('pin-state', `the console PIN file ${this.opts.path} is unusable (${this.corrupt}); configuration changes are locked until the box is reflashed`);
    if (!this.state) throw new ConsoleError('no-pin', 'no console PIN is set yet; set one with "pin set"');
    return this.state;
  }

  verify(pin: string): Promise<VerifyResult> {
    return this.serial(async () => {
      const st = this.checkUsable();
      const wait = this.waitMs();
      if (wait > 0) return { ok: false, reason: 'wait', retryInMs: wait };
      const got = await scrypt(typeof pin === 'string' ? pin.slice(0, PIN_MAX_LENGTH * 4) : '', Buffer.from(st.salt, 'base64'), st);
      if (timingSafeEqual(got, Buffer.from(st.hash, 'base64'))) {
        if (st.failures) await this.persist({ ...st, failures: 0, nextAttemptAt: 0 });
        return { ok: true };
      }
      const failures = st.failures + 1;
      const delay = pinDelayMs(failures, this.opts.maxDelayMs);
      await this.persist({ ...st, failures, nextAttemptAt: this.opts.clock.now() + delay });
      return { ok: false, reason: 'wrong', retryInMs: delay };
    });
  }

  /** Sets a new PIN (the caller has checked who may). */
  set(pin: string): Promise<void> {
    return this.serial(async () => {
      if (this.corrupt) this.checkUsable();
      const text = await createPinStateText(pin, this.opts.scrypt ?? DEFAULT_SCRYPT);
      await this.persist(JSON.parse(text) as PinState);
    });
  }

  /** Factory reset: the image's PIN state if there is one, else no PIN. */
  resetTo(factoryPath: string | undefined): Promise<void> {
    return this.serial(async () => {
      let text: string | undefined;
      if (factoryPath) {
        try {
          text = await readFile(factoryPath, 'utf8');
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
      if (text !== undefined && typeof parseState(text) !== 'string') {
        await writeFileAtomic(this.opts.path, text);
      } else {
        await unlink(this.opts.path).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENOENT') throw e; });
      }
      await this.load();
    });
  }

  private async persist(st: PinState): Promise<void> {
    await writeFileAtomic(this.opts.path, JSON.stringify(st) + '\n');
    this.state = st;
    this.corrupt = undefined;
  }
}
