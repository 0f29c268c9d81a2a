import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig, type ValidationResult } from '../../../firmware/config/validate.ts';
import { formatIssue } from '../../../firmware/config/errors.ts';
import { DEFAULT_ESP_PROPOSALS, DEFAULT_IKE_PROPOSALS } from '../../../firmware/ike/proposal.ts';
import { exampleConfig, minimalConfig } from './fixtures.ts';

function errorsOf(r: ValidationResult): string[] {
  assert.equal(r.ok, false, 'expected validation to fail');
  return r.ok ? [] : r.errors.map(formatIssue);
}

function okOf(r: ValidationResult) {
  if (!r.ok) assert.fail(`expected valid, got:\n${r.errors.map(formatIssue).join('\n')}`);
  return r;
}

function hasIssue(list: string[], re: RegExp): void {
  assert.ok(list.some((l) => re.test(l)), `no issue matching ${re} in:\n${list.join('\n')}`);
}

test('the DESIGN.md example is valid and resolves unchanged', () => {
  const r = okOf(validateConfig(exampleConfig()));
  assert.deepEqual(r.config, exampleConfig());
  assert.deepEqual(r.warnings, []);
});

test('defaults: localSubnets from lan.address, proposals, timers, remoteId = remote', () => {
  const r = okOf(validateConfig(minimalConfig()));
  const t = r.config.tunnel;
  assert.deepEqual(t.localSubnets, ['10.1.0.0/24']);
  assert.deepEqual(t.ike, DEFAULT_IKE_PROPOSALS);
  assert.deepEqual(t.esp, DEFAULT_ESP_PROPOSALS);
  assert.ok(t.ike.includes('aes256gcm16-prfsha256-x25519'), 'DESIGN.md example proposal is among the defaults');
  assert.equal(t.dpdSeconds, 30);
  assert.equal(t.ikeLifetimeSeconds, 14400);
  assert.equal(t.childLifetimeSeconds, 3600);
  assert.equal(t.remoteId, 'hq.example.net');
  assert.equal(r.config.health, undefined);
  assert.equal(r.config.console, undefined);
  assert.ok(r.warnings.some((w) => w.path === 'health'), 'missing health section is warned about');
  // A resolved config is itself a valid config file.
  const again = okOf(validateConfig(JSON.parse(JSON.stringify(r.config))));
  assert.deepEqual(again.config, r.config);
});

test('health and console defaults', () => {
  const c = minimalConfig();
  c.health = { broker: 'mqtt://10.0.0.5' };
  c.console = { path: '/dev/ttyAMA0' };
  const r = okOf(validateConfig(c));
  assert.equal(r.config.health?.intervalSeconds, 30);
  assert.equal(r.config.console?.baudRate, 115200);
});

test('all errors are collected, each naming its field', () => {
  const c = exampleConfig();
  c.tunnel.remoteSubnets = ['10.2.0.0/16', '10.2.0.0/33'];
  c.tunnel.dpdSeconds = 2;
  c.console.baudRate = 115000;
  c.device.id = 'a/b';
  const errs = errorsOf(validateConfig(c));
  assert.equal(errs.length, 4, errs.join('\n'));
  assert.ok(errs.includes('tunnel.remoteSubnets[1]: "10.2.0.0/33" is not a valid IPv4 or IPv6 prefix (prefix length must be 0-32 for IPv4)'), errs.join('\n'));
  hasIssue(errs, /^tunnel\.dpdSeconds: 2 is out of range: use 0 to turn dead peer detection off, or 5-3600/);
  hasIssue(errs, /^console\.baudRate: 115000 is not a standard serial rate \(did you mean 115200\?\)/);
  hasIssue(errs, /^device\.id: "a\/b" contains "\+", "#" or "\/"/);
});

test('unknown keys are errors with a did-you-mean', () => {
  const c = exampleConfig();
  c.tunnel.remoteSubnet = ['10.3.0.0/16'];
  c.tunnel.dpd_seconds = 30;
  c.console.baudrate = 9600;
  c.extra = 1;
  c.health.zzzzzz = 1;
  const errs = errorsOf(validateConfig(c));
  hasIssue(errs, /^tunnel\.remoteSubnet: unknown field \(did you mean "remoteSubnets"\?\)/);
  hasIssue(errs, /^tunnel\.dpd_seconds: unknown field \(did you mean "dpdSeconds"\?\)/);
  hasIssue(errs, /^console\.baudrate: unknown field \(did you mean "baudRate"\?\)/);
  hasIssue(errs, /^extra: unknown field; known fields here: device, lan, tunnel, health, console, board$/);
  hasIssue(errs, /^health\.zzzzzz: unknown field; known fields/);
});

