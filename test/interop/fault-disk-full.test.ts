// Fault matrix, row 8: the disk fills up while a config commit is written. The daemon's config
// directory is a 64 KiB tmpfs in its own mount namespace; a technician on the serial console
// (the provisioning tool's JSON client over a socat pty) changes tunnel.dpdSeconds and commits
// (a) with the file system completely full, (b) with room for exactly one more page, so the
//     last-known-good copy is written and the new config is not.
// Each time the commit fails with write-failed naming ENOSPC, the stored config is byte for byte
// the old one, no temp file is left behind, and the daemon keeps running the old config: the same
// SAs pass traffic and the fleet hears of no commit. Once space is freed the same commit
// succeeds: config-committed, the tunnel restarts with the new setting (measured: from the
// commit to the first ping answered).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, readFileSync, ftruncateSync, fstatSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FaultRig, TmpfsDaemon, dur } from '../lib/fault-rig.ts';
import { ProvisionClient, RemoteError } from '../../provisioning/tool/client.ts';
import { openSerialPort, closeSerialPort } from '../../provisioning/serial-port.ts';

const PIN = '731946';
const PAGE = 4096;

/** Fills the file system holding `path` with one file, page by page, until ENOSPC. */
function fill(path: string): number {
  const fd = openSync(path, 'w');
  const page = Buffer.alloc(PAGE, 0x5a);
  try {
    for (;;) {
      try { writeSync(fd, page); } catch (e) { if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break; throw e; }
    }
    const size = fstatSync(fd).size;
    ftruncateSync(fd, size - (size % PAGE)); // whole pages only, so freeing one frees exactly one
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

test('fault: disk full during a config commit: clear error, old config intact and in force; the commit works once space is freed', { timeout: 120_000 }, async (t) => {
  await FaultRig.run(t, { configTmpfsKiB: 64, console: true }, async (r) => {
    await r.firstUp();
    const d = r.d as TmpfsDaemon;
    const port = await openSerialPort(r.pty!.tool, 115200);
    const c = new ProvisionClient(port, 20_000);
    try {
      await c.hello(5); // the console opens its port once the daemon runs
      await c.request('pin', { action: 'set', pin: PIN });
      const oldText = readFileSync(r.storedConfigPath, 'utf8');
      assert.equal(oldText, r.configText);
      assert.equal(JSON.parse(oldText).tunnel.dpdSeconds, 5);
      await c.request('set', { field: 'tunnel.dpdSeconds', value: 7 });
      const before = (await r.d.status()).tunnel;
      const from = r.mark();
      const filler = d.seen(join(d.etc, 'filler'));
      const etcSeen = d.seen(d.etc);

      for (const room of ['no room at all', 'room for the last-known-good copy only'] as const) {
        const size = fill(filler);
        if (room !== 'no room at all') ftruncateSync2(filler, size - PAGE);
        const err = await c.request('commit').then(() => undefined, (e: unknown) => e);
        assert.ok(err instanceof RemoteError, `the commit failed (${room})`);
        assert.equal(err.code, 'write-failed');
        assert.match(err.message, /ENOSPC/);
        assert.match(err.message, /the previous one stays in force/);
        assert.equal(readFileSync(r.storedConfigPath, 'utf8'), oldText, `the stored config is the old one (${room})`);
        if (room !== 'no room at all') {
          assert.equal(readFileSync(d.seen(`${d.storedConfigPath}.lkg`), 'utf8'), oldText, 'the last-known-good copy was written, and is the old config');
        }
        const left = readdirSync(etcSeen).filter((n) => n.includes('.tmp.'));
        assert.deepEqual(left, [], 'no temp files left behind');
        // The daemon runs the old config: same SAs, traffic passes, nothing committed.
        const st = (await r.d.status()).tunnel;
        assert.equal(st.childSas[0]!.spiIn, before.childSas[0]!.spiIn, 'the tunnel was not restarted');
        await r.trafficBack(10_000);
        unlinkSync(filler);
      }
      assert.doesNotMatch(r.d.output, /\bcommitted sections=/);
      assert.deepEqual(r.eventsSince(from), [], 'no events: nothing changed');
      await r.assertIntact();

      // Space again: the same candidate commits, the tunnel restarts with the new setting.
      const committedAt = performance.now();
      const res = await c.request<{ sections: string[] }>('commit');
      assert.deepEqual(res.sections, ['tunnel']);
      const committed = await r.event('config-committed', from, 10_000);
      assert.deepEqual(committed.json.sections, ['tunnel']);
      await r.event('tunnel-up', from, 30_000);
      await r.trafficBack(30_000);
      const total = performance.now() - committedAt;
      const newText = readFileSync(r.storedConfigPath, 'utf8');
      assert.equal(JSON.parse(newText).tunnel.dpdSeconds, 7);
      assert.equal(readFileSync(d.seen(`${d.storedConfigPath}.lkg`), 'utf8'), oldText, 'the old config is the last-known-good copy');
      r.configText = newText;
      await r.assertIntact();
      r.report(t, 'row 8: disk full during a commit (0 pages / 1 page free)', `${dur(total)} from the commit once space was freed`, r.eventsSince(from),
        'the commit refused twice with write-failed (ENOSPC); old config kept byte for byte and in force, the tunnel untouched meanwhile');
    } finally {
      c.close();
      await closeSerialPort(port);
    }
  });
});

function ftruncateSync2(path: string, size: number): void {
  const fd = openSync(path, 'r+');
  try { ftruncateSync(fd, size); } finally { closeSync(fd); }
}
