// Wireshark as an independent oracle: our encoded messages are dissected by tshark's ISAKMP
// dissector, which also decrypts SK/SKF with the keys we give it and checks the ICV over its
// own idea of the associated data (RFC 5282, RFC 7383).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeFragment, encodeMessage, encodePayloadChain } from '../../../firmware/ike/message.ts';
import { requireEnv } from '../../lib/netns.ts';
import { authHeader, gcmKey, ikeAuthPayloads, ikeSaInitPayloads, initHeader } from './codec-fixtures.ts';

/** A pcap file (LINKTYPE_RAW) of IPv4/UDP 500 -> 500 datagrams. */
function pcap(datagrams: Buffer[]): Buffer {
  const global = Buffer.alloc(24);
  global.writeUInt32LE(0xa1b2c3d4, 0);
  global.writeUInt16LE(2, 4);
  global.writeUInt16LE(4, 6);
  global.writeUInt32LE(65535, 16);
  global.writeUInt32LE(101, 20);
  const records = datagrams.map((d) => {
    const ip = Buffer.alloc(28);
    ip[0] = 0x45;
    ip.writeUInt16BE(28 + d.length, 2);
    ip[8] = 64;
    ip[9] = 17;
    Buffer.from([192, 0, 2, 1, 192, 0, 2, 2]).copy(ip, 12);
    ip.writeUInt16BE(500, 20);
    ip.writeUInt16BE(500, 22);
    ip.writeUInt16BE(8 + d.length, 24);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(28 + d.length, 8);
    rec.writeUInt32LE(28 + d.length, 12);
    return Buffer.concat([rec, ip, d]);
  });
  return Buffer.concat([global, ...records]);
}

test('tshark dissects and decrypts what the codec encodes', (t) => {
  if (!requireEnv(t, { cmds: ['tshark'] })) return;
  const key = gcmKey(); // 36 bytes of 0x42: AES-256 key + salt
  const chain = encodePayloadChain(ikeAuthPayloads());
  const half = Math.ceil(chain.bytes.length / 2);
  const frames = [
    encodeMessage(initHeader, ikeSaInitPayloads()),
    encodeMessage(authHeader, ikeAuthPayloads(), { key, iv: Buffer.alloc(8, 1) }),
    ...[chain.bytes.subarray(0, half), chain.bytes.subarray(half)].map((content, i) => encodeFragment(
      { ...authHeader, messageId: 2 }, { fragmentNumber: i + 1, totalFragments: 2, firstPayload: chain.firstPayload, content },
      { key, iv: Buffer.alloc(8, i + 2) })),
  ];
  const dir = mkdtempSync(join(tmpdir(), 'outpost-ike-'));
  try {
    const file = join(dir, 'ike.pcap');
    writeFileSync(file, pcap(frames));
    const k = '42'.repeat(36);
    const table = `uat:ikev2_decryption_table:0102030405060708,1112131415161718,${k},${k},"AES-GCM-256 with 16 octet ICV [RFC5282]",,,"NONE [RFC4306]"`;
    const out = execFileSync('tshark', ['-n', '-r', file, '-o', table, '-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.doesNotMatch(out, /Malformed|Expert Info \(Error|\[incorrect|\[Malformed/);
    for (const want of [
      'Exchange type: IKE_SA_INIT (34)',
      'Transform ID (ENCR): AES-GCM with a 16 octet ICV (20)',
      'Key Length: 256',
      'Transform ID (D-H): Curve25519 (31)',
      'Notify Message Type: NAT_DETECTION_SOURCE_IP (16388)',
      'Notify Message Type: IKEV2_FRAGMENTATION_SUPPORTED (16430)',
      'ID_FQDN: branch-042.example.net',
      'ID_FQDN: hq.example.net',
      'Type: INTERNAL_IP4_DNS (3)',
      'SPI: c1c2c3c4',
      'Ending Addr: 10.2.255.255',
      'Ending Addr: fd00::ffff:ffff:ffff:ffff',
      'Delete SPI: 01020304',
      'Fragment Number: 2',
      'Identity: hihih',
    ]) assert.ok(out.includes(want), `tshark output lacks "${want}"`);
    // the SK message and both fragments: tshark computed the same ICV over the same AAD
    assert.equal(out.match(/Integrity Checksum Data: [0-9a-f]{32} \(16 bytes\)\[correct\]/g)?.length, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