test('odd key names are quoted in the path, and not echoed unbounded', () => {
  const c = exampleConfig();
  c.tunnel['bad key ' + 'x'.repeat(500)] = 1;
  const errs = errorsOf(validateConfig(c));
  const e = errs.find((l) => l.startsWith('tunnel["bad key'));
  assert.ok(e, errs.join('\n'));
  assert.ok(e.length < 400);
});

test('missing required fields and wrong types', () => {
  const errs = errorsOf(validateConfig({ device: {}, lan: { interface: 'eth1', address: 24 }, tunnel: { remote: 'hq.example.net', localId: 'x.example', auth: { psk: 'correct-horse-battery' }, remoteSubnets: ['10.2.0.0/16'], dpdSeconds: '30' } }));
  hasIssue(errs, /^device\.id: is required but missing$/);
  hasIssue(errs, /^lan\.address: expected a string \(text in double quotes\), got the number 24$/);
  hasIssue(errs, /^tunnel\.dpdSeconds: expected a whole number of seconds, got the string "30" \(remove the quotes\)$/);
});

test('not an object at the top', () => {
  for (const v of [null, 42, 'x', [], true]) {
    const r = validateConfig(v);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.errors.length, 1);
      assert.equal(r.errors[0]!.path, 'config');
      assert.match(r.errors[0]!.message, /expected the file to contain a JSON object/);
    }
  }
});

test('subnets with host bits suggest the network; lan.address expects host bits', () => {
  const c = exampleConfig();
  c.tunnel.localSubnets = ['10.1.0.1/24'];
  hasIssue(errorsOf(validateConfig(c)), /^tunnel\.localSubnets\[0\]: "10\.1\.0\.1\/24" has host bits set .*did you mean 10\.1\.0\.0\/24\?$/);

  const d = exampleConfig();
  d.lan.address = '10.1.0.0/24';
  hasIssue(errorsOf(validateConfig(d)), /^lan\.address: 10\.1\.0\.0\/24 is the network address.*e\.g\. 10\.1\.0\.1\/24$/);

  const e = exampleConfig();
  e.lan.address = '10.1.0.255/24';
  hasIssue(errorsOf(validateConfig(e)), /^lan\.address: 10\.1\.0\.255\/24 is the broadcast address/);

  for (const a of ['10.1.0.1', '10.1.0.1/33', '010.1.0.1/24', '127.0.0.1/8', '224.0.0.1/24']) {
    const f = exampleConfig();
    f.lan.address = a;
    hasIssue(errorsOf(validateConfig(f)), /^lan\.address: /);
  }
  const g = exampleConfig();
  g.lan.address = '192.168.7.2/31';
  g.tunnel.localSubnets = ['192.168.7.2/31'];
  okOf(validateConfig(g));
});

test('IPv6 subnets and addresses are canonicalised', () => {
  const c = minimalConfig();
  c.lan.address = '2001:DB8:1:0::1/64';
  c.tunnel.remoteSubnets = ['2001:db8:2:0:0:0:0:0/48'];
  const r = okOf(validateConfig(c));
  assert.equal(r.config.lan.address, '2001:db8:1::1/64');
  assert.deepEqual(r.config.tunnel.localSubnets, ['2001:db8:1::/64']);
  assert.deepEqual(r.config.tunnel.remoteSubnets, ['2001:db8:2::/48']);
  const d = minimalConfig();
  d.tunnel.remoteSubnets = ['2001:db8::/129'];
  hasIssue(errorsOf(validateConfig(d)), /prefix length must be 0-128 for IPv6/);
});

