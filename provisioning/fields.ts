// The config fields the console can set, one entry per leaf of the config file (DESIGN.md,
// "Config file"), with the value's type, whether it is a secret, and a line of help. Values are
// checked here only for their JSON type; what they mean is checked by firmware/config's
// validateConfig, so the console and the config file can never disagree.
import { parseJsonText } from '../firmware/config/json.ts';
import { suggestKey } from '../firmware/config/suggest.ts';
import { ConsoleError } from './errors.ts';

export type FieldType = 'string' | 'int' | 'list';

export interface FieldSpec {
  path: string;
  type: FieldType;
  /** Never shown, echoed or exported. */
  secret?: boolean;
  /** Cannot be unset (the config is invalid without it). */
  required?: boolean;
  /** tunnel.auth is either a PSK or a key and certificate: setting one kind removes the other. */
  authKind?: 'psk' | 'cert';
  help: string;
  example: string;
}

export const FIELDS: readonly FieldSpec[] = [
  { path: 'device.id', type: 'string', required: true, help: 'the box\'s name in MQTT topics (outpost/<id>/...)', example: 'branch-042' },
  { path: 'lan.interface', type: 'string', required: true, help: 'the Linux interface of the branch LAN port', example: 'eth1' },
  { path: 'lan.address', type: 'string', required: true, help: 'the box\'s own LAN address with prefix length', example: '10.1.0.1/24' },
  { path: 'tunnel.remote', type: 'string', required: true, help: 'HQ\'s host name or address, or %any to wait for HQ (responder)', example: 'hq.example.net' },
  { path: 'tunnel.localId', type: 'string', required: true, help: 'this box\'s IKE identity (FQDN, email, IP address or DN)', example: 'branch-042.example.net' },
  { path: 'tunnel.remoteId', type: 'string', help: 'the identity HQ must prove (default: tunnel.remote)', example: 'hq.example.net' },
  { path: 'tunnel.auth.psk', type: 'string', secret: true, authKind: 'psk', help: 'pre-shared key, 20+ random characters; never shown (leave the value out to be asked for it without echo)', example: '' },
  { path: 'tunnel.auth.key', type: 'string', authKind: 'cert', help: 'private key file (absolute path)', example: '/etc/outpost/branch.key' },
  { path: 'tunnel.auth.cert', type: 'string', authKind: 'cert', help: 'certificate file (absolute path)', example: '/etc/outpost/branch.crt' },
  { path: 'tunnel.auth.ca', type: 'list', authKind: 'cert', help: 'CA certificate files that may sign HQ\'s certificate', example: '/etc/outpost/ca.crt' },
  { path: 'tunnel.auth.crl', type: 'list', authKind: 'cert', help: 'certificate revocation list files', example: '/etc/outpost/ca.crl' },
  { path: 'tunnel.localSubnets', type: 'list', help: 'subnets behind this box (default: the LAN of lan.address)', example: '10.1.0.0/24' },
  { path: 'tunnel.remoteSubnets', type: 'list', required: true, help: 'subnets at HQ reached through the tunnel', example: '10.2.0.0/16,10.3.0.0/16' },
  { path: 'tunnel.ike', type: 'list', help: 'IKE proposals in strongSwan syntax, most preferred first', example: 'aes256gcm16-prfsha256-x25519' },
  { path: 'tunnel.esp', type: 'list', help: 'ESP proposals in strongSwan syntax, most preferred first', example: 'aes256gcm16' },
  { path: 'tunnel.dpdSeconds', type: 'int', help: 'dead peer detection interval, 0 = off (default 30)', example: '30' },
  { path: 'tunnel.ikeLifetimeSeconds', type: 'int', help: 'IKE SA rekey interval (default 14400)', example: '14400' },
  { path: 'tunnel.childLifetimeSeconds', type: 'int', help: 'CHILD SA rekey interval (default 3600)', example: '3600' },
  { path: 'health.broker', type: 'string', help: 'fleet MQTT broker, mqtt://host[:port] or mqtts://host[:port]', example: 'mqtts://fleet.example.net:8883' },
  { path: 'health.intervalSeconds', type: 'int', help: 'seconds between health reports (default 30)', example: '30' },
  { path: 'health.ca', type: 'string', help: 'CA certificate file for the broker (mqtts)', example: '/etc/outpost/fleet-ca.crt' },
  { path: 'health.cert', type: 'string', help: 'client certificate file for the broker (mqtts)', example: '/etc/outpost/fleet.crt' },
  { path: 'health.key', type: 'string', help: 'client key file for the broker (mqtts)', example: '/etc/outpost/fleet.key' },
  { path: 'health.username', type: 'string', help: 'broker user name', example: 'branch-042' },
  { path: 'health.password', type: 'string', secret: true, help: 'broker password; never shown (leave the value out to be asked for it without echo)', example: '' },
  { path: 'console.path', type: 'string', help: 'serial device of this console (takes effect at the next start)', example: '/dev/serial0' },
  { path: 'console.baudRate', type: 'int', help: 'serial speed (default 115200; takes effect at the next start)', example: '115200' },
];

