// End to end (root): a factory-fresh Outpost in the branch namespace, its console on a socat pty,
// and the technician's tool (the outpost-provision CLI) on the other end applying a site file in
// one go: first PIN, load, commit confirmed, the tunnel followed to a real strongSwan HQ, confirmed,
// a summary printed. Then the LAN reaches HQ's LAN through the tunnel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { requireEnv } from '../lib/netns.ts';
import { buildTopology, ADDR } from '../lib/topology.ts';
import { Charon, siteToSiteConf, stopAll } from '../lib/strongswan.ts';
import { OutpostDaemon, branchConfig } from '../lib/outpost-daemon.ts';
import { assertPing } from '../lib/traffic.ts';
import { ptyPair, type PtyPair } from '../unit/provisioning/helpers.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const PSK = 'interop-test-psk-0123456789';
const PIN = '731946';

test('provisioning a factory-fresh box from a site file over the serial console brings the tunnel up', { timeout: 180_000 }, async (t) => {
  if (!requireEnv(t, { root: true, cmds: ['ip', 'swanctl', 'socat', 'ping'], files: ['/usr/lib/ipsec/charon'] })) return;
  const topo = buildTopology();
  const dir = mkdtempSync(join(tmpdir(), 'outpost-provisioning-'));
  let hq: Charon | undefined;
  let pty: PtyPair | undefined;
  let box: OutpostDaemon | undefined;
  try {
    hq = await Charon.start(topo.hq, {
      name: 'hq',
      swanctlConf: siteToSiteConf({
        conn: 'branch', localAddrs: ADDR.hqWan, remoteAddrs: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net',
        psk: PSK, localTs: [ADDR.hqSubnet], remoteTs: [ADDR.branchSubnet],
      }),
    });
    await hq.loadAll();
    pty = await ptyPair(dir, 'console');
    // The image's factory config: a responder nobody can reach, the console on the pty.
    const factory = {
      device: { id: 'unprovisioned' },
      lan: { interface: topo.ifs.branchLan, address: `${ADDR.branchLan}/24` },
      tunnel: { remote: '%any', localId: 'unprovisioned.example.net', remoteId: '%any', auth: { psk: 'factory-placeholder-key-not-used-anywhere' }, remoteSubnets: ['192.0.2.0/24'] },
      console: { path: pty.dev },
    };
    box = new OutpostDaemon(topo.lab, topo.branch, { name: 'branch', config: factory });
    await box.start().waitFor(/console: serial-open/);

    const site = branchConfig({ psk: PSK });
    const siteFile = join(dir, 'site.json');
    writeFileSync(siteFile, JSON.stringify(site, null, 2));
    const summaryFile = join(dir, 'summary.txt');
    const tool = topo.lab.track(topo.branch.spawn('env', [`OUTPOST_NEW_PIN=${PIN}`, process.execPath, '--import', 'tsx', join(ROOT, 'provisioning/provision-tool.ts'),
      'apply', '--port', pty.tool, siteFile, '--confirm-minutes', '5', '--timeout', '90', '--summary', summaryFile], { cwd: ROOT }));
    let out = '', err = '';
    tool.stdout!.on('data', (d) => { out += d; });
    tool.stderr!.on('data', (d) => { err += d; });
    const code = await new Promise<number | null>((r) => tool.once('exit', r));
    try {
      assert.equal(code, 0, `tool failed:\n${err}\n${out}`);
    } catch (e) {
      process.stderr.write(`--- outpost tail ---\n${box.tail(80)}\n${hq.logTail()}\n`);
      throw e;
    }
    // What the technician saw, and the ticket text.
    for (const step of [/ok {3}HQ is 198\.51\.100\.2/, /ok {3}IKE_SA_INIT (sent to|done with) 198\.51\.100\.2/, /ok {3}authenticated: HQ is "hq\.example\.net"/, /ok {3}CHILD_SA up: 10\.1\.0\.0\/24 === 10\.2\.0\.0\/24/, /confirmed: the configuration stays/]) {
      assert.match(err, step);
    }
    assert.match(out, /result:\s+OK/);
    assert.match(out, /device:\s+branch-test/);
    assert.match(out, /tunnel:\s+UP to 198\.51\.100\.2:4500/);
    assert.match(out, /CHILD SA:\s+10\.1\.0\.0\/24 === 10\.2\.0\.0\/24/);
    assert.match(out, /config:\s+\d+ fields changed; committed and confirmed/);
    assert.equal(readFileSync(summaryFile, 'utf8'), out.replace(/^\n/, ''));
    for (const s of [PSK, PIN]) assert.ok(!out.includes(s) && !err.includes(s) && !box.output.includes(s), 'a secret reached the tool or the log');

    // HQ agrees, and the branch LAN reaches HQ's LAN.
    await hq.waitForChildUp('net', { ike: 'branch' });
    assertPing(topo.lanhost, ADDR.hqhost);
    const st = await box.status();
    assert.equal(st.deviceId, 'branch-test');
    assert.equal(st.tunnel.state, 'up');

    // On disk: the site config (the console section kept from the factory config), 0600, the
    // factory config as last-known-good, no pending rollback, the PIN as a hash.
    const stored = JSON.parse(readFileSync(box.configPath, 'utf8'));
    assert.deepEqual({ ...stored, console: undefined }, { ...(site as object), console: undefined });
    assert.deepEqual(stored.console, { path: pty.dev });
    assert.equal(statSync(box.configPath).mode & 0o777, 0o600);
    assert.equal(JSON.parse(readFileSync(`${box.configPath}.lkg`, 'utf8')).device.id, 'unprovisioned');
    assert.equal(existsSync(`${box.configPath}.confirm`), false);
    assert.equal(statSync(`${box.configPath}.pin`).mode & 0o777, 0o600);
    assert.ok(!readFileSync(`${box.configPath}.pin`, 'utf8').includes(PIN));
  } finally {
    await box?.stop();
    await pty?.kill();
    await stopAll([hq]);
    await topo.lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
