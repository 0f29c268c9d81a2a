// IKE identities as written in the config file, classified the way strongSwan does:
// "CN=..,O=.." is a distinguished name, "user@host" an email address (RFC 822), an IP literal
// an address, "@name" or a plain name a fully qualified domain name.
import { checkHostname, formatIp, looksLikeIp, parseIp, type Parsed } from './net.ts';

export type IdentityType = 'fqdn' | 'email' | 'ipv4' | 'ipv6' | 'dn';

export interface Rdn { attr: string; value: string }

export interface Identity {
  type: IdentityType;
  /** The text that goes on the wire (FQDN without a leading "@", canonical IP text, DN as written). */
  value: string;
  /** For a DN, its attribute/value pairs in order. */
  rdns?: Rdn[];
  /** For an IP identity, the address bytes. */
  bytes?: Uint8Array;
}

/** Attribute names strongSwan understands in a DN (case-insensitive). */
const DN_ATTRS = new Set([
  'c', 'st', 's', 'l', 'o', 'ou', 'cn', 'e', 'emailaddress', 'serialnumber', 'dc', 'uid', 'street',
  'postalcode', 'title', 'sn', 'gn', 'givenname', 'initials', 'pseudonym', 'dnq', 'n', 'id', 'unstructuredname',
  'ua', 'd', 'description',
]);

export const MAX_IDENTITY_LENGTH = 255;

const fail = (reason: string): Parsed<Identity> => ({ ok: false, reason });

/** Splits a DN on commas that are not escaped with a backslash. */
function splitDn(s: string): string[] | null {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '\\') {
      if (i + 1 >= s.length) return null;
      cur += ch + s[i + 1]!;
      i++;
    } else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  return out;
}

export function parseIdentity(s: string): Parsed<Identity> {
  if (s.length === 0) return fail('is empty');
  if (s.length > MAX_IDENTITY_LENGTH) return fail(`is longer than ${MAX_IDENTITY_LENGTH} characters`);
  if (/[\u0000-\u001f\u007f]/.test(s)) return fail('contains control characters');
  if (s.trim() !== s) return fail('has leading or trailing spaces');

  if (s.includes('=')) {
    const parts = splitDn(s);
    if (!parts) return fail('ends with a lone backslash');
    const rdns: Rdn[] = [];
    for (const raw of parts) {
      const p = raw.trim();
      const eq = p.indexOf('=');
      if (eq <= 0) {
        return fail(`is not a distinguished name: "${p}" should be ATTRIBUTE=value, as in "CN=hq.example.net, O=Example"`);
      }
      const attr = p.slice(0, eq).trim();
      const value = p.slice(eq + 1).trim();
      if (!DN_ATTRS.has(attr.toLowerCase())) {
        return fail(`has an unknown distinguished name attribute "${attr}" (use C, ST, L, O, OU, CN, E, DC, ...)`);
      }
      if (value.length === 0) return fail(`has an empty value for ${attr}`);
      rdns.push({ attr, value });
    }
    return { ok: true, value: { type: 'dn', value: s, rdns } };
  }

  if (s.startsWith('@')) {
    // strongSwan's way to force an FQDN identity.
    const name = s.slice(1);
    const e = checkHostname(name);
    if (e) return fail(`is not a valid host name after "@": it ${e}`);
    return { ok: true, value: { type: 'fqdn', value: name } };
  }

  const at = s.indexOf('@');
  if (at !== -1) {
    const local = s.slice(0, at);
    const domain = s.slice(at + 1);
    if (!/^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}$/.test(local)) return fail('is not a valid email address (the part before "@" is empty or has characters not allowed there)');
    const e = checkHostname(domain);
    if (e) return fail(`is not a valid email address: the domain ${e}`);
    return { ok: true, value: { type: 'email', value: s } };
  }

  if (looksLikeIp(s)) {
    const ip = parseIp(s);
    if (!ip.ok) return fail(`looks like an IP address but is not a valid one: ${ip.reason}`);
    return { ok: true, value: { type: ip.value.family === 4 ? 'ipv4' : 'ipv6', value: formatIp(ip.value), bytes: ip.value.bytes } };
  }

  const e = checkHostname(s);
  if (e) return fail(`is not a host name (FQDN), email address, IP address or distinguished name ("CN=..,O=.."): it ${e}`);
  return { ok: true, value: { type: 'fqdn', value: s.endsWith('.') ? s.slice(0, -1) : s } };
}
