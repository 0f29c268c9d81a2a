// What an exchange step may ask of the engine. Exchanges are functions over (core, IKE SA):
// they build payloads, process the peer's, and report results through this interface.
import type { RandomSource } from '../../crypto/random.ts';
import type { Logger } from '../../log.ts';
import type { Action, IkeEvent } from '../actions.ts';
import type { ExchangeType } from '../constants.ts';
import type { IkeHeader } from '../header.ts';
import type { ChildSa, IkeSa } from '../ike-sa.ts';
import type { ChildSaKeys } from '../keys.ts';
import type { Payload } from '../message.ts';
import type { NotifyPayload } from '../payloads/notify.ts';
import type { TunnelPolicy } from '../policy.ts';

export interface EngineCore {
  readonly policy: TunnelPolicy;
  readonly random: RandomSource;
  readonly log: Logger;
  act(a: Action): void;
  event(e: IkeEvent): void;
  /** Queues a request on `sa` (window size 1); `build` runs when the window is free. */
  request(sa: IkeSa, now: number, exchange: ExchangeType, label: string,
    build: () => Payload[] | null,
    onResponse: (payloads: Payload[], header: IkeHeader, now: number, sent: { firstSentAt: number; tries: number }) => void,
    onTimeout?: (now: number) => void): void;
  /** Hands a negotiated CHILD_SA to the data plane and records it on `sa`. */
  installChild(sa: IkeSa, child: ChildSa, keys: ChildSaKeys, weInitiated: boolean, now: number, rekey: boolean): void;
  /** Removes a CHILD_SA from the data plane and from `sa`. */
  removeChild(sa: IkeSa, child: ChildSa, reason: string): void;
  /** Ends an IKE SA and its children locally (no message). */
  killIkeSa(sa: IkeSa, reason: string, now: number): void;
  /** Registers a new IKE SA (from a rekey) under its own SPI. */
  adoptIkeSa(sa: IkeSa): void;
  findIkeSa(ourSpi: Buffer): IkeSa | undefined;
  otherIkeSas(sa: IkeSa): IkeSa[];
  /** Arms the SA's rekey/DPD schedule after establishment. */
  established(sa: IkeSa, now: number): void;
}

export const notifyOf = (payloads: Payload[], type: number): NotifyPayload | undefined =>
  payloads.find((p): p is NotifyPayload => p.type === 41 && p.notifyType === type);

export const notifies = (payloads: Payload[]): NotifyPayload[] =>
  payloads.filter((p): p is NotifyPayload => p.type === 41);

/** First error notify (type < 16384) in a response, if any. */
export const errorNotify = (payloads: Payload[]): NotifyPayload | undefined =>
  notifies(payloads).find((n) => n.notifyType < 16384);

export function notify(notifyType: number, data: Buffer = Buffer.alloc(0), protocol = 0, spi: Buffer = Buffer.alloc(0)): NotifyPayload {
  return { type: 41, protocol, spi, notifyType, data };
}

/** Raised inside a step to abort the exchange with a notify for the peer and a reason for the log. */
export class ExchangeError extends Error {
  constructor(readonly notifyType: number, message: string, readonly data: Buffer = Buffer.alloc(0)) {
    super(message);
  }
}

/** The payload interface whose `type` admits T (TsPayload for TSi and for TSr). */
export type PayloadOf<T> = Payload extends infer P ? (P extends { type: infer U } ? (T extends U ? P : never) : never) : never;

export function find<T extends Payload['type']>(payloads: Payload[], type: T): PayloadOf<T> | undefined {
  return payloads.find((p) => p.type === type) as PayloadOf<T> | undefined;
}
