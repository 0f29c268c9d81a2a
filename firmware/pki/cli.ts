// `outpost key|csr|cert ...`: the on-box key management commands. Thin: argument parsing and
// printing around the functions in this folder, which the serial console calls directly.
import { parseArgs } from 'node:util';
import { createCsr, csrPem } from './csr.ts';
import { formatCertificateInfo, importCertificateFiles, showCertificateFile } from './cert-tools.ts';
import { KEY_TYPES, generateKeyFile, isKeyType, writeFileAtomic } from './keys.ts';
import { privateKeyFromFile, readBounded } from './load.ts';

export const PKI_USAGE = `  outpost key generate --type ed25519|ecdsa-p256 --out FILE [--force]
                                                               make a private key on the box (0600)
  outpost csr --key FILE --id ID [--out FILE]                  certificate request for identity ID
  outpost cert import --cert FILE --key FILE [--ca FILE] [--id ID] [--out FILE]
                                                               check a signed certificate (and install it)
  outpost cert show FILE                                       subject, issuer, validity, fingerprint`;

export interface Io {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export const isPkiCommand = (cmd: string | undefined) => cmd === 'key' || cmd === 'csr' || cmd === 'cert';

/** Runs `key ...`, `csr ...` or `cert ...`; returns the exit code (2 for usage errors). */
export async function runPkiCommand(argv: string[], io: Io): Promise<number> {
  const usage = (msg: string) => { io.stderr.write(`outpost: ${msg}\nusage:\n${PKI_USAGE}\n`); return 2; };
  const [cmd, sub] = argv;
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    const rest = cmd === 'csr' ? argv.slice(1) : argv.slice(2);
    ({ values, positionals } = parseArgs({
      args: rest, strict: true, allowPositionals: true,
      options: {
        type: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' }, key: { type: 'string' },
        id: { type: 'string' }, cert: { type: 'string' }, ca: { type: 'string' },
      },
    }));
  } catch (err) {
    return usage((err as Error).message);
  }
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  try {
    if (cmd === 'key' && sub === 'generate') {
      const type = str('type');
      const out = str('out');
      if (!isKeyType(type)) return usage(`--type must be one of ${KEY_TYPES.join(', ')}`);
      if (!out) return usage('--out FILE is required');
      const k = generateKeyFile(out, type, { force: values.force === true });
      io.stdout.write(`${k.type} key written to ${k.path} (mode 0600)\npublic key SHA-256: ${k.publicKeyId}\n`);
      return 0;
    }
    if (cmd === 'csr') {
      const keyFile = str('key');
      const id = str('id');
      if (!keyFile || !id) return usage('csr needs --key FILE and --id ID');
      const key = privateKeyFromFile('--key', keyFile, readBounded('--key', keyFile));
      const pem = csrPem(createCsr(key, id));
      const out = str('out');
      if (out) {
        writeFileAtomic(out, pem, 0o644);
        io.stdout.write(`certificate request for "${id}" written to ${out}\n`);
      } else {
        io.stdout.write(pem);
      }
      return 0;
    }
    if (cmd === 'cert' && sub === 'show') {
      const file = positionals[0];
      if (!file) return usage('cert show needs a FILE');
      const infos = showCertificateFile(file);
      io.stdout.write(infos.map(formatCertificateInfo).join('\n'));
      return 0;
    }
    if (cmd === 'cert' && sub === 'import') {
      const cert = str('cert');
      const keyFile = str('key');
      if (!cert || !keyFile) return usage('cert import needs --cert FILE and --key FILE');
      const ca = str('ca');
      const id = str('id');
      const out = str('out');
      const r = importCertificateFiles({ cert, key: keyFile, ...(ca ? { ca } : {}), ...(id !== undefined ? { localId: id } : {}), ...(out ? { out } : {}) });
      for (const w of r.warnings) io.stderr.write(`warning: ${w}\n`);
      io.stdout.write(formatCertificateInfo(r.info));
      io.stdout.write(`OK: the certificate belongs to the key${r.ca ? ` and chains to CA "${r.ca}"` : ''}${out ? `; written to ${out}` : ''}\n`);
      return 0;
    }
  } catch (err) {
    io.stderr.write(`outpost ${cmd}${sub && cmd !== 'csr' ? ` ${sub}` : ''}: ${(err as Error).message}\n`);
    return 1;
  }
  return usage(`unknown command "${argv.join(' ')}"`);
}

