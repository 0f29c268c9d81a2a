// What the technician reads off the box, from a fake filesystem root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceInfoText, readDeviceInfo } from '../../../provisioning/device-info.ts';
import { issue } from '../pki/mini-ca.ts';
import { resolve, siteConfig } from './helpers.ts';

function fakeRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'outpost-devinfo-'));
  mkdirSync(join(root, 'proc/device-tree'), { recursive: true });
  writeFileSync(join(root, 'proc/device-tree/model'), 'Raspberry Pi 4 Model B Rev 1.4\u0000');
  writeFileSync(join(root, 'proc/device-tree/serial-number'), '10000000a1b2c3d4\u0000');
  for (const [n, mac, st] of [['eth0', 'dc:a6:32:01:02:03', 'up'], ['eth1', 'dc:a6:32:01:02:04', 'down'], ['lo', '00:00:00:00:00:00', 'unknown']]) {
    mkdirSync(join(root, 'sys/class/net', n!), { recursive: true });
    writeFileSync(join(root, 'sys/class/net', n!, 'address'), `${mac}\n`);
    writeFileSync(join(root, 'sys/class/net', n!, 'operstate'), `${st}\n`);
  }
  return root;
}

const ifs = () => ({
  eth0: [{ address: '198.51.100.1', netmask: '255.255.255.0', family: 'IPv4' as const, mac: 'dc:a6:32:01:02:03', internal: false, cidr: '198.51.100.1/24' }],
  lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4' as const, mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
});

test('board, serial number, interfaces with MACs (down ones too), no loopback', async () => {
  const root = fakeRoot();
  try {
    const d = await readDeviceInfo(resolve(siteConfig()), true, { root, networkInterfaces: ifs, firmwareVersion: '9.9.9' });
    assert.equal(d.board, 'Raspberry Pi 4 Model B Rev 1.4');
    assert.equal(d.serialNumber, '10000000a1b2c3d4');
    assert.equal(d.firmwareVersion, '9.9.9');
    assert.equal(d.deviceId, 'branch-042');
    assert.deepEqual(d.interfaces, [
      { name: 'eth0', mac: 'dc:a6:32:01:02:03', state: 'up', addresses: ['198.51.100.1/24'] },
      { name: 'eth1', mac: 'dc:a6:32:01:02:04', state: 'down', addresses: [] },
    ]);
    assert.equal(d.certificateFingerprint, null);
    const text = deviceInfoText(d).join('\n');
    assert.match(text, /eth1\s+dc:a6:32:01:02:04\s+down/);
    assert.match(text, /certificate:\s+n\/a/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a generic board: machine-id as the serial, "generic" as the board', async () => {
  const root = mkdtempSync(join(tmpdir(), 'outpost-devinfo-'));
  try {
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\n');
    const d = await readDeviceInfo(resolve(siteConfig()), false, { root, networkInterfaces: () => ({}), firmwareVersion: '1' });
    assert.match(d.board, /^generic /);
    assert.equal(d.serialNumber, '0123456789abcdef0123456789abcdef');
    assert.equal(d.pinSet, false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('with certificate authentication: the SHA-256 fingerprint of tunnel.auth.cert', async () => {
  const root = mkdtempSync(join(tmpdir(), 'outpost-devinfo-'));
  try {
    const cert = issue({ subject: 'CN=branch-042.example.net' });
    const pem = `-----BEGIN CERTIFICATE-----\n${cert.der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
    writeFileSync(join(root, 'branch.crt'), pem);
    const raw = siteConfig();
    (raw.tunnel as Record<string, unknown>).auth = { key: join(root, 'branch.key'), cert: join(root, 'branch.crt'), ca: [join(root, 'ca.crt')] };
    const d = await readDeviceInfo(resolve(raw), true, { root, networkInterfaces: () => ({}), firmwareVersion: '1' });
    const want = createHash('sha256').update(cert.der).digest('hex').toUpperCase().match(/../g)!.join(':');
    assert.equal(d.certificateFingerprint, want);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
