// Random and mutated configs into validateConfig (and random text into the JSON parser): never a
// throw, every issue names a path, a valid result re-validates to itself, and the PSK is never
// echoed. Bounded: FUZZ_ITERATIONS (default 3000) per property, FUZZ_SEED to reproduce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../firmware/config/validate.ts';
import { parseJsonText } from '../../firmware/config/json.ts';
import { exampleConfig } from '../unit/config/fixtures.ts';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 3000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x0c0ff1c);

/** mulberry32: small, seedable, good enough to drive a fuzzer. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof prng>;

const INTERESTING_STRINGS = [
  '', ' ', '%any', '%ANY', '0.0.0.0/0', '::/0', '10.1.0.1/24', '10.1.0.0/24', '10.2.0.0/33', '256.0.0.0/8', '::ffff:1.2.3.4/128',
  '2001:db8::/32', 'fe80::1%eth0', 'hq.example.net', 'CN=x,O=y', 'CN=', 'a@b', '@', 'mqtt://', 'mqtts://[::1]:0', 'mqtts://h:65536',
  '/dev/serial0', 'relative/path', '-----BEGIN PRIVATE KEY-----', '\u0000', '\ud800', 'a+b#c/d', 'aes256gcm16', 'bogus-x25519',
  '__proto__', 'constructor', 'x'.repeat(5000), '1e999', 'null', 'eth0:1',
];
const KEYS = ['device', 'lan', 'tunnel', 'health', 'console', 'id', 'interface', 'address', 'remote', 'localId', 'remoteId', 'auth',
  'psk', 'key', 'cert', 'ca', 'crl', 'localSubnets', 'remoteSubnets', 'ike', 'esp', 'dpdSeconds', 'ikeLifetimeSeconds',
  'childLifetimeSeconds', 'broker', 'intervalSeconds', 'username', 'password', 'path', 'baudRate', '__proto__', 'toString', 'x'];

function randomString(r: Rng): string {
  if (r.next() < 0.5) return r.pick(INTERESTING_STRINGS);
  const n = r.int(24);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(r.next() < 0.8 ? 0x20 + r.int(95) : r.int(0x10000));
  return s;
}

function randomValue(r: Rng, depth: number): unknown {
  const k = r.int(depth > 3 ? 5 : 8);
  switch (k) {
    case 0: return null;
    case 1: return r.next() < 0.5;
    case 2: return r.pick([0, -1, 1, 5, 30, 3600, 3601, 14400, 115200, 1.5, 1e308, -0, 2 ** 53, Number.MAX_SAFE_INTEGER]);
    case 3: case 4: return randomString(r);
    case 5: return Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(5); i > 0; i--) Object.defineProperty(o, r.pick(KEYS), { value: randomValue(r, depth + 1), enumerable: true, configurable: true, writable: true });
      return o;
    }
  }
}

/** Mutates one spot of a config-shaped value: replace, delete, rename, or wrap. */
function mutate(r: Rng, v: unknown, depth = 0): unknown {
  if (v === null || typeof v !== 'object' || r.next() < 0.15 * depth) return r.next() < 0.7 ? randomValue(r, depth) : v;
  if (Array.isArray(v)) {
    const a = v.slice();
    const op = r.int(3);
    if (op === 0 && a.length) a[r.int(a.length)] = mutate(r, a[r.int(a.length)], depth + 1);
    else if (op === 1) a.push(randomValue(r, depth + 1));
    else if (a.length) a.splice(r.int(a.length), 1);
    return a;
  }
  const o: Record<string, unknown> = { ...(v as Record<string, unknown>) };
  const keys = Object.keys(o);
  const op = r.int(4);
  if (op === 0 && keys.length) delete o[r.pick(keys)];
  else if (op === 1 && keys.length) { const k = r.pick(keys); const x = o[k]; delete o[k]; o[k + r.pick(['s', '_', 'X', ''])] = x; }
  else if (op === 2) Object.defineProperty(o, r.pick(KEYS), { value: randomValue(r, depth + 1), enumerable: true, configurable: true, writable: true });
  else if (keys.length) { const k = r.pick(keys); o[k] = mutate(r, o[k], depth + 1); }
  return o;
}

