// Event-driven waiting for partition changes (high watermark advanced, partition gone, leadership
// moved): long-poll fetches and acks=all produces park here instead of polling. The waiter re-checks
// its own condition after each wake-up, so spurious wake-ups are harmless.

export type WaitOutcome = 'changed' | 'timeout' | 'aborted';

interface Waiter {
  readonly keys: readonly string[];
  readonly settle: (outcome: WaitOutcome) => void;
}

export const DEFAULT_MAX_WAITERS = 100_000;

export class ChangeNotifier {
  private readonly waitersByKey = new Map<string, Set<Waiter>>();
  private waiterCount = 0;

  /** `maxWaiters` bounds parked requests; beyond it waits return 'timeout' at once. */
  constructor(private readonly maxWaiters: number = DEFAULT_MAX_WAITERS) {}

  get size(): number {
    return this.waiterCount;
  }

  /**
   * Resolves 'changed' at the first notify() of any key, 'timeout' after `timeoutMs`, or 'aborted'
   * when `signal` aborts. Every path releases the waiter and its timer.
   */
  wait(keys: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<WaitOutcome> {
    if (signal?.aborted === true) return Promise.resolve('aborted');
    if (timeoutMs <= 0 || keys.length === 0 || this.waiterCount >= this.maxWaiters) return Promise.resolve('timeout');
    return new Promise<WaitOutcome>((resolve) => {
      let settled = false;
      const onAbort = (): void => settle('aborted');
      const timer = setTimeout(() => settle('timeout'), timeoutMs);
      const waiter: Waiter = { keys, settle: (outcome) => settle(outcome) };
      const settle = (outcome: WaitOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        for (const key of keys) {
          const set = this.waitersByKey.get(key);
          set?.delete(waiter);
          if (set?.size === 0) this.waitersByKey.delete(key);
        }
        this.waiterCount -= 1;
        resolve(outcome);
      };
      this.waiterCount += 1;
      for (const key of keys) {
        let set = this.waitersByKey.get(key);
        if (set === undefined) this.waitersByKey.set(key, (set = new Set()));
        set.add(waiter);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  notify(key: string): void {
    const set = this.waitersByKey.get(key);
    if (set === undefined) return;
    for (const waiter of [...set]) waiter.settle('changed');
  }

  /** Wakes every waiter (shutdown). */
  notifyAll(): void {
    for (const key of [...this.waitersByKey.keys()]) this.notify(key);
  }
}

/** A partition's key: in maps of partitions, and the notifier key a consumer fetch waits on (the HW moved). */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/** Key a follower fetch waits on: the leader's log grew (distinct from the HW key consumers use). */
export function logEndOffsetKey(topic: string, partition: number): string {
  return `${topic}-${partition}/leo`;
}
