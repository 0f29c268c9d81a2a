// Bounded, seeded fuzz of the proposal parser and of selection. FUZZ_ITERATIONS=n for longer runs,
// FUZZ_SEED=n to reproduce a failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolId, TransformType } from '../../firmware/ike/constants.ts';
import {
  ProposalError,
  checkChosenProposal,
  formatProposal,
  parseEspProposal,
  parseEspProposals,
  parseIkeProposal,
  parseIkeProposals,
  selectProposal,
  toSaProposals,
  type ConfiguredProposal,
  type SaProposal,
  type SaTransform,
} from '../../firmware/ike/proposal.ts';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 2000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x1ce2);

function prng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s;
  };
  return {
    int: (n: number): number => next() % n,
    pick: <T>(a: readonly T[]): T => a[next() % a.length]!,
    chance: (p: number): boolean => next() % 1000 < p * 1000,
  };
}

const WORDS = [
  'aes128gcm16', 'aes192gcm16', 'aes256gcm16', 'aes256gcm', 'aes128gcm128', 'chacha20poly1305', 'prfsha256', 'prfsha384',
  'prfsha512', 'x25519', 'curve25519', 'ecp256', 'ecp384', 'modp2048', 'none', 'modpnone', 'esn', 'noesn',
  'aes256', 'sha256', 'aes128ccm16', 'aes256gcm8', 'prfsha1', 'modp1024', 'ecp521', 'chacha20poly1305compat', 'default',
  'AES256GCM16', 'foo', '', ' ', 'x', '\u00e9', '\0', 'aes256gcm16,prfsha256', '-',
];

function randomString(r: ReturnType<typeof prng>): string {
  const n = r.int(8);
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push(r.chance(0.05) ? String.fromCharCode(r.int(0x3000)) : r.pick(WORDS));
  return words.join(r.chance(0.9) ? '-' : r.pick([' ', '--', ',', '_']));
}

test(`proposal parser: ProposalError or a proposal that formats idempotently (${ITERATIONS} strings, seed ${SEED})`, () => {
  const r = prng(SEED);
  let parsed = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const s = randomString(r);
    for (const parse of [parseIkeProposal, parseEspProposal]) {
      let p: ConfiguredProposal;
      try {
        p = parse(s);
      } catch (e) {
        assert.ok(e instanceof ProposalError, `${JSON.stringify(s)}: ${String(e)}`);
        assert.ok(e.message.length < 2000);
        continue;
      }
      parsed++;
      const f = formatProposal(p);
      const again = parse(f);
      assert.equal(formatProposal(again), f, JSON.stringify(s));
      // Each (type, id, keyLength) at most once, grouped by type in wire order.
      const keys = p.transforms.map((t) => `${t.type}/${t.id}/${t.keyLength}`);
      assert.equal(new Set(keys).size, keys.length);
      const types = p.transforms.map((t) => t.type);
      assert.deepEqual(types, [...types].sort((a, b) => a - b));
    }
  }
  assert.ok(parsed > 0, 'the generator produced some valid proposals');
});

const CONFIGS: { ike: ConfiguredProposal[]; esp: ConfiguredProposal[] }[] = [
  { ike: parseIkeProposals(['default']), esp: parseEspProposals(['default']) },
  { ike: parseIkeProposals(['aes256gcm16-aes128gcm16-prfsha384-prfsha256-x25519-ecp256']), esp: parseEspProposals(['aes256gcm16-x25519', 'chacha20poly1305-esn-noesn']) },
  { ike: parseIkeProposals(['chacha20poly1305-prfsha512-modp2048-ecp384']), esp: parseEspProposals(['aes128gcm16-x25519-none-esn']) },
];

