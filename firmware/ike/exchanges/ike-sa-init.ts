// IKE_SA_INIT (RFC 7296 1.2, 2.6, 2.7, 2.23): proposals, key exchange, nonces, NAT detection,
// and the two ways a responder sends the initiator back: COOKIE and INVALID_KE_PAYLOAD.
import { createHmac } from 'node:crypto';
import { dhById, findDh } from '../../crypto/dh.ts';
import { newNonce, newSpi } from '../../crypto/random.ts';
import { NATT_PORT, NotifyType, PayloadType } from '../constants.ts';
import type { Endpoint } from '../actions.ts';
import { IkeSa } from '../ike-sa.ts';
import { deriveIkeSaKeys } from '../keys.ts';
import type { Payload } from '../message.ts';
import { checkNat, natNotifies } from '../nat-detect.ts';
import { checkChosenProposal, describeProposals, initiatorDh, promoteDh, selectProposal, toSaProposals, type ConfiguredProposal } from '../proposal.ts';
import { ExchangeError, find, notify, notifies, notifyOf, type EngineCore } from './core.ts';
import { signatureInitPayloads, recordPeerSignatureHashes } from './ike-auth.ts';

export interface InitAttempt {
  proposals: ConfiguredProposal[];
  dh: number;
  cookie?: Buffer;
}

/** The initiator's request: [N(COOKIE),] SA, KE, Ni, N(NAT_D_S), N(NAT_D_D). */
export function buildInitRequest(e: EngineCore, sa: IkeSa, attempt: InitAttempt): Payload[] {
  if (sa.ni.length === 0) sa.ni = newNonce(e.random);
  if (!sa.keyShare || sa.keyShare.method.id !== attempt.dh) sa.keyShare = dhById(attempt.dh).generate();
  sa.offered = toSaProposals(attempt.proposals);
  const out: Payload[] = [];
  if (attempt.cookie) out.push(notify(NotifyType.COOKIE, attempt.cookie));
  out.push(
    { type: PayloadType.SA, proposals: sa.offered },
    { type: PayloadType.KE, group: attempt.dh, data: sa.keyShare.publicValue },
    { type: PayloadType.NONCE, data: sa.ni },
    ...natNotifies(sa.spiI, sa.spiR, sa.local, sa.remote, e.policy.forceEncap, e.random),
    notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED),
    ...signatureInitPayloads(e, false),
  );
  return out;
}

export function firstAttempt(e: EngineCore): InitAttempt {
  const dh = initiatorDh(e.policy.ike);
  if (dh === undefined) throw new Error('no key exchange method in the IKE proposals');
  return { proposals: e.policy.ike, dh };
}

export type InitOutcome =
  | { kind: 'retry'; attempt: InitAttempt; why: string }
  | { kind: 'done' };

/** Processes the responder's answer; on success the SA has keys and the ports to use next. */
export function processInitResponse(e: EngineCore, sa: IkeSa, attempt: InitAttempt, res: Payload[], spiR: Buffer): InitOutcome {
  const cookie = notifyOf(res, NotifyType.COOKIE);
  if (cookie) {
    if (attempt.cookie) throw new ExchangeError(NotifyType.INVALID_SYNTAX, 'responder asked for a cookie again');
    return { kind: 'retry', attempt: { ...attempt, cookie: cookie.data }, why: 'responder demands a cookie (it is under load)' };
  }
  const invalidKe = notifyOf(res, NotifyType.INVALID_KE_PAYLOAD);
  if (invalidKe) {
    const group = invalidKe.data.length === 2 ? invalidKe.data.readUInt16BE(0) : -1;
    const ours = attempt.proposals.some((p) => p.transforms.some((t) => t.type === 4 && t.id === group));
    if (!ours || group === attempt.dh || !findDh(group)) {
      throw new ExchangeError(NotifyType.INVALID_KE_PAYLOAD, `responder wants key exchange group ${group}, which we do not offer`);
    }
    const { cookie: _drop, ...rest } = attempt;
    return { kind: 'retry', attempt: { ...rest, proposals: promoteDh(attempt.proposals, group), dh: group }, why: `responder asked for key exchange group ${findDh(group)!.name}` };
  }
  if (notifyOf(res, NotifyType.NO_PROPOSAL_CHOSEN)) {
    throw new ExchangeError(NotifyType.NO_PROPOSAL_CHOSEN, `peer accepted none of our IKE proposals: ${describeProposals(sa.offered)}`);
  }
  const err = notifies(res).find((n) => n.notifyType < 16384);
  if (err) throw new ExchangeError(err.notifyType, `IKE_SA_INIT refused: ${NotifyType[err.notifyType] ?? err.notifyType}`);
  const saP = find(res, PayloadType.SA);
  const ke = find(res, PayloadType.KE);
  const nonce = find(res, PayloadType.NONCE);
  if (!saP || !ke || !nonce) throw new ExchangeError(NotifyType.INVALID_SYNTAX, 'IKE_SA_INIT response lacks SA, KE or Nonce');
  const check = checkChosenProposal(sa.offered, saP.proposals);
  if (!check.ok) throw new ExchangeError(NotifyType.NO_PROPOSAL_CHOSEN, check.message);
  if (check.suite.dh !== attempt.dh || ke.group !== attempt.dh) {
    throw new ExchangeError(NotifyType.INVALID_SYNTAX, `responder chose group ${check.suite.dh} with KE ${ke.group}, we sent ${attempt.dh}`);
  }
  sa.spiR = spiR;
  sa.nr = nonce.data;
  const shared = sa.keyShare!.computeShared(ke.data);
  sa.setKeys(check.suite, deriveIkeSaKeys({ prf: prfOf(check.suite.prf!), sharedSecret: shared, ni: sa.ni, nr: sa.nr, spiI: sa.spiI, spiR: sa.spiR, encrKeyBytes: check.suite.encrKeymatBytes }));
  shared.fill(0);
  sa.keyShare = undefined;
  applyNat(e, sa, res);
  sa.fragmentation = !!notifyOf(res, NotifyType.IKEV2_FRAGMENTATION_SUPPORTED);
  recordPeerSignatureHashes(e, sa, res);
  return { kind: 'done' };
}

