// The tool's interactive pass-through: keys to the port, the port to the screen, Ctrl-] ends it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Duplex } from 'node:stream';
import { passThrough, EXIT_KEY } from '../../../provisioning/tool/passthrough.ts';

test('bytes go both ways unchanged; Ctrl-] ends the session without sending itself', async () => {
  const toPort: Buffer[] = [];
  const fromPort = new PassThrough();
  const port = new Duplex({
    read() {},
    write(chunk, _enc, cb) { toPort.push(chunk as Buffer); cb(); },
  });
  fromPort.on('data', (d) => port.push(d));
  const stdin = new PassThrough() as unknown as NodeJS.ReadStream;
  let screen = '';
  const stdout = { write: (s: string | Buffer) => { screen += s.toString(); return true; } } as unknown as NodeJS.WriteStream;
  const done = passThrough(port, { stdin, stdout });
  (stdin as unknown as PassThrough).write('show\r');
  fromPort.write('show\r\ncandidate configuration:\r\n');
  await new Promise((r) => setImmediate(r));
  (stdin as unknown as PassThrough).write(Buffer.from([0x03, 0x41, EXIT_KEY, 0x42]));
  await done;
  assert.equal(Buffer.concat(toPort).toString('latin1'), '\rshow\r\x03A');
  assert.match(screen, /connected; Ctrl-\] quits/);
  assert.match(screen, /show\r\ncandidate configuration:\r\n/);
  assert.match(screen, /disconnected/);
});