test('subnets on both sides, overlaps, and family mismatch', () => {
  const c = exampleConfig();
  c.tunnel.remoteSubnets = ['10.1.0.0/24'];
  hasIssue(errorsOf(validateConfig(c)), /^tunnel\.remoteSubnets\[0\]: 10\.1\.0\.0\/24 is also tunnel\.localSubnets\[0\]/);

  const d = exampleConfig();
  d.tunnel.remoteSubnets = ['0.0.0.0/0'];
  const r = okOf(validateConfig(d));
  assert.ok(r.warnings.some((w) => w.path === 'tunnel.remoteSubnets[0]' && /overlaps/.test(w.message)));

  const e = exampleConfig();
  e.tunnel.remoteSubnets = ['2001:db8::/32'];
  hasIssue(errorsOf(validateConfig(e)), /^tunnel\.remoteSubnets: are all IPv6 but the local subnets are IPv4/);

  const f = exampleConfig();
  f.tunnel.localSubnets = ['192.168.9.0/24'];
  const rf = okOf(validateConfig(f));
  assert.ok(rf.warnings.some((w) => w.path === 'tunnel.localSubnets' && /does not include the LAN 10\.1\.0\.0\/24/.test(w.message)));
});

test('ranges: dpd, lifetimes, interval; child >= ike is a warning', () => {
  const ok0 = exampleConfig();
  ok0.tunnel.dpdSeconds = 0;
  okOf(validateConfig(ok0));
  for (const [field, value, re] of [
    ['dpdSeconds', 3601, /dpdSeconds: 3601 is out of range/],
    ['dpdSeconds', 1.5, /dpdSeconds: expected a whole number of seconds, got the number 1.5/],
    ['ikeLifetimeSeconds', 100, /ikeLifetimeSeconds: 100 is out of range: use 300-86400 seconds/],
    ['childLifetimeSeconds', 100000, /childLifetimeSeconds: 100000 is out of range/],
  ] as const) {
    const c = exampleConfig();
    c.tunnel[field] = value;
    hasIssue(errorsOf(validateConfig(c)), re);
  }
  const h = exampleConfig();
  h.health.intervalSeconds = 0;
  hasIssue(errorsOf(validateConfig(h)), /^health\.intervalSeconds: 0 is out of range: use 1-3600 seconds$/);

  const w = exampleConfig();
  w.tunnel.childLifetimeSeconds = 14400;
  const r = okOf(validateConfig(w));
  assert.ok(r.warnings.some((x) => x.path === 'tunnel.childLifetimeSeconds' && /not shorter than tunnel\.ikeLifetimeSeconds/.test(x.message)));
});

test('identities: FQDN, email, IP, DN; bad ones explained', () => {
  for (const id of ['branch-042.example.net', 'ops@example.net', '192.0.2.7', '2001:db8::7', 'CN=branch-042, O=Example Corp, C=CH', '@branch-042', 'CN=a\\,b']) {
    const c = exampleConfig();
    c.tunnel.localId = id;
    okOf(validateConfig(c));
  }
  const ip = exampleConfig();
  ip.tunnel.remoteId = '2001:DB8:0:0::9';
  assert.equal(okOf(validateConfig(ip)).config.tunnel.remoteId, '2001:db8::9');
  for (const [id, re] of [
    ['CN=x, Bogus=y', /unknown distinguished name attribute "Bogus"/],
    ['192.0.2.300', /looks like an IP address but is not a valid one/],
    ['bad_name!.example', /is not a host name \(FQDN\), email address, IP address or distinguished name/],
    ['@', /is not a valid host name after "@"/],
    ['a@b@c', /not a valid email address/],
    ['', /is empty/],
    [' hq.example.net', /leading or trailing spaces/],
    ['%any', /"%any" is only meaningful for tunnel\.remoteId/],
  ] as const) {
    const c = exampleConfig();
    c.tunnel.localId = id;
    hasIssue(errorsOf(validateConfig(c)), new RegExp('^tunnel\\.localId: ' + '.*' + re.source));
  }
});

