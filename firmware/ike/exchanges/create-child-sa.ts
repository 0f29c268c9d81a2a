// CREATE_CHILD_SA (RFC 7296 1.3, 2.8, 2.8.1, 2.18): a new CHILD_SA, a CHILD_SA rekey and an IKE
// SA rekey, for both roles, including simultaneous rekeys resolved by the lowest nonce.
import { dhById, type KeyShare } from '../../crypto/dh.ts';
import { newNonce, newSpi } from '../../crypto/random.ts';
import { prfById } from '../../crypto/prf.ts';
import { ExchangeType, NotifyType, PayloadType, ProtocolId } from '../constants.ts';
import { IkeSa, type ChildSa } from '../ike-sa.ts';
import { deriveRekeyedIkeSaKeys } from '../keys.ts';
import type { Payload } from '../message.ts';
import { checkChosenProposal, initiatorDh, selectProposal, toSaProposals, type SaProposal } from '../proposal.ts';
import { answerChildRequest, childOfferPayloads, completeChildOffer, makeChildOffer } from './child-sa.ts';
import { ExchangeError, find, notify, notifyOf, type EngineCore } from './core.ts';

const lowest = (nonces: Buffer[]) => nonces.reduce((a, b) => (Buffer.compare(a, b) <= 0 ? a : b));

// ---------------------------------------------------------------- CHILD_SA rekey / create

/** Starts rekeying `old` (or, without `old`, creating a fresh CHILD_SA). */
export function startChildRekey(e: EngineCore, sa: IkeSa, old: ChildSa | undefined, now: number, onDone?: (ok: boolean) => void): void {
  if (old) old.state = 'rekeying';
  const pfs = old?.suite.dh;
  let offer: ReturnType<typeof makeChildOffer>;
  e.request(sa, now, ExchangeType.CREATE_CHILD_SA, old ? `rekey CHILD_SA ${old.spiIn.toString('hex')}` : 'create CHILD_SA',
    () => {
      if (old && (old.state !== 'rekeying' || !sa.children.includes(old))) return null; // deleted meanwhile
      // A fresh CHILD_SA replaces one the peer deleted; a rekey that completed meanwhile already did.
      if (!old && sa.children.some((c) => c.state === 'installed' || c.state === 'rekeying')) return null;
      offer = makeChildOffer(e, false, pfs);
      const p: Payload[] = [];
      if (old) p.push(notify(NotifyType.REKEY_SA, Buffer.alloc(0), ProtocolId.ESP, old.spiIn));
      return [...p, ...childOfferPayloads(e, offer)];
    },
    (res, _h, t) => {
      try {
        const nr = find(res, PayloadType.NONCE)?.data;
        if (!nr && !notifyOf(res, NotifyType.TEMPORARY_FAILURE) && !notifyOf(res, NotifyType.NO_PROPOSAL_CHOSEN) && !notifyOf(res, NotifyType.TS_UNACCEPTABLE)) {
          throw new ExchangeError(NotifyType.INVALID_SYNTAX, 'CREATE_CHILD_SA response without nonce');
        }
        const child = completeChildOffer(e, sa, offer, res, offer.nonce, nr ?? Buffer.alloc(0), t, !!old);
        if (old) finishChildRekey(e, sa, old, child, t);
        onDone?.(true);
      } catch (err) {
        if (old && sa.children.includes(old)) old.state = 'installed';
        if (err instanceof ExchangeError && err.notifyType === NotifyType.TEMPORARY_FAILURE) {
          e.log.info('rekey-deferred', { ike: sa.id, reason: 'peer is busy rekeying (TEMPORARY_FAILURE)' });
          if (old) old.rekeyAt = t + 2000 + e.random(1)[0]! * 20;
        } else {
          e.log.warn('child-create-failed', { ike: sa.id, reason: (err as Error).message });
        }
        onDone?.(false);
      }
    });
}

/**
 * After our rekey of `old` produced `fresh`: if the peer rekeyed `old` at the same time and its
 * exchange holds the lowest nonce, ours is the redundant SA and we delete it; otherwise we
 * delete `old` as usual (RFC 7296 2.8.1).
 */
function finishChildRekey(e: EngineCore, sa: IkeSa, old: ChildSa, fresh: ChildSa, now: number): void {
  const theirs = sa.children.find((c) => c !== fresh && c.rekeyOf?.equals(old.spiIn));
  if (theirs && theirs.nonces && fresh.nonces && lowest([...fresh.nonces, ...theirs.nonces]) !== lowest(theirs.nonces)) {
    e.log.info('rekey-collision', { ike: sa.id, redundant: fresh.spiIn.toString('hex'), kept: theirs.spiIn.toString('hex') });
    deleteChildren(e, sa, [fresh], now, 'redundant after simultaneous rekey');
    return;
  }
  old.state = 'rekeyed';
  deleteChildren(e, sa, [old], now, 'rekeyed');
}

