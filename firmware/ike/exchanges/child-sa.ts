// The CHILD_SA part of IKE_AUTH and CREATE_CHILD_SA: ESP proposals with our SPI, traffic
// selectors (narrowed by the responder, RFC 7296 2.9), optional PFS key exchange, KEYMAT.
import { dhById, type KeyShare } from '../../crypto/dh.ts';
import { newNonce, newSpi } from '../../crypto/random.ts';
import { NotifyType, PayloadType, ProtocolId } from '../constants.ts';
import type { ChildSa, IkeSa } from '../ike-sa.ts';
import { deriveChildSaKeys } from '../keys.ts';
import type { Payload } from '../message.ts';
import { checkChosenProposal, initiatorDh, selectProposal, toSaProposals, withoutKe, type SaProposal } from '../proposal.ts';
import { allCovered, formatSelectors, narrow } from '../selectors.ts';
import { ExchangeError, find, notifyOf, type EngineCore } from './core.ts';

/** What the initiator of a CHILD_SA negotiation remembers until the response. */
export interface ChildOffer {
  spiIn: Buffer;
  proposals: SaProposal[];
  nonce: Buffer;
  keyShare?: KeyShare;
  /** Inside IKE_AUTH: no nonce, no KE, keys from the IKE_SA_INIT nonces. */
  inAuth: boolean;
}

export function makeChildOffer(e: EngineCore, inAuth: boolean, pfsDh?: number): ChildOffer {
  const spiIn = newSpi(4, e.random);
  const configured = inAuth ? withoutKe(e.policy.esp) : e.policy.esp;
  const dh = inAuth ? undefined : pfsDh ?? initiatorDh(configured);
  const offer: ChildOffer = { spiIn, proposals: toSaProposals(configured, spiIn), nonce: inAuth ? Buffer.alloc(0) : newNonce(e.random), inAuth };
  if (dh !== undefined) offer.keyShare = dhById(dh).generate();
  return offer;
}

/** SA, [Nonce, KE,] TSi, TSr for a request (inside IKE_AUTH: SA, TSi, TSr). */
export function childOfferPayloads(e: EngineCore, offer: ChildOffer): Payload[] {
  const out: Payload[] = [{ type: PayloadType.SA, proposals: offer.proposals }];
  if (!offer.inAuth) out.push({ type: PayloadType.NONCE, data: offer.nonce });
  if (offer.keyShare) out.push({ type: PayloadType.KE, group: offer.keyShare.method.id, data: offer.keyShare.publicValue });
  out.push({ type: PayloadType.TSi, selectors: e.policy.localTs }, { type: PayloadType.TSr, selectors: e.policy.remoteTs });
  return out;
}

function lifetimes(e: EngineCore, now: number, weInitiated: boolean): { rekeyAt: number; expireAt: number } {
  const life = e.policy.childLifetimeSeconds * 1000;
  // Rekey before expiry, with jitter so both ends rarely start at once (RFC 7296 2.8 suggests
  // randomness); the side that did not initiate waits a little longer.
  const frac = (weInitiated ? 0.8 : 0.88) + (e.random(1)[0]! / 255) * 0.07;
  return { rekeyAt: now + life * frac, expireAt: now + life };
}

/**
 * Initiator: checks the response's SA/TS/KE against the offer and installs the CHILD_SA.
 * Throws ExchangeError (the caller logs it and, where the RFC says so, deletes what was made).
 */
export function completeChildOffer(e: EngineCore, sa: IkeSa, offer: ChildOffer, res: Payload[], ni: Buffer, nr: Buffer, now: number, rekey: boolean): ChildSa {
  for (const t of [NotifyType.NO_PROPOSAL_CHOSEN, NotifyType.TS_UNACCEPTABLE, NotifyType.SINGLE_PAIR_REQUIRED, NotifyType.INVALID_KE_PAYLOAD, NotifyType.NO_ADDITIONAL_SAS, NotifyType.INTERNAL_ADDRESS_FAILURE, NotifyType.FAILED_CP_REQUIRED, NotifyType.TEMPORARY_FAILURE, NotifyType.CHILD_SA_NOT_FOUND]) {
    if (notifyOf(res, t)) {
      const detail = t === NotifyType.TS_UNACCEPTABLE ? `we proposed local ${formatSelectors(e.policy.localTs)} remote ${formatSelectors(e.policy.remoteTs)}`
        : t === NotifyType.NO_PROPOSAL_CHOSEN ? `peer accepted none of ESP ${offer.proposals.length} proposal(s)` : '';
      throw new ExchangeError(t, `CHILD_SA refused by peer: ${NotifyType[t]}${detail ? ' (' + detail + ')' : ''}`);
    }
  }
  const saP = find(res, PayloadType.SA);
  const tsi = find(res, PayloadType.TSi);
  const tsr = find(res, PayloadType.TSr);
  if (!saP || !tsi || !tsr) throw new ExchangeError(NotifyType.INVALID_SYNTAX, 'CHILD_SA response lacks SA, TSi or TSr');
  const check = checkChosenProposal(offer.proposals, saP.proposals, { skipKe: offer.inAuth });
  if (!check.ok) throw new ExchangeError(NotifyType.NO_PROPOSAL_CHOSEN, check.message);
  // The responder may only narrow what we asked for (RFC 7296 2.9).
  if (tsi.selectors.length === 0 || tsr.selectors.length === 0 || !allCovered(tsi.selectors, e.policy.localTs) || !allCovered(tsr.selectors, e.policy.remoteTs)) {
    throw new ExchangeError(NotifyType.TS_UNACCEPTABLE, `peer answered selectors ${formatSelectors(tsi.selectors)} === ${formatSelectors(tsr.selectors)} outside ours`);
  }
  let shared: Buffer | undefined;
  if (offer.keyShare) {
    const ke = find(res, PayloadType.KE);
    if (check.suite.dh === undefined) {
      // Peer chose a proposal without PFS although we sent KE: allowed only if we offered NONE.
    } else {
      if (!ke || ke.group !== offer.keyShare.method.id || check.suite.dh !== ke.group) throw new ExchangeError(NotifyType.INVALID_SYNTAX, 'CHILD_SA response KE does not match the chosen group');
      shared = offer.keyShare.computeShared(ke.data);
    }
  }
  const spiOut = check.proposal.spi;
  const child: ChildSa = {
    spiIn: offer.spiIn, spiOut, suite: check.suite, localTs: tsi.selectors, remoteTs: tsr.selectors, createdAt: now,
    ...lifetimes(e, now, true), state: 'installed', nonces: [ni, nr],
  };
  const keys = deriveChildSaKeys({ prf: sa.prf!, skD: sa.keys!.skD, ni, nr, encrKeyBytes: check.suite.encrKeymatBytes, ...(shared ? { sharedSecret: shared } : {}) });
  e.installChild(sa, child, keys, true, now, rekey);
  return child;
}

