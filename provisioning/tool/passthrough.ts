// The interactive pass-through: the laptop's terminal straight onto the box's human console,
// like picocom. Ctrl-] ends it (the console's own Ctrl-C/Ctrl-U keep their meaning).
import type { Duplex } from 'node:stream';

export const EXIT_KEY = 0x1d; // Ctrl-]

export interface TerminalIo {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
}

export function passThrough(port: Duplex, io: TerminalIo): Promise<void> {
  return new Promise((resolve) => {
    const tty = io.stdin.isTTY === true;
    if (tty) io.stdin.setRawMode(true);
    io.stdin.resume();
    const onPort = (d: Buffer) => io.stdout.write(d);
    const onKey = (d: Buffer) => {
      const at = d.indexOf(EXIT_KEY);
      if (at >= 0) {
        if (at > 0) port.write(d.subarray(0, at));
        finish();
        return;
      }
      port.write(d);
    };
    const finish = () => {
      port.off('data', onPort);
      port.off('close', finish);
      io.stdin.off('data', onKey);
      io.stdin.off('end', finish);
      if (tty) io.stdin.setRawMode(false);
      io.stdin.pause();
      io.stdout.write('\r\n[outpost-provision: disconnected]\r\n');
      resolve();
    };
    port.on('data', onPort);
    port.on('close', finish);
    io.stdin.on('data', onKey);
    io.stdin.on('end', finish);
    io.stdout.write('[outpost-provision: connected; Ctrl-] quits; press Enter for a prompt]\r\n');
    port.write('\r');
  });
}
