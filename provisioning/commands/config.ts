// Editing the candidate: show, set, unset, load, diff, validate, rollback.
import type { ConfigIssue } from '../../firmware/config/errors.ts';
import { redactConfig, SECRET_PLACEHOLDER } from '../../firmware/config/redact.ts';
import { parseJsonText } from '../../firmware/config/json.ts';
import { validateConfig } from '../../firmware/config/validate.ts';
import type { DiffEntry, EditResult } from '../candidate.ts';
import { ConsoleError } from '../errors.ts';
import {
  checkJsonValue, FIELDS, getPath, isSecretPath, OPTIONAL_SECTIONS, parseHumanValue, requireField, SECTIONS, type Obj,
} from '../fields.ts';
import type { CommandDef, Outcome, Params } from './types.ts';

/** A value as a person reads it: bare words stay bare, lists are comma-separated. */
export function formatValue(v: unknown): string {
  if (Array.isArray(v)) return v.map(formatValue).join(', ');
  if (typeof v === 'string') return v === SECRET_PLACEHOLDER || /^[\w.:\/@%+=,-]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v);
}

export function issueLines(issues: ConfigIssue[], prefix: string): string[] {
  return issues.map((i) => `${prefix}${i.path}: ${i.message}`);
}

function editText(r: EditResult, done: string): string[] {
  return [
    done,
    ...r.removed.filter((x) => !done.includes(x)).map((x) => `  removed ${x}`),
    ...issueLines(r.warnings, 'warning: '),
    ...issueLines(r.notes, 'note: now '),
  ];
}

function editData(r: EditResult): object {
  return {
    warnings: r.warnings.map((i) => ({ field: i.path, message: i.message })),
    notes: r.notes.map((i) => ({ field: i.path, message: i.message })),
    removed: r.removed,
  };
}

function showLines(raw: Obj, running: Obj, prefix: string | undefined): string[] {
  const v = validateConfig(raw);
  const resolved = v.ok ? (v.config as unknown as Obj) : undefined;
  const lines: string[] = [];
  for (const f of FIELDS) {
    if (prefix && !(f.path === prefix || f.path.startsWith(prefix + '.'))) continue;
    const val = getPath(raw, f.path);
    const changed = JSON.stringify(val) !== JSON.stringify(getPath(running, f.path));
    const mark = changed ? '*' : ' ';
    if (val !== undefined) {
      lines.push(`${mark} ${f.path} = ${f.secret ? `${SECRET_PLACEHOLDER} (set)` : formatValue(redactConfig(val))}`);
    } else if (resolved && getPath(resolved, f.path) !== undefined && !f.secret) {
      lines.push(`${mark} ${f.path} = ${formatValue(getPath(resolved, f.path))} (default)`);
    } else if (changed) {
      lines.push(`* ${f.path} (removed)`);
    }
  }
  return lines;
}

function checkPrefix(p: string | undefined): string | undefined {
  if (p === undefined || p === '') return undefined;
  if ((SECTIONS as readonly string[]).includes(p) || p === 'tunnel.auth') return p;
  return requireField(p).path;
}

export const show: CommandDef = {
  name: 'show',
  usage: ['show [running] [<section>|<field>] [json]'],
  summary: 'show the candidate configuration (secrets hidden)',
  details: [
    'Shows the candidate configuration, which is what "commit" would put in force.',
    'Lines marked "*" differ from the running configuration; "(default)" marks values not set but filled in.',
    '"show running" shows the configuration in force; "json" prints it as JSON (secrets as "<secret>",',
    'which "load" accepts back: a secret written as "<secret>" keeps the one on the box).',
  ],
  login: true,
  params: { which: 'string', field: 'string', format: 'string' },
  fromWords(words) {
    const p: Params = {};
    for (const w of words) {
      if (w === 'running' || w === 'candidate') p.which = w;
      else if (w === 'json') p.format = 'json';
      else if (p.field === undefined) p.field = w;
      else throw new ConsoleError('usage', 'usage: show [running] [<section>|<field>] [json]');
    }
    return p;
  },
  async run(ctx, p) {
    const which = p.which ?? 'candidate';
    if (which !== 'running' && which !== 'candidate') throw new ConsoleError('usage', '"which" is "candidate" or "running"', { field: 'which' });
    const field = checkPrefix(p.field as string | undefined);
    const raw = which === 'running' ? ctx.candidate.running : ctx.candidate.value;
    const config = redactConfig(raw);
    const part = field ? getPath(config, field) : config;
    const text = p.format === 'json'
      ? JSON.stringify(part ?? null, null, 2).split('\n')
      : [`${which} configuration${ctx.candidate.dirty && which === 'candidate' ? ' (uncommitted changes marked *)' : ''}:`, ...showLines(raw, which === 'running' ? raw : ctx.candidate.running, field)];
    return { data: { which, dirty: ctx.candidate.dirty, field: field ?? null, config: part ?? null }, text };
  },
};

