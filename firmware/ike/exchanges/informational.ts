// INFORMATIONAL (RFC 7296 1.4, 2.4): liveness checks (DPD) and Delete, in both roles.
import { ExchangeType, NotifyType, PayloadType, ProtocolId } from '../constants.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { Payload } from '../message.ts';
import type { DeletePayload } from '../payloads/delete.ts';
import { notifies, type EngineCore } from './core.ts';

/** An empty INFORMATIONAL request: the peer must answer, or it is dead (RFC 7296 2.4). */
export function startDpd(e: EngineCore, sa: IkeSa, now: number): void {
  e.request(sa, now, ExchangeType.INFORMATIONAL, 'DPD', () => [], (_p, _h, t, sent) => {
    // Only an answer to the first send measures the path; one after a retransmission does not.
    if (sent.tries === 0) sa.dpdRttMs = t - sent.firstSentAt;
  }, (t) => {
    e.event({ type: 'dpd-timeout', ikeId: sa.id });
    e.killIkeSa(sa, 'peer did not answer (dead peer detection)', t);
  });
}

export interface InformationalAnswer {
  payloads: Payload[];
  /** The peer deleted the IKE SA: close it once the answer is sent. */
  ikeDeleted: boolean;
}

/**
 * Responder: Delete payloads remove the named CHILD_SAs (answering with our inbound SPIs of
 * the pairs, unless we are deleting them ourselves) or the IKE SA; notifies are logged.
 */
export function answerInformational(e: EngineCore, sa: IkeSa, req: Payload[]): InformationalAnswer {
  const out: Payload[] = [];
  let ikeDeleted = false;
  for (const p of req) {
    if (p.type !== PayloadType.DELETE) continue;
    const d = p as DeletePayload;
    if (d.protocol === ProtocolId.IKE) {
      ikeDeleted = true;
      continue;
    }
    if (d.protocol !== ProtocolId.ESP) continue;
    const ours: Buffer[] = [];
    for (const spi of d.spis) {
      const child = sa.childByOutSpi(spi);
      if (!child) continue;
      // A CHILD_SA we are deleting ourselves is not listed again (RFC 7296 1.4.1).
      if (child.state !== 'deleting') ours.push(child.spiIn);
      e.removeChild(sa, child, 'deleted by peer');
    }
    if (ours.length) out.push({ type: PayloadType.DELETE, protocol: ProtocolId.ESP, spiSize: 4, spis: ours });
  }
  for (const n of notifies(req)) {
    e.log.info('peer-notify', { ike: sa.id, notify: NotifyType[n.notifyType] ?? n.notifyType });
    // An initiator that refuses our AUTH tells us so in an INFORMATIONAL (RFC 7296 2.21.2):
    // the IKE SA is dead, as strongSwan also treats it.
    if (n.notifyType === NotifyType.AUTHENTICATION_FAILED || n.notifyType === NotifyType.INVALID_SYNTAX) ikeDeleted = true;
  }
  return { payloads: ikeDeleted ? [] : out, ikeDeleted };
}
