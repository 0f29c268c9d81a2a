// Proposal strings (strongSwan syntax), SA payload mapping, and RFC 7296 2.7 selection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DhId, EncrId, EsnId, IntegId, NotifyType, PrfId, ProtocolId, TransformType } from '../../../firmware/ike/constants.ts';
import {
  DEFAULT_ESP_PROPOSALS,
  DEFAULT_IKE_PROPOSALS,
  ProposalError,
  checkChosenProposal,
  defaultEspProposals,
  defaultIkeProposals,
  describeProposal,
  formatProposal,
  initiatorDh,
  parseEspProposal,
  parseEspProposals,
  parseIkeProposal,
  parseIkeProposals,
  promoteDh,
  selectProposal,
  toSaProposals,
  withoutKe,
  type SaProposal,
  type SaTransform,
} from '../../../firmware/ike/proposal.ts';

const { ENCR, PRF, INTEG, DH, ESN } = TransformType;
const gcm = (bits: number): SaTransform => ({ type: ENCR, id: EncrId.AES_GCM_16, keyLength: bits });
const chacha: SaTransform = { type: ENCR, id: EncrId.CHACHA20_POLY1305 };
const prf = (id: PrfId): SaTransform => ({ type: PRF, id });
const dh = (id: DhId): SaTransform => ({ type: DH, id });
const esn = (id: EsnId): SaTransform => ({ type: ESN, id });
const NO_ESN = esn(EsnId.NO);

function offer(protocol: ProtocolId, ...proposals: SaTransform[][]): SaProposal[] {
  return proposals.map((transforms, i) => ({ number: i + 1, protocol, spi: protocol === ProtocolId.ESP ? Buffer.from([0xc0, 0, 0, i + 1]) : Buffer.alloc(0), transforms }));
}

function proposalError(re: RegExp, keyword?: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof ProposalError, `expected ProposalError, got ${String(e)}`);
    assert.match(e.message, re);
    if (keyword !== undefined) assert.equal(e.keyword, keyword);
    return true;
  };
}

// ---------------------------------------------------------------- parsing

test('the three IKE proposals parse to the expected transforms', () => {
  assert.deepEqual(parseIkeProposal('aes256gcm16-prfsha256-x25519'), { protocol: ProtocolId.IKE, transforms: [gcm(256), prf(PrfId.HMAC_SHA2_256), dh(DhId.CURVE25519)] });
  assert.deepEqual(parseIkeProposal('aes128gcm16-prfsha256-ecp256'), { protocol: ProtocolId.IKE, transforms: [gcm(128), prf(PrfId.HMAC_SHA2_256), dh(DhId.ECP_256)] });
  assert.deepEqual(parseIkeProposal('chacha20poly1305-prfsha256-x25519'), { protocol: ProtocolId.IKE, transforms: [chacha, prf(PrfId.HMAC_SHA2_256), dh(DhId.CURVE25519)] });
});

test('the six ESP proposals: without PFS (no DH) and with PFS (that group), no ESN by default', () => {
  const cases: [string, SaTransform[]][] = [
    ['aes256gcm16', [gcm(256), NO_ESN]],
    ['aes128gcm16', [gcm(128), NO_ESN]],
    ['chacha20poly1305', [chacha, NO_ESN]],
    ['aes256gcm16-x25519', [gcm(256), dh(DhId.CURVE25519), NO_ESN]],
    ['aes128gcm16-ecp256', [gcm(128), dh(DhId.ECP_256), NO_ESN]],
    ['chacha20poly1305-ecp384', [chacha, dh(DhId.ECP_384), NO_ESN]],
  ];
  for (const [s, transforms] of cases) assert.deepEqual(parseEspProposal(s), { protocol: ProtocolId.ESP, transforms }, s);
});

test('several algorithms per type keep their order; tokens may come in any order; duplicates collapse', () => {
  assert.deepEqual(parseIkeProposal('aes256gcm16-aes128gcm16-prfsha384-prfsha256-x25519-ecp256').transforms, [
    gcm(256), gcm(128), prf(PrfId.HMAC_SHA2_384), prf(PrfId.HMAC_SHA2_256), dh(DhId.CURVE25519), dh(DhId.ECP_256),
  ]);
  assert.deepEqual(parseIkeProposal('x25519-prfsha512-chacha20poly1305-aes256gcm16-modp2048').transforms, [
    chacha, gcm(256), prf(PrfId.HMAC_SHA2_512), dh(DhId.CURVE25519), dh(DhId.MODP_2048),
  ]);
  assert.deepEqual(parseIkeProposal('aes256gcm16-aes256gcm-aes256gcm128-prfsha256-x25519-curve25519').transforms, [gcm(256), prf(PrfId.HMAC_SHA2_256), dh(DhId.CURVE25519)]);
  assert.deepEqual(parseIkeProposal(' aes192gcm16 - prfsha256 - ecp384 ').transforms, [gcm(192), prf(PrfId.HMAC_SHA2_256), dh(DhId.ECP_384)]);
});

