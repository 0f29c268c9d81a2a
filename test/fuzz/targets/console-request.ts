// Jazzer target: one machine-mode line (JSON request) from the serial console into parseRequest:
// a request with a bounded command and id and a plain-object params, or a typed error.
import { parseRequest } from '../../../provisioning/protocol.ts';
import { check } from './bug.ts';

export function fuzz(data: Buffer): void {
  const p = parseRequest(data.toString('utf8'));
  if (p.ok) {
    check(typeof p.req.cmd === 'string' && p.req.cmd.length >= 1 && p.req.cmd.length <= 32, `command ${JSON.stringify(p.req.cmd)}`);
    check(p.req.id === null || typeof p.req.id === 'string' || Number.isSafeInteger(p.req.id), `id ${JSON.stringify(p.req.id)}`);
    check(Object.getPrototypeOf(p.req.params) === Object.prototype, 'params is not a plain object');
  } else {
    check(p.error.code === 'bad-json' || p.error.code === 'bad-request', `error code ${p.error.code}`);
  }
}
