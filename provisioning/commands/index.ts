// The command table, `help`, and the checks shared by both modes (name lookup, machine params).
import { ConsoleError } from '../errors.ts';
import { FIELDS } from '../fields.ts';
import { suggestKey } from '../../firmware/config/suggest.ts';
import { login, logout, pin } from './auth.ts';
import { commit, confirm, watch } from './commit.ts';
import { diff, load, rollback, set, show, unset, validate } from './config.ts';
import { factoryReset, hello, info, key, mode, status } from './device.ts';
import type { CommandDef, Params } from './types.ts';

export const help: CommandDef = {
  name: 'help',
  aliases: ['?'],
  usage: ['help', 'help <command>', 'help fields'],
  summary: 'this list, help on one command, or the list of fields',
  details: ['"help <command>" explains one command; "help fields" lists every field "set" accepts.'],
  login: false,
  params: { topic: 'string' },
  fromWords(words) {
    if (words.length > 1) throw new ConsoleError('usage', 'usage: help [command|fields]');
    return words.length ? { topic: words[0] } : {};
  },
  async run(_ctx, p) {
    const topic = p.topic as string | undefined;
    if (topic === undefined) {
      const rows = COMMANDS.map((c) => `  ${c.name.padEnd(14)} ${c.summary}`);
      return {
        data: { commands: COMMANDS.map((c) => ({ name: c.name, usage: c.usage, summary: c.summary, login: c.login })) },
        text: ['commands ("help <command>" for details; changes need "login" first):', ...rows, 'edits go to a candidate; nothing changes on the box until "commit".'],
      };
    }
    if (topic === 'fields') {
      return {
        data: { fields: FIELDS.map((f) => ({ field: f.path, type: f.type, secret: f.secret === true, required: f.required === true, help: f.help })) },
        text: ['fields ("set <field> <value>"; lists take several values or commas):', ...FIELDS.map((f) => `  ${f.path.padEnd(28)} ${f.type === 'list' ? 'list: ' : f.type === 'int' ? 'number: ' : ''}${f.help}${f.example && !f.secret ? ` (e.g. ${f.example})` : ''}`)],
      };
    }
    const c = findCommand(topic);
    return { data: { name: c.name, usage: c.usage, summary: c.summary, details: c.details, login: c.login }, text: [...c.usage.map((u) => `usage: ${u}`), ...c.details, ...(c.login ? ['(needs "login")'] : [])] };
  },
};

export const COMMANDS: readonly CommandDef[] = [
  help, info, status, login, logout, pin, show, set, unset, load, diff, validate, commit, confirm, rollback, watch, key, factoryReset, mode, hello,
];

const BY_NAME = new Map<string, CommandDef>();
for (const c of COMMANDS) for (const n of [c.name, ...(c.aliases ?? [])]) BY_NAME.set(n, c);

export function findCommand(name: string): CommandDef {
  const c = BY_NAME.get(name);
  if (c) return c;
  const shown = name.length > 32 ? name.slice(0, 32) + '...' : name;
  const s = suggestKey(name, [...BY_NAME.keys()]);
  throw new ConsoleError('unknown-command', `unknown command "${shown}"${s ? ` (did you mean "${s}"?)` : ''}; type "help" for the list`);
}

/** Checks a machine request's params against the command's declaration. */
export function checkParams(c: CommandDef, params: Params): Params {
  for (const [k, v] of Object.entries(params)) {
    const t = c.params[k];
    if (!t) {
      const known = Object.keys(c.params);
      throw new ConsoleError('bad-request', `"${k.slice(0, 32)}" is not a parameter of ${c.name}${known.length ? ` (it takes ${known.join(', ')})` : ' (it takes none)'}`, { field: k.slice(0, 32) });
    }
    const ok = t === 'any' || (t === 'string' && typeof v === 'string') || (t === 'int' && typeof v === 'number' && Number.isSafeInteger(v)) || (t === 'bool' && typeof v === 'boolean');
    if (!ok) throw new ConsoleError('bad-request', `"${k}" must be ${t === 'int' ? 'a whole number' : t === 'bool' ? 'true or false' : 'a string'}`, { field: k });
  }
  for (const k of c.required ?? []) {
    if (!Object.prototype.hasOwnProperty.call(params, k)) throw new ConsoleError('bad-request', `${c.name} needs "${k}"`, { field: k });
  }
  return params;
}

/** Start-of-line patterns after which the rest of the line is a secret (echo is turned off). */
const SECRET_FIELDS = FIELDS.filter((f) => f.secret).map((f) => f.path.replace(/\./g, '\\.'));
const SECRET_START = new RegExp(`^\\s*(login|pin\\s+set|set\\s+(${SECRET_FIELDS.join('|')}))\\s`);

export function secretPrefix(start: string): boolean {
  return SECRET_START.test(start);
}
