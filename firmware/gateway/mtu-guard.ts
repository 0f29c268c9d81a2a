// The tunnel's MTU, enforced on the packets Outpost carries: SYNs crossing the tunnel in either
// direction get their MSS clamped so TCP never needs fragmentation, and an outbound packet too
// big for the tunnel is answered with ICMP "fragmentation needed" / "packet too big" written back
// to the TUN (rate-limited like a router's ICMP errors) instead of being sealed. DataPlane calls
// outbound() for each packet before sealing it and inbound() for each decrypted packet.
import { buildTooBig, tooBigVerdict } from './icmp-too-big.ts';
import { clampMss, mssForMtu } from './mss-clamp.ts';

export interface MtuGuardOptions {
  /** The largest inner packet the tunnel carries unfragmented (see tunnel-mtu.ts). */
  mtu: number;
  /** Where ICMP answers go (the TUN). */
  reply: (pkt: Uint8Array) => unknown;
  /** ICMP answers per second, with a burst of twice that. Default 20. */
  icmpPerSecond?: number;
  now?: () => number;
}

export interface MtuGuardCounters {
  /** SYNs whose MSS was lowered, outbound and inbound. */
  mssClampedOut: number;
  mssClampedIn: number;
  /** Outbound packets dropped for being too big, and how many of them were answered. */
  tooBig: number;
  icmpSent: number;
  icmpRateLimited: number;
}

export class MtuGuard {
  private mtuValue: number;
  private mss4: number;
  private mss6: number;
  private readonly reply: (pkt: Uint8Array) => unknown;
  private readonly now: () => number;
  private readonly rate: number;
  private tokens: number;
  private refilledAt: number;
  readonly counters: MtuGuardCounters = { mssClampedOut: 0, mssClampedIn: 0, tooBig: 0, icmpSent: 0, icmpRateLimited: 0 };

  constructor(opts: MtuGuardOptions) {
    this.reply = opts.reply;
    this.now = opts.now ?? Date.now;
    this.rate = opts.icmpPerSecond ?? 20;
    this.tokens = this.rate * 2;
    this.refilledAt = this.now();
    this.mtuValue = 0; this.mss4 = 0; this.mss6 = 0;
    this.mtu = opts.mtu;
  }

  get mtu(): number { return this.mtuValue; }
  set mtu(m: number) {
    if (!Number.isInteger(m) || m < 68 || m > 65535) throw new RangeError(`tunnel MTU must be 68..65535, got ${m}`);
    this.mtuValue = m;
    this.mss4 = mssForMtu(m, 4);
    this.mss6 = mssForMtu(m, 6);
  }

  /** For a packet about to be sealed: false when it must be dropped (too big; answered if due). */
  outbound(p: Uint8Array): boolean {
    if (p.length > this.mtuValue) {
      const v = tooBigVerdict(p, this.mtuValue);
      if (v === 'answer') {
        this.counters.tooBig++;
        this.answer(p);
        return false;
      }
      if (v === 'no-answer') { this.counters.tooBig++; return false; }
      // 'may-fragment': the outer UDP datagram is fragmented by the kernel; 'fits'/'malformed':
      // the length field says less than the buffer, the data plane decides.
    }
    if (p.length >= 40 && clampMss(p, (p[0]! >> 4) === 4 ? this.mss4 : this.mss6) !== 0) this.counters.mssClampedOut++;
    return true;
  }

  /** For a decrypted packet about to be written to the TUN: clamps a SYN(-ACK)'s MSS. */
  inbound(p: Uint8Array): void {
    if (p.length >= 40 && clampMss(p, (p[0]! >> 4) === 4 ? this.mss4 : this.mss6) !== 0) this.counters.mssClampedIn++;
  }

  private answer(p: Uint8Array): void {
    const now = this.now();
    this.tokens = Math.min(this.rate * 2, this.tokens + ((now - this.refilledAt) / 1000) * this.rate);
    this.refilledAt = now;
    if (this.tokens < 1) { this.counters.icmpRateLimited++; return; }
    const icmp = buildTooBig(p, this.mtuValue);
    if (icmp === null) return;
    this.tokens -= 1;
    try {
      this.reply(icmp);
      this.counters.icmpSent++;
    } catch {
      // TUN down or full: the sender retransmits and asks again.
    }
  }
}
