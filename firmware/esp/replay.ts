// Anti-replay window (RFC 4303 3.4.3) as a ring of 32-bit blocks in the style of RFC 6479: sliding
// the window clears whole blocks instead of shifting bits, so the cost does not grow with the
// window. One spare block keeps `size` sequence numbers below the top always addressable.
// 64-bit sequence numbers are held as two uint32 halves (hi, lo) so no precision is lost.
// check() runs before decryption; accept() only once the ICV has verified.

const TWO32 = 0x1_0000_0000;

export const DEFAULT_REPLAY_WINDOW = 1024;
export const MAX_REPLAY_WINDOW = 1 << 16;

export class ReplayWindow {
  /** Sequence numbers older than top - size + 1 are refused. */
  readonly size: number;
  readonly #blocks: Uint32Array;
  readonly #bitMask: number; // blocks * 32 - 1
  #topHi = 0;
  #topLo = 0; // (0, 0) until a packet is accepted

  constructor(size: number = DEFAULT_REPLAY_WINDOW) {
    if (!Number.isInteger(size) || size < 32 || size > MAX_REPLAY_WINDOW) {
      throw new RangeError(`replay window must be an integer in 32..${MAX_REPLAY_WINDOW}`);
    }
    this.size = size;
    let n = 1;
    while (n < Math.ceil(size / 32) + 1) n *= 2;
    this.#blocks = new Uint32Array(n);
    this.#bitMask = n * 32 - 1;
  }

  get topHi(): number { return this.#topHi; }
  get topLo(): number { return this.#topLo; }
  /** Highest accepted sequence number (0n before any). */
  get top(): bigint { return (BigInt(this.#topHi) << 32n) | BigInt(this.#topLo); }

  /**
   * RFC 4303 Appendix A2.1: the high 32 bits of an ESN from its transmitted low half, relative
   * to the window. Returns -1 when the number would lie before the start of the SA (or after
   * 2^64 - 1): such a packet cannot be valid.
   */
  inferHigh(lo: number): number {
    const th = this.#topHi, tl = this.#topLo, w = this.size;
    let hi: number;
    if (tl >= w - 1) {
      hi = lo >= tl - w + 1 ? th : th + 1; // window within one subspace
    } else {
      hi = lo >= tl - w + 1 + TWO32 ? th - 1 : th; // window spans two subspaces
    }
    return hi < 0 || hi >= TWO32 ? -1 : hi;
  }

  /** True when (hi, lo) is new: not zero, not older than the window, not already seen. */
  check(hi: number, lo: number): boolean {
    if (hi === 0 && lo === 0) return false;
    // Exact: callers pass hi within one of the top's, so |rel| < 2^33; larger gaps only need their sign.
    const rel = (hi - this.#topHi) * TWO32 + (lo - this.#topLo);
    if (rel > 0) return true;
    if (-rel >= this.size) return false;
    const idx = lo & this.#bitMask;
    return (this.#blocks[idx >>> 5]! & (1 << (idx & 31))) === 0;
  }

  /** Marks (hi, lo) as received, sliding the window when it is ahead. Call only after the ICV verified. */
  accept(hi: number, lo: number): void {
    if (!this.check(hi, lo)) return;
    const rel = (hi - this.#topHi) * TWO32 + (lo - this.#topLo);
    const nBlocks = this.#blocks.length;
    if (rel > 0) {
      const topIdx = this.#topLo & this.#bitMask;
      const steps = rel > this.#bitMask ? nBlocks : Math.min(nBlocks, ((topIdx + rel) >>> 5) - (topIdx >>> 5));
      if (steps >= nBlocks) {
        this.#blocks.fill(0);
      } else {
        let b = topIdx >>> 5;
        for (let i = 0; i < steps; i++) {
          b = (b + 1) & (nBlocks - 1);
          this.#blocks[b] = 0;
        }
      }
      this.#topHi = hi;
      this.#topLo = lo;
    }
    const idx = lo & this.#bitMask;
    this.#blocks[idx >>> 5]! |= 1 << (idx & 31);
  }
}
