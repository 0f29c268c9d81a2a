import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJsonText } from '../../../firmware/config/json.ts';

function err(text: string) {
  const r = parseJsonText(text);
  if (r.ok) assert.fail(`expected a parse error for ${JSON.stringify(text)}`);
  return r;
}

test('valid JSON parses to the same value as JSON.parse', () => {
  const samples = [
    '{"a":1,"b":[true,false,null],"c":"x\\u00e9\\n\\"","d":-1.5e3,"e":{}}',
    '[]', '0', '"s"', ' \n{ "k" : [ 1 , 2 ] }\n', '\ufeff{"bom":1}',
  ];
  for (const s of samples) {
    const r = parseJsonText(s);
    assert.ok(r.ok, s);
    if (r.ok) assert.deepEqual(r.value, JSON.parse(s.replace(/^\ufeff/, '')));
  }
});

test('errors carry line and column and name the mistake', () => {
  const text = '{\n  "device": { "id": "b" },\n  "lan": { "interface": "eth1", },\n}\n';
  const e = err(text);
  assert.deepEqual([e.line, e.column], [3, 33]);
  assert.match(e.message, /trailing comma before "}"/);

  const cases: Array<[string, number, number, RegExp]> = [
    ['{"a": 1 "b": 2}', 1, 9, /missing comma between fields/],
    ['{\n  // note\n  "a": 1}', 2, 3, /comments are not allowed/],
    ["{'a': 1}", 1, 2, /double quotes/],
    ['{"a": yes}', 1, 7, /unexpected word "yes": text values need double quotes/],
    ['{"a": 1, "a": 2}', 1, 10, /duplicate key "a"/],
    ['{"a": "x\ny"}', 1, 9, /line break inside quotes/],
    ['{"a": "x', 1, 7, /unterminated string/],
    ['{"a": 01}', 1, 7, /leading zeros/],
    ['{"a": [1 2]}', 1, 10, /missing comma between list items/],
    ['{"a": 1}}', 1, 9, /after the end of the JSON value/],
    ['', 1, 1, /empty/],
    ['{"a": "\\x"}', 1, 8, /invalid escape/],
    ['{"a": 1e999}', 1, 7, /too large/],
  ];
  for (const [t, line, col, re] of cases) {
    const r = err(t);
    assert.deepEqual([r.line, r.column], [line, col], `${JSON.stringify(t)}: ${r.message}`);
    assert.match(r.message, re, JSON.stringify(t));
  }
});

test('nesting depth is bounded, and __proto__ stays an ordinary key', () => {
  assert.match(err('['.repeat(100000)).message, /nested deeper than 64/);
  const r = parseJsonText('{"__proto__": {"polluted": 1}}');
  assert.ok(r.ok);
  if (r.ok) {
    assert.equal(Object.getPrototypeOf(r.value), Object.prototype);
    assert.deepEqual(Object.keys(r.value as object), ['__proto__']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  }
});
