// validateConfig: every field of the config file checked, every problem collected (not only the
// first), each named by its path with a sentence a technician can act on. Secrets (the PSK, the
// broker password) are never echoed. Warnings (valid but unwise) are kept apart from errors.
//
// Decisions (documented for the daemon and the README):
// - Unknown keys are errors, with a did-you-mean when a known key is close.
// - tunnel.remoteId defaults to tunnel.remote when that is a name or address. With remote "%any"
//   (responder) remoteId is required; writing "%any" there explicitly accepts any peer that
//   authenticates (with the PSK, or a certificate chaining to tunnel.auth.ca), with a warning.
// - tunnel.auth key/cert/ca/crl and health ca/cert/key are absolute file paths, never inline PEM.
// - Proposals are checked by firmware/ike/proposal.ts's parsers; "default" is accepted as in swanctl.conf.
// - The PSK is the UTF-8 text as written (no strongSwan "0x"/"0s" decoding; a warning says so).
// - health and console may be left out: no fleet reporting (warning) / the board's console.
import { ANY, BOARD_PROFILES, type BoardSection, type ResolvedAuth, type ResolvedConfig, type ResolvedHealth, type ResolvedConsole } from './schema.ts';
import type { ConfigIssue } from './errors.ts';
import {
  CHILD_LIFETIME_RANGE, DEFAULT_BAUD_RATE, DEFAULT_CHILD_LIFETIME_SECONDS, DEFAULT_DPD_SECONDS, DEFAULT_ESP_PROPOSALS,
  DEFAULT_HEALTH_INTERVAL_SECONDS, DEFAULT_IKE_LIFETIME_SECONDS, DEFAULT_IKE_PROPOSALS, DEVICE_ID_MAX_LENGTH, DPD_RANGE,
  HEALTH_INTERVAL_RANGE, IKE_LIFETIME_RANGE, MAX_CA_FILES, MAX_ISSUES, MAX_PATH_LENGTH, MAX_PROPOSALS, MAX_STRING_LENGTH,
  MAX_SUBNETS, PSK_MAX_LENGTH, PSK_MIN_LENGTH, PSK_WARN_LENGTH, STANDARD_BAUD_RATES,
} from './defaults.ts';
import {
  checkHostname, cidrContains, formatCidr, formatIp, hasHostBits, isAllOnesHost, looksLikeIp, networkOf, parseCidr, parseIp,
  type Cidr, type IpAddress,
} from './net.ts';
import { parseIdentity } from './identity.ts';
import { suggestKey } from './suggest.ts';
import { checkEspProposal, checkIkeProposal } from './proposals.ts';

export type ValidationResult =
  | { ok: true; config: ResolvedConfig; warnings: ConfigIssue[] }
  | { ok: false; errors: ConfigIssue[]; warnings: ConfigIssue[] };

type Obj = Record<string, unknown>;

class Issues {
  readonly errors: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];
  private droppedErrors = 0;
  private droppedWarnings = 0;
  error(path: string, message: string): void {
    if (this.errors.length < MAX_ISSUES) this.errors.push({ path, message });
    else this.droppedErrors++;
  }
  warn(path: string, message: string): void {
    if (this.warnings.length < MAX_ISSUES) this.warnings.push({ path, message });
    else this.droppedWarnings++;
  }
  finish(): void {
    if (this.droppedErrors) this.errors.push({ path: 'config', message: `${this.droppedErrors} more errors not shown` });
    if (this.droppedWarnings) this.warnings.push({ path: 'config', message: `${this.droppedWarnings} more warnings not shown` });
  }
}

const ROOT = 'config';

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function own(o: Obj, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

function clip(s: string, max = 48): string {
  return s.length > max ? s.slice(0, max) + '...' : s;
}

function keyPath(parent: string, key: string): string {
  const k = /^[A-Za-z_$][\w$]*$/.test(key) && key.length <= 64 ? `.${key}` : `[${JSON.stringify(clip(key))}]`;
  return parent === ROOT ? k.replace(/^\./, '') : parent + k;
}

/** "a string", "the number 30", ... for type errors. Secret values are described by type only. */
function describe(v: unknown, secret = false): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'string': return secret ? 'a string' : `the string ${JSON.stringify(clip(v))}`;
    case 'number': return secret ? 'a number' : `the number ${v}`;
    case 'boolean': return secret ? 'a boolean' : `${v}`;
    case 'object': return 'an object';
    default: return `a ${typeof v}`;
  }
}

