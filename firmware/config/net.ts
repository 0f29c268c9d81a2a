// Address, prefix and host-name parsing for the config file. Strict: every form that a human
// could read two ways (leading zeros, zone ids, missing prefix length) is rejected with a reason.

export type Family = 4 | 6;

export interface IpAddress {
  family: Family;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

export interface Cidr extends IpAddress {
  prefixLength: number;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

export function parseIPv4(s: string): Parsed<IpAddress> {
  const parts = s.split('.');
  if (parts.length !== 4) return fail('an IPv4 address has four numbers separated by dots');
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^[0-9]{1,3}$/.test(p)) return fail(`"${p}" is not a number from 0 to 255`);
    if (p.length > 1 && p[0] === '0') return fail(`"${p}" has a leading zero, which some tools read as octal`);
    const n = Number(p);
    if (n > 255) return fail(`${p} is larger than 255`);
    bytes[i] = n;
  }
  return ok({ family: 4, bytes });
}

export function parseIPv6(s: string): Parsed<IpAddress> {
  if (s.includes('%')) return fail('zone ids (the "%eth0" suffix) are not allowed here');
  if (s.length > 45) return fail('too long for an IPv6 address');
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return fail('an IPv6 address has only hex digits and colons');
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return fail('"::" may appear only once');
  const groups: number[] = [];
  const parseSide = (side: string, allowV4Tail: boolean): string | null => {
    if (side === '') return null;
    const items = side.split(':');
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      if (allowV4Tail && i === items.length - 1 && it.includes('.')) {
        const v4 = parseIPv4(it);
        if (!v4.ok) return `embedded IPv4 part: ${v4.reason}`;
        const b = v4.value.bytes;
        groups.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(it)) return it === '' ? 'empty group (a single ":" where "::" was meant?)' : `"${it}" is not a group of 1-4 hex digits`;
      groups.push(parseInt(it, 16));
    }
    return null;
  };
  let head: number[] = [];
  let tail: number[] = [];
  if (dbl === -1) {
    const e = parseSide(s, true);
    if (e) return fail(e);
    if (groups.length !== 8) return fail('an IPv6 address without "::" needs eight groups');
    head = groups.slice();
  } else {
    const e1 = parseSide(s.slice(0, dbl), false);
    if (e1) return fail(e1);
    head = groups.splice(0);
    const e2 = parseSide(s.slice(dbl + 2), true);
    if (e2) return fail(e2);
    tail = groups.splice(0);
    if (head.length + tail.length > 7) return fail('too many groups for an address with "::"');
  }
  const all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => { bytes[2 * i] = g >> 8; bytes[2 * i + 1] = g & 0xff; });
  return ok({ family: 6, bytes });
}

/** Parses an IPv4 or IPv6 literal. */
export function parseIp(s: string): Parsed<IpAddress> {
  if (s.includes(':')) return parseIPv6(s);
  return parseIPv4(s);
}

/** True when the text looks like someone meant an IP literal (so a name check would be misleading). */
export function looksLikeIp(s: string): boolean {
  return s.includes(':') || /^[0-9.]+$/.test(s);
}

export function formatIp(a: IpAddress): string {
  if (a.family === 4) return Array.from(a.bytes).join('.');
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((a.bytes[i]! << 8) | a.bytes[i + 1]!);
  // RFC 5952: compress the longest run (length >= 2) of zero groups, the first one on ties.
  let bestAt = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (bestAt === -1) return hex(g);
  return `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
}

/** Parses "address/length". Host bits are allowed here; callers decide what they mean. */
export function parseCidr(s: string): Parsed<Cidr> {
  const slash = s.indexOf('/');
  if (slash === -1) {
    const fam = s.includes(':') ? 6 : 4;
    return fail(`the prefix length is missing (write ${s}/${fam === 4 ? 32 : 128} for a single address)`);
  }
  const addrText = s.slice(0, slash);
  const lenText = s.slice(slash + 1);
  const addr = parseIp(addrText);
  if (!addr.ok) return fail(addr.reason);
  const max = addr.value.family === 4 ? 32 : 128;
  if (!/^[0-9]{1,3}$/.test(lenText) || Number(lenText) > max || (lenText.length > 1 && lenText[0] === '0')) {
    return fail(`prefix length must be 0-${max} for IPv${addr.value.family}`);
  }
  return ok({ ...addr.value, prefixLength: Number(lenText) });
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c)}/${c.prefixLength}`;
}

/** The network the prefix names: host bits cleared. */
export function networkOf(c: Cidr): Cidr {
  const bytes = new Uint8Array(c.bytes);
  for (let bit = c.prefixLength; bit < bytes.length * 8; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return { family: c.family, bytes, prefixLength: c.prefixLength };
}

export function hasHostBits(c: Cidr): boolean {
  const n = networkOf(c);
  return n.bytes.some((b, i) => b !== c.bytes[i]);
}

/** True when all host bits are set (the IPv4 broadcast address of the prefix). */
export function isAllOnesHost(c: Cidr): boolean {
  for (let bit = c.prefixLength; bit < c.bytes.length * 8; bit++) {
    if ((c.bytes[bit >> 3]! & (0x80 >> (bit & 7))) === 0) return false;
  }
  return true;
}

/** Does prefix `outer` contain all of prefix `inner`? */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || outer.prefixLength > inner.prefixLength) return false;
  const a = networkOf(outer).bytes;
  const b = networkOf({ ...inner, prefixLength: outer.prefixLength }).bytes;
  return a.every((x, i) => x === b[i]);
}

export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

/**
 * A DNS host name: dot-separated labels of letters, digits and hyphens, 1-63 characters each,
 * not starting or ending with a hyphen, at most 253 characters, and not all-numeric at the end
 * (that would be a mistyped IPv4 address). A single trailing dot is allowed.
 */
export function checkHostname(s: string): string | null {
  const name = s.endsWith('.') ? s.slice(0, -1) : s;
  if (name.length === 0) return 'is empty';
  if (name.length > 253) return 'is longer than 253 characters';
  const labels = name.split('.');
  for (const l of labels) {
    if (l.length === 0) return 'has an empty label (two dots in a row, or a leading dot)';
    if (l.length > 63) return 'has a label longer than 63 characters';
    if (!/^[A-Za-z0-9-]+$/.test(l)) return 'may contain only letters, digits, hyphens and dots';
    if (l.startsWith('-') || l.endsWith('-')) return 'has a label that starts or ends with a hyphen';
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return 'ends in a number, so it is neither a valid host name nor a valid IPv4 address';
  return null;
}
