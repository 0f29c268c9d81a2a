// Identification payloads IDi/IDr (RFC 7296 3.5): ID type, three reserved bytes, ID data.
// The raw bytes are what AUTH signs (RestOfIDPayload) and what peers compare; `text` is a
// readable, log-safe rendering (non-printable bytes escaped as \xNN).
import { isIPv4, isIPv6 } from 'node:net';
import { IdType, PayloadType } from '../constants.ts';
import { syntaxError } from '../errors.ts';
import { Reader, u8 } from './reader.ts';

export interface IdPayload {
  type: PayloadType.IDi | PayloadType.IDr;
  idType: IdType;
  data: Buffer;
  /** Readable form, e.g. "hq.example.net", "10.0.0.1", "C=CH, O=Example, CN=hq"; derived, not encoded. */
  text: string;
}

export function decodeId(body: Buffer, type: PayloadType.IDi | PayloadType.IDr = PayloadType.IDi): IdPayload {
  const r = new Reader(body, 'ID');
  const idType = r.u8('ID type');
  r.skip(3, 'reserved');
  const data = r.rest();
  if (idType === IdType.IPV4_ADDR && data.length !== 4) throw syntaxError(`ID: IPv4 address of ${data.length} bytes`);
  if (idType === IdType.IPV6_ADDR && data.length !== 16) throw syntaxError(`ID: IPv6 address of ${data.length} bytes`);
  return { type, idType, data, text: idText(idType, data) };
}

export function encodeId(id: IdPayload): Buffer {
  return Buffer.concat([u8(id.idType, 'ID type'), Buffer.alloc(3), id.data]);
}

/** Builds an ID payload from a typed value: FQDN/RFC822 strings, IP address strings, KEY_ID hex or bytes, DER bytes. */
export function makeId(type: PayloadType.IDi | PayloadType.IDr, idType: IdType, value: string | Buffer): IdPayload {
  const data = typeof value === 'string' ? idDataFromText(idType, value) : Buffer.from(value);
  return { type, idType, data, text: idText(idType, data) };
}

/** The wire form of an identity given as text; DNs must be given as DER bytes instead. */
export function idDataFromText(idType: IdType, text: string): Buffer {
  switch (idType) {
    case IdType.FQDN:
    case IdType.RFC822_ADDR:
      return Buffer.from(text, 'utf8');
    case IdType.IPV4_ADDR:
      if (!isIPv4(text)) throw new RangeError(`not an IPv4 address: ${text}`);
      return Buffer.from(text.split('.').map(Number));
    case IdType.IPV6_ADDR:
      if (!isIPv6(text)) throw new RangeError(`not an IPv6 address: ${text}`);
      return ipv6Bytes(text);
    case IdType.KEY_ID:
      if (!/^([0-9a-f]{2})+$/i.test(text)) throw new RangeError('KEY_ID text must be hex');
      return Buffer.from(text, 'hex');
    default:
      throw new RangeError(`ID type ${idType} cannot be built from text`);
  }
}

export function idText(idType: number, data: Buffer): string {
  switch (idType) {
    case IdType.FQDN:
    case IdType.RFC822_ADDR:
      return printable(data);
    case IdType.IPV4_ADDR:
      return data.length === 4 ? Array.from(data).join('.') : data.toString('hex');
    case IdType.IPV6_ADDR:
      return data.length === 16 ? ipv6Text(data) : data.toString('hex');
    case IdType.DER_ASN1_DN:
      return dnText(data) ?? `dn:${data.toString('hex')}`;
    default:
      return data.toString('hex');
  }
}

/** Printable ASCII stays, anything else becomes \xNN: safe for logs and consoles. */
export function printable(b: Buffer): string {
  let s = '';
  for (const c of b) s += c >= 0x20 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return s;
}

export function ipv6Bytes(text: string): Buffer {
  // Expand "::" and an embedded dotted quad into eight 16-bit groups.
  let t = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (v4) {
    const q = v4[1]!.split('.').map(Number);
    t = t.slice(0, -v4[1]!.length) + `${((q[0]! << 8) | q[1]!).toString(16)}:${((q[2]! << 8) | q[3]!).toString(16)}`;
  }
  const [head, tail] = t.includes('::') ? t.split('::') as [string, string] : [t, undefined];
  const h = head ? head.split(':') : [];
  const tl = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - tl.length).fill('0'), ...tl];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

export function ipv6Text(b: Buffer): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b.readUInt16BE(i));
  // RFC 5952: compress the longest run (length >= 2) of zero groups.
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

// --- A small, bounded DER reader for distinguished names (Name ::= SEQUENCE OF RDN). ---

const DN_OIDS: Record<string, string> = {
  '2.5.4.3': 'CN', '2.5.4.4': 'SN', '2.5.4.5': 'serialNumber', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST',
  '2.5.4.9': 'street', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.12': 'T', '2.5.4.42': 'G', '2.5.4.46': 'dnQualifier',
  '1.2.840.113549.1.9.1': 'E', '0.9.2342.19200300.100.1.25': 'DC', '0.9.2342.19200300.100.1.1': 'UID',
};

interface Tlv { tag: number; value: Buffer; next: number }

function tlv(b: Buffer, pos: number): Tlv | null {
  if (pos + 2 > b.length) return null;
  const tag = b[pos]!;
  let len = b[pos + 1]!;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || p + n > b.length) return null;
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | b[p + i]!;
    p += n;
  }
  if (p + len > b.length) return null;
  return { tag, value: b.subarray(p, p + len), next: p + len };
}

function oidText(v: Buffer): string | null {
  if (v.length === 0 || v.length > 32 || v[0]! & 0x80 || v[v.length - 1]! & 0x80) return null;
  const parts: number[] = [Math.min(2, Math.floor(v[0]! / 40)), v[0]! - 40 * Math.min(2, Math.floor(v[0]! / 40))];
  let acc = 0;
  for (let i = 1; i < v.length; i++) {
    acc = acc * 128 + (v[i]! & 0x7f);
    if (!(v[i]! & 0x80)) { parts.push(acc); acc = 0; }
  }
  return parts.join('.');
}

/** Renders a DER Name as "C=CH, O=Example, CN=host"; null when it is not a well-formed Name. */
export function dnText(der: Buffer): string | null {
  const seq = tlv(der, 0);
  if (!seq || seq.tag !== 0x30 || seq.next !== der.length) return null;
  const out: string[] = [];
  for (let p = 0; p < seq.value.length; ) {
    const set = tlv(seq.value, p);
    if (!set || set.tag !== 0x31) return null;
    for (let q = 0; q < set.value.length; ) {
      const atv = tlv(set.value, q);
      if (!atv || atv.tag !== 0x30) return null;
      const oid = tlv(atv.value, 0);
      if (!oid || oid.tag !== 0x06) return null;
      const val = tlv(atv.value, oid.next);
      if (!val || val.next !== atv.value.length) return null;
      const o = oidText(oid.value);
      if (!o) return null;
      out.push(`${DN_OIDS[o] ?? o}=${printable(val.value)}`);
      q = atv.next;
    }
    p = set.next;
  }
  return out.join(', ');
}
