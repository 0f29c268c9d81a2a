// IKE_AUTH with a pre-shared key (RFC 7296 1.2, 2.15) and the first CHILD_SA (RFC 7296 1.2, 2.9).
// Certificate methods arrive with the certificate work; an AUTH of another method is refused
// with AUTHENTICATION_FAILED and a log line that says which method the peer used.
import { AuthMethod, NotifyType, PayloadType } from '../constants.ts';
import type { IkeSa } from '../ike-sa.ts';
import { idPayloadBody, pskAuth, signedOctets, verifyPskAuth } from '../keys.ts';
import type { Payload } from '../message.ts';
import type { IdPayload } from '../payloads/id.ts';
import type { Identity } from '../policy.ts';
import { childOfferPayloads, makeChildOffer, type ChildOffer } from './child-sa.ts';
import { ExchangeError, find, notify, notifyOf, type EngineCore } from './core.ts';

const idPayload = (type: PayloadType.IDi | PayloadType.IDr, id: Identity): IdPayload => ({ type, idType: id.idType, data: id.data, text: id.text });

function ourAuth(e: EngineCore, sa: IkeSa, id: IdPayload, peerNonce: Buffer): Payload {
  const octets = signedOctets(sa.prf!, sa.ourInitMessage, peerNonce, sa.skPOurs, idPayloadBody(id.idType, id.data));
  return { type: PayloadType.AUTH, method: AuthMethod.PSK, data: pskAuth(sa.prf!, e.policy.psk, octets) };
}

/** Checks the peer's identity against policy and its AUTH; throws ExchangeError(AUTHENTICATION_FAILED). */
function verifyPeer(e: EngineCore, sa: IkeSa, id: IdPayload | undefined, auth: Payload | undefined, ourNonce: Buffer): void {
  if (!id || !auth || auth.type !== PayloadType.AUTH) throw new ExchangeError(NotifyType.AUTHENTICATION_FAILED, 'peer sent no identity or no AUTH payload');
  sa.remoteIdText = id.text;
  const want = e.policy.remoteId;
  if (want && (want.idType !== id.idType || !want.data.equals(id.data))) {
    throw new ExchangeError(NotifyType.AUTHENTICATION_FAILED, `peer identity "${id.text}" is not the configured remoteId "${want.text}"`);
  }
  if (auth.method !== AuthMethod.PSK) {
    throw new ExchangeError(NotifyType.AUTHENTICATION_FAILED, `peer authenticates with method ${AuthMethod[auth.method] ?? auth.method}, Outpost is configured for a pre-shared key`);
  }
  const octets = signedOctets(sa.prf!, sa.peerInitMessage, ourNonce, sa.skPPeer, idPayloadBody(id.idType, id.data));
  if (!verifyPskAuth(sa.prf!, e.policy.psk, octets, auth.data)) {
    throw new ExchangeError(NotifyType.AUTHENTICATION_FAILED, `pre-shared key AUTH from "${id.text}" does not verify (the PSKs differ)`);
  }
}

/** Initiator: IDi, [N(INITIAL_CONTACT)], [IDr], AUTH, SA, TSi, TSr. */
export function buildAuthRequest(e: EngineCore, sa: IkeSa, initialContact: boolean): { payloads: Payload[]; offer: ChildOffer } {
  const idi = idPayload(PayloadType.IDi, e.policy.localId);
  const offer = makeChildOffer(e, true);
  const payloads: Payload[] = [idi];
  if (initialContact) payloads.push(notify(NotifyType.INITIAL_CONTACT));
  if (e.policy.remoteId) payloads.push(idPayload(PayloadType.IDr, e.policy.remoteId));
  payloads.push(ourAuth(e, sa, idi, sa.nr), ...childOfferPayloads(e, offer));
  return { payloads, offer };
}

/** Initiator: authenticates the responder. The CHILD_SA part is completed by the caller. */
export function processAuthResponse(e: EngineCore, sa: IkeSa, res: Payload[]): void {
  if (notifyOf(res, NotifyType.AUTHENTICATION_FAILED)) {
    throw new ExchangeError(NotifyType.AUTHENTICATION_FAILED, 'peer refused our authentication (AUTHENTICATION_FAILED): check the PSK and our localId');
  }
  verifyPeer(e, sa, find(res, PayloadType.IDr), find(res, PayloadType.AUTH), sa.ni);
}

/**
 * Responder: authenticates the initiator and builds IDr, AUTH. Returns whether the peer asked
 * for INITIAL_CONTACT. Throws ExchangeError(AUTHENTICATION_FAILED).
 */
export function answerAuthRequest(e: EngineCore, sa: IkeSa, req: Payload[]): { payloads: Payload[]; initialContact: boolean } {
  verifyPeer(e, sa, find(req, PayloadType.IDi), find(req, PayloadType.AUTH), sa.nr);
  const idr = idPayload(PayloadType.IDr, e.policy.localId);
  return { payloads: [idr, ourAuth(e, sa, idr, sa.ni)], initialContact: !!notifyOf(req, NotifyType.INITIAL_CONTACT) };
}
