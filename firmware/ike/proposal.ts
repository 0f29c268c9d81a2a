// IKE and ESP proposals: strongSwan's proposal syntax (what a network engineer copies from an
// HQ's swanctl.conf), the plain structure an SA payload carries, and RFC 7296 2.7 selection.
//
// Syntax: keywords joined by '-', any order, several per transform type allowed, e.g.
//   IKE "aes256gcm16-aes128gcm16-prfsha384-prfsha256-x25519-ecp256"
//   ESP "aes256gcm16" (no PFS), "aes256gcm16-x25519" (PFS required), "aes256gcm16-x25519-none"
//       (PFS optional), "-esn" / "-noesn" / "-esn-noesn" (default: no ESN, as strongSwan).
// Keywords are case-sensitive like strongSwan's. Only AEAD ciphers are implemented for now.
//
// Selection follows RFC 7296 2.7 and strongSwan's rules: the responder takes the first of the
// peer's proposals (in the peer's order) that matches one of ours, and from it one transform of
// each type, again in the peer's order; DH is optional in ESP ("NONE" or absent), ESN is
// mandatory in ESP, integrity is skipped when the cipher is an AEAD.

import type { Proposal, Transform } from './payloads/sa.ts';
import { DhId, EncrId, EsnId, IntegId, NotifyType, PrfId, ProtocolId, TransformType } from './constants.ts';

