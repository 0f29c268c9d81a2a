// Certificate authentication against a real strongSwan 5.9.8, with certificates made by
// strongSwan's `pki`: ECDSA P-256 on both sides, Ed25519, an RSA HQ certificate (PKCS#1 v1.5
// and PSS) with an ECDSA branch, an intermediate CA; Outpost as initiator and as responder,
// pings through the tunnel each time. Then the refusals: an expired HQ certificate, one from
// another CA, an identity the certificate does not hold, a certificate revoked by Outpost's
// CRL; each ends in AUTHENTICATION_FAILED at strongSwan and an Outpost log line naming why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireEnv, withTimeout, type Netns } from '../lib/netns.ts';
import { buildTopology, ADDR, type Topology } from '../lib/topology.ts';
import { Charon, stopAll } from '../lib/strongswan.ts';
import { OutpostDaemon } from '../lib/outpost-daemon.ts';
import { assertPing } from '../lib/traffic.ts';
import { TestPki, type KeyType } from '../lib/strongswan-pki.ts';
import { runPkiCommand } from '../../firmware/pki/cli.ts';
import { join } from 'node:path';

const WAIT_MS = 20_000;

interface Creds { key: string; cert: string }

/** swanctl.conf for one side with certificate authentication. */
function swanConf(o: { localAddrs: string; remoteAddrs: string; localId: string; remoteId: string; localTs: string; remoteTs: string; cacert: string }): string {
  return `connections {
    peer {
        version = 2
        local_addrs = ${o.localAddrs}
        remote_addrs = ${o.remoteAddrs}
        encap = yes
        mobike = no
        proposals = aes256gcm16-prfsha256-x25519
        reauth_time = 0s
        rand_time = 0s
        local {
            auth = pubkey
            certs = own.pem
            id = ${o.localId}
        }
        remote {
            auth = pubkey
            id = ${o.remoteId}
            cacerts = ${o.cacert}
        }
        children {
            net {
                mode = tunnel
                local_ts = ${o.localTs}
                remote_ts = ${o.remoteTs}
                esp_proposals = aes256gcm16
                rand_time = 0s
            }
        }
    }
}
`;
}

async function startCharon(ns: Netns, name: string, pki: TestPki, own: Creds, cas: string[], conf: string, settings = '', logLevels: Record<string, number> = {}): Promise<Charon> {
  const files: Record<string, string> = { 'x509/own.pem': pki.read(own.cert), 'private/own.key': pki.read(own.key) };
  cas.forEach((c, i) => { files[`x509ca/${i === 0 ? 'ca' : `ca${i}`}.pem`] = pki.read(c); });
  const c = await Charon.start(ns, { name, swanctlConf: conf, files, charonSettings: settings, logLevels });
  await c.loadAll();
  return c;
}

function outpostConfig(topo: Topology, role: 'initiator' | 'responder', own: Creds, ca: string[], crl: string[] = []): unknown {
  const branch = role === 'initiator';
  return {
    device: { id: branch ? 'branch-cert' : 'hq-cert' },
    lan: { interface: branch ? topo.ifs.branchLan : topo.ifs.hqLan, address: branch ? `${ADDR.branchLan}/24` : `${ADDR.hqLan}/24` },
    tunnel: {
      remote: branch ? ADDR.hqWan : '%any',
      localId: branch ? 'branch.example.net' : 'hq.example.net',
      remoteId: branch ? 'hq.example.net' : 'branch.example.net',
      auth: { key: own.key, cert: own.cert, ca, ...(crl.length ? { crl } : {}) },
      localSubnets: [branch ? ADDR.branchSubnet : ADDR.hqSubnet], remoteSubnets: [branch ? ADDR.hqSubnet : ADDR.branchSubnet],
    },
  };
}

