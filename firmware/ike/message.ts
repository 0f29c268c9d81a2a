// Whole IKE messages: header + payload chain, with the SK (RFC 7296 3.14, RFC 5282 / RFC 7634)
// and SKF (RFC 7383) envelopes. Decoding is two-step so the caller, who holds the keys, can pick
// the SA from the header before decrypting:
//   const m = decodeMessage(datagram);         // header, plaintext payloads, SK parts + AAD
//   const inner = openSk(m, sa.keys.peerAead);  // decrypt, strip padding, parse inner chain
import type { AeadKey } from '../crypto/aead.ts';
import { PayloadType } from './constants.ts';
import { criticalError, integrityError, limitError, syntaxError } from './errors.ts';
import { IKE_HEADER_LENGTH, MAX_MESSAGE_LENGTH, decodeHeader, describeHeader, encodeHeader, type DecodedIkeHeader, type IkeHeader } from './header.ts';
import { describePayloads } from './payloads/describe.ts';
import { decodePayloadBody, encodePayloadBody, type Payload } from './payloads/index.ts';
import { SK_ICV_BYTES, SK_IV_BYTES, decodeSkBody, stripPadding } from './payloads/sk.ts';
import { SKF_FIELDS_BYTES, decodeSkfBody } from './payloads/skf.ts';

export { describePayloads } from './payloads/describe.ts';
export type { Payload } from './payloads/index.ts';

/** At most this many payloads per chain (outer, or inside one SK): nothing is unbounded. */
export const MAX_PAYLOADS = 64;
const GENERIC_HEADER = 4;
const CRITICAL = 0x80;

export interface EncryptedSk {
  kind: 'SK';
  /** The SK's Next Payload: type of the first inner payload (0 when the SK is empty). */
  nextPayload: number;
  iv: Buffer;
  ciphertext: Buffer;
  icv: Buffer;
  /** Associated data: IKE header + unencrypted payloads + SK generic header (RFC 5282 sec 5). */
  aad: Buffer;
}

export interface EncryptedSkf {
  kind: 'SKF';
  /** First inner payload type in fragment 1, 0 in the others. */
  nextPayload: number;
  fragmentNumber: number;
  totalFragments: number;
  iv: Buffer;
  ciphertext: Buffer;
  icv: Buffer;
  /** Associated data: everything up to and including Total Fragments (RFC 7383 2.5.3). */
  aad: Buffer;
}

export type EncryptedPart = EncryptedSk | EncryptedSkf;

export interface DecodedMessage {
  header: DecodedIkeHeader;
  /** Payloads outside any SK/SKF: all of them for IKE_SA_INIT, usually none otherwise. */
  payloads: Payload[];
  /** Types of unknown, non-critical payloads that were skipped (for logs). */
  skipped: number[];
  /** Present when the chain ends in SK or SKF. */
  encrypted?: EncryptedPart;
}

export interface PayloadChain {
  payloads: Payload[];
  skipped: number[];
}

interface Walked extends PayloadChain {
  /** Offset of the SK/SKF generic header, when the chain ended in one. */
  envelope?: { type: PayloadType.SK | PayloadType.SKF; offset: number; nextPayload: number; body: Buffer };
}

// Walks a payload chain in buf[start..]. `outer` allows a final SK/SKF envelope.
function walk(buf: Buffer, start: number, first: number, outer: boolean): Walked {
  const out: Walked = { payloads: [], skipped: [] };
  let type = first;
  let pos = start;
  let count = 0;
  while (type !== PayloadType.NONE) {
    if (++count > MAX_PAYLOADS) throw limitError(`more than ${MAX_PAYLOADS} payloads`);
    if (buf.length - pos < GENERIC_HEADER) throw syntaxError(`payload ${type}: truncated generic header at offset ${pos}`);
    const next = buf[pos]!;
    const critical = (buf[pos + 1]! & CRITICAL) !== 0;
    const len = buf.readUInt16BE(pos + 2);
    if (len < GENERIC_HEADER) throw syntaxError(`payload ${type}: length ${len} < 4`);
    if (len > buf.length - pos) throw syntaxError(`payload ${type}: length ${len} overruns the message by ${len - (buf.length - pos)} bytes`);
    const body = buf.subarray(pos + GENERIC_HEADER, pos + len);
    if (type === PayloadType.SK || type === PayloadType.SKF) {
      if (!outer) throw syntaxError(`payload ${type} inside an encrypted payload`);
      // The encrypted payload must be the last one (RFC 7296 3.14, RFC 7383 2.5).
      if (pos + len !== buf.length) throw syntaxError(`payload ${type} is not the last payload`);
      out.envelope = { type, offset: pos, nextPayload: next, body };
      return out;
    }
    const p = decodePayloadBody(type, body);
    if (p) out.payloads.push(p);
    else if (critical) throw criticalError(type);
    else out.skipped.push(type);
    pos += len;
    type = next;
  }
  if (pos !== buf.length) throw syntaxError(`${buf.length - pos} bytes after the last payload`);
  return out;
}