export class ProposalError extends Error {
  override readonly name = 'ProposalError';
  constructor(
    message: string,
    /** The offending keyword, when one is to blame. */
    readonly keyword?: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------- plain types

/** One transform and one proposal exactly as the SA payload codec carries them (payloads/sa.ts). */
export type SaTransform = Transform;
export type SaProposal = Proposal;

/** A configured proposal: transforms grouped by type (ENCR, PRF, DH, ESN), each group in preference order. */
export interface ConfiguredProposal {
  protocol: ProtocolId.IKE | ProtocolId.ESP;
  transforms: SaTransform[];
}

/** The algorithms of an accepted proposal (one transform per type). */
export interface ChosenSuite {
  protocol: ProtocolId;
  encr: { id: number; keyLength?: number };
  /** IKE only. */
  prf?: number;
  /** Absent when no key exchange was negotiated (ESP without PFS, or IKE_AUTH's Child SA). */
  dh?: number;
  /** ESP only. */
  esn?: EsnId;
  /** strongSwan syntax for logs and status, e.g. "aes256gcm16-prfsha256-x25519". */
  name: string;
  /** KEYMAT bytes per direction for the cipher: AEAD key + 4-byte salt (RFC 5282 7.1, RFC 7634 4). */
  encrKeymatBytes: number;
}

// ---------------------------------------------------------------- keyword tables

interface Keyword {
  type: TransformType;
  id: number;
  keyLength?: number;
}

const GCM16 = EncrId.AES_GCM_16;

// The spellings strongSwan accepts for the ciphers Outpost implements.
const ENCR_KEYWORDS: Record<string, Keyword> = {
  aes128gcm16: { type: TransformType.ENCR, id: GCM16, keyLength: 128 },
  aes192gcm16: { type: TransformType.ENCR, id: GCM16, keyLength: 192 },
  aes256gcm16: { type: TransformType.ENCR, id: GCM16, keyLength: 256 },
  aes128gcm128: { type: TransformType.ENCR, id: GCM16, keyLength: 128 },
  aes192gcm128: { type: TransformType.ENCR, id: GCM16, keyLength: 192 },
  aes256gcm128: { type: TransformType.ENCR, id: GCM16, keyLength: 256 },
  aes128gcm: { type: TransformType.ENCR, id: GCM16, keyLength: 128 },
  aes192gcm: { type: TransformType.ENCR, id: GCM16, keyLength: 192 },
  aes256gcm: { type: TransformType.ENCR, id: GCM16, keyLength: 256 },
  // strongSwan sends no Key Length attribute for ChaCha20-Poly1305 (RFC 7634 2).
  chacha20poly1305: { type: TransformType.ENCR, id: EncrId.CHACHA20_POLY1305 },
};

const PRF_KEYWORDS: Record<string, Keyword> = {
  prfsha256: { type: TransformType.PRF, id: PrfId.HMAC_SHA2_256 },
  prfsha384: { type: TransformType.PRF, id: PrfId.HMAC_SHA2_384 },
  prfsha512: { type: TransformType.PRF, id: PrfId.HMAC_SHA2_512 },
};

const DH_KEYWORDS: Record<string, Keyword> = {
  x25519: { type: TransformType.DH, id: DhId.CURVE25519 },
  curve25519: { type: TransformType.DH, id: DhId.CURVE25519 },
  ecp256: { type: TransformType.DH, id: DhId.ECP_256 },
  ecp384: { type: TransformType.DH, id: DhId.ECP_384 },
  modp2048: { type: TransformType.DH, id: DhId.MODP_2048 },
};

const DH_NONE_KEYWORDS: Record<string, Keyword> = {
  none: { type: TransformType.DH, id: DhId.NONE },
  modpnone: { type: TransformType.DH, id: DhId.NONE },
};

const ESN_KEYWORDS: Record<string, Keyword> = {
  noesn: { type: TransformType.ESN, id: EsnId.NO },
  esn: { type: TransformType.ESN, id: EsnId.YES },
};

const SUPPORTED_ENCR_TEXT = 'aes128gcm16, aes192gcm16, aes256gcm16 (also spelled aes256gcm, aes256gcm128), chacha20poly1305';
const SUPPORTED_PRF_TEXT = 'prfsha256, prfsha384, prfsha512';
const SUPPORTED_DH_TEXT = 'x25519 (curve25519), ecp256, ecp384, modp2048';

function supportedText(protocol: ProtocolId.IKE | ProtocolId.ESP): string {
  return protocol === ProtocolId.IKE
    ? `encryption ${SUPPORTED_ENCR_TEXT}; PRF ${SUPPORTED_PRF_TEXT}; key exchange ${SUPPORTED_DH_TEXT}`
    : `encryption ${SUPPORTED_ENCR_TEXT}; key exchange (PFS) ${SUPPORTED_DH_TEXT}, none; ESN esn, noesn`;
}

// strongSwan keywords Outpost knows but does not implement, so the message can say why.
const CLASSIC_ENCR = /^(null|des|3des|aes(128|192|256)?|aes(128|192|256)ctr|blowfish(128|192|256)?|camellia(128|192|256)?(ctr)?|cast128|serpent(128|192|256)?|twofish(128|192|256)?)$/;
const INTEG = /^(sha|sha1|sha1_160|sha256|sha2_256|sha256_96|sha2_256_96|sha384|sha2_384|sha512|sha2_512|md5|md5_128|aesxcbc|camelliaxcbc|aescmac)$/;
const OTHER_AEAD = /^((aes|camellia)(128|192|256)ccm(8|64|12|96|16|128)?|aes(128|192|256)gcm(8|64|12|96)|aes(128|192|256)gmac|chacha20poly1305compat)$/;
const OTHER_PRF = /^prf(sha1|md5|aesxcbc|camelliaxcbc|aescmac)$/;
const OTHER_DH = /^(modpnull|modp(768|1024|1536|3072|4096|6144|8192)|modp1024s160|modp2048s(224|256)|ecp(192|224|521)|ecp(224|256|384|512)bp|curve448|x448|ntru(112|128|192|256)|newhope128)$/;

const MAX_PROPOSAL_CHARS = 1024;
const MAX_KEYWORDS = 64;
const MAX_PROPOSALS = 32;

// ---------------------------------------------------------------- parsing

function protoName(p: ProtocolId): string {
  return p === ProtocolId.IKE ? 'IKE' : p === ProtocolId.ESP ? 'ESP' : p === ProtocolId.AH ? 'AH' : `protocol ${p}`;
}

const TYPE_ORDER: readonly TransformType[] = [TransformType.ENCR, TransformType.PRF, TransformType.INTEG, TransformType.DH, TransformType.ESN];

function lookupKeyword(protocol: ProtocolId.IKE | ProtocolId.ESP, kw: string, text: string): Keyword | null {
  const pn = protoName(protocol);
  const k = ENCR_KEYWORDS[kw] ?? DH_KEYWORDS[kw];
  if (k) return k;
  if (PRF_KEYWORDS[kw]) return protocol === ProtocolId.IKE ? PRF_KEYWORDS[kw] : null; // strongSwan drops PRFs from ESP proposals
  if (DH_NONE_KEYWORDS[kw]) return protocol === ProtocolId.ESP ? DH_NONE_KEYWORDS[kw] : null; // and "none" from IKE ones
  if (ESN_KEYWORDS[kw]) {
    if (protocol === ProtocolId.ESP) return ESN_KEYWORDS[kw];
    throw new ProposalError(`"${kw}" in IKE proposal "${text}": extended sequence numbers only apply to ESP proposals`, kw);
  }
  if (CLASSIC_ENCR.test(kw) || INTEG.test(kw)) {
    throw new ProposalError(
      `algorithm "${kw}" in ${pn} proposal "${text}" is not supported: Outpost supports only AEAD ciphers for now ` +
        `(${SUPPORTED_ENCR_TEXT}); classic cipher + integrity proposals such as "aes256-sha256" are not supported yet`,
      kw,
    );
  }
  if (OTHER_AEAD.test(kw)) {
    throw new ProposalError(`cipher "${kw}" in ${pn} proposal "${text}" is not supported; supported ciphers: ${SUPPORTED_ENCR_TEXT}`, kw);
  }
  if (OTHER_PRF.test(kw)) {
    throw new ProposalError(`PRF "${kw}" in ${pn} proposal "${text}" is not supported; supported PRFs: ${SUPPORTED_PRF_TEXT}`, kw);
  }
  if (OTHER_DH.test(kw)) {
    throw new ProposalError(`key exchange method "${kw}" in ${pn} proposal "${text}" is not supported; supported: ${SUPPORTED_DH_TEXT}`, kw);
  }
  const lower = kw.toLowerCase();
  const hint = lower !== kw && (ENCR_KEYWORDS[lower] || PRF_KEYWORDS[lower] || DH_KEYWORDS[lower] || ESN_KEYWORDS[lower] || DH_NONE_KEYWORDS[lower])
    ? ` (keywords are lowercase: "${lower}")`
    : '';
  throw new ProposalError(`unknown algorithm "${kw}" in ${pn} proposal "${text}"${hint}; supported: ${supportedText(protocol)}`, kw);
}

function parseProposal(protocol: ProtocolId.IKE | ProtocolId.ESP, input: string): ConfiguredProposal {
  const pn = protoName(protocol);
  if (typeof input !== 'string') throw new ProposalError(`${pn} proposal must be a string`);
  if (input.length > MAX_PROPOSAL_CHARS) throw new ProposalError(`${pn} proposal is too long (${input.length} characters, max ${MAX_PROPOSAL_CHARS})`);
  const text = input.trim();
  if (text === '') throw new ProposalError(`${pn} proposal is empty; example: "${protocol === ProtocolId.IKE ? DEFAULT_IKE_PROPOSALS[0] : DEFAULT_ESP_PROPOSALS[0]}"`);
  const words = text.split('-').map((w) => w.trim());
  if (words.length > MAX_KEYWORDS) throw new ProposalError(`${pn} proposal "${text}" has too many algorithms (max ${MAX_KEYWORDS})`);
  const byType = new Map<TransformType, SaTransform[]>();
  for (const w of words) {
    if (w === '') throw new ProposalError(`${pn} proposal "${text}" has an empty algorithm between '-' separators`);
    if (!/^[A-Za-z0-9_]+$/.test(w)) throw new ProposalError(`invalid algorithm "${w}" in ${pn} proposal "${text}": keywords are joined by '-', e.g. "${protocol === ProtocolId.IKE ? DEFAULT_IKE_PROPOSALS[0] : 'aes256gcm16-x25519'}"`, w);
    const k = lookupKeyword(protocol, w, text);
    if (!k) continue;
    const list = byType.get(k.type) ?? [];
    if (!list.some((t) => t.id === k.id && t.keyLength === k.keyLength)) {
      list.push(k.keyLength === undefined ? { type: k.type, id: k.id } : { type: k.type, id: k.id, keyLength: k.keyLength });
    }
    byType.set(k.type, list);
  }
  if (!byType.has(TransformType.ENCR)) {
    throw new ProposalError(`${pn} proposal "${text}" has no encryption algorithm (e.g. aes256gcm16 or chacha20poly1305)`);
  }
  if (protocol === ProtocolId.IKE) {
    if (!byType.has(TransformType.PRF)) throw new ProposalError(`IKE proposal "${text}" has no PRF (e.g. prfsha256)`);
    if (!byType.has(TransformType.DH)) throw new ProposalError(`IKE proposal "${text}" has no key exchange method (e.g. x25519 or ecp256)`);
  } else if (!byType.has(TransformType.ESN)) {
    byType.set(TransformType.ESN, [{ type: TransformType.ESN, id: EsnId.NO }]); // strongSwan's default
  }
  const transforms: SaTransform[] = [];
  for (const t of TYPE_ORDER) transforms.push(...(byType.get(t) ?? []));
  return { protocol, transforms };
}

/** Parses one IKE proposal in strongSwan syntax; throws ProposalError with a readable message. */
export function parseIkeProposal(s: string): ConfiguredProposal {
  return parseProposal(ProtocolId.IKE, s);
}

/** Parses one ESP proposal in strongSwan syntax; throws ProposalError with a readable message. */
export function parseEspProposal(s: string): ConfiguredProposal {
  return parseProposal(ProtocolId.ESP, s);
}

function parseList(protocol: ProtocolId.IKE | ProtocolId.ESP, list: readonly string[], defaults: readonly string[]): ConfiguredProposal[] {
  if (!Array.isArray(list)) throw new ProposalError(`${protoName(protocol)} proposals must be a list of strings`);
  if (list.length === 0) throw new ProposalError(`${protoName(protocol)} proposal list is empty`);
  if (list.length > MAX_PROPOSALS) throw new ProposalError(`too many ${protoName(protocol)} proposals (${list.length}, max ${MAX_PROPOSALS})`);
  const out: ConfiguredProposal[] = [];
  for (const s of list) {
    // "default" as in swanctl.conf: Outpost's own defaults.
    const items = typeof s === 'string' && s.trim() === 'default' ? defaults : [s];
    for (const item of items) {
      const p = parseProposal(protocol, item);
      if (!out.some((q) => sameTransforms(q.transforms, p.transforms))) out.push(p);
    }
  }
  return out;
}

/** Parses a configured IKE proposal list ("default" expands to DEFAULT_IKE_PROPOSALS). */
export function parseIkeProposals(list: readonly string[]): ConfiguredProposal[] {
  return parseList(ProtocolId.IKE, list, DEFAULT_IKE_PROPOSALS);
}

/** Parses a configured ESP proposal list ("default" expands to DEFAULT_ESP_PROPOSALS). */
export function parseEspProposals(list: readonly string[]): ConfiguredProposal[] {
  return parseList(ProtocolId.ESP, list, DEFAULT_ESP_PROPOSALS);
}

/**
 * Defaults. A stock strongSwan 5.9.8 (`proposals = default`) offers and accepts, in its AEAD
 * IKE proposal, AES-GCM-16 128/192/256 and ChaCha20-Poly1305 with PRF SHA2-256/384/512 (and
 * others) and key exchange ECP 256/384/521, Curve25519/448, MODP 3072-8192 and MODP 2048;
 * its default ESP proposals are AES-GCM-16 128/192/256 (no ESN) then AES-CBC + HMAC-SHA2 (no ESN).
 * Every default below matches one of them; ESP ChaCha20-Poly1305 is a fallback for Outpost peers.
 */
export const DEFAULT_IKE_PROPOSALS: readonly string[] = Object.freeze([
  'aes256gcm16-prfsha256-x25519',
  'chacha20poly1305-prfsha256-x25519',
  'aes128gcm16-prfsha256-ecp256',
]);

export const DEFAULT_ESP_PROPOSALS: readonly string[] = Object.freeze(['aes256gcm16', 'chacha20poly1305']);

export function defaultIkeProposals(): ConfiguredProposal[] {
  return parseIkeProposals(DEFAULT_IKE_PROPOSALS);
}

export function defaultEspProposals(): ConfiguredProposal[] {
  return parseEspProposals(DEFAULT_ESP_PROPOSALS);
}

// ---------------------------------------------------------------- formatting

const ENCR_NAMES: Record<number, string> = {
  2: 'DES', 3: '3DES', 11: 'NULL', 12: 'AES_CBC', 13: 'AES_CTR', 14: 'AES_CCM_8', 15: 'AES_CCM_12', 16: 'AES_CCM_16',
  18: 'AES_GCM_8', 19: 'AES_GCM_12', 20: 'AES_GCM_16', 21: 'NULL_AES_GMAC', 23: 'CAMELLIA_CBC', 24: 'CAMELLIA_CTR',
  28: 'CHACHA20_POLY1305',
};
const PRF_NAMES: Record<number, string> = {
  1: 'PRF_HMAC_MD5', 2: 'PRF_HMAC_SHA1', 4: 'PRF_AES128_XCBC', 5: 'PRF_HMAC_SHA2_256', 6: 'PRF_HMAC_SHA2_384',
  7: 'PRF_HMAC_SHA2_512', 8: 'PRF_AES128_CMAC',
};
const INTEG_NAMES: Record<number, string> = {
  0: 'NONE', 1: 'HMAC_MD5_96', 2: 'HMAC_SHA1_96', 5: 'AES_XCBC_96', 8: 'AES_CMAC_96', 12: 'HMAC_SHA2_256_128',
  13: 'HMAC_SHA2_384_192', 14: 'HMAC_SHA2_512_256',
};
const DH_NAMES: Record<number, string> = {
  0: 'KE_NONE', 1: 'MODP_768', 2: 'MODP_1024', 5: 'MODP_1536', 14: 'MODP_2048', 15: 'MODP_3072', 16: 'MODP_4096',
  17: 'MODP_6144', 18: 'MODP_8192', 19: 'ECP_256', 20: 'ECP_384', 21: 'ECP_521', 22: 'MODP_1024_160',
  23: 'MODP_2048_224', 24: 'MODP_2048_256', 25: 'ECP_192', 26: 'ECP_224', 27: 'ECP_224_BP', 28: 'ECP_256_BP',
  29: 'ECP_384_BP', 30: 'ECP_512_BP', 31: 'CURVE_25519', 32: 'CURVE_448',
};
const ESN_NAMES: Record<number, string> = { 0: 'NO_EXT_SEQ', 1: 'EXT_SEQ' };

function transformName(t: SaTransform): string {
  const table =
    t.type === TransformType.ENCR ? ENCR_NAMES
    : t.type === TransformType.PRF ? PRF_NAMES
    : t.type === TransformType.INTEG ? INTEG_NAMES
    : t.type === TransformType.DH ? DH_NAMES
    : t.type === TransformType.ESN ? ESN_NAMES
    : {};
  const base = table[t.id] ?? `UNKNOWN_${t.type}_${t.id}`;
  return t.keyLength !== undefined ? `${base}_${t.keyLength}` : base;
}

const DESCRIBE_MAX_TRANSFORMS = 24;
const DESCRIBE_MAX_PROPOSALS = 8;

/** strongSwan's log style: "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519" (bounded for hostile input). */
export function describeProposal(p: { protocol: ProtocolId; transforms: readonly SaTransform[] }): string {
  const names = p.transforms.slice(0, DESCRIBE_MAX_TRANSFORMS).map(transformName);
  if (p.transforms.length > DESCRIBE_MAX_TRANSFORMS) names.push(`...(${p.transforms.length - DESCRIBE_MAX_TRANSFORMS} more)`);
  return `${protoName(p.protocol)}:${names.join('/')}`;
}

export function describeProposals(list: readonly { protocol: ProtocolId; transforms: readonly SaTransform[] }[]): string {
  if (list.length === 0) return '(none)';
  const parts = list.slice(0, DESCRIBE_MAX_PROPOSALS).map(describeProposal);
  if (list.length > DESCRIBE_MAX_PROPOSALS) parts.push(`...(${list.length - DESCRIBE_MAX_PROPOSALS} more)`);
  return parts.join(', ');
}

const DH_KEYWORD_BY_ID: Record<number, string> = { 0: 'none', 14: 'modp2048', 19: 'ecp256', 20: 'ecp384', 21: 'ecp521', 31: 'x25519', 32: 'x448', 15: 'modp3072', 16: 'modp4096' };
const PRF_KEYWORD_BY_ID: Record<number, string> = { 2: 'prfsha1', 5: 'prfsha256', 6: 'prfsha384', 7: 'prfsha512', 4: 'prfaesxcbc', 8: 'prfaescmac' };

function transformKeyword(t: SaTransform): string {
  switch (t.type) {
    case TransformType.ENCR: {
      const bits = t.keyLength ?? '';
      if (t.id === EncrId.AES_GCM_16) return `aes${bits}gcm16`;
      if (t.id === EncrId.AES_GCM_12) return `aes${bits}gcm12`;
      if (t.id === EncrId.AES_GCM_8) return `aes${bits}gcm8`;
      if (t.id === EncrId.CHACHA20_POLY1305) return t.keyLength === undefined ? 'chacha20poly1305' : 'chacha20poly1305compat';
      if (t.id === EncrId.AES_CBC) return `aes${bits}`;
      return `encr${t.id}${t.keyLength !== undefined ? '_' + t.keyLength : ''}`;
    }
    case TransformType.PRF:
      return PRF_KEYWORD_BY_ID[t.id] ?? `prf${t.id}`;
    case TransformType.INTEG:
      return t.id === IntegId.NONE ? 'integnone' : t.id === IntegId.HMAC_SHA2_256_128 ? 'sha256' : t.id === IntegId.HMAC_SHA1_96 ? 'sha1' : `integ${t.id}`;
    case TransformType.DH:
      return DH_KEYWORD_BY_ID[t.id] ?? `ke${t.id}`;
    case TransformType.ESN:
      return t.id === EsnId.YES ? 'esn' : t.id === EsnId.NO ? 'noesn' : `esn${t.id}`;
    default:
      return `type${t.type}_${t.id}`;
  }
}

/**
 * strongSwan syntax for a proposal, e.g. "aes256gcm16-prfsha256-x25519", "aes256gcm16-x25519-esn".
 * An ESP proposal whose only ESN choice is "no ESN" omits it (strongSwan's default), and one
 * whose only DH choice is NONE omits that (same meaning: no PFS); INTEG NONE (AEAD) is omitted too.
 */
export function formatProposal(p: { protocol: ProtocolId; transforms: readonly SaTransform[] }): string {
  const esn = p.transforms.filter((t) => t.type === TransformType.ESN);
  const onlyNoEsn = esn.length === 1 && esn[0]!.id === EsnId.NO;
  const dh = p.transforms.filter((t) => t.type === TransformType.DH);
  const onlyNoDh = dh.length === 1 && dh[0]!.id === DhId.NONE;
  const words: string[] = [];
  for (const type of [...TYPE_ORDER, ...new Set(p.transforms.map((t) => t.type).filter((t) => !TYPE_ORDER.includes(t)))]) {
    for (const t of p.transforms) {
      if (t.type !== type) continue;
      if (t.type === TransformType.ESN && onlyNoEsn) continue;
      if (t.type === TransformType.DH && onlyNoDh && p.protocol === ProtocolId.ESP) continue;
      if (t.type === TransformType.INTEG && t.id === IntegId.NONE) continue;
      const w = transformKeyword(t);
      if (!words.includes(w)) words.push(w);
    }
  }
  return words.join('-');
}

// ---------------------------------------------------------------- SA payload mapping

/**
 * Proposals for an SA payload, numbered from 1. `spi`: empty for IKE_SA_INIT, our 8-byte IKE SPI
 * for an IKE SA rekey, our 4-byte inbound SPI for ESP.
 */
export function toSaProposals(configured: readonly ConfiguredProposal[], spi: Buffer = Buffer.alloc(0)): SaProposal[] {
  if (configured.length > 255) throw new ProposalError('more than 255 proposals');
  return configured.map((c, i) => ({
    number: i + 1,
    protocol: c.protocol,
    spi: Buffer.from(spi),
    transforms: c.transforms.map((t) => ({ ...t })),
  }));
}

/**
 * The proposals without key exchange transforms, for the Child SA created inside IKE_AUTH
 * (which has no KE payload, RFC 7296 1.2), duplicates removed; as strongSwan does.
 */
export function withoutKe(configured: readonly ConfiguredProposal[]): ConfiguredProposal[] {
  const out: ConfiguredProposal[] = [];
  for (const c of configured) {
    const p = { protocol: c.protocol, transforms: c.transforms.filter((t) => t.type !== TransformType.DH) };
    if (!out.some((q) => q.protocol === p.protocol && sameTransforms(q.transforms, p.transforms))) out.push(p);
  }
  return out;
}

/** The key exchange method an initiator sends a KE payload for: the first one of its first proposal that has one. */
export function initiatorDh(configured: readonly ConfiguredProposal[]): number | undefined {
  for (const c of configured) {
    const t = c.transforms.find((x) => x.type === TransformType.DH && x.id !== DhId.NONE);
    if (t) return t.id;
  }
  return undefined;
}

/**
 * After INVALID_KE_PAYLOAD: moves `dh` to the front of each proposal that has it and the
 * proposals without it to the back (what strongSwan does), so the retried KE matches the first proposal.
 */
export function promoteDh(configured: readonly ConfiguredProposal[], dh: number): ConfiguredProposal[] {
  const withDh: ConfiguredProposal[] = [];
  const rest: ConfiguredProposal[] = [];
  for (const c of configured) {
    const i = c.transforms.findIndex((t) => t.type === TransformType.DH && t.id === dh);
    if (i < 0) {
      rest.push(c);
      continue;
    }
    const dhs = c.transforms.filter((t) => t.type === TransformType.DH);
    const ordered = [dhs.find((t) => t.id === dh)!, ...dhs.filter((t) => t.id !== dh)];
    const others = c.transforms.filter((t) => t.type !== TransformType.DH);
    const firstAfter = others.findIndex((t) => TYPE_ORDER.indexOf(t.type) > TYPE_ORDER.indexOf(TransformType.DH));
    const at = firstAfter < 0 ? others.length : firstAfter;
    withDh.push({ protocol: c.protocol, transforms: [...others.slice(0, at), ...ordered, ...others.slice(at)] });
  }
  return [...withDh, ...rest];
}

// ---------------------------------------------------------------- selection (RFC 7296 2.7)

export type SelectResult =
  | { ok: true; proposal: SaProposal; suite: ChosenSuite }
  | { ok: false; notify: NotifyType.NO_PROPOSAL_CHOSEN; message: string };

export interface SelectOptions {
  /** Ignore key exchange transforms on both sides: the Child SA of IKE_AUTH, or CREATE_CHILD_SA without KE. */
  skipKe?: boolean;
  /**
   * The group of the peer's KE payload: when a matching proposal allows it, choose it, so the
   * exchange needs no INVALID_KE_PAYLOAD round trip.
   */
  preferDh?: number;
}

const AEAD_IDS: ReadonlySet<number> = new Set([14, 15, 16, 18, 19, 20, 25, 26, 27, 28]);

function isAead(encrId: number): boolean {
  return AEAD_IDS.has(encrId);
}

function sameTransform(a: SaTransform, b: SaTransform): boolean {
  // A Key Length attribute of 0 is not the same as none on the wire (ChaCha20-Poly1305 must have none).
  return a.type === b.type && a.id === b.id && a.keyLength === b.keyLength;
}

function sameTransforms(a: readonly SaTransform[], b: readonly SaTransform[]): boolean {
  return a.length === b.length && a.every((t, i) => sameTransform(t, b[i]!));
}

/** A transform we can consider: no unknown attributes, and Key Length only on ciphers (RFC 7296 3.3.5). */
function usable(t: SaTransform): boolean {
  return (t.attributes === undefined || t.attributes.length === 0) && (t.type === TransformType.ENCR || t.keyLength === undefined);
}

function ofType(list: readonly SaTransform[], type: TransformType): SaTransform[] {
  return list.filter((t) => t.type === type);
}

function plain(t: SaTransform): SaTransform {
  return t.keyLength === undefined ? { type: t.type, id: t.id } : { type: t.type, id: t.id, keyLength: t.keyLength };
}

const KNOWN_TYPES: ReadonlySet<number> = new Set(TYPE_ORDER);

/** One transform per type from `offered` that `ours` accepts, or null. */
function matchProposal(offered: SaProposal, ours: ConfiguredProposal, opts: SelectOptions): SaTransform[] | null {
  if (offered.protocol !== ours.protocol) return null;
  const isIke = offered.protocol === ProtocolId.IKE;
  // RFC 7296 3.3.6: a proposal with a transform type we do not understand is unacceptable.
  if (offered.transforms.some((t) => !KNOWN_TYPES.has(t.type))) return null;
  if (isIke && offered.transforms.some((t) => t.type === TransformType.ESN)) return null;
  if (!isIke && offered.transforms.some((t) => t.type === TransformType.PRF)) return null;

  const pick = (type: TransformType, prefer?: number): SaTransform | undefined => {
    const mine = ofType(ours.transforms, type);
    const theirs = ofType(offered.transforms, type).filter(usable);
    const hit = (t: SaTransform): boolean => mine.some((m) => sameTransform(m, t));
    if (prefer !== undefined) {
      const p = theirs.find((t) => t.id === prefer && hit(t));
      if (p) return p;
    }
    return theirs.find(hit);
  };

  const chosen: SaTransform[] = [];
  const encr = pick(TransformType.ENCR);
  if (!encr) return null;
  chosen.push(plain(encr));

  if (isIke) {
    const prf = pick(TransformType.PRF);
    if (!prf) return null;
    chosen.push(plain(prf));
  }

  // Ours are all AEADs: integrity is skipped (strongSwan), but an explicit INTEG NONE offer is
  // answered with INTEG NONE so the reply has one transform of each offered type (RFC 7296 2.7).
  const integ = ofType(offered.transforms, TransformType.INTEG);
  if (!isAead(encr.id)) return null;
  if (integ.some((t) => t.id === IntegId.NONE && usable(t))) chosen.push({ type: TransformType.INTEG, id: IntegId.NONE });

  if (!opts.skipKe) {
    const theirDh = ofType(offered.transforms, TransformType.DH).filter(usable);
    if (isIke) {
      const dh = pick(TransformType.DH, opts.preferDh);
      if (!dh || dh.id === DhId.NONE) return null; // RFC 7296 2.18: never NONE for an IKE SA
      chosen.push(plain(dh));
    } else {
      // ESP: DH is optional. No DH transform on a side means "NONE" (strongSwan's select_algo).
      const mineDh = ofType(ours.transforms, TransformType.DH);
      const mineIds = mineDh.length ? mineDh.map((t) => t.id) : [DhId.NONE];
      const offeredDh = ofType(offered.transforms, TransformType.DH);
      const theirIds = offeredDh.length ? theirDh.map((t) => t.id) : [DhId.NONE];
      let id: number | undefined;
      if (opts.preferDh !== undefined && theirIds.includes(opts.preferDh) && mineIds.includes(opts.preferDh)) id = opts.preferDh;
      else id = theirIds.find((x) => mineIds.includes(x));
      if (id === undefined) return null;
      // Answer with DH NONE only when the peer listed DH transforms; omit DH when it listed none.
      if (id !== DhId.NONE || offeredDh.length) chosen.push({ type: TransformType.DH, id });
    }
  }

  if (!isIke) {
    const esn = pick(TransformType.ESN);
    if (!esn) return null; // ESN is mandatory in ESP proposals (RFC 7296 3.3.3)
    chosen.push(plain(esn));
  }
  return chosen;
}

/**
 * Responder side of RFC 7296 2.7: the first of the peer's proposals, in the peer's order, that
 * one of ours accepts; one transform per type. The returned proposal keeps the peer's proposal
 * number and SPI (the exchange puts its own SPI in before replying).
 */
export function selectProposal(
  offered: readonly SaProposal[],
  configured: readonly ConfiguredProposal[],
  opts: SelectOptions = {},
): SelectResult {
  for (const p of offered) {
    let first: SaTransform[] | null = null;
    for (const c of configured) {
      const m = matchProposal(p, c, opts);
      if (!m) continue;
      first ??= m;
      // With a KE group to keep, a later configured proposal may keep it where the first does not.
      const dh = m.find((t) => t.type === TransformType.DH);
      if (opts.preferDh === undefined || p.protocol !== ProtocolId.IKE || dh?.id === opts.preferDh) {
        first = m;
        break;
      }
    }
    if (first) {
      const proposal: SaProposal = { number: p.number, protocol: p.protocol, spi: Buffer.from(p.spi), transforms: first };
      return { ok: true, proposal, suite: chosenSuite(proposal) };
    }
  }
  const proto = protoName(offered[0]?.protocol ?? configured[0]?.protocol ?? ProtocolId.IKE);
  return {
    ok: false,
    notify: NotifyType.NO_PROPOSAL_CHOSEN,
    message: `no acceptable ${proto} proposal; received: ${describeProposals(offered)}; configured: ${describeProposals(configured)}`,
  };
}

export type CheckResult = { ok: true; proposal: SaProposal; suite: ChosenSuite } | { ok: false; message: string };

/**
 * Initiator side: checks the responder's SA payload against what we offered. It must hold exactly
 * one proposal, numbered like one of ours, with the same protocol, exactly one transform of each
 * type, each taken from that proposal, and every type we offered (DH may be omitted in ESP when
 * we offered NONE or `skipKe`; INTEG may be omitted with an AEAD).
 */
export function checkChosenProposal(
  offered: readonly SaProposal[],
  received: readonly SaProposal[],
  opts: { skipKe?: boolean } = {},
): CheckResult {
  const fail = (why: string): CheckResult => ({ ok: false, message: `invalid proposal choice from peer: ${why}` });
  if (received.length !== 1) return fail(`expected exactly one proposal, got ${received.length}`);
  const r = received[0]!;
  const mine = offered.find((p) => p.number === r.number);
  if (!mine) return fail(`proposal number ${r.number} was not offered`);
  if (mine.protocol !== r.protocol) return fail(`protocol ${protoName(r.protocol)} but proposal ${r.number} was ${protoName(mine.protocol)}`);
  const expectedSpi = r.protocol === ProtocolId.ESP ? 4 : mine.spi.length;
  if (r.spi.length !== expectedSpi) return fail(`SPI of ${r.spi.length} bytes, expected ${expectedSpi}`);
  const seen = new Set<number>();
  for (const t of r.transforms) {
    if (seen.has(t.type)) return fail(`more than one transform of type ${t.type}`);
    seen.add(t.type);
    if (!usable(t)) return fail(`transform ${transformName(t)} carries unexpected attributes`);
    if (opts.skipKe && t.type === TransformType.DH && t.id !== DhId.NONE) return fail('a key exchange method was chosen where none was negotiated');
    const offeredHere = mine.transforms.some((m) => sameTransform(m, t));
    // "NONE" where we offered no transform of that type means the same as its absence.
    const implicitNone =
      (t.type === TransformType.DH && t.id === DhId.NONE && r.protocol === ProtocolId.ESP &&
        !mine.transforms.some((m) => m.type === TransformType.DH && m.id !== DhId.NONE)) ||
      (t.type === TransformType.INTEG && t.id === IntegId.NONE && !mine.transforms.some((m) => m.type === TransformType.INTEG));
    if (!offeredHere && !implicitNone) return fail(`${transformName(t)} was not offered in proposal ${r.number}`);
  }
  for (const type of new Set(mine.transforms.map((t) => t.type))) {
    if (seen.has(type)) continue;
    if (type === TransformType.DH && (opts.skipKe || (r.protocol === ProtocolId.ESP && mine.transforms.some((t) => t.type === TransformType.DH && t.id === DhId.NONE)))) continue;
    // With an AEAD no integrity algorithm is used, so the reply may leave INTEG out (strongSwan does).
    if (type === TransformType.INTEG && r.transforms.some((t) => t.type === TransformType.ENCR && isAead(t.id))) continue;
    return fail(`no transform of type ${type} in the reply`);
  }
  const encr = r.transforms.find((t) => t.type === TransformType.ENCR);
  if (!encr) return fail('no encryption algorithm in the reply');
  if (!isAead(encr.id) || encrKeymatBytes(encr.id, encr.keyLength) === undefined) return fail(`${transformName(encr)} is not a cipher Outpost implements`);
  const proposal: SaProposal = { number: r.number, protocol: r.protocol, spi: Buffer.from(r.spi), transforms: r.transforms.map(plain) };
  return { ok: true, proposal, suite: chosenSuite(proposal) };
}

/** KEYMAT bytes per direction for an AEAD cipher (key + 4-byte salt), or undefined if Outpost has no such cipher. */
export function encrKeymatBytes(encrId: number, keyLength?: number): number | undefined {
  if (encrId === EncrId.AES_GCM_16 && (keyLength === 128 || keyLength === 192 || keyLength === 256)) return keyLength / 8 + 4;
  if (encrId === EncrId.CHACHA20_POLY1305 && keyLength === undefined) return 32 + 4;
  return undefined;
}

/** The algorithms of a single-transform-per-type proposal (a selection result or a checked reply). */
export function chosenSuite(p: { protocol: ProtocolId; transforms: readonly SaTransform[] }): ChosenSuite {
  const one = (type: TransformType): SaTransform | undefined => p.transforms.find((t) => t.type === type);
  const encr = one(TransformType.ENCR);
  if (!encr) throw new ProposalError('chosen proposal has no encryption algorithm');
  const bytes = encrKeymatBytes(encr.id, encr.keyLength);
  if (bytes === undefined) throw new ProposalError(`chosen cipher ${transformName(encr)} is not implemented`);
  const suite: ChosenSuite = {
    protocol: p.protocol,
    encr: encr.keyLength === undefined ? { id: encr.id } : { id: encr.id, keyLength: encr.keyLength },
    name: formatProposal(p),
    encrKeymatBytes: bytes,
  };
  const prf = one(TransformType.PRF);
  if (prf) suite.prf = prf.id;
  const dh = one(TransformType.DH);
  if (dh && dh.id !== DhId.NONE) suite.dh = dh.id;
  const esn = one(TransformType.ESN);
  if (esn) suite.esn = esn.id as EsnId;
  return suite;
}
