// Events waiting for the broker: a bounded FIFO. Each entry stays until the broker
// acknowledges it (QoS 1), so an outage or a dropped connection loses nothing the queue can
// hold; past capacity the oldest entry is dropped and counted (memory stays flat however long
// the broker is away).

export interface Queued<T> {
  /** Monotonic per queue, from 1; consumers see gaps when entries were dropped. */
  seq: number;
  item: T;
}

export class EventQueue<T> {
  private entries: Queued<T>[] = [];
  private nextSeq = 1;
  /** Entries dropped for lack of room since the queue was created. */
  dropped = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('queue capacity must be a positive integer');
  }

  get size(): number {
    return this.entries.length;
  }

  /** Appends; when full, the oldest entry goes first. Returns the new entry's seq. */
  push(item: T): number {
    if (this.entries.length >= this.capacity) {
      this.entries.shift();
      this.dropped++;
    }
    const seq = this.nextSeq++;
    this.entries.push({ seq, item });
    return seq;
  }

  /** The oldest entry with seq >= `from` (the next one to send), or undefined. */
  firstFrom(from: number): Queued<T> | undefined {
    // Entries are in seq order; the head is almost always the answer.
    for (const e of this.entries) if (e.seq >= from) return e;
    return undefined;
  }

  /** Removes an acknowledged entry; false if it was already dropped. */
  remove(seq: number): boolean {
    const i = this.entries.findIndex((e) => e.seq === seq);
    if (i < 0) return false;
    this.entries.splice(i, 1);
    return true;
  }

  /** A copy of what is waiting, oldest first. */
  list(): Queued<T>[] {
    return [...this.entries];
  }
}