function secretPrompt(path: string): { steps: { label: string; secret: boolean }[]; finish(a: string[]): Params } {
  return {
    steps: [{ label: `${path} (typing is not shown): `, secret: true }, { label: 'again: ', secret: true }],
    finish([a, b]) {
      if (a !== b) throw new ConsoleError('invalid', `${path}: the two entries differ; nothing was changed`, { field: path });
      return { field: path, value: a };
    },
  };
}

export const set: CommandDef = {
  name: 'set',
  usage: ['set <field> <value>', 'set <secret field>        (asks for the value without echo)'],
  summary: 'change a field in the candidate',
  details: [
    'Changes one field of the candidate; "commit" puts it in force. The value is checked at once:',
    'an invalid value is refused with the reason, and the candidate keeps the old one.',
    'Lists take several words or commas: set tunnel.remoteSubnets 10.2.0.0/16 10.3.0.0/16',
    'Quote a value to keep its spaces: set tunnel.localId "CN=branch 42, O=Example"',
    'Setting tunnel.auth.psk removes key/cert/ca/crl and the other way round.',
    'Type "help fields" for every field.',
  ],
  login: true,
  params: { field: 'string', value: 'any' },
  required: ['field', 'value'],
  fromWords(words) {
    if (words.length === 0) throw new ConsoleError('usage', 'usage: set <field> <value> (type "help fields" for the fields)');
    const f = requireField(words[0]!);
    if (words.length === 1) {
      if (f.secret) return secretPrompt(f.path);
      throw new ConsoleError('usage', `give a value, e.g. set ${f.path} ${f.example}`, { field: f.path });
    }
    return { field: f.path, value: parseHumanValue(f, words.slice(1)) };
  },
  async run(ctx, p) {
    const f = requireField(p.field as string);
    const value = checkJsonValue(f, p.value);
    const r = ctx.candidate.set(f, value);
    const shown = f.secret ? SECRET_PLACEHOLDER : formatValue(value);
    return { data: { field: f.path, ...editData(r) }, text: editText(r, `${f.path} = ${shown}${f.secret ? ' (set)' : ''}`) };
  },
};

export const unset: CommandDef = {
  name: 'unset',
  usage: ['unset <field>', 'unset health|console'],
  summary: 'remove an optional field (its default applies) or section',
  details: ['Removes an optional field from the candidate, so its default applies, or a whole optional section', `(${OPTIONAL_SECTIONS.join(', ')}). Required fields can only be changed with "set".`],
  login: true,
  params: { field: 'string' },
  required: ['field'],
  fromWords(words) {
    if (words.length !== 1) throw new ConsoleError('usage', 'usage: unset <field>');
    return { field: words[0] };
  },
  async run(ctx, p) {
    const field = p.field as string;
    const r = ctx.candidate.unset(field);
    return { data: { field, ...editData(r) }, text: editText(r, `${field} removed`) };
  },
};

