// A bounds-checked cursor over a payload body. Every read checks the remaining length first and
// throws IkeDecodeError (INVALID_SYNTAX) naming what was being read; slices are copied so decoded
// values never alias (or pin) the datagram buffer.
import { syntaxError } from '../errors.ts';

export class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer, private readonly what: string) {}

  get offset(): number { return this.pos; }
  get remaining(): number { return this.buf.length - this.pos; }

  need(n: number, field: string): void {
    if (n < 0 || this.remaining < n) {
      throw syntaxError(`${this.what}: ${field} needs ${n} bytes, ${this.remaining} left`);
    }
  }
  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }
  u16(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  skip(n: number, field: string): void {
    this.need(n, field);
    this.pos += n;
  }
  bytes(n: number, field: string): Buffer {
    this.need(n, field);
    const b = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return b;
  }
  /** A sub-view (not copied) for nested structures that get their own Reader. */
  view(n: number, field: string): Buffer {
    this.need(n, field);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  rest(): Buffer {
    return this.bytes(this.remaining, 'rest');
  }
  end(): void {
    if (this.remaining !== 0) throw syntaxError(`${this.what}: ${this.remaining} trailing bytes`);
  }
}

/** Throws RangeError for values an encoder cannot represent: a caller bug, not network input. */
export function checkRange(v: number, max: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${field} ${v} out of range 0..${max}`);
  return v;
}

export function u8(v: number, field: string): Buffer {
  return Buffer.from([checkRange(v, 0xff, field)]);
}
export function u16(v: number, field: string): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(checkRange(v, 0xffff, field));
  return b;
}
export function u32(v: number, field: string): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(checkRange(v, 0xffffffff, field));
  return b;
}
