// The tunnel MTU the MSS clamp and ICMP answers use: WAN MTU less ESP-in-UDP overhead, checked
// against espPacketBytes (the framing ESP really produces) for every size around the limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { espPacketBytes } from '../../../firmware/esp/packet.ts';
import { tunnelMtuFor, tunnelMtuForProposals } from '../../../firmware/gateway/tunnel-mtu.ts';

test('tunnel MTU: the largest inner packet whose ESP-in-UDP packet fits the WAN MTU', () => {
  assert.equal(tunnelMtuFor(1500, 'aes256gcm16'), 1438);
  assert.equal(tunnelMtuFor(1500, 'chacha20poly1305'), 1438);
  assert.equal(tunnelMtuFor(1500, 'aes256gcm16', 6), 1418);
  assert.equal(tunnelMtuFor(1492, 'aes128gcm16'), 1430, 'PPPoE');
  assert.equal(tunnelMtuFor(1500, 'aes256cbc'), undefined);
  for (const wan of [576, 1280, 1400, 1492, 1500, 9000]) {
    for (const outer of [4, 6] as const) {
      const m = tunnelMtuFor(wan, 'aes256gcm16', outer)!;
      const ip = outer === 4 ? 20 : 40;
      assert.ok(ip + 8 + espPacketBytes(m) <= wan, `${wan}/${outer}: ${m} fits`);
      assert.ok(ip + 8 + espPacketBytes(m + 1) > wan || ip + 8 + espPacketBytes(m + 2) > wan, `${wan}/${outer}: ${m} is the largest (up to alignment)`);
    }
  }
});

test('tunnel MTU for proposals: the smallest over the AEADs that may be negotiated; unknown words ignored', () => {
  assert.equal(tunnelMtuForProposals(1500, ['aes256gcm16-x25519', 'chacha20poly1305']), 1438);
  assert.equal(tunnelMtuForProposals(1500, ['default']), 1438);
});
