// Network namespaces for tests: unique names per run, addresses the test assigns itself,
// cleanup in `finally`, and only processes we started are ended (by PID).
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';

export function have(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (existsSync(`${dir}/${cmd}`)) return true;
  }
  return false;
}

/** Skips loudly (never silently) when the test cannot run here; CI provides root and packages. */
export function requireEnv(t: TestContext, opts: { root?: boolean; cmds?: string[]; files?: string[] }): boolean {
  const missing: string[] = [];
  if (opts.root && process.getuid?.() !== 0) missing.push('root');
  for (const c of opts.cmds ?? []) if (!have(c)) missing.push(c);
  for (const f of opts.files ?? []) if (!existsSync(f)) missing.push(f);
  if (missing.length === 0) return true;
  const msg = `SKIPPED: needs ${missing.join(', ')} (run .ci/run or install them)`;
  process.stderr.write(`\n!!!!!!!! ${t.name}: ${msg} !!!!!!!!\n\n`);
  t.skip(msg);
  return false;
}

export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

export class Netns {
  constructor(readonly name: string) {}
  /** Runs a command inside the namespace and returns its stdout; throws with stderr on failure. */
  run(cmd: string, ...args: string[]): string {
    try {
      return sh('ip', ['netns', 'exec', this.name, cmd, ...args]);
    } catch (e: any) {
      throw new Error(`[${this.name}] ${cmd} ${args.join(' ')} failed: ${e.stderr || e.message}`);
    }
  }
  ip(...args: string[]): string { return this.run('ip', ...args); }
  spawn(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  }
}

/** A set of namespaces created for one test; `destroy()` removes them and kills what we spawned. */
export class Lab {
  readonly tag = `op${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
  readonly spaces: Netns[] = [];
  readonly procs: ChildProcess[] = [];
  private links = 0;

  ns(role: string): Netns {
    const n = new Netns(`${this.tag}-${role}`);
    sh('ip', ['netns', 'add', n.name]);
    this.spaces.push(n);
    n.ip('link', 'set', 'lo', 'up');
    return n;
  }

  /** A veth pair between two namespaces, addressed and up. Returns the interface names. */
  link(a: Netns, aAddr: string, b: Netns, bAddr: string, mtu?: number): [string, string] {
    const i = this.links++;
    const an = `v${i}a`, bn = `v${i}b`;
    sh('ip', ['link', 'add', `${this.tag}${i}a`, 'netns', a.name, 'type', 'veth', 'peer', 'name', `${this.tag}${i}b`, 'netns', b.name]);
    a.ip('link', 'set', `${this.tag}${i}a`, 'name', an);
    b.ip('link', 'set', `${this.tag}${i}b`, 'name', bn);
    for (const [n, ifn, addr] of [[a, an, aAddr], [b, bn, bAddr]] as const) {
      n.ip('addr', 'add', addr, 'dev', ifn);
      if (mtu) n.ip('link', 'set', ifn, 'mtu', String(mtu));
      n.ip('link', 'set', ifn, 'up');
    }
    return [an, bn];
  }

  track(p: ChildProcess): ChildProcess { this.procs.push(p); return p; }

  async destroy(): Promise<void> {
    for (const p of this.procs) {
      if (p.exitCode === null && p.signalCode === null && p.pid) {
        const done = new Promise((r) => p.once('exit', r));
        try { process.kill(p.pid, 'SIGTERM'); } catch {}
        const t = setTimeout(() => { try { process.kill(p.pid!, 'SIGKILL'); } catch {} }, 3000);
        await done;
        clearTimeout(t);
      }
    }
    for (const n of this.spaces.reverse()) {
      try { sh('ip', ['netns', 'del', n.name]); } catch {}
    }
  }
}

/** Resolves when `pred(line)` matches a line of the child's stdout or stderr. */
export function waitForLine(p: ChildProcess, pred: (line: string) => boolean, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (pred(line)) { cleanup(); resolve(line); return; }
      }
    };
    const onExit = (code: number | null) => { cleanup(); reject(new Error(`process exited (${code}) before ${what}`)); };
    const cleanup = () => { p.stdout?.off('data', onData); p.stderr?.off('data', onData); p.off('exit', onExit); };
    p.stdout?.on('data', onData);
    p.stderr?.on('data', onData);
    p.on('exit', onExit);
  });
}

/** Rejects with "timed out after MS ms waiting for WHAT" if `p` has not settled by then. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms); });
  return Promise.race([p, bound]).finally(() => clearTimeout(t));
}
