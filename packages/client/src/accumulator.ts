// The record accumulator: per-partition queues of batches, filled by `send` and drained by the sender.
// Pure bookkeeping: the current time is passed in, nothing here does I/O or sets timers.
//
// A partition's head batch is sendable when it is full (`batch.size`), lingered long enough
// (`linger.ms`), closed, has a batch behind it, or a flush/close is in progress — and its retry backoff
// (if any) has passed. After a retry the partition sends one batch at a time until that batch succeeds,
// so a retried batch cannot be overtaken by a later one (per-partition order without idempotence needs
// this plus max.in.flight=1 for batches already in flight; with idempotence the broker's sequence
// check covers that case).
import { BATCH_OVERHEAD_BYTES, type RecordHeader } from './record-size.js';

export interface RecordMetadata {
  readonly topic: string;
  readonly partition: number;
  /** -1 with acks=0 (the broker does not say). */
  readonly offset: number;
  /** CreateTime from the record, or the broker's LogAppendTime when the topic uses it. */
  readonly timestamp: number;
}

export interface PendingRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly RecordHeader[];
  readonly timestampMs: number;
  /** Upper bound of the encoded size; reserved from buffer.memory until the batch completes. */
  readonly sizeBytes: number;
  readonly complete: (error: Error | null, metadata?: RecordMetadata) => void;
}

export type BatchState = 'open' | 'queued' | 'in-flight' | 'done';

export class ProducerBatch {
  readonly records: PendingRecord[] = [];
  sizeBytes = BATCH_OVERHEAD_BYTES;
  state: BatchState = 'open';
  /** Number of send attempts so far. */
  attempts = 0;
  /** Not sendable before this time (retry backoff). */
  retryAtMs = 0;
  /** The partition's leader epoch in the client's metadata when the last attempt was sent (-1 = unknown). */
  sentLeaderEpoch = -1;
  /**
   * Attempts sent under `sentLeaderEpoch`: the retry backoff grows with these, so the first failure at
   * a new leader (one that has not applied its election yet) backs off retry.backoff.ms, not the
   * backoff the old leader's failures had grown to.
   */
  attemptsUnderLeader = 0;
  /** Idempotence: assigned at the first drain and kept across retries (-1 = none). */
  producerId = -1;
  producerEpoch = -1;
  baseSequence = -1;
  /**
   * Idempotence: whether, when the current attempt was sent, an earlier batch of the partition (same
   * producer id) was unfinished. Only then may a sequence refusal of this attempt still resolve.
   */
  sentBehindUnfinished = false;
  /** The last retriable error, reported as the cause if the batch then times out. */
  lastError: unknown = undefined;
  /** Encoded bytes, cached so a retry sends exactly what the first attempt sent. */
  encoded: Buffer | undefined = undefined;
  private resolveDone!: () => void;
  readonly done: Promise<void> = new Promise((resolve) => { this.resolveDone = resolve; });

  constructor(readonly topic: string, readonly partition: number, readonly createdMs: number) {}

  /** Completes every record once; the batch is then `done`. */
  complete(results: { error: Error } | { baseOffset: number; logAppendTimeMs: number }): void {
    if (this.state === 'done') throw new Error(`assertion: batch ${this.topic}-${this.partition} completed twice`);
    this.state = 'done';
    this.records.forEach((r, i) => {
      if ('error' in results) {
        r.complete(results.error);
      } else {
        r.complete(null, {
          topic: this.topic,
          partition: this.partition,
          offset: results.baseOffset < 0 ? -1 : results.baseOffset + i,
          timestamp: results.logAppendTimeMs >= 0 ? results.logAppendTimeMs : r.timestampMs,
        });
      }
    });
    this.resolveDone();
  }
}

export interface AccumulatorConfig {
  readonly batchSizeBytes: number;
  readonly lingerMs: number;
  readonly deliveryTimeoutMs: number;
}

export interface PartitionQueue {
  readonly topic: string;
  readonly partition: number;
  readonly batches: ProducerBatch[];
  /** Batches of this partition currently in flight. */
  inFlight: number;
  /** Set after a retriable failure: send one batch at a time until one succeeds. */
  retrying: boolean;
}

export interface AppendResult {
  readonly batch: ProducerBatch;
  /** A new batch was started (the previous one, if any, was closed). */
  readonly newBatch: boolean;
  /** The batch reached batch.size: wake the sender. */
  readonly batchFull: boolean;
}