test('ESP: ESN keywords, DH "none", PRFs dropped like strongSwan', () => {
  assert.deepEqual(parseEspProposal('aes256gcm16-esn').transforms, [gcm(256), esn(EsnId.YES)]);
  assert.deepEqual(parseEspProposal('aes256gcm16-noesn').transforms, [gcm(256), NO_ESN]);
  assert.deepEqual(parseEspProposal('aes256gcm16-esn-noesn').transforms, [gcm(256), esn(EsnId.YES), NO_ESN]);
  assert.deepEqual(parseEspProposal('aes256gcm16-x25519-none').transforms, [gcm(256), dh(DhId.CURVE25519), dh(DhId.NONE), NO_ESN]);
  assert.deepEqual(parseEspProposal('aes256gcm16-modpnone').transforms, [gcm(256), dh(DhId.NONE), NO_ESN]);
  assert.deepEqual(parseEspProposal('aes256gcm16-prfsha256-x25519').transforms, [gcm(256), dh(DhId.CURVE25519), NO_ESN]);
});

test('unknown keywords: the message names the keyword and lists what is supported', () => {
  assert.throws(() => parseIkeProposal('aes256gcm16-prfsha256-foo'), proposalError(/unknown algorithm "foo" in IKE proposal "aes256gcm16-prfsha256-foo"; supported: .*aes256gcm16.*chacha20poly1305.*prfsha256.*x25519.*ecp256/, 'foo'));
  assert.throws(() => parseEspProposal('aes256gcm16-bar'), proposalError(/unknown algorithm "bar" in ESP proposal.*none.*esn, noesn/, 'bar'));
  assert.throws(() => parseIkeProposal('AES256GCM16-prfsha256-x25519'), proposalError(/keywords are lowercase: "aes256gcm16"/, 'AES256GCM16'));
});

test('non-AEAD and other unsupported strongSwan algorithms get a specific message', () => {
  assert.throws(() => parseIkeProposal('aes256-sha256-prfsha256-modp2048'), proposalError(/"aes256" .* not supported: Outpost supports only AEAD ciphers.*not supported yet/, 'aes256'));
  assert.throws(() => parseEspProposal('aes128-sha1'), proposalError(/only AEAD/, 'aes128'));
  assert.throws(() => parseEspProposal('aes256gcm16-sha256'), proposalError(/"sha256" .*only AEAD/, 'sha256'));
  assert.throws(() => parseEspProposal('3des-md5'), proposalError(/only AEAD/, '3des'));
  assert.throws(() => parseIkeProposal('aes256ccm16-prfsha256-x25519'), proposalError(/cipher "aes256ccm16" .* not supported; supported ciphers: aes128gcm16/, 'aes256ccm16'));
  assert.throws(() => parseEspProposal('aes128gcm8'), proposalError(/cipher "aes128gcm8"/, 'aes128gcm8'));
  assert.throws(() => parseIkeProposal('aes256gcm16-prfsha1-x25519'), proposalError(/PRF "prfsha1" .* supported PRFs: prfsha256, prfsha384, prfsha512/, 'prfsha1'));
  assert.throws(() => parseIkeProposal('aes256gcm16-prfsha256-modp1024'), proposalError(/key exchange method "modp1024" .* supported: x25519/, 'modp1024'));
  assert.throws(() => parseIkeProposal('aes256gcm16-prfsha256-ecp521'), proposalError(/"ecp521"/, 'ecp521'));
  assert.throws(() => parseEspProposal('aes256gcm16-curve448'), proposalError(/"curve448"/, 'curve448'));
});

