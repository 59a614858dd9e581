import { describe, expect, it } from 'vitest';
import { RecordAccumulator, type PendingRecord, type RecordMetadata } from '../src/accumulator.js';
import { BufferPool } from '../src/buffer-pool.js';
import { MaxBlockTimeoutError, MessageTooLargeError } from '../src/errors.js';
import { BATCH_OVERHEAD_BYTES } from '../src/record-size.js';

interface Outcome { error: Error | null; metadata?: RecordMetadata }

function record(sizeBytes: number, outcomes: Outcome[] = [], timestampMs = 0): PendingRecord {
  return {
    key: null, value: Buffer.alloc(0), headers: [], timestampMs, sizeBytes,
    complete: (error, metadata) => outcomes.push({ error, metadata }),
  };
}

const config = { batchSizeBytes: BATCH_OVERHEAD_BYTES + 100, lingerMs: 50, deliveryTimeoutMs: 1_000 };

describe('RecordAccumulator', () => {
  it('keeps appending to one batch until batch.size, then starts a new one', () => {
    const acc = new RecordAccumulator(config);
    const results = [40, 40, 20, 1].map((size) => acc.append('t', 0, record(size), 0));
    expect(results.map((r) => r.newBatch)).toEqual([true, false, false, true]);
    expect(results.map((r) => r.batchFull)).toEqual([false, false, true, false]);
    expect(acc.queue('t', 0).batches.map((b) => b.records.length)).toEqual([3, 1]);
  });

  it('a record larger than batch.size gets a batch of its own', () => {
    const acc = new RecordAccumulator(config);
    acc.append('t', 0, record(10), 0);
    const big = acc.append('t', 0, record(500), 0);
    expect(big.newBatch).toBe(true);
    expect(big.batchFull).toBe(true);
    expect(acc.queue('t', 0).batches.map((b) => b.records.length)).toEqual([1, 1]);
  });

  it('holds a non-full batch for linger.ms, then makes it ready', () => {
    const acc = new RecordAccumulator(config);
    acc.append('t', 0, record(10), 1_000);
    expect(acc.ready(1_000, false).ready).toHaveLength(0);
    expect(acc.ready(1_000, false).nextCheckMs).toBe(1_050);
    expect(acc.ready(1_049, false).ready).toHaveLength(0);
    expect(acc.ready(1_050, false).ready).toHaveLength(1);
  });

  it('a full batch, or a flush, is ready before linger.ms', () => {
    const acc = new RecordAccumulator(config);
    acc.append('t', 0, record(100), 0);
    acc.append('t', 1, record(10), 0);
    expect(acc.ready(0, false).ready.map((q) => q.partition)).toEqual([0]);
    expect(acc.ready(0, true).ready.map((q) => q.partition).sort()).toEqual([0, 1]);
  });

  it('completes records with consecutive offsets and their own timestamps', () => {
    const acc = new RecordAccumulator(config);
    const outcomes: Outcome[] = [];
    acc.append('t', 2, record(10, outcomes, 111), 0);
    acc.append('t', 2, record(10, outcomes, 222), 0);
    const batch = acc.takeHead(acc.ready(0, true).ready[0]!);
    acc.attemptEnded(batch);
    acc.completeBatch(batch, { baseOffset: 40, logAppendTimeMs: -1 });
    expect(outcomes).toEqual([
      { error: null, metadata: { topic: 't', partition: 2, offset: 40, timestamp: 111 } },
      { error: null, metadata: { topic: 't', partition: 2, offset: 41, timestamp: 222 } },
    ]);
    expect(() => acc.completeBatch(batch, { baseOffset: 0, logAppendTimeMs: -1 })).toThrow(/completed twice/);
  });

  it('a retried batch goes back to the head and waits out its backoff; one at a time after that', () => {
    const acc = new RecordAccumulator(config);
    acc.append('t', 0, record(100), 0); // full
    acc.append('t', 0, record(100), 0); // full
    const q = acc.queue('t', 0);
    const first = acc.takeHead(acc.ready(0, false).ready[0]!);
    acc.attemptEnded(first);
    acc.reenqueue(first, 500, new Error('NOT_LEADER'));
    expect(q.batches[0]).toBe(first);
    expect(acc.ready(100, false)).toEqual({ ready: [], nextCheckMs: 500 });
    const again = acc.takeHead(acc.ready(500, false).ready[0]!);
    expect(again).toBe(first);
    expect(again.attempts).toBe(2);
    // While the retried batch is in flight, the partition's next batch waits.
    expect(acc.ready(500, false).ready).toHaveLength(0);
    acc.attemptEnded(again);
    acc.completeBatch(again, { baseOffset: 0, logAppendTimeMs: -1 });
    expect(acc.ready(500, false).ready).toHaveLength(1);
  });

  it('takeSendable takes the closed batches behind the head within maxBytes, but not a lingering one', () => {
    const acc = new RecordAccumulator(config);
    for (let i = 0; i < 4; i++) acc.append('t', 0, record(100), 0); // four full batches
    acc.append('t', 0, record(10), 0); // one open, lingering
    const q = acc.queue('t', 0);
    const taken = acc.takeSendable(q, 0, false, 3 * (BATCH_OVERHEAD_BYTES + 100));
    expect(taken).toHaveLength(3);
    expect(q.batches).toHaveLength(2);
    const rest = acc.takeSendable(q, 0, false, 10_000);
    expect(rest.map((b) => b.records.length)).toEqual([1]); // the lingering batch stays
    expect(acc.takeSendable(q, 50, false, 10_000)).toHaveLength(1); // until linger.ms passed
  });

  it('takeSendable sends one batch at a time while the partition is retrying', () => {
    const acc = new RecordAccumulator(config);
    for (let i = 0; i < 3; i++) acc.append('t', 0, record(100), 0);
    const q = acc.queue('t', 0);
    const [first] = acc.takeSendable(q, 0, false, 100);
    acc.attemptEnded(first!);
    acc.reenqueue(first!, 0, new Error('retry'));
    expect(acc.takeSendable(q, 0, false, 10_000)).toEqual([first]);
  });

  it('stays one-at-a-time while a retry waits, even when a later batch already in flight succeeds', () => {
    // Otherwise new batches overtake the retry, push its first (written) attempt out of the broker's
    // 5-batch duplicate window, and the retry is refused as out of order (seen in the pipelining test).
    const acc = new RecordAccumulator(config);
    for (let i = 0; i < 4; i++) acc.append('t', 0, record(100), 0);
    const q = acc.queue('t', 0);
    const [first] = acc.takeSendable(q, 0, false, 100);
    const [second] = acc.takeSendable(q, 0, false, 100);
    acc.attemptEnded(first!);
    acc.reenqueue(first!, 0, new Error('REQUEST_TIMED_OUT'));
    acc.attemptEnded(second!);
    acc.completeBatch(second!, { baseOffset: 1, logAppendTimeMs: -1 });
    expect(acc.takeSendable(q, 0, false, 10_000)).toEqual([first]);
    acc.attemptEnded(first!);
    acc.completeBatch(first!, { baseOffset: 0, logAppendTimeMs: -1 });
    expect(acc.takeSendable(q, 0, false, 10_000)).toHaveLength(2); // the retry succeeded: back to normal
  });

  it('expires queued batches after delivery.timeout.ms, not in-flight ones', () => {
    const acc = new RecordAccumulator(config);
    acc.append('t', 0, record(100), 0);
    acc.append('t', 1, record(10), 0);
    const inFlight = acc.takeHead(acc.queue('t', 0));
    expect(acc.nextExpiryMs()).toBe(1_000);
    expect(acc.expire(999)).toHaveLength(0);
    const expired = acc.expire(1_000);
    expect(expired.map((b) => b.partition)).toEqual([1]);
    expect(inFlight.state).toBe('in-flight');
  });

  it('drained() resolves once every existing batch has completed', async () => {
    const acc = new RecordAccumulator(config);
    acc.append('t', 0, record(10), 0);
    let drained = false;
    const p = acc.drained().then(() => { drained = true; });
    await Promise.resolve();
    expect(drained).toBe(false);
    const b = acc.takeHead(acc.queue('t', 0));
    acc.attemptEnded(b);
    acc.completeBatch(b, { error: new Error('x') });
    await p;
    expect(drained).toBe(true);
  });
});

