// The machine mode's wire format (JSON lines), shared by the device console and the
// technician's tool. See provisioning/PROTOCOL.md. A request is one line starting with "{":
//   {"id": 7, "cmd": "set", "field": "tunnel.remote", "value": "hq.example.net"}
// and gets exactly one response line with the same id:
//   {"id": 7, "ok": true, "result": {...}}  or  {"id": 7, "ok": false, "error": {"code", "message", "field"?, "issues"?}}
// Events (progress after a commit, an automatic rollback, notices) are lines with "event".
import { parseJsonText } from '../firmware/config/json.ts';
import type { ErrorBody } from './errors.ts';
import type { ProgressUpdate, StepId, StepState } from './progress.ts';

export const PROTOCOL_VERSION = 1;
export const MAX_ID_LENGTH = 64;

export type RequestId = string | number | null;

export interface Request {
  id: RequestId;
  cmd: string;
  params: Record<string, unknown>;
}

export type Response =
  | { id: RequestId; ok: true; result: unknown }
  | { id: RequestId; ok: false; error: ErrorBody };

export type ConsoleEvent =
  | { event: 'progress'; id: RequestId; step: StepId; state: StepState; message: string }
  | { event: 'progress-done'; id: RequestId; ok: boolean; tunnelUp: boolean; message: string; steps: ProgressUpdate[] }
  | { event: 'rollback'; ok: boolean; reason: string; sections: string[]; message: string }
  | { event: 'notice'; level: 'info' | 'warn'; message: string };

export type ParsedRequest = { ok: true; req: Request } | { ok: false; id: RequestId; error: ErrorBody };

function isId(v: unknown): v is RequestId {
  return v === null || (typeof v === 'string' && v.length <= MAX_ID_LENGTH) || (typeof v === 'number' && Number.isSafeInteger(v));
}

/** Parses one machine line. Strict JSON (duplicate keys rejected), bounded depth. */
export function parseRequest(line: string): ParsedRequest {
  const j = parseJsonText(line);
  if (!j.ok) return { ok: false, id: null, error: { code: 'bad-json', message: `not valid JSON at column ${j.column}: ${j.message}` } };
  const o = j.value;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return { ok: false, id: null, error: { code: 'bad-request', message: 'a request is a JSON object like {"id":1,"cmd":"status"}' } };
  const rec = o as Record<string, unknown>;
  const id = Object.prototype.hasOwnProperty.call(rec, 'id') ? rec.id : null;
  if (!isId(id)) return { ok: false, id: null, error: { code: 'bad-request', field: 'id', message: `"id" must be a string of at most ${MAX_ID_LENGTH} characters or a whole number` } };
  const cmd = rec.cmd;
  if (typeof cmd !== 'string' || cmd.length === 0 || cmd.length > 32) return { ok: false, id, error: { code: 'bad-request', field: 'cmd', message: '"cmd" must name a command, e.g. "status"' } };
  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rec)) {
    if (k === 'id' || k === 'cmd') continue;
    Object.defineProperty(params, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return { ok: true, req: { id, cmd, params } };
}

/** One JSON line; C1 controls and line separators escaped so no terminal acts on them. */
export function jsonLine(v: unknown): string {
  return JSON.stringify(v).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) + '\n';
}
