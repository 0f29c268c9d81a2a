// The optional IKE counters and data plane totals in the status model: rendered when present,
// absent (and the text unchanged) from an older daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statusText } from '../../../firmware/cli/status-text.ts';
import { upModel } from './fixtures.ts';

const ike = { ikeSaInitRequests: 5000, cookiesSent: 4960, halfOpenDropped: 0, halfOpen: 32, malformed: 2, unknownSpi: 7, integrityFailures: 1, invalidMessageId: 0, retransmissionsSent: 3, retransmitsAnswered: 1 };

test('status text shows IKE counters and data plane drops when the daemon sends them', () => {
  const m = upModel();
  m.tunnel.ike = ike;
  m.tunnel.dataPlane = { packetsIn: 10, packetsOut: 1, bytesIn: 840, bytesOut: 84, drops: { unknown_spi: 900, replay: 100, malformed: 0 } };
  const text = statusText(m);
  assert.match(text, /^ {2}ike: 5000 IKE_SA_INIT requests, 4960 cookies sent, 32 half-open \(0 dropped\), 2 malformed, 7 unknown SPI, 1 integrity failure, 0 bad message ID, 3 retransmissions sent, 1 answered$/m);
  assert.match(text, /^ {2}data plane: in 10 packets, out 1 packet, drops: replay 100, unknown_spi 900$/m);
});

test('status text without the optional counters is as before', () => {
  const text = statusText(upModel());
  assert.doesNotMatch(text, /ike:|data plane:/);
});
