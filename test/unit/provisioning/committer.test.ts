// Commits: validated, atomic, applied, restored on failure; commit confirmed rolls back by
// itself (also after a restart inside the window) unless confirmed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Committer, type RollbackInfo } from '../../../provisioning/committer.ts';
import { ConsoleError } from '../../../provisioning/errors.ts';
import { logger } from '../../../firmware/log.ts';
import { FakeClock, FakeDaemon, resolve, siteConfig } from './helpers.ts';

function setup(raw = siteConfig()) {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-commit-'));
  const configPath = join(dir, 'outpost.json');
  writeFileSync(configPath, JSON.stringify(raw, null, 2) + '\n', { mode: 0o600 });
  const clock = new FakeClock();
  const daemon = new FakeDaemon(resolve(raw));
  const rollbacks: RollbackInfo[] = [];
  let waiting: ((i: RollbackInfo) => void) | undefined;
  const make = () => new Committer({ configPath, daemon, clock, log: logger('test'), onRollback: (i) => { rollbacks.push(i); waiting?.(i); } });
  /** Resolves with the next rollback the committer does by itself. */
  const nextRollback = () => new Promise<RollbackInfo>((r) => { waiting = r; });
  const stored = () => JSON.parse(readFileSync(configPath, 'utf8'));
  return { dir, configPath, clock, daemon, rollbacks, make, stored, nextRollback, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('commit validates, saves atomically (0600, previous kept as .lkg) and applies', async () => {
  const s = setup();
  try {
    const c = s.make();
    await c.init();
    const next = siteConfig({ remote: '203.0.113.7' });
    let before: string[] | undefined;
    const r = await c.commit(next, { beforeApply: (sec) => { before = sec; } });
    assert.deepEqual(r.sections, ['tunnel']);
    assert.deepEqual(before, ['tunnel']);
    assert.deepEqual(s.stored(), next);
    assert.equal(statSync(s.configPath).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(`${s.configPath}.lkg`, 'utf8')), siteConfig());
    assert.equal(s.daemon.config.tunnel.remote, '203.0.113.7');
    assert.deepEqual(c.running, next);
    await assert.rejects(c.commit(next), (e: ConsoleError) => e.code === 'nothing-to-commit');
  } finally {
    s.done();
  }
});

test('an invalid config is refused with every issue; nothing is written or applied', async () => {
  const s = setup();
  try {
    const c = s.make();
    await c.init();
    const bad = siteConfig({ remote: 'not a host', remoteSubnets: ['10.2.0.1/24'] });
    await assert.rejects(c.commit(bad), (e: ConsoleError) => {
      assert.equal(e.code, 'invalid');
      assert.deepEqual(e.extra.issues?.map((i) => i.path).sort(), ['tunnel.remote', 'tunnel.remoteSubnets[0]']);
      return true;
    });
    assert.deepEqual(s.stored(), siteConfig());
    assert.equal(s.daemon.applied.length, 0);
  } finally {
    s.done();
  }
});

test('a config that saves but fails to apply is undone: old file, old config applied again', async () => {
  const s = setup();
  try {
    const c = s.make();
    await c.init();
    s.daemon.failNext = new Error('TUN device busy');
    await assert.rejects(c.commit(siteConfig({ remote: '203.0.113.7' })), (e: ConsoleError) => e.code === 'apply-failed' && /TUN device busy/.test(e.message));
    assert.deepEqual(s.stored(), siteConfig());
    assert.equal(s.daemon.config.tunnel.remote, '198.51.100.2');
    assert.deepEqual(c.running, siteConfig());
  } finally {
    s.done();
  }
});

test('commit confirmed: rolls back by itself when the window runs out', async () => {
  const s = setup();
  try {
    const c = s.make();
    await c.init();
    const r = await c.commit(siteConfig({ remote: '203.0.113.7' }), { confirmMinutes: 5 });
    assert.equal(r.confirmBy, s.clock.now() + 5 * 60_000);
    assert.ok(existsSync(`${s.configPath}.confirm`));
    assert.equal(statSync(`${s.configPath}.confirm`).mode & 0o777, 0o600);
    await s.clock.advance(5 * 60_000 - 1);
    assert.equal(s.clock.pending, 1, 'the rollback timer has not fired');
    const rolled = s.nextRollback();
    await s.clock.advance(1);
    await rolled;
    assert.equal(s.rollbacks.length, 1);
    assert.equal(s.rollbacks[0]!.ok, true);
    assert.deepEqual(s.rollbacks[0]!.sections, ['tunnel']);
    assert.deepEqual(s.stored(), siteConfig());
    assert.deepEqual(JSON.parse(readFileSync(`${s.configPath}.lkg`, 'utf8')), siteConfig(), 'the unconfirmed config is not kept as known-good');
    assert.equal(s.daemon.config.tunnel.remote, '198.51.100.2');
    assert.equal(existsSync(`${s.configPath}.confirm`), false);
    assert.equal(c.pendingConfirm, undefined);
  } finally {
    s.done();
  }
});

test('confirm (or a plain commit) keeps the change; a second confirmed commit returns to the first config', async () => {
  const s = setup();
  try {
    const c = s.make();
    await c.init();
    await c.commit(siteConfig({ remote: '203.0.113.7' }), { confirmMinutes: 5 });
    await c.confirm();
    await s.clock.advance(10 * 60_000);
    assert.equal(s.rollbacks.length, 0);
    assert.equal(s.daemon.config.tunnel.remote, '203.0.113.7');
    await assert.rejects(c.confirm(), (e: ConsoleError) => e.code === 'no-pending-commit');

    await c.commit(siteConfig({ remote: '203.0.113.8' }), { confirmMinutes: 5 });
    await c.commit(siteConfig({ remote: '203.0.113.9' }), { confirmMinutes: 5 });
    const rolled = s.nextRollback();
    await s.clock.advance(5 * 60_000);
    await rolled;
    assert.equal(s.rollbacks.length, 1);
    assert.equal(s.stored().tunnel.remote, '203.0.113.7');

    await c.commit(siteConfig({ remote: '203.0.113.10' }), { confirmMinutes: 5 });
    const r = await c.commit(siteConfig({ remote: '203.0.113.10' }));
    assert.equal(r.confirmedPending, true);
    await s.clock.advance(10 * 60_000);
    assert.equal(s.rollbacks.length, 1);
  } finally {
    s.done();
  }
});

test('a restart inside the window keeps the rollback (re-armed with the time left); a stale marker is dropped', async () => {
  const s = setup();
  try {
    const c = s.make();
    await c.init();
    await c.commit(siteConfig({ remote: '203.0.113.7' }), { confirmMinutes: 5 });
    c.stop();
    await s.clock.advance(2 * 60_000);
    // "reboot": a new committer (the daemon runs the new config)
    const c2 = s.make();
    await c2.init();
    assert.equal(c2.pendingConfirm?.deadline, s.clock.now() + 3 * 60_000);
    const rolled = s.nextRollback();
    await s.clock.advance(3 * 60_000);
    await rolled;
    assert.equal(s.rollbacks.length, 1);
    assert.deepEqual(s.stored(), siteConfig());

    // power lost after the marker was written but before the config: the marker is stale
    writeFileSync(`${s.configPath}.confirm`, JSON.stringify({ version: 1, previous: siteConfig(), deadline: s.clock.now() + 60_000, minutes: 1 }));
    const c3 = s.make();
    await c3.init();
    assert.equal(c3.pendingConfirm, undefined);
    assert.equal(existsSync(`${s.configPath}.confirm`), false);

    // a damaged marker is removed (and logged), not trusted
    writeFileSync(`${s.configPath}.confirm`, '{"version":1,"previous":');
    const c4 = s.make();
    await c4.init();
    assert.equal(c4.pendingConfirm, undefined);
    assert.equal(existsSync(`${s.configPath}.confirm`), false);
  } finally {
    s.done();
  }
});

test('commit confirmed takes 1-1440 minutes', async () => {
  const s = setup();
  try {
    const c = s.make();
    await c.init();
    for (const m of [0, -1, 1441, 1.5]) {
      await assert.rejects(c.commit(siteConfig({ remote: '203.0.113.7' }), { confirmMinutes: m }), (e: ConsoleError) => e.code === 'usage');
    }
  } finally {
    s.done();
  }
});

test('factory reset writes the factory config, drops the last-known-good copy and a pending confirm', async () => {
  const s = setup();
  try {
    const c = s.make();
    await c.init();
    await c.commit(siteConfig({ remote: '203.0.113.7' }), { confirmMinutes: 5 });
    const factory = siteConfig({ id: 'unprovisioned', remote: '%any' });
    (factory.tunnel as Record<string, unknown>).remoteId = '%any';
    await c.reset(factory);
    assert.deepEqual(s.stored(), factory);
    assert.equal(existsSync(`${s.configPath}.lkg`), false);
    assert.equal(existsSync(`${s.configPath}.confirm`), false);
    await s.clock.advance(10 * 60_000);
    assert.equal(s.rollbacks.length, 0);
    assert.equal(s.daemon.config.device.id, 'unprovisioned');
  } finally {
    s.done();
  }
});
