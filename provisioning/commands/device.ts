// The box itself: info, status, hello (the tool's handshake), mode, key, factory-reset.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { generateKeyFile, KeyFileExistsError } from '../../firmware/pki/keys.ts';
import { createCsr, csrPem } from '../../firmware/pki/csr.ts';
import { parseJsonText } from '../../firmware/config/json.ts';
import { statusText } from '../../firmware/cli/status-text.ts';
import { deviceInfoText } from '../device-info.ts';
import { ConsoleError } from '../errors.ts';
import { isObj } from '../fields.ts';
import { PROTOCOL_VERSION } from '../protocol.ts';
import type { CommandDef } from './types.ts';

export const info: CommandDef = {
  name: 'info',
  usage: ['info'],
  summary: 'identity, firmware, board, serial number, interfaces and MACs',
  details: ['What to write on the ticket: the box\'s identity, firmware version, board, serial number,', 'network interfaces with their MAC addresses, and its certificate fingerprint (none yet).'],
  login: false,
  params: {},
  fromWords(words) {
    if (words.length) throw new ConsoleError('usage', 'usage: info');
    return {};
  },
  async run(ctx) {
    const d = await ctx.deviceInfo();
    return { data: d, text: deviceInfoText(d) };
  },
};

export const status: CommandDef = {
  name: 'status',
  usage: ['status'],
  summary: 'the tunnel, its SAs and the health link (like outpost status)',
  details: ['The tunnel state, IKE and CHILD SAs with algorithms and counters, the last error, the fleet', 'broker link, and whether a commit waits for confirmation or the candidate has changes.'],
  login: false,
  params: {},
  fromWords(words) {
    if (words.length) throw new ConsoleError('usage', 'usage: status');
    return {};
  },
  async run(ctx) {
    const st = ctx.daemon.status();
    const pending = ctx.committer.pendingConfirm;
    const dirty = ctx.candidate.dirty;
    const text = statusText(st).trimEnd().split('\n');
    if (pending) text.push(`a commit waits for "confirm": it rolls back by itself in ${Math.max(0, Math.ceil((pending.deadline - ctx.clock.now()) / 60_000))} min`);
    if (dirty) text.push('the candidate has uncommitted changes ("diff" lists them)');
    return { data: { ...st, pendingConfirm: pending ? { deadline: new Date(pending.deadline).toISOString() } : null, candidateDirty: dirty }, text };
  },
};

export const hello: CommandDef = {
  name: 'hello',
  usage: ['hello'],
  summary: 'protocol version and who this is (for tools)',
  details: ['Answers with the protocol version, firmware, device id and whether a PIN is set and given.'],
  login: false,
  params: { client: 'string' },
  fromWords() { return {}; },
  async run(ctx) {
    const d = { protocol: PROTOCOL_VERSION, firmwareVersion: ctx.firmwareVersion, deviceId: ctx.daemon.config.device.id, pinSet: ctx.pins.isSet, loggedIn: ctx.session.isLoggedIn, mode: ctx.session.mode };
    return { data: d, text: [`outpost ${d.firmwareVersion} on ${d.deviceId}; console protocol ${d.protocol}`] };
  },
};

export const mode: CommandDef = {
  name: 'mode',
  usage: ['mode human|json'],
  summary: 'switch between this CLI and JSON lines for tools',
  details: [
    'json: no echo, no prompt, one JSON response per request and JSON events (see PROTOCOL.md).',
    'Any line starting with "{" is a JSON request and switches to json; any other line switches back.',
  ],
  login: false,
  params: { mode: 'string' },
  required: ['mode'],
  fromWords(words) {
    if (words.length !== 1) throw new ConsoleError('usage', 'usage: mode human|json');
    return { mode: words[0] };
  },
  async run(ctx, p) {
    if (p.mode !== 'human' && p.mode !== 'json') throw new ConsoleError('usage', 'usage: mode human|json', { field: 'mode' });
    ctx.session.mode = p.mode;
    return { data: { mode: p.mode }, text: [`mode ${p.mode}`] };
  },
};

