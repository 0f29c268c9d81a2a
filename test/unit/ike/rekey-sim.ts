// A simulated network for two IKE engines: 5-40 ms latency per datagram, optional loss, and
// the engines' own timers, run until a number of CHILD rekeys. Used by rekey-soak.test.ts.
import assert from 'node:assert/strict';
import type { Action, ChildSaSpec, Endpoint, IkeEvent } from '../../../firmware/ike/actions.ts';
import { IkeEngine } from '../../../firmware/ike/engine.ts';
import type { Logger } from '../../../firmware/log.ts';
import { policy, seededRandom } from '../../lib/ike-pair.ts';

export interface Side { engine: IkeEngine; addr: string; children: Map<string, ChildSaSpec>; installs: number; removes: number; events: IkeEvent[] }
interface InFlight { at: number; to: 'a' | 'b'; from: Endpoint; dst: Endpoint; data: Buffer }

export function soak(lossPct: number, seed: number, rekeyTarget: number, hqChildLifetime = 3, logs?: { a: Logger; b: Logger; clock?: (now: number) => void; probe?: (now: number, sides: Record<'a' | 'b', Side>) => void }) {
  // Without loggers given, count the engines' log events by name (rekey-collision, retransmit, ...).
  const logCounts: Record<string, number> = {};
  const counting: Logger = { debug: (e) => { logCounts[e] = (logCounts[e] ?? 0) + 1; }, info: (e) => { logCounts[e] = (logCounts[e] ?? 0) + 1; }, warn: (e) => { logCounts[e] = (logCounts[e] ?? 0) + 1; }, error: (e) => { logCounts[e] = (logCounts[e] ?? 0) + 1; }, child: () => counting };
  let r = seed >>> 0;
  const rnd = () => { r = (r + 0x6d2b79f5) >>> 0; let t = r; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  const life = { childLifetimeSeconds: 3, ikeLifetimeSeconds: 60, retransmit: { timeoutMs: 500, base: 1.5, tries: 6 } };
  const sides: Record<'a' | 'b', Side> = {
    a: { engine: new IkeEngine({ role: 'initiator', policy: policy(life), random: seededRandom(`a${seed}`), log: logs?.a ?? counting }), addr: '198.51.100.1', children: new Map(), installs: 0, removes: 0, events: [] },
    b: { engine: new IkeEngine({ role: 'responder', policy: policy({ ...life, childLifetimeSeconds: hqChildLifetime, local: 'hq.example.net', remote: 'branch.example.net', localNet: ['10.2.0.0/24'], remoteNet: ['10.1.0.0/24'] }), random: seededRandom(`b${seed}`), log: logs?.b ?? counting }), addr: '198.51.100.2', children: new Map(), installs: 0, removes: 0, events: [] },
  };
  const wire: InFlight[] = [];
  let now = 0;
  let maxIkeSas = 0, maxChildren = 0, maxWire = 0;
  const apply = (s: 'a' | 'b', actions: Action[]) => {
    const side = sides[s];
    for (const act of actions) {
      if (act.kind === 'send') {
        if (rnd() * 100 < lossPct) continue;
        wire.push({ at: now + 5 + Math.floor(rnd() * 35), to: s === 'a' ? 'b' : 'a', from: { address: side.addr, port: act.from.port }, dst: act.to, data: act.data });
      } else if (act.kind === 'install-child') { side.children.set(act.child.spiIn.toString('hex'), act.child); side.installs++; }
      else if (act.kind === 'remove-child') { if (side.children.delete(act.spiIn.toString('hex'))) side.removes++; }
      else if (act.kind === 'event') side.events.push(act.event);
      else if (act.kind === 'connect-due') apply(s, side.engine.connect(now, { address: side.addr, port: 500 }, { address: sides.b.addr, port: 500 }));
    }
    maxChildren = Math.max(maxChildren, side.children.size);
    maxIkeSas = Math.max(maxIkeSas, side.engine.ikeSas().length);
    maxWire = Math.max(maxWire, wire.length);
  };
  const rekeys = () => sides.a.events.filter((e) => e.type === 'child-up' && e.rekey).length;
  const step = () => {
    wire.sort((x, y) => x.at - y.at);
    const next = Math.min(wire[0]?.at ?? Infinity, sides.a.engine.nextDeadline() ?? Infinity, sides.b.engine.nextDeadline() ?? Infinity);
    assert.ok(Number.isFinite(next), 'nothing left to do: both engines idle');
    now = Math.max(now, next);
    logs?.clock?.(now);
    while (wire.length && wire[0]!.at <= now) { const d = wire.shift()!; apply(d.to, sides[d.to].engine.receive(now, d.data, d.from, d.dst)); }
    apply('a', sides.a.engine.tick(now));
    apply('b', sides.b.engine.tick(now));
    logs?.probe?.(now, sides);
  };
  apply('a', sides.a.engine.start(now));
  let guard = 0;
  while (rekeys() < rekeyTarget) {
    step();
    assert.ok(++guard < 5_000_000, 'runaway simulation');
    assert.ok(now < rekeyTarget * 20_000, `only ${rekeys()} rekeys in ${now / 1000} simulated seconds`);
  }
  // Settle: run on until a moment with nothing in flight and no request pending on either side.
  const until = now + 30_000;
  const quiet_ = () => wire.length === 0 && [sides.a, sides.b].every((s) => s.engine.ikeSas().every((sa) => !sa.pending && sa.queue.length === 0));
  while (!quiet_() && now < until) step();
  return { sides, now, maxIkeSas, maxChildren, maxWire, rekeys: rekeys(), quiet: quiet_(), logCounts };
}

