// UdpTransport on loopback with ephemeral ports: classification on the NAT-T port, IKE on the IKE
// port, the non-ESP marker on send, keepalives, and send failures counted instead of thrown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { busyPollFromEnv, DEFAULT_BUSY_POLL_US, UdpBindError, UdpTransport } from '../../../firmware/gateway/udp.ts';
import type { Endpoint } from '../../../firmware/ike/actions.ts';
import type { Logger } from '../../../firmware/log.ts';

const LO = '127.0.0.1';

/** A logger that records warnings and lets a test await the next one. */
function recordingLog() {
  const warns: Array<{ event: string; fields: Record<string, unknown> }> = [];
  let wake: (() => void) | undefined;
  const log: Logger = {
    debug() {}, info() {}, error() {},
    warn(event, fields = {}) { warns.push({ event, fields }); wake?.(); },
    child() { return log; },
  };
  const nextWarn = () => new Promise<void>((r) => { wake = r; });
  return { log, warns, nextWarn };
}

async function peerSocket(): Promise<{ sock: dgram.Socket; port: number; next: () => Promise<[Buffer, dgram.RemoteInfo]> }> {
  const sock = dgram.createSocket('udp4');
  sock.bind(0, LO);
  await once(sock, 'listening');
  return { sock, port: sock.address().port, next: () => once(sock, 'message') as Promise<[Buffer, dgram.RemoteInfo]> };
}

function sendFrom(sock: dgram.Socket, data: Buffer, port: number): Promise<void> {
  return new Promise((resolve, reject) => sock.send(data, port, LO, (e) => (e ? reject(e) : resolve())));
}

const IKE_MSG = Buffer.concat([Buffer.alloc(8, 0x11), Buffer.alloc(8, 0), Buffer.from([0x21, 0x20, 0x22, 0x08]), Buffer.alloc(4), Buffer.from([0, 0, 0, 28])]);
const ESP_PKT = Buffer.concat([Buffer.from([0xc0, 0, 0, 1, 0, 0, 0, 1]), Buffer.alloc(40, 0x5a)]);

test('NAT-T port: ESP to onEsp, IKE behind the marker to onIke (stripped), keepalives and junk counted', async () => {
  const got: Array<{ kind: string; data: Buffer; from: Endpoint; localPort?: number }> = [];
  let wake: (() => void) | undefined;
  const t = await UdpTransport.open({
    bindAddress: LO, ikePort: 0, natTPort: 0, log: recordingLog().log,
    onEsp: (data, from) => { got.push({ kind: 'esp', data: Buffer.from(data), from }); wake?.(); },
    onIke: (data, from, localPort) => { got.push({ kind: 'ike', data: Buffer.from(data), from, localPort }); wake?.(); },
  });
  const peer = await peerSocket();
  try {
    const arrived = () => new Promise<void>((r) => { wake = r; });
    let a = arrived();
    await sendFrom(peer.sock, ESP_PKT, t.natTPort);
    await a;
    a = arrived();
    await sendFrom(peer.sock, Buffer.concat([Buffer.alloc(4), IKE_MSG]), t.natTPort);
    await a;
    a = arrived();
    await sendFrom(peer.sock, IKE_MSG, t.ikePort!);
    await a;
    // Keepalive and junk have no callback: send them, then an ESP packet, and wait for that.
    await sendFrom(peer.sock, Buffer.from([0xff]), t.natTPort);
    await sendFrom(peer.sock, Buffer.from([0, 0, 0, 0, 1]), t.natTPort); // marker, truncated IKE
    await sendFrom(peer.sock, Buffer.from([1, 2]), t.natTPort);
    a = arrived();
    await sendFrom(peer.sock, ESP_PKT, t.natTPort);
    await a;

    assert.deepEqual(got.map((g) => g.kind), ['esp', 'ike', 'ike', 'esp']);
    assert.deepEqual(got[0]!.data, ESP_PKT);
    assert.equal(got[0]!.from.address, LO);
    assert.equal(got[0]!.from.port, peer.port);
    assert.deepEqual(got[1]!.data, IKE_MSG, 'marker stripped');
    assert.equal(got[1]!.localPort, t.natTPort);
    assert.deepEqual(got[2]!.data, IKE_MSG);
    assert.equal(got[2]!.localPort, t.ikePort);
    assert.deepEqual(
      { ...t.counters },
      { ikeIn: 2, espIn: 2, keepalivesIn: 1, malformedIn: 2, ikeOut: 0, espOut: 0, keepalivesOut: 0, sendErrors: 0, sendQueueFull: 0, socketErrors: 0 },
    );
  } finally {
    peer.sock.close();
    t.close();
  }
});

