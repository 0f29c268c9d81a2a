// The example payloads in docs/mqtt.md (each a ```json block after "<!-- example: KIND -->")
// must match docs/schemas, so the page cannot drift from the contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { assertValid } from './schemas.ts';

const PAGE = resolve(import.meta.dirname, '../../../docs/mqtt.md');

test('docs/mqtt.md: every example payload matches its schema', () => {
  const text = readFileSync(PAGE, 'utf8');
  const re = /<!-- example: (status|health|events) -->\s*```json\n([\s\S]*?)```/g;
  const counts: Record<string, number> = { status: 0, health: 0, events: 0 };
  for (let m; (m = re.exec(text));) {
    const kind = m[1] as 'status' | 'health' | 'events';
    assertValid(kind, JSON.parse(m[2]!));
    counts[kind]!++;
  }
  assert.deepEqual(counts, { status: 3, health: 1, events: 9 });
});

test('docs/mqtt.md: every event type in the schema has an example', () => {
  const schema = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../../docs/schemas/events.schema.json'), 'utf8'));
  const types: string[] = schema.properties.type.enum;
  const text = readFileSync(PAGE, 'utf8');
  for (const t of types) assert.match(text, new RegExp(`"type": "${t}"`), `no example of ${t}`);
});
