#!/usr/bin/env node
// Runs the whole suite (or the folders/files given) with node's test runner and tsx.
// Kept as a script because Node 20's `--test` does not expand globs itself.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const roots = process.argv.slice(2).length ? process.argv.slice(2) : ['test/unit', 'test/fuzz', 'test/interop'];
const files = [];
const walk = (p) => {
  if (statSync(p).isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e));
  else if (p.endsWith('.test.ts')) files.push(p);
};
for (const r of roots) walk(r);
if (files.length === 0) {
  console.error(`no test files under ${roots.join(' ')}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