test('malformed and incomplete proposals', () => {
  assert.throws(() => parseIkeProposal(''), proposalError(/empty/));
  assert.throws(() => parseIkeProposal('   '), proposalError(/empty/));
  assert.throws(() => parseIkeProposal('aes256gcm16--prfsha256-x25519'), proposalError(/empty algorithm/));
  assert.throws(() => parseIkeProposal('aes256gcm16-prfsha256-x25519-'), proposalError(/empty algorithm/));
  assert.throws(() => parseIkeProposal('aes256gcm16,prfsha256,x25519'), proposalError(/invalid algorithm .*joined by '-'/));
  assert.throws(() => parseIkeProposal('aes256gcm16-prfsha256 x25519'), proposalError(/invalid algorithm/));
  assert.throws(() => parseIkeProposal('a'.repeat(2000)), proposalError(/too long/));
  assert.throws(() => parseIkeProposal(Array(70).fill('x25519').join('-')), proposalError(/too many algorithms/));
  assert.throws(() => parseIkeProposal('prfsha256-x25519'), proposalError(/no encryption algorithm/));
  assert.throws(() => parseIkeProposal('aes256gcm16-x25519'), proposalError(/no PRF \(e\.g\. prfsha256\)/));
  assert.throws(() => parseIkeProposal('aes256gcm16-prfsha256'), proposalError(/no key exchange method/));
  assert.throws(() => parseIkeProposal('aes256gcm16-prfsha256-none'), proposalError(/no key exchange method/));
  assert.throws(() => parseIkeProposal('aes256gcm16-prfsha256-x25519-esn'), proposalError(/only apply to ESP/, 'esn'));
  assert.throws(() => parseEspProposal('x25519-esn'), proposalError(/no encryption algorithm/));
  assert.throws(() => parseIkeProposal(42 as unknown as string), proposalError(/must be a string/));
});

test('proposal lists: "default", de-duplication, bounds', () => {
  assert.deepEqual(parseIkeProposals(['default']), defaultIkeProposals());
  assert.deepEqual(parseEspProposals(['aes256gcm16', 'default']), defaultEspProposals());
  assert.equal(parseIkeProposals(['aes256gcm16-prfsha256-x25519', 'aes256gcm-prfsha256-curve25519']).length, 1);
  assert.throws(() => parseIkeProposals([]), proposalError(/empty/));
  assert.throws(() => parseEspProposals(Array(40).fill('aes256gcm16')), proposalError(/too many/));
  assert.throws(() => parseEspProposals('aes256gcm16' as unknown as string[]), proposalError(/list/));
  assert.throws(() => parseEspProposals(['aes256gcm16', 'aes256-sha256']), proposalError(/"aes256"/));
});

test('defaults parse and are what DESIGN.md shows', () => {
  assert.deepEqual([...DEFAULT_ESP_PROPOSALS], ['aes256gcm16', 'chacha20poly1305']);
  assert.equal(DEFAULT_IKE_PROPOSALS[0], 'aes256gcm16-prfsha256-x25519');
  assert.equal(defaultIkeProposals().length, DEFAULT_IKE_PROPOSALS.length);
  assert.equal(defaultEspProposals().length, 2);
});

// ---------------------------------------------------------------- formatting and mapping

test('formatProposal writes strongSwan syntax that parses back to the same proposal', () => {
  const ike = ['aes256gcm16-prfsha256-x25519', 'aes128gcm16-prfsha256-ecp256', 'chacha20poly1305-prfsha256-x25519', 'aes256gcm16-aes128gcm16-prfsha384-prfsha256-x25519-ecp256', 'aes192gcm16-prfsha512-modp2048-ecp384'];
  for (const s of ike) assert.equal(formatProposal(parseIkeProposal(s)), s);
  const esp = ['aes256gcm16', 'chacha20poly1305', 'aes256gcm16-x25519', 'aes128gcm16-ecp256-esn', 'aes256gcm16-esn-noesn', 'aes256gcm16-x25519-none'];
  for (const s of esp) assert.equal(formatProposal(parseEspProposal(s)), s);
  assert.equal(formatProposal(parseIkeProposal('aes256gcm-prfsha256-curve25519')), 'aes256gcm16-prfsha256-x25519');
  assert.equal(formatProposal(parseEspProposal('aes256gcm16-noesn')), 'aes256gcm16');
  assert.equal(formatProposal(parseEspProposal('aes256gcm16-none')), 'aes256gcm16');
});

test('describeProposal uses strongSwan log names', () => {
  assert.equal(describeProposal(parseIkeProposal('aes256gcm16-prfsha256-x25519')), 'IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519');
  assert.equal(describeProposal(parseEspProposal('chacha20poly1305-ecp384-esn')), 'ESP:CHACHA20_POLY1305/ECP_384/EXT_SEQ');
  assert.equal(describeProposal({ protocol: ProtocolId.IKE, transforms: [{ type: ENCR, id: 12, keyLength: 128 }, { type: INTEG, id: 12 }, { type: 9 as TransformType, id: 77 }] }), 'IKE:AES_CBC_128/HMAC_SHA2_256_128/UNKNOWN_9_77');
});

