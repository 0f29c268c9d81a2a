// IKE against a real strongSwan 5.9.8, side by side in the same run (A B A B):
// 1. start to CHILD_SA up as initiator: strongSwan -> strongSwan HQ vs Outpost -> strongSwan HQ
//    (from each daemon's own log: first IKE_SA_INIT sent to CHILD_SA installed);
// 2. IKE_SA + CHILD_SA setups per second as responder: a strongSwan branch initiating and
//    terminating in a loop towards a strongSwan HQ vs towards an Outpost HQ.
// Needs root. Run: node --import tsx test/bench/ike-interop.bench.ts   (ROUNDS, CYCLES env)
import { buildTopology, ADDR } from '../lib/topology.ts';
import { Charon, siteToSiteConf, stopAll } from '../lib/strongswan.ts';
import { OutpostDaemon, branchConfig } from '../lib/outpost-daemon.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CYCLES = Number(process.env.CYCLES ?? 15);
const PSK = 'interop-test-psk-0123456789';
const progress = (s: string) => process.stderr.write(`  .. ${s}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const charonMs = (line: string) => { const m = /(\d\d):(\d\d):(\d\d)\.(\d{3})/.exec(line)!; return ((+m[1]! * 60 + +m[2]!) * 60 + +m[3]!) * 1000 + +m[4]!; };
const isoMs = (line: string) => Date.parse(line.split(' ')[0]!);

if (process.getuid?.() !== 0) {
  console.log('ike-interop bench: needs root (network namespaces); skipped');
  process.exit(0);
}
const topo = buildTopology();
const conf = (role: 'branch' | 'hq') => role === 'hq'
  ? siteToSiteConf({ conn: 'branch', localAddrs: ADDR.hqWan, remoteAddrs: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net', psk: PSK, localTs: [ADDR.hqSubnet], remoteTs: [ADDR.branchSubnet] })
  : siteToSiteConf({ conn: 'hq', localAddrs: ADDR.branchWan, remoteAddrs: ADDR.hqWan, localId: 'branch.example.net', remoteId: 'hq.example.net', psk: PSK, localTs: [ADDR.branchSubnet], remoteTs: [ADDR.hqSubnet] });
let sBranch: Charon | undefined, sHq: Charon | undefined;
try {
  sHq = await Charon.start(topo.hq, { name: 'hq', swanctlConf: conf('hq') });
  await sHq.loadAll();
  // 1. initiator: time to CHILD_SA up
  const ss: number[] = [], op: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    progress(`initiator round ${r}`);
    sBranch = await Charon.start(topo.branch, { name: 'branch', swanctlConf: conf('branch') });
    await sBranch.loadAll();
    const off = sBranch.logOffset();
    await sBranch.initiate('net', 'hq');
    const log = sBranch.logText(off).split('\n');
    ss.push(charonMs(log.find((l) => /CHILD_SA net\{\d+\} established/.test(l))!) - charonMs(log.find((l) => /initiating IKE_SA/.test(l))!));
    await sBranch.terminate('hq');
    await sHq.waitForIkeGone('branch');
    await sBranch.stop(); sBranch.cleanup(); sBranch = undefined;

    const d = new OutpostDaemon(topo.lab, topo.branch, { name: 'branch', config: branchConfig({ psk: PSK }), env: { OUTPOST_LOG_LEVEL: 'info' } }).start();
    const start = await d.waitFor(/ike: connecting/);
    const up = await d.waitFor(/ike: child-up/);
    op.push(isoMs(up) - isoMs(start));
    await d.stop();
    await sHq.waitForIkeGone('branch');
  }
  // 2. responder: setups per second
  const cycles = async (b: Charon) => {
    const t0 = performance.now();
    for (let i = 0; i < CYCLES; i++) {
      progress(`cycle ${i}`);
      await b.initiate('net', 'hq');
      await b.terminate('hq');
    }
    return CYCLES / ((performance.now() - t0) / 1000);
  };
  const rss: number[] = [], rop: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    progress(`responder round ${r}`);
    sBranch = await Charon.start(topo.branch, { name: 'branch', swanctlConf: conf('branch') });
    await sBranch.loadAll();
    rss.push(await cycles(sBranch));
    await sHq.stop(); sHq.cleanup(); sHq = undefined;
    const hqd = new OutpostDaemon(topo.lab, topo.hq, {
      name: 'hq', env: { OUTPOST_LOG_LEVEL: 'info' },
      config: { device: { id: 'hq' }, lan: { interface: topo.ifs.hqLan, address: '10.2.0.1/24' }, tunnel: { remote: '%any', localId: 'hq.example.net', remoteId: 'branch.example.net', auth: { psk: PSK }, localSubnets: [ADDR.hqSubnet], remoteSubnets: [ADDR.branchSubnet] } },
    }).start();
    await hqd.waitFor(/outpost: running/); // the tunnel's sockets are bound (the control socket opens first)
    rop.push(await cycles(sBranch));
    await hqd.stop();
    await sBranch.stop(); sBranch.cleanup(); sBranch = undefined;
    sHq = await Charon.start(topo.hq, { name: 'hq', swanctlConf: conf('hq') });
    await sHq.loadAll();
  }
  const a = median(ss), b = median(op), c = median(rss), e = median(rop);
  console.log(`\nIKE with a real strongSwan 5.9.8 (PSK, aes256gcm16-prfsha256-x25519), median of ${ROUNDS} rounds, A B A B`);
  console.log('measure                                   strongSwan   Outpost   Outpost/strongSwan');
  console.log(`start to CHILD_SA up, initiator (ms)      ${a.toFixed(1).padStart(10)} ${b.toFixed(1).padStart(9)} ${(b / a).toFixed(2).padStart(10)}x  (lower is better)`);
  console.log(`setups/s as responder (${CYCLES} initiate+terminate)${c.toFixed(1).padStart(6)} ${e.toFixed(1).padStart(9)} ${(e / c).toFixed(2).padStart(10)}x  (higher is better)`);
  console.log(`rounds: initiator strongSwan ${ss.join(', ')} ms; Outpost ${op.join(', ')} ms; responder strongSwan ${rss.map((x) => x.toFixed(1)).join(', ')}/s; Outpost ${rop.map((x) => x.toFixed(1)).join(', ')}/s`);
} finally {
  await stopAll([sBranch, sHq]);
  await topo.lab.destroy();
}
