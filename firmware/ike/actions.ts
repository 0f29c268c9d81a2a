// What the sans-I/O IKE engine asks its I/O shell to do. The engine never touches sockets,
// timers or the clock: it returns these and the gateway carries them out.
import type { TrafficSelector } from './payloads/ts.ts';

export interface Endpoint {
  address: string;
  port: number;
}

/** Everything the data plane needs to run one CHILD_SA pair. Keys are secret: never log this. */
export interface ChildSaSpec {
  /** Our IKE SA's SPI (hex), to group children for status. */
  ikeId: string;
  /** Inbound SPI (ours) and outbound SPI (the peer's), 4 bytes each. */
  spiIn: Buffer;
  spiOut: Buffer;
  aead: string;
  keyIn: Buffer;
  keyOut: Buffer;
  esn: boolean;
  localTs: TrafficSelector[];
  remoteTs: TrafficSelector[];
  local: Endpoint;
  remote: Endpoint;
}

export type IkeEvent =
  | { type: 'ike-up'; ikeId: string; remote: Endpoint; proposal: string; natLocal: boolean; natRemote: boolean; remoteId: string }
  | { type: 'ike-down'; ikeId: string; reason: string }
  | { type: 'child-up'; ikeId: string; spiIn: string; spiOut: string; proposal: string; localTs: string; remoteTs: string; rekey: boolean }
  | { type: 'child-down'; ikeId: string; spiIn: string; reason: string }
  | { type: 'ike-rekeyed'; oldIkeId: string; ikeId: string }
  | { type: 'auth-failed'; ikeId: string; reason: string }
  | { type: 'negotiation-failed'; ikeId: string; notify: string; detail: string }
  | { type: 'dpd-timeout'; ikeId: string }
  | { type: 'exchange-sent'; ikeId: string; exchange: string; detail: string }
  | { type: 'connect-failed'; reason: string };

export type Action =
  /** Send an IKE message (without the non-ESP marker: the shell adds it on port 4500). */
  | { kind: 'send'; from: Endpoint; to: Endpoint; data: Buffer }
  | { kind: 'install-child'; child: ChildSaSpec }
  /** Remove a CHILD_SA from the data plane by its inbound SPI. */
  | { kind: 'remove-child'; spiIn: Buffer }
  /** Point an IKE SA's children at a new peer address (NAT mapping change). */
  | { kind: 'update-remote'; ikeId: string; remote: Endpoint }
  /** The initiator wants to (re)connect now: the shell resolves the remote name and calls connect(). */
  | { kind: 'connect-due' }
  | { kind: 'event'; event: IkeEvent };
