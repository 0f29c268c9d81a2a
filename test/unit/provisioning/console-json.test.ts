// Machine mode over a real pseudo-terminal: the tool's client against the device console with a
// fake daemon. One response per request with its id, errors with a code and the field, events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { requireEnv } from '../../lib/netns.ts';
import { RemoteError } from '../../../provisioning/tool/client.ts';
import type { ConsoleEvent } from '../../../provisioning/protocol.ts';
import { createPinStateText } from '../../../provisioning/pin.ts';
import { client, harness, PIN, PSK, siteConfig, TEST_SCRYPT } from './helpers.ts';

async function remoteError(p: Promise<unknown>): Promise<RemoteError['body']> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RemoteError, String(e));
    return e.body;
  }
  assert.fail('expected the console to refuse');
}

test('hello, info, status; errors carry a code, a message and the field', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const h = await harness();
  const c = client(h);
  try {
    const hello = await c.hello();
    assert.deepEqual(hello, { protocol: 1, firmwareVersion: '0.1.0-test', deviceId: 'branch-042', pinSet: false, loggedIn: false, mode: 'json' });
    const info = await c.request<{ deviceId: string; interfaces: unknown[] }>('info');
    assert.equal(info.deviceId, 'branch-042');
    const st = await c.request<{ tunnel: { state: string }; candidateDirty: boolean }>('status');
    assert.equal(st.tunnel.state, 'down');
    assert.deepEqual(await remoteError(c.request('comit')), { code: 'unknown-command', message: 'unknown command "comit" (did you mean "commit"?); type "help" for the list' });
    assert.equal((await remoteError(c.request('show'))).code, 'no-pin');
    assert.deepEqual(await remoteError(c.request('status', { verbose: true })), { code: 'bad-request', field: 'verbose', message: '"verbose" is not a parameter of status (it takes none)' });
    assert.deepEqual(await remoteError(c.request('pin', { action: 'set' })), { code: 'bad-request', field: 'pin', message: 'pin needs "pin"' });
    assert.deepEqual(await remoteError(c.request('pin', { action: 'set', pin: 42 })), { code: 'bad-request', field: 'pin', message: '"pin" must be a string' });
    assert.equal((await remoteError(c.request('pin', { action: 'set', pin: '1111' }))).field, 'pin');
    const help = await c.request<{ commands: { name: string }[] }>('help');
    assert.ok(help.commands.some((x) => x.name === 'factory-reset'));
  } finally {
    c.close();
    await h.close();
  }
});

test('malformed lines: bad JSON with its column, non-objects, bad ids; each answered with id null', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const h = await harness();
  try {
    const lines: Record<string, unknown>[] = [];
    const want = (n: number) => new Promise<void>((r) => {
      const check = () => { if (lines.length >= n) { h.toolPort.off('data', onData); r(); } };
      let buf = '';
      const onData = (d: Buffer) => {
        buf += d.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const l = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (l.startsWith('{')) lines.push(JSON.parse(l));
        }
        check();
      };
      h.toolPort.on('data', onData);
    });
    const all = want(5);
    h.term.send('{"id":1,"cmd":"status",}\n{"id":2 "cmd":"x"}\n{"id":{"a":1},"cmd":"hello"}\n{"id":3}\n{"id":4,"cmd":"hello","cmd":"info"}\n');
    await all;
    assert.deepEqual(lines.map((l) => [l.id, (l.error as { code: string }).code]), [[null, 'bad-json'], [null, 'bad-json'], [null, 'bad-request'], [3, 'bad-request'], [null, 'bad-json']]);
    assert.match((lines[0]!.error as { message: string }).message, /^not valid JSON at column 24: /);
    assert.match((lines[4]!.error as { message: string }).message, /duplicate/i);
  } finally {
    await h.close();
  }
});

