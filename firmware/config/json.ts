// A strict JSON parser (RFC 8259) for config files that reports errors by line and column,
// names the usual hand-editing mistakes (trailing comma, comment, single quotes, missing comma),
// and rejects duplicate keys (the second silently winning would hide a typo). Node's JSON.parse
// gives no position for several errors, hence this. Bounded: nesting depth and input size.

export interface JsonPosition { line: number; column: number }

export type JsonParseResult =
  | { ok: true; value: unknown }
  | { ok: false; line: number; column: number; message: string };

export const MAX_JSON_DEPTH = 64;

class JsonSyntaxError extends Error {
  constructor(readonly offset: number, message: string) { super(message); }
}

function positionOf(text: string, offset: number): JsonPosition {
  let line = 1;
  let col = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) { line++; col = 1; } else col++;
  }
  return { line, column: col };
}

function show(ch: string | undefined): string {
  if (ch === undefined) return 'end of file';
  if (ch === '\n') return 'end of line';
  const c = ch.charCodeAt(0);
  if (c < 0x20 || c === 0x7f) return `control character U+${c.toString(16).padStart(4, '0').toUpperCase()}`;
  return `"${ch}"`;
}

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  fail(msg: string, at = this.i): never { throw new JsonSyntaxError(at, msg); }

  ws(): void {
    for (;;) {
      const c = this.s[this.i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { this.i++; continue; }
      if (c === '/' && (this.s[this.i + 1] === '/' || this.s[this.i + 1] === '*')) this.fail('comments are not allowed in JSON');
      return;
    }
  }

  value(depth: number): unknown {
    if (depth > MAX_JSON_DEPTH) this.fail(`nested deeper than ${MAX_JSON_DEPTH} levels`);
    this.ws();
    const c = this.s[this.i];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    if (c === "'") this.fail('strings must use double quotes (") in JSON, not single quotes');
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.s.startsWith(word, this.i)) { this.i += word.length; return v; }
    }
    if (c !== undefined && /[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][\w.-]*/.exec(this.s.slice(this.i, this.i + 40));
      this.fail(`unexpected word "${m?.[0] ?? c}": text values need double quotes`);
    }
    this.fail(`expected a value, found ${show(c)}`);
  }

  object(depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    this.i++; // {
    this.ws();
    if (this.s[this.i] === '}') { this.i++; return out; }
    for (;;) {
      this.ws();
      const c = this.s[this.i];
      if (c === '}') this.fail('trailing comma before "}"', this.i);
      if (c !== '"') {
        if (c === "'") this.fail('keys must use double quotes (") in JSON, not single quotes');
        if (c !== undefined && /[A-Za-z_$]/.test(c)) this.fail('keys must be in double quotes, as in "device"');
        this.fail(`expected a key in double quotes, found ${show(c)}`);
      }
      const keyAt = this.i;
      const key = this.string();
      if (seen.has(key)) this.fail(`duplicate key ${JSON.stringify(key.slice(0, 64))}`, keyAt);
      seen.add(key);
      this.ws();
      if (this.s[this.i] !== ':') this.fail(`expected ":" after key ${JSON.stringify(key.slice(0, 64))}, found ${show(this.s[this.i])}`);
      this.i++;
      const v = this.value(depth + 1);
      // defineProperty, not assignment: a "__proto__" key must stay a plain own property.
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      this.ws();
      const d = this.s[this.i];
      if (d === ',') { this.i++; continue; }
      if (d === '}') { this.i++; return out; }
      if (d === '"') this.fail('missing comma between fields');
      this.fail(`expected "," or "}", found ${show(d)}`);
    }
  }

  array(depth: number): unknown[] {
    const out: unknown[] = [];
    this.i++; // [
    this.ws();
    if (this.s[this.i] === ']') { this.i++; return out; }
    for (;;) {
      this.ws();
      if (this.s[this.i] === ']') this.fail('trailing comma before "]"');
      out.push(this.value(depth + 1));
      this.ws();
      const d = this.s[this.i];
      if (d === ',') { this.i++; continue; }
      if (d === ']') { this.i++; return out; }
      if (d === '"' || d === '{' || d === '[' || (d !== undefined && /[0-9tfn-]/.test(d))) this.fail('missing comma between list items');
      this.fail(`expected "," or "]", found ${show(d)}`);
    }
  }

  string(): string {
    const start = this.i;
    this.i++; // opening quote
    let out = '';
    let run = this.i;
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined) this.fail('unterminated string (missing closing ")', start);
      if (c === '"') { out += this.s.slice(run, this.i); this.i++; return out; }
      const code = c.charCodeAt(0);
      if (code < 0x20) this.fail(code === 10 ? 'unterminated string (line break inside quotes)' : `${show(c)} inside a string (escape it)`);
      if (c === '\\') {
        out += this.s.slice(run, this.i);
        const e = this.s[this.i + 1];
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && e in simple) { out += simple[e]; this.i += 2; }
        else if (e === 'u') {
          const hex = this.s.slice(this.i + 2, this.i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('"\\u" must be followed by four hex digits');
          out += String.fromCharCode(parseInt(hex, 16));
          this.i += 6;
        } else this.fail(`invalid escape "\\${e ?? ''}" in string (write "\\\\" for a backslash)`);
        run = this.i;
        continue;
      }
      this.i++;
    }
  }

  number(): number {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (!m) this.fail(this.s[this.i] === '-' ? 'a "-" must be followed by digits' : 'invalid number');
    const after = this.s[this.i + m[0].length];
    if (after !== undefined && /[0-9]/.test(after) && m[1] === '0') this.fail('numbers must not have leading zeros');
    if (after !== undefined && /[0-9.eExX]/.test(after)) this.fail('invalid number');
    const v = Number(m[0]);
    if (!Number.isFinite(v)) this.fail('number is too large');
    this.i += m[0].length;
    return v;
  }
}

/** Parses JSON text; on failure gives the 1-based line and column of the problem. */
export function parseJsonText(text: string): JsonParseResult {
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // a BOM from a Windows editor
  const p = new Parser(s);
  try {
    p.ws();
    if (p.i >= s.length) p.fail('the file is empty');
    const value = p.value(0);
    p.ws();
    if (p.i < s.length) p.fail(`unexpected ${show(s[p.i])} after the end of the JSON value`);
    return { ok: true, value };
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    const pos = positionOf(s, e.offset);
    return { ok: false, line: pos.line, column: pos.column, message: e.message };
  }
}
