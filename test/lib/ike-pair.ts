// Two in-process IKE engines wired back to back with a fake clock and a fake network, so whole
// exchanges (and their failures) run deterministically in unit tests.
import { createHash } from 'node:crypto';
import type { Action, ChildSaSpec, Endpoint, IkeEvent } from '../../firmware/ike/actions.ts';
import { IkeEngine } from '../../firmware/ike/engine.ts';
import { identityFromText, type TunnelPolicy } from '../../firmware/ike/policy.ts';
import { parseEspProposals, parseIkeProposals } from '../../firmware/ike/proposal.ts';
import { selectorFromCidr } from '../../firmware/ike/selectors.ts';
import type { Logger } from '../../firmware/log.ts';

export const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

/** A deterministic random source: SHA-256 in counter mode over a seed. */
export function seededRandom(seed: string): (n: number) => Buffer {
  let ctr = 0;
  return (n) => {
    const out = Buffer.alloc(n);
    for (let off = 0; off < n; off += 32) createHash('sha256').update(`${seed}:${ctr++}`).digest().copy(out, off);
    return out;
  };
}

export function policy(over: Partial<TunnelPolicy> & { local?: string; remote?: string; ikeP?: string[]; espP?: string[]; localNet?: string[]; remoteNet?: string[] } = {}): TunnelPolicy {
  const { local = 'branch.example.net', remote = 'hq.example.net', ikeP = ['aes256gcm16-prfsha256-x25519'], espP = ['aes256gcm16'], localNet = ['10.1.0.0/24'], remoteNet = ['10.2.0.0/24'], ...rest } = over;
  return {
    localId: identityFromText(local), remoteId: identityFromText(remote), psk: Buffer.from('correct horse battery staple'),
    ike: parseIkeProposals(ikeP), esp: parseEspProposals(espP),
    localTs: localNet.map(selectorFromCidr), remoteTs: remoteNet.map(selectorFromCidr),
    dpdSeconds: 30, ikeLifetimeSeconds: 14400, childLifetimeSeconds: 3600, forceEncap: true,
    retransmit: { timeoutMs: 1000, base: 2, tries: 3 }, reconnectMinMs: 1000, reconnectMaxMs: 60000,
    cookieThreshold: 10, halfOpenMax: 100, halfOpenTimeoutMs: 30000,
    ...rest,
  };
}

export const A_ADDR = '198.51.100.1';
export const B_ADDR = '198.51.100.2';

interface Side {
  engine: IkeEngine;
  addr: string;
  children: Map<string, ChildSaSpec>;
  events: IkeEvent[];
  actions: Action[];
}

export class IkePair {
  now = 0;
  readonly a: Side;
  readonly b: Side;
  /** Return false to drop a datagram (loss, outage). */
  filter: (d: { from: Endpoint; to: Endpoint; data: Buffer; toSide: 'a' | 'b' }) => boolean = () => true;
  private wire: Array<{ toSide: 'a' | 'b'; from: Endpoint; to: Endpoint; data: Buffer }> = [];
  delivered = 0;

  constructor(pa: TunnelPolicy, pb: TunnelPolicy, roleB: 'initiator' | 'responder' = 'responder') {
    this.a = { engine: new IkeEngine({ role: 'initiator', policy: pa, random: seededRandom('a'), log: quiet }), addr: A_ADDR, children: new Map(), events: [], actions: [] };
    this.b = { engine: new IkeEngine({ role: roleB, policy: pb, random: seededRandom('b'), log: quiet }), addr: B_ADDR, children: new Map(), events: [], actions: [] };
  }

  side(s: 'a' | 'b'): Side { return s === 'a' ? this.a : this.b; }

  apply(s: 'a' | 'b', actions: Action[]): void {
    const side = this.side(s);
    for (const act of actions) {
      side.actions.push(act);
      switch (act.kind) {
        case 'send': {
          const toSide = act.to.address === A_ADDR ? 'a' : 'b';
          this.wire.push({ toSide, from: { address: side.addr, port: act.from.port }, to: act.to, data: act.data });
          break;
        }
        case 'install-child': side.children.set(act.child.spiIn.toString('hex'), act.child); break;
        case 'remove-child': side.children.delete(act.spiIn.toString('hex')); break;
        case 'event': side.events.push(act.event); break;
        case 'connect-due': this.apply(s, side.engine.connect(this.now, { address: side.addr, port: 500 }, { address: s === 'a' ? B_ADDR : A_ADDR, port: 500 })); break;
        case 'update-remote': break;
      }
    }
  }

  /** Delivers datagrams until the wire is quiet. */
  run(limit = 1000): void {
    while (this.wire.length) {
      if (--limit < 0) throw new Error('message storm');
      const d = this.wire.shift()!;
      if (!this.filter(d)) continue;
      this.delivered++;
      this.apply(d.toSide, this.side(d.toSide).engine.receive(this.now, d.data, d.from, d.to));
    }
  }

  start(): void {
    this.apply('a', this.a.engine.start(this.now));
    if (this.b.engine.role === 'initiator') this.apply('b', this.b.engine.start(this.now));
    this.run();
  }

  /** Advances the clock to the next deadline of either side (at most `until`), ticking both. */
  step(until = Infinity): boolean {
    const t = Math.min(this.a.engine.nextDeadline() ?? Infinity, this.b.engine.nextDeadline() ?? Infinity);
    if (t === Infinity || t > until) {
      if (until !== Infinity) this.now = until;
      return false;
    }
    this.now = Math.max(this.now, t);
    this.apply('a', this.a.engine.tick(this.now));
    this.apply('b', this.b.engine.tick(this.now));
    this.run();
    return true;
  }

  /** Runs the clock until `until` (ms). */
  advance(until: number): void {
    let guard = 100000;
    while (this.step(until) && guard-- > 0) { /* keep going */ }
    this.now = Math.max(this.now, until);
    this.apply('a', this.a.engine.tick(this.now));
    this.apply('b', this.b.engine.tick(this.now));
    this.run();
  }
}

/** The CHILD_SA pairs match: every outbound SPI/key of one side is an inbound SPI/key of the other. */
export function mirrored(x: Map<string, ChildSaSpec>, y: Map<string, ChildSaSpec>): boolean {
  if (x.size !== y.size || x.size === 0) return false;
  for (const c of x.values()) {
    const peer = y.get(c.spiOut.toString('hex'));
    if (!peer || !peer.spiOut.equals(c.spiIn) || !peer.keyIn.equals(c.keyOut) || !peer.keyOut.equals(c.keyIn) || peer.aead !== c.aead) return false;
  }
  return true;
}