/** Sections that may be removed whole with `unset`. */
export const OPTIONAL_SECTIONS = ['health', 'console'] as const;
export const SECTIONS = ['device', 'lan', 'tunnel', 'health', 'console'] as const;

const BY_PATH = new Map(FIELDS.map((f) => [f.path, f]));

export function fieldSpec(path: string): FieldSpec | undefined {
  return BY_PATH.get(path);
}

/** The field, or an 'unknown-field' error with a did-you-mean. */
export function requireField(path: string): FieldSpec {
  const f = BY_PATH.get(path);
  if (f) return f;
  const s = suggestKey(path, FIELDS.map((x) => x.path));
  const shown = path.length > 64 ? path.slice(0, 64) + '...' : path;
  throw new ConsoleError('unknown-field', `unknown field "${shown}"${s ? ` (did you mean "${s}"?)` : ''}; type "help fields" for the list`, { field: shown });
}

/** True for fields whose values must never be shown (by path, including inside lists). */
export function isSecretPath(path: string): boolean {
  return BY_PATH.get(path)?.secret === true;
}

/** A value given as JSON (machine mode): checks its type against the field. */
export function checkJsonValue(f: FieldSpec, v: unknown): unknown {
  const what = f.secret ? 'value' : `value ${clip(JSON.stringify(v) ?? String(v))}`;
  switch (f.type) {
    case 'string':
      if (typeof v !== 'string') throw new ConsoleError('invalid', `${f.path}: expected a string, got a ${kind(v)}`, { field: f.path });
      return v;
    case 'int':
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new ConsoleError('invalid', `${f.path}: expected a whole number, got the ${what}`, { field: f.path });
      return v;
    case 'list':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
        throw new ConsoleError('invalid', `${f.path}: expected a list of strings like ["${f.example.split(',')[0]}"], got the ${what}`, { field: f.path });
      }
      return v;
  }
}

/**
 * A value typed at the human console (the words after the field name): strings are the words
 * joined by single spaces (quote to keep other spacing), numbers are digits, lists are words
 * and/or comma-separated items, or a JSON array.
 */
export function parseHumanValue(f: FieldSpec, words: string[]): unknown {
  const text = words.join(' ');
  switch (f.type) {
    case 'string':
      return text;
    case 'int': {
      if (words.length !== 1 || !/^[0-9]{1,15}$/.test(text)) {
        throw new ConsoleError('invalid', `${f.path}: expected a whole number like ${f.example}, got ${JSON.stringify(clip(text))}`, { field: f.path });
      }
      return Number(text);
    }
    case 'list': {
      if (text.startsWith('[')) {
        const j = parseJsonText(text);
        if (!j.ok) throw new ConsoleError('invalid', `${f.path}: the list is not valid JSON (column ${j.column}: ${j.message})`, { field: f.path });
        return checkJsonValue(f, j.value);
      }
      const items = words.flatMap((w) => w.split(',')).map((s) => s.trim()).filter((s) => s !== '');
      if (items.length === 0) throw new ConsoleError('invalid', `${f.path}: give at least one item, e.g. ${f.example}`, { field: f.path });
      return items;
    }
  }
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  return typeof v;
}

function clip(s: string, max = 48): string {
  return s.length > max ? s.slice(0, max) + '...' : s;
}

// ---- plain-object access by dotted path (paths come from FIELDS/SECTIONS only) ----

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function getPath(root: Obj, path: string): unknown {
  let cur: unknown = root;
  for (const k of path.split('.')) {
    if (!isObj(cur) || !Object.prototype.hasOwnProperty.call(cur, k)) return undefined;
    cur = cur[k];
  }
  return cur;
}

export function setPath(root: Obj, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = root;
  for (const k of keys.slice(0, -1)) {
    if (!isObj(cur[k])) cur[k] = {};
    cur = cur[k] as Obj;
  }
  cur[keys[keys.length - 1]!] = value;
}

/** Removes a field; an object left empty by it is removed too. */
export function deletePath(root: Obj, path: string): boolean {
  const keys = path.split('.');
  const chain: Obj[] = [root];
  for (const k of keys.slice(0, -1)) {
    const next = chain[chain.length - 1]![k];
    if (!isObj(next)) return false;
    chain.push(next);
  }
  const last = keys[keys.length - 1]!;
  const parent = chain[chain.length - 1]!;
  if (!Object.prototype.hasOwnProperty.call(parent, last)) return false;
  delete parent[last];
  for (let i = chain.length - 1; i > 0; i--) {
    if (Object.keys(chain[i]!).length > 0) break;
    delete chain[i - 1]![keys[i - 1]!];
  }
  return true;
}

/** A deep copy of a JSON value. */
export function cloneJson<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}