test('toSaProposals numbers from 1, copies the SPI, puts Key Length only on AES', () => {
  const spi = Buffer.from([1, 2, 3, 4]);
  const sa = toSaProposals(defaultEspProposals(), spi);
  assert.deepEqual(sa.map((p) => p.number), [1, 2]);
  assert.deepEqual(sa[0], { number: 1, protocol: ProtocolId.ESP, spi, transforms: [gcm(256), NO_ESN] });
  assert.deepEqual(sa[1]!.transforms, [chacha, NO_ESN]);
  spi[0] = 9;
  assert.equal(sa[0]!.spi[0], 1, 'SPI is copied');
  assert.deepEqual(toSaProposals(defaultIkeProposals())[2], { number: 3, protocol: ProtocolId.IKE, spi: Buffer.alloc(0), transforms: [gcm(128), prf(PrfId.HMAC_SHA2_256), dh(DhId.ECP_256)] });
});

test('withoutKe, initiatorDh, promoteDh', () => {
  const esp = parseEspProposals(['aes256gcm16-x25519', 'aes256gcm16-ecp256', 'chacha20poly1305-x25519-none']);
  assert.deepEqual(withoutKe(esp).map(formatProposal), ['aes256gcm16', 'chacha20poly1305']);
  assert.equal(initiatorDh(defaultIkeProposals()), DhId.CURVE25519);
  assert.equal(initiatorDh(defaultEspProposals()), undefined);
  assert.equal(initiatorDh(parseEspProposals(['aes256gcm16-none-ecp384'])), DhId.ECP_384);
  const promoted = promoteDh(parseIkeProposals(['aes256gcm16-prfsha256-x25519', 'aes128gcm16-prfsha256-x25519-ecp256', 'chacha20poly1305-prfsha256-ecp384']), DhId.ECP_256);
  assert.deepEqual(promoted.map(formatProposal), ['aes128gcm16-prfsha256-ecp256-x25519', 'aes256gcm16-prfsha256-x25519', 'chacha20poly1305-prfsha256-ecp384']);
  assert.deepEqual(promoteDh(parseEspProposals(['aes256gcm16-x25519-ecp256-esn']), DhId.ECP_256)[0]!.transforms, [gcm(256), dh(DhId.ECP_256), dh(DhId.CURVE25519), esn(EsnId.YES)]);
});

// ---------------------------------------------------------------- selection: IKE

test('IKE: each default proposal selects itself, keeping the peer proposal number', () => {
  const ours = defaultIkeProposals();
  for (const s of DEFAULT_IKE_PROPOSALS) {
    // The peer's first proposal matches none of ours (prfsha512, ecp384).
    const offered = offer(ProtocolId.IKE, parseIkeProposal('aes256gcm16-prfsha512-ecp384').transforms, parseIkeProposal(s).transforms);
    const r = selectProposal(offered, ours);
    assert.ok(r.ok, s);
    assert.equal(r.proposal.number, 2);
    assert.equal(r.suite.name, s);
    assert.equal(formatProposal(r.proposal), s);
  }
});

test('IKE: the first acceptable peer proposal wins, and within it the peer order', () => {
  const ours = parseIkeProposals(['aes256gcm16-aes128gcm16-prfsha256-prfsha384-x25519-ecp256', 'chacha20poly1305-prfsha256-x25519']);
  const offered = offer(
    ProtocolId.IKE,
    [chacha, prf(PrfId.HMAC_SHA2_256), dh(DhId.CURVE25519)],
    [gcm(256), prf(PrfId.HMAC_SHA2_256), dh(DhId.CURVE25519)],
  );
  const r = selectProposal(offered, ours);
  assert.ok(r.ok);
  assert.equal(r.suite.name, 'chacha20poly1305-prfsha256-x25519');
  assert.equal(r.proposal.number, 1);

  const r2 = selectProposal(offer(ProtocolId.IKE, [gcm(128), gcm(256), prf(PrfId.HMAC_SHA2_384), prf(PrfId.HMAC_SHA2_256), dh(DhId.ECP_256), dh(DhId.CURVE25519)]), ours);
  assert.ok(r2.ok);
  assert.deepEqual(r2.proposal.transforms, [gcm(128), prf(PrfId.HMAC_SHA2_384), dh(DhId.ECP_256)]);
  assert.deepEqual(r2.suite, {
    protocol: ProtocolId.IKE, encr: { id: EncrId.AES_GCM_16, keyLength: 128 }, prf: PrfId.HMAC_SHA2_384, dh: DhId.ECP_256,
    name: 'aes128gcm16-prfsha384-ecp256', encrKeymatBytes: 20,
  });
});

