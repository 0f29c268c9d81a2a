// Crypto warm-up at daemon start, before the first IKE_SA_INIT: one key exchange, one PRF and
// PRF+, one AEAD seal and open for each algorithm the configured proposals name, with throwaway
// keys. Why: from a cold process the first use of each costs milliseconds (OpenSSL fetching and
// initialising the algorithm, V8 compiling the JavaScript around it), which made the first
// CHILD_SA take several times strongSwan's time (test/bench/ike-interop.bench.ts). Warm, the
// exchange itself is what is left. Nothing here touches real keys or the network.
import { randomBytes } from 'node:crypto';
import { aeadByTransform } from '../crypto/aeads.ts';
import { findDh } from '../crypto/dh.ts';
import { findPrf, prfPlus } from '../crypto/prf.ts';
import { TransformType } from '../ike/constants.ts';
import type { ConfiguredProposal } from '../ike/proposal.ts';

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
