// outpost-provision: the technician's tool (bundled as dist/outpost-provision.mjs).
//   outpost-provision list                                 serial ports on this laptop
//   outpost-provision apply --port P SITE.json [options]   provision the box in one go
//   outpost-provision console --port P                     the box's human console (Ctrl-] quits)
//   outpost-provision info|status --port P                 what the box reports
//   outpost-provision hash-pin [--new-pin-file F]          a PIN state file for the image build
import { open, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { SerialPort } from 'serialport';
import { parseJsonText } from '../firmware/config/json.ts';
import { statusText } from '../firmware/cli/status-text.ts';
import type { StatusModel } from '../firmware/cli/status-model.ts';
import { deviceInfoText, type DeviceInfo } from './device-info.ts';
import { createPinStateText } from './pin.ts';
import { closeSerialPort, openSerialPort } from './serial-port.ts';
import { applySite, DEFAULT_APPLY_TIMEOUT_MS } from './tool/apply.ts';
import { ClientError, ProvisionClient, RemoteError } from './tool/client.ts';
import { passThrough } from './tool/passthrough.ts';
import { summaryText } from './tool/summary.ts';

const USAGE = `usage:
  outpost-provision list
  outpost-provision apply --port PATH SITE.json [--baud N] [--pin-file F] [--new-pin-file F]
                          [--confirm-minutes N] [--timeout SECONDS] [--keep-on-failure]
                          [--summary FILE] [--json]
  outpost-provision console --port PATH [--baud N]
  outpost-provision info|status --port PATH [--baud N] [--json]
  outpost-provision hash-pin [--new-pin-file F]   prints a PIN state file for the image build

PINs come from --pin-file / --new-pin-file (first line), OUTPOST_PIN / OUTPOST_NEW_PIN, or a prompt.
"apply" commits with "commit confirmed" (default 10 minutes) and confirms once the tunnel is up;
if it does not come up the box returns to its previous configuration by itself.`;

const MAX_SITE_BYTES = 1024 * 1024;

class UsageError extends Error {}

async function readBounded(path: string, max: number): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(max + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead > max) throw new UsageError(`${path} is larger than ${max} bytes`);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

async function readSite(path: string): Promise<unknown> {
  const text = await readBounded(path, MAX_SITE_BYTES);
  const j = parseJsonText(text);
  if (!j.ok) throw new UsageError(`${path}:${j.line}:${j.column}: ${j.message}`);
  return j.value;
}

/** Reads a line from the terminal without echo. */
function askSecret(label: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return Promise.reject(new UsageError(`${label.trim()} needed, but stdin is not a terminal (use a file option or the environment)`));
  return new Promise((resolve, reject) => {
    process.stderr.write(label);
    stdin.setRawMode(true);
    stdin.resume();
    let s = '';
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') { done(); resolve(s); return; }
        if (ch === '\u0003') { done(); reject(new UsageError('cancelled')); return; }
        if (ch === '\u007f' || ch === '\b') s = [...s].slice(0, -1).join('');
        else if (ch >= ' ') s += ch;
      }
    };
    const done = () => { stdin.off('data', onData); stdin.setRawMode(false); stdin.pause(); process.stderr.write('\n'); };
    stdin.on('data', onData);
  });
}

async function secretFrom(file: string | undefined, env: string, label: string, twice = false): Promise<string> {
  if (file) return (await readBounded(file, 4096)).split(/\r?\n/)[0]!;
  const e = process.env[env];
  if (e) return e;
  const a = await askSecret(label);
  if (twice && (await askSecret('again: ')) !== a) throw new UsageError('the two entries differ');
  return a;
}

async function openPort(path: string | undefined, baudRate: number): Promise<SerialPort> {
  if (!path) throw new UsageError('--port PATH is required (see "outpost-provision list")');
  return openSerialPort(path, baudRate).catch((e: Error) => { throw new UsageError(`cannot open ${path}: ${e.message}`); });
}