/**
 * Responder: selects a proposal and narrows the selectors for a CHILD_SA request. Returns the
 * payloads of the answer (SA, [Nonce, KE,] TSi, TSr) and installs the CHILD_SA; throws
 * ExchangeError with the notify to send otherwise.
 */
export function answerChildRequest(e: EngineCore, sa: IkeSa, req: Payload[], ni: Buffer, nr: Buffer | undefined, inAuth: boolean, now: number, rekey: boolean): { payloads: Payload[]; child: ChildSa } {
  const saP = find(req, PayloadType.SA);
  const tsi = find(req, PayloadType.TSi);
  const tsr = find(req, PayloadType.TSr);
  if (!saP || !tsi || !tsr) throw new ExchangeError(NotifyType.INVALID_SYNTAX, 'CHILD_SA request lacks SA, TSi or TSr');
  if (notifyOf(req, NotifyType.USE_TRANSPORT_MODE)) {
    throw new ExchangeError(NotifyType.NO_PROPOSAL_CHOSEN, 'peer asked for transport mode; Outpost only does tunnel mode');
  }
  const ke = inAuth ? undefined : find(req, PayloadType.KE);
  const sel = selectProposal(saP.proposals.filter((p) => p.protocol === ProtocolId.ESP), e.policy.esp, { skipKe: inAuth, ...(ke ? { preferDh: ke.group } : {}) });
  if (!sel.ok) throw new ExchangeError(NotifyType.NO_PROPOSAL_CHOSEN, sel.message);
  if (sel.proposal.spi.length !== 4) throw new ExchangeError(NotifyType.INVALID_SYNTAX, 'ESP proposal without a 4-byte SPI');
  let shared: Buffer | undefined;
  let ourKe: Payload | undefined;
  if (!inAuth && sel.suite.dh !== undefined) {
    if (!ke || ke.group !== sel.suite.dh) {
      const data = Buffer.alloc(2);
      data.writeUInt16BE(sel.suite.dh);
      throw new ExchangeError(NotifyType.INVALID_KE_PAYLOAD, `peer's KE group ${ke?.group ?? 'none'} is not the chosen ${sel.suite.dh}`, data);
    }
    const share = dhById(sel.suite.dh).generate();
    shared = share.computeShared(ke.data);
    ourKe = { type: PayloadType.KE, group: share.method.id, data: share.publicValue };
  }
  // Peer's TSi is its side (our remote), its TSr is ours.
  const remoteTs = narrow(tsi.selectors, e.policy.remoteTs);
  const localTs = narrow(tsr.selectors, e.policy.localTs);
  if (remoteTs.length === 0 || localTs.length === 0) {
    throw new ExchangeError(NotifyType.TS_UNACCEPTABLE,
      `selectors unacceptable: peer proposed ${formatSelectors(tsi.selectors)} === ${formatSelectors(tsr.selectors)}, we allow ${formatSelectors(e.policy.remoteTs)} === ${formatSelectors(e.policy.localTs)}`);
  }
  const spiIn = newSpi(4, e.random);
  const nonce = nr ?? Buffer.alloc(0);
  const child: ChildSa = {
    spiIn, spiOut: sel.proposal.spi, suite: sel.suite, localTs, remoteTs, createdAt: now,
    ...lifetimes(e, now, false), state: 'installed', nonces: [ni, nonce],
  };
  const keys = deriveChildSaKeys({ prf: sa.prf!, skD: sa.keys!.skD, ni: inAuth ? sa.ni : ni, nr: inAuth ? sa.nr : nonce, encrKeyBytes: sel.suite.encrKeymatBytes, ...(shared ? { sharedSecret: shared } : {}) });
  e.installChild(sa, child, keys, false, now, rekey);
  const payloads: Payload[] = [{ type: PayloadType.SA, proposals: [{ ...sel.proposal, spi: spiIn }] }];
  if (!inAuth) payloads.push({ type: PayloadType.NONCE, data: nonce });
  if (ourKe) payloads.push(ourKe);
  payloads.push({ type: PayloadType.TSi, selectors: remoteTs }, { type: PayloadType.TSr, selectors: localTs });
  return { payloads, child };
}
