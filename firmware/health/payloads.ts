// The JSON published under outpost/<device-id>/: status (retained), health, events. One builder
// per payload; pure (they take `now` and their inputs), so tests drive them with a fake clock.
// The shapes are the contract with dashboards: docs/schemas/*.schema.json describe them and
// docs/mqtt.md shows examples. Add fields freely; rename or remove only with a new `version`.
// Strings that come from the peer or the network are clipped, so a payload stays small.
import type { Endpoint, StatusModel } from '../cli/status-model.ts';
import type { SystemMetrics } from './system-metrics.ts';
import type { TrafficTotals } from './traffic-totals.ts';

export const PAYLOAD_VERSION = 1;
const MAX_TEXT = 256;

export function topics(deviceId: string): { status: string; health: string; events: string } {
  const base = `outpost/${deviceId}`;
  return { status: `${base}/status`, health: `${base}/health`, events: `${base}/events` };
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

export function clip(s: string, max = MAX_TEXT): string {
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

// ---- status ---------------------------------------------------------------------------------

/** Facts about this box that do not change while it runs. */
export interface Identity {
  deviceId: string;
  firmwareVersion: string;
  board: string;
  /** ms since the epoch: when the system booted, and when this daemon started. */
  bootTime: number;
  startedAt: number;
}

export interface StatusOnline {
  version: typeof PAYLOAD_VERSION;
  deviceId: string;
  state: 'online';
  /** When this connection to the broker was made. */
  time: string;
  firmwareVersion: string;
  board: string;
  bootTime: string;
  startedAt: string;
}

/** "connection-lost": the broker published our last will; "shutdown"/"restart": we said goodbye. */
export type OfflineReason = 'connection-lost' | 'shutdown' | 'restart';

export interface StatusOffline {
  version: typeof PAYLOAD_VERSION;
  deviceId: string;
  state: 'offline';
  reason: OfflineReason;
  /** When we went offline; absent in the last will (written at connect time, sent by the broker later). */
  time?: string;
  firmwareVersion: string;
  board: string;
  bootTime: string;
  startedAt: string;
}

export type StatusPayload = StatusOnline | StatusOffline;

export function buildOnline(id: Identity, now: number): StatusOnline {
  return {
    version: PAYLOAD_VERSION, deviceId: id.deviceId, state: 'online', time: isoTime(now),
    firmwareVersion: id.firmwareVersion, board: id.board, bootTime: isoTime(id.bootTime), startedAt: isoTime(id.startedAt),
  };
}

/** The last will when `now` is undefined; a goodbye with its time otherwise. */
export function buildOffline(id: Identity, reason: OfflineReason, now?: number): StatusOffline {
  return {
    version: PAYLOAD_VERSION, deviceId: id.deviceId, state: 'offline', reason, ...(now === undefined ? {} : { time: isoTime(now) }),
    firmwareVersion: id.firmwareVersion, board: id.board, bootTime: isoTime(id.bootTime), startedAt: isoTime(id.startedAt),
  };
}

// ---- health ---------------------------------------------------------------------------------

export interface HealthChildSa {
  spiIn: string;
  spiOut: string;
  algorithms: string;
  localTs: string[];
  remoteTs: string[];
  ageSeconds: number;
  rekeySeconds: number | null;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  drops: Record<string, number>;
}

export interface HealthPayload {
  version: typeof PAYLOAD_VERSION;
  deviceId: string;
  time: string;
  firmwareVersion: string;
  /** Seconds since the daemon started. */
  uptimeSeconds: number;
  tunnel: {
    name: string;
    state: 'down' | 'connecting' | 'up';
    local: Endpoint | null;
    remote: Endpoint | null;
    ikeSa: { role: 'initiator' | 'responder'; remoteId: string; algorithms: string; ageSeconds: number; rekeySeconds: number | null } | null;
    childSas: HealthChildSa[];
    /** Since the daemon started, across rekeys (monotonic). */
    traffic: TrafficTotals;
    /** Round trip to HQ in milliseconds; null while nothing measures it. */
    rttMs: number | null;
    rttSource: 'dpd' | 'tunnel' | null;
    /** IKE and CHILD_SA rekeys since the daemon started. */
    rekeys: number;
    lastError: { message: string; ageSeconds: number } | null;
  };
  wan: { address: string | null; natDetected: boolean };
  system: {
    board: string;
    cpuCount: number;
    load: [number, number, number];
    memory: { totalBytes: number; availableBytes: number; processRssBytes: number };
    temperatureC: number | null;
    uptimeSeconds: number;
  };
  /** The reporter's own state: events waiting for the broker, dropped for lack of room, reconnects. */
  reporting: { eventsQueued: number; eventsDropped: number; reconnects: number };
}

export interface HealthInputs {
  status: StatusModel;
  system: SystemMetrics;
  traffic: TrafficTotals;
  rekeys: number;
  rtt: { ms: number; source: 'dpd' | 'tunnel' } | null;
  reporting: HealthPayload['reporting'];
}

export function buildHealth(deviceId: string, inp: HealthInputs, now: number): HealthPayload {
  const t = inp.status.tunnel;
  const sa = t.ikeSa;
  return {
    version: PAYLOAD_VERSION,
    deviceId,
    time: isoTime(now),
    firmwareVersion: inp.status.firmwareVersion,
    uptimeSeconds: inp.status.uptimeSeconds,
    tunnel: {
      name: t.name,
      state: t.state,
      local: t.local,
      remote: t.remote,
      ikeSa: sa ? {
        role: sa.role, remoteId: clip(sa.remoteId), algorithms: sa.algorithms,
        ageSeconds: sa.establishedSeconds, rekeySeconds: sa.rekeySeconds,
      } : null,
      childSas: t.childSas.map((c) => ({
        spiIn: c.spiIn, spiOut: c.spiOut, algorithms: c.algorithms, localTs: c.localTs, remoteTs: c.remoteTs,
        ageSeconds: c.establishedSeconds, rekeySeconds: c.rekeySeconds,
        bytesIn: c.bytesIn, bytesOut: c.bytesOut, packetsIn: c.packetsIn, packetsOut: c.packetsOut,
        drops: nonZero(c.drops),
      })),
      traffic: inp.traffic,
      rttMs: inp.rtt ? Math.round(inp.rtt.ms * 10) / 10 : null,
      rttSource: inp.rtt ? inp.rtt.source : null,
      rekeys: inp.rekeys,
      lastError: t.lastError ? { message: clip(t.lastError.message), ageSeconds: t.lastError.ageSeconds } : null,
    },
    // The WAN address is the one our IKE SA runs from; behind NAT the peer sees another.
    wan: { address: t.local?.address ?? null, natDetected: t.nat.local },
    system: {
      board: inp.system.board,
      cpuCount: inp.system.cpuCount,
      load: inp.system.load,
      memory: { ...inp.system.memory, processRssBytes: inp.system.processRssBytes },
      temperatureC: inp.system.temperatureC,
      uptimeSeconds: inp.system.uptimeSeconds,
    },
    reporting: inp.reporting,
  };
}

function nonZero(d: Record<string, number> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(d ?? {})) if (n > 0 && k !== '__proto__') out[k] = n;
  return out;
}

// ---- events ---------------------------------------------------------------------------------

/** What happened, without the envelope (deviceId, seq, time) the reporter adds. */
export type EventBody =
  | { type: 'tunnel-up'; remote: Endpoint | null; ikeAlgorithms: string | null; childAlgorithms: string; natDetected: boolean; localTs: string; remoteTs: string }
  | { type: 'tunnel-down'; reason: string }
  | { type: 'auth-failed'; reason: string }
  | { type: 'negotiation-failed'; notify: string; detail: string }
  | { type: 'rekey'; sa: 'ike' | 'child'; algorithms: string | null }
  | { type: 'dpd-timeout' }
  | { type: 'config-committed'; sections: string[] }
  | { type: 'config-rolled-back'; reason: string }
  | { type: 'certificate-expiring'; file: string; subject: string; notAfter: string; daysLeft: number };

export type EventType = EventBody['type'];

/** An event as it happened: its body and when. */
export interface PendingEvent {
  at: number;
  body: EventBody;
}

export type EventPayload = { version: typeof PAYLOAD_VERSION; deviceId: string; seq: number; time: string } & EventBody;

/** `seq` counts events since the daemon started (from 1); a gap means events were dropped. */
export function buildEvent(deviceId: string, seq: number, ev: PendingEvent): EventPayload {
  return { version: PAYLOAD_VERSION, deviceId, seq, time: isoTime(ev.at), ...ev.body };
}