/** Checks that v is an object with only known keys, reports missing required ones. */
function section(is: Issues, v: unknown, path: string, known: readonly string[], required: readonly string[], what: string): Obj | undefined {
  if (!isObj(v)) {
    is.error(path, `expected ${what}, got ${describe(v)}`);
    return undefined;
  }
  for (const k of Object.keys(v)) {
    if (known.includes(k)) continue;
    const s = suggestKey(k, known);
    is.error(keyPath(path, k), `unknown field${s ? ` (did you mean "${s}"?)` : ''}; known fields here: ${known.join(', ')}`);
  }
  for (const k of required) if (!own(v, k)) is.error(keyPath(path, k), 'is required but missing');
  return v;
}

interface StrOpts { secret?: boolean; max?: number; allowEmpty?: boolean }

/** A string field; undefined when absent or wrong (wrong is reported). */
function str(is: Issues, o: Obj, key: string, path: string, opts: StrOpts = {}): string | undefined {
  if (!own(o, key)) return undefined;
  const v = o[key];
  const p = keyPath(path, key);
  if (typeof v !== 'string') {
    is.error(p, `expected a string (text in double quotes), got ${describe(v, opts.secret)}`);
    return undefined;
  }
  if (!opts.allowEmpty && v.length === 0) { is.error(p, 'is empty'); return undefined; }
  const max = opts.max ?? MAX_STRING_LENGTH;
  if (v.length > max) { is.error(p, `is longer than ${max} characters`); return undefined; }
  return v;
}

function int(is: Issues, o: Obj, key: string, path: string, unit: string): number | undefined {
  if (!own(o, key)) return undefined;
  const v = o[key];
  const p = keyPath(path, key);
  if (typeof v === 'string' && /^\s*-?[0-9]+\s*$/.test(v)) {
    is.error(p, `expected a whole number of ${unit}, got ${describe(v)} (remove the quotes)`);
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    is.error(p, `expected a whole number of ${unit}, got ${describe(v)}`);
    return undefined;
  }
  return v;
}

function list(is: Issues, o: Obj, key: string, path: string, what: string, max: number, allowEmpty = false): unknown[] | undefined {
  if (!own(o, key)) return undefined;
  const v = o[key];
  const p = keyPath(path, key);
  if (!Array.isArray(v)) {
    is.error(p, `expected a list of ${what} (in [ ]), got ${describe(v)}`);
    return undefined;
  }
  if (v.length === 0 && !allowEmpty) { is.error(p, `the list is empty; give at least one ${what.replace(/s$/, '')}`); return undefined; }
  if (v.length > max) { is.error(p, `has ${v.length} entries; at most ${max} are allowed`); return undefined; }
  return v;
}

function absPath(is: Issues, o: Obj, key: string, path: string, what: string, secretFile = false): string | undefined {
  const v = str(is, o, key, path, { max: MAX_PATH_LENGTH, secret: secretFile });
  if (v === undefined) return undefined;
  return checkAbsPath(is, v, keyPath(path, key), what, secretFile);
}

function checkAbsPath(is: Issues, v: string, p: string, what: string, secretFile: boolean): string | undefined {
  if (v.includes('-----BEGIN')) {
    is.error(p, `must be the path of ${what}, not its contents; save it to a file${secretFile ? ' (mode 0600)' : ''} and give the file's absolute path`);
    return undefined;
  }
  if (/[\u0000-\u001f\u007f]/.test(v)) { is.error(p, 'contains control characters'); return undefined; }
  if (!v.startsWith('/')) {
    is.error(p, `${JSON.stringify(clip(v))} must be an absolute path to ${what} (starting with "/", e.g. /etc/outpost/...)`);
    return undefined;
  }
  return v;
}

