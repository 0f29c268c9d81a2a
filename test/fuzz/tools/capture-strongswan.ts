// Seeds the Jazzer corpora from a real exchange with strongSwan 5.9.8 (run by hand, as root):
//   node --import tsx test/fuzz/tools/capture-strongswan.ts [--out test/fuzz/corpus] [--dump DIR] [--cert]
// An Outpost daemon (branch) and a charon HQ run in the standard namespaces; tshark captures the
// branch WAN while the tunnel comes up, lanhost pings hqhost, HQ rekeys the CHILD_SA and the
// IKE_SA, and Outpost stops (DELETE). charon logs its IKE and CHILD keys at level 4, so the SK
// payloads are decrypted here and the plaintext payload chains become ike-sk seeds; the ESP
// packets' plaintexts are re-sealed under the esp-udp4500 target's fixed key (the target cannot
// know charon's keys), keeping strongSwan's own padding and inner packets.
// --cert: both ends authenticate with ECDSA certificates made by strongSwan's pki (one CA); only
// the IKE_AUTH chains are kept, as certificate-mode ike-sk seeds (CERT, CERTREQ, AUTH by charon).
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { aeadByName } from '../../../firmware/crypto/aeads.ts';
import type { AeadKey } from '../../../firmware/crypto/aead.ts';
import { ExchangeType, PayloadType } from '../../../firmware/ike/constants.ts';
import { decodeMessage } from '../../../firmware/ike/message.ts';
import { classifyUdp4500 } from '../../../firmware/esp/index.ts';
import { waitForLine } from '../../lib/netns.ts';
import { ADDR, buildTopology } from '../../lib/topology.ts';
import { Charon, siteToSiteConf, stopAll } from '../../lib/strongswan.ts';
import { OutpostDaemon, branchConfig } from '../../lib/outpost-daemon.ts';
import { within } from '../../lib/traffic.ts';
import { espSeed, fragmentedSeed, ikeSkSeed, EXCHANGES, SK_CERTS } from '../targets/seed-format.ts';
import { TestPki } from '../../lib/strongswan-pki.ts';

const { values: args } = parseArgs({ options: { out: { type: 'string', default: 'test/fuzz/corpus' }, dump: { type: 'string' }, cert: { type: 'boolean' } } });
const PSK = 'interop-test-psk-0123456789';

interface Datagram { sport: number; dport: number; src: string; payload: Buffer }

function readPcap(file: string): Datagram[] {
  const out = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'ip.src', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'udp.payload'], { encoding: 'utf8' });
  return out.trim().split('\n').filter(Boolean).map((l) => {
    const [src, sp, dp, pl] = l.split('\t');
    return { src: src!, sport: Number(sp), dport: Number(dp), payload: Buffer.from((pl ?? '').replace(/:/g, ''), 'hex') };
  });
}

/** charon's "%B" dumps: `NAME => N bytes @ 0x...` then lines `   0: 01 02 ...  ascii`. */
function loggedSecrets(log: string, name: RegExp): Buffer[] {
  const lines = log.split('\n');
  const found: Buffer[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /(\S.*?) => (\d+) bytes @/.exec(lines[i]!);
    if (!m || !name.test(m[1]!)) continue;
    const n = Number(m[2]);
    const bytes: number[] = [];
    for (let j = i + 1; j < lines.length && bytes.length < n; j++) {
      const d = /^\S*\s+[^:]*?\s+\d+: ((?:[0-9A-F]{2} ){1,16})/.exec(lines[j]!);
      if (!d) break;
      bytes.push(...d[1]!.trim().split(/\s+/).map((h) => parseInt(h, 16)));
    }
    if (bytes.length === n) found.push(Buffer.from(bytes));
  }
  return found;
}

