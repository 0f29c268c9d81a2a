// redactConfig: a copy of a config safe to show, export or log. The PSK and passwords become
// "<secret>"; a value that holds key material inline (PEM) is replaced too, wherever it is.
// Works on any JSON-like value, so it is safe even on a config that failed validation.

export const SECRET_PLACEHOLDER = '<secret>';

const SECRET_KEYS = /^(psk|password|passphrase|secret)$/i;
const KEY_MATERIAL = /-----BEGIN [A-Z0-9 ]*(PRIVATE KEY|ENCRYPTED)/;

function walk(v: unknown, depth: number): unknown {
  if (depth > 32) return SECRET_PLACEHOLDER; // no legitimate config nests this deep
  if (typeof v === 'string') return KEY_MATERIAL.test(v) ? SECRET_PLACEHOLDER : v;
  if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const r = SECRET_KEYS.test(k) && x !== undefined ? SECRET_PLACEHOLDER : walk(x, depth + 1);
      Object.defineProperty(out, k, { value: r, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return v;
}

export function redactConfig<T>(cfg: T): T {
  return walk(cfg, 0) as T;
}
