// The running box: the config in force, the tunnel built from it, the control socket, and an
// event stream other parts (health reporting, the serial console) subscribe to. A new config is
// applied live, restarting only the parts whose sections changed.
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import type { ResolvedConfig } from './config/schema.ts';
import { STATUS_MODEL_VERSION, type HealthLinkStatus, type StatusModel } from './cli/status-model.ts';
import { ControlServer } from './gateway/control.ts';
import { policyFromConfig } from './gateway/policy-from-config.ts';
import { busyPollFromEnv } from './gateway/udp.ts';
import { Tunnel } from './gateway/tunnel.ts';
import { tunnelMtuForProposals, wanMtu } from './gateway/tunnel-mtu.ts';
import type { IkeEvent } from './ike/actions.ts';
import { logger } from './log.ts';
import { CertExpiryWatch } from './pki/expiry.ts';
import { credentials } from './pki/trust.ts';

export const FIRMWARE_VERSION = '0.1.0';

export interface DaemonOptions {
  /** The config file in force (commits from the console write here, with its last-known-good copy). */
  configPath: string;
  controlSocket: string;
  tunName: string;
}

export type DaemonEvent =
  | { type: 'tunnel'; event: IkeEvent }
  | { type: 'config-applied'; sections: string[] }
  | { type: 'config-rolled-back'; reason: string };

export class Daemon extends EventEmitter<{ event: [DaemonEvent] }> {
  readonly startedAt = Date.now();
  private tunnel?: Tunnel;
  private control?: ControlServer;
  private readonly log = logger('outpost');
  /** Our certificate's expiry (status, warnings) when the tunnel uses certificates. */
  private certWatch?: CertExpiryWatch;
  /** Filled in by the health reporter when it runs. */
  healthStatus: () => HealthLinkStatus = () => ({ broker: this.config.health?.broker ?? null, connected: false, lastPublishSeconds: null });
  /** Runs before each tunnel start (the board addresses the LAN: routes need their source address). */
  beforeTunnel: (config: ResolvedConfig) => Promise<void> = async () => {};

  constructor(public config: ResolvedConfig, readonly opts: DaemonOptions) {
    super();
  }

  async start(): Promise<void> {
    // The control socket first: `outpost status` answers while the tunnel is still coming up.
    this.control = new ControlServer({ path: this.opts.controlSocket });
    this.control.handle('status', () => this.status());
    await this.control.listen();
    await this.startTunnel();
    this.log.info('running', { device: this.config.device.id, version: FIRMWARE_VERSION });
  }

  /** Registers another control-socket command (the console and tools use these). */
  handle(cmd: string, fn: (args: unknown) => unknown): void {
    this.control?.handle(cmd, fn);
  }

  /** Applies a validated config; returns the sections that changed. */
  async applyConfig(next: ResolvedConfig): Promise<string[]> {
    const changed = (['device', 'lan', 'tunnel', 'health', 'console', 'board'] as const).filter((k) => !isDeepStrictEqual(this.config[k], next[k]));
    this.config = next;
    if (changed.includes('tunnel') || changed.includes('lan')) {
      await this.tunnel?.stop();
      await this.startTunnel();
    }
    this.emit('event', { type: 'config-applied', sections: changed });
    return changed;
  }

  /** A committed change was undone (unconfirmed `commit confirmed`): the fleet hears of it. */
  reportRollback(reason: string): void {
    this.emit('event', { type: 'config-rolled-back', reason });
  }

  /** Round trip to HQ measured by dead peer detection, for health reports. */
  rtt(): { ms: number; source: 'dpd' } | null {
    const ms = this.tunnel?.rttMs() ?? null;
    return ms === null ? null : { ms, source: 'dpd' };
  }

  status(): StatusModel {
    return {
      version: STATUS_MODEL_VERSION, deviceId: this.config.device.id, firmwareVersion: FIRMWARE_VERSION,
      uptimeSeconds: Math.floor((Date.now() - this.startedAt) / 1000),
      tunnel: this.tunnel?.status() ?? { name: 'hq', state: 'down', local: null, remote: null, nat: { local: false, remote: false }, ikeSa: null, childSas: [], lastError: null },
      health: this.healthStatus(),
      ...(this.certWatch ? { certificate: this.certWatch.status() } : {}),
    };
  }

  /** How long the engine's next timer is overdue (ms; 0 when on time or none is armed): the
   *  watchdog's sign that the tunnel manager is still ticking. */
  tunnelOverdueMs(now = Date.now()): number {
    const at = this.tunnel?.engine.nextDeadline();
    return at === undefined ? 0 : Math.max(0, now - at);
  }

  async stop(): Promise<void> {
    this.certWatch?.stop();
    await this.tunnel?.stop();
    await this.control?.close();
  }

  private async startTunnel(): Promise<void> {
    const cfg = this.config;
    const policy = policyFromConfig(cfg);
    this.certWatch?.stop();
    this.certWatch = policy.auth?.kind === 'cert' ? new CertExpiryWatch(credentials(policy.auth).own).start() : undefined;
    await this.beforeTunnel(cfg);
    // The tunnel MTU: the WAN interface's MTU less ESP-in-UDP overhead for the ESP proposals
    // (OUTPOST_TUN_MTU overrides the TUN's own, e.g. to test Outpost's ICMP answers).
    const remote = cfg.tunnel.remote;
    const wan = await wanMtu(isIP(remote) ? remote : undefined);
    const innerMtu = tunnelMtuForProposals(wan.mtu, cfg.tunnel.esp, isIP(remote) === 6 ? 6 : 4);
    const forced = Number(process.env.OUTPOST_TUN_MTU);
    const tunMtu = Number.isInteger(forced) && forced >= 576 && forced <= 65535 ? forced : innerMtu;
    this.log.info('mtu', { wanDev: wan.dev, wanMtu: wan.mtu, tunnelMtu: innerMtu, tunMtu });
    const tunnel = new Tunnel({
      name: 'hq', policy, remote: cfg.tunnel.remote, tunName: this.opts.tunName, tunMtu, innerMtu,
      remoteSubnets: cfg.tunnel.remoteSubnets, routeSrc: cfg.lan.address.split('/')[0]!, localIdText: cfg.tunnel.localId,
      busyPollMicros: busyPollFromEnv(),
    });
    tunnel.on('event', (e) => this.emit('event', { type: 'tunnel', event: e }));
    this.tunnel = tunnel;
    await tunnel.start();
  }
}
