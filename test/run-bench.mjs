#!/usr/bin/env node
// `npm run bench`: runs every test/bench/*.bench.ts (or those named) one after another.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const names = process.argv.slice(2);
const files = names.length ? names : readdirSync('test/bench').filter((f) => f.endsWith('.bench.ts')).sort().map((f) => `test/bench/${f}`);
let failed = 0;
for (const f of files) {
  console.log(`\n=== ${f}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', f], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
