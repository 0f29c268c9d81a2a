// Splitting human console lines into words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitWords } from '../../../provisioning/words.ts';

test('whitespace separates words; runs of spaces and tabs count once', () => {
  assert.deepEqual(splitWords('  set\ttunnel.remote   hq.example.net '), { ok: true, words: ['set', 'tunnel.remote', 'hq.example.net'] });
  assert.deepEqual(splitWords(''), { ok: true, words: [] });
});

test('double quotes keep spaces and take \\" and \\\\; single quotes are literal; parts join', () => {
  assert.deepEqual(splitWords('set tunnel.localId "CN=branch 42, O=\\"Ex\\\\ample\\""'), { ok: true, words: ['set', 'tunnel.localId', 'CN=branch 42, O="Ex\\ample"'] });
  assert.deepEqual(splitWords("a 'b \\c' d\"e f\"g"), { ok: true, words: ['a', 'b \\c', 'de fg'] });
  assert.deepEqual(splitWords('x ""'), { ok: true, words: ['x', ''] });
});

test('an unclosed quote is an error with its column', () => {
  assert.deepEqual(splitWords('set a "open'), { ok: false, message: 'a double quote (") is not closed', column: 7 });
  assert.equal(splitWords("set 'x").ok, false);
});

test('the number of words is bounded', () => {
  const r = splitWords('w '.repeat(300), 256);
  assert.equal(r.ok, false);
});

test('nothing is expanded: $, ;, | and backticks are plain characters', () => {
  assert.deepEqual(splitWords('set device.id $(reboot);|`x`'), { ok: true, words: ['set', 'device.id', '$(reboot);|`x`'] });
});