test('a whole provisioning exchange: pin, load, diff, commit with progress events, confirm', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const h = await harness();
  const c = client(h);
  try {
    await c.hello();
    await c.request('pin', { action: 'set', pin: PIN });
    assert.equal(readFileSync(`${h.configPath}.pin`, 'utf8').includes(PIN), false);
    // a refused field names itself; the secret is never echoed back
    const bad = await remoteError(c.request('set', { field: 'tunnel.auth.psk', value: 'tiny-7' }));
    assert.equal(bad.code, 'invalid');
    assert.equal(bad.field, 'tunnel.auth.psk');
    assert.ok(!JSON.stringify(bad).includes('tiny-7'));
    assert.deepEqual(await remoteError(c.request('set', { field: 'tunnel.dpdSeconds', value: '30' })), { code: 'invalid', field: 'tunnel.dpdSeconds', message: 'tunnel.dpdSeconds: expected a whole number, got the value "30"' });
    const site = siteConfig({ id: 'branch-100', remote: '203.0.113.10', remoteSubnets: ['10.20.0.0/16'] });
    const invalid = await remoteError(c.request('load', { config: { ...site, lan: { interface: 'eth1', address: '10.1.0.0/24' }, tunnel: { ...(site.tunnel as object), remoteSubnets: ['10.20.0.1/16'] } } }));
    assert.equal(invalid.code, 'invalid');
    assert.deepEqual(invalid.issues?.map((i) => i.field), ['lan.address', 'tunnel.remoteSubnets[0]']);
    const loaded = await c.request<{ sections: string[]; changes: number }>('load', { config: site });
    assert.deepEqual(loaded.sections, ['device', 'lan', 'tunnel']);
    const { changes } = await c.request<{ changes: { field: string }[] }>('diff');
    assert.deepEqual(changes.map((x) => x.field), ['device.id', 'tunnel.remote', 'tunnel.remoteSubnets']);
    const shown = await c.request<{ config: { tunnel: { auth: { psk: string } } } }>('show');
    assert.equal(shown.config.tunnel.auth.psk, '<secret>');

    h.daemon.onApplied = () => queueMicrotask(() => h.daemon.bringUp());
    const events: ConsoleEvent[] = [];
    c.on('event', (e) => events.push(e));
    const id = c.peekId();
    const done = c.waitEvent((e) => e.event === 'progress-done', 10_000);
    const r = await c.request<{ sections: string[]; confirmBy: number }>('commit', { confirmMinutes: 5 });
    assert.deepEqual(r.sections, ['device', 'tunnel']);
    assert.equal(r.confirmBy, h.clock.now() + 5 * 60_000);
    const d = await done as Extract<ConsoleEvent, { event: 'progress-done' }>;
    assert.equal(d.id, id);
    assert.equal(d.ok, true);
    assert.equal(d.tunnelUp, true);
    const steps = events.filter((e) => e.event === 'progress' && e.state !== 'running').map((e) => (e as { step: string }).step);
    assert.deepEqual(steps, ['resolve', 'ike-init', 'auth', 'child', 'probe', 'health']);
    assert.ok(events.every((e) => e.event !== 'progress' || e.id === id));
    await c.request('confirm');
    assert.equal((await c.request<{ pendingConfirm: unknown }>('status')).pendingConfirm, null);
    const stored = JSON.parse(readFileSync(h.configPath, 'utf8'));
    assert.equal(stored.device.id, 'branch-100');
    assert.equal(stored.tunnel.auth.psk, PSK);
    // nothing the console sent contained a secret
    assert.ok(!h.term.buf.includes(PSK));
    assert.ok(!h.term.buf.includes(PIN));
  } finally {
    c.close();
    await h.close();
  }
});

test('a human line in between switches back; JSON after it switches again', async (t) => {
  if (!requireEnv(t, { cmds: ['socat'] })) return;
  const h = await harness({ pinFile: await createPinStateText(PIN, TEST_SCRYPT) });
  const c = client(h);
  try {
    await c.hello();
    h.term.send('help\r');
    await h.term.expect(/outpost:branch-042> $/);
    const r = await c.request<{ mode: string }>('hello');
    assert.equal(r.mode, 'json');
    const m = await c.request<{ mode: string }>('mode', { mode: 'human' });
    assert.equal(m.mode, 'human');
  } finally {
    c.close();
    await h.close();
  }
});
