// Text rendering of the status model for `outpost status`, laid out like `swanctl --list-sas`.
// Pure: the same model always gives the same text. Strings that can come from the peer (its
// identity, error text) are stripped of control characters so they cannot drive the terminal.
import type { CertificateStatus, ChildSaStatus, DataPlaneTotals, Endpoint, IkeCounters, StatusModel, TunnelStatus } from './status-model.ts';

const UNITS = ['kB', 'MB', 'GB', 'TB', 'PB'];

/** 512 -> "512 bytes"; 1234567 -> "1.2 MB (1234567 bytes)" (decimal units, as `ls -h --si`). */
export function humanBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '?';
  const whole = Math.floor(n);
  if (whole < 1000) return `${whole} ${whole === 1 ? 'byte' : 'bytes'}`;
  let v = whole / 1000;
  let u = 0;
  while (v >= 999.95 && u < UNITS.length - 1) { v /= 1000; u++; }
  return `${v.toFixed(1)} ${UNITS[u]} (${whole} bytes)`;
}

/** 192 -> "3m 12s"; two largest units, whole seconds. */
export function humanDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Control characters (C0, DEL, C1) would let a peer-chosen string move the cursor or recolor. */
export function printable(s: unknown): string {
  return String(s).replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function endpoint(e: Endpoint | null): string {
  if (!e) return '-';
  const a = printable(e.address);
  return `${a.includes(':') ? `[${a}]` : a}[${e.port}]`;
}

function rekey(sec: number | null): string {
  return sec === null ? 'no rekey scheduled' : `rekeying in ${humanDuration(sec)}`;
}

function childLines(c: ChildSaStatus): string[] {
  return [
    `  ${printable(c.name)}: INSTALLED, TUNNEL-in-UDP, ESP:${printable(c.algorithms)}${c.esn ? ', ESN' : ''}`,
    `    installed ${humanDuration(c.establishedSeconds)} ago, ${rekey(c.rekeySeconds)}`,
    `    in  ${printable(c.spiIn)}, ${humanBytes(c.bytesIn)}, ${plural(c.packetsIn, 'packet')}`,
    `    out ${printable(c.spiOut)}, ${humanBytes(c.bytesOut)}, ${plural(c.packetsOut, 'packet')}`,
    `    local  ${c.localTs.map(printable).join(' ')}`,
    `    remote ${c.remoteTs.map(printable).join(' ')}`,
    `    drops: ${dropText(c.drops)}`,
  ];
}

function dropText(drops: Record<string, number> | undefined): string {
  const d = Object.entries(drops ?? {})
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, n]) => `${printable(k)} ${n}`);
  return d.length ? d.join(', ') : 'none';
}

/** One line of IKE counters: what a flood or a confused peer leaves behind. */
export function ikeCountersLine(c: IkeCounters): string {
  return `  ike: ${plural(c.ikeSaInitRequests, 'IKE_SA_INIT request')}, ${plural(c.cookiesSent, 'cookie')} sent, ` +
    `${c.halfOpen} half-open (${c.halfOpenDropped} dropped), ${c.malformed} malformed, ${c.unknownSpi} unknown SPI, ` +
    `${plural(c.integrityFailures, 'integrity failure')}, ${c.invalidMessageId} bad message ID, ` +
    `${plural(c.retransmissionsSent, 'retransmission')} sent, ${c.retransmitsAnswered} answered`;
}

export function dataPlaneLine(d: DataPlaneTotals): string {
  const cache = d.flowCache ? ` (flow cache: ${d.flowCache.in} in, ${d.flowCache.out} out)` : '';
  return `  data plane: in ${plural(d.packetsIn, 'packet')}, out ${plural(d.packetsOut, 'packet')}${cache}, drops: ${dropText(d.drops)}`;
}

function tunnelLines(t: TunnelStatus): string[] {
  const out: string[] = [];
  const sa = t.ikeSa;
  if (sa) {
    const i = `${printable(sa.spiInitiator)}_i${sa.role === 'initiator' ? '*' : ''}`;
    const r = `${printable(sa.spiResponder)}_r${sa.role === 'responder' ? '*' : ''}`;
    out.push(`${printable(t.name)}: ${t.state.toUpperCase()}, IKEv2, ${i} ${r}`);
    out.push(`  local  '${printable(sa.localId)}' @ ${endpoint(t.local)}${t.nat.local ? ' (behind NAT)' : ''}`);
    out.push(`  remote '${printable(sa.remoteId)}' @ ${endpoint(t.remote)}${t.nat.remote ? ' (behind NAT)' : ''}`);
    out.push(`  ${printable(sa.algorithms)}`);
    out.push(`  established ${humanDuration(sa.establishedSeconds)} ago, ${rekey(sa.rekeySeconds)}`);
  } else {
    out.push(`${printable(t.name)}: ${t.state.toUpperCase()}, no IKE SA`);
    if (t.local || t.remote) out.push(`  local  ${endpoint(t.local)}`, `  remote ${endpoint(t.remote)}`);
  }
  for (const c of t.childSas) out.push(...childLines(c));
  if (t.dataPlane) out.push(dataPlaneLine(t.dataPlane));
  if (t.ike) out.push(ikeCountersLine(t.ike));
  if (t.lastError) out.push(`  last error (${humanDuration(t.lastError.ageSeconds)} ago): ${printable(t.lastError.message)}`);
  return out;
}

/** "certificate: 'CN=...' expires 2027-03-01 (120 days left)", with a warning within 30 days. */
export function certificateLine(c: CertificateStatus, warnDays = 30): string {
  const day = printable(c.notAfter).slice(0, 10);
  const when = c.daysLeft < 0 ? `EXPIRED on ${day}` : `expires ${day} (${c.daysLeft <= warnDays ? 'WARNING: ' : ''}${plural(c.daysLeft, 'day')} left)`;
  return `certificate: '${printable(c.subject)}' issued by '${printable(c.issuer)}', ${when}`;
}

/** Renders the whole status, one trailing newline. */
export function statusText(m: StatusModel): string {
  const lines = [`outpost ${printable(m.deviceId)}, firmware ${printable(m.firmwareVersion)}, up ${humanDuration(m.uptimeSeconds)}`];
  lines.push(...tunnelLines(m.tunnel));
  if (m.certificate) lines.push(certificateLine(m.certificate));
  const h = m.health;
  if (!h.broker) lines.push('health: reporting off (no health.broker configured)');
  else {
    const last = h.lastPublishSeconds === null ? 'no report sent yet' : `last report ${humanDuration(h.lastPublishSeconds)} ago`;
    lines.push(`health: ${printable(h.broker)}, ${h.connected ? 'connected' : 'NOT connected'}, ${last}`);
    if (!h.connected && h.lastError) lines.push(`  last error: ${printable(h.lastError)}`);
    if (h.eventsQueued || h.eventsDropped) lines.push(`  events waiting for the broker: ${h.eventsQueued ?? 0}${h.eventsDropped ? ` (${h.eventsDropped} dropped, queue full)` : ''}`);
  }
  return lines.join('\n') + '\n';
}