function save(dir: string, data: Buffer, prefix: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${prefix}-${createHash('sha1').update(data).digest('hex').slice(0, 12)}`), data);
}

/** HQ's swanctl.conf for certificate authentication (own.pem / own.key, CA in x509ca/). */
function certConf(): string {
  return `connections {
    branch {
        version = 2
        local_addrs = ${ADDR.hqWan}
        remote_addrs = %any
        encap = yes
        mobike = no
        proposals = aes256gcm16-prfsha256-x25519
        local {
            auth = pubkey
            certs = own.pem
            id = hq.example.net
        }
        remote {
            auth = pubkey
            id = branch.example.net
            cacerts = ca.pem
        }
        children {
            net {
                local_ts = ${ADDR.hqSubnet}
                remote_ts = ${ADDR.branchSubnet}
                esp_proposals = aes256gcm16
            }
        }
    }
}
`;
}

const pki = args.cert ? new TestPki() : undefined;
const topo = buildTopology();
const dir = mkdtempSync(join(tmpdir(), 'outpost-capture-'));
let hq: Charon | undefined;
let d: OutpostDaemon | undefined;
try {
  const ca = pki?.ca('ca', 'C=CH, O=Outpost Fuzz, CN=Outpost Fuzz CA');
  const hqCreds = ca && pki!.issue('hq.example.net', ca, { type: 'ecdsa', file: 'hq' });
  const branchCreds = ca && pki!.issue('branch.example.net', ca, { type: 'ecdsa', file: 'branch' });
  hq = await Charon.start(topo.hq, {
    name: 'hq',
    logLevels: { ike: 4, chd: 4, enc: 2 },
    ...(pki ? { files: { 'x509/own.pem': pki.read(hqCreds!.cert), 'private/own.key': pki.read(hqCreds!.key), 'x509ca/ca.pem': pki.read(ca!.cert) } } : {}),
    swanctlConf: pki ? certConf() : siteToSiteConf({ conn: 'branch', localAddrs: ADDR.hqWan, remoteAddrs: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net',
      psk: PSK, localTs: [ADDR.hqSubnet], remoteTs: [ADDR.branchSubnet], esp: ['aes256gcm16-x25519'], ikeRekeyTime: 0, rekeyTime: 0, lifeTime: 0, dpdDelay: 2 }),
  });
  await hq.loadAll();
  const pcap = join(dir, 'wan.pcapng');
  const cap = topo.lab.track(topo.branch.spawn('tshark', ['-i', topo.ifs.branchWan, '-f', 'udp port 500 or udp port 4500', '-w', pcap]));
  await waitForLine(cap, (l) => /Capture started/.test(l), 'tshark capture started');
  const config = branchConfig({ esp: ['aes256gcm16-x25519'], dpdSeconds: 5 }) as { tunnel: Record<string, unknown> };
  if (pki) config.tunnel.auth = { key: branchCreds!.key, cert: branchCreds!.cert, ca: [ca!.cert] };
  d = new OutpostDaemon(topo.lab, topo.branch, { name: 'branch', config });
  try { await within(d.start().waitFor(/child-up/), 20_000, 'child-up'); } catch (e) { console.error(d.tail(30)); throw e; }
  topo.lanhost.run('ping', '-n', '-c', '3', '-i', '0.2', ADDR.hqhost);
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // swanctl --rekey returns once the exchange is done; the pause lets the log and wire settle.
  await hq.swanctl('--rekey', '--child', 'net');
  await pause(1500);
  await hq.swanctl('--rekey', '--ike', 'branch');
  await pause(1500);
  topo.lanhost.run('ping', '-n', '-c', '2', '-i', '0.2', ADDR.hqhost);
  await pause(7000); // DPD both ways (HQ 2 s, Outpost 5 s)
  await d.stop();
  d = undefined;
  await pause(500);
  const done = new Promise((r) => cap.once('exit', r));
  cap.kill('SIGINT');
  await done;

  const log = readFileSync(hq.logPath, 'utf8');
  if (args.dump) { mkdirSync(args.dump, { recursive: true }); writeFileSync(join(args.dump, 'charon.log'), log); execFileSync('cp', [pcap, args.dump]); }
  const grams = readPcap(pcap);
  const gcm = aeadByName('aes256gcm16')!;
  // IKE SK keys: strongSwan names them Sk_ei / Sk_er (key || 4-byte salt for GCM).
  const ikeKeys: AeadKey[] = [...loggedSecrets(log, / Sk_ei secret$/), ...loggedSecrets(log, / Sk_er secret$/)].map((k) => gcm.createKey(k));
  const childKeys: AeadKey[] = loggedSecrets(log, /encryption (initiator|responder) key/).map((k) => gcm.createKey(k));
  console.log(`${grams.length} datagrams, ${ikeKeys.length} IKE keys, ${childKeys.length} CHILD keys logged by charon`);
  const counts: Record<string, number> = {};
  const count = (k: string) => { counts[k] = (counts[k] ?? 0) + 1; };
  for (const g of pki ? grams.filter((x) => x.sport === 500 || x.dport === 500 || classifyUdp4500(x.payload).kind === 'ike') : grams) {
    let ike: Buffer | undefined;
    if (g.sport === 500 || g.dport === 500) ike = g.payload;
    else {
      const c = classifyUdp4500(g.payload);
      save(join(args.out!, 'esp-udp4500'), Buffer.concat([Buffer.from([0]), g.payload]), 'wire');
      count('esp-udp4500 wire');
      if (c.kind === 'ike') ike = Buffer.from(c.message);
      if (c.kind === 'esp') {
        for (const k of childKeys) {
          const pt = k.open(g.payload.subarray(8, 16), g.payload.subarray(0, 8), g.payload.subarray(16));
          if (pt) { save(join(args.out!, 'esp-udp4500'), espSeed(pt), 'plain'); count('esp-udp4500 plaintext'); break; }
        }
      }
    }
    if (!ike) continue;
    const fromHq = g.src === ADDR.hqWan;
    save(join(args.out!, 'ike-datagram'), Buffer.concat([Buffer.from([fromHq ? 1 : 0]), ike]), 'strongswan');
    count('ike-datagram');
    let m;
    try { m = decodeMessage(ike); } catch { continue; }
    const part = m.encrypted;
    if (part?.kind !== 'SK') continue;
    for (const k of ikeKeys) {
      const plain = k.open(part.iv, part.aad, Buffer.concat([part.ciphertext, part.icv]));
      if (!plain) continue;
      const chain = plain.subarray(0, Math.max(0, plain.length - 1 - plain[plain.length - 1]!));
      const ex = (EXCHANGES as readonly ExchangeType[]).indexOf(m.header.exchangeType);
      if (pki && m.header.exchangeType !== ExchangeType.IKE_AUTH) break;
      if (ex >= 0) {
        const plain = ikeSkSeed(ex, m.header.response, fromHq, part.nextPayload as PayloadType, chain);
        const seed = pki ? Buffer.concat([Buffer.from([plain[0]! | SK_CERTS]), plain.subarray(1)]) : plain;
        save(join(args.out!, 'ike-sk'), seed, ExchangeType[m.header.exchangeType]!.toLowerCase());
        // The same chain as 3 SKF fragments, reversed (RFC 7383 reassembly).
        if (chain.length > 64) save(join(args.out!, 'ike-sk'), fragmentedSeed(seed, 0x0a), `${ExchangeType[m.header.exchangeType]!.toLowerCase()}-skf`);
        count('ike-sk');
      }
      break;
    }
  }
  console.log(counts);
} finally {
  await d?.stop();
  await stopAll([hq]);
  await topo.lab.destroy();
  rmSync(dir, { recursive: true, force: true });
  pki?.cleanup();
}
