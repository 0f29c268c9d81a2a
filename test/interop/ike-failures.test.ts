// Misconfigurations against a real strongSwan 5.9.8 HQ: wrong PSK, no common IKE or ESP proposal,
// selectors HQ does not accept. For each: Outpost logs a line that names the cause, `status`
// reports the tunnel not up with lastError set, the daemon keeps running, and it retries with
// a growing backoff (few IKE_SA_INIT attempts at HQ, not a tight loop).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireEnv } from '../lib/netns.ts';
import { buildTopology, ADDR } from '../lib/topology.ts';
import { Charon, siteToSiteConf, stopAll } from '../lib/strongswan.ts';
import { OutpostDaemon, branchConfig } from '../lib/outpost-daemon.ts';
import { within } from '../lib/traffic.ts';

const PSK = 'interop-test-psk-0123456789';
const RECONNECTS = 3;

const CASES = [
  {
    name: 'wrong PSK', config: branchConfig({ psk: 'not-the-hq-psk-0123456789' }),
    line: /ERROR tunnel\.ike: auth-failed .*reason=.*AUTHENTICATION_FAILED/i,
    lastError: /AUTHENTICATION_FAILED|auth/i,
  },
  {
    name: 'no common IKE proposal', config: branchConfig({ ike: ['aes128gcm16-prfsha256-ecp256'] }),
    line: /ERROR tunnel\.ike: negotiation-failed .*notify=NO_PROPOSAL_CHOSEN .*AES_GCM_16_128\/PRF_HMAC_SHA2_256\/ECP_256/,
    lastError: /NO_PROPOSAL_CHOSEN|proposal/i,
  },
  {
    name: 'no common ESP proposal', config: branchConfig({ esp: ['chacha20poly1305'] }),
    line: /ERROR tunnel\.ike: negotiation-failed .*notify=NO_PROPOSAL_CHOSEN .*ESP/,
    lastError: /NO_PROPOSAL_CHOSEN|proposal/i,
  },
  {
    name: 'selectors HQ does not accept', config: branchConfig({ remoteSubnets: ['10.9.0.0/24'] }),
    line: /ERROR tunnel\.ike: negotiation-failed .*notify=TS_UNACCEPTABLE .*10\.1\.0\.0\/24.*10\.9\.0\.0\/24/,
    lastError: /TS_UNACCEPTABLE|selector/i,
  },
];

test('Outpost reports HQ-side misconfigurations clearly and retries with backoff', { timeout: 180_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'swanctl', 'socat', 'ping'], files: ['/usr/lib/ipsec/charon'] })) return;
  const topo = buildTopology();
  let hq: Charon | undefined;
  try {
    hq = await Charon.start(topo.hq, {
      name: 'hq',
      swanctlConf: siteToSiteConf({
        conn: 'branch', localAddrs: ADDR.hqWan, remoteAddrs: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net',
        psk: PSK, localTs: [ADDR.hqSubnet], remoteTs: [ADDR.branchSubnet], ike: ['aes256gcm16-prfsha256-x25519'], esp: ['aes256gcm16'],
      }),
    });
    await hq.loadAll();
    for (const c of CASES) {
      await t.test(c.name, { timeout: 50_000 }, async () => {
        const d = new OutpostDaemon(topo.lab, topo.branch, { name: 'branch', config: c.config });
        try {
          const from = hq!.logOffset();
          d.start();
          const line = d.waitFor(c.line, `the ${c.name} log line`);
          // The backoff: the first RECONNECTS reconnect-scheduled delays in the daemon's output.
          const delays = () => [...d.output.matchAll(/reconnect-scheduled in_ms=(\d+)/g)].map((m) => Number(m[1]));
          const scheduled = new Promise<void>((resolve) => {
            const on = () => {
              if (delays().length < RECONNECTS) return;
              d.proc.stdout!.off('data', on); d.proc.stderr!.off('data', on);
              resolve();
            };
            d.proc.stdout!.on('data', on); d.proc.stderr!.on('data', on);
          });
          await within(line, 15_000, `the ${c.name} log line ${c.line}`);
          await within(scheduled, 30_000, `${RECONNECTS} reconnect-scheduled lines`);

          // Doubling with +-25% jitter: every delay is longer than the one before.
          const seen = delays().slice(0, RECONNECTS);
          for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, `backoff grows: ${seen.join(', ')} ms`);
          // IKE_SA_INIT is the only request sent to port 500 (everything after it floats to 4500).
          const attempts = (hq!.logText(from).match(/received packet: from 198\.51\.100\.1\[500\]/g) ?? []).length;
          assert.ok(attempts >= 2 && attempts <= RECONNECTS + 2, `IKE_SA_INIT attempts seen by HQ while ${RECONNECTS} reconnects were scheduled: ${attempts}`);

          const st = await d.status();
          assert.notEqual(st.tunnel.state, 'up');
          assert.equal(st.tunnel.childSas.length, 0);
          assert.ok(st.tunnel.lastError, 'lastError is set');
          assert.match(st.tunnel.lastError!.message, c.lastError);
          assert.equal(d.proc.exitCode, null, 'daemon still running');
          assert.equal(d.proc.signalCode, null, 'daemon still running');
        } catch (e) {
          process.stderr.write(`--- outpost tail ---\n${d.tail(60)}\n${hq!.logTail(40)}\n`);
          throw e;
        } finally {
          await d.stop();
          await hq!.terminate('branch', { force: true }).catch(() => '');
        }
      });
    }
  } finally {
    await stopAll([hq]);
    await topo.lab.destroy();
  }
});
