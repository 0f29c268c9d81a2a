// What one tunnel is allowed to negotiate: identities, the PSK, proposals, selectors, lifetimes.
// Built once from the config file by the daemon; the engine only reads it.
import { IdType } from './constants.ts';
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

export interface TunnelPolicy {
  localId: Identity;
  /** Required identity of the peer; undefined accepts any peer that proves the PSK. */
  remoteId?: Identity;
  psk: Buffer;
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

export const DEFAULT_RETRANSMIT: RetransmitPolicy = { timeoutMs: 2000, base: 1.8, tries: 5 };

/** An IKE identity from its config text: an IP address, an email, a DN ("CN=..., O=...") or an FQDN. */
export function identityFromText(text: string): Identity {
  let idType: IdType;
  if (isIP(text)) idType = isIPv4(text) ? IdType.IPV4_ADDR : IdType.IPV6_ADDR;
  else if (/^[^@\s]+@[^@\s]+$/.test(text)) idType = IdType.RFC822_ADDR;
  else if (/^[A-Za-z]+=/.test(text) && text.includes('=')) idType = IdType.DER_ASN1_DN;
  else idType = IdType.FQDN;
  return { idType, data: idDataFromText(idType, text), text };
}
