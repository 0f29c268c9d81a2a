// Warm-up at daemon start, before the first IKE_SA_INIT. From a cold process the first use of
// each algorithm costs milliseconds (OpenSSL fetching and initialising it) and so does the first
// run of every JavaScript function on the way (V8 compiles functions when first called: payload
// encoders and decoders, proposal matching, key derivation), which made the first CHILD_SA take
// several times strongSwan's time (test/bench/ike-interop.bench.ts). So, with throwaway keys:
//   warmUpCrypto  one key exchange, PRF and PRF+, AEAD seal and open per configured algorithm;
//   warmUpIke     a whole IKE_SA_INIT + IKE_AUTH between two in-memory engines with the
//                 configured proposals (PSK), which runs the real exchange's code once.
// Warm, the exchange itself is what is left. Nothing here touches real keys or the network.
import { randomBytes } from 'node:crypto';
import { aeadByTransform } from '../crypto/aeads.ts';
import { findDh } from '../crypto/dh.ts';
import { findPrf, prfPlus } from '../crypto/prf.ts';
import type { Action, Endpoint } from '../ike/actions.ts';
import { TransformType } from '../ike/constants.ts';
import { IkeEngine } from '../ike/engine.ts';
import type { TunnelPolicy } from '../ike/policy.ts';
import type { ConfiguredProposal } from '../ike/proposal.ts';
import type { Logger } from '../log.ts';

export interface WarmUpReport {
  /** What was exercised, e.g. ["x25519", "prfsha256", "aes256gcm16"]. */
  algorithms: string[];
  ms: number;
}

/** Runs each algorithm of `proposals` once; failures are ignored (the real exchange reports them). */
export function warmUpCrypto(proposals: readonly ConfiguredProposal[]): WarmUpReport {
  const t0 = performance.now();
  const done = new Set<string>();
  for (const p of proposals) {
    for (const t of p.transforms) {
      try {
        if (t.type === TransformType.DH) {
          const m = findDh(t.id);
          if (!m || done.has(m.name)) continue;
          const a = m.generate(), b = m.generate();
          a.computeShared(b.publicValue);
          done.add(m.name);
        } else if (t.type === TransformType.PRF) {
          const prf = findPrf(t.id);
          if (!prf || done.has(prf.name)) continue;
          const key = prf.compute(randomBytes(32), randomBytes(64));
          prfPlus(prf, key, randomBytes(64), 3 * prf.outputBytes);
          done.add(prf.name);
        } else if (t.type === TransformType.ENCR) {
          const alg = aeadByTransform(t.id, t.keyLength);
          if (!alg || done.has(alg.name)) continue;
          const key = alg.createKey(randomBytes(alg.keyBytes + alg.saltBytes));
          const iv = randomBytes(8), aad = randomBytes(8);
          const sealed = key.seal(iv, aad, randomBytes(256));
          key.open(iv, aad, sealed);
          done.add(alg.name);
        }
      } catch {
        // An algorithm this Node cannot run fails again, with a proper error, in the exchange.
      }
    }
  }
  return { algorithms: [...done], ms: performance.now() - t0 };
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/**
 * IKE_SA_INIT + IKE_AUTH with the policy's proposals between two engines in memory (PSK with a
 * random key, whatever the real authentication is), `rounds` times: V8 compiles a function at its
 * first call and collects type feedback from then on, so the real exchange after two rounds runs
 * about 2-4 ms faster than after one (test/bench/ike-interop.bench.ts), for about 5 ms more here.
 * Returns whether a CHILD_SA came out on both sides every time; a failure only means less was warmed.
 */
export function warmUpIke(policy: TunnelPolicy, rounds = 2): { ok: boolean; ms: number } {
  const t0 = performance.now();
  let ok = true;
  for (let r = 0; r < rounds && ok; r++) ok = exchangeInMemory(policy);
  return { ok, ms: performance.now() - t0 };
}

function exchangeInMemory(policy: TunnelPolicy): boolean {
  try {
    const { auth: _auth, ...common } = policy;
    const psk = randomBytes(32);
    const a: Endpoint = { address: '192.0.2.1', port: 500 }, b: Endpoint = { address: '192.0.2.2', port: 500 };
    const mine: TunnelPolicy = { ...common, psk };
    const theirs: TunnelPolicy = {
      ...common, psk, localId: policy.remoteId ?? policy.localId, remoteId: policy.localId,
      localTs: policy.remoteTs, remoteTs: policy.localTs,
    };
    const sides = [
      { engine: new IkeEngine({ role: 'initiator', policy: mine, log: silent }), addr: a, peer: b, children: 0 },
      { engine: new IkeEngine({ role: 'responder', policy: theirs, log: silent }), addr: b, peer: a, children: 0 },
    ];
    const wire: Array<{ to: number; from: Endpoint; at: Endpoint; data: Buffer }> = [];
    const apply = (i: number, actions: Action[]): void => {
      const s = sides[i]!;
      for (const act of actions) {
        if (act.kind === 'send') wire.push({ to: 1 - i, from: { address: s.addr.address, port: act.from.port }, at: act.to, data: act.data });
        else if (act.kind === 'install-child') s.children++;
        else if (act.kind === 'connect-due') apply(i, s.engine.connect(0, s.addr, s.peer));
      }
    };
    apply(0, sides[0]!.engine.start(0));
    for (let guard = 0; wire.length > 0 && guard < 32; guard++) {
      const d = wire.shift()!;
      apply(d.to, sides[d.to]!.engine.receive(0, d.data, d.from, d.at));
    }
    return sides[0]!.children > 0 && sides[1]!.children > 0;
  } catch {
    return false;
  }
}
