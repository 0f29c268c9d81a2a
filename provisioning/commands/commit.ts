// Putting the candidate in force: commit [confirmed N], confirm, and watch (follow the tunnel).
import { ConsoleError } from '../errors.ts';
import type { ProgressTracker } from '../progress.ts';
import { issueLines } from './config.ts';
import type { CommandDef } from './types.ts';

export const DEFAULT_CONFIRM_MINUTES = 10;

function clockTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16) + ' UTC';
}

export const commit: CommandDef = {
  name: 'commit',
  usage: ['commit', `commit confirmed [minutes]     (default ${DEFAULT_CONFIRM_MINUTES})`],
  summary: 'validate, save and apply the candidate; then follow the tunnel',
  details: [
    'Checks the whole candidate (every problem is listed with its field), saves it atomically (the',
    'previous configuration is kept as last-known-good), applies it (only the parts that changed',
    'restart), and follows the tunnel: HQ resolved, IKE_SA_INIT sent, authenticated, CHILD_SA up,',
    'a ping across the tunnel, the fleet broker connected.',
    '"commit confirmed N" also rolls the change back by itself unless "confirm" is typed within N',
    'minutes, so a change that cuts the tunnel (or this console) undoes itself. A restart inside the',
    'window does not cancel the rollback. A plain "commit" also confirms.',
  ],
  login: true,
  params: { confirmMinutes: 'int' },
  fromWords(words) {
    if (words.length === 0) return {};
    if (words[0] === 'confirmed' && words.length <= 2) {
      if (words.length === 1) return { confirmMinutes: DEFAULT_CONFIRM_MINUTES };
      if (/^[0-9]{1,5}$/.test(words[1]!)) return { confirmMinutes: Number(words[1]) };
    }
    throw new ConsoleError('usage', 'usage: commit [confirmed [minutes]]');
  },
  async run(ctx, p, id) {
    const minutes = p.confirmMinutes as number | undefined;
    let tracker: ProgressTracker | undefined;
    let r;
    try {
      r = await ctx.committer.commit(ctx.candidate.value, {
        ...(minutes !== undefined ? { confirmMinutes: minutes } : {}),
        beforeApply: (sections) => { tracker = ctx.tracker(id).attach(sections.includes('tunnel') || sections.includes('lan')); },
      });
    } catch (e) {
      tracker?.detach();
      throw e;
    }
    ctx.candidate.setRunning(ctx.committer.running);
    const text: string[] = [];
    if (r.sections.length === 0 && r.confirmedPending) text.push('confirmed: the configuration committed earlier stays in force');
    else if (r.sections.length === 0 && r.confirmBy !== undefined) text.push('no new changes; the confirm window starts again');
    else {
      text.push(`committed: ${r.sections.length ? `${r.sections.join(', ')} changed` : 'saved (nothing running changed)'}; the previous configuration is kept as last-known-good`);
      if (r.confirmedPending) text.push('this also confirms the earlier "commit confirmed"');
    }
    text.push(...issueLines(r.warnings, 'warning: '));
    if (r.confirmBy !== undefined) {
      text.push(`this change rolls back by itself at ${clockTime(r.confirmBy)} (in ${minutes} minute${minutes === 1 ? '' : 's'}) unless you type "confirm"`);
    }
    if (r.sections.includes('console')) text.push('the console settings (console.path, console.baudRate) take effect at the next start');
    if (tracker) text.push('following the tunnel (Ctrl-C stops following; "status" shows it any time):');
    const t = tracker;
    return {
      data: { sections: r.sections, warnings: r.warnings.map((i) => ({ field: i.path, message: i.message })), confirmBy: r.confirmBy ?? null, confirmedPending: r.confirmedPending, following: t !== undefined },
      text,
      ...(t ? { after: () => ctx.follow(id, t) } : {}),
    };
  },
};

export const confirm: CommandDef = {
  name: 'confirm',
  usage: ['confirm'],
  summary: 'keep a "commit confirmed" change',
  details: ['Cancels the automatic rollback of the last "commit confirmed": the configuration stays in force.'],
  login: true,
  params: {},
  fromWords(words) {
    if (words.length) throw new ConsoleError('usage', 'usage: confirm');
    return {};
  },
  async run(ctx) {
    await ctx.committer.confirm();
    return { data: { confirmed: true }, text: ['confirmed: the configuration stays in force'] };
  },
};

export const watch: CommandDef = {
  name: 'watch',
  usage: ['watch'],
  summary: 'follow the tunnel until it is up (or a step fails)',
  details: ['Shows the tunnel\'s steps as after a commit, without changing anything. Ctrl-C stops following.'],
  login: false,
  params: {},
  fromWords(words) {
    if (words.length) throw new ConsoleError('usage', 'usage: watch');
    return {};
  },
  async run(ctx, _p, id) {
    const t = ctx.tracker(id).attach(false);
    return { data: { following: true }, text: ['following the tunnel (Ctrl-C stops following):'], after: () => ctx.follow(id, t) };
  },
};
