// A real strongSwan peer for interop tests: one charon per namespace, each with its own state
// directory, strongswan.conf, swanctl.conf, vici socket and log file.
//
// Facts this module is built around (see DESIGN.md):
// - The kernel here has no ESP/GCM, so charon uses kernel-libipsec (userspace ESP via a TUN
//   device `ipsec0`) and ESP always travels in UDP 4500 (`encap = yes`).
// - Debian's charon writes /run/charon.pid, so each charon gets a private /run: `ip netns exec`
//   gives it a private mount namespace and we bind-mount STATE/run over /run in it.
// - Readiness and state changes are awaited through events (the vici socket appearing, the log
//   file growing), never fixed sleeps; every wait has a bound and fails with the log tail.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync, watch, rmSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Netns } from './netns.ts';

export const CHARON_BIN = '/usr/lib/ipsec/charon';

/**
 * Plugins charon loads (order matters: kernel-libipsec must come before kernel-netlink so it
 * is the IPsec backend while kernel-netlink stays the networking backend for addresses/routes).
 * openssl provides AES-GCM, ChaCha20-Poly1305, X25519/ECP groups, SHA-2/HMAC, ECDSA/Ed25519/RSA
 * and the RNGs; kdf provides IKEv2's PRF+; pem/pkcs1/pkcs8/x509/pubkey parse keys and
 * certificates (for certificate tests); gcm/aes/sha2/hmac/chapoly/curve25519 are redundant next
 * to openssl. No updown (libipsec installs its own routes) and no resolve (no DNS changes).
 */
export const DEFAULT_PLUGINS = [
  'random', 'nonce', 'openssl', 'kdf', 'pem', 'pkcs1', 'pkcs8', 'x509', 'pubkey',
  'kernel-libipsec', 'kernel-netlink', 'socket-default', 'vici',
];

/**
 * The measured minimum for PSK with AES-GCM/ChaCha20-Poly1305 and X25519: without `nonce`
 * charon aborts ("failed to load 1 critical plugin feature"); without `kdf` IKE_SA_INIT fails
 * with "KDF_PRF with PRF_HMAC_SHA2_256 not supported" (5.9.8's openssl plugin has no PRF+ KDF).
 * `random` is optional (openssl provides the RNGs); the key/certificate parsers are needed only
 * for certificate authentication.
 */
export const MINIMAL_PSK_PLUGINS = ['nonce', 'openssl', 'kdf', 'kernel-libipsec', 'kernel-netlink', 'socket-default', 'vici'];

/** Plugins swanctl itself needs to parse swanctl.conf credentials (keys, certificates). */
export const SWANCTL_PLUGINS = ['random', 'openssl', 'pem', 'pkcs1', 'pkcs8', 'x509', 'pubkey'];

export interface CharonOptions {
  /** Label used in error messages and the state directory name. */
  name: string;
  /** Contents of swanctl.conf (see siteToSiteConf). */
  swanctlConf: string;
  /** Plugin load list; DEFAULT_PLUGINS if omitted. */
  plugins?: string[];
  /** Extra strongswan.conf text placed inside `charon { ... }`. */
  charonSettings?: string;
  /** Log levels per subsystem for the filelog (merged over the defaults). */
  logLevels?: Record<string, number>;
  /** Extra files to place in the swanctl dir, path relative to it (e.g. 'x509/hq.pem'). */
  files?: Record<string, string | Buffer>;
  /** Bound for startup and for each swanctl call, ms. */
  timeoutMs?: number;
}

export interface ChildSa {
  /** The CHILD_SA config name (e.g. "net"). */
  name: string;
  uniqueid: string;
  state: string;
  mode?: string;
  protocol?: string;
  encap: boolean;
  spiIn?: string;
  spiOut?: string;
  encrAlg?: string;
  encrKeysize?: number;
  integAlg?: string;
  dhGroup?: string;
  bytesIn: number;
  packetsIn: number;
  bytesOut: number;
  packetsOut: number;
  rekeyTime?: number;
  lifeTime?: number;
  installTime?: number;
  localTs: string[];
  remoteTs: string[];
}

