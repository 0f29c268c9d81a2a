// Jazzer target: the config file's text through the JSON parser, the validator and, when valid,
// the conversion to the IKE engine's policy (PSK configs: certificate files are not read here).
// A valid config re-validates to the same result; every issue names a field; the PSK is never
// echoed in an issue.
import { parseJsonText } from '../../../firmware/config/json.ts';
import { validateConfig } from '../../../firmware/config/validate.ts';
import { isPskAuth } from '../../../firmware/config/schema.ts';
import { policyFromConfig } from '../../../firmware/gateway/policy-from-config.ts';
import { check } from './bug.ts';

export function fuzz(data: Buffer): void {
  const text = data.toString('utf8');
  const j = parseJsonText(text);
  if (!j.ok) {
    check(j.line >= 1 && j.column >= 1, `parse error at ${j.line}:${j.column}`);
    return;
  }
  const v = validateConfig(j.value);
  const issues = v.ok ? v.warnings : [...v.errors, ...v.warnings];
  for (const i of issues) check(typeof i.path === 'string' && typeof i.message === 'string', `issue without a path: ${JSON.stringify(i)}`);
  if (!v.ok) return;
  const again = validateConfig(JSON.parse(JSON.stringify(v.config)));
  check(again.ok && sameJson(again.config, v.config), 'a valid config does not re-validate to itself');
  const auth = v.config.tunnel.auth;
  if (isPskAuth(auth)) {
    for (const i of issues) check(auth.psk.length < 8 || !i.message.includes(auth.psk), 'the PSK is echoed in an issue');
    policyFromConfig(v.config);
  }
}

/** Equal as JSON, whatever the key order. */
function sameJson(a: unknown, b: unknown): boolean {
  const canon = (x: unknown): unknown => Array.isArray(x) ? x.map(canon) : x && typeof x === 'object' ? Object.fromEntries(Object.entries(x).sort(([p], [q]) => (p < q ? -1 : 1)).map(([k, v]) => [k, canon(v)])) : x;
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}
