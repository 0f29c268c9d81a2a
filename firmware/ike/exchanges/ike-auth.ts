// IKE_AUTH (RFC 7296 1.2, 2.15) and the first CHILD_SA (RFC 7296 1.2, 2.9), with either a
// pre-shared key or certificates: RFC 7427 digital signatures (method 14) or RFC 4754 ECDSA
// (9-11), X.509 chains to a configured CA (CERT/CERTREQ, RFC 7296 3.6-3.7), the peer's identity
// checked against its certificate. Every refusal is ExchangeError(AUTHENTICATION_FAILED) with a
// message naming the cause (expired, unknown CA, identity mismatch, bad signature, revoked...).
import { AuthMethod, CertEncoding, ExchangeType, NotifyType, PayloadType } from '../constants.ts';
import type { IkeSa } from '../ike-sa.ts';
import { idPayloadBody, pskAuth, signedOctets, verifyPskAuth } from '../keys.ts';
import type { Payload } from '../message.ts';
import type { CertPayload } from '../payloads/cert.ts';
import type { IdPayload } from '../payloads/id.ts';
import { policyAuth, type CertAuth, type Identity } from '../policy.ts';
import { validateChain } from '../../pki/chain.ts';
import { CertAuthError, isCertAuthError } from '../../pki/errors.ts';
import { certMatchesIdentity, certNames, identitiesEqual } from '../../pki/identity-match.ts';
import { OUR_SIGNATURE_HASHES, decodeHashList, encodeHashList, signAuth, verifyAuth } from '../../pki/signature-auth.ts';
import { credentials } from '../../pki/trust.ts';
import { childOfferPayloads, makeChildOffer, type ChildOffer } from './child-sa.ts';
import { ExchangeError, find, notify, notifyOf, type EngineCore } from './core.ts';

const idPayload = (type: PayloadType.IDi | PayloadType.IDr, id: Identity): IdPayload => ({ type, idType: id.idType, data: id.data, text: id.text });

// ------------------------------------------------------------ IKE_SA_INIT hooks

/**
 * Extra IKE_SA_INIT payloads when certificates are configured: N(SIGNATURE_HASH_ALGORITHMS)
 * from both sides (RFC 7427 section 4), and the responder's CERTREQ (RFC 7296 1.2).
 */
export function signatureInitPayloads(e: EngineCore, responder: boolean): Payload[] {
  const auth = policyAuth(e.policy);
  if (auth.kind !== 'cert') return [];
  const out: Payload[] = [];
  if (responder) out.push(certReqPayload(auth));
  out.push(notify(NotifyType.SIGNATURE_HASH_ALGORITHMS, encodeHashList(OUR_SIGNATURE_HASHES)));
  return out;
}

/** Keeps the peer's SIGNATURE_HASH_ALGORITHMS list on the SA; a malformed one counts as absent. */
export function recordPeerSignatureHashes(e: EngineCore, sa: IkeSa, payloads: Payload[]): void {
  const n = notifyOf(payloads, NotifyType.SIGNATURE_HASH_ALGORITHMS);
  if (!n) return;
  try {
    sa.peerSignatureHashes = decodeHashList(n.data);
  } catch (err) {
    e.log.warn('bad-signature-hash-notify', { ike: sa.id, reason: (err as Error).message });
  }
}

// ------------------------------------------------------------ our side

function certReqPayload(auth: CertAuth): Payload {
  return { type: PayloadType.CERTREQ, encoding: CertEncoding.X509_SIGNATURE, data: credentials(auth).certReq };
}

function certPayloads(auth: CertAuth): Payload[] {
  return auth.chain.map((der) => ({ type: PayloadType.CERT, encoding: CertEncoding.X509_SIGNATURE, data: der }));
}

function ourAuth(e: EngineCore, sa: IkeSa, id: IdPayload, peerNonce: Buffer): Payload {
  const octets = signedOctets(sa.prf!, sa.ourInitMessage, peerNonce, sa.skPOurs, idPayloadBody(id.idType, id.data));
  const auth = policyAuth(e.policy);
  if (auth.kind === 'psk') return { type: PayloadType.AUTH, method: AuthMethod.PSK, data: pskAuth(sa.prf!, auth.psk, octets) };
  const s = signAuth(auth.key, octets, sa.peerSignatureHashes);
  e.log.debug('auth-signed', { ike: sa.id, scheme: s.scheme, method: s.method });
  return { type: PayloadType.AUTH, method: s.method, data: s.data };
}

// ------------------------------------------------------------ the peer's side

