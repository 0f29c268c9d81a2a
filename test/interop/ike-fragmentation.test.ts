// IKE fragmentation (RFC 7383) against a real strongSwan 5.9.8: RSA certificates with an
// intermediate CA in both directions make IKE_AUTH larger than a 1280-byte WAN path, so both
// ends must fragment it (strongSwan's fragmentation is on by default). Outpost as initiator and
// as responder; the tunnel comes up and pings cross it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireEnv, withTimeout } from '../lib/netns.ts';
import { buildTopology, ADDR, type Topology } from '../lib/topology.ts';
import { Charon, stopAll } from '../lib/strongswan.ts';
import { OutpostDaemon } from '../lib/outpost-daemon.ts';
import { assertPing } from '../lib/traffic.ts';
import { TestPki } from '../lib/strongswan-pki.ts';

const WAIT_MS = 30_000;
const WAN_MTU = 1280;

function swanConf(o: { local: string; remote: string; localId: string; remoteId: string; localTs: string; remoteTs: string }): string {
  return `connections {
    peer {
        version = 2
        local_addrs = ${o.local}
        remote_addrs = ${o.remote}
        mobike = no
        fragmentation = yes
        proposals = aes256gcm16-prfsha256-x25519
        local {
            auth = pubkey
            certs = own.pem
            id = ${o.localId}
        }
        remote {
            auth = pubkey
            id = ${o.remoteId}
            cacerts = ca.pem
        }
        children {
            net {
                local_ts = ${o.localTs}
                remote_ts = ${o.remoteTs}
                esp_proposals = aes256gcm16
            }
        }
    }
}
`;
}

test('IKE_AUTH with RSA certificate chains crosses a 1280-byte path as fragments, both roles', { timeout: 300_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'swanctl', 'pki', 'ping'], files: ['/usr/lib/ipsec/charon'] })) return;
  const pki = new TestPki();
  let topo: Topology | undefined;
  try {
    const ca = pki.ca('ca', 'C=CH, O=Outpost Test, CN=Outpost Test CA', 'rsa');
    const inter = pki.issue('inter', ca, { type: 'rsa', dn: 'C=CH, O=Outpost Test, CN=Outpost Intermediate CA', san: [], extra: ['--ca'] });
    const leaf = (name: string) => {
      const c = pki.issue(name, inter, { type: 'rsa', file: name });
      return { key: c.key, cert: pki.bundle(`${name}-chain.pem`, [c.cert, inter.cert]) };
    };
    const hqCreds = leaf('hq.example.net');
    const branchCreds = leaf('branch.example.net');
    topo = buildTopology({ wanMtu: WAN_MTU });
    const tp = topo;

    for (const role of ['initiator', 'responder'] as const) {
      await t.test(`Outpost as ${role}`, async () => {
        const outpostNs = role === 'initiator' ? tp.branch : tp.hq;
        const swanNs = role === 'initiator' ? tp.hq : tp.branch;
        const isBranch = role === 'initiator';
        const own = isBranch ? branchCreds : hqCreds;
        const peer = isBranch ? hqCreds : branchCreds;
        const d = new OutpostDaemon(tp.lab, outpostNs, {
          name: role, config: {
            device: { id: `frag-${role}` },
            lan: { interface: isBranch ? tp.ifs.branchLan : tp.ifs.hqLan, address: isBranch ? `${ADDR.branchLan}/24` : `${ADDR.hqLan}/24` },
            tunnel: {
              remote: isBranch ? ADDR.hqWan : '%any', localId: isBranch ? 'branch.example.net' : 'hq.example.net',
              remoteId: isBranch ? 'hq.example.net' : 'branch.example.net', auth: { key: own.key, cert: own.cert, ca: [ca.cert] },
              localSubnets: [isBranch ? ADDR.branchSubnet : ADDR.hqSubnet], remoteSubnets: [isBranch ? ADDR.hqSubnet : ADDR.branchSubnet],
            },
          },
        });
        let swan: Charon | undefined;
        try {
          swan = await Charon.start(swanNs, {
            name: isBranch ? 'hq' : 'branch',
            swanctlConf: swanConf({
              local: isBranch ? ADDR.hqWan : ADDR.branchWan, remote: isBranch ? '%any' : ADDR.hqWan,
              localId: isBranch ? 'hq.example.net' : 'branch.example.net', remoteId: isBranch ? 'branch.example.net' : 'hq.example.net',
              localTs: isBranch ? ADDR.hqSubnet : ADDR.branchSubnet, remoteTs: isBranch ? ADDR.branchSubnet : ADDR.hqSubnet,
            }),
            // The intermediate as a CA certificate too, so strongSwan sends it with its own.
            files: { 'x509/own.pem': pki.read(peer.cert), 'private/own.key': pki.read(peer.key), 'x509ca/ca.pem': pki.read(ca.cert), 'x509ca/inter.pem': pki.read(inter.cert) },
          });
          await swan.loadAll();
          d.start();
          // Our IKE_AUTH message goes out in more than one SKF fragment, and strongSwan's comes in
          // fragments too (it sends them only when both ends announced support).
          const sent = withTimeout(d.waitFor(/send .*msg="IKE_AUTH (request|response) 1 .*fragments=([2-9]|\d\d)/), WAIT_MS, 'a fragmented IKE_AUTH from Outpost');
          const up = withTimeout(d.waitFor(/child-up/), WAIT_MS, 'CHILD_SA up');
          const received = withTimeout(d.waitFor(/fragment .*msg="IKE_AUTH (request|response) 1 \[ EF\(\d+\/\d+\) \]"/), WAIT_MS, 'a fragment of strongSwan\'s IKE_AUTH');
          if (!isBranch) await withTimeout(d.waitFor(/listening|running/), WAIT_MS, 'Outpost listening');
          if (!isBranch) void swan.initiate('net', 'peer').catch(() => {});
          await sent;
          await received;
          await up;
          await swan.waitForChildUp('net'); // strongSwan's routes go in after its CHILD_SA is up
          assertPing(tp.lanhost, ADDR.hqhost);
          const st = await d.status();
          assert.equal(st.tunnel.state, 'up');
        } catch (e) {
          console.log(d.tail(40));
          if (swan) console.log(swan.logTail(60));
          throw e;
        } finally {
          await d.stop();
          await stopAll([swan]);
        }
      });
    }
  } finally {
    await topo?.lab.destroy();
    pki.cleanup();
  }
});
