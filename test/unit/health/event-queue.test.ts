import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventQueue } from '../../../firmware/health/event-queue.ts';

test('event queue: FIFO with increasing seq numbers from 1', () => {
  const q = new EventQueue<string>(4);
  assert.deepEqual(['a', 'b', 'c'].map((x) => q.push(x)), [1, 2, 3]);
  assert.equal(q.size, 3);
  assert.deepEqual(q.list().map((e) => e.item), ['a', 'b', 'c']);
  assert.equal(q.firstFrom(0)?.item, 'a');
  assert.equal(q.firstFrom(2)?.item, 'b');
  assert.equal(q.firstFrom(4), undefined);
  assert.equal(q.dropped, 0);
});

test('event queue: past capacity the oldest goes and is counted; memory stays bounded', () => {
  const q = new EventQueue<number>(3);
  for (let i = 1; i <= 10; i++) q.push(i);
  assert.equal(q.size, 3);
  assert.equal(q.dropped, 7);
  assert.deepEqual(q.list().map((e) => [e.seq, e.item]), [[8, 8], [9, 9], [10, 10]]);
  // A sender whose cursor points at a dropped entry continues with the oldest kept one.
  assert.equal(q.firstFrom(2)?.seq, 8);
  for (let i = 0; i < 100_000; i++) q.push(i);
  assert.equal(q.size, 3);
  assert.equal(q.dropped, 100_007);
});

test('event queue: entries leave on ack, in any order; an ack for a dropped entry is harmless', () => {
  const q = new EventQueue<string>(2);
  const a = q.push('a');
  const b = q.push('b');
  assert.equal(q.remove(b), true);
  assert.deepEqual(q.list().map((e) => e.item), ['a']);
  q.push('c');
  q.push('d'); // drops 'a' while it is (say) in flight
  assert.equal(q.dropped, 1);
  assert.equal(q.remove(a), false);
  assert.deepEqual(q.list().map((e) => e.item), ['c', 'd']);
  assert.equal(q.remove(999), false);
});

test('event queue: capacity must be a positive integer', () => {
  assert.throws(() => new EventQueue(0), RangeError);
  assert.throws(() => new EventQueue(1.5), RangeError);
});