async function main(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') { process.stdout.write(USAGE + '\n'); return sub ? 0 : 2; }
  const { values, positionals } = parseArgs({
    args: rest, strict: true, allowPositionals: true,
    options: {
      port: { type: 'string' }, baud: { type: 'string' }, 'pin-file': { type: 'string' }, 'new-pin-file': { type: 'string' },
      'confirm-minutes': { type: 'string' }, timeout: { type: 'string' }, 'keep-on-failure': { type: 'boolean' },
      summary: { type: 'string' }, json: { type: 'boolean' },
    },
  });
  const baud = values.baud ? Number(values.baud) : 115200;
  if (!Number.isInteger(baud) || baud <= 0) throw new UsageError('--baud takes a number like 115200');

  switch (sub) {
    case 'list': {
      const ports = await SerialPort.list();
      if (values.json) { process.stdout.write(JSON.stringify(ports, null, 2) + '\n'); return 0; }
      if (ports.length === 0) process.stdout.write('no serial ports found (is the USB-serial cable plugged in?)\n');
      for (const p of ports) {
        const id = p.vendorId ? ` [${p.vendorId}:${p.productId ?? '?'}]` : '';
        process.stdout.write(`${p.path}${p.manufacturer ? `  ${p.manufacturer}` : ''}${p.serialNumber ? `  serial ${p.serialNumber}` : ''}${id}\n`);
      }
      return 0;
    }
    case 'hash-pin': {
      const pin = await secretFrom(values['new-pin-file'], 'OUTPOST_NEW_PIN', 'new console PIN: ', true);
      process.stdout.write(await createPinStateText(pin));
      return 0;
    }
    case 'console': {
      const port = await openPort(values.port, baud);
      await passThrough(port, { stdin: process.stdin, stdout: process.stdout });
      await closeSerialPort(port);
      return 0;
    }
    case 'info':
    case 'status': {
      const port = await openPort(values.port, baud);
      const client = new ProvisionClient(port);
      try {
        await client.hello();
        const r = await client.request(sub);
        if (values.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        else process.stdout.write((sub === 'info' ? deviceInfoText(r as DeviceInfo).join('\n') + '\n' : statusText(r as StatusModel)));
        return 0;
      } finally {
        client.close();
        await closeSerialPort(port);
      }
    }
    case 'apply': {
      if (positionals.length !== 1) throw new UsageError('apply takes one site file');
      const siteFile = positionals[0]!;
      const site = await readSite(siteFile);
      const minutes = values['confirm-minutes'] === undefined ? 10 : Number(values['confirm-minutes']);
      if (!Number.isInteger(minutes) || minutes < 0 || minutes > 1440) throw new UsageError('--confirm-minutes takes 0-1440 (0: no automatic rollback)');
      const timeoutS = values.timeout === undefined ? DEFAULT_APPLY_TIMEOUT_MS / 1000 : Number(values.timeout);
      if (!(timeoutS > 0)) throw new UsageError('--timeout takes seconds');
      const port = await openPort(values.port, baud);
      const client = new ProvisionClient(port);
      try {
        const hello = await client.hello();
        let pin: string | undefined;
        let newPin: string | undefined;
        if (hello.pinSet) pin = await secretFrom(values['pin-file'], 'OUTPOST_PIN', `console PIN of ${String(hello.deviceId)}: `);
        else newPin = await secretFrom(values['new-pin-file'], 'OUTPOST_NEW_PIN', 'this box has no console PIN yet; choose one: ', true);
        const say = (l: string) => process.stderr.write(l + '\n');
        const report = await applySite(client, {
          site, confirmMinutes: minutes, timeoutMs: timeoutS * 1000, keepOnFailure: values['keep-on-failure'] === true, say,
          ...(pin !== undefined ? { pin } : {}), ...(newPin !== undefined ? { newPin } : {}),
        });
        const text = summaryText(report, { port: values.port!, siteFile });
        if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        else process.stdout.write('\n' + text);
        if (values.summary) await writeFile(values.summary, values.json ? JSON.stringify(report, null, 2) + '\n' : text, { mode: 0o644 });
        return report.ok ? 0 : 1;
      } finally {
        client.close();
        await closeSerialPort(port);
      }
    }
    default:
      throw new UsageError(`unknown command "${sub}"`);
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => {
  if (e instanceof UsageError || (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    process.stderr.write(`outpost-provision: ${(e as Error).message}\n${USAGE}\n`);
    process.exitCode = 2;
  } else if (e instanceof RemoteError || e instanceof ClientError) {
    process.stderr.write(`outpost-provision: ${e.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`outpost-provision: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
});