test('remote: names, addresses, %any (responder) and its remoteId rule', () => {
  const a = minimalConfig();
  a.tunnel.remote = '198.51.100.1';
  assert.equal(okOf(validateConfig(a)).config.tunnel.remoteId, '198.51.100.1');

  const b = minimalConfig();
  b.tunnel.remote = '%any';
  hasIssue(errorsOf(validateConfig(b)), /^tunnel\.remoteId: is required when tunnel\.remote is "%any"/);
  b.tunnel.remoteId = 'hq.example.net';
  okOf(validateConfig(b));
  b.tunnel.remoteId = '%any';
  const r = okOf(validateConfig(b));
  assert.equal(r.config.tunnel.remoteId, '%any');
  assert.ok(r.warnings.some((w) => w.path === 'tunnel.remoteId'));

  for (const [remote, re] of [
    ['%ANY', /write "%any" \(lower case\)/],
    ['hq.example.net:500', /without port, scheme or path/],
    ['https://hq.example.net/', /is not a host name, an IP address or "%any"/],
    ['224.1.1.1', /is a multicast address/],
    ['10.1.1', /not a valid one/],
  ] as const) {
    const c = minimalConfig();
    c.tunnel.remote = remote;
    hasIssue(errorsOf(validateConfig(c)), new RegExp('^tunnel\\.remote: .*' + re.source));
  }
});

test('auth: exactly one of psk or key+cert+ca; files are absolute paths', () => {
  const both = exampleConfig();
  both.tunnel.auth = { psk: 'correct-horse-battery-staple', key: '/k', cert: '/c', ca: ['/ca'] };
  hasIssue(errorsOf(validateConfig(both)), /^tunnel\.auth: has both "psk" and "key", "cert", "ca"; use either/);

  const none = exampleConfig();
  none.tunnel.auth = {};
  hasIssue(errorsOf(validateConfig(none)), /^tunnel\.auth: needs either "psk" .* or "key", "cert" and "ca"/);

  const certs = exampleConfig();
  certs.tunnel.auth = { key: '/etc/outpost/branch.key', cert: '/etc/outpost/branch.crt', ca: ['/etc/outpost/hq-ca.crt'] };
  const r = okOf(validateConfig(certs));
  assert.deepEqual(r.config.tunnel.auth, { key: '/etc/outpost/branch.key', cert: '/etc/outpost/branch.crt', ca: ['/etc/outpost/hq-ca.crt'], crl: [] });

  const partial = exampleConfig();
  partial.tunnel.auth = { key: 'branch.key', cert: '/etc/outpost/branch.crt', ca: [] };
  const errs = errorsOf(validateConfig(partial));
  hasIssue(errs, /^tunnel\.auth\.key: "branch\.key" must be an absolute path/);
  hasIssue(errs, /^tunnel\.auth\.ca: the list is empty/);

  const inline = exampleConfig();
  const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';
  inline.tunnel.auth = { key: pem, cert: '/c', ca: ['/ca'] };
  const ie = errorsOf(validateConfig(inline));
  hasIssue(ie, /^tunnel\.auth\.key: must be the path of the private key file, not its contents/);
  assert.ok(!ie.join('\n').includes('MIIEv'), 'inline key material is not echoed');
});

test('PSK: error below 8, warning below 20, never echoed', () => {
  const secret = 'Sh0rt!';
  const c = exampleConfig();
  c.tunnel.auth.psk = secret;
  const r = validateConfig(c);
  const errs = errorsOf(r);
  hasIssue(errs, /^tunnel\.auth\.psk: is shorter than 8 characters/);
  assert.ok(!JSON.stringify(r).includes(secret), 'the PSK must not appear in the result');

  const mid = 'Medium-length-1';
  const d = exampleConfig();
  d.tunnel.auth.psk = mid;
  const rd = okOf(validateConfig(d));
  assert.ok(rd.warnings.some((w) => w.path === 'tunnel.auth.psk' && /shorter than 20/.test(w.message)));
  assert.ok(!JSON.stringify(rd.warnings).includes(mid));

  const num = exampleConfig();
  num.tunnel.auth.psk = 12345678901234567890;
  const rn = validateConfig(num);
  hasIssue(errorsOf(rn), /^tunnel\.auth\.psk: expected a string \(text in double quotes\), got a number$/);
  assert.ok(!JSON.stringify(rn).includes('1234567890'));

  const pw = exampleConfig();
  pw.health = { broker: 'mqtts://fleet.example.net', password: 12345 };
  const rp = validateConfig(pw);
  assert.ok(!JSON.stringify(rp).includes('12345'));
});

