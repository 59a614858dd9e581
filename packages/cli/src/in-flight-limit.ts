// Bounds how many sends are outstanding at once, so `produce` and `perf produce` pipeline records
// (never awaiting each one) while memory stays bounded whatever the input size.

export class InFlightLimit {
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private drainWaiters: (() => void)[] = [];

  constructor(readonly inFlightMax: number) {
    if (!Number.isInteger(inFlightMax) || inFlightMax < 1) throw new RangeError(`inFlightMax must be an integer >= 1, got ${inFlightMax}`);
  }

  get count(): number {
    return this.inFlight;
  }

  /** Resolves once a slot is free (immediately when below the limit), and takes it. */
  async acquire(): Promise<void> {
    while (this.inFlight >= this.inFlightMax) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.inFlight += 1;
  }

  release(): void {
    if (this.inFlight <= 0) throw new Error('InFlightLimit.release without a matching acquire');
    this.inFlight -= 1;
    this.waiters.shift()?.();
    if (this.inFlight === 0) for (const resolve of this.drainWaiters.splice(0)) resolve();
  }

  /** Resolves when nothing is in flight. */
  drained(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }
}
