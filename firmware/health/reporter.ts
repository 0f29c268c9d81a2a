// The health reporter: publishes this box's state to the fleet broker under
// outpost/<device-id>/ — "status" (retained online/offline, offline being the last will),
// "health" every intervalSeconds, "events" as things happen. See docs/mqtt.md.
//
// Delivery rules:
// - events go out QoS 1, in order, and stay in a bounded queue until the broker acks them;
//   while the broker is away they wait there (oldest dropped and counted past capacity) and
//   go out when it is back;
// - health is QoS 0 and never queued: only the latest matters, so while disconnected nothing
//   is kept and a fresh snapshot goes out as soon as the connection is back;
// - the retained status says "online" on every connect and "offline" on a clean stop; when the
//   box dies or loses its link the broker publishes the last will, "offline" too.
import { readFile } from 'node:fs/promises';
import type { HealthLinkStatus, StatusModel } from '../cli/status-model.ts';
import type { ResolvedConfig } from '../config/schema.ts';
import type { DaemonEvent } from '../daemon.ts';
import { logger, type Logger } from '../log.ts';
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.ts';
import { certFiles, DEFAULT_CERT_WARN_DAYS, findExpiring } from './cert-expiry.ts';
import { EventQueue } from './event-queue.ts';
import { EventTranslator } from './event-translator.ts';
import { MqttLink } from './mqtt-link.ts';
import {
  buildEvent, buildHealth, buildOffline, buildOnline, isoTime, topics,
  type EventBody, type Identity, type OfflineReason, type PendingEvent,
} from './payloads.ts';
import { readBootTime, SystemMetricsReader } from './system-metrics.ts';
import { TrafficAccumulator } from './traffic-totals.ts';

/** What the reporter watches: the Daemon fits this. */
export interface HealthSource {
  readonly config: Pick<ResolvedConfig, 'device' | 'tunnel' | 'health'>;
  readonly startedAt: number;
  status(): StatusModel;
  on(event: 'event', fn: (e: DaemonEvent) => void): unknown;
  off(event: 'event', fn: (e: DaemonEvent) => void): unknown;
}

export interface ReporterOptions {
  firmwareVersion: string;
  /** MQTT keepalive; the broker publishes the last will after 1.5x this without a word. Default 30. */
  keepaliveSeconds?: number;
  connectTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** Events kept while the broker is away. Default 500. */
  queueCapacity?: number;
  /** Events published but not yet acked at once. Default 16. */
  inflight?: number;
  /** Round trip to HQ, when something measures it; null otherwise. */
  rtt?: () => { ms: number; source: 'dpd' | 'tunnel' } | null;
  metrics?: SystemMetricsReader;
  certWarnDays?: number;
  certCheckIntervalMs?: number;
  now?: () => number;
  log?: Logger;
}

export const DEFAULT_QUEUE_CAPACITY = 500;
const DAY_MS = 86_400_000;

