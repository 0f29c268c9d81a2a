// Turns the daemon's event stream (IKE engine events, config commits) into the fleet's
// vocabulary: "tunnel-up" when the first CHILD_SA is installed (traffic can flow), "tunnel-down"
// with the reason when the last one goes, rekeys, auth failures, DPD timeouts, config commits.
// A rekey installs the new CHILD_SA before the old one is removed, so it never reads as a flap.
import type { TunnelStatus } from '../cli/status-model.ts';
import type { DaemonEvent } from '../daemon.ts';
import type { Endpoint } from '../ike/actions.ts';
import { clip, type EventBody } from './payloads.ts';

interface IkeInfo {
  proposal: string;
  remote: Endpoint;
  natLocal: boolean;
}

export class EventTranslator {
  /** IKE and CHILD_SA rekeys seen. */
  rekeys = 0;
  private readonly ike = new Map<string, IkeInfo>();
  /** Installed CHILD_SAs: inbound SPI -> IKE SA id. */
  private readonly children = new Map<string, string>();

  get tunnelUp(): boolean {
    return this.children.size > 0;
  }

  /**
   * Takes the tunnel as it is when reporting starts (the daemon may have brought it up before
   * the reporter subscribed); returns a tunnel-up if it is already up.
   */
  seed(t: TunnelStatus): EventBody[] {
    if (this.tunnelUp || !t.ikeSa || t.childSas.length === 0) return [];
    const ikeId = t.ikeSa.role === 'initiator' ? t.ikeSa.spiInitiator : t.ikeSa.spiResponder;
    if (t.remote) this.ike.set(ikeId, { proposal: t.ikeSa.algorithms, remote: t.remote, natLocal: t.nat.local });
    for (const c of t.childSas) this.children.set(c.spiIn, ikeId);
    const c = t.childSas[0]!;
    return [{
      type: 'tunnel-up', remote: t.remote, ikeAlgorithms: t.ikeSa.algorithms, childAlgorithms: c.algorithms,
      natDetected: t.nat.local, localTs: clip(c.localTs.join(' ')), remoteTs: clip(c.remoteTs.join(' ')),
    }];
  }

  translate(d: DaemonEvent): EventBody[] {
    if (d.type === 'config-applied') return [{ type: 'config-committed', sections: [...d.sections] }];
    if (d.type === 'config-rolled-back') return [{ type: 'config-rolled-back', reason: clip(d.reason) }];
    const e = d.event;
    switch (e.type) {
      case 'ike-up':
        this.ike.set(e.ikeId, { proposal: e.proposal, remote: e.remote, natLocal: e.natLocal });
        return [];
      case 'child-up': {
        const wasUp = this.tunnelUp;
        this.children.set(e.spiIn, e.ikeId);
        const info = this.ike.get(e.ikeId);
        if (!wasUp) {
          return [{
            type: 'tunnel-up', remote: info?.remote ?? null, ikeAlgorithms: info?.proposal ?? null, childAlgorithms: e.proposal,
            natDetected: info?.natLocal ?? false, localTs: clip(e.localTs), remoteTs: clip(e.remoteTs),
          }];
        }
        if (!e.rekey) return [];
        this.rekeys++;
        return [{ type: 'rekey', sa: 'child', algorithms: e.proposal }];
      }
      case 'child-down':
        if (!this.children.delete(e.spiIn)) return [];
        return this.tunnelUp ? [] : [{ type: 'tunnel-down', reason: clip(e.reason) }];
      case 'ike-down': {
        this.ike.delete(e.ikeId);
        let removed = false;
        for (const [spi, ikeId] of this.children) if (ikeId === e.ikeId) { this.children.delete(spi); removed = true; }
        return removed && !this.tunnelUp ? [{ type: 'tunnel-down', reason: clip(e.reason) }] : [];
      }
      case 'ike-rekeyed': {
        this.rekeys++;
        const info = this.ike.get(e.oldIkeId);
        this.ike.delete(e.oldIkeId);
        if (info) this.ike.set(e.ikeId, info);
        for (const [spi, ikeId] of this.children) if (ikeId === e.oldIkeId) this.children.set(spi, e.ikeId);
        return [{ type: 'rekey', sa: 'ike', algorithms: info?.proposal ?? null }];
      }
      case 'auth-failed':
        return [{ type: 'auth-failed', reason: clip(e.reason) }];
      case 'negotiation-failed':
        return [{ type: 'negotiation-failed', notify: clip(e.notify, 64), detail: clip(e.detail) }];
      case 'dpd-timeout':
        return [{ type: 'dpd-timeout' }];
      case 'exchange-sent':
      case 'connect-failed':
        return [];
    }
  }
}
