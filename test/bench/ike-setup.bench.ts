// IKE setup cost in-process: IKE_SA_INIT + IKE_AUTH + first CHILD_SA between two Outpost
// engines (no network), per IKE proposal, as setups per second and the responder's share of the
// CPU. The real-network comparison with strongSwan is in ike-interop.bench.ts.
// Run: node --import tsx test/bench/ike-setup.bench.ts   (ROUNDS, SETUPS env)
import { IkePair, policy } from '../lib/ike-pair.ts';

const SETUPS = Number(process.env.SETUPS ?? 200);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const PROPOSALS = ['aes256gcm16-prfsha256-x25519', 'aes128gcm16-prfsha256-ecp256', 'chacha20poly1305-prfsha256-x25519', 'aes256gcm16-prfsha384-ecp384'];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function run(ike: string): { perSecond: number; responderShare: number } {
  let respNs = 0n;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < SETUPS; i++) {
    const p = new IkePair(policy({ ikeP: [ike] }), policy({ ikeP: [ike], local: 'hq.example.net', remote: 'branch.example.net', localNet: ['10.2.0.0/24'], remoteNet: ['10.1.0.0/24'] }));
    const recv = p.b.engine.receive.bind(p.b.engine);
    p.b.engine.receive = (...a) => { const s = process.hrtime.bigint(); const r = recv(...a); respNs += process.hrtime.bigint() - s; return r; };
    p.start();
    if (p.a.children.size !== 1) throw new Error(`setup ${i} with ${ike} failed`);
  }
  const ns = Number(process.hrtime.bigint() - t0);
  return { perSecond: SETUPS / (ns / 1e9), responderShare: Number(respNs) / ns };
}

console.log(`IKE_SA + CHILD_SA setups between two in-process engines (${SETUPS} per round, median of ${ROUNDS})`);
console.log('proposal                              setups/s   responder CPU per setup');
for (const ike of PROPOSALS) {
  const rs = Array.from({ length: ROUNDS }, () => run(ike));
  const per = median(rs.map((r) => r.perSecond));
  const share = median(rs.map((r) => r.responderShare));
  console.log(`${ike.padEnd(38)}${per.toFixed(0).padStart(8)}   ${((share / per) * 1e3).toFixed(2).padStart(6)} ms`);
}
