// NAT keepalives with injected timers: sent to each peer behind NAT per tick, one timer for all,
// stopped when no peer needs them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_KEEPALIVE_MS, NatKeepalive, type IntervalTimers } from '../../../firmware/gateway/keepalive.ts';
import type { Endpoint } from '../../../firmware/ike/actions.ts';

class FakeTimers implements IntervalTimers {
  active = new Map<number, { fn: () => void; ms: number }>();
  private next = 1;
  setInterval(fn: () => void, ms: number): unknown { const h = this.next++; this.active.set(h, { fn, ms }); return h; }
  clearInterval(h: unknown): void { this.active.delete(h as number); }
  tick(): void { for (const t of [...this.active.values()]) t.fn(); }
}

test('keepalives go to every peer behind NAT on each tick, at the default 20 s interval', () => {
  const timers = new FakeTimers(), sent: Endpoint[] = [];
  const k = new NatKeepalive((to) => sent.push(to), { timers });
  assert.equal(timers.active.size, 0, 'no timer before anyone needs it');
  k.set('ike-a', { address: '192.0.2.1', port: 4500 }, true);
  k.set('ike-b', { address: '192.0.2.2', port: 4500 }, false);
  assert.equal(timers.active.size, 1);
  assert.equal([...timers.active.values()][0]!.ms, DEFAULT_KEEPALIVE_MS);
  assert.equal(DEFAULT_KEEPALIVE_MS, 20_000);
  timers.tick();
  assert.deepEqual(sent.splice(0), [{ address: '192.0.2.1', port: 4500 }]);
  k.set('ike-b', { address: '192.0.2.2', port: 4500 }, true);
  k.updateRemote('ike-a', { address: '203.0.113.5', port: 40000 });
  k.updateRemote('ike-c', { address: '203.0.113.6', port: 1 }); // not enabled: ignored
  timers.tick();
  assert.deepEqual(sent.splice(0), [{ address: '203.0.113.5', port: 40000 }, { address: '192.0.2.2', port: 4500 }]);
  assert.equal(timers.active.size, 1, 'still one timer');
  assert.deepEqual(k.targets().length, 2);
});

test('the timer stops when no peer needs keepalives, and close() stops everything', () => {
  const timers = new FakeTimers(), sent: Endpoint[] = [];
  const k = new NatKeepalive((to) => sent.push(to), { timers, intervalMs: 5000 });
  k.set('a', { address: '192.0.2.1', port: 4500 }, true);
  k.set('a', { address: '192.0.2.1', port: 4500 }, false);
  assert.equal(timers.active.size, 0);
  k.set('a', { address: '192.0.2.1', port: 4500 }, true);
  k.set('b', { address: '192.0.2.2', port: 4500 }, true);
  k.remove('a');
  assert.equal(timers.active.size, 1);
  timers.tick();
  assert.deepEqual(sent, [{ address: '192.0.2.2', port: 4500 }]);
  k.close();
  assert.equal(timers.active.size, 0);
  assert.deepEqual(k.targets(), []);
  assert.throws(() => new NatKeepalive(() => {}, { intervalMs: 0 }), RangeError);
});