test('device.id: MQTT-safe characters, 1..64', () => {
  for (const [id, re] of [
    ['', /is empty/],
    ['x'.repeat(65), /at most 64/],
    ['a+b', /"\+", "#" or "\/"/],
    ['a#', /"\+", "#" or "\/"/],
    ['a\u0000b', /control/],
    ['a\nb', /control/],
    ['\ud800', /control or invalid/],
  ] as const) {
    const c = exampleConfig();
    c.device.id = id;
    hasIssue(errorsOf(validateConfig(c)), new RegExp('^device\\.id: .*' + re.source));
  }
  const sp = exampleConfig();
  sp.device.id = 'branch 42';
  const r = okOf(validateConfig(sp));
  assert.ok(r.warnings.some((w) => w.path === 'device.id'));
});

test('lan.interface follows Linux naming rules', () => {
  for (const n of ['', 'eth0:1', 'a/b', 'x'.repeat(16), 'e th0', '..']) {
    const c = exampleConfig();
    c.lan.interface = n;
    hasIssue(errorsOf(validateConfig(c)), /^lan\.interface: /);
  }
});

test('health.broker: scheme, host, port, credentials', () => {
  for (const b of ['mqtt://broker.local', 'mqtts://fleet.example.net:8883/', 'mqtts://[2001:db8::1]:8883', 'mqtt://192.0.2.1:1883']) {
    const c = exampleConfig();
    c.health.broker = b;
    okOf(validateConfig(c));
  }
  for (const [b, re] of [
    ['http://fleet.example.net', /scheme "http:\/\/" is not supported/],
    ['fleet.example.net', /is not a URL/],
    ['mqtts://user:pw@fleet.example.net', /must not contain a user name or password/],
    ['mqtts://fleet.example.net:0', /port "0" must be a number from 1 to 65535/],
    ['mqtts://fleet.example.net:99999', /must be a number from 1 to 65535/],
    ['mqtts://fleet.example.net/topic', /no path/],
    ['mqtts://2001:db8::1', /goes in brackets/],
    ['mqtts://', /has no host name/],
  ] as const) {
    const c = exampleConfig();
    c.health.broker = b;
    const errs = errorsOf(validateConfig(c));
    hasIssue(errs, new RegExp('^health\\.broker: .*' + re.source));
    if (b.includes('pw@')) assert.ok(!errs.join().includes('pw@'));
  }
  const tls = exampleConfig();
  tls.health = { broker: 'mqtt://b.example', ca: '/etc/ca.pem' };
  hasIssue(errorsOf(validateConfig(tls)), /^health\.broker: uses mqtt:\/\/ \(no TLS\) but health\.ca is set/);
  const pair = exampleConfig();
  pair.health = { broker: 'mqtts://b.example', cert: '/etc/c.pem' };
  hasIssue(errorsOf(validateConfig(pair)), /^health\.key: health\.cert and health\.key go together/);
  const pw = exampleConfig();
  pw.health = { broker: 'mqtt://b.example', username: 'box', password: 'hunter2hunter2' };
  const r = okOf(validateConfig(pw));
  assert.ok(r.warnings.some((w) => w.path === 'health.password' && /unencrypted/.test(w.message)));
  const nouser = exampleConfig();
  nouser.health = { broker: 'mqtts://b.example', password: 'hunter2hunter2' };
  hasIssue(errorsOf(validateConfig(nouser)), /^health\.password: is set but health\.username is not/);
});

test('proposals are checked and the bad keyword named', () => {
  const c = exampleConfig();
  c.tunnel.ike = ['aes256gcm16-prfsha256-x25519', 'aes256gcm16-prfsha256-bogus'];
  c.tunnel.esp = [];
  const errs = errorsOf(validateConfig(c));
  hasIssue(errs, /^tunnel\.ike\[1\]: .*"bogus".*"aes256gcm16-prfsha256-bogus"/);
  const d = exampleConfig();
  d.tunnel.ike = ['default'];
  d.tunnel.esp = ['aes256gcm16-esn', 'default'];
  okOf(validateConfig(d));
  const e = exampleConfig();
  e.tunnel.esp = ['aes256-sha256'];
  hasIssue(errorsOf(validateConfig(e)), /^tunnel\.esp\[0\]: .*"aes256"/);
  hasIssue(errs, /^tunnel\.esp: the list is empty/);
});

test('the number of reported issues is bounded', () => {
  const c = exampleConfig();
  for (let i = 0; i < 500; i++) c.tunnel[`junk${i}`] = i;
  const r = validateConfig(c);
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.ok(r.errors.length <= 101);
    assert.match(r.errors.at(-1)!.message, /more errors not shown/);
  }
});