function applyNat(e: EngineCore, sa: IkeSa, payloads: Payload[]): void {
  const nat = checkNat(notifies(payloads), sa.spiI, sa.spiR, sa.local, sa.remote);
  sa.natLocal = nat?.natLocal ?? false;
  sa.natRemote = nat?.natRemote ?? false;
  // Our own NAT-D lie (forceEncap) makes the peer see a NAT; we must then float to 4500 too.
  if (sa.initiator && (sa.natLocal || sa.natRemote || e.policy.forceEncap) && sa.remote.port !== NATT_PORT) {
    sa.local = { ...sa.local, port: NATT_PORT };
    sa.remote = { ...sa.remote, port: NATT_PORT };
  }
}

import { prfById } from '../../crypto/prf.ts';
const prfOf = (id: number) => prfById(id);

// ---------------------------------------------------------------- responder

/**
 * Stateless cookie (RFC 7296 2.6): HMAC(secret, Ni | IPi | SPIi), with a version byte so the
 * secret can roll over.
 */
export function makeCookie(secret: Buffer, version: number, ni: Buffer, from: Endpoint, spiI: Buffer): Buffer {
  const mac = createHmac('sha256', secret).update(ni).update(from.address).update(spiI).digest();
  return Buffer.concat([Buffer.from([version]), mac.subarray(0, 16)]);
}

export interface InitRequestView {
  spiI: Buffer;
  raw: Buffer;
  payloads: Payload[];
  from: Endpoint;
  to: Endpoint;
}

export type InitAnswer =
  | { kind: 'reject'; payloads: Payload[]; reason: string }
  | { kind: 'accept'; sa: IkeSa; payloads: Payload[] };

/** The responder's processing of an IKE_SA_INIT request (cookie checks are done by the engine). */
export function answerInitRequest(e: EngineCore, req: InitRequestView): InitAnswer {
  const saP = find(req.payloads, PayloadType.SA);
  const ke = find(req.payloads, PayloadType.KE);
  const nonce = find(req.payloads, PayloadType.NONCE);
  if (!saP || !ke || !nonce) return { kind: 'reject', payloads: [notify(NotifyType.INVALID_SYNTAX)], reason: 'IKE_SA_INIT request lacks SA, KE or Nonce' };
  const sel = selectProposal(saP.proposals, e.policy.ike, { preferDh: ke.group });
  if (!sel.ok) return { kind: 'reject', payloads: [notify(NotifyType.NO_PROPOSAL_CHOSEN)], reason: sel.message };
  if (sel.suite.dh !== ke.group) {
    const data = Buffer.alloc(2);
    data.writeUInt16BE(sel.suite.dh!);
    return { kind: 'reject', payloads: [notify(NotifyType.INVALID_KE_PAYLOAD, data)], reason: `peer sent KE group ${ke.group}, we want ${dhById(sel.suite.dh!).name}` };
  }
  const sa = new IkeSa(false, req.spiI, newSpi(8, e.random), req.to, req.from);
  sa.ni = nonce.data;
  sa.nr = newNonce(e.random);
  const share = dhById(sel.suite.dh!).generate();
  let shared: Buffer;
  try {
    shared = share.computeShared(ke.data);
  } catch (err) {
    return { kind: 'reject', payloads: [notify(NotifyType.INVALID_SYNTAX)], reason: `bad KE from peer: ${(err as Error).message}` };
  }
  sa.setKeys(sel.suite, deriveIkeSaKeys({ prf: prfOf(sel.suite.prf!), sharedSecret: shared, ni: sa.ni, nr: sa.nr, spiI: sa.spiI, spiR: sa.spiR, encrKeyBytes: sel.suite.encrKeymatBytes }));
  shared.fill(0);
  sa.peerInitMessage = req.raw;
  applyNat(e, sa, req.payloads);
  recordPeerSignatureHashes(e, sa, req.payloads);
  const payloads: Payload[] = [
    { type: PayloadType.SA, proposals: [sel.proposal] },
    { type: PayloadType.KE, group: sel.suite.dh!, data: share.publicValue },
    { type: PayloadType.NONCE, data: sa.nr },
    ...natNotifies(sa.spiI, sa.spiR, sa.local, sa.remote, e.policy.forceEncap, e.random),
    ...signatureInitPayloads(e, true),
  ];
  if (notifyOf(req.payloads, NotifyType.IKEV2_FRAGMENTATION_SUPPORTED)) {
    sa.fragmentation = true;
    payloads.push(notify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED));
  }
  return { kind: 'accept', sa, payloads };
}
