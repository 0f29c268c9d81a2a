// Jazzer target: bytes from the serial line into the console's line decoder, in chunks. The first
// byte picks the mode (interactive or machine) and the chunk size; lines stay within the bound and
// machine lines carry no control characters; echo stays proportional to the input.
import { LineDecoder } from '../../../provisioning/line-decoder.ts';
import { secretPrefix } from '../../../provisioning/commands/index.ts';
import { check } from './bug.ts';

const MAX = 64;

export function fuzz(data: Buffer): void {
  if (data.length < 1) return;
  const interactive = (data[0]! & 1) === 1;
  const chunk = 1 + (data[0]! >> 1);
  let echo = 0;
  const d: LineDecoder = new LineDecoder({ maxLineBytes: MAX, interactive, secretPrefix }, {
    event: (e) => {
      if (e.kind === 'line') {
        check(Buffer.byteLength(e.text) <= MAX, `line of ${Buffer.byteLength(e.text)} bytes over the ${MAX}-byte bound`);
        check(!/[\r\n]/.test(e.text), 'line break inside a line');
        if (!interactive || e.json) check(!/[\u0000-\u001f\u007f]/.test(e.text), 'control character in a machine line');
      }
    },
    echo: (b) => { echo += b.length; },
  });
  const input = data.subarray(1);
  for (let at = 0; at < input.length; at += chunk) d.push(input.subarray(at, at + chunk));
  if (!interactive) check(echo === 0, 'machine mode echoed');
  check(echo <= input.length * 4 + 4, `echo of ${echo} bytes for ${input.length} bytes of input`);
}
