// Seeded, bounded fuzz of the console's parsers and of the whole console fed random input:
// never a throw or a hang, lines within the bound, every machine response valid JSON, the stored
// config always loadable, no secret ever written to the line.
// FUZZ_ITERATIONS (default 2000) scales the loops; FUZZ_SEED reproduces a run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineDecoder, type InputEvent } from '../../provisioning/line-decoder.ts';
import { parseRequest } from '../../provisioning/protocol.ts';
import { splitWords } from '../../provisioning/words.ts';
import { secretPrefix } from '../../provisioning/commands/index.ts';
import { ProvisioningConsole } from '../../provisioning/console.ts';
import { createPinStateText } from '../../provisioning/pin.ts';
import { FIELDS } from '../../provisioning/fields.ts';
import { loadConfig } from '../../firmware/config/store.ts';
import { FakeClock, FakeDaemon, PIN, PSK, prng, resolve, settle, siteConfig, TEST_SCRYPT, type Rng } from '../unit/provisioning/helpers.ts';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 2000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x5e71a1);
const SPECIAL = [0x0d, 0x0a, 0x7f, 0x08, 0x03, 0x15, 0x1b, 0x5b, 0x7b, 0x22, 0x20, 0x09, 0x00, 0xff, 0xc3, 0xa9, 0x80];

function noisyBytes(r: Rng, n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, () => (r.next() < 0.3 ? r.pick(SPECIAL) : r.next() < 0.6 ? 0x20 + r.int(95) : r.int(256))));
}

test('line decoder: any bytes, any chunking: no throw, lines within the bound, bounded echo', () => {
  const r = prng(SEED);
  for (let i = 0; i < ITERATIONS; i++) {
    const max = 16 + r.int(200);
    const interactive = r.next() < 0.5;
    const events: InputEvent[] = [];
    let echo = 0;
    const d = new LineDecoder({ maxLineBytes: max, interactive, secretPrefix }, { event: (e) => { events.push(e); if (r.next() < 0.1) d.hidden = !d.hidden; }, echo: (b) => { echo += b.length; } });
    const input = noisyBytes(r, r.int(2000));
    let at = 0;
    while (at < input.length) {
      const n = 1 + r.int(300);
      d.push(input.subarray(at, at + n));
      at += n;
    }
    for (const e of events) {
      if (e.kind === 'line') {
        assert.ok(Buffer.byteLength(e.text) <= max, `seed ${SEED} iteration ${i}: line over the bound`);
        assert.ok(!/[\r\n]/.test(e.text));
        if (!interactive || e.json) assert.ok(!/[\u0000-\u001f\u007f]/.test(e.text), 'control characters in a machine line');
      }
    }
    if (!interactive) assert.equal(echo, 0);
    assert.ok(echo <= input.length * 4 + 4, `echo ${echo} for ${input.length} bytes`);
  }
});

test('line decoder: clean ASCII lines come out exactly as sent, however they are split', () => {
  const r = prng(SEED + 1);
  for (let i = 0; i < ITERATIONS; i++) {
    const lines = Array.from({ length: 1 + r.int(8) }, () => Array.from({ length: 1 + r.int(40) }, () => String.fromCharCode(0x21 + r.int(94))).join(''));
    const ends = ['\r', '\n', '\r\n'];
    const text = lines.map((l) => l + r.pick(ends)).join('');
    const got: string[] = [];
    const d = new LineDecoder({ maxLineBytes: 64, interactive: false }, { event: (e) => { if (e.kind === 'line') got.push(e.text); }, echo: () => {} });
    const buf = Buffer.from(text);
    let at = 0;
    while (at < buf.length) { const n = 1 + r.int(10); d.push(buf.subarray(at, at + n)); at += n; }
    assert.deepEqual(got, lines);
  }
});

test('machine requests: any text parses to a request or a typed error, never a throw', () => {
  const r = prng(SEED + 2);
  const valid = ['{"id":1,"cmd":"status"}', '{"id":"x","cmd":"set","field":"tunnel.remote","value":"hq"}', '{"cmd":"load","config":{"device":{"id":"a"}}}'];
  const codes = new Set(['bad-json', 'bad-request']);
  for (let i = 0; i < ITERATIONS; i++) {
    let s = r.pick(valid);
    const muts = r.int(6);
    for (let m = 0; m < muts; m++) {
      const at = r.int(s.length + 1);
      const op = r.int(3);
      const piece = r.next() < 0.5 ? r.pick(['{', '}', '[', ']', '"', ',', ':', '\\', 'null', '1e999', '"__proto__"', '\u0000', '\ud800', '[[[[[[[[', '"id"', '"cmd"']) : String.fromCharCode(r.int(0x3000));
      s = op === 0 ? s.slice(0, at) + piece + s.slice(at) : op === 1 ? s.slice(0, at) + s.slice(at + 1 + r.int(5)) : s.slice(0, at) + piece + s.slice(at + 1);
    }
    if (r.next() < 0.05) s = '['.repeat(10_000);
    const p = parseRequest(s);
    if (p.ok) {
      assert.equal(typeof p.req.cmd, 'string');
      assert.ok(p.req.cmd.length >= 1 && p.req.cmd.length <= 32);
      assert.ok(p.req.id === null || typeof p.req.id === 'string' || Number.isSafeInteger(p.req.id));
      assert.equal(Object.getPrototypeOf(p.req.params), Object.prototype);
    } else {
      assert.ok(codes.has(p.error.code), p.error.code);
    }
  }
});

