// The human CLI over a real pseudo-terminal (socat), with a fake daemon: prompts, help, the PIN
// (never echoed), staged edits, commit with progress, commit confirmed rolling back by itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { requireEnv } from '../../lib/netns.ts';
import { COMMANDS } from '../../../provisioning/commands/index.ts';
import { createPinStateText } from '../../../provisioning/pin.ts';
import { harness, PIN, PSK, siteConfig, TEST_SCRYPT, type Harness } from './helpers.ts';

const pinFile = () => createPinStateText(PIN, TEST_SCRYPT);

async function login(h: Harness): Promise<void> {
  h.term.send('login\r');
  await h.term.expect(/PIN: $/);
  h.term.send(`${PIN}\r`);
  await h.term.expect(/logged in\r\noutpost:branch-042# $/);
}

test('first contact: banner, help for every command, unknown commands, no shell', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const h = await harness();
  try {
    h.term.send('\r');
    await h.term.expect(/console on branch-042; type "help" \(there is no shell here\)\r\noutpost:branch-042> $/);
    const list = await h.term.cmd('help');
    for (const c of COMMANDS) assert.match(list, new RegExp(`\\r\\n  ${c.name}\\s+\\S`), c.name);
    for (const c of COMMANDS) {
      const out = await h.term.cmd(`help ${c.name}`);
      assert.match(out, /usage: /, c.name);
      assert.ok(!/^error:/m.test(out), `${c.name}: ${out}`);
    }
    assert.match(await h.term.cmd('help fields'), /tunnel\.auth\.psk\s+pre-shared key/);
    assert.match(await h.term.cmd('comit'), /error: unknown command "comit" \(did you mean "commit"\?\)/);
    for (const shell of ['sh', 'bash -i', '!ls', '/bin/sh', 'exec sh']) {
      assert.match(await h.term.cmd(shell), /error: unknown command/, shell);
    }
    assert.match(await h.term.cmd('set "unclosed'), /error: a double quote \(\"\) is not closed \(column 5\)/);
    assert.match(await h.term.cmd('info'), /firmware:\s+outpost 0\.1\.0-test[\s\S]*console PIN:\s+NOT set/);
    assert.match(await h.term.cmd('status'), /hq: DOWN, no IKE SA/);
    h.term.send('watch\r');
    await h.term.expect(/\.\. {3}starting IKE/);
    h.term.send('\x03');
    await h.term.expect(/stopped following \(the tunnel carries on; "status" shows it\)\r\noutpost:branch-042> $/);
  } finally {
    await h.close();
  }
});

test('first provisioning: the PIN is set with prompts, never echoed, and unlocks changes', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const h = await harness();
  try {
    assert.match(await h.term.cmd('show'), /error: no console PIN is set yet; set one with "pin set"/);
    h.term.send('pin set\r');
    await h.term.expect(/new PIN: $/);
    h.term.send('123456\r');
    await h.term.expect(/again: $/);
    h.term.send('123456\r');
    await h.term.expect(/error: the PIN is a run of digits.*\r\noutpost:branch-042> $/);
    h.term.send('pin set\r');
    await h.term.expect(/new PIN: $/);
    h.term.send(`${PIN}\r`);
    await h.term.expect(/again: $/);
    h.term.send(`${PIN}\r`);
    await h.term.expect(/console PIN set; you are logged in\r\noutpost:branch-042# $/);
    assert.ok(!h.term.buf.includes(PIN), 'the PIN was echoed');
    assert.equal(readFileSync(`${h.configPath}.pin`, 'utf8').includes(PIN), false);
    assert.match(await h.term.cmd('logout'), /logged out\r\noutpost:branch-042> $/);
    assert.match(await h.term.cmd('set tunnel.remote 203.0.113.9'), /error: "set" needs the console PIN: type "login" first/);
    // changing the PIN needs a login once one is set
    assert.match(await h.term.cmd('pin set'), /error: log in first/);
  } finally {
    await h.close();
  }
});

test('wrong PINs slow down exponentially; the right PIN after the wait logs in', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const h = await harness({ pinFile: await pinFile() });
  try {
    h.term.send('login\r');
    await h.term.expect(/PIN: $/);
    h.term.send('000000\r');
    await h.term.expect(/error: wrong PIN; the next try is possible in 1 s\r\n/);
    // too early: refused before asking
    assert.match(await h.term.cmd('login'), /error: too many wrong PINs; try again in 1 s/);
    await h.clock.advance(1000);
    h.term.send('login 111111\r'); // inline: the rest of the line is not echoed
    await h.term.expect(/error: wrong PIN; the next try is possible in 2 s/);
    await h.clock.advance(2000);
    h.term.send('login 222222\r');
    await h.term.expect(/error: wrong PIN; the next try is possible in 4 s/);
    await h.clock.advance(4000);
    await login(h);
    for (const p of ['000000', '111111', '222222', PIN]) assert.ok(!h.term.buf.includes(p), `${p} was echoed`);
  } finally {
    await h.close();
  }
});

test('editing: set, refused values with the field and reason, secrets by prompt, show and diff', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const h = await harness({ pinFile: await pinFile() });
  try {
    await login(h);
    assert.match(await h.term.cmd('set tunnel.remoteSubnets 10.2.0.0/16, 10.3.0.0/16'), /tunnel\.remoteSubnets = 10\.2\.0\.0\/16, 10\.3\.0\.0\/16\r\noutpost:branch-042\*# $/);
    assert.match(await h.term.cmd('set lan.address 10.1.0.0/24'), /error: lan\.address: 10\.1\.0\.0\/24 is the network address/);
    assert.match(await h.term.cmd('set tunnel.dpdSeconds soon'), /error: tunnel\.dpdSeconds: expected a whole number like 30/);
    assert.match(await h.term.cmd('set tunnel.remot x'), /error: unknown field "tunnel\.remot" \(did you mean "tunnel\.remote"\?\)/);
    assert.match(await h.term.cmd('set device.id'), /error: give a value, e\.g\. set device\.id branch-042/);
    const newPsk = 'a-brand-new-psk-for-hq-0123456789';
    h.term.send('set tunnel.auth.psk\r');
    await h.term.expect(/tunnel\.auth\.psk \(typing is not shown\): $/);
    h.term.send(`${newPsk}\r`);
    await h.term.expect(/again: $/);
    h.term.send(`${newPsk}x\r`);
    await h.term.expect(/error: tunnel\.auth\.psk: the two entries differ; nothing was changed/);
    h.term.send('set tunnel.auth.psk\r');
    await h.term.expect(/not shown\): $/);
    h.term.send(`${newPsk}\r`);
    await h.term.expect(/again: $/);
    h.term.send(`${newPsk}\r`);
    await h.term.expect(/tunnel\.auth\.psk = <secret> \(set\)/);
    const show = await h.term.cmd('show tunnel');
    assert.match(show, /\* tunnel\.remoteSubnets = 10\.2\.0\.0\/16, 10\.3\.0\.0\/16/);
    assert.match(show, /\* tunnel\.auth\.psk = <secret> \(set\)/);
    assert.match(show, / {2}tunnel\.dpdSeconds = 30 \(default\)/);
    const json = await h.term.cmd('show json');
    assert.match(json, /"psk": "<secret>"/);
    const diff = await h.term.cmd('diff');
    assert.match(diff, /~ tunnel\.auth\.psk: <secret> changed/);
    assert.match(diff, /~ tunnel\.remoteSubnets: 10\.2\.0\.0\/24 -> 10\.2\.0\.0\/16, 10\.3\.0\.0\/16/);
    for (const s of [newPsk, PSK, PIN]) assert.ok(!h.term.buf.includes(s), 'a secret reached the terminal');
    assert.match(await h.term.cmd('rollback'), /discarded 2 uncommitted changes\r\noutpost:branch-042# $/);
    // a site config pasted after "load": JSON as typed, quotes and all
    assert.match(await h.term.cmd('load {"device": {"id": "branch 7"}}'), /loaded device: 1 field differs from the running configuration/);
    assert.match(await h.term.cmd('load {"device": {"id": "a/b"}}'), /error: the site config has 1 error; nothing was loaded\r\n {2}device\.id: /);
    assert.match(await h.term.cmd('rollback'), /discarded 1 uncommitted change\r\n/);
    assert.match(await h.term.cmd('diff'), /no changes/);
    // Ctrl-C leaves a secret prompt without changing anything
    h.term.send('set health.password\r');
    await h.term.expect(/not shown\): $/);
    h.term.send('half-typed\x03');
    await h.term.expect(/\^C\r\ncancelled\r\noutpost:branch-042# $/);
    assert.match(await h.term.cmd('diff'), /no changes/);
    // A key made on the box, kept there (0600), and a CSR for the candidate identity printed.
    const made = await h.term.cmd('key generate');
    assert.match(made, /private key: .*outpost\.key \(ed25519, mode 0600, stays on this box\)/);
    assert.match(made, /-----BEGIN CERTIFICATE REQUEST-----/);
    assert.doesNotMatch(made, /PRIVATE KEY/);
    assert.match(await h.term.cmd('key generate ecdsa-p256'), /error: .*already holds a key; "key generate ecdsa-p256 force" replaces it/);
    assert.match(await h.term.cmd('key generate rsa'), /error: key type "rsa" is not one of ed25519, ecdsa-p256/);
    assert.match(await h.term.cmd('key show'), /certificate fingerprint: n\/a/);
  } finally {
    await h.close();
  }
});

test('commit: saved, applied, and the tunnel followed up to the probe', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const h = await harness({ pinFile: await pinFile() });
  try {
    await login(h);
    h.daemon.onApplied = () => queueMicrotask(() => h.daemon.bringUp());
    await h.term.cmd('set tunnel.remote 203.0.113.5');
    h.term.send('commit\r');
    await h.term.expect(/committed: tunnel changed; the previous configuration is kept as last-known-good/);
    await h.term.expect(/ok {3}HQ is 203\.0\.113\.5/);
    await h.term.expect(/ok {3}authenticated: HQ is "hq\.example\.net"/);
    await h.term.expect(/ok {3}CHILD_SA up: 10\.1\.0\.0\/24 === 10\.2\.0\.0\/24, AES_GCM_16-256/);
    await h.term.expect(/ok {3}10\.2\.0\.1 answered a ping from 10\.1\.0\.1 through the tunnel/);
    await h.term.expect(/-- {3}health reporting is not configured/);
    await h.term.expect(/done: the tunnel is up\r\noutpost:branch-042# $/);
    assert.equal(JSON.parse(readFileSync(h.configPath, 'utf8')).tunnel.remote, '203.0.113.5');
    assert.equal(h.daemon.config.tunnel.remote, '203.0.113.5');
    assert.match(await h.term.cmd('commit'), /error: nothing to commit/);
    // a candidate that is invalid as a whole is refused with every field named
    await h.term.cmd('set tunnel.remote %any');
    await h.term.cmd('unset tunnel.remoteId');
    const out = await h.term.cmd('commit');
    assert.match(out, /error: the configuration has 1 error; nothing was changed\r\n {2}tunnel\.remoteId: is required when tunnel\.remote is "%any"/);
    assert.equal(JSON.parse(readFileSync(h.configPath, 'utf8')).tunnel.remote, '203.0.113.5');
  } finally {
    await h.close();
  }
});

test('commit confirmed: an unconfirmed change that cuts the tunnel undoes itself', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const h = await harness({ pinFile: await pinFile() });
  try {
    await login(h);
    h.daemon.onApplied = (cfg) => {
      if (cfg.tunnel.remote === '203.0.113.66') queueMicrotask(() => h.daemon.ike({ type: 'auth-failed', ikeId: 'b', reason: 'AUTHENTICATION_FAILED' }));
    };
    await h.term.cmd('set tunnel.remote 203.0.113.66');
    h.term.send('commit confirmed 3\r');
    await h.term.expect(/this change rolls back by itself at 12:03 UTC \(in 3 minutes\) unless you type "confirm"/);
    await h.term.expect(/FAIL authentication failed: AUTHENTICATION_FAILED/);
    await h.term.expect(/FAILED: auth failed: authentication failed: AUTHENTICATION_FAILED\r\nnot confirmed: the previous configuration returns by itself in 3 min/);
    assert.match(await h.term.cmd('status'), /a commit waits for "confirm": it rolls back by itself in 3 min/);
    await h.clock.advance(3 * 60_000);
    await h.term.expect(/rolled back: the commit was not confirmed in time: the previous configuration is back in force \(tunnel changed\)/);
    assert.equal(JSON.parse(readFileSync(h.configPath, 'utf8')).tunnel.remote, '198.51.100.2');
    assert.equal(h.daemon.config.tunnel.remote, '198.51.100.2');
    assert.match(await h.term.cmd('diff'), /no changes/);
    // and a confirmed one stays
    await h.term.cmd('set tunnel.remote 203.0.113.67');
    await h.term.cmd('commit confirmed');
    assert.match(await h.term.cmd('confirm'), /confirmed: the configuration stays in force/);
    await h.clock.advance(15 * 60_000);
    assert.equal(h.daemon.config.tunnel.remote, '203.0.113.67');
  } finally {
    await h.close();
  }
});

test('idle logout after 15 minutes; factory reset asks for the device id', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const factory = siteConfig({ id: 'unprovisioned', remote: '%any' });
  const h = await harness({ pinFile: await pinFile(), factory });
  try {
    await login(h);
    await h.clock.advance(15 * 60_000 + 1);
    assert.match(await h.term.cmd('diff'), /error: "diff" needs the console PIN/);
    await login(h);
    h.term.send('factory-reset\r');
    await h.term.expect(/type the device id \(branch-042\) to confirm: $/);
    h.term.send('oops\r');
    await h.term.expect(/error: the device id did not match; nothing was changed/);
    h.term.send('factory-reset\r');
    await h.term.expect(/to confirm: $/);
    h.term.send('branch-042\r');
    await h.term.expect(/factory configuration restored \(device, tunnel\); console PIN removed: set a new one with "pin set"; logged out\r\noutpost:unprovisioned> $/);
    assert.equal(JSON.parse(readFileSync(h.configPath, 'utf8')).device.id, 'unprovisioned');
  } finally {
    await h.close();
  }
});
