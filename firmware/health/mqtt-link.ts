// One broker connection kept alive: MQTT 3.1.1 over TCP or TLS, the retained "offline" status as
// last will, and reconnection with exponential backoff and jitter. MQTT.js's own reconnect is
// off (it retries at a fixed period): every attempt is a fresh client, so nothing it buffered
// for a dead connection is replayed behind our back; the reporter re-sends what was not acked.
// The password goes to the broker and nowhere else: it is never logged or put in an error.
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from '../log.ts';
import { Backoff } from './backoff.ts';

export interface LinkOptions {
  /** mqtt://host[:port] or mqtts://host[:port], validated by the config module (no credentials). */
  url: string;
  clientId: string;
  keepaliveSeconds: number;
  connectTimeoutMs: number;
  username?: string;
  password?: string;
  /** PEM contents (not paths): the broker CA, our certificate and key. */
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  will: { topic: string; payload: string };
  backoff: Backoff;
  log: Logger;
  onConnect: () => void;
  onDisconnect: () => void;
}

export interface PublishOptions {
  qos: 0 | 1;
  retain: boolean;
}

/** Why a connection attempt failed, in words a technician can act on. */
export function describeFailure(err: Error & { code?: unknown }): { kind: 'auth' | 'tls' | 'network' | 'protocol'; reason: string } {
  const code = err.code;
  if (code === 4 || code === 134) return { kind: 'auth', reason: 'broker rejected the user name or password' };
  // mosquitto answers a wrong password with "not authorized" (MQTT 3.1.1 code 5), so say both.
  if (code === 5 || code === 135) return { kind: 'auth', reason: 'broker refused the credentials (not authorized): check health.username and health.password' };
  if (typeof code === 'number') return { kind: 'protocol', reason: `broker refused the connection: ${err.message}` };
  if (typeof code === 'string' && /CERT|SELF_SIGNED|ALTNAME|TLS|SSL|ISSUER|SIGNATURE/.test(code)) {
    return { kind: 'tls', reason: `TLS: ${err.message} (${code})` };
  }
  if (/TLS|SSL|certificate/i.test(err.message)) return { kind: 'tls', reason: `TLS: ${err.message}` };
  return { kind: 'network', reason: typeof code === 'string' ? `${err.message} (${code})` : err.message };
}

export class MqttLink {
  connected = false;
  /** Successful connections after the first. */
  reconnects = 0;
  /** The last failure, for status; null once connected. */
  lastError: string | null = null;
  private client?: MqttClient;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private everConnected = false;
  private attempts = 0;

  constructor(private readonly o: LinkOptions) {}

  start(): void {
    this.attempt();
  }

  /** Publishes on the current connection; the callback gets an error if it fails or drops. */
  publish(topic: string, payload: string, opts: PublishOptions, cb: (err?: Error) => void): void {
    const c = this.client;
    if (!c || !this.connected) { cb(new Error('not connected')); return; }
    c.publish(topic, payload, { qos: opts.qos, retain: opts.retain }, (err) => cb(err ?? undefined));
  }

  /**
   * Ends the link. With `goodbye`, it is published (QoS 1) first and acked, waiting at most
   * `timeoutMs`, then the connection is closed cleanly (which discards the last will).
   */
  async stop(goodbye?: { topic: string; payload: string }, timeoutMs = 2000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    if (this.connected && goodbye) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        c.publish(goodbye.topic, goodbye.payload, { qos: 1, retain: true }, () => { clearTimeout(t); resolve(); });
      });
    }
    const wasConnected = this.connected;
    this.connected = false;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { c.end(true); resolve(); }, timeoutMs);
      c.end(!wasConnected, () => { clearTimeout(t); resolve(); });
    });
    if (wasConnected) this.o.onDisconnect();
  }

  private attempt(): void {
    if (this.stopped) return;
    this.attempts++;
    const o = this.o;
    const opts: IClientOptions = {
      clientId: o.clientId,
      protocolVersion: 4,
      clean: true,
      keepalive: o.keepaliveSeconds,
      connectTimeout: o.connectTimeoutMs,
      reconnectPeriod: 0,
      // We queue events ourselves (bounded); nothing is buffered while disconnected.
      queueQoSZero: false,
      will: { topic: o.will.topic, payload: Buffer.from(o.will.payload), qos: 1, retain: true },
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.ca ? { ca: o.ca } : {}),
      ...(o.cert ? { cert: o.cert } : {}),
      ...(o.key ? { key: o.key } : {}),
      rejectUnauthorized: true,
    };
    o.log.debug('connecting', { broker: o.url, clientId: o.clientId, attempt: this.attempts });
    let failure: Error | undefined;
    let done = false;
    const c = connect(o.url, opts);
    this.client = c;
    c.on('connect', () => {
      if (this.client !== c) return;
      this.connected = true;
      this.lastError = null;
      if (this.everConnected) this.reconnects++;
      this.everConnected = true;
      this.attempts = 0;
      o.backoff.reset();
      o.log.info('connected', { broker: o.url, clientId: o.clientId, tls: o.url.startsWith('mqtts:') });
      o.onConnect();
    });
    c.on('error', (err: Error) => { failure ??= err; });
    c.on('close', () => {
      if (done || this.client !== c) return;
      done = true;
      const wasConnected = this.connected;
      this.connected = false;
      c.removeAllListeners('connect');
      c.end(true);
      if (wasConnected) o.onDisconnect();
      if (this.stopped) return;
      const delay = o.backoff.next();
      const why = failure ? describeFailure(failure) : { kind: 'network' as const, reason: 'connection closed' };
      this.lastError = why.reason;
      const fields = { broker: o.url, reason: why.reason, retryInSeconds: Math.round(delay / 100) / 10 };
      if (wasConnected) o.log.warn('disconnected', fields);
      else if (why.kind === 'auth') o.log.error('auth-rejected', { ...fields, username: o.username ?? null });
      else o.log.warn('connect-failed', fields);
      this.timer = setTimeout(() => this.attempt(), delay);
    });
  }
}