export class HealthReporter {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly queue: EventQueue<PendingEvent>;
  private readonly translator = new EventTranslator();
  private readonly traffic = new TrafficAccumulator();
  private readonly metrics: SystemMetricsReader;
  private readonly listener = (e: DaemonEvent) => this.onDaemonEvent(e);
  private link?: MqttLink;
  private identity?: Identity;
  private healthTimer: NodeJS.Timeout | undefined;
  private certTimer: NodeJS.Timeout | undefined;
  private started = false;
  /** Bumped on every connect and disconnect: callbacks from an older connection are ignored. */
  private conn = 0;
  private cursor = 0;
  private inflight = 0;
  private droppedReported = 0;
  private lastPublishAt: number | null = null;
  private healthBusy = false;
  private reconnectsBefore = 0;
  /** Serializes link restarts (config changes may come quickly). */
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly source: HealthSource, private readonly opts: ReporterOptions) {
    this.log = opts.log ?? logger('health');
    this.now = opts.now ?? Date.now;
    this.queue = new EventQueue(opts.queueCapacity ?? DEFAULT_QUEUE_CAPACITY);
    this.metrics = opts.metrics ?? new SystemMetricsReader();
  }

  /** Starts watching the daemon; connects if the config has a health section. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.source.on('event', this.listener);
    // The tunnel may have come up before we subscribed.
    try {
      for (const body of this.translator.seed(this.source.status().tunnel)) this.enqueue(body);
    } catch (err) {
      this.log.debug('no-status-yet', { reason: (err as Error).message });
    }
    this.certTimer = setInterval(() => void this.checkCertificates(), this.opts.certCheckIntervalMs ?? DAY_MS);
    this.certTimer.unref();
    await this.serialized(() => this.startLink());
    void this.checkCertificates();
  }

  /** Says "offline" (reason shutdown) and disconnects. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.source.off('event', this.listener);
    clearInterval(this.certTimer);
    await this.serialized(() => this.stopLink('shutdown'));
  }

  /** The health or device section changed: reconnect with the config now in force. */
  reconfigure(): Promise<void> {
    return this.serialized(async () => {
      if (!this.started) return;
      await this.stopLink(this.source.config.health ? 'restart' : 'shutdown');
      await this.startLink();
    });
  }

  /** Queues an event that does not come through the daemon's stream (e.g. a config rollback). */
  report(body: EventBody): void {
    this.enqueue(body);
  }

  /** For `outpost status`. */
  linkStatus(): HealthLinkStatus {
    return {
      broker: this.source.config.health?.broker ?? null,
      connected: this.link?.connected ?? false,
      lastPublishSeconds: this.lastPublishAt === null ? null : Math.max(0, Math.floor((this.now() - this.lastPublishAt) / 1000)),
      lastError: this.link?.connected ? null : this.link?.lastError ?? null,
      eventsQueued: this.queue.size,
      eventsDropped: this.queue.dropped,
    };
  }

  /** Events waiting for the broker and dropped so far (for tests and status). */
  queueState(): { queued: number; dropped: number } {
    return { queued: this.queue.size, dropped: this.queue.dropped };
  }

  // ---- link lifecycle -------------------------------------------------------------------

  private serialized(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => {});
    return next;
  }

  private async startLink(): Promise<void> {
    const cfg = this.source.config;
    const h = cfg.health;
    if (!h) {
      this.log.info('disabled', { reason: 'no health section in the config' });
      return;
    }
    const id = cfg.device.id;
    this.identity = {
      deviceId: id, firmwareVersion: this.opts.firmwareVersion, board: (await this.metrics.read()).board,
      bootTime: await readBootTime(), startedAt: this.source.startedAt,
    };
    let files: { ca?: Buffer; cert?: Buffer; key?: Buffer };
    try {
      files = {
        ...(h.ca ? { ca: await readFile(h.ca) } : {}),
        ...(h.cert ? { cert: await readFile(h.cert) } : {}),
        ...(h.key ? { key: await readFile(h.key) } : {}),
      };
    } catch (err) {
      // The file may be provisioned later: a config change or restart picks it up.
      this.log.error('tls-files-unreadable', { reason: (err as Error).message });
      return;
    }
    const t = topics(id);
    const link = new MqttLink({
      url: h.broker, clientId: `outpost-${id}`,
      keepaliveSeconds: this.opts.keepaliveSeconds ?? 30, connectTimeoutMs: this.opts.connectTimeoutMs ?? 15_000,
      ...(h.username !== undefined ? { username: h.username } : {}),
      ...(h.password !== undefined ? { password: h.password } : {}),
      ...files,
      will: { topic: t.status, payload: JSON.stringify(buildOffline(this.identity, 'connection-lost')) },
      backoff: new Backoff(this.opts.backoff ?? DEFAULT_BACKOFF),
      log: this.log,
      onConnect: () => this.onConnect(),
      onDisconnect: () => this.onDisconnect(),
    });
    this.link = link;
    this.healthTimer = setInterval(() => void this.publishHealth(), h.intervalSeconds * 1000);
    this.healthTimer.unref();
    this.log.info('starting', { broker: h.broker, device: id, intervalSeconds: h.intervalSeconds, username: h.username ?? null });
    link.start();
  }

  private async stopLink(reason: OfflineReason): Promise<void> {
    clearInterval(this.healthTimer);
    const link = this.link;
    if (!link) return;
    this.reconnectsBefore += link.reconnects;
    this.link = undefined;
    const id = this.identity!;
    await link.stop({ topic: topics(id.deviceId).status, payload: JSON.stringify(buildOffline(id, reason, this.now())) });
    this.log.info('stopped', { reason });
  }

  private onConnect(): void {
    const link = this.link;
    if (!link) return;
    this.conn++;
    this.inflight = 0;
    this.cursor = 0;
    const id = this.identity!;
    link.publish(topics(id.deviceId).status, JSON.stringify(buildOnline(id, this.now())), { qos: 1, retain: true }, (err) => {
      if (err) this.log.warn('publish-failed', { topic: 'status', reason: err.message });
    });
    if (this.queue.dropped > this.droppedReported) {
      this.log.warn('events-dropped', { count: this.queue.dropped - this.droppedReported, capacity: this.queue.capacity });
      this.droppedReported = this.queue.dropped;
    }
    this.pump();
    void this.publishHealth();
  }

  private onDisconnect(): void {
    this.conn++;
    this.inflight = 0;
  }

  // ---- events ---------------------------------------------------------------------------

  private onDaemonEvent(e: DaemonEvent): void {
    for (const body of this.translator.translate(e)) this.enqueue(body);
  }

  private enqueue(body: EventBody): void {
    const before = this.queue.dropped;
    this.queue.push({ at: this.now(), body });
    if (this.queue.dropped > before) this.log.debug('event-dropped', { queued: this.queue.size, dropped: this.queue.dropped });
    this.pump();
  }

  /** Sends queued events in order, up to `inflight` unacked at a time; each leaves the queue on its ack. */
  private pump(): void {
    const link = this.link;
    if (!link?.connected || !this.identity) return;
    const max = this.opts.inflight ?? 16;
    const topic = topics(this.identity.deviceId).events;
    while (this.inflight < max) {
      const e = this.queue.firstFrom(this.cursor);
      if (!e) return;
      this.cursor = e.seq + 1;
      this.inflight++;
      const conn = this.conn;
      link.publish(topic, JSON.stringify(buildEvent(this.identity.deviceId, e.seq, e.item)), { qos: 1, retain: false }, (err) => {
        // A callback from a connection that is gone: its unacked events are sent again on the next one.
        if (conn !== this.conn) return;
        this.inflight--;
        if (err) { this.log.warn('publish-failed', { topic: 'events', seq: e.seq, reason: err.message }); return; }
        this.queue.remove(e.seq);
        this.pump();
      });
    }
  }

  // ---- health ---------------------------------------------------------------------------

  private async publishHealth(): Promise<void> {
    if (!this.link?.connected || this.healthBusy || !this.identity) return;
    this.healthBusy = true;
    try {
      const system = await this.metrics.read();
      const status = this.source.status();
      const link = this.link;
      if (!link?.connected) return;
      const payload = buildHealth(this.identity.deviceId, {
        status, system, traffic: this.traffic.update(status.tunnel.childSas), rekeys: this.translator.rekeys,
        rtt: this.opts.rtt?.() ?? null,
        reporting: { eventsQueued: this.queue.size, eventsDropped: this.queue.dropped, reconnects: this.reconnectsBefore + link.reconnects },
      }, this.now());
      link.publish(topics(this.identity.deviceId).health, JSON.stringify(payload), { qos: 0, retain: false }, (err) => {
        if (err) this.log.debug('publish-failed', { topic: 'health', reason: err.message });
        else this.lastPublishAt = this.now();
      });
    } catch (err) {
      this.log.error('health-failed', { reason: (err as Error).message });
    } finally {
      this.healthBusy = false;
    }
  }

  // ---- certificates ---------------------------------------------------------------------

  private async checkCertificates(): Promise<void> {
    try {
      const found = await findExpiring(certFiles(this.source.config), this.now(), this.opts.certWarnDays ?? DEFAULT_CERT_WARN_DAYS);
      for (const c of found) {
        this.log.warn('certificate-expiring', { file: c.file, subject: c.subject, notAfter: isoTime(c.notAfter), daysLeft: c.daysLeft });
        this.enqueue({ type: 'certificate-expiring', file: c.file, subject: c.subject, notAfter: isoTime(c.notAfter), daysLeft: c.daysLeft });
      }
    } catch (err) {
      this.log.warn('certificate-check-failed', { reason: (err as Error).message });
    }
  }
}
