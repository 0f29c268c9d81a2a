import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../../../firmware/health/backoff.ts';

/** A seeded PRNG (mulberry32) so the jitter is reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('backoff: doubles from min to max; each delay is in the upper half of its step', () => {
  const b = new Backoff({ minMs: 1000, maxMs: 16_000, random: seeded(1) });
  const steps = [1000, 2000, 4000, 8000, 16_000, 16_000, 16_000];
  for (const step of steps) {
    const d = b.next();
    assert.ok(d >= step / 2 && d <= step, `${d} within [${step / 2}, ${step}]`);
  }
});

test('backoff: the extremes of the jitter are reachable and exact', () => {
  assert.deepEqual([0, 1, 2].map(() => new Backoff({ minMs: 1000, maxMs: 1000, random: () => 0 }).next()), [500, 500, 500]);
  const hi = new Backoff({ minMs: 1000, maxMs: 4000, random: () => 0.999999 });
  assert.deepEqual([hi.next(), hi.next(), hi.next(), hi.next()], [1000, 2000, 4000, 4000]);
});

test('backoff: jitter spreads a fleet out (different random draws give different delays)', () => {
  const delays = new Set<number>();
  const r = seeded(42);
  for (let i = 0; i < 50; i++) delays.add(new Backoff({ minMs: 8000, maxMs: 60_000, random: r }).next());
  assert.ok(delays.size > 40, `only ${delays.size} distinct delays out of 50`);
});

test('backoff: reset after a working connection starts again from min', () => {
  const b = new Backoff({ minMs: 100, maxMs: 10_000, random: () => 0.999999 });
  b.next(); b.next(); b.next();
  assert.equal(b.next(), 800);
  b.reset();
  assert.equal(b.next(), 100);
});

test('backoff: rejects nonsense bounds', () => {
  assert.throws(() => new Backoff({ minMs: 0, maxMs: 10 }), RangeError);
  assert.throws(() => new Backoff({ minMs: 10, maxMs: 5 }), RangeError);
});