/**
 * Decodes a datagram (IKE header onward, non-ESP marker already removed). Plaintext payloads
 * are parsed; an SK/SKF envelope is split into IV, ciphertext, ICV and its exact AAD for
 * openSk/openSkf. Throws only IkeDecodeError.
 */
export function decodeMessage(datagram: Buffer): DecodedMessage {
  const header = decodeHeader(datagram);
  const w = walk(datagram, IKE_HEADER_LENGTH, header.nextPayload, true);
  const m: DecodedMessage = { header, payloads: w.payloads, skipped: w.skipped };
  const env = w.envelope;
  if (env?.type === PayloadType.SK) {
    m.encrypted = { kind: 'SK', nextPayload: env.nextPayload, ...decodeSkBody(env.body), aad: Buffer.from(datagram.subarray(0, env.offset + GENERIC_HEADER)) };
  } else if (env?.type === PayloadType.SKF) {
    m.encrypted = { kind: 'SKF', nextPayload: env.nextPayload, ...decodeSkfBody(env.body, env.nextPayload), aad: Buffer.from(datagram.subarray(0, env.offset + GENERIC_HEADER + SKF_FIELDS_BYTES)) };
  }
  return m;
}

/** Parses a decrypted inner payload chain (also for reassembled fragments). */
export function decodePayloadChain(firstPayload: number, bytes: Buffer): PayloadChain {
  const w = walk(bytes, 0, firstPayload, false);
  return { payloads: w.payloads, skipped: w.skipped };
}

function decrypt(part: EncryptedPart, key: AeadKey): Buffer {
  if (key.alg.ivBytes !== part.iv.length || key.alg.icvBytes !== part.icv.length) {
    throw new RangeError(`AEAD ${key.alg.name} does not use ${part.iv.length}-byte IVs and ${part.icv.length}-byte ICVs`);
  }
  const plain = key.open(part.iv, part.aad, Buffer.concat([part.ciphertext, part.icv]));
  if (!plain) throw integrityError(`${part.kind} ICV does not verify`);
  return stripPadding(plain, part.kind);
}

/** Decrypts the SK payload of a decoded message and parses its inner payloads; 'integrity' error on a bad ICV. */
export function openSk(decoded: DecodedMessage, key: AeadKey): Payload[] {
  return openSkChain(decoded, key).payloads;
}

/** Like openSk, also reporting skipped unknown non-critical inner payloads. */
export function openSkChain(decoded: DecodedMessage, key: AeadKey): PayloadChain {
  const part = decoded.encrypted;
  if (part?.kind !== 'SK') throw syntaxError('message has no SK payload');
  return decodePayloadChain(part.nextPayload, decrypt(part, key));
}

/** Decrypts one SKF fragment and returns its content (padding stripped), for reassembly. */
export function openSkf(decoded: DecodedMessage, key: AeadKey): Buffer {
  const part = decoded.encrypted;
  if (part?.kind !== 'SKF') throw syntaxError('message has no SKF payload');
  return Buffer.from(decrypt(part, key));
}

/** Serializes payloads with generic headers; `firstPayload` is what the preceding header points to. */
export function encodePayloadChain(payloads: readonly Payload[]): { firstPayload: number; bytes: Buffer } {
  if (payloads.length > MAX_PAYLOADS) throw new RangeError(`more than ${MAX_PAYLOADS} payloads`);
  const parts: Buffer[] = [];
  payloads.forEach((p, i) => {
    const body = encodePayloadBody(p);
    const len = GENERIC_HEADER + body.length;
    if (len > 0xffff) throw new RangeError(`payload ${p.type} of ${len} bytes`);
    const g = Buffer.alloc(GENERIC_HEADER);
    g[0] = payloads[i + 1]?.type ?? PayloadType.NONE;
    g.writeUInt16BE(len, 2);
    parts.push(g, body);
  });
  return { firstPayload: payloads[0]?.type ?? PayloadType.NONE, bytes: Buffer.concat(parts) };
}

