// One provisioning run, start to finish, through machine mode: find the console, log in (or
// set the first PIN), load the site file, show what changes, commit (confirmed by default, so
// a change that cuts the tunnel undoes itself), follow the tunnel, confirm once it is up, and
// collect what the summary needs. Never sends anything to the terminal that holds a secret.
import type { DiffEntry } from '../candidate.ts';
import { diffLines } from '../commands/config.ts';
import type { DeviceInfo } from '../device-info.ts';
import type { ProgressUpdate } from '../progress.ts';
import type { ConsoleEvent } from '../protocol.ts';
import type { StatusModel } from '../../firmware/cli/status-model.ts';
import { ClientError, RemoteError, type ProvisionClient } from './client.ts';

export interface ApplyOptions {
  site: unknown;
  /** The box's console PIN. */
  pin?: string;
  /** The PIN to set when the box has none yet (first provisioning). */
  newPin?: string;
  /** Minutes for "commit confirmed"; 0 commits without the automatic rollback. Default 10. */
  confirmMinutes?: number;
  /** Bound for following the tunnel after the commit. */
  timeoutMs?: number;
  /** Confirm even when the tunnel did not come up (HQ not ready yet, say). */
  keepOnFailure?: boolean;
  say: (line: string) => void;
}

export interface ApplyReport {
  ok: boolean;
  message: string;
  startedAt: string;
  finishedAt: string;
  info: DeviceInfo | null;
  changes: DiffEntry[];
  warnings: { field: string; message: string }[];
  committed: boolean;
  confirmed: boolean;
  /** When the box rolls back by itself (a commit left unconfirmed). */
  rollsBackAt: string | null;
  steps: ProgressUpdate[];
  tunnelUp: boolean;
  status: (StatusModel & { pendingConfirm: unknown; candidateDirty: boolean }) | null;
}

export const DEFAULT_APPLY_TIMEOUT_MS = 180_000;
const ICON: Record<string, string> = { running: '..', ok: 'ok', failed: 'FAIL', skipped: '--' };

function describeRemote(e: unknown): string[] {
  if (e instanceof RemoteError) {
    return [e.body.message, ...(e.body.issues ?? []).filter((i) => !e.body.message.includes(i.message)).map((i) => `  ${i.field}: ${i.message}`)];
  }
  return [(e as Error).message];
}

export async function applySite(client: ProvisionClient, o: ApplyOptions): Promise<ApplyReport> {
  const report: ApplyReport = {
    ok: false, message: '', startedAt: new Date().toISOString(), finishedAt: '', info: null, changes: [], warnings: [],
    committed: false, confirmed: false, rollsBackAt: null, steps: [], tunnelUp: false, status: null,
  };
  const fail = (msg: string, lines: string[] = []): ApplyReport => {
    for (const l of lines) o.say(l);
    report.message = msg;
    report.finishedAt = new Date().toISOString();
    return report;
  };

  const hello = await client.hello();
  o.say(`connected: outpost ${String(hello.firmwareVersion)} on ${String(hello.deviceId)}`);
  report.info = await client.request<DeviceInfo>('info');
  o.say(`board ${report.info.board}, serial ${report.info.serialNumber}`);

  try {
    if (!report.info.pinSet) {
      if (!o.newPin) return fail('this box has no console PIN yet: give one to set (--new-pin-file or the prompt)');
      await client.request('pin', { action: 'set', pin: o.newPin });
      o.say('console PIN set');
    } else {
      if (!o.pin) return fail('the box has a console PIN: give it (--pin-file, OUTPOST_PIN or the prompt)');
      await client.request('login', { pin: o.pin });
    }
  } catch (e) {
    return fail(`login failed: ${describeRemote(e)[0]}`);
  }
  o.say('logged in');

  try {
    const r = await client.request<{ warnings: { field: string; message: string }[] }>('load', { config: o.site });
    report.warnings = r.warnings;
  } catch (e) {
    await client.request('rollback').catch(() => {});
    if (e instanceof RemoteError && e.body.code === 'invalid') {
      const issues = e.body.issues?.length ? e.body.issues.map((i) => `  ${i.field}: ${i.message}`) : [`  ${e.body.message}`];
      return fail('the site file was refused; nothing changed on the box', ['the site file has problems:', ...issues]);
    }
    throw e;
  }
  for (const w of report.warnings) o.say(`warning: ${w.field}: ${w.message}`);
  report.changes = (await client.request<{ changes: DiffEntry[] }>('diff')).changes;
  if (report.changes.length === 0) o.say('the box already has this configuration');
  else {
    o.say(`changes (${report.changes.length}):`);
    for (const l of diffLines(report.changes)) o.say(`  ${l}`);
  }

  const minutes = o.confirmMinutes ?? 10;
  const timeoutMs = o.timeoutMs ?? DEFAULT_APPLY_TIMEOUT_MS;
  const id = client.peekId();
  const onProgress = (e: ConsoleEvent) => {
    if (e.event === 'progress' && e.id === id) o.say(`  ${(ICON[e.state] ?? e.state).padEnd(4)} ${e.message}`);
  };
  client.on('event', onProgress);
  try {
    const done = client.waitEvent((e) => e.event === 'progress-done' && e.id === id, timeoutMs);
    done.catch(() => {}); // awaited below; a failed commit never produces it
    try {
      if (report.changes.length === 0) {
        await client.request('watch');
      } else {
        const r = await client.request<{ sections: string[]; confirmBy: number | null }>('commit', minutes > 0 ? { confirmMinutes: minutes } : {});
        report.committed = true;
        report.rollsBackAt = r.confirmBy === null ? null : new Date(r.confirmBy).toISOString();
        o.say(`committed (${r.sections.join(', ') || 'nothing running changed'})${minutes > 0 ? `; rolls back by itself in ${minutes} min unless confirmed` : ''}`);
      }
    } catch (e) {
      return fail(`commit failed: ${describeRemote(e)[0]}`, describeRemote(e).slice(1));
    }
    let result: Extract<ConsoleEvent, { event: 'progress-done' }>;
    try {
      result = (await done) as Extract<ConsoleEvent, { event: 'progress-done' }>;
    } catch (e) {
      return fail(`following the tunnel: ${(e as Error).message}`);
    }
    report.steps = result.steps;
    report.tunnelUp = result.tunnelUp;
    report.ok = result.ok;
    report.message = result.message;
  } finally {
    client.off('event', onProgress);
  }

  if (report.committed && minutes > 0) {
    if (report.tunnelUp || o.keepOnFailure) {
      await client.request('confirm');
      report.confirmed = true;
      report.rollsBackAt = null;
      o.say('confirmed: the configuration stays');
    } else {
      o.say(`NOT confirmed: the box returns to its previous configuration by itself at ${report.rollsBackAt}`);
    }
  }
  try {
    report.info = await client.request<DeviceInfo>('info'); // the identity as provisioned
    report.status = await client.request('status');
  } catch (e) {
    if (!(e instanceof ClientError || e instanceof RemoteError)) throw e;
  }
  await client.request('logout').catch(() => {});
  report.finishedAt = new Date().toISOString();
  return report;
}
