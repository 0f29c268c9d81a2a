// flow_key_of() (board/tun/src/flow_cache.c), which decides which packets may use a decision the
// data plane made for their flow, against the TypeScript it stands in for: the key is exactly
// parseFlow()'s (the policy's input), and no packet it lets through is one the MTU guard would
// change (a SYN whose MSS gets clamped). Generated packets plus mutations of them, seeded.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { espAddonCandidates, loadEspAddon } from '../../../board/tun/esp.ts';
import { parseFlow } from '../../../firmware/gateway/ip-packet.ts';
import { clampMss } from '../../../firmware/gateway/mss-clamp.ts';
import { requireEnv } from '../../lib/netns.ts';
import { packet } from '../gateway/helpers.ts';
import { Prng } from './helpers.ts';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 20_000);

function ready(t: TestContext): boolean {
  return requireEnv(t, { files: [espAddonCandidates().find(existsSync) ?? espAddonCandidates().at(-1)!] });
}

/** parseFlow's fields in flowKeyOf's layout. */
function keyOf(p: Uint8Array): Buffer | null {
  const f = parseFlow(p);
  if (f === null) return null;
  const k = Buffer.alloc(38);
  k[0] = f.version;
  k[1] = f.protocol;
  k.writeUInt16BE(f.srcPort, 2);
  k.writeUInt16BE(f.dstPort, 4);
  if (typeof f.src === 'number') { k.writeUInt32BE(f.src, 6); k.writeUInt32BE(f.dst as number, 22); } else { k.set(f.src, 6); k.set(f.dst as Uint8Array, 22); }
  return k;
}

/** A TCP segment with the given flags and an MSS option of 1460. */
function tcp(v6: boolean, flags: number, payload = 20): Buffer {
  const p = packet(v6 ? { src: '2001:db8:1::2', dst: '2001:db8:2::2', protocol: 6, payloadBytes: payload } : { src: '10.1.0.2', dst: '10.2.0.2', protocol: 6, payloadBytes: payload });
  const l4 = v6 ? 40 : 20;
  p[l4 + 12] = 6 << 4; // data offset: 24 bytes, the MSS option right after the header
  p[l4 + 13] = flags;
  p[l4 + 20] = 2; p[l4 + 21] = 4; p.writeUInt16BE(1460, l4 + 22);
  return p;
}

function sample(prng: Prng): Buffer {
  const v6 = prng.int(3) === 0;
  const kind = prng.int(6);
  let p: Buffer;
  if (kind < 2) p = tcp(v6, [0x02, 0x12, 0x10, 0x18, 0x11, 0x04][prng.int(6)]!, 16 + prng.int(60));
  else {
    const protocol = [1, 17, 58, 132, 136, 47, 0, 44, 60][prng.int(9)]!;
    p = packet(v6 ? { src: '2001:db8:1::2', dst: '2001:db8:2::2', protocol, payloadBytes: prng.int(80) } : { src: '10.1.0.2', dst: '10.2.0.2', protocol, payloadBytes: prng.int(80) });
    if (protocol !== 17) p.writeUInt32BE(prng.u32(), v6 ? 40 : 20); // some ports or type/code
  }
  // Mutations: fragments, header length, truncation, random bytes.
  switch (prng.int(8)) {
    case 0: if (!v6) p[6] = [0x20, 0x00, 0x01, 0x40, 0x60][prng.int(5)]!; break;
    case 1: if (!v6) p[7] = prng.int(256); break;
    case 2: if (!v6) p[0] = 0x40 | prng.int(16); break;
    case 3: p = p.subarray(0, prng.int(p.length + 1)); break;
    case 4: p[prng.int(p.length)] = prng.int(256); break;
    default: break;
  }
  return p;
}

test('flowKeyOf gives parseFlow\'s key, and only for packets the MTU guard leaves alone', (t) => {
  if (!ready(t)) return;
  const { flowKeyOf } = loadEspAddon();
  const prng = new Prng(7);
  let keyed = 0, refused = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const p = sample(prng);
    const k = flowKeyOf(p);
    if (k === null) { refused++; continue; }
    keyed++;
    assert.deepEqual(k, keyOf(p), `key of ${p.toString('hex')}`);
    // Nothing the flow cache takes may be a packet whose MSS the guard would clamp (either way).
    assert.equal(clampMss(Buffer.from(p), 500), 0, `a cached packet would have been clamped: ${p.toString('hex')}`);
    const v4 = p[0]! >> 4 === 4;
    if (v4) assert.equal(((p[6]! & 0x3f) << 8) | p[7]!, 0, 'no fragments');
  }
  t.diagnostic(`${keyed} keyed, ${refused} left to JavaScript`);
  assert.ok(keyed > ITERATIONS / 4 && refused > ITERATIONS / 10, 'the samples cover both outcomes');
});

test('flowKeyOf refuses what the policy must see every time', (t) => {
  if (!ready(t)) return;
  const { flowKeyOf } = loadEspAddon();
  for (const v6 of [false, true]) {
    assert.equal(flowKeyOf(tcp(v6, 0x02)), null, 'SYN');
    assert.equal(flowKeyOf(tcp(v6, 0x12)), null, 'SYN-ACK');
    assert.notEqual(flowKeyOf(tcp(v6, 0x10)), null, 'ACK');
    assert.equal(flowKeyOf(tcp(v6, 0x10).subarray(0, v6 ? 53 : 33)), null, 'TCP too short to see its flags');
  }
  const frag = packet({ src: '10.1.0.2', dst: '10.2.0.2', protocol: 17 });
  frag[6] = 0x20; // more fragments
  assert.equal(flowKeyOf(frag), null, 'first fragment');
  frag[6] = 0; frag[7] = 1;
  assert.equal(flowKeyOf(frag), null, 'later fragment');
  const df = packet({ src: '10.1.0.2', dst: '10.2.0.2', protocol: 17 });
  df[6] = 0x40;
  assert.notEqual(flowKeyOf(df), null, "don't fragment is fine");
  assert.equal(flowKeyOf(packet({ src: '2001:db8:1::2', dst: '2001:db8:2::2', protocol: 0 })), null, 'IPv6 hop-by-hop header');
  assert.equal(flowKeyOf(packet({ src: '2001:db8:1::2', dst: '2001:db8:2::2', protocol: 44 })), null, 'IPv6 fragment header');
  assert.equal(flowKeyOf(Buffer.from([0x50, 0, 0, 20])), null, 'not IP');
});
