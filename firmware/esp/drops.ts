// Why an inbound ESP packet was dropped. The SA counts the first four; the gateway's SAD lookup
// (no SA for the SPI) and SPD check (inner addresses outside the SA's traffic selectors) count
// the last two with the same counter type.

export type DropReason = 'replay' | 'auth_failed' | 'malformed' | 'bad_padding' | 'unknown_spi' | 'selector_mismatch';

export const DROP_REASONS: readonly DropReason[] = Object.freeze([
  'replay', 'auth_failed', 'malformed', 'bad_padding', 'unknown_spi', 'selector_mismatch',
] as const);

export type DropCounters = Record<DropReason, number>;

export function newDropCounters(): DropCounters {
  return { replay: 0, auth_failed: 0, malformed: 0, bad_padding: 0, unknown_spi: 0, selector_mismatch: 0 };
}

export function countDrop(c: DropCounters, reason: DropReason): void {
  c[reason]++;
}

export function totalDrops(c: DropCounters): number {
  let n = 0;
  for (const r of DROP_REASONS) n += c[r];
  return n;
}