export class RecordAccumulator {
  private readonly queues = new Map<string, PartitionQueue>();
  /** Batches not yet completed, for flush(). */
  private readonly incomplete = new Set<ProducerBatch>();

  constructor(
    private readonly config: AccumulatorConfig,
    /** Called when a batch stops taking records (full or drained): moves the sticky partition. */
    private readonly onBatchClosed: (topic: string, partition: number) => void = () => {},
  ) {}

  queue(topic: string, partition: number): PartitionQueue {
    const key = `${topic}\u0000${partition}`;
    let q = this.queues.get(key);
    if (q === undefined) {
      q = { topic, partition, batches: [], inFlight: 0, retrying: false };
      this.queues.set(key, q);
    }
    return q;
  }

  append(topic: string, partition: number, record: PendingRecord, nowMs: number): AppendResult {
    const q = this.queue(topic, partition);
    const last = q.batches[q.batches.length - 1];
    if (last !== undefined && last.state === 'open') {
      if (last.sizeBytes + record.sizeBytes <= this.config.batchSizeBytes || last.records.length === 0) {
        this.add(last, record);
        const full = last.sizeBytes >= this.config.batchSizeBytes;
        if (full) this.close(last);
        return { batch: last, newBatch: false, batchFull: full };
      }
      this.close(last);
    }
    const batch = new ProducerBatch(topic, partition, nowMs);
    q.batches.push(batch);
    this.incomplete.add(batch);
    this.add(batch, record);
    // A record bigger than batch.size gets a batch of its own.
    const full = batch.sizeBytes >= this.config.batchSizeBytes;
    if (full) this.close(batch);
    return { batch, newBatch: true, batchFull: full };
  }

  /**
   * Partitions whose head batch can be sent at `nowMs`, and the earliest time another may become
   * sendable (Infinity when nothing is waiting).
   */
  ready(nowMs: number, flushing: boolean, inFlightBatchesMax = Infinity): { ready: PartitionQueue[]; nextCheckMs: number } {
    const ready: PartitionQueue[] = [];
    let nextCheckMs = Infinity;
    for (const q of this.queues.values()) {
      const head = q.batches[0];
      if (head === undefined) continue;
      if (q.retrying && q.inFlight > 0) continue; // woken by that batch's completion
      if (q.inFlight >= inFlightBatchesMax) continue; // likewise
      if (head.retryAtMs > nowMs) {
        nextCheckMs = Math.min(nextCheckMs, head.retryAtMs);
        continue;
      }
      const lingerEndMs = head.createdMs + this.config.lingerMs;
      const sendable = head.state === 'queued' || q.batches.length > 1 || flushing || lingerEndMs <= nowMs
        || head.sizeBytes >= this.config.batchSizeBytes;
      if (sendable) ready.push(q);
      else nextCheckMs = Math.min(nextCheckMs, lingerEndMs);
    }
    return { ready, nextCheckMs };
  }

  /** Removes the head batch of `q` for sending; it is closed to further appends. */
  takeHead(q: PartitionQueue): ProducerBatch {
    const batch = q.batches.shift();
    if (batch === undefined) throw new Error(`assertion: takeHead on empty queue ${q.topic}-${q.partition}`);
    if (batch.state === 'open') this.close(batch);
    batch.state = 'in-flight';
    batch.attempts += 1;
    q.inFlight += 1;
    return batch;
  }

  /**
   * Takes the head batch of a ready queue and, unless the partition is retrying, the batches behind it
   * that are sendable too, while their total stays within `maxBytes` (the head always goes).
   * Several batches of one partition travel in one request as concatenated batches, while the partition
   * has fewer than `inFlightBatchesMax` batches in flight.
   */
  takeSendable(q: PartitionQueue, nowMs: number, flushing: boolean, maxBytes: number, inFlightBatchesMax = Infinity, holdBack?: (batch: ProducerBatch) => boolean): ProducerBatch[] {
    const out = [this.takeHead(q)];
    let bytes = out[0]!.sizeBytes;
    while (!q.retrying && q.inFlight < inFlightBatchesMax) {
      const next = q.batches[0];
      if (next === undefined || next.retryAtMs > nowMs || bytes + next.sizeBytes > maxBytes || holdBack?.(next) === true) break;
      const sendable = next.state === 'queued' || q.batches.length > 1 || flushing
        || next.createdMs + this.config.lingerMs <= nowMs || next.sizeBytes >= this.config.batchSizeBytes;
      if (!sendable) break;
      out.push(this.takeHead(q));
      bytes += next.sizeBytes;
    }
    return out;
  }

