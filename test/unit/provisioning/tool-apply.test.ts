// The technician's tool against the device console over a pty (fake daemon): a whole run from a
// site file, a refused site file, a tunnel that does not come up (not confirmed: the box rolls
// back by itself), and the outpost-provision CLI itself as a child process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { requireEnv } from '../../lib/netns.ts';
import { applySite } from '../../../provisioning/tool/apply.ts';
import { summaryText } from '../../../provisioning/tool/summary.ts';
import { createPinStateText } from '../../../provisioning/pin.ts';
import { client, closePort, harness, PIN, PSK, siteConfig, TEST_SCRYPT } from './helpers.ts';

const ROOT = resolvePath(import.meta.dirname, '../../..');
const FACTORY = { ...siteConfig({ id: 'unprovisioned', remote: '%any' }) };

test('a whole run: first PIN, site loaded, committed confirmed, tunnel followed, confirmed; the summary has no secret', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const h = await harness({ config: FACTORY });
  const c = client(h);
  try {
    h.daemon.onApplied = () => queueMicrotask(() => h.daemon.bringUp());
    const said: string[] = [];
    const site = siteConfig({ id: 'branch-042', remote: '203.0.113.5' });
    const r = await applySite(c, { site, newPin: PIN, say: (l) => said.push(l) });
    assert.equal(r.ok, true, said.join('\n'));
    assert.equal(r.tunnelUp, true);
    assert.equal(r.committed, true);
    assert.equal(r.confirmed, true);
    assert.equal(r.rollsBackAt, null);
    assert.deepEqual(r.changes.map((x) => x.field), ['device.id', 'tunnel.remote']);
    assert.equal(r.status?.tunnel.state, 'up');
    assert.ok(said.some((l) => /ok {3}CHILD_SA up/.test(l)), said.join('\n'));
    assert.equal(JSON.parse(readFileSync(h.configPath, 'utf8')).device.id, 'branch-042');
    assert.equal(h.console.committer.pendingConfirm, undefined);
    const text = summaryText(r, { port: '/dev/ttyUSB0', siteFile: 'site.json' });
    assert.match(text, /result:\s+OK/);
    assert.match(text, /device:\s+branch-042/);
    assert.match(text, /tunnel:\s+UP to 203\.0\.113\.5:4500/);
    assert.match(text, /CHILD SA:\s+10\.1\.0\.0\/24 === 10\.2\.0\.0\/24, AES_GCM_16-256/);
    assert.match(text, /config:\s+2 fields changed; committed and confirmed/);
    for (const s of [PSK, PIN]) {
      assert.ok(!text.includes(s));
      assert.ok(!said.join('\n').includes(s));
      assert.ok(!JSON.stringify(r).includes(s));
    }
  } finally {
    c.close();
    await h.close();
  }
});

test('a refused site file: every problem listed, nothing changed, the candidate left clean', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const h = await harness({ pinFile: await createPinStateText(PIN, TEST_SCRYPT) });
  const c = client(h);
  try {
    const said: string[] = [];
    const site = siteConfig({ remoteSubnets: ['10.2.0.1/24'] });
    (site.device as Record<string, unknown>).id = 'bad/id';
    const r = await applySite(c, { site, pin: PIN, say: (l) => said.push(l) });
    assert.equal(r.ok, false);
    assert.equal(r.committed, false);
    assert.match(r.message, /refused; nothing changed/);
    assert.ok(said.some((l) => /^ {2}device\.id: /.test(l)), said.join('\n'));
    assert.ok(said.some((l) => /^ {2}tunnel\.remoteSubnets\[0\]: /.test(l)), said.join('\n'));
    assert.equal(h.daemon.applied.length, 0);
    assert.equal(h.console.candidate.dirty, false);
    const wrong = await applySite(c, { site: siteConfig(), pin: '999999', say: () => {} });
    assert.match(wrong.message, /^login failed: wrong PIN/);
  } finally {
    c.close();
    await h.close();
  }
});

test('a tunnel that does not come up is not confirmed; the box returns to its old config by itself', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const h = await harness({ pinFile: await createPinStateText(PIN, TEST_SCRYPT) });
  const c = client(h);
  try {
    h.daemon.onApplied = (cfg) => {
      if (cfg.tunnel.remote === '203.0.113.99') queueMicrotask(() => h.daemon.ike({ type: 'negotiation-failed', ikeId: 'q', notify: 'NO_PROPOSAL_CHOSEN', detail: 'HQ accepted none of our IKE proposals' }));
    };
    const said: string[] = [];
    const r = await applySite(c, { site: siteConfig({ remote: '203.0.113.99' }), pin: PIN, confirmMinutes: 2, say: (l) => said.push(l) });
    assert.equal(r.ok, false);
    assert.equal(r.committed, true);
    assert.equal(r.confirmed, false);
    assert.ok(r.rollsBackAt);
    assert.ok(said.some((l) => /FAIL NO_PROPOSAL_CHOSEN: HQ accepted none of our IKE proposals/.test(l)), said.join('\n'));
    assert.match(summaryText(r, { port: 'p', siteFile: 's' }), /committed, NOT confirmed \(rolls back at /);
    const rolled = c.waitEvent((e) => e.event === 'rollback', 5000);
    await h.clock.advance(2 * 60_000);
    await rolled;
    assert.equal(JSON.parse(readFileSync(h.configPath, 'utf8')).tunnel.remote, '198.51.100.2');
  } finally {
    c.close();
    await h.close();
  }
});

test('the outpost-provision CLI: apply from a site file, summary on stdout, exit 0', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const h = await harness({ config: FACTORY });
  try {
    h.daemon.onApplied = () => queueMicrotask(() => h.daemon.bringUp());
    await closePort(h.toolPort); // the CLI opens the laptop end itself
    const siteFile = join(h.dir, 'site.json');
    writeFileSync(siteFile, JSON.stringify(siteConfig({ remote: '203.0.113.5' })));
    const summaryFile = join(h.dir, 'summary.txt');
    const p = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'provisioning/provision-tool.ts'), 'apply', '--port', h.pty.tool, siteFile, '--summary', summaryFile], {
      cwd: ROOT, env: { ...process.env, OUTPOST_NEW_PIN: PIN }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const code = await new Promise<number | null>((r) => p.once('exit', r));
    assert.equal(code, 0, `${out}\n${err}`);
    assert.match(out, /===== Outpost provisioning summary =====\nresult:\s+OK/);
    assert.match(err, /console PIN set/);
    assert.equal(readFileSync(summaryFile, 'utf8'), out.replace(/^\n/, ''));
    assert.ok(!out.includes(PSK) && !err.includes(PSK) && !out.includes(PIN) && !err.includes(PIN));
    // the port list is what serialport finds, as JSON on request
    const list = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'provisioning/provision-tool.ts'), 'list', '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let listOut = '';
    list.stdout.on('data', (d) => { listOut += d; });
    assert.equal(await new Promise((r) => list.once('exit', r)), 0);
    assert.ok(Array.isArray(JSON.parse(listOut)));
    // usage errors exit 2
    const bad = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'provisioning/provision-tool.ts'), 'apply', siteFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let badErr = '';
    bad.stderr.on('data', (d) => { badErr += d; });
    assert.equal(await new Promise((r) => bad.once('exit', r)), 2);
    assert.match(badErr, /--port PATH is required/);
  } finally {
    await h.close();
  }
});