export interface IkeSa {
  /** The connection name (e.g. "hq"). */
  name: string;
  uniqueid: string;
  state: string;
  initiator: boolean;
  localHost?: string;
  localPort?: number;
  remoteHost?: string;
  remotePort?: number;
  localId?: string;
  remoteId?: string;
  initiatorSpi?: string;
  responderSpi?: string;
  natRemote: boolean;
  natLocal: boolean;
  natFake: boolean;
  /** Any NAT seen or faked (encap = yes fakes one): ESP then travels in UDP 4500. */
  natAny: boolean;
  encrAlg?: string;
  encrKeysize?: number;
  prfAlg?: string;
  dhGroup?: string;
  established?: number;
  rekeyTime?: number;
  children: ChildSa[];
  /** The raw vici section, for fields not mapped above. */
  raw: VSection;
}

export type VValue = string | string[] | VSection;
export interface VSection { [key: string]: VValue }

const DEFAULT_LOG_LEVELS: Record<string, number> = {
  default: 1, ike: 2, cfg: 2, knl: 1, esp: 1, lib: 1, net: 1, enc: 0, chd: 2, mgr: 1, job: 1,
};

// Charons still running when the test process exits (an uncaught error, process.exit, a closed
// stdout, the test runner or `timeout` sending a signal) would outlive it, so they are
// SIGKILLed by PID on the way out. A signal is re-raised afterwards with its default action.
const live = new Set<number>();
const killLive = () => { for (const pid of live) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } } live.clear(); };
process.once('exit', killLive);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    killLive();
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  });
}

/** One strongSwan charon running in a namespace. */
export class Charon {
  readonly dir: string;
  readonly runDir: string;
  readonly swanctlDir: string;
  readonly confPath: string;
  readonly logPath: string;
  readonly viciPath: string;
  readonly viciUri: string;
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';
  private readonly timeoutMs: number;

  private constructor(readonly ns: Netns, readonly opts: CharonOptions) {
    this.timeoutMs = opts.timeoutMs ?? 15000;
    this.dir = mkdtempSync(join(tmpdir(), `outpost-charon-${opts.name}-`));
    this.runDir = join(this.dir, 'run');
    this.swanctlDir = join(this.dir, 'swanctl');
    this.confPath = join(this.dir, 'strongswan.conf');
    this.logPath = join(this.dir, 'charon.log');
    this.viciPath = join(this.dir, 'charon.vici');
    this.viciUri = `unix://${this.viciPath}`;
    mkdirSync(this.runDir);
    for (const sub of ['', 'conf.d', 'x509', 'x509ca', 'private', 'ecdsa', 'rsa', 'pkcs8', 'pubkey']) {
      mkdirSync(join(this.swanctlDir, sub), { recursive: true, mode: 0o700 });
    }
    writeFileSync(this.confPath, this.strongswanConf());
    this.setSwanctlConf(opts.swanctlConf);
    for (const [rel, data] of Object.entries(opts.files ?? {})) {
      writeFileSync(join(this.swanctlDir, rel), data, { mode: 0o600 });
    }
  }

  /**
   * Creates the state directory, starts charon in `ns` and resolves once it runs (vici socket
   * present, worker threads spawned). Does not load swanctl.conf: call loadAll().
   */
  static async start(ns: Netns, opts: CharonOptions): Promise<Charon> {
    const c = new Charon(ns, opts);
    try {
      await c.launch();
    } catch (e) {
      const err = c.withLog(e);
      await c.stop();
      c.cleanup();
      throw err;
    }
    return c;
  }

  /** Replaces swanctl.conf (call loadAll() afterwards to apply it). */
  setSwanctlConf(text: string): void {
    writeFileSync(join(this.swanctlDir, 'swanctl.conf'), text, { mode: 0o600 });
  }

