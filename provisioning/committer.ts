// Commit: validate the whole candidate, write it atomically (firmware/config/store.ts keeps the
// previous one as FILE.lkg), apply it live, and, for `commit confirmed N`, roll back by itself
// unless confirmed within N minutes. The pending rollback is recorded in FILE.confirm (0600,
// written before the new config) so that a restart inside the window still rolls back: at start
// the marker is either stale (the new config never landed) or re-armed with the time left.
// Every change to the stored config goes through here, one at a time.
import { isDeepStrictEqual } from 'node:util';
import { readFile, unlink } from 'node:fs/promises';
import type { ConfigIssue } from '../firmware/config/errors.ts';
import { ConfigFileError } from '../firmware/config/errors.ts';
import type { ResolvedConfig } from '../firmware/config/schema.ts';
import { cleanupTempFiles, loadConfig, lkgPathFor, readConfigFile, saveConfig, writeFileAtomic } from '../firmware/config/store.ts';
import { validateConfig } from '../firmware/config/validate.ts';
import type { Logger } from '../firmware/log.ts';
import type { Clock, Timer } from './clock.ts';
import { ConsoleError } from './errors.ts';
import { cloneJson, isObj, SECTIONS, type Obj } from './fields.ts';
import type { ProgressDaemon } from './progress.ts';

/** What the console needs from the daemon (firmware/daemon.ts's Daemon has it; tests fake it). */
export interface ConsoleDaemon extends ProgressDaemon {
  applyConfig(next: ResolvedConfig): Promise<string[]>;
  /** Tells the fleet (health events) that a commit was undone; optional for test doubles. */
  reportRollback?(reason: string): void;
}

export const MAX_CONFIRM_MINUTES = 24 * 60;
const MAX_MARKER_BYTES = 2 * 1024 * 1024;

export interface CommitResult {
  /** Sections the daemon restarted or updated. */
  sections: string[];
  warnings: ConfigIssue[];
  /** Set for `commit confirmed`: wall-clock deadline of the automatic rollback. */
  confirmBy?: number;
  /** A pending `commit confirmed` was confirmed by this plain commit. */
  confirmedPending: boolean;
}

export interface RollbackInfo {
  reason: string;
  sections: string[];
  ok: boolean;
  message: string;
}

export interface CommitterOptions {
  configPath: string;
  daemon: ConsoleDaemon;
  clock: Clock;
  log: Logger;
  /** Default: configPath + ".confirm". */
  confirmPath?: string;
  /** Told after a rollback the committer did by itself (the confirm window ran out). */
  onRollback?: (info: RollbackInfo) => void;
}

interface Marker {
  version: 1;
  /** The config to return to (file form; holds secrets: the file is 0600). */
  previous: Obj;
  deadline: number;
  minutes: number;
}

function configText(raw: unknown): string {
  return JSON.stringify(raw, null, 2) + '\n';
}

/** Sections whose resolved values differ (what daemon.applyConfig will restart). */
export function changedSections(a: ResolvedConfig, b: ResolvedConfig): string[] {
  return SECTIONS.filter((k) => !isDeepStrictEqual(a[k], b[k]));
}

export class Committer {
  private runningRaw: Obj = {};
  private pending: (Marker & { timer?: Timer }) | undefined;
  private busy: Promise<unknown> = Promise.resolve();
  readonly confirmPath: string;
  /** The config file in force (keys generated on the box are stored beside it). */
  get configPath(): string { return this.opts.configPath; }

  constructor(private readonly opts: CommitterOptions) {
    this.confirmPath = opts.confirmPath ?? `${opts.configPath}.confirm`;
  }

  get running(): Obj { return cloneJson(this.runningRaw); }
  get pendingConfirm(): { deadline: number; minutes: number } | undefined {
    return this.pending && { deadline: this.pending.deadline, minutes: this.pending.minutes };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.busy.then(fn, fn);
    this.busy = r.catch(() => {});
    return r;
  }

