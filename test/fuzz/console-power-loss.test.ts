// Power loss during commits, approximated by SIGKILL at random points: a child process commits
// configs in a loop through the console's committer (firmware/config/store.ts underneath); the
// test kills it, then checks that the config loads from the main file and is either the last
// committed one or the one being committed, that the last-known-good copy and the rollback
// record are intact, and that temp files are cleaned up. Bounded: POWER_LOSS_ITERATIONS (default
// 20) kills; FUZZ_SEED reproduces the kill points. (SIGKILL keeps the page cache: this proves the
// rename protocol, not the disk's write ordering.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig, readConfigFile } from '../../firmware/config/store.ts';
import { Committer } from '../../provisioning/committer.ts';
import { logger } from '../../firmware/log.ts';
import { FakeClock, FakeDaemon, prng } from '../unit/provisioning/helpers.ts';
import { boxConfig } from './power-loss-configs.ts';

const ITERATIONS = Number(process.env.POWER_LOSS_ITERATIONS ?? 20);
const SEED = Number(process.env.FUZZ_SEED ?? 0x90fe1055);
const CHILD = resolve(import.meta.dirname, 'console-commit-child.ts');

test('SIGKILL at random points during commits: the config is always the old or the new one', { timeout: 600_000 }, async () => {
  const r = prng(SEED);
  const dir = mkdtempSync(join(tmpdir(), 'outpost-powerloss-'));
  const configPath = join(dir, 'outpost.json');
  writeFileSync(configPath, JSON.stringify(boxConfig(0), null, 2) + '\n', { mode: 0o600 });
  let committed = 0;
  let killedMidCommit = 0;
  try {
    for (let i = 0; i < ITERATIONS; i++) {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '', err = '';
      child.stderr.on('data', (d) => { err += d; });
      const exited = new Promise<NodeJS.Signals | number | null>((res) => child.once('exit', (code, sig) => res(sig ?? code)));
      const target = 1 + r.int(12);
      const delayMs = r.int(4);
      await new Promise<void>((res, rej) => {
        child.stdout.on('data', (d) => {
          out += d;
          if ((out.match(/^begin /gm) ?? []).length >= target) res();
        });
        void exited.then(() => rej(new Error(`child exited early: ${err}`)));
      });
      await new Promise((res) => setTimeout(res, delayMs)); // a random point inside the commit
      child.kill('SIGKILL');
      assert.equal(await exited, 'SIGKILL', err);

      const begun = [...out.matchAll(/^begin (\d+)$/gm)].map((m) => Number(m[1]));
      const done = [...out.matchAll(/^done (\d+)$/gm)].map((m) => Number(m[1]));
      const lastBegun = Math.max(...begun);
      const lastDone = done.length ? Math.max(...done) : lastBegun - 1;
      if (lastDone < lastBegun) killedMidCommit++;
      committed += done.length;

      const loaded = await loadConfig(configPath);
      assert.equal(loaded.source, 'main', `iteration ${i}: fell back to the last-known-good copy: ${loaded.fallback?.message}`);
      const id = (loaded.raw as { device: { id: string } }).device.id;
      assert.ok(id === `box-${lastDone}` || id === `box-${lastBegun}`, `iteration ${i} (seed ${SEED}): stored ${id}, last done box-${lastDone}, being committed box-${lastBegun}`);
      assert.deepEqual(loaded.raw, boxConfig(Number(id.split('-')[1])), 'the stored config is exactly one that was committed');
      if (existsSync(`${configPath}.lkg`)) await readConfigFile(`${configPath}.lkg`); // throws if torn or invalid
      if (existsSync(`${configPath}.confirm`)) JSON.parse(readFileSync(`${configPath}.confirm`, 'utf8'));
      assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.outpost.json.tmp.')), [], 'loadConfig removed the config\'s temp files');
      const restarted = new Committer({ configPath, daemon: new FakeDaemon(loaded.config), clock: new FakeClock(), log: logger('test') });
      await restarted.init(); // what the console does at start
      restarted.stop();
      assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.tmp.')), [], 'no temp file survives a restart');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stderr.write(`power-loss: ${ITERATIONS} kills, ${killedMidCommit} inside a commit, ${committed} commits completed\n`);
  assert.ok(killedMidCommit > 0, 'no kill landed inside a commit; raise POWER_LOSS_ITERATIONS');
});