test('IKE: preferDh keeps the peer KE group when any matching proposal allows it', () => {
  const ours = defaultIkeProposals(); // x25519 in the first two, ecp256 in the third
  const offered = offer(ProtocolId.IKE, [gcm(128), gcm(256), chacha, prf(PrfId.HMAC_SHA2_256), dh(DhId.ECP_256), dh(DhId.CURVE25519)]);
  const plain = selectProposal(offered, ours);
  assert.ok(plain.ok);
  assert.equal(plain.suite.name, 'aes256gcm16-prfsha256-x25519');
  const keep = selectProposal(offered, ours, { preferDh: DhId.ECP_256 });
  assert.ok(keep.ok);
  assert.equal(keep.suite.name, 'aes128gcm16-prfsha256-ecp256');
  const x = selectProposal(offered, ours, { preferDh: DhId.CURVE25519 });
  assert.ok(x.ok);
  assert.equal(x.suite.dh, DhId.CURVE25519);
  // A group nobody allows does not prevent a choice (the exchange then sends INVALID_KE_PAYLOAD).
  const other = selectProposal(offered, ours, { preferDh: DhId.ECP_384 });
  assert.ok(other.ok);
  assert.equal(other.suite.dh, DhId.CURVE25519);
});

test('IKE: a mismatch gives NO_PROPOSAL_CHOSEN with both sides in strongSwan names', () => {
  const offered = offer(
    ProtocolId.IKE,
    [{ type: ENCR, id: EncrId.AES_CBC, keyLength: 256 }, { type: INTEG, id: IntegId.HMAC_SHA2_256_128 }, prf(PrfId.HMAC_SHA2_256), dh(DhId.MODP_2048)],
    [gcm(256), prf(PrfId.HMAC_SHA2_256), dh(DhId.ECP_521)],
  );
  const r = selectProposal(offered, parseIkeProposals(['aes256gcm16-prfsha256-x25519']));
  assert.equal(r.ok, false);
  assert.ok(!r.ok);
  assert.equal(r.notify, NotifyType.NO_PROPOSAL_CHOSEN);
  assert.equal(
    r.message,
    'no acceptable IKE proposal; received: IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048, IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/ECP_521; ' +
      'configured: IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519',
  );
});

test('IKE: key lengths, attributes, unknown types and protocol must all agree', () => {
  const ours = parseIkeProposals(['aes256gcm16-chacha20poly1305-prfsha256-x25519']);
  const rest = [prf(PrfId.HMAC_SHA2_256), dh(DhId.CURVE25519)];
  const none = (...ts: SaTransform[]) => assert.equal(selectProposal(offer(ProtocolId.IKE, [...ts, ...rest]), ours).ok, false, JSON.stringify(ts));
  none({ type: ENCR, id: EncrId.AES_GCM_16 }); // AES without Key Length
  none(gcm(192));
  none({ type: ENCR, id: EncrId.CHACHA20_POLY1305, keyLength: 256 }); // strongSwan's "chacha20poly1305compat"
  none({ type: ENCR, id: EncrId.AES_GCM_16, keyLength: 256, attributes: [{ type: 99, value: 1 }] });
  // A transform with an unknown attribute is skipped; another one of the same type may still match.
  const r = selectProposal(offer(ProtocolId.IKE, [{ ...gcm(256), attributes: [{ type: 99, value: 1 }] }, chacha, ...rest]), ours);
  assert.ok(r.ok && r.suite.encr.id === EncrId.CHACHA20_POLY1305);
  // RFC 7296 3.3.6: an unknown transform type makes the whole proposal unacceptable.
  const addke = selectProposal(offer(ProtocolId.IKE, [gcm(256), ...rest, { type: 6 as TransformType, id: 0 }], [gcm(256), ...rest]), ours);
  assert.ok(addke.ok && addke.proposal.number === 2);
  // IKE must have a real DH, no ESN, and the protocol must match.
  assert.equal(selectProposal(offer(ProtocolId.IKE, [gcm(256), prf(PrfId.HMAC_SHA2_256), dh(DhId.NONE)]), ours).ok, false);
  assert.equal(selectProposal(offer(ProtocolId.IKE, [gcm(256), prf(PrfId.HMAC_SHA2_256)]), ours).ok, false);
  assert.equal(selectProposal(offer(ProtocolId.IKE, [gcm(256), ...rest, NO_ESN]), ours).ok, false);
  assert.equal(selectProposal(offer(ProtocolId.ESP, [gcm(256), ...rest]), ours).ok, false);
  assert.equal(selectProposal(offer(ProtocolId.IKE, [gcm(256), dh(DhId.CURVE25519)]), ours).ok, false);
  // AEAD with INTEG NONE: answered with INTEG NONE; with a real INTEG: skipped like strongSwan does.
  const n = selectProposal(offer(ProtocolId.IKE, [gcm(256), { type: INTEG, id: IntegId.NONE }, ...rest]), ours);
  assert.ok(n.ok);
  assert.deepEqual(n.proposal.transforms, [gcm(256), prf(PrfId.HMAC_SHA2_256), { type: INTEG, id: IntegId.NONE }, dh(DhId.CURVE25519)]);
  const s = selectProposal(offer(ProtocolId.IKE, [gcm(256), { type: INTEG, id: IntegId.HMAC_SHA2_256_128 }, ...rest]), ours);
  assert.ok(s.ok);
  assert.equal(s.proposal.transforms.some((t) => t.type === INTEG), false);
});

