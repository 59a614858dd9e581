// An in-memory PartitionLogPort for tests and for running the broker without disk. Same contract as
// the storage adapter: whole batches, offsets stamped from the log end offset, epochs recorded.
import { type BatchHeader, batchesIn, setLogAppendTime, stampBatch } from '@tributary/protocol';
import { ApiError, assert } from './errors.js';
import type { AbortedTxn, EpochEndOffset, LogAppendInfo, LogFactory, LogReadResult, PartitionLogPort, TimestampLookup } from './partition-log.js';
import type { TopicConfig } from './topic-config.js';

interface StoredBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly maxTimestamp: number;
  readonly leaderEpoch: number;
  readonly bytes: Buffer;
}

export class MemoryPartitionLog implements PartitionLogPort {
  private readonly batches: StoredBatch[] = [];
  /** The aborted-transaction index, in marker-offset order. */
  private readonly aborted: AbortedTxn[] = [];
  private hw = 0;
  /** Log start = LEO of an empty log (after truncateFullyAndStartAt). */
  private emptyStartOffset = 0;
  private config: TopicConfig;
  /** A leader epoch assigned at the log end (counts while no batch follows it). */
  private assigned: { readonly epoch: number; readonly startOffset: number } | undefined;

  constructor(config: TopicConfig) {
    this.config = config;
  }

  get logStartOffset(): number {
    return this.batches[0]?.baseOffset ?? this.logEndOffset;
  }

  get logEndOffset(): number {
    const last = this.batches[this.batches.length - 1];
    return last === undefined ? this.emptyStartOffset : last.lastOffset + 1;
  }

  get highWatermark(): number {
    return this.hw;
  }

  async appendAsLeader(batches: Buffer, headers: readonly BatchHeader[], leaderEpoch: number, options: { readonly logAppendTimeMs?: number }): Promise<LogAppendInfo> {
    const owned = batches;
    const baseOffset = this.logEndOffset;
    let next = baseOffset;
    // The edge's headers, not a re-parse: they must tile the bytes (as storage's checkValidatedBatches asserts).
    let end = 0;
    for (const header of headers) {
      assert(header.position === end && owned.length - end >= header.sizeBytes, `batch header at ${header.position} (${header.sizeBytes} bytes) does not follow ${end} in ${owned.length} bytes`);
      end += header.sizeBytes;
    }
    assert(headers.length > 0 && end === owned.length, `batch headers cover ${end} of ${owned.length} bytes`);
    for (const header of headers) {
      const pos = header.position;
      stampBatch(owned, pos, { baseOffset: next, partitionLeaderEpoch: leaderEpoch });
      if (options.logAppendTimeMs !== undefined) setLogAppendTime(owned, pos, options.logAppendTimeMs);
      const bytes = owned.subarray(pos, pos + header.sizeBytes);
      const lastOffset = next + header.lastOffsetDelta;
      const maxTimestamp = options.logAppendTimeMs ?? header.maxTimestamp;
      this.batches.push({ baseOffset: next, lastOffset, maxTimestamp, leaderEpoch, bytes });
      next = lastOffset + 1;
    }
    return { firstOffset: baseOffset, lastOffset: next - 1, logAppendTimeMs: options.logAppendTimeMs ?? -1 };
  }

  get latestEpoch(): number {
    const last = this.batches[this.batches.length - 1]?.leaderEpoch ?? -1;
    return this.assigned !== undefined && this.assigned.startOffset === this.logEndOffset ? Math.max(last, this.assigned.epoch) : last;
  }

  async assignLeaderEpoch(leaderEpoch: number): Promise<void> {
    if (leaderEpoch > this.latestEpoch) this.assigned = { epoch: leaderEpoch, startOffset: this.logEndOffset };
  }

  async appendAsFollower(batches: Buffer): Promise<LogAppendInfo> {
    const baseOffset = this.logEndOffset;
    let expected = baseOffset;
    for (const header of batchesIn(batches, { verifyCrc: false })) {
      const pos = header.position;
      if (header.baseOffset !== expected) throw new ApiError('OFFSET_OUT_OF_RANGE', `follower batch starts at ${header.baseOffset}, expected ${expected}`);
      const bytes = Buffer.from(batches.subarray(pos, pos + header.sizeBytes));
      this.batches.push({ baseOffset: header.baseOffset, lastOffset: header.lastOffset, maxTimestamp: header.maxTimestamp, leaderEpoch: header.partitionLeaderEpoch, bytes });
      expected = header.lastOffset + 1;
    }
    return { firstOffset: baseOffset, lastOffset: expected - 1, logAppendTimeMs: -1 };
  }

  async appendAbortedTxn(txn: AbortedTxn): Promise<void> {
    assert(txn.firstOffset <= txn.lastOffset && txn.lastOffset < this.logEndOffset, `aborted transaction [${txn.firstOffset}, ${txn.lastOffset}] outside the log ending at ${this.logEndOffset}`);
    const last = this.aborted[this.aborted.length - 1];
    if (this.aborted.some((a) => a.producerId === txn.producerId && a.lastOffset === txn.lastOffset)) return; // a recovery scan re-adding it
    assert(last === undefined || txn.lastOffset > last.lastOffset, `aborted transaction marker ${txn.lastOffset} does not follow ${last?.lastOffset}`);
    this.aborted.push(txn);
  }

