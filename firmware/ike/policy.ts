// What one tunnel is allowed to negotiate: identities, credentials (PSK or certificates),
// proposals, selectors, lifetimes. Built once from the config file by the daemon; the engine
// only reads it.
import type { KeyObject } from 'node:crypto';
import { IdType } from './constants.ts';
import { dnFromText } from '../pki/identity-match.ts';
import { idDataFromText } from './payloads/id.ts';
import type { ConfiguredProposal } from './proposal.ts';
import type { TrafficSelector } from './payloads/ts.ts';
import { isIP, isIPv4 } from 'node:net';

export interface Identity {
  idType: IdType;
  data: Buffer;
  text: string;
}

export interface RetransmitPolicy {
  /** First timeout; each next one is `base` times longer (RFC 7296 2.1 exponential backoff). */
  timeoutMs: number;
  base: number;
  /** Retransmissions after the first send before the peer is declared dead. */
  tries: number;
}

/** Certificate authentication (RFC 7427 signatures, X.509 chains). All certificates are DER. */
export interface CertAuth {
  kind: 'cert';
  /** Our private key: ECDSA P-256 (or P-384), Ed25519 or RSA. */
  key: KeyObject;
  /** Our certificate first, then intermediates, sent as CERT payloads. */
  chain: Buffer[];
  /** Trust anchors for the peer's certificate. */
  cas: Buffer[];
  /** Certificate revocation lists checked against the peer's chain. */
  crls: Buffer[];
  /** Wall-clock time (ms since the epoch) for validity checks: the shell injects it, the core never reads a clock. */
  clock: () => number;
}

export interface PskAuth {
  kind: 'psk';
  psk: Buffer;
}

export type PolicyAuth = PskAuth | CertAuth;

export interface TunnelPolicy {
  localId: Identity;
  /** Required identity of the peer; undefined accepts any peer that authenticates. */
  remoteId?: Identity;
  /** How we and the peer authenticate; when absent, `psk` is the pre-shared key. */
  auth?: PolicyAuth;
  /** Shorthand for auth = { kind: 'psk', psk }. */
  psk?: Buffer;
  ike: ConfiguredProposal[];
  esp: ConfiguredProposal[];
  localTs: TrafficSelector[];
  remoteTs: TrafficSelector[];
  /** 0 disables dead peer detection. */
  dpdSeconds: number;
  ikeLifetimeSeconds: number;
  childLifetimeSeconds: number;
  /** Make the peer believe there is a NAT so ESP always goes in UDP 4500 (DESIGN.md). */
  forceEncap: boolean;
  retransmit: RetransmitPolicy;
  /** Reconnect backoff after a failure: doubles from min to max. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Half-open IKE SAs (responder) above which cookies are demanded (RFC 7296 2.6). */
  cookieThreshold: number;
  /** Hard cap on half-open IKE SAs; beyond it new IKE_SA_INIT requests are dropped. */
  halfOpenMax: number;
  halfOpenTimeoutMs: number;
}

/** The policy's authentication, with the `psk` shorthand resolved. */
export function policyAuth(p: TunnelPolicy): PolicyAuth {
  if (p.auth) return p.auth;
  if (p.psk) return { kind: 'psk', psk: p.psk };
  throw new Error('tunnel policy has no authentication (neither auth nor psk)');
}

export const DEFAULT_RETRANSMIT: RetransmitPolicy = { timeoutMs: 2000, base: 1.8, tries: 5 };

/** An IKE identity from its config text: an IP address, an email, a DN ("CN=..., O=...") or an FQDN. */
export function identityFromText(text: string): Identity {
  let idType: IdType;
  if (isIP(text)) idType = isIPv4(text) ? IdType.IPV4_ADDR : IdType.IPV6_ADDR;
  else if (/^[^@\s]+@[^@\s]+$/.test(text)) idType = IdType.RFC822_ADDR;
  else if (/^[A-Za-z]+=/.test(text) && text.includes('=')) idType = IdType.DER_ASN1_DN;
  else idType = IdType.FQDN;
  return { idType, data: idType === IdType.DER_ASN1_DN ? dnFromText(text) : idDataFromText(idType, text), text };
}
