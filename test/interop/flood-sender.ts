// A bounded UDP flood for the flood interop tests, run inside an attacker namespace:
//   node --import tsx test/interop/flood-sender.ts MODE HOST PORT COUNT RATE [ARG]
// MODE ike-init: IKE_SA_INIT requests, each with a fresh random SPI, nonce and X25519 value.
//      ike-init-cookie: the same, and every COOKIE the responder asks for is sent back (RFC 7296
//      2.6), as a flood from a real address would: the responder has to keep half-open state.
//      esp-garbage: random bytes behind a random non-zero SPI (and, with ARG = hex SPI, that SPI).
//      replay: the hex datagrams in file ARG (one a line), sent again and again.
// At most COUNT datagrams at RATE per second; prints "flood: sent N" and exits.
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ExchangeType, PayloadType } from '../../firmware/ike/constants.ts';
import { NotifyType } from '../../firmware/ike/constants.ts';
import { decodeMessage, encodeMessage, type Payload } from '../../firmware/ike/message.ts';
import { makeNotify } from '../../firmware/ike/payloads/notify.ts';
import { ikeSaInitPayloads } from '../unit/ike/codec-fixtures.ts';

const [mode, host, portText, countText, rateText, arg] = process.argv.slice(2);
const port = Number(portText), count = Number(countText), rate = Number(rateText);
if (!mode || !host || !(port > 0) || !(count > 0) || !(rate > 0)) {
  console.error('usage: flood-sender.ts ike-init|esp-garbage|replay HOST PORT COUNT RATE [ARG]');
  process.exit(2);
}
const replay = mode === 'replay' ? readFileSync(arg!, 'utf8').split('\n').filter(Boolean).map((l) => Buffer.from(l.trim(), 'hex')) : [];
const fixedSpi = mode === 'esp-garbage' && arg ? Buffer.from(arg, 'hex') : undefined;

/** Requests sent, by initiator SPI, to answer a COOKIE with (bounded: the oldest go first). */
const sentInits = new Map<string, Payload[]>();
const initHeader = (spiI: Buffer) => ({ spiI, spiR: Buffer.alloc(8), exchangeType: ExchangeType.IKE_SA_INIT, initiator: true, response: false, messageId: 0 });
const framed = (msg: Buffer) => (port === 4500 ? Buffer.concat([Buffer.alloc(4), msg]) : msg);

function ikeInit(): Buffer {
  const payloads: Payload[] = ikeSaInitPayloads().map((p) =>
    p.type === PayloadType.KE ? { ...p, data: randomBytes(32) } : p.type === PayloadType.NONCE ? { ...p, data: randomBytes(32) } : p);
  const spiI = randomBytes(8);
  if (mode === 'ike-init-cookie') {
    sentInits.set(spiI.toString('hex'), payloads);
    if (sentInits.size > 10_000) sentInits.delete(sentInits.keys().next().value!);
  }
  return framed(encodeMessage(initHeader(spiI), payloads));
}

let cookiesAnswered = 0;
function onResponse(data: Buffer): void {
  try {
    const m = decodeMessage(port === 4500 ? data.subarray(4) : data);
    const cookie = m.payloads.find((p) => p.type === PayloadType.NOTIFY && p.notifyType === NotifyType.COOKIE);
    const payloads = sentInits.get(m.header.spiI.toString('hex'));
    if (!cookie || cookie.type !== PayloadType.NOTIFY || !payloads) return;
    sentInits.delete(m.header.spiI.toString('hex'));
    sock.send(framed(encodeMessage(initHeader(m.header.spiI), [makeNotify(NotifyType.COOKIE, cookie.data), ...payloads])), port, host);
    cookiesAnswered++;
  } catch { /* not for us */ }
}

function espGarbage(): Buffer {
  const b = randomBytes(60 + Math.floor(Math.random() * 1200));
  if (fixedSpi) fixedSpi.copy(b, 0);
  else if (b.readUInt32BE(0) === 0) b[0] = 1; // SPI 0 would be the non-ESP marker
  return b;
}

let i = 0;
const next = (): Buffer => (mode.startsWith('ike-init') ? ikeInit() : mode === 'replay' ? replay[i % replay.length]! : espGarbage());
const sock = createSocket('udp4');
if (mode === 'ike-init-cookie') sock.on('message', onResponse);
const perTick = Math.max(1, Math.round(rate / 100));
let sent = 0;
await new Promise<void>((done) => {
  const timer = setInterval(() => {
    for (let k = 0; k < perTick && i < count; k++, i++) sock.send(next(), port, host, (err) => { if (!err) sent++; });
    if (i >= count) {
      clearInterval(timer);
      setTimeout(done, mode === 'ike-init-cookie' ? 1000 : 200); // let the last sends (and cookie answers) complete
    }
  }, 10);
});
sock.close();
console.log(`flood: sent ${sent}${mode === 'ike-init-cookie' ? `, cookies answered ${cookiesAnswered}` : ''}`);