export const load: CommandDef = {
  name: 'load',
  usage: ['load <JSON config>'],
  summary: 'load a site config (JSON) into the candidate',
  details: [
    'Replaces the candidate\'s sections with those in the JSON (sections left out stay as they are).',
    'The result must be valid or nothing changes; every problem is listed with its field.',
    'A secret written as "<secret>" keeps the value already on the box. Then "diff" and "commit".',
  ],
  login: true,
  params: { config: 'any' },
  required: ['config'],
  fromWords() {
    throw new ConsoleError('usage', 'usage: load {"device": {...}, ...}');
  },
  fromText(rest) {
    if (rest.trim() === '') throw new ConsoleError('usage', 'usage: load {"device": {...}, ...}');
    const j = parseJsonText(rest);
    if (!j.ok) throw new ConsoleError('invalid', `the config is not valid JSON (column ${j.column}: ${j.message})`);
    return { config: j.value };
  },
  async run(ctx, p) {
    const r = ctx.candidate.load(p.config);
    const changes = ctx.candidate.diff().length;
    return {
      data: { sections: r.sections, changes, ...editData(r) },
      text: [`loaded ${r.sections.join(', ')}: ${changes} field${changes === 1 ? ' differs' : 's differ'} from the running configuration ("diff" lists them)`, ...issueLines(r.warnings, 'warning: ')],
    };
  },
};

export function diffLines(d: DiffEntry[]): string[] {
  if (d.length === 0) return ['no changes: the candidate is the running configuration'];
  return d.map((e) => {
    if (e.change === 'added') return `+ ${e.field} = ${formatValue(e.new)}`;
    if (e.change === 'removed') return `- ${e.field} (was ${formatValue(e.old)})`;
    return isSecretPath(e.field) ? `~ ${e.field}: ${SECRET_PLACEHOLDER} changed` : `~ ${e.field}: ${formatValue(e.old)} -> ${formatValue(e.new)}`;
  });
}

export const diff: CommandDef = {
  name: 'diff',
  usage: ['diff'],
  summary: 'list the changes a commit would make',
  details: ['Lists every field the candidate changes (+ added, - removed, ~ changed); secrets show only that they changed.'],
  login: true,
  params: {},
  fromWords(words) {
    if (words.length) throw new ConsoleError('usage', 'usage: diff');
    return {};
  },
  async run(ctx) {
    const d = ctx.candidate.diff();
    return { data: { changes: d }, text: diffLines(d) };
  },
};

export const validate: CommandDef = {
  name: 'validate',
  aliases: ['check'],
  usage: ['validate'],
  summary: 'check the whole candidate without committing',
  details: ['Runs the checks "commit" runs and lists every error and warning with its field.'],
  login: true,
  params: {},
  fromWords(words) {
    if (words.length) throw new ConsoleError('usage', 'usage: validate');
    return {};
  },
  async run(ctx): Promise<Outcome> {
    const v = ctx.candidate.validate();
    const issues = (l: ConfigIssue[]) => l.map((i) => ({ field: i.path, message: i.message }));
    if (!v.ok) {
      throw new ConsoleError('invalid', `the candidate has ${v.errors.length} error${v.errors.length === 1 ? '' : 's'}`, { issues: v.errors });
    }
    return { data: { valid: true, warnings: issues(v.warnings) }, text: [`the candidate is valid${v.warnings.length ? ` (${v.warnings.length} warning${v.warnings.length === 1 ? '' : 's'})` : ''}`, ...issueLines(v.warnings, 'warning: ')] };
  },
};

export const rollback: CommandDef = {
  name: 'rollback',
  usage: ['rollback', 'rollback previous'],
  summary: 'discard uncommitted changes, or load the previous configuration',
  details: [
    '"rollback" throws away the candidate\'s changes (the running configuration is untouched).',
    '"rollback previous" loads the last-known-good configuration (the one before the last commit) into',
    'the candidate; "commit" puts it back in force.',
  ],
  login: true,
  params: { to: 'string' },
  fromWords(words) {
    if (words.length === 0) return {};
    if (words.length === 1 && words[0] === 'previous') return { to: 'previous' };
    throw new ConsoleError('usage', 'usage: rollback [previous]');
  },
  async run(ctx, p) {
    if (p.to === undefined || p.to === 'candidate') {
      const n = ctx.candidate.diff().length;
      ctx.candidate.discard();
      return { data: { discarded: n }, text: [n ? `discarded ${n} uncommitted change${n === 1 ? '' : 's'}` : 'nothing to discard'] };
    }
    if (p.to !== 'previous') throw new ConsoleError('usage', '"to" is "previous" or left out', { field: 'to' });
    ctx.candidate.replace(await ctx.committer.previous());
    const d = ctx.candidate.diff();
    return { data: { changes: d }, text: ['loaded the previous configuration into the candidate; "commit" puts it in force:', ...diffLines(d)] };
  },
};
