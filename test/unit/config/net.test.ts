import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import {
  cidrContains, formatCidr, formatIp, hasHostBits, networkOf, parseCidr, parseIp, parseIPv4, parseIPv6, type Cidr,
} from '../../../firmware/config/net.ts';
import { parseIdentity } from '../../../firmware/config/identity.ts';

function cidr(s: string): Cidr {
  const r = parseCidr(s);
  if (!r.ok) assert.fail(`${s}: ${r.reason}`);
  return r.value;
}

test('IPv4 parsing is strict', () => {
  assert.deepEqual(parseIPv4('192.0.2.1'), { ok: true, value: { family: 4, bytes: new Uint8Array([192, 0, 2, 1]) } });
  for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.-4', '1..3.4', ' 1.2.3.4', '0x1.2.3.4']) {
    assert.equal(parseIPv4(bad).ok, false, bad);
  }
});

test('IPv6 parsing agrees with node:net on valid and invalid forms, and formats per RFC 5952', () => {
  const cases: Array<[string, string | null]> = [
    ['::', '::'],
    ['::1', '::1'],
    ['2001:db8::1', '2001:db8::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['fe80::', 'fe80::'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1::2::3', null],
    ['1:2:3:4:5:6:7:8:9', null],
    ['1:2:3:4:5:6:7', null],
    ['12345::', null],
    ['fe80::1%eth0', null],
    [':1:2:3:4:5:6:7', null],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::1.2.3.4.5', null],
    ['g::', null],
  ];
  for (const [s, canon] of cases) {
    const r = parseIPv6(s);
    assert.equal(r.ok, canon !== null, s);
    // node:net accepts zone ids; the config deliberately does not.
    if (!s.includes('%')) assert.equal(isIP(s) === 6, canon !== null, `node:net disagrees on ${s}`);
    if (r.ok) assert.equal(formatIp(r.value), canon, s);
  }
});

test('CIDR: host bits, network, containment', () => {
  assert.equal(hasHostBits(cidr('10.1.0.1/24')), true);
  assert.equal(hasHostBits(cidr('10.1.0.0/24')), false);
  assert.equal(formatCidr(networkOf(cidr('10.1.2.3/13'))), '10.0.0.0/13');
  assert.equal(formatCidr(networkOf(cidr('2001:db8:ffff::1/33'))), '2001:db8:8000::/33');
  assert.equal(cidrContains(cidr('10.0.0.0/8'), cidr('10.1.0.0/16')), true);
  assert.equal(cidrContains(cidr('10.1.0.0/16'), cidr('10.0.0.0/8')), false);
  assert.equal(cidrContains(cidr('0.0.0.0/0'), cidr('192.0.2.0/24')), true);
  assert.equal(cidrContains(cidr('::/0'), cidr('192.0.2.0/24')), false);
  for (const [s, re] of [
    ['10.0.0.0', /prefix length is missing \(write 10\.0\.0\.0\/32/],
    ['10.0.0.0/33', /prefix length must be 0-32 for IPv4/],
    ['10.0.0.0/08', /prefix length must be 0-32/],
    ['10.0.0.0/', /prefix length must be 0-32/],
    ['::/129', /prefix length must be 0-128 for IPv6/],
    ['10.0.0/8', /four numbers/],
  ] as const) {
    const r = parseCidr(s);
    assert.equal(r.ok, false, s);
    if (!r.ok) assert.match(r.reason, re);
  }
  assert.equal(parseIp('::ffff:1.2.3.4').ok, true);
});

test('identities are classified like strongSwan', () => {
  const t = (s: string) => {
    const r = parseIdentity(s);
    if (!r.ok) assert.fail(`${s}: ${r.reason}`);
    return r.value;
  };
  assert.equal(t('hq.example.net').type, 'fqdn');
  assert.deepEqual(t('@hq').value, 'hq');
  assert.equal(t('admin@example.net').type, 'email');
  assert.equal(t('198.51.100.1').type, 'ipv4');
  assert.equal(t('2001:db8::1').type, 'ipv6');
  const dn = t('C=CH, O=strongSwan, CN=moon.strongswan.org');
  assert.equal(dn.type, 'dn');
  assert.deepEqual(dn.rdns, [{ attr: 'C', value: 'CH' }, { attr: 'O', value: 'strongSwan' }, { attr: 'CN', value: 'moon.strongswan.org' }]);
  assert.deepEqual(t('CN=Smith\\, John').rdns, [{ attr: 'CN', value: 'Smith\\, John' }]);
  for (const bad of ['', 'CN=', '=x', 'CN=x,', 'a b', 'x'.repeat(256), 'host-.example', '1.2.3.4.5']) {
    assert.equal(parseIdentity(bad).ok, false, bad);
  }
});