function randomTransform(r: ReturnType<typeof prng>): SaTransform {
  const type = (r.chance(0.9) ? r.pick([1, 2, 3, 4, 5]) : r.int(12)) as TransformType;
  const id = r.chance(0.7) ? r.pick([0, 1, 5, 6, 7, 12, 14, 19, 20, 28, 31]) : r.int(70000) & 0xffff;
  const t: SaTransform = { type, id };
  if (r.chance(0.5)) t.keyLength = r.pick([128, 192, 256, 0, 7, 65535]);
  if (r.chance(0.03)) t.attributes = [{ type: r.int(0x7fff), value: r.int(65536) }];
  return t;
}

function randomOffer(r: ReturnType<typeof prng>, protocol: ProtocolId, base: readonly ConfiguredProposal[]): SaProposal[] {
  const n = 1 + r.int(5);
  const out: SaProposal[] = [];
  for (let i = 0; i < n; i++) {
    // Start from a real proposal half the time, then mutate, so matches happen.
    const transforms: SaTransform[] = r.chance(0.5) ? r.pick(base).transforms.map((t) => ({ ...t })) : [];
    const add = r.int(6);
    for (let k = 0; k < add; k++) transforms.splice(r.int(transforms.length + 1), 0, randomTransform(r));
    if (transforms.length && r.chance(0.2)) transforms.splice(r.int(transforms.length), 1);
    const proto = r.chance(0.95) ? protocol : r.pick([1, 2, 3]);
    out.push({ number: i + 1, protocol: proto, spi: Buffer.alloc(proto === ProtocolId.ESP ? 4 : 0, 0xab), transforms });
  }
  return out;
}

test(`selection never throws and every choice passes the initiator check (${ITERATIONS} offers, seed ${SEED})`, () => {
  const r = prng(SEED ^ 0x7296);
  let chosen = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const conf = r.pick(CONFIGS);
    const esp = r.chance(0.5);
    const configured = esp ? conf.esp : conf.ike;
    const offered = randomOffer(r, esp ? ProtocolId.ESP : ProtocolId.IKE, configured);
    const skipKe = esp && r.chance(0.3);
    const preferDh = r.chance(0.3) ? r.pick([19, 20, 31, 14, 21]) : undefined;
    const res = selectProposal(offered, configured, { skipKe, preferDh });
    if (!res.ok) {
      assert.equal(res.notify, 14);
      assert.ok(res.message.length < 8000, 'bounded message');
      continue;
    }
    chosen++;
    const p = res.proposal;
    const original = offered.find((o) => o.number === p.number);
    assert.ok(original, 'number of an offered proposal');
    const types = p.transforms.map((t) => t.type);
    assert.equal(new Set(types).size, types.length, 'one transform per type');
    const check = checkChosenProposal(offered, [p], { skipKe });
    assert.ok(check.ok, `${check.ok ? '' : check.message} for ${JSON.stringify(offered)}`);
    // Formatting the choice gives a proposal we would accept again.
    const again = (esp ? parseEspProposal : parseIkeProposal)(res.suite.name);
    assert.ok(selectProposal(toSaProposals([again], Buffer.alloc(esp ? 4 : 0, 1)), configured, { skipKe }).ok, res.suite.name);
  }
  assert.ok(chosen > ITERATIONS / 20, `enough selections succeeded (${chosen})`);
});

test(`initiator check never throws on arbitrary replies (${ITERATIONS} replies, seed ${SEED})`, () => {
  const r = prng(SEED ^ 0xbeef);
  const offered = toSaProposals(CONFIGS[1]!.ike);
  for (let i = 0; i < ITERATIONS; i++) {
    const reply = randomOffer(r, ProtocolId.IKE, CONFIGS[1]!.ike).slice(0, r.chance(0.8) ? 1 : 3);
    const c = checkChosenProposal(offered, reply);
    if (c.ok) {
      assert.equal(reply.length, 1);
      assert.ok(c.suite.encrKeymatBytes > 0);
    } else {
      assert.match(c.message, /^invalid proposal choice from peer: /);
    }
  }
});
