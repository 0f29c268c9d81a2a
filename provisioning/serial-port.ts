// Opening a serial device (8N1) for the console and the tool, with a guard against a stall in
// serialport 13: its native poller (bindings-cpp src/poller.cpp, Poller::poll) restarts uv_poll
// with only the event just asked for, so when a read starts waiting for "readable" while a write
// waits for "writable" (the line's buffer is full), the write's interest is dropped and the write
// stalls until more data happens to arrive: forever when the other side is waiting for that very
// write. While a write is pending we ask for both events again (found by the megabyte-line test).
import { SerialPort } from 'serialport';

const UV_READABLE = 1;
const UV_WRITABLE = 2;
const KICK_MS = 100;

interface PollerLike { poll(flags: number): void }

function poller(port: SerialPort): PollerLike | undefined {
  const p = (port.port as unknown as { poller?: PollerLike } | undefined)?.poller;
  return typeof p?.poll === 'function' ? p : undefined;
}

export function openSerialPort(path: string, baudRate: number): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate, dataBits: 8, parity: 'none', stopBits: 1, autoOpen: false });
  return new Promise((resolve, reject) => {
    port.open((err) => {
      if (err) { reject(err); return; }
      const timer = setInterval(() => {
        if (port.isOpen && port.writableLength > 0) poller(port)?.poll(UV_READABLE | UV_WRITABLE);
      }, KICK_MS);
      timer.unref();
      port.once('close', () => clearInterval(timer));
      resolve(port);
    });
  });
}

export function closeSerialPort(port: SerialPort): Promise<void> {
  return new Promise((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
}
