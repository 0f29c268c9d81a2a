// The text a technician pastes into the ticket after a provisioning run. No secrets: the
// device never sends them, and the site file is named, not quoted.
import type { ApplyReport } from './apply.ts';

const ICON: Record<string, string> = { ok: 'ok', failed: 'FAILED', skipped: 'skipped', running: 'unfinished' };

function clean(s: unknown): string {
  return String(s).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

export function summaryText(r: ApplyReport, ctx: { port: string; siteFile: string }): string {
  const i = r.info;
  const st = r.status;
  const t = st?.tunnel;
  const lines: string[] = [
    '===== Outpost provisioning summary =====',
    `result:       ${r.ok ? 'OK' : 'FAILED'}${r.message ? ` (${clean(r.message)})` : ''}`,
    `when:         ${r.startedAt} .. ${r.finishedAt}`,
    `site file:    ${clean(ctx.siteFile)} via ${clean(ctx.port)}`,
  ];
  if (i) {
    lines.push(
      `device:       ${clean(i.deviceId)} (IKE identity ${clean(i.localId)})`,
      `board:        ${clean(i.board)}`,
      `serial:       ${clean(i.serialNumber)}`,
      `firmware:     outpost ${clean(i.firmwareVersion)}`,
      `certificate:  ${i.certificateFingerprint ? clean(i.certificateFingerprint) : 'n/a (pre-shared key)'}`,
      'interfaces:',
      ...i.interfaces.map((x) => `  ${clean(x.name).padEnd(12)} ${clean(x.mac ?? '-').padEnd(17)} ${clean(x.addresses.join(' ') || '-')}`),
    );
  }
  lines.push(`config:       ${r.changes.length} field${r.changes.length === 1 ? '' : 's'} changed; ${r.committed ? (r.confirmed ? 'committed and confirmed' : r.rollsBackAt ? `committed, NOT confirmed (rolls back at ${r.rollsBackAt})` : 'committed') : 'not committed'}`);
  if (t) {
    lines.push(`tunnel:       ${t.state.toUpperCase()}${t.remote ? ` to ${clean(t.remote.address)}:${t.remote.port}` : ''}${t.nat.local ? ' (box behind NAT)' : ''}`);
    if (t.ikeSa) lines.push(`IKE SA:       ${clean(t.ikeSa.localId)} <-> ${clean(t.ikeSa.remoteId)}, ${clean(t.ikeSa.algorithms)}`);
    for (const c of t.childSas) lines.push(`CHILD SA:     ${clean(c.localTs.join(','))} === ${clean(c.remoteTs.join(','))}, ${clean(c.algorithms)}`);
    if (t.lastError) lines.push(`last error:   ${clean(t.lastError.message)}`);
  }
  if (st) lines.push(`health:       ${st.health.broker ? `${clean(st.health.broker)}, ${st.health.connected ? 'connected' : 'NOT connected'}` : 'not configured'}`);
  if (r.steps.length) {
    lines.push('steps:');
    for (const s of r.steps) lines.push(`  ${(ICON[s.state] ?? s.state).padEnd(10)} ${clean(s.step).padEnd(9)} ${clean(s.message)}`);
  }
  lines.push('========================================');
  return lines.join('\n') + '\n';
}