  private strongswanConf(): string {
    const plugins = this.opts.plugins ?? DEFAULT_PLUGINS;
    const levels = { ...DEFAULT_LOG_LEVELS, ...this.opts.logLevels };
    const lv = Object.entries(levels).map(([k, v]) => `        ${k} = ${v}`).join('\n');
    return `# generated by test/lib/strongswan.ts for ${this.opts.name}
charon {
    load_modular = no
    load = ${plugins.join(' ')}
    # The IKE ports are per namespace, so the defaults are fine for two charons on one host.
    # Routes for libipsec: each installed CHILD_SA gets "REMOTE_TS dev ipsec0 src LOCAL_ADDR"
    # in table 220 (rule priority 220), which is what sends forwarded LAN traffic into the TUN
    # device; install_routes must stay on (the default) for that.
    install_routes = yes
    install_virtual_ip = yes
    # Keep retransmissions short so that tests against a dead peer finish quickly (about 7 s
    # in all). Keys repeated in charonSettings below override these.
    retransmit_tries = 3
    retransmit_timeout = 1.0
    retransmit_base = 1.4
    filelog {
        charon {
            path = ${this.logPath}
            time_format = %H:%M:%S
            time_add_ms = yes
            ike_name = yes
            append = yes
            flush_line = yes
${lv}
        }
    }
    syslog {
        # no syslog output from test daemons
        daemon {
            default = -1
        }
    }
    plugins {
        vici {
            socket = ${this.viciUri}
        }
        kernel-libipsec {
            # Only needed when the remote traffic selector contains the peer's own address.
            allow_peer_ts = no
        }
    }
${this.opts.charonSettings ?? ''}
}
swanctl {
    load = ${SWANCTL_PLUGINS.join(' ')}
    socket = ${this.viciUri}
}
`;
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, STRONGSWAN_CONF: this.confPath, SWANCTL_DIR: this.swanctlDir };
  }

  private async launch(): Promise<void> {
    rmSync(this.viciPath, { force: true });
    this.output = '';
    const from = fileSize(this.logPath);
    const inner = `mount --bind '${this.runDir}' /run && exec ${CHARON_BIN}`;
    const p = spawn('ip', ['netns', 'exec', this.ns.name, 'sh', '-c', inner], {
      env: this.env(), stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = p;
    // `ip netns exec` and `sh -c` both exec, so p.pid is charon's own PID.
    const keep = (d: Buffer) => { this.output = (this.output + d.toString()).slice(-20000); };
    p.stdout?.on('data', keep);
    p.stderr?.on('data', keep);
    if (p.pid) live.add(p.pid);
    this.exited = new Promise((r) => p.once('exit', () => { if (p.pid) live.delete(p.pid); r(); }));
    // The vici socket appears while plugins load, before charon may still abort (a missing
    // critical plugin feature); "spawning N worker threads" is logged once it really runs.
    await this.waitFor(() => isSocket(this.viciPath) && /\[JOB\] spawning \d+ worker threads/.test(this.logText(from)),
      'charon startup (vici socket and worker threads)', this.timeoutMs, this.dir);
  }

  get pid(): number | undefined { return this.proc?.pid; }
  get running(): boolean { return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null; }

  /** Runs swanctl against this charon's vici socket; throws with stderr and the log tail on failure. */
  async swanctl(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile('swanctl', [...args, '--uri', this.viciUri], { env: this.env(), timeout: this.timeoutMs, encoding: 'utf8' },
        (err, stdout, stderr) => {
          if (err) reject(this.withLog(new Error(`[${this.opts.name}] swanctl ${args.join(' ')} failed: ${stderr || err.message}\n${stdout}`)));
          else resolve(stdout);
        });
    });
  }

  /** Loads credentials and connections from this charon's swanctl.conf. */
  async loadAll(): Promise<string> {
    return this.swanctl('--load-all', '--noprompt', '--file', join(this.swanctlDir, 'swanctl.conf'));
  }

  /** Initiates a CHILD_SA (and its IKE_SA); waits for the result like swanctl does. */
  async initiate(child: string, ike?: string): Promise<string> {
    const args = ['--initiate', '--child', child];
    if (ike) args.push('--ike', ike);
    return this.swanctl(...args, '--timeout', String(Math.ceil(this.timeoutMs / 1000)));
  }

  /**
   * Deletes an IKE_SA (and its CHILD_SAs), waiting for the peer's answer; with `force` it is
   * removed at once without waiting (for a peer that is known to be gone or restarted).
   */
  async terminate(ike: string, opts: { force?: boolean } = {}): Promise<string> {
    if (opts.force) return this.swanctl('--terminate', '--ike', ike, '--force');
    return this.swanctl('--terminate', '--ike', ike, '--timeout', String(Math.ceil(this.timeoutMs / 1000)));
  }

  async rekeyChild(child: string): Promise<string> { return this.swanctl('--rekey', '--child', child); }
  async rekeyIke(ike: string): Promise<string> { return this.swanctl('--rekey', '--ike', ike); }

  /** Current IKE_SAs with their CHILD_SAs, parsed from `swanctl --list-sas --raw`. */
  async listSas(): Promise<IkeSa[]> {
    return parseListSas(await this.swanctl('--list-sas', '--raw'));
  }

  /** Resolves with the first IKE_SA/CHILD_SA pair where a CHILD_SA named `child` is INSTALLED. */
  async waitForChildUp(child: string, opts: { ike?: string; timeoutMs?: number } = {}): Promise<{ ike: IkeSa; child: ChildSa }> {
    let found: { ike: IkeSa; child: ChildSa } | undefined;
    await this.waitForState(async () => {
      for (const ike of await this.listSas()) {
        if (opts.ike && ike.name !== opts.ike) continue;
        const c = ike.children.find((x) => x.name === child && x.state === 'INSTALLED');
        if (c && ike.state === 'ESTABLISHED') { found = { ike, child: c }; return true; }
      }
      return false;
    }, `CHILD_SA ${child} INSTALLED`, opts.timeoutMs);
    return found!;
  }

  /** Resolves when no IKE_SA named `ike` exists any more. */
  async waitForIkeGone(ike: string, opts: { timeoutMs?: number } = {}): Promise<void> {
    await this.waitForState(async () => !(await this.listSas()).some((s) => s.name === ike), `IKE_SA ${ike} gone`, opts.timeoutMs);
  }

  /**
   * Re-evaluates `check` each time charon logs something new (every SA state change, packet
   * and kernel event is logged), up to a deadline. No fixed sleeps: the log growing is the
   * event. Lines about vici clients are ignored, since the check itself (swanctl) causes them.
   */
  async waitForState(check: () => Promise<boolean>, what: string, timeoutMs = this.timeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const from = fileSize(this.logPath);
      if (await check()) return;
      const left = deadline - Date.now();
      if (left <= 0) throw this.withLog(new Error(`[${this.opts.name}] timed out after ${timeoutMs} ms waiting for ${what}`));
      try {
        await this.waitFor(() => this.logText(from).split('\n').some(isEventLine), what, left, this.dir);
      } catch (e) {
        if (!this.running) throw this.withLog(e);
        /* timed out: the loop checks once more and then reports with the log */
      }
    }
  }

  /** Resolves with the first log line (from `fromOffset`, default the current end) matching `re`. */
  async waitForLog(re: RegExp, opts: { fromOffset?: number; timeoutMs?: number } = {}): Promise<string> {
    const from = opts.fromOffset ?? fileSize(this.logPath);
    let line: string | undefined;
    await this.waitFor(() => {
      line = this.logText(from).split('\n').find((l) => re.test(l));
      return line !== undefined;
    }, `log line ${re}`, opts.timeoutMs ?? this.timeoutMs, this.dir);
    return line!;
  }

  /** Byte offset of the end of the log, for waitForLog({ fromOffset }). */
  logOffset(): number { return fileSize(this.logPath); }

  /** The charon log (from a byte offset), plus anything charon printed on stdout/stderr. */
  logText(fromOffset = 0): string {
    if (!existsSync(this.logPath)) return this.output;
    const size = fileSize(this.logPath);
    if (fromOffset >= size) return '';
    const fd = openSync(this.logPath, 'r');
    try {
      const buf = Buffer.alloc(size - fromOffset);
      readSync(fd, buf, 0, buf.length, fromOffset);
      return buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  }

  /** The last `lines` lines of the log, labelled, for failure reports. */
  logTail(lines = 60): string {
    const all = (this.logText() + (this.output ? `\n[stdout/stderr]\n${this.output}` : '')).trimEnd().split('\n');
    return `----- charon ${this.opts.name} (${this.ns.name}) log tail: ${this.logPath} -----\n${all.slice(-lines).join('\n')}\n-----`;
  }

  /** Sends a signal to the charon we started (e.g. 'SIGKILL' to simulate a crash) and waits for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 5000): Promise<void> {
    if (!this.running || !this.proc?.pid) return;
    try { process.kill(this.proc.pid, signal); } catch { return; }
    let t: NodeJS.Timeout | undefined;
    const bounded = new Promise<boolean>((r) => { t = setTimeout(() => r(false), timeoutMs); });
    const ok = await Promise.race([this.exited.then(() => true), bounded]);
    clearTimeout(t);
    if (!ok) throw new Error(`[${this.opts.name}] charon pid ${this.proc.pid} did not exit after ${signal}`);
  }

  /** SIGTERM, then SIGKILL after a bound. Safe to call twice or after kill(). */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    try {
      await this.kill('SIGTERM', graceMs);
    } catch {
      await this.kill('SIGKILL', graceMs);
    }
  }

  /** Stops (gracefully, or not at all if already killed), starts again and reloads swanctl.conf. */
  async restart(opts: { load?: boolean } = {}): Promise<void> {
    await this.stop();
    try {
      await this.launch();
      if (opts.load ?? true) await this.loadAll();
    } catch (e) {
      await this.stop();
      throw this.withLog(e);
    }
  }

  /** Removes the state directory once charon has stopped; KEEP_CHARON_STATE=1 keeps it for debugging. */
  cleanup(): void {
    if (this.running || process.env.KEEP_CHARON_STATE === '1') return;
    rmSync(this.dir, { recursive: true, force: true });
  }

  private withLog(e: unknown): Error {
    const err = e instanceof Error ? e : new Error(String(e));
    if (!err.message.includes('log tail:')) err.message += `\n${this.logTail()}`;
    return err;
  }

  /** Waits until `cond()` holds, re-checking on changes in `dir` (inotify), bounded by `ms`. */
  private waitFor(cond: () => boolean, what: string, ms: number, dir: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (cond()) { resolve(); return; }
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        w.close();
        clearTimeout(t);
        this.proc?.off('exit', onExit);
        if (err) reject(err); else resolve();
      };
      const w = watch(dir, () => { if (cond()) finish(); });
      const t = setTimeout(() => finish(cond() ? undefined : new Error(`[${this.opts.name}] timed out after ${ms} ms waiting for ${what}`)), ms);
      const onExit = (code: number | null, sig: string | null) => finish(new Error(`[${this.opts.name}] charon exited (${code ?? sig}) while waiting for ${what}`));
      this.proc?.once('exit', onExit);
      // Covers a change between the first check and the watch being armed.
      if (cond()) finish();
    });
  }
}

