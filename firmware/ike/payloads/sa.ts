// Security Association payload (RFC 7296 3.3): proposals, each with transforms, each with
// attributes. Only the Key Length attribute (type 14, TV) is defined for IKEv2; any other
// attribute is kept so the proposal code can reject the proposal as RFC 7296 3.3.6 demands.
import { PayloadType, ProtocolId, TransformAttr, type TransformType } from '../constants.ts';
import { syntaxError } from '../errors.ts';
import { Reader, checkRange, u16, u8 } from './reader.ts';

const LAST = 0;
const MORE_PROPOSALS = 2;
const MORE_TRANSFORMS = 3;
const AF_TV = 0x8000;

/** A transform attribute other than Key Length: a number for TV format, bytes for TLV. */
export interface TransformAttribute {
  type: number;
  value: number | Buffer;
}

export interface Transform {
  type: TransformType;
  id: number;
  /** Key Length attribute in bits (e.g. 256 for AES-256-GCM). */
  keyLength?: number;
  /** Attributes other than Key Length, in wire order; absent when there are none. */
  attributes?: TransformAttribute[];
}

export interface Proposal {
  /** Proposal Num: 1-based; a response repeats the number of the accepted proposal. */
  number: number;
  protocol: ProtocolId;
  /** 0 bytes (initial IKE SA), 8 (IKE SA rekey) or 4 (ESP/AH). */
  spi: Buffer;
  transforms: Transform[];
}

export interface SaPayload {
  type: PayloadType.SA;
  proposals: Proposal[];
}

function checkSpiSize(protocol: number, size: number): void {
  const ok =
    protocol === ProtocolId.IKE ? size === 0 || size === 8
    : protocol === ProtocolId.ESP || protocol === ProtocolId.AH ? size === 4
    : size === 0 || size === 4 || size === 8;
  if (!ok) throw syntaxError(`SA: SPI size ${size} is invalid for protocol ${protocol}`);
}

function decodeTransform(body: Buffer): Transform {
  const r = new Reader(body, 'transform');
  const type = r.u8('transform type');
  r.skip(1, 'reserved');
  const id = r.u16('transform id');
  const t: Transform = { type, id };
  const attrs: TransformAttribute[] = [];
  while (r.remaining > 0) {
    const head = r.u16('attribute type');
    const attrType = head & 0x7fff;
    if (head & AF_TV) {
      const value = r.u16('attribute value');
      if (attrType === TransformAttr.KEY_LENGTH) {
        if (t.keyLength !== undefined) throw syntaxError('transform: duplicate key length attribute');
        t.keyLength = value;
      } else {
        attrs.push({ type: attrType, value });
      }
    } else {
      if (attrType === TransformAttr.KEY_LENGTH) throw syntaxError('transform: key length attribute must be TV');
      const len = r.u16('attribute length');
      attrs.push({ type: attrType, value: r.bytes(len, 'attribute value') });
    }
  }
  if (attrs.length) t.attributes = attrs;
  return t;
}

function decodeProposal(body: Buffer): Proposal {
  const r = new Reader(body, 'proposal');
  const number = r.u8('proposal num');
  const protocol = r.u8('protocol id');
  const spiSize = r.u8('SPI size');
  const count = r.u8('num transforms');
  if (number === 0) throw syntaxError('proposal: proposal num 0');
  checkSpiSize(protocol, spiSize);
  const spi = r.bytes(spiSize, 'SPI');
  if (count === 0) throw syntaxError('proposal: no transforms');
  const transforms: Transform[] = [];
  for (let i = 0; i < count; i++) {
    const last = r.u8('transform last substruc');
    r.skip(1, 'reserved');
    const len = r.u16('transform length');
    if (len < 8) throw syntaxError(`transform: length ${len} < 8`);
    const isLast = i === count - 1;
    if (last !== (isLast ? LAST : MORE_TRANSFORMS)) {
      throw syntaxError(`transform ${i + 1}/${count}: last substruc ${last}`);
    }
    transforms.push(decodeTransform(r.view(len - 4, 'transform body')));
  }
  r.end();
  return { number, protocol, spi, transforms };
}

export function decodeSa(body: Buffer): SaPayload {
  const r = new Reader(body, 'SA');
  const proposals: Proposal[] = [];
  for (;;) {
    const last = r.u8('proposal last substruc');
    r.skip(1, 'reserved');
    const len = r.u16('proposal length');
    if (len < 8) throw syntaxError(`proposal: length ${len} < 8`);
    const p = decodeProposal(r.view(len - 4, 'proposal body'));
    const prev = proposals[proposals.length - 1];
    // RFC 7296 3.3.1: each subsequent proposal is numbered one more than the previous.
    if (prev && p.number !== prev.number + 1) throw syntaxError(`SA: proposal num ${p.number} after ${prev.number}`);
    proposals.push(p);
    if (last === LAST) break;
    if (last !== MORE_PROPOSALS) throw syntaxError(`proposal: last substruc ${last}`);
    if (r.remaining === 0) throw syntaxError('SA: more proposals announced but none follow');
  }
  r.end();
  return { type: PayloadType.SA, proposals };
}

function encodeTransform(t: Transform, isLast: boolean): Buffer {
  const attrs: Buffer[] = [];
  if (t.keyLength !== undefined) attrs.push(u16(AF_TV | TransformAttr.KEY_LENGTH, 'attr'), u16(t.keyLength, 'key length'));
  for (const a of t.attributes ?? []) {
    checkRange(a.type, 0x7fff, 'attribute type');
    if (a.type === TransformAttr.KEY_LENGTH) throw new RangeError('key length goes in Transform.keyLength');
    if (typeof a.value === 'number') attrs.push(u16(AF_TV | a.type, 'attr'), u16(a.value, 'attribute value'));
    else attrs.push(u16(a.type, 'attr'), u16(a.value.length, 'attribute length'), a.value);
  }
  const body = Buffer.concat([u8(t.type, 'transform type'), u8(0, 'reserved'), u16(t.id, 'transform id'), ...attrs]);
  return Buffer.concat([u8(isLast ? LAST : MORE_TRANSFORMS, 'last'), u8(0, 'reserved'), u16(body.length + 4, 'transform length'), body]);
}

function encodeProposal(p: Proposal, isLast: boolean): Buffer {
  if (p.transforms.length === 0) throw new RangeError('proposal without transforms');
  const transforms = p.transforms.map((t, i) => encodeTransform(t, i === p.transforms.length - 1));
  const body = Buffer.concat([
    u8(p.number, 'proposal num'), u8(p.protocol, 'protocol id'), u8(p.spi.length, 'SPI size'),
    u8(p.transforms.length, 'num transforms'), p.spi, ...transforms,
  ]);
  return Buffer.concat([u8(isLast ? LAST : MORE_PROPOSALS, 'last'), u8(0, 'reserved'), u16(body.length + 4, 'proposal length'), body]);
}

export function encodeSa(sa: SaPayload): Buffer {
  if (sa.proposals.length === 0) throw new RangeError('SA payload without proposals');
  return Buffer.concat(sa.proposals.map((p, i) => encodeProposal(p, i === sa.proposals.length - 1)));
}
