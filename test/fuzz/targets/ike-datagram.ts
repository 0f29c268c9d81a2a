// Jazzer target: an IKE datagram before any decryption, into the real engine. Flag bit 0 sends it
// to an initiator waiting for its IKE_SA_INIT response (the datagram's initiator SPI is set to the
// one it waits on, so a strongSwan response gets all the way to key derivation and IKE_AUTH);
// otherwise to a fresh responder, twice (the second is a retransmission) and past the half-open
// timeout. Bit 1 first puts the bytes through the port-4500 classifier, as the gateway does.
// Never a throw; whatever the engine sends fits a UDP datagram.
import type { Action, Endpoint } from '../../../firmware/ike/actions.ts';
import { IkeEngine } from '../../../firmware/ike/engine.ts';
import { isIkeDecodeError } from '../../../firmware/ike/errors.ts';
import { decodeMessage } from '../../../firmware/ike/message.ts';
import { classifyUdp4500 } from '../../../firmware/esp/index.ts';
import { quiet, seededRandom } from '../../lib/ike-pair.ts';
import { check } from './bug.ts';
import { branchPolicy, hqPolicy } from './peers.ts';
import { DGRAM_PORT_4500, DGRAM_TO_INITIATOR } from './seed-format.ts';

function checkActions(actions: Action[]): Action[] {
  for (const a of actions) if (a.kind === 'send') check(a.data.length > 0 && a.data.length <= 65507, `engine sends ${a.data.length} bytes`);
  return actions;
}

export function fuzz(data: Buffer): void {
  if (data.length < 1) return;
  const flags = data[0]!;
  let msg = Buffer.from(data.subarray(1));
  const port = flags & DGRAM_PORT_4500 ? 4500 : 500;
  if (port === 4500) {
    const c = classifyUdp4500(msg);
    if (c.kind !== 'ike') return;
    msg = Buffer.from(c.message);
  }
  try {
    decodeMessage(msg);
  } catch (e) {
    if (!isIkeDecodeError(e)) throw e;
  }
  const branch: Endpoint = { address: '198.51.100.1', port }, hq: Endpoint = { address: '198.51.100.2', port };
  const now = 1_000_000;
  if (flags & DGRAM_TO_INITIATOR) {
    const e = new IkeEngine({ role: 'initiator', policy: branchPolicy(), random: seededRandom('fuzz-initiator'), log: quiet });
    const due = e.start(now);
    check(due.some((a) => a.kind === 'connect-due'), 'initiator did not ask to connect');
    const sent = e.connect(now, { address: branch.address, port: 500 }, { address: hq.address, port: 500 }).find((a) => a.kind === 'send');
    check(sent?.kind === 'send', 'initiator sent no IKE_SA_INIT');
    if (msg.length >= 8) sent.data.copy(msg, 0, 0, 8);
    checkActions(e.receive(now + 5, msg, hq, branch));
    checkActions(e.tick(now + 60_000));
  } else {
    const e = new IkeEngine({ role: 'responder', policy: hqPolicy(), random: seededRandom('fuzz-responder'), log: quiet });
    checkActions(e.receive(now, msg, branch, hq));
    checkActions(e.receive(now + 1000, msg, branch, hq));
    checkActions(e.tick(now + 31_000));
    check(e.ikeSas().length <= 1, `one datagram made ${e.ikeSas().length} IKE SAs`);
  }
}
