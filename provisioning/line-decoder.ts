// Bytes from the serial line to lines, bounded. One decoder serves both console modes:
// - interactive (the device side of a human session): echoes what is typed, handles backspace,
//   Ctrl-C, Ctrl-U and swallows terminal escape sequences; a line whose first byte is "{" is a
//   machine (JSON) line and is neither echoed nor edited;
// - raw (the tool's side, or a machine peer): lines only.
// A line longer than maxLineBytes is dropped whole and reported once its end arrives; a line that
// is not valid UTF-8 or holds control bytes (noise, a wrong baud rate) is reported as not text,
// and its echo stops at the first such byte. Ctrl-U drops the pending line of either kind.
// Memory is one fixed buffer of maxLineBytes; nothing grows with the input.

export type InputEvent =
  | { kind: 'line'; text: string; json: boolean }
  | { kind: 'too-long'; bytes: number; json: boolean }
  | { kind: 'not-text'; bytes: number; json: boolean }
  | { kind: 'interrupt' };

export interface DecoderSink {
  event(e: InputEvent): void;
  /** Bytes to send back to the terminal (interactive only). */
  echo(bytes: Buffer): void;
}

export interface DecoderOptions {
  maxLineBytes: number;
  interactive: boolean;
  /**
   * Called with the start of a human line (up to 80 ASCII characters) as it is typed; true means
   * the rest of the line is a secret and is not echoed (e.g. "login 1234", "set tunnel.auth.psk x").
   */
  secretPrefix?: (start: string) => boolean;
}

const CR = 0x0d, LF = 0x0a, ETX = 0x03, BS = 0x08, DEL = 0x7f, NAK = 0x15, ESC = 0x1b, TAB = 0x09, BRACE = 0x7b;
const SECRET_CHECK_LEN = 80;
const MAX_ESCAPE_LEN = 16;

export class LineDecoder {
  /** Echo off for whole lines (a secret prompt is waiting for its answer). */
  hidden = false;
  private readonly buf: Uint8Array;
  /** Per stored byte: 1 if it was echoed (so backspace knows what to erase on screen). */
  private readonly shown: Uint8Array;
  private len = 0;
  private dropped = 0;
  private bad = false;
  private lastCr = false;
  private escState = 0; // 0 none, 1 after ESC, 2 inside CSI/SS3
  private escLen = 0;
  private json: boolean | undefined;
  private secret = false;
  private noisy = false;
  private utf8Need = 0;
  private out = '';

  constructor(private readonly opts: DecoderOptions, private readonly sink: DecoderSink) {
    if (!(opts.maxLineBytes >= 16)) throw new RangeError('maxLineBytes must be at least 16');
    this.buf = new Uint8Array(opts.maxLineBytes);
    this.shown = new Uint8Array(opts.maxLineBytes);
  }

  /** Forgets the line in progress (the port was closed and reopened). */
  reset(): void {
    this.clearLine();
    this.lastCr = false;
    this.escState = 0;
    this.hidden = false;
  }

  /** What is on screen of the line being typed, to redraw it after an asynchronous message. */
  pendingEcho(): string {
    if (!this.opts.interactive || this.json || this.dropped) return '';
    const bytes: number[] = [];
    for (let i = 0; i < this.len; i++) if (this.shown[i]) bytes.push(this.buf[i]!);
    return Buffer.from(bytes).toString('utf8');
  }