test('sendIke picks the socket by local port (marker on NAT-T), sendEsp and sendKeepalive use NAT-T', async () => {
  const t = await UdpTransport.open({ bindAddress: LO, ikePort: 0, natTPort: 0, log: recordingLog().log });
  const peer = await peerSocket();
  const to = { address: LO, port: peer.port };
  try {
    let m = peer.next();
    assert.equal(t.sendIke(IKE_MSG, { address: LO, port: t.ikePort! }, to), true);
    let [data, rinfo] = await m;
    assert.deepEqual(data, IKE_MSG);
    assert.equal(rinfo.port, t.ikePort);

    m = peer.next();
    t.sendIke(IKE_MSG, { address: LO, port: t.natTPort }, to);
    [data, rinfo] = await m;
    assert.deepEqual(data, Buffer.concat([Buffer.alloc(4), IKE_MSG]));
    assert.equal(rinfo.port, t.natTPort);

    m = peer.next();
    t.sendEsp(ESP_PKT, to);
    [data, rinfo] = await m;
    assert.deepEqual(data, ESP_PKT);
    assert.equal(rinfo.port, t.natTPort);

    m = peer.next();
    t.sendKeepalive(to);
    [data] = await m;
    assert.deepEqual(data, Buffer.from([0xff]));
    assert.equal(t.counters.ikeOut, 2);
    assert.equal(t.counters.espOut, 1);
    assert.equal(t.counters.keepalivesOut, 1);
  } finally {
    peer.sock.close();
    t.close();
  }
});

test('send failures are counted and logged at a rate limit, never thrown', async () => {
  const { log, warns, nextWarn } = recordingLog();
  let now = 0;
  const t = await UdpTransport.open({ bindAddress: LO, ikePort: null, natTPort: 0, log, now: () => now });
  try {
    // From a socket bound to 127.0.0.1 the kernel refuses a non-loopback destination (EINVAL);
    // nothing leaves the machine.
    const w = nextWarn();
    assert.doesNotThrow(() => t.sendEsp(ESP_PKT, { address: '192.0.2.1', port: 4500 }));
    await w;
    assert.equal(t.counters.sendErrors, 1);
    assert.equal(warns[0]!.event, 'send-failed');
    assert.equal(typeof warns[0]!.fields.code, 'string');
    // A malformed destination fails synchronously: counted too.
    assert.equal(t.sendEsp(ESP_PKT, { address: LO, port: 70000 }), false);
    assert.equal(t.counters.sendErrors, 2);
    assert.equal(t.counters.espOut, 1, 'the async failure had been accepted for sending');
    // Same failure again within the interval: counted, not logged; after it, one line with the count.
    const failures = async (n: number) => {
      const target = t.counters.sendErrors + n;
      for (let i = 0; i < n; i++) t.sendEsp(ESP_PKT, { address: '192.0.2.1', port: 4500 });
      while (t.counters.sendErrors < target) await new Promise((r) => setImmediate(r));
    };
    now += 1000;
    await failures(2);
    assert.equal(warns.length, 2, 'the sync failure has its own key; the repeats are held back');
    now += 60_000;
    await failures(1);
    assert.equal(warns.length, 3);
    assert.equal(warns[2]!.fields.suppressed, 2);
  } finally {
    t.close();
  }
  assert.equal(t.sendEsp(ESP_PKT, { address: LO, port: 9 }), false, 'closed transport refuses quietly');
});

test('a port in use gives a UdpBindError naming address and port', async () => {
  const quiet = recordingLog().log;
  const a = await UdpTransport.open({ bindAddress: LO, ikePort: null, natTPort: 0, log: quiet });
  try {
    await assert.rejects(UdpTransport.open({ bindAddress: LO, ikePort: null, natTPort: a.natTPort, log: quiet }), (e: unknown) => {
      assert.ok(e instanceof UdpBindError);
      assert.equal(e.code, 'EADDRINUSE');
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${a.natTPort}.*already in use`));
      return true;
    });
  } finally {
    a.close();
  }
});

test('receive buffer is sized (or the cap reported)', async () => {
  const t = await UdpTransport.open({ bindAddress: LO, ikePort: null, natTPort: 0, recvBufferBytes: 1 << 20, log: recordingLog().log });
  try {
    const info = t.info();
    assert.ok(info.recvBufferBytes >= 200_000, `receive buffer ${info.recvBufferBytes}`);
    assert.equal(info.natTPort, t.natTPort);
    assert.equal(info.ikePort, null);
  } finally {
    t.close();
  }
});

test('sends beyond maxSendQueue pending are dropped and counted, not queued', async () => {
  // With a bound of 0 every send finds the (empty) queue "full": the check runs before sending.
  const t = await UdpTransport.open({ bindAddress: LO, ikePort: null, natTPort: 0, maxSendQueue: 0, log: recordingLog().log });
  try {
    assert.equal(t.sendEsp(ESP_PKT, { address: LO, port: 9 }), false);
    assert.equal(t.sendKeepalive({ address: LO, port: 9 }), false);
    assert.equal(t.counters.sendQueueFull, 2);
    assert.equal(t.counters.espOut + t.counters.keepalivesOut, 0);
  } finally {
    t.close();
  }
});

test('OUTPOST_BUSY_POLL_US: whole microseconds 0..1000, default 50; anything else is refused, not ignored', () => {
  assert.equal(busyPollFromEnv(undefined), DEFAULT_BUSY_POLL_US);
  assert.equal(busyPollFromEnv(''), DEFAULT_BUSY_POLL_US);
  assert.equal(DEFAULT_BUSY_POLL_US, 50);
  assert.equal(busyPollFromEnv('0'), 0);
  assert.equal(busyPollFromEnv('1000'), 1000);
  for (const bad of ['1001', '-1', '2.5', 'fast', '1e2', ' ']) {
    assert.throws(() => busyPollFromEnv(bad), new RegExp(`OUTPOST_BUSY_POLL_US="${bad.replace('.', '\\.')}": expected whole microseconds, 0\\.\\.1000`));
  }
});
