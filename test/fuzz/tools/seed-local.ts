// Writes the seeds of the targets that read local input (config file, serial console):
//   node --import tsx test/fuzz/tools/seed-local.ts [--out test/fuzz/corpus]
// The config seeds are the documented example and the minimal config (plus a certificate-auth
// variant); the console seeds are what a technician types and what outpost-provision sends.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { exampleConfig, minimalConfig } from '../../unit/config/fixtures.ts';

const { values: args } = parseArgs({ options: { out: { type: 'string', default: 'test/fuzz/corpus' } } });

function save(target: string, data: Buffer | string): void {
  const dir = join(args.out!, target);
  mkdirSync(dir, { recursive: true });
  const b = Buffer.from(data);
  writeFileSync(join(dir, `seed-${createHash('sha1').update(b).digest('hex').slice(0, 12)}`), b);
}

const cert = exampleConfig();
cert.tunnel.auth = { key: '/etc/outpost/key.pem', cert: '/etc/outpost/cert.pem', ca: ['/etc/outpost/ca.pem'] };
const responder = minimalConfig();
responder.tunnel.remote = '%any';
for (const c of [exampleConfig(), minimalConfig(), cert, responder]) save('config-file', JSON.stringify(c, null, 2));

const typed = ['login 123456', 'set tunnel.remote hq.example.net', 'set tunnel.remoteSubnets 10.2.0.0/16,10.3.0.0/16',
  'set tunnel.auth.psk correct-horse-battery-staple-42', 'show', 'diff', 'commit confirmed 5', 'confirm', 'status', 'mode json'];
save('console-line', Buffer.concat([Buffer.from([1]), Buffer.from(typed.join('\r') + '\r')])); // interactive, byte-wise
save('console-line', Buffer.concat([Buffer.from([0x0f]), Buffer.from('set device.id a\x7f\x7fbranch-7\r\x1b[A\x03\x15show\r')]));
const requests = [
  { id: 1, cmd: 'hello' }, { id: 2, cmd: 'status' }, { id: 'x', cmd: 'set', field: 'tunnel.remote', value: 'hq.example.net' },
  { id: 3, cmd: 'load', config: minimalConfig() }, { id: 4, cmd: 'commit', confirmed: 300 }, { id: null, cmd: 'device' },
];
save('console-line', Buffer.concat([Buffer.from([0x40]), Buffer.from(requests.map((r) => '\x15' + JSON.stringify(r) + '\n').join(''))])); // machine mode
for (const r of requests) save('console-request', JSON.stringify(r));

// Certificates as strongSwan's pki makes them (what an HQ sends in CERT payloads): a CA and an
// end entity with SANs, for each key type; plus a certificate from node's own test CA helper.
for (const type of ['ecdsa', 'ed25519', 'rsa']) {
  const pki = (...a: string[]) => execFileSync('pki', a, { maxBuffer: 1 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  const caKey = pki('--gen', '--type', type, ...(type === 'rsa' ? ['--size', '2048'] : []), '--outform', 'der');
  const keyFile = join(args.out!, `.ca-${type}.der`);
  writeFileSync(keyFile, caKey);
  try {
    const ca = pki('--self', '--ca', '--in', keyFile, '--type', type === 'ecdsa' ? 'ecdsa' : type === 'ed25519' ? 'priv' : 'rsa', '--dn', `C=CH, O=Outpost Fuzz, CN=Fuzz ${type} CA`, '--outform', 'der');
    save('x509-cert', ca);
    const caFile = join(args.out!, `.ca-${type}.crt`);
    writeFileSync(caFile, ca);
    const ee = pki('--issue', '--cacert', caFile, '--cakey', keyFile, '--in', keyFile, '--type', 'priv', '--dn', `C=CH, O=Outpost Fuzz, CN=hq.example.net`,
      '--san', 'hq.example.net', '--san', '198.51.100.2', '--san', 'ops@example.net', '--flag', 'serverAuth', '--outform', 'der');
    save('x509-cert', ee);
    execFileSync('rm', ['-f', caFile]);
  } finally {
    execFileSync('rm', ['-f', keyFile]);
  }
}