  /** Reads the running config's file form and picks up a pending confirm from before a restart. */
  init(): Promise<void> {
    return this.serial(async () => {
      try {
        this.runningRaw = (await loadConfig(this.opts.configPath)).raw as Obj;
      } catch {
        // the daemon runs, so its config is valid: its resolved form is a valid file form
        this.runningRaw = cloneJson(this.opts.daemon.config) as unknown as Obj;
      }
      // loadConfig cleans the config's temp files; a save killed mid-way may also leave the
      // last-known-good copy's or the rollback record's.
      await cleanupTempFiles(lkgPathFor(this.opts.configPath));
      await cleanupTempFiles(this.confirmPath);
      const m = await this.readMarker();
      if (!m) return;
      if (isDeepStrictEqual(m.previous, this.runningRaw)) {
        await this.removeMarker(); // the new config never landed
        return;
      }
      const left = Math.max(0, Math.min(m.deadline - this.opts.clock.now(), m.minutes * 60_000));
      this.opts.log.warn('confirm-pending', { in_seconds: Math.round(left / 1000) });
      this.pending = { ...m, deadline: this.opts.clock.now() + left };
      this.arm(left);
    });
  }

  private async readMarker(): Promise<Marker | undefined> {
    let text: string;
    try {
      text = await readFile(this.confirmPath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.log.error('confirm-marker-unreadable', { code: (e as NodeJS.ErrnoException).code });
      return undefined;
    }
    let m: unknown;
    try {
      if (text.length > MAX_MARKER_BYTES) throw new Error('too large');
      m = JSON.parse(text);
    } catch {
      m = undefined;
    }
    const o = m as Partial<Marker> | undefined;
    if (!isObj(o) || o.version !== 1 || !isObj(o.previous) || typeof o.deadline !== 'number' || typeof o.minutes !== 'number' || !(o.minutes > 0 && o.minutes <= MAX_CONFIRM_MINUTES)) {
      this.opts.log.error('confirm-marker-corrupt', { path: this.confirmPath });
      await this.removeMarker();
      return undefined;
    }
    return o as Marker;
  }

  private async removeMarker(): Promise<void> {
    await unlink(this.confirmPath).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENOENT') throw e; });
  }

  private arm(ms: number): void {
    if (!this.pending) return;
    this.opts.clock.clearTimer(this.pending.timer);
    this.pending.timer = this.opts.clock.setTimer(() => {
      void this.rollBackPending('the commit was not confirmed in time').catch((e) => this.opts.log.error('rollback-failed', { reason: (e as Error).message }));
    }, ms);
  }

  private disarm(): void {
    if (this.pending) this.opts.clock.clearTimer(this.pending.timer);
    this.pending = undefined;
  }

  /**
   * Validates, saves and applies `raw`. `beforeApply` is called just before the daemon applies
   * it, with the sections about to change (progress attaches there so no event is missed).
   * On failure nothing changes: invalid -> 'invalid'; not saved -> 'write-failed'; saved but not
   * applied -> the previous config is written back and applied again ('apply-failed').
   */
  commit(raw: Obj, opts: { confirmMinutes?: number; beforeApply?: (sections: string[]) => void } = {}): Promise<CommitResult> {
    return this.serial(async () => {
      const v = validateConfig(raw);
      if (!v.ok) {
        throw new ConsoleError('invalid', `the configuration has ${v.errors.length} error${v.errors.length === 1 ? '' : 's'}; nothing was changed`, { issues: v.errors });
      }
      const minutes = opts.confirmMinutes;
      if (minutes !== undefined && !(Number.isInteger(minutes) && minutes >= 1 && minutes <= MAX_CONFIRM_MINUTES)) {
        throw new ConsoleError('usage', `commit confirmed takes 1-${MAX_CONFIRM_MINUTES} minutes`, { field: 'minutes' });
      }
      if (isDeepStrictEqual(raw, this.runningRaw)) {
        if (this.pending && minutes === undefined) {
          await this.confirmLocked();
          return { sections: [], warnings: v.warnings, confirmedPending: true };
        }
        if (this.pending && minutes !== undefined) { // a new window for the same change
          const deadline = this.opts.clock.now() + minutes * 60_000;
          await this.writeMarker({ version: 1, previous: this.pending.previous, deadline, minutes });
          Object.assign(this.pending, { deadline, minutes });
          this.arm(minutes * 60_000);
          return { sections: [], warnings: v.warnings, confirmBy: deadline, confirmedPending: false };
        }
        throw new ConsoleError('nothing-to-commit', 'nothing to commit: the candidate is the running configuration');
      }
      const prevRaw = this.runningRaw;
      const prevResolved = this.opts.daemon.config;
      const hadPending = this.pending;

      if (minutes !== undefined) {
        // Written before the config: a crash in between leaves a marker that init() sees is stale.
        const marker: Marker = { version: 1, previous: hadPending?.previous ?? prevRaw, deadline: this.opts.clock.now() + minutes * 60_000, minutes };
        await this.writeMarker(marker);
      }
      try {
        await saveConfig(this.opts.configPath, raw);
      } catch (e) {
        if (minutes !== undefined) await this.restoreMarker(hadPending);
        const why = e instanceof ConfigFileError ? e.reason : (e as Error).message;
        throw new ConsoleError('write-failed', `the configuration could not be saved (${why}); the previous one stays in force`);
      }
      opts.beforeApply?.(changedSections(prevResolved, v.config));
      let sections: string[];
      try {
        sections = await this.opts.daemon.applyConfig(v.config);
      } catch (e) {
        this.opts.log.error('apply-failed', { reason: (e as Error).message });
        await writeFileAtomic(this.opts.configPath, configText(prevRaw)).catch((e2) => this.opts.log.error('restore-failed', { reason: (e2 as Error).message }));
        await this.opts.daemon.applyConfig(prevResolved).catch((e2) => this.opts.log.error('restore-apply-failed', { reason: (e2 as Error).message }));
        if (minutes !== undefined) await this.restoreMarker(hadPending);
        throw new ConsoleError('apply-failed', `the configuration was saved but could not be applied (${(e as Error).message}); the previous one was restored`);
      }
      this.runningRaw = cloneJson(raw);
      this.opts.log.info('committed', { sections: sections.join(',') || 'none', confirm_minutes: minutes ?? 0 });
      if (minutes !== undefined) {
        const previous = hadPending?.previous ?? prevRaw;
        this.opts.clock.clearTimer(hadPending?.timer);
        this.pending = { version: 1, previous, deadline: this.opts.clock.now() + minutes * 60_000, minutes };
        this.arm(minutes * 60_000);
        return { sections, warnings: v.warnings, confirmBy: this.pending.deadline, confirmedPending: false };
      }
      const confirmedPending = hadPending !== undefined;
      if (confirmedPending) {
        this.disarm();
        await this.removeMarker();
      }
      return { sections, warnings: v.warnings, confirmedPending };
    });
  }

  private async writeMarker(m: Marker): Promise<void> {
    try {
      await writeFileAtomic(this.confirmPath, JSON.stringify(m) + '\n');
    } catch (e) {
      throw new ConsoleError('write-failed', `the rollback record could not be saved (${(e as Error).message}); nothing was changed`);
    }
  }

  private async restoreMarker(hadPending: Marker | undefined): Promise<void> {
    try {
      if (hadPending) await writeFileAtomic(this.confirmPath, JSON.stringify({ version: 1, previous: hadPending.previous, deadline: hadPending.deadline, minutes: hadPending.minutes }) + '\n');
      else await this.removeMarker();
    } catch (e) {
      this.opts.log.error('confirm-marker-restore-failed', { reason: (e as Error).message });
    }
  }

  /** Stops the rollback timer (the process is stopping; the marker stays for the next start). */
  stop(): void {
    if (this.pending) this.opts.clock.clearTimer(this.pending.timer);
  }

  /** Keeps a `commit confirmed` change. */
  confirm(): Promise<void> {
    return this.serial(() => this.confirmLocked());
  }

  private async confirmLocked(): Promise<void> {
    if (!this.pending) throw new ConsoleError('no-pending-commit', 'there is no commit waiting for confirmation');
    this.disarm();
    await this.removeMarker();
    this.opts.log.info('commit-confirmed', {});
  }

  /** Returns to the config before a pending `commit confirmed` (the timer calls this). */
  rollBackPending(reason: string): Promise<RollbackInfo | undefined> {
    return this.serial(async () => {
      const p = this.pending;
      if (!p) return undefined;
      this.disarm();
      const info = await this.restore(p.previous, reason);
      if (info.ok) await this.removeMarker();
      this.opts.onRollback?.(info);
      return info;
    });
  }

  private async restore(previous: Obj, reason: string): Promise<RollbackInfo> {
    const v = validateConfig(previous);
    if (!v.ok) {
      this.opts.log.error('rollback-invalid', { errors: v.errors.length });
      return { reason, sections: [], ok: false, message: 'the previous configuration is no longer valid; the current one stays' };
    }
    try {
      // The unconfirmed config is not "known good": both files get the previous one.
      await writeFileAtomic(lkgPathFor(this.opts.configPath), configText(previous));
      await writeFileAtomic(this.opts.configPath, configText(previous));
    } catch (e) {
      this.opts.log.error('rollback-write-failed', { reason: (e as Error).message });
      return { reason, sections: [], ok: false, message: `the previous configuration could not be written back (${(e as Error).message})` };
    }
    this.runningRaw = cloneJson(previous);
    let sections: string[] = [];
    try {
      sections = await this.opts.daemon.applyConfig(v.config);
    } catch (e) {
      this.opts.log.error('rollback-apply-failed', { reason: (e as Error).message });
      return { reason, sections, ok: false, message: `the previous configuration was saved but could not be applied (${(e as Error).message})` };
    }
    this.opts.log.warn('rolled-back', { reason, sections: sections.join(',') });
    this.opts.daemon.reportRollback?.(reason);
    return { reason, sections, ok: true, message: `${reason}: the previous configuration is back in force` };
  }

  /** The last-known-good config's file form (for `rollback previous`). */
  async previous(): Promise<Obj> {
    try {
      return (await readConfigFile(lkgPathFor(this.opts.configPath))).raw as Obj;
    } catch (e) {
      const why = e instanceof ConfigFileError ? e.reason : (e as Error).message;
      throw new ConsoleError('usage', `there is no usable previous configuration (${why})`);
    }
  }

  /**
   * Factory reset: `factory` becomes the config, the last-known-good copy (which holds the
   * old secrets) is removed, any pending confirm is dropped.
   */
  reset(factory: Obj, beforeApply?: (sections: string[]) => void): Promise<string[]> {
    return this.serial(async () => {
      const v = validateConfig(factory);
      if (!v.ok) throw new ConsoleError('no-factory-config', `the factory configuration is not valid (${v.errors.map((i) => `${i.path}: ${i.message}`).join('; ')})`);
      this.disarm();
      await this.removeMarker();
      try {
        await saveConfig(this.opts.configPath, factory);
        await unlink(lkgPathFor(this.opts.configPath)).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENOENT') throw e; });
      } catch (e) {
        throw new ConsoleError('write-failed', `the factory configuration could not be written (${(e as Error).message})`);
      }
      this.runningRaw = cloneJson(factory);
      beforeApply?.(changedSections(this.opts.daemon.config, v.config));
      return this.opts.daemon.applyConfig(v.config);
    });
  }
}