function checkResult(input: unknown, label: string, psk?: string): void {
  let res;
  try {
    res = validateConfig(input);
  } catch (e) {
    assert.fail(`${label}: validateConfig threw ${(e as Error).stack}\ninput: ${JSON.stringify(input)?.slice(0, 2000)}`);
  }
  for (const i of [...(res.ok ? [] : res.errors), ...res.warnings]) {
    assert.equal(typeof i.path, 'string', label);
    assert.ok(i.path.length > 0, `${label}: empty path`);
    assert.ok(typeof i.message === 'string' && i.message.length > 0, `${label}: empty message`);
    assert.ok(i.message.length < 2000, `${label}: unbounded message`);
  }
  if (res.ok) {
    const again = validateConfig(JSON.parse(JSON.stringify(res.config)));
    assert.ok(again.ok, `${label}: resolved config does not re-validate: ${JSON.stringify(again)}`);
    assert.deepEqual(again.config, res.config, label);
  } else {
    assert.ok(res.errors.length > 0, `${label}: not ok but no errors`);
    if (psk && psk.length >= 6) assert.ok(!JSON.stringify(res).includes(psk), `${label}: PSK echoed`);
  }
}

test(`validateConfig on random JSON values (${ITERATIONS} iterations, seed ${SEED})`, () => {
  const r = prng(SEED);
  for (let i = 0; i < ITERATIONS; i++) checkResult(randomValue(r, 0), `random #${i}`);
});

test(`validateConfig on mutated valid configs (${ITERATIONS} iterations, seed ${SEED})`, () => {
  const r = prng(SEED + 1);
  let valid = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    let v: unknown = exampleConfig();
    const secret = `psk-${i}-${r.int(1e9)}`;
    if (r.next() < 0.3) (v as any).tunnel.auth.psk = r.next() < 0.5 ? secret.slice(0, 7) : secret;
    for (let m = 1 + r.int(3); m > 0; m--) v = mutate(r, v);
    checkResult(v, `mutated #${i}`, secret);
    if (validateConfig(v).ok) valid++;
  }
  assert.ok(valid > 0, 'some mutations keep the config valid (the fuzzer reaches the success path)');
});

test(`parseJsonText on random and mutated text (${ITERATIONS} iterations, seed ${SEED})`, () => {
  const r = prng(SEED + 2);
  const base = JSON.stringify(exampleConfig(), null, 2);
  for (let i = 0; i < ITERATIONS; i++) {
    let t = base;
    for (let m = 1 + r.int(4); m > 0; m--) {
      const at = r.int(t.length + 1);
      const op = r.int(3);
      if (op === 0) t = t.slice(0, at) + t.slice(at + 1 + r.int(8));
      else if (op === 1) t = t.slice(0, at) + r.pick(['{', '}', '[', ']', ',', ':', '"', '\\', '\n', '//', "'", '0', '-', 'e', 'x', '\u0000']) + t.slice(at);
      else t = t.slice(0, at);
    }
    let res;
    try {
      res = parseJsonText(t);
    } catch (e) {
      assert.fail(`#${i}: parseJsonText threw ${(e as Error).message}\n${t}`);
    }
    let native: unknown;
    let nativeOk = true;
    try { native = JSON.parse(t); } catch { nativeOk = false; }
    // Stricter than JSON.parse only for duplicate keys and numbers that overflow to Infinity.
    if (res.ok) {
      assert.ok(nativeOk, `#${i}: accepted what JSON.parse rejects:\n${t}`);
      assert.deepEqual(res.value, native);
    } else if (nativeOk) {
      assert.match(res.message, /duplicate key|number is too large/, `#${i}: rejected valid JSON: ${res.message}\n${t}`);
    } else {
      assert.ok(res.line >= 1 && res.column >= 1);
    }
  }
});