/** Sends an INFORMATIONAL Delete for `children` and removes them once answered (or at once on timeout). */
export function deleteChildren(e: EngineCore, sa: IkeSa, children: ChildSa[], now: number, reason: string): void {
  for (const c of children) c.state = 'deleting';
  e.request(sa, now, ExchangeType.INFORMATIONAL, `delete CHILD_SA ${children.map((c) => c.spiIn.toString('hex')).join(',')}`,
    () => {
      const live = children.filter((c) => sa.children.includes(c));
      if (live.length === 0) return null;
      return [{ type: PayloadType.DELETE, protocol: ProtocolId.ESP, spiSize: 4, spis: live.map((c) => c.spiIn) }];
    },
    () => { for (const c of children) if (sa.children.includes(c)) e.removeChild(sa, c, reason); },
    () => { for (const c of children) if (sa.children.includes(c)) e.removeChild(sa, c, reason); });
}

/** Responder side of CREATE_CHILD_SA for a CHILD_SA (new or rekey). */
export function answerChildExchange(e: EngineCore, sa: IkeSa, req: Payload[], now: number): Payload[] {
  const ni = find(req, PayloadType.NONCE)?.data;
  if (!ni) throw new ExchangeError(NotifyType.INVALID_SYNTAX, 'CREATE_CHILD_SA request without nonce');
  const rekey = notifyOf(req, NotifyType.REKEY_SA);
  let old: ChildSa | undefined;
  if (rekey) {
    old = sa.childByOutSpi(rekey.spi);
    if (!old || old.state === 'deleting' || old.state === 'rekeyed') {
      throw new ExchangeError(NotifyType.CHILD_SA_NOT_FOUND, `peer rekeys unknown CHILD_SA ${rekey.spi.toString('hex')}`, Buffer.alloc(0));
    }
  }
  const nr = newNonce(e.random);
  const { payloads, child } = answerChildRequest(e, sa, req, ni, nr, false, now, !!old);
  if (old) {
    child.rekeyOf = old.spiIn;
    // The peer deletes the old SA; if it never does, it expires on its own.
    if (old.state === 'installed') old.state = 'rekeyed';
  }
  return payloads;
}

// ---------------------------------------------------------------- IKE SA rekey

/** Starts rekeying the IKE SA: a new IKE SA with fresh SPIs, DH and nonces (RFC 7296 1.3.2). */
export function startIkeRekey(e: EngineCore, sa: IkeSa, now: number): void {
  if (sa.state !== 'established') return;
  sa.state = 'rekeying';
  const spi = newSpi(8, e.random);
  const ni = newNonce(e.random);
  const dh = sa.suite?.dh ?? initiatorDh(e.policy.ike)!;
  const share: KeyShare = dhById(dh).generate();
  // Our current group first, so the rekey needs no INVALID_KE round trip.
  const offered: SaProposal[] = toSaProposals(e.policy.ike, spi);
  e.request(sa, now, ExchangeType.CREATE_CHILD_SA, 'rekey IKE_SA',
    () => (sa.state === 'rekeying' ? [
      { type: PayloadType.SA, proposals: offered },
      { type: PayloadType.NONCE, data: ni },
      { type: PayloadType.KE, group: dh, data: share.publicValue },
    ] : null),
    (res, _h, t) => {
      try {
        if (notifyOf(res, NotifyType.TEMPORARY_FAILURE)) throw new ExchangeError(NotifyType.TEMPORARY_FAILURE, 'peer is busy');
        const saP = find(res, PayloadType.SA), nr = find(res, PayloadType.NONCE), ke = find(res, PayloadType.KE);
        if (!saP || !nr || !ke) throw new ExchangeError(NotifyType.INVALID_SYNTAX, 'IKE rekey response lacks SA, Nonce or KE');
        const check = checkChosenProposal(offered, saP.proposals);
        if (!check.ok) throw new ExchangeError(NotifyType.NO_PROPOSAL_CHOSEN, check.message);
        if (check.suite.dh !== ke.group || ke.group !== dh) throw new ExchangeError(NotifyType.INVALID_KE_PAYLOAD, `peer chose group ${ke.group}`);
        const fresh = new IkeSa(true, spi, check.proposal.spi, sa.local, sa.remote);
        fresh.ni = ni;
        fresh.nr = nr.data;
        rekeyKeys(sa, fresh, check.suite, share.computeShared(ke.data));
        const theirs = sa.rekeyedBy;
        if (theirs && lowest([ni, nr.data, theirs.ni, theirs.nr]) !== lowest([theirs.ni, theirs.nr])) {
          // Simultaneous IKE rekey and ours holds the lowest nonce: ours is redundant (2.8.1).
          e.log.info('ike-rekey-collision', { ike: sa.id, redundant: fresh.id, kept: theirs.id });
          e.adoptIkeSa(fresh);
          fresh.state = 'established';
          fresh.children = [];
          deleteIkeSa(e, fresh, t, 'redundant after simultaneous IKE rekey');
          return;
        }
        switchOver(e, sa, fresh, t);
      } catch (err) {
        if (sa.state === 'rekeying') sa.state = 'established';
        sa.rekeyAt = t + 5000 + e.random(1)[0]! * 40;
        e.log.warn('ike-rekey-failed', { ike: sa.id, reason: (err as Error).message });
      }
    });
}

