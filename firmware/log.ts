// Structured logging: level, component, event, fields. One line per record, readable on a
// serial console; `OUTPOST_LOG=json` switches to JSON lines for machines.
// Fields whose name looks like a secret are never printed, whatever the caller passes.

export type Level = 'debug' | 'info' | 'warn' | 'error';
export type Fields = Record<string, unknown>;

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET = /psk|secret|password|passwd|private|^key$|keymat|^sk_|pin/i;

export interface LogRecord { time: string; level: Level; component: string; event: string; fields: Fields }
export type Sink = (rec: LogRecord) => void;

let minLevel: Level = (process.env.OUTPOST_LOG_LEVEL as Level) in ORDER ? (process.env.OUTPOST_LOG_LEVEL as Level) : 'info';
let sink: Sink = process.env.OUTPOST_LOG === 'json' ? jsonSink : textSink;

export function setLogLevel(l: Level): void { minLevel = l; }
export function setLogSink(s: Sink): void { sink = s; }

export function redact(fields: Fields): Fields {
  const out: Fields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = SECRET.test(k) ? '<redacted>' : v;
  return out;
}

function fmt(v: unknown): string {
  if (typeof v === 'string') return /^[\w.:\/@%+-]*$/.test(v) && v !== '' ? v : JSON.stringify(v);
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === 'bigint') return v.toString();
  return JSON.stringify(v);
}

function textSink(r: LogRecord): void {
  const kv = Object.entries(r.fields).map(([k, v]) => `${k}=${fmt(v)}`).join(' ');
  process.stderr.write(`${r.time} ${r.level.toUpperCase().padEnd(5)} ${r.component}: ${r.event}${kv ? ' ' + kv : ''}\n`);
}

function jsonSink(r: LogRecord): void {
  process.stderr.write(JSON.stringify({ ...r, fields: r.fields }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
}

export interface Logger {
  debug(event: string, fields?: Fields): void;
  info(event: string, fields?: Fields): void;
  warn(event: string, fields?: Fields): void;
  error(event: string, fields?: Fields): void;
  child(component: string): Logger;
}

export function logger(component: string): Logger {
  const emit = (level: Level, event: string, fields: Fields = {}) => {
    if (ORDER[level] < ORDER[minLevel]) return;
    sink({ time: new Date().toISOString(), level, component, event, fields: redact(fields) });
  };
  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
    child: (c) => logger(`${component}.${c}`),
  };
}
