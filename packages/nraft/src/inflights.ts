// Flow control for one follower in the replicate state: the append messages sent but not yet
// acknowledged, each remembered by the last index it carried and its payload bytes. The leader stops
// sending when either the message count or the byte total reaches its limit.
import { invariant } from './errors.js';

interface Inflight {
  readonly lastIndex: number;
  readonly bytes: number;
}

export class Inflights {
  /** Oldest first; lastIndex strictly increasing. At most maxCount entries. */
  private queue: Inflight[] = [];
  private bytesTotal = 0;

  constructor(
    readonly maxCount: number,
    /** 0 = no byte limit. */
    readonly maxBytes: number,
  ) {
    invariant(maxCount > 0, 'inflights: maxCount must be positive');
  }

  /** Records a message carrying entries up to `lastIndex` with `bytes` of payload. */
  add(lastIndex: number, bytes: number): void {
    invariant(!this.full(), 'inflights: add while full');
    const last = this.queue[this.queue.length - 1];
    invariant(last === undefined || lastIndex > last.lastIndex, () =>
      `inflights: index ${lastIndex} not above last in flight ${last?.lastIndex ?? 0}`,
    );
    this.queue.push({ lastIndex, bytes });
    this.bytesTotal += bytes;
  }

  /** The follower acknowledged everything up to `index`: frees every message at or below it. */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.queue.length && this.queue[n]!.lastIndex <= index) {
      this.bytesTotal -= this.queue[n]!.bytes;
      n++;
    }
    if (n > 0) this.queue = this.queue.slice(n);
  }

  /**
   * Frees the oldest message in flight. Used when a heartbeat response proves the follower is alive
   * while the window is full: the appends (or their acks) were lost, and without this the leader
   * would wait forever for acks that will never come (a liveness bug the simulator found).
   */
  freeFirstOne(): void {
    const first = this.queue[0];
    if (first === undefined) return;
    this.bytesTotal -= first.bytes;
    this.queue = this.queue.slice(1);
  }

  full(): boolean {
    return this.queue.length >= this.maxCount || (this.maxBytes > 0 && this.bytesTotal >= this.maxBytes);
  }

  count(): number {
    return this.queue.length;
  }

  bytes(): number {
    return this.bytesTotal;
  }

  reset(): void {
    this.queue = [];
    this.bytesTotal = 0;
  }
}
