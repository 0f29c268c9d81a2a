// Jazzer target: IKE after decryption. Two in-process engines (branch initiator, HQ responder)
// establish an IKE SA; the input is a plaintext payload chain that the peer seals with the real
// SK keys and the right SPIs and message ID, so the receiver's inner payload parsers and exchange
// handlers (IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL) see it. A response is fed to a side that
// has just started a CHILD_SA rekey, as the answer to that request. Then the clock runs on for
// the timers (retransmits, DPD). A fresh pair per input keeps runs reproducible.
import { ExchangeType } from '../../../firmware/ike/constants.ts';
import { IkePair } from '../../lib/ike-pair.ts';
import { sealRaw } from '../../unit/ike/codec-fixtures.ts';
import { check } from './bug.ts';
import { branchPolicy, hqPolicy } from './peers.ts';
import { EXCHANGES, SK_RESPONSE, SK_TO_INITIATOR } from './seed-format.ts';

export function fuzz(data: Buffer): void {
  if (data.length < 2 || data.length > 60_000) return;
  const flags = data[0]!;
  const exchange: ExchangeType = EXCHANGES[flags & 3] ?? ExchangeType.INFORMATIONAL;
  const toInitiator = (flags & SK_TO_INITIATOR) !== 0;
  const response = (flags & SK_RESPONSE) !== 0;
  const pair = new IkePair(branchPolicy(), hqPolicy());
  pair.start();
  check(pair.a.engine.up && pair.b.engine.up, 'the pair did not come up');
  const [rx, tx] = toInitiator ? ['a', 'b'] as const : ['b', 'a'] as const;
  const receiver = pair.side(rx), sender = pair.side(tx);
  const rsa = receiver.engine.ikeSas().find((s) => s.state === 'established');
  const ssa = sender.engine.ikeSas().find((s) => s.state === 'established');
  check(rsa && ssa && ssa.aeadOut, 'no established IKE SA');
  let messageId = rsa.nextPeerRequestId;
  if (response) {
    const child = [...receiver.children.values()][0];
    check(child, 'no CHILD_SA');
    receiver.engine.rekeyChildNow(child.spiIn, pair.now); // its request is dropped: the input answers it
    if (!rsa.pending) return;
    messageId = rsa.pending.messageId;
  }
  const iv = Buffer.alloc(8);
  iv.writeUInt32BE(messageId, 4);
  const datagram = sealRaw({ spiI: rsa.spiI, spiR: rsa.spiR, exchangeType: exchange, initiator: tx === 'a', response, messageId },
    data[1]!, data.subarray(2), ssa.aeadOut, iv);
  const from = { address: sender.addr, port: 500 }, to = { address: receiver.addr, port: 500 };
  pair.apply(rx, receiver.engine.receive(pair.now, datagram, from, to));
  pair.run();
  pair.advance(pair.now + 45_000);
}