/**
 * Runs `fn`; if it throws, prints every charon's log tail to stderr first, so a failing test
 * shows what the daemons saw.
 */
export async function withCharonLogs<T>(charons: readonly (Charon | undefined)[], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    for (const c of charons) if (c) process.stderr.write(`${c.logTail()}\n`);
    throw e;
  }
}

/** Stops every charon (by its PID), then removes their state directories. Never throws. */
export async function stopAll(charons: readonly (Charon | undefined)[]): Promise<void> {
  for (const c of charons) {
    if (!c) continue;
    try { await c.stop(); } catch (e) { process.stderr.write(`stopping charon: ${String(e)}\n`); }
    c.cleanup();
  }
}

/** A log line that may mean state changed: anything but vici client chatter. */
function isEventLine(l: string): boolean {
  return l.length > 0 && !/\[CFG\] vici client \d+ /.test(l);
}

function fileSize(p: string): number {
  try { return statSync(p).size; } catch { return 0; }
}

function isSocket(p: string): boolean {
  try { return statSync(p).isSocket(); } catch { return false; }
}

// ---------------------------------------------------------------------------------------------
// `swanctl --raw` output: each message is `NAME event {k=v sec {..} list=[a b]}` or
// `NAME reply {...}`. Values never contain spaces or braces in the fields we read.

