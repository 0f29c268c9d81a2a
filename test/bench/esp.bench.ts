// ESP seal/open throughput per transform and inner packet size, through EspSa with node:crypto keys
// (the firmware's) and, for reference, @noble/ciphers keys in the same process. Prints a table;
// asserts nothing. Run: node --import tsx test/bench/esp.bench.ts
// Env: BENCH_MS per measurement (default 200), ROUNDS (default 3, the median is shown),
// TRANSFORMS (default "aes128gcm16,aes256gcm16,chacha20poly1305"), SIZES (default "64,512,1400").

import { loadavg } from 'node:os';
import { aeadByName } from '../../firmware/crypto/aeads.ts';
import type { AeadKey } from '../../firmware/crypto/aead.ts';
import { EspSa } from '../../firmware/esp/index.ts';
import { Prng, ipv4, keymat, nobleKey } from '../unit/esp/helpers.ts';

const BENCH_MS = Number(process.env.BENCH_MS ?? 200);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const TRANSFORMS = (process.env.TRANSFORMS ?? 'aes128gcm16,aes256gcm16,chacha20poly1305').split(',');
const SIZES = (process.env.SIZES ?? '64,512,1400').split(',').map(Number);

const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
let spi = 0x1000;

/** Packets per second sealing `inner` for about BENCH_MS. */
function sealRate(key: AeadKey, inner: Buffer): number {
  const sa = new EspSa({ spi: spi++, direction: 'out', key });
  let n = 0;
  const t0 = now();
  let t = t0;
  while (t - t0 < BENCH_MS) {
    for (let i = 0; i < 64; i++) sa.seal(inner, 4);
    n += 64;
    t = now();
  }
  return (n * 1000) / (t - t0);
}

/** Packets per second opening `count` fresh packets (each sequence number once, in order). */
function openRate(key: AeadKey, inner: Buffer, count: number): number {
  const id = spi++;
  const out = new EspSa({ spi: id, direction: 'out', key });
  const pkts = Array.from({ length: count }, () => out.seal(inner, 4) as Buffer);
  const inb = new EspSa({ spi: id, direction: 'in', key });
  const t0 = now();
  for (const p of pkts) if (inb.open(p).kind !== 'packet') throw new Error('open failed in bench');
  return (count * 1000) / (now() - t0);
}

interface Row { transform: string; impl: string; size: number; sealPps: number; openPps: number }
const rows: Row[] = [];
const prng = new Prng(42);

for (const name of TRANSFORMS) {
  const alg = aeadByName(name);
  if (!alg) throw new Error(`unknown transform ${name}`);
  const km = keymat(alg, prng);
  for (const [impl, key] of [['node:crypto', alg.createKey(km)], ['@noble', nobleKey(alg, km)]] as const) {
    for (const size of SIZES) {
      const inner = ipv4(size, prng);
      sealRate(key, inner); // warm up
      const seals: number[] = [], opens: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const s = sealRate(key, inner);
        seals.push(s);
        opens.push(openRate(key, inner, Math.max(200, Math.min(50_000, Math.round((s * BENCH_MS) / 1000)))));
      }
      rows.push({ transform: name, impl, size, sealPps: median(seals), openPps: median(opens) });
    }
  }
}

const mbs = (pps: number, size: number) => ((pps * size) / 1e6).toFixed(1);
const line = (cols: string[]) => console.log(cols.map((c, i) => (i < 2 ? c.padEnd(i ? 12 : 17) : c.padStart(10))).join(' '));
console.log(`ESP through EspSa, inner IPv4 packets; MB/s of inner bytes; median of ${ROUNDS} x ${BENCH_MS} ms; node ${process.version}; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
line(['transform', 'impl', 'bytes', 'seal pps', 'seal MB/s', 'seal us', 'open pps', 'open MB/s', 'open us']);
for (const r of rows) {
  line([r.transform, r.impl, String(r.size),
    Math.round(r.sealPps).toString(), mbs(r.sealPps, r.size), (1e6 / r.sealPps).toFixed(2),
    Math.round(r.openPps).toString(), mbs(r.openPps, r.size), (1e6 / r.openPps).toFixed(2)]);
}