test('IKE: interoperates with a stock strongSwan 5.9.8 default proposal set', () => {
  // What `proposals = default` sends (proposal_create_default + _default_aead, openssl plugin).
  const dhs = [DhId.ECP_256, DhId.ECP_384, DhId.ECP_521, 28, 29, 30, DhId.CURVE25519, DhId.CURVE448, 15, 16, 17, 18, DhId.MODP_2048].map((id) => dh(id));
  const prfs = [PrfId.HMAC_SHA2_256, PrfId.HMAC_SHA2_384, PrfId.HMAC_SHA2_512, 4, 8, PrfId.HMAC_SHA1].map((id) => prf(id));
  const swan = offer(
    ProtocolId.IKE,
    [...[128, 192, 256].map((k) => ({ type: ENCR, id: EncrId.AES_CBC, keyLength: k })), ...[12, 13, 14, 2, 5, 8].map((id) => ({ type: INTEG, id })), ...prfs, ...dhs],
    [...[128, 192, 256].map(gcm), chacha, ...[128, 192, 256].map((k) => ({ type: ENCR, id: 16, keyLength: k })), ...prfs, ...dhs],
  );
  // Outpost as responder, strongSwan's KE in ECP_256 (its first group).
  const r = selectProposal(swan, defaultIkeProposals(), { preferDh: DhId.ECP_256 });
  assert.ok(r.ok);
  assert.equal(r.proposal.number, 2);
  assert.equal(r.suite.name, 'aes128gcm16-prfsha256-ecp256');
  // Outpost as initiator: the strongSwan responder finds our proposals in its set (same rules, roles swapped).
  const asConfigured = swan.map((p) => ({ protocol: ProtocolId.IKE as const, transforms: p.transforms }));
  const i = selectProposal(toSaProposals(defaultIkeProposals()), asConfigured);
  assert.ok(i.ok);
  assert.equal(i.suite.name, DEFAULT_IKE_PROPOSALS[0]);
});

// ---------------------------------------------------------------- selection: ESP

test('ESP without PFS: accepts peers without DH or with NONE, refuses peers that require PFS', () => {
  const ours = parseEspProposals(['aes256gcm16']);
  const noDh = selectProposal(offer(ProtocolId.ESP, [gcm(256), NO_ESN]), ours);
  assert.ok(noDh.ok);
  assert.deepEqual(noDh.proposal.transforms, [gcm(256), NO_ESN]);
  assert.equal(noDh.suite.dh, undefined);
  assert.equal(noDh.suite.name, 'aes256gcm16');
  assert.deepEqual(noDh.proposal.spi, Buffer.from([0xc0, 0, 0, 1]));
  const optional = selectProposal(offer(ProtocolId.ESP, [gcm(256), dh(DhId.CURVE25519), dh(DhId.NONE), NO_ESN]), ours);
  assert.ok(optional.ok);
  assert.deepEqual(optional.proposal.transforms, [gcm(256), dh(DhId.NONE), NO_ESN]);
  assert.equal(optional.suite.dh, undefined);
  assert.equal(optional.suite.name, 'aes256gcm16');
  const required = selectProposal(offer(ProtocolId.ESP, [gcm(256), dh(DhId.CURVE25519), NO_ESN]), ours);
  assert.ok(!required.ok);
  assert.match(required.message, /received: ESP:AES_GCM_16_256\/CURVE_25519\/NO_EXT_SEQ; configured: ESP:AES_GCM_16_256\/NO_EXT_SEQ/);
});

