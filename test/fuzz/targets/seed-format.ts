// Input layouts of the Jazzer targets that take more than raw bytes, shared by the targets and
// by the tool that seeds their corpora from strongSwan captures (test/fuzz/tools/).
import { ExchangeType } from '../../../firmware/ike/constants.ts';

/** ike-sk: flags bits 0-1 index this list. */
export const EXCHANGES = [ExchangeType.IKE_AUTH, ExchangeType.CREATE_CHILD_SA, ExchangeType.INFORMATIONAL] as const;
export const SK_TO_INITIATOR = 0x04;
export const SK_RESPONSE = 0x08;
/** ike-sk: send the chain as SKF fragments; then the input is [flags][first payload][shape][chain...]. */
export const SK_FRAGMENTS = 0x10;
/** ike-sk, IKE_AUTH inputs: the peers authenticate with certificates instead of a PSK. */
export const SK_CERTS = 0x20;

/** ike-sk input: [flags][first inner payload type][plaintext payload chain...]. */
export function ikeSkSeed(exchangeIndex: number, response: boolean, toInitiator: boolean, firstPayload: number, chain: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([exchangeIndex | (toInitiator ? SK_TO_INITIATOR : 0) | (response ? SK_RESPONSE : 0), firstPayload]), chain]);
}

/** ike-datagram input: [flags][datagram]; flag bits below. */
export const DGRAM_TO_INITIATOR = 0x01;
export const DGRAM_PORT_4500 = 0x02;

/** esp-udp4500 input: [mode][bytes]. Mode bit 0: bytes are an ESP plaintext (payload, padding, pad length, next header) to seal and open; else a UDP 4500 payload. */
export const ESP_PLAINTEXT = 0x01;
export function espSeed(plaintext: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([ESP_PLAINTEXT]), plaintext]);
}

/** An ike-sk seed's chain as SKF fragments: `shape` bits 0-2 = count - 1, 0x08 reversed, 0x10 a duplicate. */
export function fragmentedSeed(seed: Uint8Array, shape: number): Buffer {
  return Buffer.concat([Buffer.from([seed[0]! | SK_FRAGMENTS, seed[1]!, shape]), seed.subarray(2)]);
}
