// Runs the Outpost daemon (firmware/main.ts through tsx) inside a test namespace with a config
// file written to a temp dir; waits for events on its log, asks it for status, stops it by PID.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { waitForLine, type Lab, type Netns } from './netns.ts';
import { controlRequest } from '../../firmware/cli/control-client.ts';
import type { StatusModel } from '../../firmware/cli/status-model.ts';

const ROOT = resolve(import.meta.dirname, '../..');

export interface DaemonOptions {
  name: string;
  config: unknown;
  env?: Record<string, string>;
  tun?: string;
}

export class OutpostDaemon {
  readonly dir: string;
  readonly socket: string;
  readonly configPath: string;
  proc!: ChildProcess;
  output = '';

  constructor(readonly lab: Lab, readonly ns: Netns, readonly opts: DaemonOptions) {
    this.dir = mkdtempSync(join(tmpdir(), `outpost-${opts.name}-`));
    this.socket = join(this.dir, 'control.sock');
    this.configPath = join(this.dir, 'outpost.json');
    writeFileSync(this.configPath, JSON.stringify(opts.config, null, 2), { mode: 0o600 });
  }

  start(): this {
    const env = { ...process.env, OUTPOST_LOG_LEVEL: 'debug', OUTPOST_IKE_RETRANSMIT: '1000,1.5,3', ...this.opts.env };
    const args = ['env', ...Object.entries(env).filter(([k]) => k.startsWith('OUTPOST_')).map(([k, v]) => `${k}=${v}`),
      process.execPath, '--import', 'tsx', join(ROOT, 'firmware/main.ts'), '--config', this.configPath, '--control-socket', this.socket, '--tun', this.opts.tun ?? 'outpost0'];
    this.proc = this.lab.track(this.ns.spawn(args[0]!, args.slice(1), { cwd: ROOT }));
    const keep = (d: Buffer) => { this.output += d.toString(); if (this.output.length > 4_000_000) this.output = this.output.slice(-2_000_000); };
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
    return this;
  }

  /** Resolves on the first log line (from now on) matching `re`. */
  waitFor(re: RegExp, what = String(re)): Promise<string> {
    return waitForLine(this.proc, (l) => re.test(l), what);
  }

  async status(): Promise<StatusModel> {
    return (await controlRequest('status', undefined, { socketPath: this.socket })) as StatusModel;
  }

  async stop(): Promise<void> {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      const done = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      await done;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  tail(lines = 40): string {
    return this.output.split('\n').slice(-lines).join('\n');
  }
}

/** A branch config for the standard topology (test/lib/topology.ts). */
export function branchConfig(over: { ike?: string[]; esp?: string[]; psk?: string; remoteSubnets?: string[]; dpdSeconds?: number; childLifetimeSeconds?: number; ikeLifetimeSeconds?: number; remote?: string } = {}): unknown {
  return {
    device: { id: 'branch-test' },
    lan: { interface: 'v0b', address: '10.1.0.1/24' },
    tunnel: {
      remote: over.remote ?? '198.51.100.2', localId: 'branch.example.net', remoteId: 'hq.example.net',
      auth: { psk: over.psk ?? 'interop-test-psk-0123456789' },
      localSubnets: ['10.1.0.0/24'], remoteSubnets: over.remoteSubnets ?? ['10.2.0.0/24'],
      ...(over.ike ? { ike: over.ike } : {}), ...(over.esp ? { esp: over.esp } : {}),
      dpdSeconds: over.dpdSeconds ?? 30, ikeLifetimeSeconds: over.ikeLifetimeSeconds ?? 14400, childLifetimeSeconds: over.childLifetimeSeconds ?? 3600,
    },
  };
}
