// Outpost (branch, initiator) against a real strongSwan 5.9.8 HQ, across the IKE and ESP
// proposal matrix: every combination brings the tunnel up, strongSwan reports the negotiated
// algorithms, pings and a TCP transfer cross it intact. For ESP proposals with PFS the key
// exchange only happens on a CHILD_SA rekey, so HQ rekeys the child and traffic must flow
// over the new one. One topology and one charon serve the whole matrix (swanctl reloaded,
// Outpost restarted per combination).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireEnv } from '../lib/netns.ts';
import { buildTopology, ADDR } from '../lib/topology.ts';
import { Charon, siteToSiteConf, stopAll } from '../lib/strongswan.ts';
import { OutpostDaemon, branchConfig } from '../lib/outpost-daemon.ts';
import { assertPing, assertTcpTransfer } from '../lib/traffic.ts';

const PSK = 'interop-test-psk-0123456789';
const TRANSFER = 256 * 1024;

// name -> strongSwan's vici names for encr alg / key size / prf / dh group
// strongSwan reports no key size for ChaCha20-Poly1305 (it has only one).
const IKE = [
  { p: 'aes256gcm16-prfsha256-x25519', encr: 'AES_GCM_16', keysize: 256, prf: 'PRF_HMAC_SHA2_256', dh: 'CURVE_25519' },
  { p: 'aes128gcm16-prfsha256-ecp256', encr: 'AES_GCM_16', keysize: 128, prf: 'PRF_HMAC_SHA2_256', dh: 'ECP_256' },
  { p: 'chacha20poly1305-prfsha256-x25519', encr: 'CHACHA20_POLY1305', keysize: undefined, prf: 'PRF_HMAC_SHA2_256', dh: 'CURVE_25519' },
];
const ESP = [
  { p: 'aes256gcm16', encr: 'AES_GCM_16', keysize: 256 },
  { p: 'aes128gcm16', encr: 'AES_GCM_16', keysize: 128 },
  { p: 'chacha20poly1305', encr: 'CHACHA20_POLY1305', keysize: undefined },
];

// Every IKE proposal with the first ESP one, and every ESP proposal (with and without PFS)
// with the first IKE one: each algorithm is covered without running all 18 combinations.
const MATRIX = [
  ...IKE.map((ike) => ({ ike, esp: ESP[0]!, pfs: false })),
  ...ESP.slice(1).map((esp) => ({ ike: IKE[0]!, esp, pfs: false })),
  ...ESP.map((esp) => ({ ike: IKE[0]!, esp, pfs: true })),
];

function hqConf(ike: string, esp: string): string {
  return siteToSiteConf({
    conn: 'branch', localAddrs: ADDR.hqWan, remoteAddrs: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net',
    psk: PSK, localTs: [ADDR.hqSubnet], remoteTs: [ADDR.branchSubnet], ike: [ike], esp: [esp],
  });
}

test('Outpost initiator interoperates with strongSwan across IKE/ESP proposals', { timeout: 300_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'swanctl', 'socat', 'ping'], files: ['/usr/lib/ipsec/charon'] })) return;
  const topo = buildTopology();
  let hq: Charon | undefined;
  try {
    hq = await Charon.start(topo.hq, { name: 'hq', swanctlConf: hqConf(IKE[0]!.p, ESP[0]!.p) });
    for (const { ike, esp, pfs } of MATRIX) {
      const espP = pfs ? `${esp.p}-x25519` : esp.p;
      await t.test(`${ike.p} / ${espP}`, async () => {
        hq!.setSwanctlConf(hqConf(ike.p, espP));
        await hq!.loadAll();
        const d = new OutpostDaemon(topo.lab, topo.branch, { name: 'branch', config: branchConfig({ ike: [ike.p], esp: [espP] }) });
        try {
          // start() then waitFor() in the same tick: no output can be read in between.
          await d.start().waitFor(/child-up/);
          const { ike: sa, child } = await hq!.waitForChildUp('net', { ike: 'branch' });
          assert.equal(sa.encrAlg, ike.encr);
          assert.equal(sa.encrKeysize, ike.keysize);
          assert.equal(sa.prfAlg, ike.prf);
          assert.equal(sa.dhGroup, ike.dh);
          assert.equal(child.encrAlg, esp.encr);
          assert.equal(child.encrKeysize, esp.keysize);
          assert.ok(child.encap, 'ESP in UDP');
          assertPing(topo.lanhost, ADDR.hqhost);
          await assertTcpTransfer(topo.lab, topo.lanhost, topo.hqhost, ADDR.hqhost, TRANSFER);
          const st = await d.status();
          assert.equal(st.tunnel.state, 'up');
          assert.equal(st.tunnel.childSas.length, 1);
          assert.equal(st.tunnel.childSas[0]!.spiIn, child.spiOut);
          assert.ok(st.tunnel.childSas[0]!.bytesOut >= TRANSFER, `Outpost counted ${st.tunnel.childSas[0]!.bytesOut} bytes out`);

          if (pfs) {
            const rekeyed = d.waitFor(/child-rekeyed/);
            await hq!.rekeyChild('net');
            await rekeyed;
            await hq!.waitForState(async () => {
              const s = (await hq!.listSas()).find((x) => x.name === 'branch');
              const c = s?.children.find((x) => x.state === 'INSTALLED');
              return !!c && c.spiIn !== child.spiIn && s!.children.length === 1;
            }, 'rekeyed CHILD_SA alone');
            const n = (await hq!.listSas()).find((x) => x.name === 'branch')!.children[0]!;
            assert.notEqual(n.spiIn, child.spiIn, 'new CHILD_SA');
            assert.equal(n.dhGroup, 'CURVE_25519', 'rekey used PFS');
            assert.equal(n.encrAlg, esp.encr);
            assertPing(topo.lanhost, ADDR.hqhost);
            await assertTcpTransfer(topo.lab, topo.lanhost, topo.hqhost, ADDR.hqhost, TRANSFER);
            const st2 = await d.status();
            assert.equal(st2.tunnel.childSas.length, 1, JSON.stringify(st2.tunnel.childSas));
            assert.equal(st2.tunnel.childSas[0]!.spiIn, n.spiOut);
            // Outpost names suites in proposal syntax ("aes256gcm16-x25519"), not strongSwan's.
            assert.match(st2.tunnel.childSas[0]!.algorithms, /x25519|CURVE_25519/i);
          }
        } catch (e) {
          process.stderr.write(`--- outpost tail ---\n${d.tail(60)}\n${hq!.logTail()}\n`);
          throw e;
        } finally {
          await d.stop();
          await hq!.terminate('branch', { force: true }).catch(() => '');
          await hq!.waitForIkeGone('branch').catch(() => {});
        }
      });
    }
  } finally {
    await stopAll([hq]);
    await topo.lab.destroy();
  }
});