/** Parses one vici message body in swanctl's raw notation, starting after the opening brace. */
export function parseRaw(text: string): { name: string; kind: string; body: VSection }[] {
  const out: { name: string; kind: string; body: VSection }[] = [];
  const toks = text.match(/\[|\]|\{|\}|[^\s{}\[\]]+/g) ?? [];
  let i = 0;
  const section = (): VSection => {
    const s: VSection = {};
    while (i < toks.length) {
      const t = toks[i++]!;
      if (t === '}') return s;
      if (toks[i] === '{') { i++; s[t] = section(); continue; }
      const eq = t.indexOf('=');
      if (eq < 0) throw new Error(`vici raw: unexpected token ${JSON.stringify(t)}`);
      const key = t.slice(0, eq), rest = t.slice(eq + 1);
      if (rest === '' && toks[i] === '[') {
        i++;
        const list: string[] = [];
        while (i < toks.length && toks[i] !== ']') list.push(toks[i++]!);
        i++;
        s[key] = list;
      } else {
        s[key] = rest;
      }
    }
    throw new Error('vici raw: unterminated section');
  };
  while (i < toks.length) {
    const name = toks[i++]!;
    const kind = toks[i++];
    if (toks[i++] !== '{' || kind === undefined) throw new Error(`vici raw: bad message header near ${name}`);
    out.push({ name, kind, body: section() });
  }
  return out;
}