function pathList(is: Issues, o: Obj, key: string, path: string, what: string, allowEmpty = false): string[] | undefined {
  const arr = list(is, o, key, path, `${what} files`, MAX_CA_FILES, allowEmpty);
  if (!arr) return undefined;
  const out: string[] = [];
  let bad = false;
  arr.forEach((v, i) => {
    const p = `${keyPath(path, key)}[${i}]`;
    if (typeof v !== 'string') { is.error(p, `expected a file path string, got ${describe(v)}`); bad = true; return; }
    if (v.length > MAX_PATH_LENGTH) { is.error(p, `is longer than ${MAX_PATH_LENGTH} characters`); bad = true; return; }
    const r = checkAbsPath(is, v, p, what, false);
    if (r === undefined) bad = true; else out.push(r);
  });
  return bad ? undefined : out;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// ---- sections -------------------------------------------------------------------------------

function checkDevice(is: Issues, v: unknown): { id: string } | undefined {
  const o = section(is, v, 'device', ['id'], ['id'], 'an object like { "id": "branch-042" }');
  if (!o) return undefined;
  const id = str(is, o, 'id', 'device', { max: 4096 });
  if (id === undefined) return undefined;
  const p = 'device.id';
  if (id.length > DEVICE_ID_MAX_LENGTH) { is.error(p, `is ${id.length} characters long; at most ${DEVICE_ID_MAX_LENGTH} are allowed`); return undefined; }
  if (/[+#/]/.test(id)) { is.error(p, `${JSON.stringify(id)} contains "+", "#" or "/", which have special meaning in MQTT topics`); return undefined; }
  if (/[\u0000-\u001f\u007f-\u009f]/.test(id) || LONE_SURROGATE.test(id)) { is.error(p, 'contains control or invalid characters'); return undefined; }
  if (!/^[A-Za-z0-9._-]+$/.test(id)) {
    is.warn(p, `${JSON.stringify(id)} has characters other than letters, digits, ".", "_" and "-"; dashboards and scripts may mishandle it`);
  }
  return { id };
}

function checkIfName(is: Issues, name: string, p: string): boolean {
  // Linux dev_valid_name(): 1-15 bytes, not "." or "..", no "/", ":" or whitespace.
  if (Buffer.byteLength(name) > 15) { is.error(p, `${JSON.stringify(clip(name))} is too long for a Linux interface name (at most 15 characters)`); return false; }
  if (name === '.' || name === '..' || /[\/:\s]/.test(name) || /[\u0000-\u001f\u007f]/.test(name)) {
    is.error(p, `${JSON.stringify(name)} is not a valid interface name (no "/", ":" or spaces)`);
    return false;
  }
  return true;
}

function addressProblem(a: IpAddress): string | null {
  const b = a.bytes;
  if (a.family === 4) {
    if (b[0] === 0) return 'is in 0.0.0.0/8 ("this network"), not a usable address';
    if (b[0] === 127) return 'is a loopback address';
    if (b[0]! >= 224 && b[0]! < 240) return 'is a multicast address';
    if (b.every((x) => x === 255)) return 'is the broadcast address';
    return null;
  }
  if (b.every((x) => x === 0)) return 'is the unspecified address';
  if (b.slice(0, 15).every((x) => x === 0) && b[15] === 1) return 'is the loopback address';
  if (b[0] === 0xff) return 'is a multicast address';
  return null;
}

function checkLan(is: Issues, v: unknown): { interface: string; address: string; net: Cidr } | undefined {
  const o = section(is, v, 'lan', ['interface', 'address'], ['interface', 'address'], 'an object like { "interface": "eth1", "address": "10.1.0.1/24" }');
  if (!o) return undefined;
  const ifn = str(is, o, 'interface', 'lan', { max: 256 });
  const ifOk = ifn !== undefined && checkIfName(is, ifn, 'lan.interface');
  const addr = str(is, o, 'address', 'lan', { max: 256 });
  let cidr: Cidr | undefined;
  if (addr !== undefined) {
    const p = 'lan.address';
    const c = parseCidr(addr);
    if (!c.ok) {
      is.error(p, `${JSON.stringify(clip(addr))} is not an address with prefix length like "10.1.0.1/24": ${c.reason}`);
    } else {
      const cv = c.value;
      const max = cv.family === 4 ? 32 : 128;
      const bad = addressProblem(cv);
      const net = networkOf(cv);
      if (bad) {
        is.error(p, `${formatIp(cv)} ${bad}`);
      } else if (cv.prefixLength === 0) {
        is.error(p, `a /0 prefix would make every address part of the LAN`);
      } else if (cv.prefixLength < max - 1 && !hasHostBits(cv)) {
        const example = new Uint8Array(net.bytes); example[example.length - 1]! |= 1;
        is.error(p, `${formatCidr(cv)} is the network address, but lan.address is the box's own address on the LAN (host part not zero), e.g. ${formatIp({ family: cv.family, bytes: example })}/${cv.prefixLength}`);
      } else if (cv.family === 4 && cv.prefixLength < 31 && isAllOnesHost(cv)) {
        is.error(p, `${formatCidr(cv)} is the broadcast address of ${formatCidr(net)}; use a host address`);
      } else {
        cidr = cv;
      }
    }
  }
  if (!ifOk || !cidr || ifn === undefined) return undefined;
  return { interface: ifn, address: formatCidr(cidr), net: networkOf(cidr) };
}

/** A list of subnets (traffic selectors): each a prefix with no host bits set. */
function subnetList(is: Issues, o: Obj, key: string, path: string): Cidr[] | undefined {
  const arr = list(is, o, key, path, 'subnets', MAX_SUBNETS);
  if (!arr) return undefined;
  const out: Cidr[] = [];
  let bad = false;
  arr.forEach((v, i) => {
    const p = `${keyPath(path, key)}[${i}]`;
    if (typeof v !== 'string') { is.error(p, `expected a subnet like "10.2.0.0/16", got ${describe(v)}`); bad = true; return; }
    const c = parseCidr(v);
    if (!c.ok) {
      is.error(p, `${JSON.stringify(clip(v))} is not a valid IPv4 or IPv6 prefix (${c.reason})`);
      bad = true;
      return;
    }
    if (hasHostBits(c.value)) {
      is.error(p, `${JSON.stringify(clip(v))} has host bits set (a subnet's address ends in zero bits); did you mean ${formatCidr(networkOf(c.value))}?`);
      bad = true;
      return;
    }
    const dup = out.findIndex((x) => cidrContains(x, c.value) || cidrContains(c.value, x));
    if (dup !== -1) is.warn(p, `${formatCidr(c.value)} overlaps ${keyPath(path, key)}[${dup}] (${formatCidr(out[dup]!)})`);
    out.push(c.value);
  });
  return bad ? undefined : out;
}

function proposalList(is: Issues, o: Obj, key: 'ike' | 'esp', path: string): string[] | undefined {
  const arr = list(is, o, key, path, 'proposals', MAX_PROPOSALS);
  if (!arr) return undefined;
  const out: string[] = [];
  let bad = false;
  arr.forEach((v, i) => {
    const p = `${keyPath(path, key)}[${i}]`;
    if (typeof v !== 'string') { is.error(p, `expected a proposal string like "${key === 'ike' ? DEFAULT_IKE_PROPOSALS[0] : DEFAULT_ESP_PROPOSALS[0]}", got ${describe(v)}`); bad = true; return; }
    if (v.length > 512) { is.error(p, 'is longer than 512 characters'); bad = true; return; }
    const err = key === 'ike' ? checkIkeProposal(v) : checkEspProposal(v);
    if (err !== null) { is.error(p, err); bad = true; return; } // the parser's message quotes the proposal
    if (out.includes(v)) is.warn(p, `${JSON.stringify(v)} is listed twice`);
    out.push(v);
  });
  return bad ? undefined : out;
}

function checkRemote(is: Issues, remote: string): string | undefined {
  const p = 'tunnel.remote';
  if (remote === ANY) return remote;
  if (remote.toLowerCase() === ANY || remote === 'any' || remote === '%any4' || remote === '%any6') {
    is.error(p, `${JSON.stringify(remote)}: write "%any" (lower case) to make Outpost the responder`);
    return undefined;
  }
  if (/^[A-Za-z][\w+.-]*:\/\//.test(remote) || /^[^:\[\]]+:[0-9]+$/.test(remote) || /^[^/]+\/.*[A-Za-z]/.test(remote)) {
    is.error(p, `${JSON.stringify(clip(remote))} is not a host name, an IP address or "%any" (give the host only, without port, scheme or path; IKE uses UDP 500 and 4500)`);
    return undefined;
  }
  if (looksLikeIp(remote)) {
    const ip = parseIp(remote.startsWith('[') && remote.endsWith(']') ? remote.slice(1, -1) : remote);
    if (!ip.ok) { is.error(p, `${JSON.stringify(clip(remote))} looks like an IP address but is not a valid one: ${ip.reason}`); return undefined; }
    const bad = addressProblem(ip.value);
    if (bad) { is.error(p, `${formatIp(ip.value)} ${bad}`); return undefined; }
    return formatIp(ip.value);
  }
  const e = checkHostname(remote);
  if (e) {
    is.error(p, `${JSON.stringify(clip(remote))} is not a host name, an IP address or "%any": it ${e}${remote.includes(':') || remote.includes('/') ? ' (give the host only, without port, scheme or path)' : ''}`);
    return undefined;
  }
  return remote.endsWith('.') ? remote.slice(0, -1) : remote;
}

function checkId(is: Issues, v: string, p: string): string | undefined {
  const r = parseIdentity(v);
  if (!r.ok) { is.error(p, `${JSON.stringify(clip(v))} ${r.reason}`); return undefined; }
  return r.value.type === 'ipv4' || r.value.type === 'ipv6' ? r.value.value : v;
}

function checkAuth(is: Issues, v: unknown): ResolvedAuth | undefined {
  const path = 'tunnel.auth';
  const o = section(is, v, path, ['psk', 'key', 'cert', 'ca', 'crl'], [], 'an object: { "psk": "..." } or { "key": FILE, "cert": FILE, "ca": [FILE] }');
  if (!o) return undefined;
  const hasPsk = own(o, 'psk');
  const certKeys = ['key', 'cert', 'ca', 'crl'].filter((k) => own(o, k));
  if (hasPsk && certKeys.length) {
    is.error(path, `has both "psk" and ${certKeys.map((k) => `"${k}"`).join(', ')}; use either a pre-shared key or a key and certificate, not both`);
    return undefined;
  }
  if (!hasPsk && certKeys.length === 0) {
    is.error(path, 'needs either "psk" (a pre-shared key) or "key", "cert" and "ca" (certificate files)');
    return undefined;
  }
  if (hasPsk) {
    const psk = str(is, o, 'psk', path, { secret: true, max: PSK_MAX_LENGTH });
    if (psk === undefined) return undefined;
    const p = 'tunnel.auth.psk';
    if ([...psk].length < PSK_MIN_LENGTH) {
      is.error(p, `is shorter than ${PSK_MIN_LENGTH} characters, which can be guessed offline from one captured handshake; use a random key of ${PSK_WARN_LENGTH} or more characters`);
      return undefined;
    }
    if (/[\u0000-\u001f\u007f]/.test(psk)) { is.error(p, 'contains control characters (a pasted line break?)'); return undefined; }
    if (psk.trim() !== psk) is.warn(p, 'begins or ends with spaces, which are part of the key; check the peer has them too');
    if ([...psk].length < PSK_WARN_LENGTH) is.warn(p, `is shorter than ${PSK_WARN_LENGTH} characters; a random key of ${PSK_WARN_LENGTH}+ characters is recommended`);
    if (/^0[xs]/.test(psk)) {
      is.warn(p, 'starts with "0x" or "0s": strongSwan decodes such secrets as hex/base64, Outpost uses the text exactly as written; make sure both ends mean the same bytes');
    }
    return { psk };
  }
  for (const k of ['key', 'cert', 'ca']) if (!own(o, k)) is.error(keyPath(path, k), 'is required for certificate authentication');
  const key = absPath(is, o, 'key', path, 'the private key file', true);
  const cert = absPath(is, o, 'cert', path, 'the certificate file');
  const ca = pathList(is, o, 'ca', path, 'CA certificate');
  // CRLs are optional: an empty list (as a resolved config writes it) means none.
  const crl = own(o, 'crl') ? pathList(is, o, 'crl', path, 'CRL', true) : [];
  if (key === undefined || cert === undefined || ca === undefined || crl === undefined) return undefined;
  return { key, cert, ca, crl };
}

interface LanInfo { net: Cidr }

function checkTunnel(is: Issues, v: unknown, lan: LanInfo | undefined): ResolvedConfig['tunnel'] | undefined {
  const path = 'tunnel';
  const known = ['remote', 'localId', 'remoteId', 'auth', 'localSubnets', 'remoteSubnets', 'ike', 'esp', 'dpdSeconds', 'ikeLifetimeSeconds', 'childLifetimeSeconds'];
  const o = section(is, v, path, known, ['remote', 'localId', 'auth', 'remoteSubnets'], 'an object describing the IPsec tunnel');
  if (!o) return undefined;
  let bad = false;
  const need = <T>(x: T | undefined, present: boolean): T | undefined => { if (x === undefined && present) bad = true; return x; };

  const remoteRaw = str(is, o, 'remote', path, { max: 253 });
  const remote = remoteRaw === undefined ? undefined : checkRemote(is, remoteRaw);
  if (remote === undefined) bad = true;

  const localIdRaw = str(is, o, 'localId', path, { max: 1024 });
  let localId: string | undefined;
  if (localIdRaw === ANY) is.error('tunnel.localId', '"%any" is only meaningful for tunnel.remoteId; give this box\'s own identity');
  else if (localIdRaw !== undefined) localId = checkId(is, localIdRaw, 'tunnel.localId');
  if (localId === undefined) bad = true;

  let remoteId: string | undefined;
  if (own(o, 'remoteId')) {
    const r = str(is, o, 'remoteId', path, { max: 1024 });
    if (r === ANY) {
      remoteId = ANY;
      is.warn('tunnel.remoteId', '"%any" accepts any peer that authenticates; name the peer\'s identity to be sure it is your HQ');
    } else if (r !== undefined) {
      remoteId = checkId(is, r, 'tunnel.remoteId');
    }
    if (remoteId === undefined) bad = true;
  } else if (remote === ANY) {
    is.error('tunnel.remoteId', 'is required when tunnel.remote is "%any": name the identity the peer must prove, or write "%any" to accept any peer that authenticates');
    bad = true;
  } else if (remote !== undefined) {
    remoteId = remote;
  }

  const auth = need(own(o, 'auth') ? checkAuth(is, o.auth) : undefined, own(o, 'auth'));
  if (!own(o, 'auth')) bad = true;

  const localNets = need(subnetList(is, o, 'localSubnets', path), own(o, 'localSubnets'));
  const remoteNets = need(subnetList(is, o, 'remoteSubnets', path), own(o, 'remoteSubnets'));
  if (!own(o, 'remoteSubnets')) bad = true;
  const ike = need(proposalList(is, o, 'ike', path), own(o, 'ike'));
  const esp = need(proposalList(is, o, 'esp', path), own(o, 'esp'));

  const dpd = int(is, o, 'dpdSeconds', path, 'seconds');
  if (own(o, 'dpdSeconds') && dpd === undefined) bad = true;
  if (dpd !== undefined && dpd !== 0 && (dpd < DPD_RANGE.min || dpd > DPD_RANGE.max)) {
    is.error('tunnel.dpdSeconds', `${dpd} is out of range: use 0 to turn dead peer detection off, or ${DPD_RANGE.min}-${DPD_RANGE.max} seconds`);
    bad = true;
  }
  const lifetime = (key: string, range: { min: number; max: number }): number | undefined => {
    const n = int(is, o, key, path, 'seconds');
    if (own(o, key) && n === undefined) bad = true;
    if (n !== undefined && (n < range.min || n > range.max)) {
      is.error(`tunnel.${key}`, `${n} is out of range: use ${range.min}-${range.max} seconds (${range.min / 60} minutes to ${range.max / 3600} hours)`);
      bad = true;
      return undefined;
    }
    return n;
  };
  const ikeLife = lifetime('ikeLifetimeSeconds', IKE_LIFETIME_RANGE);
  const childLife = lifetime('childLifetimeSeconds', CHILD_LIFETIME_RANGE);

  // Cross-field checks, only on values that are individually valid.
  const ikeL = ikeLife ?? DEFAULT_IKE_LIFETIME_SECONDS;
  const childL = childLife ?? DEFAULT_CHILD_LIFETIME_SECONDS;
  if (childL >= ikeL && (own(o, 'ikeLifetimeSeconds') || own(o, 'childLifetimeSeconds'))) {
    is.warn('tunnel.childLifetimeSeconds', `${childL} is not shorter than tunnel.ikeLifetimeSeconds (${ikeL}); the usual setup rekeys the child SA more often than the IKE SA`);
  }

  let local: Cidr[] | undefined = localNets;
  if (!own(o, 'localSubnets') && lan) local = [lan.net];
  if (local && lan && own(o, 'localSubnets') && !local.some((c) => cidrContains(c, lan.net))) {
    is.warn('tunnel.localSubnets', `does not include the LAN ${formatCidr(lan.net)} (from lan.address); hosts on the LAN will not reach the remote subnets unless routed here`);
  }
  if (local && remoteNets) {
    remoteNets.forEach((r, i) => {
      local!.forEach((l, j) => {
        const lp = own(o, 'localSubnets') ? `tunnel.localSubnets[${j}]` : 'the LAN (lan.address)';
        if (formatCidr(l) === formatCidr(r)) {
          is.error(`tunnel.remoteSubnets[${i}]`, `${formatCidr(r)} is also ${lp}; a subnet cannot be on both sides of the tunnel`);
          bad = true;
        } else if (cidrContains(l, r) || cidrContains(r, l)) {
          is.warn(`tunnel.remoteSubnets[${i}]`, `${formatCidr(r)} overlaps ${lp} (${formatCidr(l)}); traffic between them is ambiguous`);
        }
      });
    });
    const fams = new Set(local.map((c) => c.family));
    if (!remoteNets.some((c) => fams.has(c.family))) {
      is.error('tunnel.remoteSubnets', `are all IPv${remoteNets[0]!.family} but the local subnets are IPv${local[0]!.family}; no traffic could use the tunnel`);
      bad = true;
    }
  }

  if (bad) return undefined;
  if (remote === undefined || localId === undefined || remoteId === undefined || auth === undefined || !local || !remoteNets) return undefined;
  return {
    remote,
    localId,
    remoteId,
    auth,
    localSubnets: local.map(formatCidr),
    remoteSubnets: remoteNets.map(formatCidr),
    ike: ike ?? [...DEFAULT_IKE_PROPOSALS],
    esp: esp ?? [...DEFAULT_ESP_PROPOSALS],
    dpdSeconds: dpd ?? DEFAULT_DPD_SECONDS,
    ikeLifetimeSeconds: ikeL,
    childLifetimeSeconds: childL,
  };
}

function checkBroker(is: Issues, url: string): { tls: boolean; url: string } | undefined {
  const p = 'health.broker';
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(url);
  if (!m) { is.error(p, `${JSON.stringify(clip(url))} is not a URL; write mqtt://host:1883 or mqtts://host:8883`); return undefined; }
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'mqtt' && scheme !== 'mqtts') {
    is.error(p, `scheme "${clip(m[1]!, 16)}://" is not supported; use mqtts:// (TLS) or mqtt://`);
    return undefined;
  }
  let rest = m[2]!;
  if (rest.includes('@')) {
    is.error(p, 'must not contain a user name or password; put them in health.username and health.password (which are kept out of logs)');
    return undefined;
  }
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  if (/[/?#]/.test(rest)) { is.error(p, 'must be only scheme, host and port (no path, query or fragment)'); return undefined; }
  let host: string;
  let port: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1) { is.error(p, 'has an unclosed "[" around an IPv6 address'); return undefined; }
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) { is.error(p, 'unexpected text after "]"'); return undefined; }
    port = after === '' ? undefined : after.slice(1);
    const ip = parseIp(host);
    if (!ip.ok || ip.value.family !== 6) { is.error(p, `[${clip(host)}] is not a valid IPv6 address`); return undefined; }
  } else {
    const colon = rest.lastIndexOf(':');
    host = colon === -1 ? rest : rest.slice(0, colon);
    port = colon === -1 ? undefined : rest.slice(colon + 1);
    if (host.includes(':')) { is.error(p, 'an IPv6 address in a URL goes in brackets, as in mqtts://[2001:db8::1]:8883'); return undefined; }
    if (host === '') { is.error(p, 'has no host name'); return undefined; }
    if (looksLikeIp(host)) {
      const ip = parseIp(host);
      if (!ip.ok) { is.error(p, `${JSON.stringify(clip(host))} is not a valid IPv4 address: ${ip.reason}`); return undefined; }
    } else {
      const e = checkHostname(host);
      if (e) { is.error(p, `host ${JSON.stringify(clip(host))} ${e}`); return undefined; }
    }
  }
  if (port !== undefined && (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) {
    is.error(p, `port ${JSON.stringify(clip(port, 16))} must be a number from 1 to 65535`);
    return undefined;
  }
  return { tls: scheme === 'mqtts', url };
}

function checkHealth(is: Issues, v: unknown): ResolvedHealth | undefined {
  const path = 'health';
  const known = ['broker', 'intervalSeconds', 'ca', 'cert', 'key', 'username', 'password'];
  const o = section(is, v, path, known, ['broker'], 'an object like { "broker": "mqtts://fleet.example.net:8883" }');
  if (!o) return undefined;
  let bad = false;
  const brokerRaw = str(is, o, 'broker', path, { max: 2048 });
  const broker = brokerRaw === undefined ? undefined : checkBroker(is, brokerRaw);
  if (!broker) bad = true;
  const interval = int(is, o, 'intervalSeconds', path, 'seconds');
  if (own(o, 'intervalSeconds') && interval === undefined) bad = true;
  if (interval !== undefined && (interval < HEALTH_INTERVAL_RANGE.min || interval > HEALTH_INTERVAL_RANGE.max)) {
    is.error('health.intervalSeconds', `${interval} is out of range: use ${HEALTH_INTERVAL_RANGE.min}-${HEALTH_INTERVAL_RANGE.max} seconds`);
    bad = true;
  }
  const out: ResolvedHealth = { broker: brokerRaw ?? '', intervalSeconds: interval ?? DEFAULT_HEALTH_INTERVAL_SECONDS };
  const files: Array<['ca' | 'cert' | 'key', string]> = [['ca', 'the broker CA certificate'], ['cert', 'the client certificate'], ['key', 'the client private key']];
  for (const [k, what] of files) {
    if (!own(o, k)) continue;
    const f = absPath(is, o, k, path, what, k === 'key');
    if (f === undefined) bad = true; else out[k] = f;
  }
  if (own(o, 'cert') !== own(o, 'key')) {
    is.error(own(o, 'cert') ? 'health.key' : 'health.cert', 'health.cert and health.key go together (client certificate authentication needs both)');
    bad = true;
  }
  if (broker && !broker.tls) {
    const tlsOnly = ['ca', 'cert', 'key'].filter((k) => own(o, k));
    if (tlsOnly.length) {
      is.error('health.broker', `uses mqtt:// (no TLS) but ${tlsOnly.map((k) => `health.${k}`).join(', ')} ${tlsOnly.length > 1 ? 'are' : 'is'} set; use mqtts://`);
      bad = true;
    }
  }
  if (own(o, 'username')) {
    const u = str(is, o, 'username', path, { max: 1024 });
    if (u === undefined) bad = true; else out.username = u;
  }
  if (own(o, 'password')) {
    const pw = str(is, o, 'password', path, { secret: true, max: 1024 });
    if (pw === undefined) bad = true;
    else {
      out.password = pw;
      if (!own(o, 'username')) { is.error('health.password', 'is set but health.username is not; MQTT sends a password only with a user name'); bad = true; }
      if (broker && !broker.tls) is.warn('health.password', 'will be sent unencrypted because health.broker uses mqtt://; use mqtts://');
    }
  }
  return bad ? undefined : out;
}

function checkConsole(is: Issues, v: unknown): ResolvedConsole | undefined {
  const path = 'console';
  const o = section(is, v, path, ['path', 'baudRate'], ['path'], 'an object like { "path": "/dev/serial0", "baudRate": 115200 }');
  if (!o) return undefined;
  let bad = false;
  const dev = absPath(is, o, 'path', path, 'the serial device');
  if (dev === undefined) bad = true;
  const baud = int(is, o, 'baudRate', path, 'bits per second');
  if (own(o, 'baudRate') && baud === undefined) bad = true;
  if (baud !== undefined && !STANDARD_BAUD_RATES.includes(baud)) {
    const nearest = STANDARD_BAUD_RATES.reduce((a, b) => (Math.abs(b - baud) < Math.abs(a - baud) ? b : a));
    is.error('console.baudRate', `${baud} is not a standard serial rate (did you mean ${nearest}?); standard rates: ${STANDARD_BAUD_RATES.join(', ')}`);
    bad = true;
  }
  if (bad || dev === undefined) return undefined;
  return { path: dev, baudRate: baud ?? DEFAULT_BAUD_RATE };
}

function checkBoard(is: Issues, v: unknown): BoardSection | undefined {
  const o = section(is, v, 'board', ['profile'], [], `an object like { "profile": "rpi4" } (profiles: ${BOARD_PROFILES.join(', ')})`);
  if (!o) return undefined;
  if (!own(o, 'profile')) return {};
  const p = str(is, o, 'profile', 'board', { max: 64 });
  if (p === undefined) return undefined;
  if (!(BOARD_PROFILES as readonly string[]).includes(p)) {
    const s = suggestKey(p, BOARD_PROFILES);
    is.error('board.profile', `${JSON.stringify(clip(p))} is not a known board${s ? ` (did you mean "${s}"?)` : ''}; use one of ${BOARD_PROFILES.join(', ')}, or leave it out to detect the board`);
    return undefined;
  }
  return { profile: p as BoardSection['profile'] };
}

/** Validates a parsed config file and applies defaults. Never throws on any JSON value. */
export function validateConfig(json: unknown): ValidationResult {
  const is = new Issues();
  const top = section(is, json, ROOT, ['device', 'lan', 'tunnel', 'health', 'console', 'board'], ['device', 'lan', 'tunnel'],
    'the file to contain a JSON object ({ "device": ..., "lan": ..., "tunnel": ... })');
  if (!top) { is.finish(); return { ok: false, errors: is.errors, warnings: is.warnings }; }

  const device = own(top, 'device') ? checkDevice(is, top.device) : undefined;
  const lan = own(top, 'lan') ? checkLan(is, top.lan) : undefined;
  const tunnel = own(top, 'tunnel') ? checkTunnel(is, top.tunnel, lan) : undefined;
  let health: ResolvedHealth | undefined;
  if (own(top, 'health')) health = checkHealth(is, top.health);
  else is.warn('health', 'is not configured: this box will not report its state to the fleet');
  const console_ = own(top, 'console') ? checkConsole(is, top.console) : undefined;
  const board = own(top, 'board') ? checkBoard(is, top.board) : undefined;

  is.finish();
  if (is.errors.length || !device || !lan || !tunnel || (own(top, 'health') && !health) || (own(top, 'console') && !console_) || (own(top, 'board') && !board)) {
    if (is.errors.length === 0) is.errors.push({ path: ROOT, message: 'is invalid' }); // unreachable by design; never report ok without a config
    return { ok: false, errors: is.errors, warnings: is.warnings };
  }
  const config: ResolvedConfig = { device, lan: { interface: lan.interface, address: lan.address }, tunnel };
  if (health) config.health = health;
  if (console_) config.console = console_;
  if (board) config.board = board;
  return { ok: true, config, warnings: is.warnings };
}
