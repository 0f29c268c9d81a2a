// Wireshark as an independent ESP implementation: capture the ESP-in-UDP between branch and hq
// (static-key peers) while lanhost pings hqhost, then let tshark decrypt it with the SA keys and
// check the ICVs. tshark 4.0's ESP SA table knows AES-GCM (key||salt, 16-octet ICV) but neither
// ChaCha20-Poly1305 nor ESN; for ChaCha20-Poly1305 the test says so and checks what tshark can
// see without keys (UDP encapsulation, SPIs, sequence numbers).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tunAddonCandidates } from '../../board/tun/index.ts';
import { requireEnv, waitForLine } from '../lib/netns.ts';
import { ADDR, buildTopology } from '../lib/topology.ts';
import { startStaticPair, type StaticPair } from '../lib/static-pair.ts';

const PINGS = 3;
/** Wireshark's names for the AEADs its ESP dissector can decrypt (tshark 4.0 esp_sa UAT). */
const WIRESHARK_ENCRYPTION: Record<string, string | undefined> = {
  aes128gcm16: 'AES-GCM with 16 octet ICV [RFC4106]',
  aes256gcm16: 'AES-GCM with 16 octet ICV [RFC4106]',
  chacha20poly1305: undefined,
};

function ready(t: TestContext): boolean {
  const addon = tunAddonCandidates().find(existsSync) ?? tunAddonCandidates().at(-1)!;
  return requireEnv(t, { root: true, cmds: ['ip', 'ping', 'tshark'], files: ['/dev/net/tun', addon] });
}

const exited = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));

/** One esp_sa UAT record: protocol, source, destination, SPI, encryption, key, authentication, auth key. */
function uatRecord(src: string, dst: string, spiHex: string, encryption: string, keyHex: string): string {
  return ['IPv4', src, dst, `0x${spiHex}`, encryption, `0x${keyHex}`, 'NULL', ''].map((f) => `"${f}"`).join(',');
}

interface EspFrame { spi: number; seq: number; src: string[]; dst: string[]; icmpType: string; icvGood: string; icvBad: string }

