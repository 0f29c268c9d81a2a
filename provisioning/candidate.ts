// The staged configuration: edits go to a candidate copy of the running config (the file form,
// defaults not filled in) and reach the box only through a commit. Each edit is checked at
// once: a value that makes its own field invalid is refused and the candidate keeps the old
// value; problems it causes elsewhere are reported as notes (commit checks the whole config).
import { isDeepStrictEqual } from 'node:util';
import type { ConfigIssue } from '../firmware/config/errors.ts';
import { redactConfig, SECRET_PLACEHOLDER } from '../firmware/config/redact.ts';
import { validateConfig, type ValidationResult } from '../firmware/config/validate.ts';
import { suggestKey } from '../firmware/config/suggest.ts';
import { ConsoleError } from './errors.ts';
import {
  cloneJson, deletePath, FIELDS, getPath, isObj, isSecretPath, OPTIONAL_SECTIONS, requireField, SECTIONS, setPath,
  type FieldSpec, type Obj,
} from './fields.ts';

export interface EditResult {
  /** Warnings about the edited field (valid but unwise). */
  warnings: ConfigIssue[];
  /** New errors elsewhere that this edit caused (e.g. a field that is now required). */
  notes: ConfigIssue[];
  /** Fields removed along with the edit (switching tunnel.auth between PSK and certificates). */
  removed: string[];
}

export interface DiffEntry {
  field: string;
  change: 'added' | 'removed' | 'changed';
  /** Redacted: secrets appear as "<secret>". */
  old?: unknown;
  new?: unknown;
}

function under(field: string): (i: ConfigIssue) => boolean {
  return (i) => i.path === field || i.path.startsWith(field + '.') || i.path.startsWith(field + '[');
}

function issueKey(i: ConfigIssue): string {
  return `${i.path}\u0000${i.message}`;
}

export class Candidate {
  private runningRaw: Obj;
  private cand: Obj;

  constructor(running: Obj) {
    this.runningRaw = cloneJson(running);
    this.cand = cloneJson(running);
  }

  /** Copies, so callers cannot edit the candidate behind its checks. */
  get value(): Obj { return cloneJson(this.cand); }
  get running(): Obj { return cloneJson(this.runningRaw); }
  get dirty(): boolean { return !isDeepStrictEqual(this.cand, this.runningRaw); }

  validate(): ValidationResult {
    return validateConfig(this.cand);
  }

  set(f: FieldSpec, value: unknown): EditResult {
    const before = new Set(this.errorsOf(this.cand).map(issueKey));
    const next = cloneJson(this.cand);
    const removed: string[] = [];
    if (f.authKind) {
      for (const other of FIELDS) {
        if (other.authKind && other.authKind !== f.authKind && getPath(next, other.path) !== undefined) {
          deletePath(next, other.path);
          removed.push(other.path);
        }
      }
    }
    setPath(next, f.path, cloneJson(value));
    const v = validateConfig(next);
    const errors = v.ok ? [] : v.errors;
    const mine = errors.filter(under(f.path));
    if (mine.length) throw new ConsoleError('invalid', mine.map((i) => `${i.path}: ${i.message}`).join('; '), { field: f.path, issues: mine });
    this.cand = next;
    return {
      warnings: v.warnings.filter(under(f.path)),
      notes: errors.filter((i) => !under(f.path)(i) && !before.has(issueKey(i))),
      removed,
    };
  }

  /** Removes an optional field, or a whole optional section (health, console). */
  unset(path: string): EditResult {
    if ((OPTIONAL_SECTIONS as readonly string[]).includes(path)) {
      if (this.cand[path] === undefined) throw new ConsoleError('usage', `${path} is not set`, { field: path });
      const next = cloneJson(this.cand);
      delete next[path];
      return this.commitEdit(next, path);
    }
    const f = requireField(path);
    if (f.required) throw new ConsoleError('usage', `${path} is required; set a new value instead`, { field: path });
    if (getPath(this.cand, path) === undefined) throw new ConsoleError('usage', `${path} is not set`, { field: path });
    const next = cloneJson(this.cand);
    deletePath(next, path);
    return this.commitEdit(next, path);
  }

