// Traffic through a test topology: ping and a TCP transfer checked end to end by SHA-256.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { waitForLine, type Lab, type Netns } from './netns.ts';

/** Pings `dst` from `from`; returns the number of replies received (never throws on loss). */
export function ping(from: Netns, dst: string, opts: { count?: number; interval?: number; wait?: number } = {}): { received: number; output: string } {
  const count = opts.count ?? 3;
  let output: string;
  try {
    output = from.run('ping', '-n', '-c', String(count), '-i', String(opts.interval ?? 0.2), '-W', String(opts.wait ?? 3), dst);
  } catch (e) {
    output = String((e as Error).message);
  }
  const m = /(\d+) packets transmitted, (\d+) received/.exec(output);
  return { received: m ? Number(m[2]) : 0, output };
}

/** Asserts that `count` pings from `from` to `dst` all come back. */
export function assertPing(from: Netns, dst: string, count = 3): void {
  const r = ping(from, dst, { count });
  assert.equal(r.received, count, `ping ${dst}:\n${r.output}`);
}

let nextPort = 5001;

/**
 * Sends `bytes` random bytes from `client` to `server` (listening on `serverAddr`) over TCP
 * with socat; returns the SHA-256 of what was sent and of what arrived, and the length received.
 */
export async function tcpTransfer(lab: Lab, client: Netns, server: Netns, serverAddr: string, bytes: number): Promise<{ sent: string; received: string; receivedLen: number }> {
  const port = nextPort++;
  const data = randomBytes(bytes);
  const srv = lab.track(server.spawn('socat', ['-d', '-d', '-u', `TCP-LISTEN:${port},bind=${serverAddr},reuseaddr`, 'STDOUT']));
  const hash = createHash('sha256');
  let receivedLen = 0;
  srv.stdout!.on('data', (d: Buffer) => { hash.update(d); receivedLen += d.length; });
  const serverDone = new Promise<number | null>((r) => srv.once('exit', (c) => r(c)));
  await waitForLine(srv, (l) => /listening on/.test(l), 'socat listening');
  const cli = lab.track(client.spawn('socat', ['-u', 'STDIN', `TCP:${serverAddr}:${port},connect-timeout=10`], { stdio: ['pipe', 'pipe', 'pipe'] }));
  const clientDone = new Promise<number | null>((r) => cli.once('exit', (c) => r(c)));
  cli.stdin!.on('error', () => { /* EPIPE if the connection fails; the exit code says so */ });
  cli.stdin!.end(data);
  assert.equal(await clientDone, 0, 'socat client exit code');
  assert.equal(await serverDone, 0, 'socat server exit code');
  return { sent: createHash('sha256').update(data).digest('hex'), received: hash.digest('hex'), receivedLen };
}

/** tcpTransfer plus the assertions that every byte arrived intact. */
export async function assertTcpTransfer(lab: Lab, client: Netns, server: Netns, serverAddr: string, bytes: number): Promise<void> {
  const r = await tcpTransfer(lab, client, server, serverAddr, bytes);
  assert.equal(r.receivedLen, bytes, 'bytes received');
  assert.equal(r.received, r.sent, 'SHA-256 of received data');
}

/** Rejects with `what` if `p` has not settled within `ms` (every wait in a test is bounded). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms); });
  return Promise.race([p, bound]).finally(() => clearTimeout(timer));
}
