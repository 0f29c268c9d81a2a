// Test-only: runs Outpost's data plane with one CHILD_SA keyed from a file, no IKE.
//   node --import tsx test/lib/static-peer.ts keys.json
// Opens the TUN, routes the remote subnets through it, binds UDP, installs the child, prints
// "ready". SIGUSR1 prints "status {json}" (the data plane's and UDP counters) on stdout; SIGTERM
// closes everything and exits 0 after printing a last status line.
import { readFileSync } from 'node:fs';
import { TunDevice } from '../../board/tun/index.ts';
import { DataPlane } from '../../firmware/gateway/dataplane.ts';
import { addRoutes } from '../../firmware/gateway/routes.ts';
import { UdpTransport } from '../../firmware/gateway/udp.ts';
import { selectorFromCidr } from '../../firmware/ike/selectors.ts';
import { logger } from '../../firmware/log.ts';

/** The keying file. Keys are hex of key||salt, as IKE's KEYMAT gives them. */
export interface StaticPeerConfig {
  tun: string;
  mtu?: number;
  /** Local UDP address and NAT-T port (default 0.0.0.0:4500). */
  bindAddress?: string;
  port?: number;
  remote: { address: string; port: number };
  aead: string;
  esn?: boolean;
  spiIn: string;
  spiOut: string;
  keyIn: string;
  keyOut: string;
  localSubnets: string[];
  remoteSubnets: string[];
  /** Source address for this host's own packets into the tunnel (its LAN address). */
  routeSrc?: string;
}

const log = logger('static-peer');

function hexBuf(name: string, s: unknown, bytes?: number): Buffer {
  if (typeof s !== 'string' || !/^([0-9a-f]{2})+$/i.test(s)) throw new Error(`${name}: expected hex`);
  const b = Buffer.from(s, 'hex');
  if (bytes !== undefined && b.length !== bytes) throw new Error(`${name}: expected ${bytes} bytes, got ${b.length}`);
  return b;
}

async function main(file: string): Promise<void> {
  const cfg = JSON.parse(readFileSync(file, 'utf8')) as StaticPeerConfig;
  const keys = {
    spiIn: hexBuf('spiIn', cfg.spiIn, 4), spiOut: hexBuf('spiOut', cfg.spiOut, 4),
    keyIn: hexBuf('keyIn', cfg.keyIn), keyOut: hexBuf('keyOut', cfg.keyOut),
  };
  const tun = TunDevice.open({ name: cfg.tun, mtu: cfg.mtu ?? 1400, up: true });
  const udp = await UdpTransport.open({ bindAddress: cfg.bindAddress ?? '0.0.0.0', ikePort: null, natTPort: cfg.port ?? 4500 });
  const dp = new DataPlane({ tun, udp, onRekeyNeeded: (spi, why) => log.warn('rekey-needed', { spi: spi.toString('hex'), why }) });
  dp.installChild({
    ikeId: 'static', ...keys, aead: cfg.aead, esn: cfg.esn ?? false,
    localTs: cfg.localSubnets.map(selectorFromCidr), remoteTs: cfg.remoteSubnets.map(selectorFromCidr),
    local: { address: cfg.bindAddress ?? '0.0.0.0', port: udp.natTPort }, remote: cfg.remote,
  });
  udp.onEsp = (pkt, from) => dp.onEsp(pkt, from);
  tun.onError((e) => log.error('tun-read-failed', { code: e.code, message: e.message }));
  tun.onPackets((batch) => dp.onTunPackets(batch));
  await addRoutes(tun.name, cfg.remoteSubnets, cfg.routeSrc ? { src: cfg.routeSrc } : {});

  const status = () => {
    const cpu = process.cpuUsage();
    process.stdout.write(`status ${JSON.stringify({ dataplane: dp.status(), udp: udp.counters, cpuMicros: cpu.user + cpu.system })}\n`);
  };
  process.on('SIGUSR1', status);
  process.once('SIGTERM', () => {
    status();
    tun.close(); // its routes go with it
    udp.close();
    process.exitCode = 0;
  });
  process.stdout.write('ready\n');
}

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node --import tsx test/lib/static-peer.ts keys.json\n');
  process.exit(2);
}
main(file).catch((e: unknown) => {
  process.stderr.write(`static-peer: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
