// Jazzer target: IKE after decryption. Two in-process engines (branch initiator, HQ responder)
// establish an IKE SA; the input is a plaintext payload chain that the peer seals with the real
// SK keys and the right SPIs and message ID, so the receiver's inner payload parsers and exchange
// handlers (IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL) see it. A response is fed to a side that
// has just started a CHILD_SA rekey, as the answer to that request. Then the clock runs on for
// the timers (retransmits, DPD). A fresh pair per input keeps runs reproducible.
// IKE_AUTH only happens during setup, so an IKE_AUTH input is injected there instead: after the
// real IKE_SA_INIT, in place of the initiator's IKE_AUTH request (to HQ) or of HQ's IKE_AUTH
// response (to the branch, which then processes it as its answer).
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
  if (exchange === ExchangeType.IKE_AUTH) {
    fuzzAuth(data, toInitiator);
    return;
  }
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
  const from = { address: sender.addr, port: rsa.remote.port }, to = { address: receiver.addr, port: rsa.local.port };
  pair.apply(rx, receiver.engine.receive(pair.now, datagram, from, to));
  pair.run();
  pair.advance(pair.now + 45_000);
}

const IKE_AUTH_AT = 18; // exchange type byte of the IKE header

function fuzzAuth(data: Buffer, toInitiator: boolean): void {
  const pair = new IkePair(branchPolicy(), hqPolicy());
  const rx = toInitiator ? 'a' : 'b', tx = toInitiator ? 'b' : 'a';
  // Hold back the real IKE_AUTH message the input replaces.
  pair.filter = (d) => !(d.toSide === rx && d.data[IKE_AUTH_AT] === ExchangeType.IKE_AUTH);
  pair.start();
  const receiver = pair.side(rx), sender = pair.side(tx);
  const rsa = receiver.engine.ikeSas()[0], ssa = sender.engine.ikeSas()[0];
  check(rsa && ssa && ssa.aeadOut, 'no IKE SA after IKE_SA_INIT');
  const messageId = toInitiator ? rsa.pending?.messageId : rsa.nextPeerRequestId;
  check(messageId !== undefined, 'the initiator awaits no IKE_AUTH response');
  const iv = Buffer.alloc(8, 0x11);
  const datagram = sealRaw({ spiI: rsa.spiI, spiR: rsa.spiR, exchangeType: ExchangeType.IKE_AUTH, initiator: !toInitiator, response: toInitiator, messageId },
    data[1]!, data.subarray(2), ssa.aeadOut, iv);
  pair.filter = () => true;
  pair.apply(rx, receiver.engine.receive(pair.now, datagram, { address: sender.addr, port: rsa.remote.port }, { address: receiver.addr, port: rsa.local.port }));
  pair.run();
  pair.advance(pair.now + 45_000);
}