  /** A send attempt of `batch` ended (success, failure or retry). */
  attemptEnded(batch: ProducerBatch): void {
    const q = this.queue(batch.topic, batch.partition);
    q.inFlight -= 1;
    if (q.inFlight < 0) throw new Error(`assertion: negative in-flight count for ${q.topic}-${q.partition}`);
  }

  /** Completes `batch` (its attempt must have ended) and forgets it. */
  completeBatch(batch: ProducerBatch, results: Parameters<ProducerBatch['complete']>[0]): void {
    const q = this.queue(batch.topic, batch.partition);
    // One-at-a-time ends when no retried batch is left waiting: a success of a later batch that was
    // already in flight when the retry was queued must not end it, or new batches would overtake the
    // retry and push the original out of the broker's 5-batch duplicate window (the retry is then
    // refused as out of order although its first attempt was written).
    if (!('error' in results) && !q.batches.some((b) => b.attempts > 0)) q.retrying = false;
    this.incomplete.delete(batch);
    batch.complete(results);
  }

  /** Puts a failed batch back for a retry at `retryAtMs`, in sequence order when it has one. */
  reenqueue(batch: ProducerBatch, retryAtMs: number, error: unknown): void {
    const q = this.queue(batch.topic, batch.partition);
    batch.state = 'queued';
    batch.retryAtMs = retryAtMs;
    batch.lastError = error;
    q.retrying = true;
    let i = 0;
    if (batch.baseSequence >= 0) {
      while (i < q.batches.length && q.batches[i]!.baseSequence >= 0 && q.batches[i]!.baseSequence < batch.baseSequence) i++;
    }
    q.batches.splice(i, 0, batch);
  }

  /** Queued retries still backing off at `nowMs` (a caller may cut a backoff short by lowering retryAtMs). */
  backingOff(nowMs: number): ProducerBatch[] {
    const out: ProducerBatch[] = [];
    for (const q of this.queues.values()) {
      for (const b of q.batches) if (b.state === 'queued' && b.attempts > 0 && b.retryAtMs > nowMs) out.push(b);
    }
    return out;
  }

  /** Removes and returns queued batches older than `delivery.timeout.ms` (in-flight ones wait for their answer). */
  expire(nowMs: number): ProducerBatch[] {
    const expired: ProducerBatch[] = [];
    for (const q of this.queues.values()) {
      for (let i = 0; i < q.batches.length;) {
        const b = q.batches[i]!;
        if (nowMs - b.createdMs >= this.config.deliveryTimeoutMs) {
          q.batches.splice(i, 1);
          if (b.state === 'open') this.close(b);
          expired.push(b);
        } else {
          i++;
        }
      }
    }
    return expired;
  }

  /** Earliest time a queued batch will expire (Infinity when none). */
  nextExpiryMs(): number {
    let next = Infinity;
    for (const b of this.incomplete) {
      if (b.state !== 'in-flight') next = Math.min(next, b.createdMs + this.config.deliveryTimeoutMs);
    }
    return next;
  }

  /** Resolves when every batch that exists now has completed. */
  async drained(): Promise<void> {
    await Promise.all([...this.incomplete].map((b) => b.done));
  }

  get incompleteCount(): number {
    return this.incomplete.size;
  }

  /** Removes every queued (not in-flight) batch, e.g. to fail them on a forced close. */
  takeAllQueued(): ProducerBatch[] {
    const out: ProducerBatch[] = [];
    for (const q of this.queues.values()) {
      for (const b of q.batches.splice(0)) {
        if (b.state === 'open') this.close(b);
        out.push(b);
      }
    }
    return out;
  }

  private add(batch: ProducerBatch, record: PendingRecord): void {
    batch.records.push(record);
    batch.sizeBytes += record.sizeBytes;
  }

  private close(batch: ProducerBatch): void {
    batch.state = 'queued';
    this.onBatchClosed(batch.topic, batch.partition);
  }
}