function readCapture(file: string, prefs: string[]): EspFrame[] {
  const fields = ['esp.spi', 'esp.sequence', 'ip.src', 'ip.dst', 'icmp.type', 'esp.icv_good', 'esp.icv_bad'];
  const out = execFileSync('tshark', ['-r', file, '-Y', 'esp', ...prefs.flatMap((p) => ['-o', p]), '-T', 'fields', ...fields.flatMap((f) => ['-e', f])],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return out.trim().split('\n').filter(Boolean).map((line) => {
    const [spi, seq, src, dst, icmpType, icvGood, icvBad] = line.split('\t');
    return { spi: Number(spi), seq: Number(seq), src: (src ?? '').split(','), dst: (dst ?? '').split(','), icmpType: icmpType ?? '', icvGood: icvGood ?? '', icvBad: icvBad ?? '' };
  });
}

/** Captures UDP 4500 on branch's WAN while lanhost pings hqhost; returns the pcap path. */
async function captureWhilePinging(topo: ReturnType<typeof buildTopology>, dir: string): Promise<string> {
  const file = join(dir, 'esp.pcapng');
  // -c: stop after the ping's ESP packets (a SIGINT could lose the kernel's last partial block).
  const cap = topo.lab.track(topo.branch.spawn('tshark', ['-i', topo.ifs.branchWan, '-f', 'udp port 4500', '-c', String(2 * PINGS), '-w', file]));
  const done = exited(cap);
  // "Capturing on" comes before the capture is live; "Capture started" once dumpcap has the file open.
  await waitForLine(cap, (l) => /Capture started/.test(l), 'tshark capture started');
  const ping = topo.lanhost.run('ping', '-n', '-c', String(PINGS), '-i', '0.2', '-W', '5', ADDR.hqhost);
  assert.match(ping, new RegExp(`${PINGS} packets transmitted, ${PINGS} received`), ping);
  await done;
  return file;
}

for (const aead of ['aes256gcm16', 'aes128gcm16', 'chacha20poly1305']) {
  // The timeout turns a capture that never sees its packets into a failure instead of a hang.
  const title = WIRESHARK_ENCRYPTION[aead]
    ? `tshark decrypts Outpost's ESP (${aead}): inner ICMP echoes found, ICVs good`
    : `tshark dissects Outpost's ESP (${aead}, which it cannot decrypt): SPIs and sequence numbers`;
  test(title, { timeout: 60_000 }, async (t) => {
    if (!ready(t)) return;
    const topo = buildTopology();
    const dir = mkdtempSync(join(tmpdir(), 'outpost-tshark-'));
    let pair: StaticPair | undefined;
    try {
      pair = await startStaticPair(topo, { aead });
      const file = await captureWhilePinging(topo, dir);
      const b = pair.config.branch, h = pair.config.hq;
      const toHq = parseInt(b.spiOut, 16), toBranch = parseInt(h.spiOut, 16);
      const encryption = WIRESHARK_ENCRYPTION[aead];

      if (encryption === undefined) {
        t.diagnostic(`tshark ${tsharkVersion()} cannot decrypt ${aead} ESP (its esp_sa table has no such algorithm): ` +
          'checking only the UDP encapsulation, SPIs and sequence numbers it dissects without keys');
        const frames = readCapture(file, []);
        assert.deepEqual(frames.filter((f) => f.spi === toHq).map((f) => f.seq), [1, 2, 3], 'branch -> hq: SPI and sequence numbers');
        assert.deepEqual(frames.filter((f) => f.spi === toBranch).map((f) => f.seq), [1, 2, 3], 'hq -> branch');
        assert.equal(frames.length, 2 * PINGS);
        return;
      }

      const prefs = [
        'esp.enable_encryption_decode:TRUE',
        'esp.enable_authentication_check:TRUE',
        `uat:esp_sa:${uatRecord(ADDR.branchWan, ADDR.hqWan, b.spiOut, encryption, b.keyOut)}`,
        `uat:esp_sa:${uatRecord(ADDR.hqWan, ADDR.branchWan, h.spiOut, encryption, h.keyOut)}`,
      ];
      const frames = readCapture(file, prefs);
      const requests = frames.filter((f) => f.spi === toHq);
      const replies = frames.filter((f) => f.spi === toBranch);
      assert.equal(frames.length, 2 * PINGS, `ESP frames: ${JSON.stringify(frames)}`);
      assert.deepEqual(requests.map((f) => f.seq), [1, 2, 3]);
      assert.deepEqual(replies.map((f) => f.seq), [1, 2, 3]);
      for (const f of requests) {
        assert.deepEqual([f.src.at(-1), f.dst.at(-1), f.icmpType], [ADDR.lanhost, ADDR.hqhost, '8'], 'inner echo request');
      }
      for (const f of replies) {
        assert.deepEqual([f.src.at(-1), f.dst.at(-1), f.icmpType], [ADDR.hqhost, ADDR.lanhost, '0'], 'inner echo reply');
      }
      for (const f of frames) assert.deepEqual([f.icvGood, f.icvBad], ['1', '0'], `ICV verified for SPI ${f.spi.toString(16)} seq ${f.seq}`);

      // The check has teeth: with one key bit flipped no ICV verifies and no ICMP appears. (tshark
      // marks the ICV bad, or gives up earlier when the garbage plaintext has an impossible trailer.)
      const wrong = (parseInt(b.keyOut[0]!, 16) ^ 1).toString(16) + b.keyOut.slice(1);
      const bad = readCapture(file, [prefs[0]!, prefs[1]!, `uat:esp_sa:${uatRecord(ADDR.branchWan, ADDR.hqWan, b.spiOut, encryption, wrong)}`])
        .filter((f) => f.spi === toHq);
      assert.equal(bad.length, PINGS);
      for (const f of bad) assert.deepEqual([f.icvGood === '1', f.icmpType], [false, ''], 'wrong key: nothing verifies');
    } finally {
      pair?.cleanup();
      await topo.lab.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

function tsharkVersion(): string {
  const m = /TShark \(Wireshark\) (\S+)/.exec(execFileSync('tshark', ['--version'], { encoding: 'utf8' }));
  return m?.[1] ?? '(unknown version)';
}