test('certificate authentication with strongSwan 5.9.8', { timeout: 600_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'swanctl', 'pki', 'ping'], files: ['/usr/lib/ipsec/charon'] })) return;
  const pki = new TestPki();
  let topo: Topology | undefined;
  try {
    // ---- the PKI, as an HQ admin would make it with `pki`
    const ca = pki.ca('ca', 'C=CH, O=Outpost Test, CN=Outpost Test CA');
    const otherCa = pki.ca('other-ca', 'C=CH, O=Elsewhere, CN=Other CA');
    const interCa = pki.issue('inter', ca, { dn: 'C=CH, O=Outpost Test, CN=Outpost Intermediate CA', san: [], extra: ['--ca'] });
    const certs = (type: KeyType) => ({
      hq: pki.issue('hq.example.net', ca, { type, file: `hq-${type}` }),
      branch: pki.issue('branch.example.net', ca, { type, file: `branch-${type}` }),
    });
    const ecdsa = certs('ecdsa');
    const ed = certs('ed25519');
    const hqRsa = pki.issue('hq.example.net', ca, { type: 'rsa', file: 'hq-rsa' });
    const hqInter = pki.issue('hq.example.net', interCa, { file: 'hq-inter' });
    const branchInterLeaf = pki.issue('branch.example.net', interCa, { file: 'branch-inter' });
    const branchInter = { key: branchInterLeaf.key, cert: pki.bundle('branch-inter-chain.pem', [branchInterLeaf.cert, interCa.cert]) };
    const hqInterChain = { key: hqInter.key, cert: pki.bundle('hq-inter-chain.pem', [hqInter.cert, interCa.cert]) };
    const hqExpired = pki.issue('hq.example.net', ca, { file: 'hq-expired', extra: ['--not-before', '01.01.20 00:00:00', '--not-after', '01.01.21 00:00:00'] });
    const hqOther = pki.issue('hq.example.net', otherCa, { file: 'hq-other' });
    const hqWrongName = pki.issue('vpn.example.net', ca, { file: 'hq-wrongname', dn: 'C=CH, O=Outpost Test, CN=vpn.example.net' });
    const hqRevoked = pki.issue('hq.example.net', ca, { file: 'hq-revoked' });
    const crl = pki.crl(ca, [hqRevoked.cert]);
    const branchOther = pki.issue('branch.example.net', otherCa, { file: 'branch-other' });

    topo = buildTopology();
    const tp = topo;

    /** Outpost at the branch initiates towards a strongSwan HQ. */
    async function outpostInitiates(name: string, o: { hq: Creds; hqCas?: string[]; branch: Creds; branchCa?: string[]; crl?: string[]; settings?: string;
      expect: { up: true; scheme: RegExp } | { up: false; line: RegExp } }): Promise<void> {
      await t.test(`Outpost initiator: ${name}`, async () => {
        let hq: Charon | undefined;
        const d = new OutpostDaemon(tp.lab, tp.branch, { name: 'branch', config: outpostConfig(tp, 'initiator', o.branch, o.branchCa ?? [ca.cert], o.crl) });
        try {
          hq = await startCharon(tp.hq, 'hq', pki, o.hq, o.hqCas ?? [ca.cert], swanConf({
            localAddrs: ADDR.hqWan, remoteAddrs: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net',
            localTs: ADDR.hqSubnet, remoteTs: ADDR.branchSubnet, cacert: 'ca.pem',
          }), o.settings, { enc: 1 }); // enc 1: charon logs the payloads of each message it parses
          const from = hq.logOffset();
          d.start();
          if (o.expect.up) {
            const accepted = withTimeout(d.waitFor(/peer-certificate /), WAIT_MS, 'peer-certificate log line');
            await withTimeout(d.waitFor(/child-up/), WAIT_MS, 'child-up');
            assert.match(await accepted, o.expect.scheme);
            const { ike } = await hq.waitForChildUp('net');
            assert.equal(ike.remoteId, 'branch.example.net');
            assertPing(tp.lanhost, ADDR.hqhost);
            const st = await d.status();
            assert.equal(st.tunnel.state, 'up');
            assert.match(st.certificate?.subject ?? '', /CN=branch\.example\.net/);
            assert.ok((st.certificate?.daysLeft ?? 0) > 300, `daysLeft ${st.certificate?.daysLeft}`);
          } else {
            const line = await withTimeout(d.waitFor(/auth-failed /), WAIT_MS, 'auth-failed log line');
            assert.match(line, o.expect.line);
            // Outpost tells HQ in an INFORMATIONAL (RFC 7296 2.21.2); strongSwan then deletes its IKE_SA.
            await hq.waitForLog(/parsed INFORMATIONAL request \d+ \[ N\(AUTH_FAILED\) \]/, { fromOffset: from, timeoutMs: WAIT_MS });
            await hq.waitForLog(/received DELETE for IKE_SA|IKE_SA deleted/, { fromOffset: from, timeoutMs: WAIT_MS });
            const st = await d.status();
            assert.notEqual(st.tunnel.state, 'up');
            assert.match(st.tunnel.lastError?.message ?? '', o.expect.line);
          }
        } catch (e) {
          process.stderr.write(`--- outpost tail ---\n${d.tail(40)}\n${hq?.logTail(40) ?? ''}\n`);
          throw e;
        } finally {
          await d.stop();
          await stopAll([hq]);
        }
      });
    }

    /** A strongSwan branch initiates towards Outpost as HQ (remote %any). */
    async function outpostResponds(name: string, o: { hq: Creds; hqCa?: string[]; branch: Creds; branchCas?: string[];
      expect: { up: true; scheme: RegExp } | { up: false; line: RegExp } }): Promise<void> {
      await t.test(`Outpost responder: ${name}`, async () => {
        let br: Charon | undefined;
        const d = new OutpostDaemon(tp.lab, tp.hq, { name: 'hq', config: outpostConfig(tp, 'responder', o.hq, o.hqCa ?? [ca.cert]) });
        try {
          await withTimeout(d.start().waitFor(/control socket listening/), WAIT_MS, 'Outpost start');
          br = await startCharon(tp.branch, 'branch', pki, o.branch, o.branchCas ?? [ca.cert], swanConf({
            localAddrs: ADDR.branchWan, remoteAddrs: ADDR.hqWan, localId: 'branch.example.net', remoteId: 'hq.example.net',
            localTs: ADDR.branchSubnet, remoteTs: ADDR.hqSubnet, cacert: 'ca.pem',
          }));
          if (o.expect.up) {
            const accepted = withTimeout(d.waitFor(/peer-certificate /), WAIT_MS, 'peer-certificate log line');
            const up = withTimeout(d.waitFor(/child-up/), WAIT_MS, 'child-up');
            await br.initiate('net', 'peer');
            await up;
            assert.match(await accepted, o.expect.scheme);
            await br.waitForChildUp('net');
            assertPing(tp.hqhost, ADDR.lanhost);
            assert.equal((await d.status()).tunnel.ikeSa?.role, 'responder');
          } else {
            const from = br.logOffset();
            const line = withTimeout(d.waitFor(/auth-failed /), WAIT_MS, 'auth-failed log line');
            await br.initiate('net', 'peer').catch(() => '');
            assert.match(await line, o.expect.line);
            await br.waitForLog(/received AUTHENTICATION_FAILED notify error/, { fromOffset: from, timeoutMs: WAIT_MS });
          }
        } catch (e) {
          process.stderr.write(`--- outpost tail ---\n${d.tail(40)}\n${br?.logTail(40) ?? ''}\n`);
          throw e;
        } finally {
          await d.stop();
          await stopAll([br]);
        }
      });
    }

    await outpostInitiates('ECDSA P-256 certificates on both sides', { hq: ecdsa.hq, branch: ecdsa.branch, expect: { up: true, scheme: /scheme=ecdsa-with-SHA256/ } });
    await outpostResponds('ECDSA P-256 certificates on both sides', { hq: ecdsa.hq, branch: ecdsa.branch, expect: { up: true, scheme: /scheme=ecdsa-with-SHA256/ } });
    await outpostInitiates('Ed25519 certificates on both sides', { hq: ed.hq, branch: ed.branch, expect: { up: true, scheme: /scheme=Ed25519/ } });
    await outpostResponds('Ed25519 certificates on both sides', { hq: ed.hq, branch: ed.branch, expect: { up: true, scheme: /scheme=Ed25519/ } });
    await outpostInitiates('RSA HQ certificate (PKCS#1 v1.5), ECDSA branch', { hq: hqRsa, branch: ecdsa.branch, expect: { up: true, scheme: /scheme=sha\d+WithRSAEncryption/ } });
    await outpostInitiates('RSA HQ certificate (RSASSA-PSS), ECDSA branch', { hq: hqRsa, branch: ecdsa.branch, settings: '    rsa_pss = yes\n', expect: { up: true, scheme: /scheme="?RSASSA-PSS\/SHA-\d+ salt \d+/ } });
    await outpostInitiates('intermediate CA on both sides', { hq: hqInterChain, hqCas: [ca.cert, interCa.cert], branch: branchInter, expect: { up: true, scheme: /ca="C=CH, O=Outpost Test, CN=Outpost Test CA"/ } });
    await outpostResponds('intermediate CA on both sides', { hq: hqInterChain, branch: branchInter, branchCas: [ca.cert, interCa.cert], expect: { up: true, scheme: /issuer="C=CH, O=Outpost Test, CN=Outpost Intermediate CA"/ } });

    // Enrollment as a technician does it: key and CSR made on the box, signed by HQ's CA with
    // `pki`, checked and installed with `outpost cert import`, then used for the tunnel.
    const quiet = { stdout: { write: () => true }, stderr: { write: (x: string) => process.stderr.write(x) } };
    const boxKey = join(pki.dir, 'box.key');
    assert.equal(await runPkiCommand(['key', 'generate', '--type', 'ed25519', '--out', boxKey], quiet), 0);
    assert.equal(await runPkiCommand(['csr', '--key', boxKey, '--id', 'branch.example.net', '--out', join(pki.dir, 'box.csr')], quiet), 0);
    const signed = pki.pki(['--issue', '--cacert', ca.cert, '--cakey', ca.key, '--type', 'pkcs10', '--in', join(pki.dir, 'box.csr'), '--outform', 'pem'], 'box-signed.pem');
    const boxCert = join(pki.dir, 'box.pem');
    assert.equal(await runPkiCommand(['cert', 'import', '--cert', signed, '--key', boxKey, '--ca', ca.cert, '--id', 'branch.example.net', '--out', boxCert], quiet), 0);
    await outpostInitiates('key, CSR and certificate enrolled on the box (Ed25519)', { hq: ecdsa.hq, branch: { key: boxKey, cert: boxCert }, expect: { up: true, scheme: /scheme=ecdsa-with-SHA256/ } });

    await outpostInitiates('refused: expired HQ certificate', { hq: hqExpired, branch: ecdsa.branch, expect: { up: false, line: /certificate expired: peer certificate .*CN=hq\.example\.net.* expired on 2021-01-01/ } });
    await outpostInitiates('refused: HQ certificate from another CA', { hq: hqOther, branch: ecdsa.branch, expect: { up: false, line: /unknown CA: .*issued by .*CN=Other CA.*which is not a configured CA/ } });
    await outpostInitiates('refused: HQ identity not in its certificate', { hq: hqWrongName, branch: ecdsa.branch, expect: { up: false, line: /identity mismatch: / } });
    await outpostInitiates('refused: HQ certificate revoked by the CRL', { hq: hqRevoked, branch: ecdsa.branch, crl: [crl], expect: { up: false, line: /certificate revoked: certificate .*CN=hq\.example\.net.* was revoked on / } });
    await outpostResponds('refused: branch certificate from another CA', { hq: ecdsa.hq, branch: branchOther, branchCas: [ca.cert], expect: { up: false, line: /unknown CA: .*CN=Other CA/ } });
  } finally {
    await topo?.lab.destroy();
    pki.cleanup();
  }
});