const str = (s: VSection, k: string): string | undefined => (typeof s[k] === 'string' ? (s[k] as string) : undefined);
const num = (s: VSection, k: string): number | undefined => {
  const v = str(s, k);
  return v === undefined ? undefined : Number(v);
};
const list = (s: VSection, k: string): string[] => (Array.isArray(s[k]) ? (s[k] as string[]) : []);

export function parseListSas(text: string): IkeSa[] {
  const sas: IkeSa[] = [];
  for (const msg of parseRaw(text)) {
    if (msg.name !== 'list-sa') continue;
    for (const [name, v] of Object.entries(msg.body)) {
      if (typeof v !== 'object' || Array.isArray(v)) continue;
      const childSecs = (typeof v['child-sas'] === 'object' && !Array.isArray(v['child-sas']) ? v['child-sas'] : {}) as VSection;
      const children: ChildSa[] = [];
      for (const c of Object.values(childSecs)) {
        if (typeof c !== 'object' || Array.isArray(c)) continue;
        children.push({
          name: str(c, 'name') ?? '', uniqueid: str(c, 'uniqueid') ?? '', state: str(c, 'state') ?? '',
          mode: str(c, 'mode'), protocol: str(c, 'protocol'), encap: str(c, 'encap') === 'yes',
          spiIn: str(c, 'spi-in'), spiOut: str(c, 'spi-out'), encrAlg: str(c, 'encr-alg'),
          encrKeysize: num(c, 'encr-keysize'), integAlg: str(c, 'integ-alg'), dhGroup: str(c, 'dh-group'),
          bytesIn: num(c, 'bytes-in') ?? 0, packetsIn: num(c, 'packets-in') ?? 0,
          bytesOut: num(c, 'bytes-out') ?? 0, packetsOut: num(c, 'packets-out') ?? 0,
          rekeyTime: num(c, 'rekey-time'), lifeTime: num(c, 'life-time'), installTime: num(c, 'install-time'),
          localTs: list(c, 'local-ts'), remoteTs: list(c, 'remote-ts'),
        });
      }
      sas.push({
        name, uniqueid: str(v, 'uniqueid') ?? '', state: str(v, 'state') ?? '',
        initiator: str(v, 'initiator') === 'yes',
        localHost: str(v, 'local-host'), localPort: num(v, 'local-port'),
        remoteHost: str(v, 'remote-host'), remotePort: num(v, 'remote-port'),
        localId: str(v, 'local-id'), remoteId: str(v, 'remote-id'),
        initiatorSpi: str(v, 'initiator-spi'), responderSpi: str(v, 'responder-spi'),
        natRemote: str(v, 'nat-remote') === 'yes', natLocal: str(v, 'nat-local') === 'yes',
        natFake: str(v, 'nat-fake') === 'yes', natAny: str(v, 'nat-any') === 'yes',
        encrAlg: str(v, 'encr-alg'), encrKeysize: num(v, 'encr-keysize'), prfAlg: str(v, 'prf-alg'),
        dhGroup: str(v, 'dh-group'), established: num(v, 'established'), rekeyTime: num(v, 'rekey-time'),
        children, raw: v,
      });
    }
  }
  return sas;
}

