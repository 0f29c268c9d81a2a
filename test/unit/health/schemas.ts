// Validators for docs/schemas/*.schema.json (ajv 8, JSON Schema 2020-12), shared by the unit
// and interop health tests. "date-time" is checked as the reporter writes it: UTC ISO 8601.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';

const DOCS = resolve(import.meta.dirname, '../../../docs/schemas');

function load(name: string): ValidateFunction {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
  return ajv.compile(JSON.parse(readFileSync(resolve(DOCS, `${name}.schema.json`), 'utf8')));
}

export const validators = { status: load('status'), health: load('health'), events: load('events') };

/** Throws with ajv's errors (and the payload) unless `payload` matches the schema. */
export function assertValid(kind: keyof typeof validators, payload: unknown): void {
  const v = validators[kind];
  if (!v(payload)) {
    throw new Error(`${kind} payload does not match docs/schemas/${kind}.schema.json:\n${JSON.stringify(v.errors, null, 2)}\npayload: ${JSON.stringify(payload, null, 2)}`);
  }
}

/** True if the schema rejects `payload` (for negative tests). */
export function rejects(kind: keyof typeof validators, payload: unknown): boolean {
  return !validators[kind](payload);
}
