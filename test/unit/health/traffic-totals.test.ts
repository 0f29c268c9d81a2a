import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrafficAccumulator } from '../../../firmware/health/traffic-totals.ts';

const sa = (spiIn: string, bytesIn: number, bytesOut: number, drops: Record<string, number> = {}) =>
  ({ spiIn, bytesIn, bytesOut, packetsIn: bytesIn / 100, packetsOut: bytesOut / 100, drops });

test('traffic totals: grow with the live SA and keep what a rekeyed SA counted', () => {
  const acc = new TrafficAccumulator();
  assert.deepEqual(acc.update([]), { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, drops: {} });
  assert.equal(acc.update([sa('a', 1000, 500)]).bytesIn, 1000);
  assert.equal(acc.update([sa('a', 3000, 700, { replay: 2 })]).bytesIn, 3000);
  // Rekey: the new SA starts from zero, both exist for a moment, then the old one is gone.
  let t = acc.update([sa('a', 3100, 800, { replay: 2 }), sa('b', 200, 100)]);
  assert.deepEqual([t.bytesIn, t.bytesOut], [3300, 900]);
  t = acc.update([sa('b', 1200, 300, { auth: 1 })]);
  assert.deepEqual(t, { bytesIn: 4300, bytesOut: 1100, packetsIn: 43, packetsOut: 11, drops: { replay: 2, auth: 1 } });
  // Tunnel down: nothing live, totals stay.
  assert.equal(acc.update([]).bytesIn, 4300);
});

test('traffic totals: never decrease over a sequence of rekeys and outages', () => {
  const acc = new TrafficAccumulator();
  let last = 0;
  let spi = 0;
  let live = 0;
  for (let i = 0; i < 200; i++) {
    if (i % 7 === 0) { spi++; live = 0; } // rekey or reconnect: fresh SA
    live += 100 * (i % 5);
    const t = acc.update(i % 11 === 0 ? [] : [sa(`s${spi}`, live, live)]);
    assert.ok(t.bytesIn >= last, `step ${i}: ${t.bytesIn} < ${last}`);
    last = t.bytesIn;
  }
});

test('traffic totals: a reused SPI whose counters went back is a new SA', () => {
  const acc = new TrafficAccumulator();
  acc.update([sa('a', 5000, 0)]);
  assert.equal(acc.update([sa('a', 100, 0)]).bytesIn, 5100);
});

test('traffic totals: drop reasons are bounded and cannot touch the prototype', () => {
  const acc = new TrafficAccumulator();
  const drops: Record<string, number> = JSON.parse('{"__proto__": 5, "constructor": 2}');
  for (let i = 0; i < 100; i++) drops[`r${i}`] = 1;
  const t = acc.update([sa('a', 0, 0, drops)]);
  assert.ok(Object.keys(t.drops).length <= 32);
  assert.equal(Object.getPrototypeOf(t.drops), Object.prototype);
  assert.equal(t.drops.constructor, 2);
});
