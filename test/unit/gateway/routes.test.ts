// routes.ts argument checks and error reporting. Changing real routes needs root and a namespace:
// the static-key interop test does that; here only read-only `ip` calls run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addRoutes, checkCidr, IpCommandError, removeRoutes, runIp, setLink } from '../../../firmware/gateway/routes.ts';

test('checkCidr accepts IPv4/IPv6 prefixes and host addresses, rejects the rest', () => {
  for (const ok of ['10.2.0.0/16', '0.0.0.0/0', '10.1.0.7', '2001:db8::/32', '::/0']) assert.equal(checkCidr(ok), ok);
  for (const bad of ['10.2.0.0/33', '10.2.0/16', '10.2.0.0/', '10.2.0.0/1a', '2001:db8::/129', 'hq', '', '10.0.0.0/8/1', '10.0.0.0/-1']) {
    assert.throws(() => checkCidr(bad), RangeError, bad);
  }
});

test('bad interface names, prefixes, MTUs and sources are refused before any command runs', async () => {
  // A missing ip binary: if validation let anything through, the error would be "not found".
  const none = { ipPath: '/nonexistent/ip' };
  await assert.rejects(addRoutes('bad name', ['10.2.0.0/16'], {}, none), RangeError);
  await assert.rejects(addRoutes('tun0', ['10.2.0.0/16'], { src: 'lan' }, none), RangeError);
  await assert.rejects(addRoutes('tun0', ['10.2.0.0/16', '10.3.0.0/40'], {}, none), RangeError);
  await assert.rejects(removeRoutes('a'.repeat(16), ['10.2.0.0/16'], none), RangeError);
  await assert.rejects(setLink('tun0', { mtu: 20 }, none), RangeError);
  await setLink('tun0', {}, none); // nothing to change: no command at all
  await assert.rejects(addRoutes('tun0', ['10.2.0.0/16'], {}, none), IpCommandError, 'valid input does reach ip');
});

test('a failing ip command rejects with the command line and its stderr', async () => {
  await assert.rejects(runIp(['route', 'get', '999.1.1.1']), (e: unknown) => {
    assert.ok(e instanceof IpCommandError);
    assert.equal(e.command, 'ip route get 999.1.1.1');
    assert.ok(e.stderr.length > 0, 'stderr kept');
    assert.notEqual(e.exitCode, 0);
    assert.match(e.message, /^ip route get 999\.1\.1\.1: /);
    return true;
  });
  await assert.rejects(runIp(['-V'], { ipPath: '/nonexistent/ip' }), /not found \(install iproute2\)/);
  assert.match(await runIp(['-V']), /ip(route)?/);
});
