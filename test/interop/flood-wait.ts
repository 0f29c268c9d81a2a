import type { ChildProcess } from 'node:child_process';

/** The exit code of a child (null when killed by a signal), already exited or not. */
export function waitForExit(p: ChildProcess): Promise<number | null> {
  return new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(p.exitCode) : p.once('exit', (c) => r(c))));
}
