#!/usr/bin/env node
// Coverage-guided fuzzing of Outpost's parsers with Jazzer.js (libFuzzer inside Node).
//   node test/fuzz/jazzer/run.mjs TARGET|all [--seconds N | --runs N] [--seed N] [--jobs N]
//        [--grow] [--regression] [-- libFuzzer flags...]
// Each target (test/fuzz/targets/TARGET.ts) is bundled with esbuild into one CommonJS file, which
// Jazzer instruments for coverage; the seeds in test/fuzz/corpus/TARGET/ are read, new inputs go
// to a temp dir (or, with --grow, into the committed corpus: minimise before committing, see
// docs/fuzzing.md). Crashes are written to test/fuzz/crashes/TARGET/ and the run exits non-zero.
// Exit 3 with a message when Jazzer cannot run here.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { prepareAddon } from './addon.mjs';

const ROOT = resolve(import.meta.dirname, '../../..');
const TARGETS_DIR = join(ROOT, 'test/fuzz/targets');
/** Files in targets/ that are helpers, not targets. */
const HELPERS = new Set(['bug.ts', 'peers.ts', 'seed-format.ts']);
export const TARGETS = readdirSync(TARGETS_DIR).filter((f) => f.endsWith('.ts') && !HELPERS.has(f)).map((f) => f.slice(0, -3)).sort();
/** Largest input per target (libFuzzer -max_len): a datagram, a console line, a config file. */
const MAX_LEN = { 'x509-cert': 8192, 'ike-datagram': 4096, 'ike-sk': 2048, 'esp-udp4500': 2048, 'console-line': 1024, 'console-request': 1024, 'config-file': 8192 };

function usage(msg) {
  if (msg) console.error(msg);
  console.error(`usage: run.mjs TARGET|all [--seconds N | --runs N] [--seed N] [--grow] [--regression] [-- libFuzzer flags]\ntargets: ${TARGETS.join(', ')}`);
  process.exit(2);
}

/** Bundles one target for Jazzer; returns the bundle's path. */
export async function bundle(target, outDir) {
  const out = join(outDir, `${target}.cjs`);
  await build({
    entryPoints: [join(TARGETS_DIR, `${target}.ts`)], outfile: out, bundle: true, platform: 'node', format: 'cjs',
    target: 'node20', sourcemap: 'inline', logLevel: 'error',
    // Packages are bundled too, so Jazzer instruments what parses for us (the ASN.1 library
    // under the X.509 parser); Node's built-ins stay external.
  });
  return out;
}

async function main() {
  const { values: o, positionals } = parseArgs({
    allowPositionals: true, strict: true,
    options: { seconds: { type: 'string' }, runs: { type: 'string' }, seed: { type: 'string' }, grow: { type: 'boolean' }, regression: { type: 'boolean' } },
  });
  const dash = process.argv.indexOf('--');
  const extra = dash >= 0 ? process.argv.slice(dash + 1) : [];
  const which = positionals.filter((p) => !extra.includes(p));
  if (which.length !== 1) usage();
  const targets = which[0] === 'all' ? TARGETS : [which[0]];
  for (const t of targets) if (!TARGETS.includes(t)) usage(`unknown target ${t}`);

  const addon = prepareAddon();
  if (!addon.ok) {
    console.error(`jazzer: cannot run here: ${addon.reason}`);
    process.exit(3);
  }
  if (addon.note !== 'shipped addon') console.error(`jazzer: ${addon.note}`);
  const require = createRequire(import.meta.url);
  const cli = join(dirname(require.resolve('@jazzer.js/core/package.json')), 'dist/cli.js');
  const work = mkdtempSync(join(tmpdir(), 'outpost-fuzz-'));
  let failed = 0;
  try {
    for (const target of targets) {
      const bundled = await bundle(target, work);
      const seeds = join(ROOT, 'test/fuzz/corpus', target);
      const crashes = join(ROOT, 'test/fuzz/crashes', target);
      mkdirSync(crashes, { recursive: true });
      const grown = join(work, `${target}-corpus`);
      mkdirSync(grown);
      const corpora = o.grow ? [seeds] : [grown, ...(existsSync(seeds) ? [seeds] : [])];
      const lf = [
        `-max_len=${MAX_LEN[target] ?? 4096}`, `-artifact_prefix=${crashes}/`, '-print_final_stats=1',
        ...(o.seed ? [`-seed=${o.seed}`] : []), ...(o.runs ? [`-runs=${o.runs}`] : []),
        ...(o.seconds ? [`-max_total_time=${o.seconds}`] : []), ...extra,
      ];
      const mode = o.regression ? ['--mode', 'regression'] : [];
      // --timeout: an input taking 30 s is a hang; Jazzer's 5 s default also fired on inputs that run
      // in milliseconds while the shared 2-core machine was busy with other benches.
      const args = ['--require', join(import.meta.dirname, 'redirect.cjs'), cli, bundled, ...corpora, '--sync', '--timeout', '30000', '-i', bundled, ...mode, '--', ...lf];
      console.error(`jazzer: ${target}: ${o.regression ? 'regression over the corpus' : o.runs ? `${o.runs} runs` : o.seconds ? `${o.seconds} s` : 'until stopped'}`);
      const before = new Set(readdirSync(crashes));
      // NODE_PATH: the bundle lives in a temp dir but requires the project's packages.
      const env = { ...process.env, ...addon.env, NODE_PATH: join(ROOT, 'node_modules') };
      const r = spawnSync(process.execPath, args, { stdio: 'inherit', env, cwd: work });
      // (Another run of the same target may have removed the empty directory meanwhile.)
      const after = existsSync(crashes) ? readdirSync(crashes) : [];
      const found = after.filter((f) => !before.has(f));
      if (after.length === 0) rmSync(crashes, { recursive: true, force: true });
      if (r.status !== 0) {
        failed++;
        console.error(`jazzer: ${target}: FAILED (exit ${r.status ?? r.signal})` +
          (found.length ? `; reproducer ${found.map((f) => join(crashes, f)).join(', ')}: make it a regression test (docs/fuzzing.md)` : ''));
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) await main();