/** Checks the peer's identity against policy and its AUTH; throws ExchangeError(AUTHENTICATION_FAILED). */
function verifyPeer(e: EngineCore, sa: IkeSa, msg: Payload[], ourNonce: Buffer): void {
  const id = find(msg, sa.initiator ? PayloadType.IDr : PayloadType.IDi);
  const auth = find(msg, PayloadType.AUTH);
  if (!id || !auth) throw new ExchangeError(NotifyType.AUTHENTICATION_FAILED, 'peer sent no identity or no AUTH payload');
  sa.remoteIdText = id.text;
  const want = e.policy.remoteId;
  if (want && !identitiesEqual(want, id)) {
    throw new ExchangeError(NotifyType.AUTHENTICATION_FAILED, `identity mismatch: peer identity "${id.text}" is not the configured remoteId "${want.text}"`);
  }
  const octets = signedOctets(sa.prf!, sa.peerInitMessage, ourNonce, sa.skPPeer, idPayloadBody(id.idType, id.data));
  const mine = policyAuth(e.policy);
  if (mine.kind === 'psk') {
    if (auth.method !== AuthMethod.PSK) {
      throw new ExchangeError(NotifyType.AUTHENTICATION_FAILED, `peer authenticates with method ${AuthMethod[auth.method] ?? auth.method}, Outpost is configured for a pre-shared key`);
    }
    if (!verifyPskAuth(sa.prf!, mine.psk, octets, auth.data)) {
      throw new ExchangeError(NotifyType.AUTHENTICATION_FAILED, `pre-shared key AUTH from "${id.text}" does not verify (the PSKs differ)`);
    }
    return;
  }
  if (auth.method === AuthMethod.PSK) {
    throw new ExchangeError(NotifyType.AUTHENTICATION_FAILED, `peer "${id.text}" authenticates with a pre-shared key, Outpost is configured for certificates`);
  }
  try {
    const certs = msg.filter((p): p is CertPayload => p.type === PayloadType.CERT);
    const x509 = certs.filter((c) => c.encoding === CertEncoding.X509_SIGNATURE);
    if (!x509.length) {
      throw new CertAuthError(certs.length ? 'unsupported' : 'no-certificate', certs.length
        ? `peer "${id.text}" sent certificates in encoding ${certs[0]!.encoding}, Outpost takes X.509 (4)`
        : `peer "${id.text}" sent no certificate (CERT payload)`);
    }
    const cred = credentials(mine);
    const chain = validateChain(x509[0]!.data, x509.slice(1).map((c) => c.data), cred.store, new Date(mine.clock()));
    if (!certMatchesIdentity(chain.end, id)) {
      throw new CertAuthError('identity-mismatch', `peer identity "${id.text}" is not in its certificate (${certNames(chain.end)})`);
    }
    const scheme = verifyAuth(auth.method, auth.data, chain.end.publicKey, octets);
    e.log.info('peer-certificate', { ike: sa.id, subject: chain.end.subject, issuer: chain.end.issuer, ca: chain.anchor.subject, scheme });
  } catch (err) {
    if (isCertAuthError(err)) throw new ExchangeError(NotifyType.AUTHENTICATION_FAILED, `peer "${id.text}" refused: ${err.message}`);
    throw err;
  }
}

/**
 * Our verification of the responder failed: tell it with an INFORMATIONAL carrying
 * AUTHENTICATION_FAILED (RFC 7296 2.21.2), sent once; the IKE SA is then dropped by the caller.
 */
function tellPeerAuthFailed(e: EngineCore, sa: IkeSa): void {
  for (const data of sa.seal(ExchangeType.INFORMATIONAL, false, sa.nextRequestId++, [notify(NotifyType.AUTHENTICATION_FAILED)])) {
    e.act({ kind: 'send', from: sa.local, to: sa.remote, data });
  }
}

// ------------------------------------------------------------ the exchange

/** Initiator: IDi, [CERT+], [N(INITIAL_CONTACT)], [CERTREQ], [IDr], AUTH, SA, TSi, TSr. */
export function buildAuthRequest(e: EngineCore, sa: IkeSa, initialContact: boolean): { payloads: Payload[]; offer: ChildOffer } {
  const auth = policyAuth(e.policy);
  const idi = idPayload(PayloadType.IDi, e.policy.localId);
  const offer = makeChildOffer(e, true);
  const payloads: Payload[] = [idi];
  if (auth.kind === 'cert') payloads.push(...certPayloads(auth));
  if (initialContact) payloads.push(notify(NotifyType.INITIAL_CONTACT));
  if (auth.kind === 'cert') payloads.push(certReqPayload(auth));
  if (e.policy.remoteId) payloads.push(idPayload(PayloadType.IDr, e.policy.remoteId));
  payloads.push(ourAuth(e, sa, idi, sa.nr), ...childOfferPayloads(e, offer));
  return { payloads, offer };
}

/** Initiator: authenticates the responder. The CHILD_SA part is completed by the caller. */
export function processAuthResponse(e: EngineCore, sa: IkeSa, res: Payload[]): void {
  if (notifyOf(res, NotifyType.AUTHENTICATION_FAILED)) {
    const what = policyAuth(e.policy).kind === 'psk' ? 'the PSK and our localId' : 'our certificate (its CA, validity and names) and our localId';
    throw new ExchangeError(NotifyType.AUTHENTICATION_FAILED, `peer refused our authentication (AUTHENTICATION_FAILED): check ${what}`);
  }
  try {
    verifyPeer(e, sa, res, sa.ni);
  } catch (err) {
    if (err instanceof ExchangeError && err.notifyType === NotifyType.AUTHENTICATION_FAILED) tellPeerAuthFailed(e, sa);
    throw err;
  }
}

/**
 * Responder: authenticates the initiator and builds IDr, [CERT+], AUTH. Returns whether the
 * peer asked for INITIAL_CONTACT. Throws ExchangeError(AUTHENTICATION_FAILED).
 */
export function answerAuthRequest(e: EngineCore, sa: IkeSa, req: Payload[]): { payloads: Payload[]; initialContact: boolean } {
  verifyPeer(e, sa, req, sa.nr);
  const auth = policyAuth(e.policy);
  const idr = idPayload(PayloadType.IDr, e.policy.localId);
  const certs = auth.kind === 'cert' ? certPayloads(auth) : [];
  return { payloads: [idr, ...certs, ourAuth(e, sa, idr, sa.ni)], initialContact: !!notifyOf(req, NotifyType.INITIAL_CONTACT) };
}
