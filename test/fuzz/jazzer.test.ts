// Bounded coverage-guided runs of every Jazzer target (test/fuzz/targets/), seeded from the
// committed corpora (strongSwan captures among them): a fixed number of runs and a fixed libFuzzer
// seed, so a run is repeatable. Long runs: docs/fuzzing.md. JAZZER_RUNS scales the runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { TARGETS } from './jazzer/run.mjs';
import { prepareAddon } from './jazzer/addon.mjs';

const RUN = join(import.meta.dirname, 'jazzer/run.mjs');
const SCALE = Number(process.env.JAZZER_RUNS ?? 1);
/** Runs per target: the IKE-after-decryption target sets up two engines per input (~300/s). */
const RUNS: Record<string, number> = { 'ike-sk': 200, 'ike-datagram': 1500 };

const addon = prepareAddon();

for (const target of TARGETS) {
  test(`jazzer: ${target} (${Math.round((RUNS[target] ?? 5000) * SCALE)} coverage-guided runs from the corpus)`, { timeout: 300_000 }, (t) => {
    if (!addon.ok) {
      t.skip(`Jazzer.js cannot run here: ${addon.reason}`);
      return;
    }
    const r = spawnSync(process.execPath, [RUN, target, '--runs', String(Math.round((RUNS[target] ?? 5000) * SCALE)), '--seed', '1234'], { encoding: 'utf8' });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.status, 0, `jazzer ${target} failed:\n${out.slice(-6000)}`);
    const done = /#(\d+)\s+DONE\s+cov: (\d+)/.exec(out);
    assert.ok(done, `no DONE line:\n${out.slice(-3000)}`);
    assert.ok(Number(done[2]) > 0, 'no coverage recorded: the target was not instrumented');
    t.diagnostic(`${target}: ${done[1]} runs, coverage ${done[2]} edges`);
  });
}
