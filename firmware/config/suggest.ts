// "Did you mean ...?" for unknown config keys: the closest known key by edit distance.

/** Damerau-Levenshtein distance (optimal string alignment), bounded inputs only. */
export function editDistance(a: string, b: string): number {
  if (a.length > 64 || b.length > 64) return Math.abs(a.length - b.length) + 64;
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known key the technician most likely meant, or undefined when nothing is close. */
export function suggestKey(unknown: string, known: readonly string[]): string | undefined {
  const lower = unknown.toLowerCase().replace(/[_-]/g, '');
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const kl = k.toLowerCase();
    if (kl === lower) return k; // differs only in case or separators: "baud_rate" -> "baudRate"
    const d = editDistance(lower, kl);
    if (d < bestD) { bestD = d; best = k; }
  }
  const limit = Math.max(1, Math.min(3, Math.floor((best?.length ?? 0) / 3)));
  return bestD <= limit ? best : undefined;
}
