// Jazzer target: a datagram arriving on UDP 4500 (RFC 3948 framing), and ESP after decryption.
// Mode 0: the bytes are a UDP payload: classified (keepalive / IKE behind the non-ESP marker /
// ESP) and, when ESP, opened by an inbound SA of that SPI (the ICV fails for anything the fuzzer
// makes; what is checked is that nothing before it trusts a length). Mode 1: the bytes are an ESP
// plaintext (what a peer holding the key could send: any padding, pad length, next header),
// sealed under the SA's key and opened, then the inner packet goes to the flow parser the data
// plane routes with. A packet that opened must be refused as a replay the second time.
import { aeadByName } from '../../../firmware/crypto/aeads.ts';
import { EspSa, classifyUdp4500, putU32, writeAad, ESP_PREFIX_BYTES, type OpenResult } from '../../../firmware/esp/index.ts';
import { parseFlow } from '../../../firmware/gateway/ip-packet.ts';
import { check } from './bug.ts';
import { ESP_PLAINTEXT } from './seed-format.ts';

const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223', 'hex');
const alg = aeadByName('aes256gcm16')!;
const key = alg.createKey(KEY);
const SPI = 0xc0ffee01;

function inbound(spi: number): EspSa {
  return new EspSa({ spi, direction: 'in', key, replayWindow: 64 });
}

function checkResult(r: OpenResult, len: number): void {
  check(r.kind === 'packet' || r.kind === 'dummy' || r.kind === 'drop', `open() returned ${JSON.stringify(r)}`);
  if (r.kind === 'packet') {
    check(r.nextHeader === 4 || r.nextHeader === 41, `inner next header ${r.nextHeader}`);
    check(r.inner.length <= len, 'inner packet longer than the ESP packet');
    parseFlow(r.inner);
  }
}

export function fuzz(data: Buffer): void {
  if (data.length < 1) return;
  const body = data.subarray(1);
  if ((data[0]! & ESP_PLAINTEXT) === 0) {
    const c = classifyUdp4500(body);
    if (c.kind === 'esp') {
      check(c.spi !== 0, 'SPI 0 classified as ESP');
      if (c.spi >= 256) checkResult(inbound(c.spi).open(c.packet), c.packet.length);
    } else if (c.kind === 'ike') {
      check(c.message.length + 4 === body.length, 'IKE message is not the payload after the marker');
    }
    return;
  }
  if (body.length > 65535 - 32) return;
  const seq = 1 + (data[0]! >> 1);
  const prefix = Buffer.alloc(ESP_PREFIX_BYTES);
  putU32(prefix, 0, SPI);
  putU32(prefix, 4, seq);
  putU32(prefix, 12, seq);
  const aad = writeAad(new Uint8Array(8), SPI, 0, seq);
  const packet = Buffer.concat([prefix, key.seal(prefix.subarray(8, 16), aad, body)]);
  const sa = inbound(SPI);
  const first = sa.open(packet);
  checkResult(first, packet.length);
  check(!(first.kind === 'drop' && first.drop === 'auth_failed'), 'a correctly sealed packet failed authentication');
  if (first.kind !== 'drop') {
    const again = sa.open(packet);
    check(again.kind === 'drop' && again.drop === 'replay', `a replayed packet was not refused: ${JSON.stringify(again)}`);
  }
}
