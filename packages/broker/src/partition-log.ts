// The port the broker needs from a partition's log. packages/storage's PartitionLog is adapted to
// it in adapters/storage-partition-log.ts; MemoryPartitionLog implements it for tests.
import type { BatchHeader } from '@tributary/protocol';
import type { TopicConfig } from './topic-config.js';

// Field names follow storage's (and Kafka's): LogAppendInfo.firstOffset, FetchDataInfo.records.
export interface LogAppendInfo {
  /** Offset of the first record appended. */
  readonly firstOffset: number;
  /** Offset of the last record appended (closed range end). */
  readonly lastOffset: number;
  /** The broker time stamped into the batches, or -1 for CreateTime. */
  readonly logAppendTimeMs: number;
}

export interface LogReadResult {
  /** Whole batches, concatenated; empty when nothing is readable below maxOffset. */
  readonly records: Buffer;
}

export interface TimestampLookup {
  /** Base offset of the first batch whose max timestamp is ≥ the target. */
  readonly batchBaseOffset: number;
}

export interface EpochEndOffset {
  readonly epoch: number;
  readonly endOffset: number;
}

/**
 * One aborted transaction of one producer (Kafka's AbortedTxn, the `.txnindex` entry): its records lie in
 * [firstOffset, lastOffset], lastOffset being the offset of its ABORT marker. lastStableOffset: the
 * partition's last stable offset once the marker was written (the first offset of the earliest
 * transaction still open then, or lastOffset + 1).
 */
export interface AbortedTxn {
  readonly producerId: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
  readonly lastStableOffset: number;
}

export interface PartitionLogPort {
  readonly logStartOffset: number;
  /** Next offset to be assigned. */
  readonly logEndOffset: number;
  readonly highWatermark: number;

  /**
   * Appends already-validated batches (the caller ran validateBatches), stamping offsets from the
   * log end offset and the leader epoch. With `logAppendTimeMs`, batches become LogAppendTime.
   * `headers` are the headers validateBatches read from `batches`, positions relative to `batches`:
   * the log does not parse the batches again, it asserts that the headers tile the bytes.
   * Takes ownership of `batches` and stamps the offsets into it before returning (so the caller can
   * read the assigned offsets from the headers synchronously).
   */
  appendAsLeader(batches: Buffer, headers: readonly BatchHeader[], leaderEpoch: number, options: { readonly logAppendTimeMs?: number }): Promise<LogAppendInfo>;

  /**
   * Whole batches from the one containing `fetchOffset`, up to `maxBytes` and not past `maxOffset`
   * (exclusive). With `minOneBatch`, the first batch is returned even when larger than maxBytes.
   * Throws an error with code OFFSET_OUT_OF_RANGE outside [logStartOffset, logEndOffset].
   */
  read(fetchOffset: number, maxBytes: number, options: { readonly maxOffset: number; readonly minOneBatch: boolean }): Promise<LogReadResult>;

  /** Batch-granularity timestamp lookup; undefined when no batch has a timestamp ≥ target. */
  offsetForTimestamp(timestampMs: number): Promise<TimestampLookup | undefined>;

  /** The batch holding the largest timestamp in the log (batch granularity); undefined when empty. */
  maxTimestamp(): (TimestampLookup & { readonly timestampMs: number }) | undefined;

  /** Where the log of `epoch` ends (KIP-101/320): the start offset of the next larger epoch. */
  endOffsetForEpoch(epoch: number): EpochEndOffset | undefined;

  /** The latest leader epoch: of the last batch, or a newer one assigned by assignLeaderEpoch (-1: none). */
  readonly latestEpoch: number;

  /** This replica now leads `leaderEpoch` from the log end: it becomes the latest epoch (durably). */
  assignLeaderEpoch(leaderEpoch: number): Promise<void>;

  /**
   * Appends batches fetched from the leader, keeping their offsets and epochs (replication). The first
   * must start at the log end offset. Takes ownership of `batches`.
   */
  appendAsFollower(batches: Buffer): Promise<LogAppendInfo>;

  /** Removes every record at ≥ offset (no-op when offset ≥ LEO); the HW is capped to the new LEO. */
  truncateTo(offset: number): Promise<void>;

  /** Drops everything and restarts the log empty at `offset`. */
  truncateFullyAndStartAt(offset: number): Promise<void>;

  /** Caller guarantees logStartOffset ≤ hw ≤ logEndOffset and monotonicity. */
  updateHighWatermark(highWatermark: number): void;

  /** Applies changed topic configs (retention, segment size, flush) to the live log. */
  updateConfig(config: TopicConfig): void;

  /**
   * Indexes an aborted transaction (in the segment holding its marker), once its marker's append was
   * issued and before the last stable offset passes its first offset (a reader must never find aborted
   * data below the LSO without its entry). Entries come in marker-offset order; one already indexed (a
   * recovery scan re-adding it) is not added twice.
   */
  appendAbortedTxn(txn: AbortedTxn): Promise<void>;

  /**
   * After open: the aborted index may lack entries for ABORT markers at offsets ≥ this (an unclean stop
   * lost them): the producer-state rebuild must replay markers from at most here. null/absent: complete.
   */
  readonly txnIndexIncompleteFrom?: number | null;

  /**
   * The aborted transactions that overlap [fetchOffset, upperBoundOffset): lastOffset ≥ fetchOffset and
   * firstOffset < upperBoundOffset, in marker-offset order (what a read_committed fetch returns). Entries
   * whose marker was truncated away are gone; retention drops those of deleted segments.
   */
  abortedTransactions(fetchOffset: number, upperBoundOffset: number): Promise<readonly AbortedTxn[]>;

  applyRetention(nowMs: number): Promise<void>;
  /**
   * cleanup.policy=compact: keeps the last record per key in closed segments (absent in logs without a
   * cleaner). Nothing at or above `lastStableOffset` is cleaned (open transactions' records and markers
   * are not decided yet); below it, aborted transactions' records are removed as Kafka's cleaner does.
   */
  compact?(nowMs: number, options: { readonly lastStableOffset: number }): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Closes and removes the log's directory. */
  delete(): Promise<void>;
}

export interface OpenLogOptions {
  readonly dir: string;
  readonly topic: string;
  readonly partition: number;
  readonly config: TopicConfig;
  /**
   * Called once if the log fails on an I/O error while open (it then refuses every operation with
   * KAFKA_STORAGE_ERROR and writes nothing more); the replica manager takes the replica offline.
   */
  readonly onFailure?: (err: unknown) => void;
}

/** Opens (creating when missing) the log in `dir`; recovery runs here. */
export type LogFactory = (options: OpenLogOptions) => Promise<PartitionLogPort>;
