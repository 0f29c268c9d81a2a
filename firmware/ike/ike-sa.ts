// The state of one IKE SA and its CHILD_SAs. Plain data plus the helpers every exchange needs
// (sealing and opening messages); the exchanges in exchanges/ and the engine change it.
import type { AeadKey } from '../crypto/aead.ts';
import { aeadByTransform } from '../crypto/aeads.ts';
import type { KeyShare } from '../crypto/dh.ts';
import { prfById, type Prf } from '../crypto/prf.ts';
import type { Endpoint } from './actions.ts';
import { ExchangeType } from './constants.ts';
import type { IkeHeader } from './header.ts';
import type { IkeSaKeys } from './keys.ts';
import { encodeMessage, type Payload } from './message.ts';
import { FRAGMENT_THRESHOLD, Reassembler, fragmentMessage } from './fragments.ts';
import type { ChosenSuite, SaProposal } from './proposal.ts';
import type { TrafficSelector } from './payloads/ts.ts';

export type IkeState = 'connecting' | 'authenticating' | 'established' | 'rekeying' | 'rekeyed' | 'deleting' | 'dead';

export interface ChildSa {
  spiIn: Buffer;
  spiOut: Buffer;
  suite: ChosenSuite;
  localTs: TrafficSelector[];
  remoteTs: TrafficSelector[];
  createdAt: number;
  rekeyAt: number;
  expireAt: number;
  state: 'installed' | 'rekeying' | 'rekeyed' | 'deleting';
  /** Nonces of the exchange that created it, for simultaneous-rekey resolution (RFC 7296 2.8.1). */
  nonces?: Buffer[];
  /** Inbound SPI of the CHILD_SA this one replaced when the peer rekeyed it. */
  rekeyOf?: Buffer;
}

/** A request we sent and await the answer to (window size 1). */
export interface PendingRequest {
  messageId: number;
  exchange: ExchangeType;
  /** The datagrams to (re)send: one, or several IKE fragments. */
  datagrams: Buffer[];
  firstSentAt: number;
  tries: number;
  nextRetransmitAt: number;
  onResponse: (payloads: Payload[], header: IkeHeader, now: number, sent: { firstSentAt: number; tries: number }) => void;
  onTimeout: (now: number) => void;
  label: string;
}

export class IkeSa {
  /** Original initiator of this IKE SA (RFC 7296 2.2: decides the I flag and whose SPI is whose). */
  readonly initiator: boolean;
  spiI: Buffer;
  spiR: Buffer;
  state: IkeState = 'connecting';
  local: Endpoint;
  remote: Endpoint;
  natLocal = false;
  natRemote = false;
  suite?: ChosenSuite;
  prf?: Prf;
  keys?: IkeSaKeys;
  aeadOut?: AeadKey;
  aeadIn?: AeadKey;
  ni: Buffer = Buffer.alloc(0);
  nr: Buffer = Buffer.alloc(0);
  keyShare?: KeyShare;
  /** Our IKE_SA_INIT message (request or response), signed by our AUTH. */
  ourInitMessage: Buffer = Buffer.alloc(0);
  peerInitMessage: Buffer = Buffer.alloc(0);
  remoteIdText = '';
  /** The peer's SIGNATURE_HASH_ALGORITHMS from IKE_SA_INIT (RFC 7427); undefined if it sent none. */
  peerSignatureHashes?: number[];
  /** Message IDs (RFC 7296 2.2): ours for requests we send, the peer's for requests we receive. */
  nextRequestId = 0;
  nextPeerRequestId = 0;
  pending?: PendingRequest;
  /** Requests waiting for the window (built when their turn comes). */
  queue: Array<{ label: string; start: (now: number) => void }> = [];
  /** Our last response, re-sent when the peer retransmits its request. */
  lastResponse?: { messageId: number; datagrams: Buffer[] };
  children: ChildSa[] = [];
  createdAt = 0;
  /** When the initiator may next ask for a CHILD_SA after losing its last one, and the backoff. */
  childRetryAt = 0;
  childRetryMs = 1000;
  establishedAt = 0;
  rekeyAt = Infinity;
  lastInboundAt = 0;
  /** Round-trip time of the last DPD exchange answered at the first try (ms). */
  dpdRttMs?: number;
  /** The offer we made (to check the peer's choice against). */
  offered: SaProposal[] = [];
  /** Both sides announced IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383). */
  fragmentation = false;
  readonly reassembler = new Reassembler();
  /** When the peer's rekey replaced this SA; the peer deletes it, or we drop it after a while. */
  retiredAt?: number;
  /** The IKE SA that replaced this one when the peer rekeyed it (collision resolution). */
  rekeyedBy?: IkeSa;
  private ivCounter = 0n;

  constructor(initiator: boolean, spiI: Buffer, spiR: Buffer, local: Endpoint, remote: Endpoint) {
    this.initiator = initiator;
    this.spiI = spiI;
    this.spiR = spiR;
    this.local = local;
    this.remote = remote;
  }

  /** Our SPI, by which the engine finds this SA. */
  get ourSpi(): Buffer { return this.initiator ? this.spiI : this.spiR; }
  get id(): string { return this.ourSpi.toString('hex'); }

  header(exchange: ExchangeType, response: boolean, messageId: number): IkeHeader {
    return { spiI: this.spiI, spiR: this.spiR, exchangeType: exchange, initiator: this.initiator, response, messageId };
  }

  /** Installs the negotiated suite and keys after IKE_SA_INIT (or an IKE rekey). */
  setKeys(suite: ChosenSuite, keys: IkeSaKeys): void {
    const alg = aeadByTransform(suite.encr.id, suite.encr.keyLength);
    if (!alg || suite.prf === undefined) throw new Error(`suite ${suite.name} is not usable for IKE`);
    this.suite = suite;
    this.prf = prfById(suite.prf);
    this.keys = keys;
    this.aeadOut = alg.createKey(this.initiator ? keys.skEi : keys.skEr);
    this.aeadIn = alg.createKey(this.initiator ? keys.skEr : keys.skEi);
  }

  /** Our SK_p (signs our AUTH) and the peer's. */
  get skPOurs(): Buffer { return this.initiator ? this.keys!.skPi : this.keys!.skPr; }
  get skPPeer(): Buffer { return this.initiator ? this.keys!.skPr : this.keys!.skPi; }

  /** IVs are a counter: unique under the key, as RFC 5282 requires. */
  private nextIv(): Buffer {
    const iv = Buffer.alloc(8);
    iv.writeBigUInt64BE(++this.ivCounter);
    return iv;
  }

  /** An encrypted message: one datagram, or SKF fragments when it is large and both sides support them. */
  seal(exchange: ExchangeType, response: boolean, messageId: number, payloads: Payload[]): Buffer[] {
    const header = this.header(exchange, response, messageId);
    const whole = encodeMessage(header, payloads, { key: this.aeadOut!, iv: this.nextIv() });
    if (!this.fragmentation || whole.length <= FRAGMENT_THRESHOLD) return [whole];
    return fragmentMessage(header, payloads, this.aeadOut!, () => this.nextIv());
  }

  child(spiIn: Buffer): ChildSa | undefined {
    return this.children.find((c) => c.spiIn.equals(spiIn));
  }
  childByOutSpi(spiOut: Buffer): ChildSa | undefined {
    return this.children.find((c) => c.spiOut.equals(spiOut));
  }
}
