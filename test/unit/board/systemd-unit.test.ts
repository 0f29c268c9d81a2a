// The systemd unit: restart on failure, only the capabilities Outpost needs, a read-only system
// with its own writable paths, and `systemd-analyze verify` clean (ExecStart pointed at /bin/true,
// since the release is not installed here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { requireEnv } from '../../lib/netns.ts';

const UNIT = resolve(import.meta.dirname, '../../../board/systemd/outpost.service');
const text = readFileSync(UNIT, 'utf8');

/** key -> values (a key may repeat), from the [Service] section. */
function service(): Map<string, string[]> {
  const m = new Map<string, string[]>();
  const body = text.split(/^\[Service\]$/m)[1]!.split(/^\[/m)[0]!;
  for (const line of body.split('\n')) {
    const r = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (r) m.set(r[1]!, [...(m.get(r[1]!) ?? []), r[2]!]);
  }
  return m;
}

test('unit: restart, capabilities, sandboxing, paths', () => {
  const s = service();
  assert.deepEqual(s.get('Restart'), ['on-failure']);
  assert.deepEqual(s.get('CapabilityBoundingSet'), ['CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW']);
  assert.deepEqual(s.get('NoNewPrivileges'), ['yes']);
  assert.deepEqual(s.get('ProtectSystem'), ['strict']);
  const rw = s.get('ReadWritePaths')!.join(' ').split(/\s+/);
  assert.ok(rw.includes('/var/lib/outpost') && rw.includes('/run/outpost'));
  assert.match(s.get('ExecStart')![0]!, /^\/opt\/outpost\/current\/bin\/outpost --config \/etc\/outpost\/outpost\.json/);
  assert.deepEqual(s.get('Environment')!.filter((e) => e.startsWith('OUTPOST_WATCHDOG=')), ['OUTPOST_WATCHDOG=1']);
  assert.ok(s.get('DeviceAllow')!.includes('/dev/net/tun rw'));
  assert.equal(s.has('ProtectKernelTunables'), false, 'Outpost writes net.ipv4.ip_forward itself');
});

test('unit: systemd-analyze verify', (t) => {
  if (!requireEnv(t, { cmds: ['systemd-analyze'] })) return;
  const dir = mkdtempSync(join(tmpdir(), 'outpost-unit-'));
  try {
    const f = join(dir, 'outpost.service');
    writeFileSync(f, text.replace('/opt/outpost/current/bin/outpost', '/bin/true'));
    const out = execFileSync('systemd-analyze', ['verify', f], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(out.trim(), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