test('ESP with PFS: requires the group unless "none" is configured too; skipKe ignores DH (IKE_AUTH)', () => {
  const pfs = parseEspProposals(['aes256gcm16-x25519']);
  assert.equal(selectProposal(offer(ProtocolId.ESP, [gcm(256), NO_ESN]), pfs).ok, false);
  const r = selectProposal(offer(ProtocolId.ESP, [gcm(256), dh(DhId.ECP_256), dh(DhId.CURVE25519), NO_ESN]), pfs);
  assert.ok(r.ok);
  assert.equal(r.suite.dh, DhId.CURVE25519);
  assert.equal(r.suite.name, 'aes256gcm16-x25519');
  const optional = parseEspProposals(['aes256gcm16-x25519-none']);
  const o = selectProposal(offer(ProtocolId.ESP, [gcm(256), NO_ESN]), optional);
  assert.ok(o.ok && o.suite.dh === undefined);
  // IKE_AUTH: strongSwan sends ESP proposals without DH; a PFS config must still match.
  const auth = selectProposal(offer(ProtocolId.ESP, [gcm(128), gcm(192), gcm(256), NO_ESN]), pfs, { skipKe: true });
  assert.ok(auth.ok);
  assert.deepEqual(auth.proposal.transforms, [gcm(256), NO_ESN]);
  const authWithDh = selectProposal(offer(ProtocolId.ESP, [gcm(256), dh(DhId.ECP_384), NO_ESN]), pfs, { skipKe: true });
  assert.ok(authWithDh.ok && authWithDh.suite.dh === undefined);
  // preferDh in ESP (CREATE_CHILD_SA KE group).
  const both = parseEspProposals(['aes256gcm16-x25519-ecp384']);
  const p = selectProposal(offer(ProtocolId.ESP, [gcm(256), dh(DhId.CURVE25519), dh(DhId.ECP_384), NO_ESN]), both, { preferDh: DhId.ECP_384 });
  assert.ok(p.ok && p.suite.dh === DhId.ECP_384);
});

test('ESP: ESN rules', () => {
  const sel = (ours: string, ...peer: EsnId[]) => selectProposal(offer(ProtocolId.ESP, [gcm(256), ...peer.map(esn)]), parseEspProposals([ours]));
  const noesn = sel('aes256gcm16', EsnId.YES, EsnId.NO);
  assert.ok(noesn.ok && noesn.suite.esn === EsnId.NO);
  assert.equal(sel('aes256gcm16', EsnId.YES).ok, false);
  const yes = sel('aes256gcm16-esn', EsnId.NO, EsnId.YES);
  assert.ok(yes.ok && yes.suite.esn === EsnId.YES && yes.suite.name === 'aes256gcm16-esn');
  const either = sel('aes256gcm16-esn-noesn', EsnId.NO);
  assert.ok(either.ok && either.suite.esn === EsnId.NO);
  const peerOrder = sel('aes256gcm16-esn-noesn', EsnId.YES, EsnId.NO);
  assert.ok(peerOrder.ok && peerOrder.suite.esn === EsnId.YES);
  // ESN is mandatory in ESP proposals (RFC 7296 3.3.3); PRF is not allowed.
  assert.equal(sel('aes256gcm16').ok, false);
  assert.equal(selectProposal(offer(ProtocolId.ESP, [gcm(256), prf(PrfId.HMAC_SHA2_256), NO_ESN]), defaultEspProposals()).ok, false);
});

test('ESP: interoperates with a stock strongSwan default child (AES-GCM-16 then AES-CBC + HMAC)', () => {
  const swan = offer(
    ProtocolId.ESP,
    [...[128, 192, 256].map(gcm), NO_ESN],
    [...[128, 192, 256].map((k) => ({ type: ENCR, id: EncrId.AES_CBC, keyLength: k })), ...[12, 13, 14, 2, 5].map((id) => ({ type: INTEG, id })), NO_ESN],
  );
  const r = selectProposal(swan, withoutKe(defaultEspProposals()), { skipKe: true });
  assert.ok(r.ok);
  assert.equal(r.proposal.number, 1);
  assert.equal(r.suite.name, 'aes256gcm16');
  assert.equal(r.suite.encrKeymatBytes, 36);
});

// ---------------------------------------------------------------- initiator check

test('checkChosenProposal accepts exactly one offered transform of each type from one offered proposal', () => {
  const offered = toSaProposals(parseIkeProposals(['aes256gcm16-aes128gcm16-prfsha256-x25519-ecp256', 'chacha20poly1305-prfsha256-x25519']));
  const reply = (number: number, transforms: SaTransform[], spi = Buffer.alloc(0)): SaProposal[] => [{ number, protocol: ProtocolId.IKE, spi, transforms }];
  const ok = checkChosenProposal(offered, reply(1, [gcm(128), prf(PrfId.HMAC_SHA2_256), dh(DhId.ECP_256)]));
  assert.ok(ok.ok);
  assert.equal(ok.suite.name, 'aes128gcm16-prfsha256-ecp256');
  const bad = (r: SaProposal[], re: RegExp) => {
    const c = checkChosenProposal(offered, r);
    assert.ok(!c.ok, re.source);
    assert.match(c.message, re);
  };
  bad([], /exactly one proposal, got 0/);
  bad([...reply(1, [gcm(128), prf(5), dh(19)]), ...reply(2, [chacha, prf(5), dh(31)])], /exactly one proposal, got 2/);
  bad(reply(3, [gcm(128), prf(5), dh(19)]), /number 3 was not offered/);
  bad(reply(2, [gcm(256), prf(5), dh(31)]), /AES_GCM_16_256 was not offered in proposal 2/);
  bad(reply(1, [gcm(192), prf(5), dh(31)]), /AES_GCM_16_192 was not offered/);
  bad(reply(1, [gcm(256), gcm(128), prf(5), dh(31)]), /more than one transform of type 1/);
  bad(reply(1, [gcm(256), dh(31)]), /no transform of type 2/);
  bad(reply(1, [gcm(256), prf(5)]), /no transform of type 4/);
  bad(reply(1, [gcm(256), prf(5), dh(31)], Buffer.alloc(8)), /SPI of 8 bytes, expected 0/);
  bad([{ number: 1, protocol: ProtocolId.ESP, spi: Buffer.alloc(4), transforms: [gcm(256), prf(5), dh(31)] }], /protocol ESP/);
  bad(reply(1, [{ ...gcm(256), attributes: [{ type: 3, value: 1 }] }, prf(5), dh(31)]), /unexpected attributes/);
  // INTEG NONE next to an AEAD is harmless even if we did not list INTEG.
  assert.ok(checkChosenProposal(offered, reply(2, [chacha, prf(5), { type: INTEG, id: IntegId.NONE }, dh(31)])).ok);
});