function rekeyKeys(old: IkeSa, fresh: IkeSa, suite: NonNullable<IkeSa['suite']>, shared: Buffer): void {
  fresh.setKeys(suite, deriveRekeyedIkeSaKeys({
    oldPrf: old.prf!, oldSkD: old.keys!.skD, prf: prfById(suite.prf!), sharedSecret: shared,
    ni: fresh.ni, nr: fresh.nr, spiI: fresh.spiI, spiR: fresh.spiR, encrKeyBytes: suite.encrKeymatBytes,
  }));
  shared.fill(0);
  fresh.natLocal = old.natLocal;
  fresh.natRemote = old.natRemote;
  fresh.remoteIdText = old.remoteIdText;
}

/** Moves the children to the new IKE SA and deletes the old one (we initiated the rekey). */
function switchOver(e: EngineCore, old: IkeSa, fresh: IkeSa, now: number): void {
  // After a collision we won, the children already sit on the peer's (redundant) new SA.
  const theirs = old.rekeyedBy;
  fresh.children = [...old.children, ...(theirs?.children ?? [])];
  old.children = [];
  if (theirs) theirs.children = [];
  e.adoptIkeSa(fresh);
  e.established(fresh, now);
  e.event({ type: 'ike-rekeyed', oldIkeId: old.id, ikeId: fresh.id });
  old.state = 'rekeyed';
  deleteIkeSa(e, old, now, 'rekeyed');
}

/** INFORMATIONAL Delete for the IKE SA; it is gone locally once answered or timed out. */
export function deleteIkeSa(e: EngineCore, sa: IkeSa, now: number, reason: string): void {
  const finish = (t: number) => e.killIkeSa(sa, reason, t);
  e.request(sa, now, ExchangeType.INFORMATIONAL, 'delete IKE_SA',
    () => [{ type: PayloadType.DELETE, protocol: ProtocolId.IKE, spiSize: 0, spis: [] }],
    (_r, _h, t) => finish(t), finish);
}

/** Responder side of an IKE SA rekey. The peer (the rekey's initiator) deletes the old SA afterwards. */
export function answerIkeRekey(e: EngineCore, sa: IkeSa, req: Payload[], now: number): Payload[] {
  const saP = find(req, PayloadType.SA), ni = find(req, PayloadType.NONCE), ke = find(req, PayloadType.KE);
  if (!saP || !ni || !ke) throw new ExchangeError(NotifyType.INVALID_SYNTAX, 'IKE rekey request lacks SA, Nonce or KE');
  if (sa.children.some((c) => c.state === 'rekeying') || (sa.pending && sa.pending.exchange === ExchangeType.CREATE_CHILD_SA && sa.state !== 'rekeying')) {
    // A CHILD_SA rekey of ours is in flight: RFC 7296 2.25 allows refusing for now.
    throw new ExchangeError(NotifyType.TEMPORARY_FAILURE, 'CHILD_SA rekey in progress');
  }
  const sel = selectProposal(saP.proposals.filter((p) => p.protocol === ProtocolId.IKE), e.policy.ike, { preferDh: ke.group });
  if (!sel.ok) throw new ExchangeError(NotifyType.NO_PROPOSAL_CHOSEN, sel.message);
  if (sel.suite.dh !== ke.group) {
    const d = Buffer.alloc(2);
    d.writeUInt16BE(sel.suite.dh!);
    throw new ExchangeError(NotifyType.INVALID_KE_PAYLOAD, `peer's KE group ${ke.group} is not the chosen one`, d);
  }
  if (sel.proposal.spi.length !== 8) throw new ExchangeError(NotifyType.INVALID_SYNTAX, 'IKE rekey proposal without an 8-byte SPI');
  const share = dhById(sel.suite.dh!).generate();
  const fresh = new IkeSa(false, sel.proposal.spi, newSpi(8, e.random), sa.local, sa.remote);
  fresh.ni = ni.data;
  fresh.nr = newNonce(e.random);
  rekeyKeys(sa, fresh, sel.suite, share.computeShared(ke.data));
  // Children move now; the old SA lingers until the peer deletes it (or our own rekey loses).
  fresh.children = sa.children;
  sa.children = [];
  sa.rekeyedBy = fresh;
  sa.retiredAt = now;
  if (sa.state !== 'rekeying') sa.state = 'rekeyed';
  e.adoptIkeSa(fresh);
  e.established(fresh, now);
  e.event({ type: 'ike-rekeyed', oldIkeId: sa.id, ikeId: fresh.id });
  return [
    { type: PayloadType.SA, proposals: [{ ...sel.proposal, spi: fresh.spiR }] },
    { type: PayloadType.NONCE, data: fresh.nr },
    { type: PayloadType.KE, group: sel.suite.dh!, data: share.publicValue },
  ];
}