test('words: no throw; without quotes, exactly the whitespace-separated pieces', () => {
  const r = prng(SEED + 3);
  for (let i = 0; i < ITERATIONS; i++) {
    const s = Array.from({ length: r.int(60) }, () => r.pick([' ', '\t', 'a', 'b', '"', "'", '\\', '=', ','])).join('');
    const w = splitWords(s);
    if (!s.includes('"') && !s.includes("'")) assert.deepEqual(w, { ok: true, words: s.split(/[ \t]+/).filter(Boolean) });
    else assert.ok(w.ok || w.column >= 1);
  }
});

const VOCAB = ['help', 'info', 'status', 'show', 'show running json', 'diff', 'validate', 'rollback', 'rollback previous', 'commit', 'commit confirmed 1', 'confirm', 'watch', 'logout', 'key generate', 'mode json', 'mode human', 'unset health', 'pin set', 'login', 'factory-reset'];

function randomLine(r: Rng): Buffer {
  const k = r.next();
  if (k < 0.35) {
    const f = r.pick(FIELDS);
    if (f.secret) return Buffer.from(`set ${f.path} ${r.pick([PSK, 'short', ''])}\r`);
    const vals = ['10.2.0.0/16', '10.9.0.1/24', '%any', 'hq.example.net', '203.0.113.5', '30', '-1', 'x'.repeat(r.int(300)), '"quoted value"', '["10.2.0.0/16"]', '/etc/outpost/a.pem', 'mqtt://10.0.0.1', ''];
    return Buffer.from(`set ${f.path} ${r.pick(vals)}\r`);
  }
  if (k < 0.6) return Buffer.from(`${r.pick(VOCAB)}\r`);
  if (k < 0.8) {
    const f = r.pick(FIELDS);
    const value = f.secret ? PSK : r.pick<unknown>([1, 'a', ['10.3.0.0/16'], null, { x: 1 }, 99999999999999, 'hq.example.net']);
    const cmd = r.pick(['set', 'unset', 'show', 'commit', 'load', 'hello', 'nope', 'login', 'diff']);
    const req = cmd === 'load' ? { id: r.int(1000), cmd, config: r.next() < 0.5 ? siteConfig({ id: `f${r.int(99)}` }) : { device: f.secret ? 1 : value } } : { id: r.int(1000), cmd, field: f.path, value };
    return Buffer.from('\x15' + JSON.stringify(req) + r.pick(['\n', '\r\n', '\r'])); // as the tool sends it
  }
  return Buffer.concat([noisyBytes(r, r.int(400)), Buffer.from('\r')]);
}

test('the whole console fed random lines: stays consistent and responsive, never leaks a secret', async () => {
  const r = prng(SEED + 4);
  const dir = mkdtempSync(join(tmpdir(), 'outpost-console-fuzz-'));
  try {
    const configPath = join(dir, 'outpost.json');
    writeFileSync(configPath, JSON.stringify(siteConfig()), { mode: 0o600 });
    writeFileSync(`${configPath}.pin`, await createPinStateText(PIN, TEST_SCRYPT), { mode: 0o600 });
    writeFileSync(`${configPath}.factory`, JSON.stringify(siteConfig({ id: 'factory' })), { mode: 0o600 });
    const clock = new FakeClock();
    const daemon = new FakeDaemon(resolve(siteConfig()));
    const c = new ProvisioningConsole({ configPath, daemon, firmwareVersion: 'fuzz', clock, scrypt: TEST_SCRYPT, maxLineBytes: 4096, progress: { probe: async () => true }, deviceInfo: { root: dir } });
    await c.init();
    let out = '';
    c.attach((d) => { out += d.toString('latin1'); });
    c.input(Buffer.from(`login ${PIN}\r`));
    const lines = Math.max(50, Math.floor(ITERATIONS / 5));
    for (let i = 0; i < lines; i++) {
      c.input(randomLine(r));
      if (r.next() < 0.1) await c.idle();
      if (r.next() < 0.02) await clock.advance(r.int(3) * 60_000);
      if (r.next() < 0.05) c.input(Buffer.from(`login ${PIN}\r`));
      if (r.next() < 0.05) daemon.bringUp();
    }
    await c.idle();
    await clock.advance(10 * 60_000);
    await settle();
    await c.idle();
    const before = out.length;
    c.input(Buffer.from('{"id":"last","cmd":"hello"}\n'));
    await c.idle();
    assert.match(out.slice(before), /\{"id":"last","ok":true,"result":\{"protocol":1/);
    const stored = await loadConfig(configPath);
    assert.equal(stored.source, 'main');
    for (const l of out.split('\n')) {
      const at = l.indexOf('{"');
      if (at >= 0 && /"(ok|event)":/.test(l)) JSON.parse(l.slice(at).replace(/\r$/, ''));
    }
    const leak = out.indexOf(PSK);
    assert.ok(leak < 0, `the PSK reached the line: ${JSON.stringify(out.slice(Math.max(0, leak - 300), leak + 60))}`);
    assert.ok(!out.includes(PIN), 'the PIN reached the line');
    assert.ok(daemon.applied.every((cfg) => cfg.device.id.length > 0));
    await c.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