export interface SkParams {
  key: AeadKey;
  /** Explicit IV (8 bytes), unique per message under one key: e.g. a counter. */
  iv: Buffer;
}

function checkIv(sk: SkParams): void {
  if (sk.iv.length !== SK_IV_BYTES || sk.key.alg.ivBytes !== SK_IV_BYTES || sk.key.alg.icvBytes !== SK_ICV_BYTES) {
    throw new RangeError('SK needs an 8-byte IV and a 16-byte ICV');
  }
}

// Builds header || [prefix fields] || SK/SKF envelope around `plain` (no padding: AEADs here
// have a block size of 1, so only the Pad Length byte is added).
function seal(header: IkeHeader, envType: number, envNext: number, fields: Buffer, content: Buffer, sk: SkParams): Buffer {
  checkIv(sk);
  const plain = Buffer.concat([content, Buffer.from([0])]);
  const envLen = GENERIC_HEADER + fields.length + SK_IV_BYTES + plain.length + SK_ICV_BYTES;
  const total = IKE_HEADER_LENGTH + envLen;
  if (envLen > 0xffff || total > MAX_MESSAGE_LENGTH) throw new RangeError(`message of ${total} bytes is too large`);
  const g = Buffer.alloc(GENERIC_HEADER);
  g[0] = envNext;
  g.writeUInt16BE(envLen, 2);
  // The header carries the final length before it enters the associated data.
  const aad = Buffer.concat([encodeHeader(header, envType, total), g, fields]);
  const sealed = sk.key.seal(sk.iv, aad, plain);
  if (sealed.length !== plain.length + SK_ICV_BYTES) throw new RangeError('AEAD returned an unexpected length');
  return Buffer.concat([aad, sk.iv, sealed]);
}

/**
 * Encodes a message. Without `sk` the payloads go in the clear (IKE_SA_INIT); with `sk` they
 * all go inside one SK payload sealed with `sk.key` and `sk.iv`.
 */
export function encodeMessage(header: IkeHeader, payloads: readonly Payload[], sk?: SkParams): Buffer {
  const chain = encodePayloadChain(payloads);
  if (sk) return seal(header, PayloadType.SK, chain.firstPayload, Buffer.alloc(0), chain.bytes, sk);
  const total = IKE_HEADER_LENGTH + chain.bytes.length;
  if (total > MAX_MESSAGE_LENGTH) throw new RangeError(`message of ${total} bytes is too large`);
  return Buffer.concat([encodeHeader(header, chain.firstPayload, total), chain.bytes]);
}

export interface FragmentParams {
  fragmentNumber: number;
  totalFragments: number;
  /** Type of the first inner payload; only fragment 1 carries it, others send 0. */
  firstPayload: number;
  /** This fragment's slice of the serialized inner chain (see encodePayloadChain). */
  content: Buffer;
}

/** Encodes one SKF fragment message (RFC 7383 2.5). */
export function encodeFragment(header: IkeHeader, f: FragmentParams, sk: SkParams): Buffer {
  if (!(f.fragmentNumber >= 1 && f.fragmentNumber <= f.totalFragments && f.totalFragments <= 0xffff)) {
    throw new RangeError(`fragment ${f.fragmentNumber} of ${f.totalFragments}`);
  }
  const fields = Buffer.alloc(SKF_FIELDS_BYTES);
  fields.writeUInt16BE(f.fragmentNumber, 0);
  fields.writeUInt16BE(f.totalFragments, 2);
  return seal(header, PayloadType.SKF, f.fragmentNumber === 1 ? f.firstPayload : PayloadType.NONE, fields, f.content, sk);
}

/** "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) ]", as strongSwan logs messages. */
export function describeMessage(header: IkeHeader, payloads: readonly Payload[], encrypted?: EncryptedPart): string {
  const parts = [describePayloads(payloads)];
  if (encrypted?.kind === 'SK') parts.push('SK');
  if (encrypted?.kind === 'SKF') parts.push(`EF(${encrypted.fragmentNumber}/${encrypted.totalFragments})`);
  return `${describeHeader(header)} [ ${parts.filter(Boolean).join(' ')} ]`;
}