  push(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) this.byte(chunk[i]!);
    this.flushEcho();
  }

  private flushEcho(): void {
    if (this.out) {
      const s = this.out;
      this.out = '';
      this.sink.echo(Buffer.from(s, 'latin1')); // one char per byte: UTF-8 goes back as typed
    }
  }

  private emit(e: InputEvent): void {
    this.flushEcho(); // the echo of a line comes before whatever its event prints
    this.sink.event(e);
  }

  private byte(b: number): void {
    if (this.escState) {
      this.escapeByte(b);
      return;
    }
    if (b === LF && this.lastCr) { this.lastCr = false; return; } // CR LF is one line end
    this.lastCr = b === CR;
    if (b === CR || b === LF) { this.endLine(); return; }

    // Ctrl-U drops the pending line in either kind of line: tools send it before each request so
    // that noise already on the line can never turn the request into an echoed human line.
    if (this.opts.interactive && b === NAK) { this.killLine(); return; }
    const human = this.opts.interactive && this.json !== true;
    if (human) {
      if (b === ETX) { this.interrupt(); return; }
      if (b === BS || b === DEL) { this.backspace(); return; }
      if (b === ESC) { this.escState = 1; this.escLen = 0; return; }
      if (b === TAB) b = 0x20;
      if (b < 0x20) return; // stray keys (Ctrl-L, ...) mean nothing to a human line
    } else if (b < 0x20 || b === DEL) {
      this.bad = true;
      this.count();
      return;
    }
    if (this.len === 0 && this.dropped === 0 && this.json === undefined) this.json = !this.opts.interactive || b === BRACE;
    if (this.len >= this.buf.length || this.dropped) { this.count(); return; }
    if (human) this.trackUtf8(b);
    const show = this.opts.interactive && !this.json && !this.hidden && !this.secret && !this.bad && !this.noisy;
    this.buf[this.len] = b;
    this.shown[this.len] = show ? 1 : 0;
    this.len++;
    if (show) this.out += String.fromCharCode(b);
    if (this.opts.interactive && !this.json && !this.secret && this.len <= SECRET_CHECK_LEN && this.opts.secretPrefix && b < 0x80) {
      if (this.opts.secretPrefix(Buffer.from(this.buf.subarray(0, this.len)).toString('latin1'))) this.secret = true;
    }
  }

  /** Echo stops for the rest of a human line at the first byte that cannot be UTF-8 (line noise). */
  private trackUtf8(b: number): void {
    if (this.utf8Need > 0) {
      if ((b & 0xc0) === 0x80) this.utf8Need--;
      else this.noisy = true;
      return;
    }
    if (b < 0x80) return;
    if (b >= 0xc2 && b <= 0xdf) this.utf8Need = 1;
    else if ((b & 0xf0) === 0xe0) this.utf8Need = 2;
    else if (b >= 0xf0 && b <= 0xf4) this.utf8Need = 3;
    else this.noisy = true;
  }

  /** Counts a byte of a line that is already being dropped or is bad. */
  private count(): void {
    if (this.len < this.buf.length && !this.dropped) { this.len++; return; } // bad bytes still count towards the limit
    this.dropped++;
  }

  private escapeByte(b: number): void {
    if (++this.escLen > MAX_ESCAPE_LEN) { this.escState = 0; return; }
    if (this.escState === 1) {
      this.escState = b === 0x5b || b === 0x4f ? 2 : 0; // ESC [ (CSI) or ESC O (SS3); anything else ends it
      return;
    }
    if (b >= 0x40 && b <= 0x7e) this.escState = 0; // the final byte of the sequence
  }

  private erase(n: number): void {
    if (n > 0) this.out += '\b \b'.repeat(n);
  }

  private backspace(): void {
    if (this.len === 0 || this.dropped) return;
    // Remove one UTF-8 code point: continuation bytes, then the lead byte.
    let erased = 0;
    while (this.len > 0) {
      this.len--;
      const b = this.buf[this.len]!;
      if (this.shown[this.len] && (b & 0xc0) !== 0x80) erased++;
      if ((b & 0xc0) !== 0x80) break;
    }
    this.erase(erased);
    this.utf8Need = 0;
    if (this.len === 0) { this.json = undefined; this.secret = false; }
  }

  private killLine(): void {
    let visible = 0;
    for (let i = 0; i < this.len; i++) if (this.shown[i] && (this.buf[i]! & 0xc0) !== 0x80) visible++;
    this.erase(visible);
    this.clearLine();
  }

  private interrupt(): void {
    this.clearLine();
    this.out += '^C\r\n';
    this.emit({ kind: 'interrupt' });
  }

  private clearLine(): void {
    this.len = 0;
    this.dropped = 0;
    this.bad = false;
    this.json = undefined;
    this.secret = false;
    this.noisy = false;
    this.utf8Need = 0;
  }

  private endLine(): void {
    const json = this.json ?? false;
    const total = this.len + this.dropped;
    const human = this.opts.interactive && !json;
    if (human) this.out += '\r\n';
    let e: InputEvent | undefined;
    if (this.dropped) e = { kind: 'too-long', bytes: total, json };
    else if (this.bad) e = { kind: 'not-text', bytes: total, json };
    else if (this.len > 0 || human) {
      try {
        const text = new TextDecoder('utf-8', { fatal: true }).decode(this.buf.subarray(0, this.len));
        e = { kind: 'line', text, json };
      } catch {
        e = { kind: 'not-text', bytes: total, json };
      }
    }
    this.clearLine();
    if (e) this.emit(e);
  }
}
