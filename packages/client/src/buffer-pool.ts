// `buffer.memory`: a bounded byte budget for records the producer holds but has not had acknowledged.
// `reserve` waits (FIFO, so a large record is not starved by small ones) until the bytes are free or the
// deadline (`max.block.ms`) passes; `release` hands bytes back when a batch completes.
import { MaxBlockTimeoutError, MessageTooLargeError } from './errors.js';

interface Waiter {
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

export class BufferPool {
  private availableBytes: number;
  private readonly waiters: Waiter[] = [];

  constructor(readonly totalBytes: number, private readonly maxBlockMs: number) {
    this.availableBytes = totalBytes;
  }

  get available(): number {
    return this.availableBytes;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves once `bytes` are reserved; rejects after `waitMs` (default `max.block.ms`). */
  reserve(bytes: number, waitMs: number = this.maxBlockMs): Promise<void> {
    if (bytes > this.totalBytes) {
      return Promise.reject(new MessageTooLargeError(
        `record of ${bytes} bytes is larger than buffer.memory=${this.totalBytes}`, bytes, this.totalBytes));
    }
    if (this.waiters.length === 0 && bytes <= this.availableBytes) {
      this.availableBytes -= bytes;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { bytes, resolve, reject, timer: undefined };
      waiter.timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new MaxBlockTimeoutError(`${bytes} bytes of buffer.memory=${this.totalBytes}`, waitMs));
        this.grant(); // the head may have changed
      }, waitMs);
      waiter.timer.unref?.();
      this.waiters.push(waiter);
    });
  }

  release(bytes: number): void {
    this.availableBytes += bytes;
    if (this.availableBytes > this.totalBytes) {
      throw new Error(`assertion: buffer pool over-released (${this.availableBytes} > ${this.totalBytes})`);
    }
    this.grant();
  }

  /** Fails every waiter (on close). */
  abortWaiters(error: Error): void {
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(error);
    }
  }

  private grant(): void {
    while (this.waiters.length > 0) {
      const head = this.waiters[0]!;
      if (head.bytes > this.availableBytes) return;
      this.waiters.shift();
      clearTimeout(head.timer);
      this.availableBytes -= head.bytes;
      head.resolve();
    }
  }
}
