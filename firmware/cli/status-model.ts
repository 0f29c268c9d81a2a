// The status object the daemon returns for the control socket's "status" command, and that
// `outpost status --json` prints. Plain JSON: numbers for counters (exact up to 2^53 bytes),
// SPIs as lowercase hex, durations in whole seconds. No secrets belong in it.

export const STATUS_MODEL_VERSION = 1;

export type TunnelState = 'down' | 'connecting' | 'up';

export interface Endpoint {
  address: string;
  port: number;
}

export interface IkeSaStatus {
  /** IKE SPIs, 16 hex digits each. */
  spiInitiator: string;
  spiResponder: string;
  /** Our role in the IKE SA's initial exchange. */
  role: 'initiator' | 'responder';
  /** Identities as authenticated, e.g. "branch-042.example.net". */
  localId: string;
  remoteId: string;
  /** Negotiated suite in strongSwan proposal syntax (what swanctl.conf takes), e.g. "aes256gcm16-prfsha256-x25519". */
  algorithms: string;
  establishedSeconds: number;
  /** Seconds until the IKE SA is rekeyed; null when no rekey is scheduled. */
  rekeySeconds: number | null;
}

export interface ChildSaStatus {
  name: string;
  /** ESP SPIs, 8 hex digits: inbound (ours) and outbound (the peer's). */
  spiIn: string;
  spiOut: string;
  /** Proposal syntax, e.g. "aes256gcm16", or "aes256gcm16-x25519" when this SA was made with PFS. */
  algorithms: string;
  esn: boolean;
  /** Traffic selectors as CIDR text. */
  localTs: string[];
  remoteTs: string[];
  establishedSeconds: number;
  rekeySeconds: number | null;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  /** Dropped packets by reason, e.g. { "replay": 3, "auth": 1 }; only non-zero reasons need appear. */
  drops: Record<string, number>;
}

/**
 * The IKE engine's counters since the tunnel started (what floods and garbage show up in). Same
 * names as the engine's EngineCounters, plus halfOpen: responder IKE SAs awaiting IKE_AUTH now.
 */
export interface IkeCounters {
  ikeSaInitRequests: number;
  cookiesSent: number;
  halfOpenDropped: number;
  halfOpen: number;
  malformed: number;
  unknownSpi: number;
  integrityFailures: number;
  invalidMessageId: number;
  retransmissionsSent: number;
  retransmitsAnswered: number;
}

/** The data plane's totals since the tunnel started, over all CHILD_SAs including removed ones. */
export interface DataPlaneTotals {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Dropped packets by reason (unknown_spi, auth_failed, replay, ...); non-zero reasons only. */
  drops: Record<string, number>;
  /** Native fast path only: packets of known flows sealed (out) and let in (in) by the addon's
   *  flow cache without JavaScript (docs/performance.md). */
  flowCache?: { out: number; in: number };
}

export interface TunnelStatus {
  /** The connection's name, e.g. "hq". */
  name: string;
  state: TunnelState;
  /** Outer addresses: null while unknown (down, or remote "%any" waiting). */
  local: Endpoint | null;
  remote: Endpoint | null;
  /** NAT detection results: local = this box is behind NAT, remote = the peer is. */
  nat: { local: boolean; remote: boolean };
  ikeSa: IkeSaStatus | null;
  childSas: ChildSaStatus[];
  /** The most recent failure (auth failed, no proposal chosen, peer unreachable, ...). */
  lastError: { message: string; ageSeconds: number } | null;
  /** IKE counters (optional: older daemons do not send them). */
  ike?: IkeCounters;
  /** Data plane totals and drops, including drops no CHILD_SA owns (unknown SPI). Optional, as ike. */
  dataPlane?: DataPlaneTotals;
}

export interface HealthLinkStatus {
  /** Broker URL as configured (no credentials), or null when health reporting is off. */
  broker: string | null;
  connected: boolean;
  /** Seconds since the last health message was published; null if none yet. */
  lastPublishSeconds: number | null;
  /** Why the last connection attempt failed (refused password, TLS, unreachable), while not connected. */
  lastError?: string | null;
  /** Events waiting for the broker's acknowledgement (queued while it is away), and events dropped
   *  because the queue was full, since start. Optional: older daemons do not send them. */
  eventsQueued?: number;
  eventsDropped?: number;
}

/** The box's own IKE certificate (certificate authentication only). */
export interface CertificateStatus {
  /** e.g. "C=CH, O=Example, CN=branch-042.example.net". */
  subject: string;
  issuer: string;
  /** ISO 8601 UTC, e.g. "2027-03-01T12:00:00Z". */
  notAfter: string;
  /** Whole days until notAfter; negative once expired. */
  daysLeft: number;
}

export interface StatusModel {
  version: typeof STATUS_MODEL_VERSION;
  deviceId: string;
  firmwareVersion: string;
  uptimeSeconds: number;
  tunnel: TunnelStatus;
  health: HealthLinkStatus;
  /** Present when the tunnel authenticates with a certificate. */
  certificate?: CertificateStatus;
}
