// A min-heap of timed events. Ties on time break by insertion order, so a run is a pure function of
// its seed (no dependence on heap internals or object identity).

export interface Timed<T> {
  readonly atMs: number;
  readonly seq: number;
  readonly event: T;
}

export class EventQueue<T> {
  private readonly heap: Timed<T>[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(atMs: number, event: T): void {
    const item: Timed<T> = { atMs, seq: this.nextSeq++, event };
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, h[parent] as Timed<T>)) break;
      h[i] = h[parent] as Timed<T>;
      i = parent;
    }
    h[i] = item;
  }

  peekTimeMs(): number | undefined {
    return this.heap[0]?.atMs;
  }

  pop(): Timed<T> | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const child = r < h.length && before(h[r] as Timed<T>, h[l] as Timed<T>) ? r : l;
      if (!before(h[child] as Timed<T>, last)) break;
      h[i] = h[child] as Timed<T>;
      i = child;
    }
    h[i] = last;
    return top;
  }

  /** Drops every queued event for which `drop` returns true. */
  remove(drop: (event: T) => boolean): void {
    const keep = this.heap.filter((t) => !drop(t.event));
    this.heap.length = 0;
    for (const t of keep.sort((a, b) => (before(a, b) ? -1 : 1))) this.heap.push(t); // sorted = valid heap
  }
}

function before<T>(a: Timed<T>, b: Timed<T>): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}