  async abortedTransactions(fetchOffset: number, upperBoundOffset: number): Promise<readonly AbortedTxn[]> {
    return this.aborted.filter((a) => a.lastOffset >= fetchOffset && a.firstOffset < upperBoundOffset);
  }

  async truncateTo(offset: number): Promise<void> {
    // Whole batches: a batch straddling `offset` cannot happen (truncation points are batch boundaries).
    while ((this.batches[this.batches.length - 1]?.baseOffset ?? -1) >= offset) this.batches.pop();
    while ((this.aborted[this.aborted.length - 1]?.lastOffset ?? -1) >= offset) this.aborted.pop();
    if (this.assigned !== undefined && this.assigned.startOffset >= offset) this.assigned = undefined;
    this.hw = Math.min(this.hw, this.logEndOffset);
  }

  async truncateFullyAndStartAt(offset: number): Promise<void> {
    this.batches.length = 0;
    this.aborted.length = 0;
    this.emptyStartOffset = offset;
    this.hw = offset;
  }

  async read(fetchOffset: number, maxBytes: number, options: { readonly maxOffset: number; readonly minOneBatch: boolean }): Promise<LogReadResult> {
    if (fetchOffset < this.logStartOffset || fetchOffset > this.logEndOffset) {
      throw new ApiError('OFFSET_OUT_OF_RANGE', `offset ${fetchOffset} is outside [${this.logStartOffset}, ${this.logEndOffset}]`);
    }
    const out: Buffer[] = [];
    let size = 0;
    for (const batch of this.batches) {
      if (batch.lastOffset < fetchOffset) continue;
      if (batch.lastOffset >= options.maxOffset) break;
      const fits = size + batch.bytes.length <= maxBytes || (options.minOneBatch && out.length === 0);
      if (!fits) break;
      out.push(batch.bytes);
      size += batch.bytes.length;
    }
    return { records: Buffer.concat(out, size) };
  }

  async offsetForTimestamp(timestampMs: number): Promise<TimestampLookup | undefined> {
    const batch = this.batches.find((b) => b.maxTimestamp >= timestampMs);
    return batch === undefined ? undefined : { batchBaseOffset: batch.baseOffset };
  }

  maxTimestamp(): (TimestampLookup & { readonly timestampMs: number }) | undefined {
    let best: StoredBatch | undefined;
    for (const batch of this.batches) if (best === undefined || batch.maxTimestamp > best.maxTimestamp) best = batch;
    return best === undefined ? undefined : { batchBaseOffset: best.baseOffset, timestampMs: best.maxTimestamp };
  }

  /** Kafka's semantics (as storage): latest epoch → LEO; older → start of the next epoch; newer → (-1, -1). */
  endOffsetForEpoch(epoch: number): EpochEndOffset | undefined {
    const undefinedResult = { epoch: -1, endOffset: -1 };
    const latest = this.latestEpoch;
    if (epoch === -1) return undefinedResult;
    if (epoch === latest) return { epoch, endOffset: this.logEndOffset };
    if (epoch > latest) return undefinedResult;
    const lastBatchEpoch = this.batches[this.batches.length - 1]?.leaderEpoch ?? -1;
    if (latest !== lastBatchEpoch && epoch >= lastBatchEpoch) return { epoch: lastBatchEpoch >= 0 ? lastBatchEpoch : epoch, endOffset: this.logEndOffset };
    const higher = this.batches.findIndex((b) => b.leaderEpoch > epoch);
    if (higher < 0) return undefinedResult;
    const floor = this.batches[higher - 1];
    return { epoch: floor?.leaderEpoch ?? epoch, endOffset: this.batches[higher]?.baseOffset ?? -1 };
  }

  updateHighWatermark(highWatermark: number): void {
    assert(highWatermark >= this.hw && highWatermark <= this.logEndOffset, `high watermark ${highWatermark} outside [${this.hw}, ${this.logEndOffset}]`);
    this.hw = highWatermark;
  }

  updateConfig(config: TopicConfig): void {
    this.config = config;
  }

  async applyRetention(_nowMs: number): Promise<void> {
    // Whole-batch retention by bytes only: enough to exercise log start offset movement in tests.
    if (this.config.retentionBytes < 0) return;
    let total = this.batches.reduce((sum, b) => sum + b.bytes.length, 0);
    while (total > this.config.retentionBytes && this.batches.length > 1 && (this.batches[0]?.lastOffset ?? Infinity) < this.hw) {
      total -= this.batches.shift()?.bytes.length ?? 0;
    }
    // Index entries whose marker is gone with its batch go too (storage drops a deleted segment's .txnindex).
    while ((this.aborted[0]?.lastOffset ?? Infinity) < this.logStartOffset) this.aborted.shift();
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
  async delete(): Promise<void> {
    this.batches.length = 0;
    this.aborted.length = 0;
    this.hw = 0;
  }
}

/** A LogFactory keeping every log in memory (per factory: several nodes must not share logs). */
export function memoryLogFactory(): LogFactory {
  const logs = new Map<string, MemoryPartitionLog>();
  return async ({ dir, config }) => {
    let log = logs.get(dir);
    if (log === undefined) logs.set(dir, (log = new MemoryPartitionLog(config)));
    return log;
  };
}
