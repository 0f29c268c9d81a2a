// The demo: a branch LAN host behind an Outpost box, an Outpost HQ responder, and a host behind
// HQ, all in network namespaces this script creates and removes. It shows the tunnel coming up,
// pings crossing it, and `outpost status`. Ctrl-C cleans up; `--once` runs a few pings and exits.
import { buildTopology, ADDR } from '../test/lib/topology.ts';
import { OutpostDaemon, branchConfig } from '../test/lib/outpost-daemon.ts';
import { statusText } from '../firmware/cli/status-text.ts';

const once = process.argv.includes('--once');
if (process.getuid?.() !== 0) {
  console.error('demo: needs root (it creates network namespaces and TUN devices); run: sudo scripts/demo.sh');
  process.exit(1);
}
const say = (s: string) => console.log(`\x1b[1m== ${s}\x1b[0m`);
const psk = 'demo-only-pre-shared-key-' + Math.random().toString(36).slice(2);

say('building namespaces: lanhost 10.1.0.2 - branch - WAN 198.51.100.0/24 - hq - hqhost 10.2.0.2');
const topo = buildTopology();
const hqConfig = {
  device: { id: 'hq-demo' },
  lan: { interface: topo.ifs.hqLan, address: '10.2.0.1/24' },
  tunnel: { remote: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net', auth: { psk }, localSubnets: [ADDR.hqSubnet], remoteSubnets: [ADDR.branchSubnet], dpdSeconds: 10 },
};
const hq = new OutpostDaemon(topo.lab, topo.hq, { name: 'hq', config: hqConfig, env: { OUTPOST_LOG_LEVEL: 'info' } });
const branch = new OutpostDaemon(topo.lab, topo.branch, { name: 'branch', config: { ...(branchConfig({ psk, dpdSeconds: 10 }) as object), device: { id: 'branch-demo' } }, env: { OUTPOST_LOG_LEVEL: 'info' } });
let stopping = false;
const cleanup = async (code: number) => {
  if (stopping) return;
  stopping = true;
  say('cleaning up');
  await branch.stop().catch(() => {});
  await hq.stop().catch(() => {});
  await topo.lab.destroy();
  process.exit(code);
};
process.on('SIGINT', () => void cleanup(0));
process.on('SIGTERM', () => void cleanup(0));

try {
  say('starting the HQ responder (Outpost, remote %any)');
  hq.start();
  await hq.waitFor(/listening/, 'HQ listening');
  say('starting the branch box (Outpost, initiator towards 198.51.100.2)');
  branch.start();
  branch.proc.stderr!.on('data', (d: Buffer) => { for (const l of d.toString().split('\n')) if (/tunnel\.ike: (ike-up|child-up|auth-failed|negotiation-failed|ike-down)/.test(l)) console.log(`  branch | ${l}`); });
  await branch.waitFor(/child-up/, 'CHILD_SA up');
  say('tunnel up; outpost status on the branch box:');
  console.log(statusText(await branch.status()));
  const pings = once ? 3 : Infinity;
  for (let i = 1; i <= pings && !stopping; i++) {
    try {
      const out = topo.lanhost.run('ping', '-c', '1', '-W', '2', ADDR.hqhost);
      console.log(`  lanhost -> hqhost: ${out.split('\n').find((l) => l.includes('time='))?.trim() ?? 'reply'}`);
    } catch {
      console.log('  lanhost -> hqhost: no reply');
      if (once) throw new Error('ping through the tunnel failed');
    }
    if (i % 10 === 0) console.log(statusText(await branch.status()));
    if (!once) await new Promise((r) => setTimeout(r, 1000));
  }
  await cleanup(0);
} catch (e) {
  console.error(`demo failed: ${(e as Error).message}\n--- branch log ---\n${branch.tail(30)}\n--- hq log ---\n${hq.tail(30)}`);
  await cleanup(1);
}