export const key: CommandDef = {
  name: 'key',
  usage: ['key generate [ed25519|ecdsa-p256] [force]', 'key show'],
  summary: 'make the box\'s private key and a certificate request; show the certificate fingerprint',
  details: [
    '"key generate" makes a private key on the box (Ed25519 by default, or ECDSA P-256) in',
    'outpost.key beside the config file (mode 0600; it never leaves the box) and prints a PKCS#10',
    'certificate request for the candidate tunnel.localId: give it to the company CA, then install',
    'the signed certificate and set tunnel.auth.key/cert/ca. An existing key is kept unless "force".',
    '"key show" prints the SHA-256 fingerprint of tunnel.auth.cert.',
  ],
  login: true,
  params: { action: 'string', type: 'string', force: 'bool' },
  required: ['action'],
  fromWords(words) {
    if (words.length < 1 || words.length > 3) throw new ConsoleError('usage', 'usage: key generate [ed25519|ecdsa-p256] [force] | key show');
    const rest = words.slice(1);
    return { action: words[0], force: rest.includes('force'), ...(rest.find((w) => w !== 'force') ? { type: rest.find((w) => w !== 'force') } : {}) };
  },
  async run(ctx, p) {
    if (p.action === 'show') {
      const fp = (await ctx.deviceInfo()).certificateFingerprint;
      return { data: { fingerprint: fp }, text: [`certificate fingerprint: ${fp ? `SHA-256 ${fp}` : 'n/a (no certificate configured)'}`] };
    }
    if (p.action === 'generate') {
      const type = (p.type as string | undefined) ?? 'ed25519';
      if (type !== 'ed25519' && type !== 'ecdsa-p256') throw new ConsoleError('usage', `key type "${type}" is not one of ed25519, ecdsa-p256`, { field: 'type' });
      const localId = (ctx.candidate.value.tunnel as { localId?: unknown } | undefined)?.localId;
      if (typeof localId !== 'string' || !localId) throw new ConsoleError('usage', 'set tunnel.localId first: the certificate request carries it', { field: 'tunnel.localId' });
      const path = join(dirname(ctx.committer.configPath), 'outpost.key');
      let made;
      try {
        made = generateKeyFile(path, type, { force: p.force === true });
      } catch (e) {
        if (e instanceof KeyFileExistsError) throw new ConsoleError('exists', `${path} already holds a key; "key generate ${type} force" replaces it (certificates for the old key stop working)`, { field: 'force' });
        throw e;
      }
      const csr = csrPem(createCsr(made.key, localId));
      return { data: { keyPath: path, type, csr }, text: [`private key: ${path} (${type}, mode 0600, stays on this box)`, `certificate request for ${localId}:`, ...csr.trimEnd().split('\n')] };
    }
    throw new ConsoleError('usage', 'usage: key generate|show', { field: 'action' });
  },
};

export const factoryReset: CommandDef = {
  name: 'factory-reset',
  usage: ['factory-reset      (asks you to type the device id to confirm)'],
  summary: 'return to the configuration and PIN the image shipped with',
  details: [
    'Replaces the configuration with the image\'s factory configuration, deletes the last-known-good',
    'copy (it holds the old secrets), cancels a pending "commit confirmed", and restores the image\'s',
    'console PIN (or removes the PIN when the image has none). Ends the login.',
  ],
  login: true,
  params: { confirm: 'string' },
  required: ['confirm'],
  fromWords(words, ctx) {
    if (words.length) throw new ConsoleError('usage', 'usage: factory-reset');
    return { steps: [{ label: `this erases the site configuration and secrets; type the device id (${ctx.daemon.config.device.id}) to confirm: `, secret: false }], finish: ([c]) => ({ confirm: c }) };
  },
  async run(ctx, p) {
    if (p.confirm !== ctx.daemon.config.device.id) throw new ConsoleError('cancelled', 'the device id did not match; nothing was changed', { field: 'confirm' });
    let text: string;
    try {
      text = await readFile(ctx.factory.configPath, 'utf8');
    } catch {
      throw new ConsoleError('no-factory-config', `this image has no factory configuration (${ctx.factory.configPath}); nothing was changed`);
    }
    const j = parseJsonText(text);
    if (!j.ok || !isObj(j.value)) throw new ConsoleError('no-factory-config', `the factory configuration ${ctx.factory.configPath} is not valid JSON; nothing was changed`);
    const sections = await ctx.committer.reset(j.value);
    ctx.candidate.setRunning(ctx.committer.running);
    await ctx.pins.resetTo(ctx.factory.pinPath);
    ctx.session.logout();
    return { data: { sections, pinSet: ctx.pins.isSet }, text: [`factory configuration restored (${sections.join(', ') || 'nothing running changed'}); console PIN ${ctx.pins.isSet ? 'reset to the image\'s' : 'removed: set a new one with "pin set"'}; logged out`] };
  },
};