describe('BufferPool (buffer.memory)', () => {
  it('grants while bytes remain, then blocks until released, FIFO', async () => {
    const pool = new BufferPool(100, 5_000);
    await pool.reserve(60);
    const order: string[] = [];
    const big = pool.reserve(70).then(() => order.push('big'));
    const small = pool.reserve(10).then(() => order.push('small')); // fits, but must not overtake
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual([]);
    pool.release(60);
    await Promise.all([big, small]);
    expect(order).toEqual(['big', 'small']);
    expect(pool.available).toBe(20);
  });

  it('fails after max.block.ms with MaxBlockTimeoutError and lets later waiters proceed', async () => {
    const pool = new BufferPool(100, 30);
    await pool.reserve(90);
    const started = Date.now();
    await expect(pool.reserve(50)).rejects.toBeInstanceOf(MaxBlockTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(pool.waiting).toBe(0);
    await pool.reserve(10);
    expect(pool.available).toBe(0);
  });

  it('rejects a reservation larger than buffer.memory immediately', async () => {
    const pool = new BufferPool(100, 60_000);
    await expect(pool.reserve(101)).rejects.toBeInstanceOf(MessageTooLargeError);
  });

  it('asserts against over-release', () => {
    const pool = new BufferPool(100, 1_000);
    expect(() => pool.release(1)).toThrow(/over-released/);
  });
});