test('checkChosenProposal for ESP: DH NONE/absent rules, skipKe, SPI size', () => {
  const spi = Buffer.from([0xc1, 0, 0, 1]);
  const reply = (transforms: SaTransform[], s = spi): SaProposal[] => [{ number: 1, protocol: ProtocolId.ESP, spi: s, transforms }];
  const pfs = toSaProposals(parseEspProposals(['aes256gcm16-x25519']), Buffer.alloc(4, 7));
  assert.ok(checkChosenProposal(pfs, reply([gcm(256), dh(31), NO_ESN])).ok);
  assert.match((checkChosenProposal(pfs, reply([gcm(256), NO_ESN])) as { message: string }).message, /no transform of type 4/);
  const optional = toSaProposals(parseEspProposals(['aes256gcm16-x25519-none']), Buffer.alloc(4, 7));
  assert.ok(checkChosenProposal(optional, reply([gcm(256), NO_ESN])).ok);
  assert.ok(checkChosenProposal(optional, reply([gcm(256), dh(DhId.NONE), NO_ESN])).ok);
  const noPfs = toSaProposals(parseEspProposals(['aes256gcm16']), Buffer.alloc(4, 7));
  const c = checkChosenProposal(noPfs, reply([gcm(256), dh(DhId.NONE), NO_ESN]));
  assert.ok(c.ok && c.suite.dh === undefined);
  assert.equal(checkChosenProposal(noPfs, reply([gcm(256), dh(31), NO_ESN])).ok, false);
  assert.equal(checkChosenProposal(noPfs, reply([gcm(256)])).ok, false, 'ESN missing');
  assert.equal(checkChosenProposal(noPfs, reply([gcm(256), NO_ESN], Buffer.alloc(0))).ok, false, 'no SPI');
  // IKE_AUTH: we sent proposals without DH; a DH in the reply is refused.
  const auth = toSaProposals(withoutKe(parseEspProposals(['aes256gcm16-x25519'])), Buffer.alloc(4, 7));
  assert.ok(checkChosenProposal(auth, reply([gcm(256), NO_ESN]), { skipKe: true }).ok);
  assert.equal(checkChosenProposal(auth, reply([gcm(256), dh(31), NO_ESN]), { skipKe: true }).ok, false);
});

test('a responder selection always passes the initiator check', () => {
  const ikeOffers = toSaProposals(parseIkeProposals(['aes256gcm16-aes128gcm16-prfsha384-prfsha256-x25519-ecp256', 'chacha20poly1305-prfsha512-ecp384-modp2048']));
  for (const conf of [defaultIkeProposals(), parseIkeProposals(['aes128gcm16-prfsha256-ecp256']), parseIkeProposals(['chacha20poly1305-prfsha512-modp2048'])]) {
    const r = selectProposal(ikeOffers, conf);
    assert.ok(r.ok);
    assert.ok(checkChosenProposal(ikeOffers, [r.proposal]).ok, r.suite.name);
  }
  const espOffers = toSaProposals(parseEspProposals(['aes256gcm16-x25519-none-esn-noesn', 'chacha20poly1305']), Buffer.alloc(4, 1));
  for (const conf of [defaultEspProposals(), parseEspProposals(['aes256gcm16-x25519']), parseEspProposals(['aes256gcm16-esn'])]) {
    const r = selectProposal(espOffers, conf);
    assert.ok(r.ok);
    assert.ok(checkChosenProposal(espOffers, [r.proposal]).ok, r.suite.name);
  }
});