// ---------------------------------------------------------------------------------------------
// swanctl.conf for the common case: PSK site-to-site, tunnel mode, UDP-encapsulated ESP.

export interface SiteToSiteOptions {
  /** Connection (IKE) name. */
  conn: string;
  /** CHILD_SA name; default 'net'. */
  child?: string;
  localAddrs: string;
  /** Peer address, or '%any' for a responder that accepts any. */
  remoteAddrs: string;
  localId: string;
  remoteId: string;
  psk: string;
  localTs: string[];
  remoteTs: string[];
  /** IKE proposals in strongSwan syntax; default aes256gcm16-prfsha256-x25519. */
  ike?: string[];
  /** ESP proposals; default aes256gcm16 (no PFS on the first CHILD_SA anyway). */
  esp?: string[];
  /** Force UDP encapsulation (required with kernel-libipsec here); default true. */
  encap?: boolean;
  /**
   * MOBIKE; default false. With it on, charon sends an INFORMATIONAL address update whenever
   * the namespace's addresses change (e.g. IPv6 DAD finishing on a fresh veth a second after
   * startup), which puts unpredictable IKE packets on the wire during tests.
   */
  mobike?: boolean;
  dpdDelay?: number;
  /** IKE_SA rekey time (s); 0 disables. */
  ikeRekeyTime?: number;
  /** IKE_SA reauth time (s); 0 (default) disables. */
  reauthTime?: number;
  /** CHILD_SA rekey time (s). */
  rekeyTime?: number;
  /** CHILD_SA hard life time (s). */
  lifeTime?: number;
  /** Extra (soft->hard) margin: rand_time; default 0 so rekeys happen when configured. */
  randTime?: number;
  startAction?: 'none' | 'start' | 'trap';
  dpdAction?: 'clear' | 'trap' | 'restart';
  closeAction?: 'none' | 'trap' | 'start';
  /** Extra lines inside the connection section. */
  extraConn?: string;
  /** Extra lines inside the child section. */
  extraChild?: string;
}

const hex = (s: string) => '0x' + Buffer.from(s, 'utf8').toString('hex');

export function siteToSiteConf(o: SiteToSiteOptions): string {
  const child = o.child ?? 'net';
  const opt = (k: string, v: unknown, ind: string) => (v === undefined ? '' : `${ind}${k} = ${v}\n`);
  return `connections {
    ${o.conn} {
        version = 2
        local_addrs = ${o.localAddrs}
        remote_addrs = ${o.remoteAddrs}
        encap = ${o.encap === false ? 'no' : 'yes'}
        proposals = ${(o.ike ?? ['aes256gcm16-prfsha256-x25519']).join(',')}
        mobike = ${o.mobike ? 'yes' : 'no'}
${opt('dpd_delay', o.dpdDelay === undefined ? undefined : `${o.dpdDelay}s`, '        ')}${opt('rekey_time', o.ikeRekeyTime === undefined ? undefined : `${o.ikeRekeyTime}s`, '        ')}        reauth_time = ${o.reauthTime ?? 0}s
        rand_time = ${o.randTime ?? 0}s
        local {
            auth = psk
            id = ${o.localId}
        }
        remote {
            auth = psk
            id = ${o.remoteId}
        }
        children {
            ${child} {
                mode = tunnel
                local_ts = ${o.localTs.join(',')}
                remote_ts = ${o.remoteTs.join(',')}
                esp_proposals = ${(o.esp ?? ['aes256gcm16']).join(',')}
                rand_time = ${o.randTime ?? 0}s
${opt('rekey_time', o.rekeyTime === undefined ? undefined : `${o.rekeyTime}s`, '                ')}${opt('life_time', o.lifeTime === undefined ? undefined : `${o.lifeTime}s`, '                ')}${opt('start_action', o.startAction, '                ')}${opt('dpd_action', o.dpdAction, '                ')}${opt('close_action', o.closeAction, '                ')}${o.extraChild ?? ''}
            }
        }
${o.extraConn ?? ''}
    }
}
secrets {
    ike-${o.conn} {
        id-local = ${o.localId}
        id-remote = ${o.remoteId}
        secret = ${hex(o.psk)}
    }
}
`;
}
