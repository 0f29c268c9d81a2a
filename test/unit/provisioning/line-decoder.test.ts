// The serial line decoder: line ends, editing, echo, secrets, and its bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineDecoder, type InputEvent } from '../../../provisioning/line-decoder.ts';
import { secretPrefix } from '../../../provisioning/commands/index.ts';

function run(chunks: (string | Buffer)[], opts: { interactive?: boolean; max?: number } = {}): { events: InputEvent[]; echo: string; d: LineDecoder } {
  const events: InputEvent[] = [];
  let echo = '';
  const d = new LineDecoder({ maxLineBytes: opts.max ?? 64, interactive: opts.interactive ?? true, secretPrefix }, {
    event: (e) => events.push(e),
    echo: (b) => { echo += b.toString('latin1'); },
  });
  for (const c of chunks) d.push(typeof c === 'string' ? Buffer.from(c, 'latin1') : c);
  return { events, echo, d };
}

const lines = (ev: InputEvent[]) => ev.filter((e) => e.kind === 'line').map((e) => (e as { text: string }).text);

test('CR, LF and CR LF each end one line; a line split over chunks is one line', () => {
  const { events } = run(['sh', 'ow\r', 'status\n', 'info\r\n', 'help\r', '\ndiff\n'], { interactive: false });
  assert.deepEqual(lines(events), ['show', 'status', 'info', 'help', 'diff']);
});

test('interactive: typed characters are echoed, Enter echoes CR LF, empty lines are reported (for the prompt)', () => {
  const { events, echo } = run(['abc\r', '\r']);
  assert.deepEqual(lines(events), ['abc', '']);
  assert.equal(echo, 'abc\r\n\r\n');
});

test('backspace and DEL erase one character, on screen too; Ctrl-U erases the line', () => {
  const { events, echo } = run(['shox\x7fw\r', 'statux\bs\r', 'garbage\x15info\r']);
  assert.deepEqual(lines(events), ['show', 'status', 'info']);
  assert.ok(echo.startsWith('shox\b \bw\r\n'));
  assert.ok(echo.includes('garbage' + '\b \b'.repeat(7) + 'info'));
});

test('backspace removes a whole UTF-8 character', () => {
  const { events } = run([Buffer.concat([Buffer.from('set x Zür'), Buffer.from([0x7f]), Buffer.from('\r')])]);
  assert.deepEqual(lines(events), ['set x Zü']);
});

test('Ctrl-C drops the line and reports an interrupt', () => {
  const { events, echo } = run(['commit\x03', 'status\r']);
  assert.deepEqual(events.map((e) => e.kind), ['interrupt', 'line']);
  assert.deepEqual(lines(events), ['status']);
  assert.match(echo, /\^C\r\n/);
});

test('terminal escape sequences (arrow keys) are swallowed', () => {
  const { events } = run(['sta\x1b[Atus\x1b[1;5C\x1bOA\r']);
  assert.deepEqual(lines(events), ['status']);
});

test('a line starting with "{" is a machine line: not echoed, marked json', () => {
  const { events, echo } = run(['{"cmd":"status"}\r\n', 'help\r']);
  assert.deepEqual(events, [{ kind: 'line', text: '{"cmd":"status"}', json: true }, { kind: 'line', text: 'help', json: false }]);
  assert.equal(echo, 'help\r\n');
});

test('the rest of "login ..." and "set tunnel.auth.psk ..." is not echoed', () => {
  const { events, echo } = run(['login 482913\r', 'set tunnel.auth.psk s3cret-value-here\r', 'set health.password hunter22\r', 'set tunnel.remote hq\r']);
  assert.deepEqual(lines(events), ['login 482913', 'set tunnel.auth.psk s3cret-value-here', 'set health.password hunter22', 'set tunnel.remote hq']);
  assert.ok(!echo.includes('482913'));
  assert.ok(!echo.includes('s3cret'));
  assert.ok(!echo.includes('hunter22'));
  assert.ok(echo.includes('set tunnel.remote hq'));
});

test('hidden: whole lines are not echoed while a secret prompt waits', () => {
  const events: InputEvent[] = [];
  let echo = '';
  const d = new LineDecoder({ maxLineBytes: 64, interactive: true }, { event: (e) => { events.push(e); d.hidden = false; }, echo: (b) => { echo += b.toString(); } });
  d.hidden = true;
  d.push(Buffer.from('topsecret\rvisible\r'));
  assert.deepEqual(lines(events), ['topsecret', 'visible']);
  assert.ok(!echo.includes('topsecret'));
  assert.ok(echo.includes('visible'));
});

test('a line over the limit is discarded whole and reported with its length once it ends', () => {
  const { events } = run(['x'.repeat(100), 'y'.repeat(100), '\r', 'ok\r'], { max: 64 });
  assert.deepEqual(events[0], { kind: 'too-long', bytes: 200, json: false });
  assert.deepEqual(lines(events), ['ok']);
});

test('bytes that are not UTF-8 text make the line "not-text"; control bytes in machine lines too', () => {
  const { events } = run([Buffer.from([0xff, 0xfe, 0x80, 0x0d]), '{"a":\x01}\r', 'fine\r']);
  assert.deepEqual(events.map((e) => e.kind), ['not-text', 'not-text', 'line']);
  assert.equal((events[0] as { bytes: number }).bytes, 3);
});

test('raw mode (the tool): no echo, no editing, blank lines dropped', () => {
  const { events, echo } = run(['\r\n\r\n{"id":1}\n', 'a\bb\n'], { interactive: false });
  assert.equal(echo, '');
  assert.deepEqual(events.map((e) => e.kind), ['line', 'not-text']);
});

test('pendingEcho gives what is on screen of the line being typed (secrets left out)', () => {
  const a = run(['set tunnel.rem']);
  assert.equal(a.d.pendingEcho(), 'set tunnel.rem');
  const b = run(['login 1234']);
  assert.equal(b.d.pendingEcho(), 'login ');
});

test('reset forgets a partial line', () => {
  const { d, events } = run(['partial-comm']);
  d.reset();
  d.push(Buffer.from('status\r'));
  assert.deepEqual(lines(events), ['status']);
});

test('echo stops at the first byte that cannot be UTF-8 (noise): nothing after it goes back', () => {
  const { echo, events } = run([Buffer.from([0x61, 0x62, 0xff]), 'set tunnel.auth.psk x-secret\r']);
  assert.equal(echo, 'ab\r\n');
  assert.equal(events[0]!.kind, 'not-text');
});

test('Ctrl-U before a request drops noise pending on the line, so the request is not echoed', () => {
  const { echo, events } = run(['noise-without-end', '\x15{"id":1,"cmd":"load","config":{"psk":"x-secret"}}\n', '{"partial', '\x15{"id":2}\n']);
  assert.ok(!echo.includes('x-secret'));
  assert.ok(!echo.includes('{'));
  assert.deepEqual(events.map((e) => e.kind === 'line' && e.json), [true, true]);
  assert.deepEqual(lines(events), ['{"id":1,"cmd":"load","config":{"psk":"x-secret"}}', '{"id":2}']);
});
