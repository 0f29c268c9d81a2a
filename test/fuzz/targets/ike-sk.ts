// Jazzer target: IKE after decryption. Two in-process engines (branch initiator, HQ responder)
// establish an IKE SA; the input is a plaintext payload chain that the peer seals with the real
// SK keys and the right SPIs and message ID, so the receiver's inner payload parsers and exchange
// handlers (IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL) see it. A response is fed to a side that
// has just started a CHILD_SA rekey, as the answer to that request. Then the clock runs on for
// the timers (retransmits, DPD). A fresh pair per input keeps runs reproducible.
// IKE_AUTH only happens during setup, so an IKE_AUTH input is injected there instead: after the
// real IKE_SA_INIT, in place of the initiator's IKE_AUTH request (to HQ) or of HQ's IKE_AUTH
// response (to the branch, which then processes it as its answer).
// With SK_FRAGMENTS the chain goes as RFC 7383 fragments (SKF): the byte after the first payload
// type gives their count (1-8) and order (reversed, a duplicate), to reach reassembly.
// With SK_CERTS an IKE_AUTH input meets peers that authenticate with certificates (ECDSA under
// one root): CERT, CERTREQ, chain validation and signature checks.
import { ExchangeType } from '../../../firmware/ike/constants.ts';
import { IkePair } from '../../lib/ike-pair.ts';
import type { AeadKey } from '../../../firmware/crypto/aead.ts';
import type { IkeHeader } from '../../../firmware/ike/header.ts';
import { encodeFragment } from '../../../firmware/ike/message.ts';
import { sealRaw } from '../../unit/ike/codec-fixtures.ts';
import { check } from './bug.ts';
import { branchCertPolicy, branchPolicy, hqCertPolicy, hqPolicy } from './peers.ts';
import { EXCHANGES, SK_CERTS, SK_FRAGMENTS, SK_RESPONSE, SK_TO_INITIATOR } from './seed-format.ts';

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
  const from = { address: sender.addr, port: rsa.remote.port }, to = { address: receiver.addr, port: rsa.local.port };
  for (const datagram of seal({ spiI: rsa.spiI, spiR: rsa.spiR, exchangeType: exchange, initiator: tx === 'a', response, messageId }, data, ssa.aeadOut)) {
    pair.apply(rx, receiver.engine.receive(pair.now, datagram, from, to));
  }
  pair.run();
  pair.advance(pair.now + 45_000);
}

const IKE_AUTH_AT = 18; // exchange type byte of the IKE header

function fuzzAuth(data: Buffer, toInitiator: boolean): void {
  const certMode = (data[0]! & SK_CERTS) !== 0;
  const pair = certMode ? new IkePair(branchCertPolicy(), hqCertPolicy()) : new IkePair(branchPolicy(), hqPolicy());
  const rx = toInitiator ? 'a' : 'b', tx = toInitiator ? 'b' : 'a';
  // Hold back the real IKE_AUTH message the input replaces.
  pair.filter = (d) => !(d.toSide === rx && d.data[IKE_AUTH_AT] === ExchangeType.IKE_AUTH);
  pair.start();
  const receiver = pair.side(rx), sender = pair.side(tx);
  const rsa = receiver.engine.ikeSas()[0], ssa = sender.engine.ikeSas()[0];
  check(rsa && ssa && ssa.aeadOut, 'no IKE SA after IKE_SA_INIT');
  const messageId = toInitiator ? rsa.pending?.messageId : rsa.nextPeerRequestId;
  check(messageId !== undefined, 'the initiator awaits no IKE_AUTH response');
  pair.filter = () => true;
  for (const datagram of seal({ spiI: rsa.spiI, spiR: rsa.spiR, exchangeType: ExchangeType.IKE_AUTH, initiator: !toInitiator, response: toInitiator, messageId }, data, ssa.aeadOut)) {
    pair.apply(rx, receiver.engine.receive(pair.now, datagram, { address: sender.addr, port: rsa.remote.port }, { address: receiver.addr, port: rsa.local.port }));
  }
  pair.run();
  pair.advance(pair.now + 45_000);
}

/** The input's chain as one SK message, or as SKF fragments (see the header comment). */
function seal(header: IkeHeader, data: Buffer, key: AeadKey): Buffer[] {
  let ivCounter = header.messageId * 256;
  const iv = () => { const b = Buffer.alloc(8); b.writeUInt32BE(ivCounter++ >>> 0, 4); return b; };
  if ((data[0]! & SK_FRAGMENTS) === 0) return [sealRaw(header, data[1]!, data.subarray(2), key, iv())];
  if (data.length < 3) return [];
  const shape = data[2]!;
  const chain = data.subarray(3);
  const total = 1 + (shape & 7);
  const size = Math.max(1, Math.ceil(chain.length / total));
  const frags: Buffer[] = [];
  for (let i = 0; i < total; i++) {
    frags.push(encodeFragment(header, { fragmentNumber: i + 1, totalFragments: total, firstPayload: i === 0 ? data[1]! : 0, content: chain.subarray(i * size, (i + 1) * size) }, { key, iv: iv() }));
  }
  if (shape & 0x08) frags.reverse();
  if (shape & 0x10) frags.push(frags[0]!);
  return frags;
}
