// Turns the validated config file into the IKE engine's tunnel policy.
import type { ResolvedConfig } from '../config/schema.ts';
import { isPskAuth } from '../config/schema.ts';
import { DEFAULT_RETRANSMIT, identityFromText, type RetransmitPolicy, type TunnelPolicy } from '../ike/policy.ts';
import { parseEspProposals, parseIkeProposals } from '../ike/proposal.ts';
import { selectorFromCidr } from '../ike/selectors.ts';
import { logger } from '../log.ts';
import { loadCertAuth } from '../pki/load.ts';

/**
 * OUTPOST_IKE_RETRANSMIT="timeoutMs,base,tries" tunes retransmission (like strongSwan's
 * charon.retransmit_* settings); tests use it to detect a dead peer in seconds.
 */
export function retransmitFromEnv(text = process.env.OUTPOST_IKE_RETRANSMIT): RetransmitPolicy {
  if (!text) return DEFAULT_RETRANSMIT;
  const [t, b, n] = text.split(',').map(Number);
  if (!(t! >= 100 && b! >= 1 && Number.isInteger(n) && n! >= 0 && n! <= 20)) {
    throw new Error(`OUTPOST_IKE_RETRANSMIT="${text}": expected "timeoutMs,base,tries", e.g. "2000,1.8,5"`);
  }
  return { timeoutMs: t!, base: b!, tries: n! };
}

/**
 * Lab and test knobs, not configuration: OUTPOST_CHILD_LIFETIME_SECONDS and
 * OUTPOST_IKE_LIFETIME_SECONDS replace the config's lifetimes, below the validator's minimums
 * (60 s / 300 s), so a soak can rekey every few seconds. Whole seconds, 2..86400; anything else
 * is refused at start-up rather than ignored.
 */
export function lifetimeFromEnv(name: 'OUTPOST_CHILD_LIFETIME_SECONDS' | 'OUTPOST_IKE_LIFETIME_SECONDS', configured: number, text = process.env[name]): number {
  if (text === undefined || text === '') return configured;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 2 || n > 86_400) throw new Error(`${name}="${text}": expected whole seconds, 2..86400`);
  logger('config').warn('lifetime-override', { variable: name, seconds: n, configured });
  return n;
}

export function policyFromConfig(cfg: ResolvedConfig): TunnelPolicy {
  const t = cfg.tunnel;
  // Certificates: the files named by tunnel.auth are read here; errors name the field and file.
  const cert = isPskAuth(t.auth) ? undefined : loadCertAuth(t.auth, t.localId);
  for (const w of cert?.warnings ?? []) logger('pki').warn('credential-warning', { message: w });
  return {
    localId: cert?.localId ?? identityFromText(t.localId),
    ...(t.remoteId && t.remoteId !== '%any' ? { remoteId: identityFromText(t.remoteId) } : {}),
    ...(isPskAuth(t.auth) ? { psk: Buffer.from(t.auth.psk, 'utf8') } : { auth: cert!.auth }),
    ike: parseIkeProposals(t.ike),
    esp: parseEspProposals(t.esp),
    localTs: t.localSubnets.map(selectorFromCidr),
    remoteTs: t.remoteSubnets.map(selectorFromCidr),
    dpdSeconds: t.dpdSeconds,
    ikeLifetimeSeconds: lifetimeFromEnv('OUTPOST_IKE_LIFETIME_SECONDS', t.ikeLifetimeSeconds),
    childLifetimeSeconds: lifetimeFromEnv('OUTPOST_CHILD_LIFETIME_SECONDS', t.childLifetimeSeconds),
    forceEncap: true,
    retransmit: retransmitFromEnv(),
    reconnectMinMs: 1000,
    reconnectMaxMs: 60_000,
    cookieThreshold: 32,
    halfOpenMax: 1024,
    halfOpenTimeoutMs: 30_000,
  };
}