  private commitEdit(next: Obj, path: string): EditResult {
    const before = new Set(this.errorsOf(this.cand).map(issueKey));
    const after = this.errorsOf(next);
    this.cand = next;
    return { warnings: [], notes: after.filter((i) => !before.has(issueKey(i))), removed: [path] };
  }

  private errorsOf(o: Obj): ConfigIssue[] {
    const v = validateConfig(o);
    return v.ok ? [] : v.errors;
  }

  /**
   * Loads a site config: the sections it has replace the candidate's, the others stay (a site
   * file about the network does not drop the console section). A secret written as "<secret>"
   * (as `show json` exports it) keeps the secret already on the box. The result must be valid,
   * or nothing changes.
   */
  load(site: unknown): EditResult & { sections: string[] } {
    if (!isObj(site)) throw new ConsoleError('invalid', 'the site config must be a JSON object like { "device": {...}, "tunnel": {...} }');
    const next = cloneJson(this.cand);
    const sections: string[] = [];
    for (const k of Object.keys(site)) {
      if (!(SECTIONS as readonly string[]).includes(k)) {
        const s = suggestKey(k, SECTIONS);
        const shown = k.length > 48 ? k.slice(0, 48) + '...' : k;
        throw new ConsoleError('invalid', `${shown}: unknown section${s ? ` (did you mean "${s}"?)` : ''}; known sections: ${SECTIONS.join(', ')}`, { field: shown });
      }
      next[k] = cloneJson(site[k]);
      sections.push(k);
    }
    for (const f of FIELDS) {
      if (!f.secret || getPath(next, f.path) !== SECRET_PLACEHOLDER) continue;
      const kept = getPath(this.runningRaw, f.path);
      if (typeof kept !== 'string') throw new ConsoleError('invalid', `${f.path}: is the placeholder ${SECRET_PLACEHOLDER} but the box has no value to keep; give the value`, { field: f.path });
      setPath(next, f.path, kept);
    }
    const v = validateConfig(next);
    if (!v.ok) throw new ConsoleError('invalid', `the site config has ${v.errors.length} error${v.errors.length === 1 ? '' : 's'}; nothing was loaded`, { issues: v.errors });
    this.cand = next;
    return { warnings: v.warnings, notes: [], removed: [], sections };
  }

  /** Throws away the edits: the candidate is the running config again. */
  discard(): void {
    this.cand = cloneJson(this.runningRaw);
  }

  /** Makes `raw` the candidate (e.g. the previous config, to commit it back). */
  replace(raw: Obj): void {
    this.cand = cloneJson(raw);
  }

  /** After a commit or a rollback: `raw` is now running; edits made meanwhile are dropped. */
  setRunning(raw: Obj): void {
    this.runningRaw = cloneJson(raw);
    this.cand = cloneJson(raw);
  }

  diff(): DiffEntry[] {
    return diffConfigs(this.runningRaw, this.cand);
  }
}

function leaves(o: unknown, prefix: string, out: Map<string, unknown>, depth = 0): Map<string, unknown> {
  if (isObj(o) && depth < 8) {
    for (const [k, v] of Object.entries(o)) leaves(v, prefix ? `${prefix}.${k}` : k, out, depth + 1);
  } else if (prefix) {
    out.set(prefix, o);
  }
  return out;
}

function shown(path: string, v: unknown): unknown {
  return isSecretPath(path) ? SECRET_PLACEHOLDER : redactConfig(v);
}

/** Field-by-field differences, secrets redacted (a changed secret shows as changed). */
export function diffConfigs(a: Obj, b: Obj): DiffEntry[] {
  const la = leaves(a, '', new Map());
  const lb = leaves(b, '', new Map());
  const out: DiffEntry[] = [];
  for (const [k, v] of la) {
    if (!lb.has(k)) out.push({ field: k, change: 'removed', old: shown(k, v) });
    else if (!isDeepStrictEqual(v, lb.get(k))) out.push({ field: k, change: 'changed', old: shown(k, v), new: shown(k, lb.get(k)) });
  }
  for (const [k, v] of lb) if (!la.has(k)) out.push({ field: k, change: 'added', new: shown(k, v) });
  const order = (f: string) => { const i = FIELDS.findIndex((x) => x.path === f); return i < 0 ? FIELDS.length : i; };
  return out.sort((x, y) => order(x.field) - order(y.field) || (x.field < y.field ? -1 : x.field > y.field ? 1 : 0));
}
