// The partition log's writer: one serialized queue of mutations. Appends and tasks run in the order
// they were queued; consecutive appends are handed over as one group (the log writes a group with one
// writev), and a drain starts on the next event-loop turn (setImmediate, not a microtask) so every
// append issued during this turn joins it. The queue knows nothing of what it runs: the log supplies
// the group writer and says whether it has failed.

/** What the queue needs of a queued append: a way to fail it. The log adds the rest. */
export interface QueuedAppend {
  readonly reject: (err: unknown) => void;
}

interface TaskOp {
  readonly kind: 'task';
  readonly run: () => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
}

type WriterOp<A> = { readonly kind: 'append'; readonly op: A } | TaskOp;

export class WriterQueue<A extends QueuedAppend> {
  private readonly queue: WriterOp<A>[] = [];
  private drainScheduled = false;
  private draining = false;

  constructor(private readonly options: {
    /** Writes a group of consecutive appends, settling each; it handles its own failures. */
    readonly writeAppends: (group: A[]) => Promise<void>;
    /** After a task failed: true when the log failed with it, so everything queued behind is rejected. */
    readonly hasFailed: () => boolean;
    /** The error each op still queued gets when the log fails. */
    readonly failedError: (cause: unknown) => Error;
  }) {}

  append(op: A): void {
    this.queue.push({ kind: 'append', op });
    this.scheduleDrain();
  }

  /** Runs `run` after everything queued before it. */
  task<T>(run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ kind: 'task', run, resolve: resolve as (value: unknown) => void, reject });
      this.scheduleDrain();
    });
  }

  /** Whether an append is queued and not yet handed to writeAppends. */
  hasQueuedAppends(): boolean {
    return this.queue.some((op) => op.kind === 'append');
  }

  /** Whether anything is queued or running. */
  get busy(): boolean {
    return this.queue.length > 0 || this.draining || this.drainScheduled;
  }

  /** The log failed: every op still queued is rejected with failedError(cause). */
  rejectAll(cause: unknown): void {
    for (const entry of this.queue.splice(0, this.queue.length)) {
      const err = this.options.failedError(cause);
      if (entry.kind === 'append') entry.op.reject(err);
      else entry.reject(err);
    }
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.draining) return;
    this.drainScheduled = true;
    // setImmediate, not a microtask: every append issued during this event-loop turn joins the write.
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    this.drainScheduled = false;
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const head = this.queue[0]!;
        if (head.kind === 'append') {
          const group: A[] = [];
          for (let next = this.queue[0]; next?.kind === 'append'; next = this.queue[0]) {
            this.queue.shift();
            group.push(next.op);
          }
          await this.options.writeAppends(group);
        } else {
          this.queue.shift();
          try {
            head.resolve(await head.run());
          } catch (err) {
            head.reject(err);
            if (this.options.hasFailed()) this.rejectAll(err);
          }
        }
      }
    } finally {
      this.draining = false;
    }
  }
}
