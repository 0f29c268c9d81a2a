// NAT detection (RFC 7296 2.23): SHA-1(SPIi | SPIr | IP | port) in NAT_DETECTION_*_IP notifies.
// Outpost as initiator forces UDP encapsulation the way strongSwan's `encap = yes` does: its
// source hash is deliberately wrong, so the responder believes there is a NAT and both sides
// send ESP in UDP 4500 (Node cannot send raw ESP; see DESIGN.md).
import { createHash } from 'node:crypto';
import { NotifyType, PayloadType } from './constants.ts';
import type { Endpoint } from './actions.ts';
import type { NotifyPayload } from './payloads/notify.ts';
import { addressBytes } from './selectors.ts';
import type { RandomSource } from '../crypto/random.ts';

export function natHash(spiI: Buffer, spiR: Buffer, ep: Endpoint): Buffer {
  const port = Buffer.alloc(2);
  port.writeUInt16BE(ep.port);
  return createHash('sha1').update(spiI).update(spiR).update(addressBytes(ep.address)).update(port).digest();
}

export function natNotifies(spiI: Buffer, spiR: Buffer, local: Endpoint, remote: Endpoint, forceEncap: boolean, random: RandomSource): NotifyPayload[] {
  const src = forceEncap ? random(20) : natHash(spiI, spiR, local);
  return [
    { type: PayloadType.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notifyType: NotifyType.NAT_DETECTION_SOURCE_IP, data: src },
    { type: PayloadType.NOTIFY, protocol: 0, spi: Buffer.alloc(0), notifyType: NotifyType.NAT_DETECTION_DESTINATION_IP, data: natHash(spiI, spiR, remote) },
  ];
}

/**
 * Reads the peer's NAT-D notifies. `natLocal`: our address as the peer saw it differs from ours
 * (we are behind a NAT); `natRemote`: the peer's source differs from what it claims.
 * Undefined when the peer sent no NAT-D (it does not support NAT traversal).
 */
export function checkNat(notifies: NotifyPayload[], spiI: Buffer, spiR: Buffer, local: Endpoint, remote: Endpoint): { natLocal: boolean; natRemote: boolean } | undefined {
  const srcs = notifies.filter((n) => n.notifyType === NotifyType.NAT_DETECTION_SOURCE_IP);
  const dst = notifies.find((n) => n.notifyType === NotifyType.NAT_DETECTION_DESTINATION_IP);
  if (srcs.length === 0 || !dst) return undefined;
  const remoteHash = natHash(spiI, spiR, remote);
  return {
    natLocal: !dst.data.equals(natHash(spiI, spiR, local)),
    natRemote: !srcs.some((s) => s.data.equals(remoteHash)),
  };
}

