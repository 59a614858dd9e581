// Fetch: read whole batches up to the high watermark (read_uncommitted) or the last stable offset
// (read_committed, with the aborted transactions the batches overlap) from each requested partition,
// long-polling until min_bytes are available or max_wait_ms passes. Waiting is event-driven
// (ChangeNotifier wakes us when a watched partition's high watermark moves — the LSO moves only with it:
// a marker counts only once the high watermark passes it); a cancelled call stops waiting.
import { batchesIn } from '@tributary/protocol';
import { ChangeNotifier, partitionKey } from './change-notifier.js';
import { ApiError } from './errors.js';
import type { EpochEndOffset } from './partition-log.js';
import type { ReplicaManager } from './replica-manager.js';

export interface FetchPartitionInput {
  readonly topic: string;
  readonly partition: number;
  readonly fetchOffset: number;
  /** 0 = no per-partition limit beyond the request's maxBytes. */
  readonly partitionMaxBytes: number;
  readonly currentLeaderEpoch: number;
  /** -1 = none; otherwise checked for divergence (KIP-320). */
  readonly lastFetchedEpoch: number;
}

export interface FetchInput {
  /** Already capped by fetch.max.wait.ms. */
  readonly maxWaitMs: number;
  readonly minBytes: number;
  /** Already capped by fetch.max.bytes. */
  readonly maxBytes: number;
  /** read_committed reads below the last stable offset; read_uncommitted below the high watermark. */
  readonly isolation: 'read_uncommitted' | 'read_committed';
  readonly partitions: readonly FetchPartitionInput[];
}

export interface FetchPartitionResult {
  readonly topic: string;
  readonly partition: number;
  readonly error: unknown;
  readonly highWatermark: number;
  readonly lastStableOffset: number;
  readonly logStartOffset: number;
  readonly leaderEpoch: number;
  /** Whole batches; the first may start before fetchOffset (the client skips those records). */
  readonly bytes: Buffer;
  readonly divergingEpoch: EpochEndOffset | undefined;
  /**
   * read_committed: the aborted transactions the returned batches overlap (their records are to be
   * skipped, up to each one's ABORT marker); undefined for read_uncommitted.
   */
  readonly abortedTransactions: readonly AbortedTxnRef[] | undefined;
}

/** One aborted transaction as a read_committed reader needs it (Kafka's FetchResponse.AbortedTransaction). */
export interface AbortedTxnRef {
  readonly producerId: number;
  readonly firstOffset: number;
}

export interface FetchDeps {
  readonly replicas: ReplicaManager;
  readonly notifier: ChangeNotifier;
  readonly nowMs: () => number;
}

const EMPTY = Buffer.alloc(0);

/** One pass over every partition, no waiting. */
export async function readPartitions(input: FetchInput, deps: FetchDeps): Promise<{ results: FetchPartitionResult[]; totalBytes: number; anyError: boolean }> {
  const results: FetchPartitionResult[] = [];
  let totalBytes = 0;
  let anyError = false;
  for (const p of input.partitions) {
    const result = await readPartition(p, {
      isolation: input.isolation,
      maxBytes: Math.max(0, input.maxBytes - totalBytes),
      // Kafka semantics: the first batch found is returned even when larger than the limits, so a
      // consumer can always make progress.
      minOneBatch: totalBytes === 0,
    }, deps);
    totalBytes += result.bytes.length;
    anyError ||= result.error !== undefined || result.divergingEpoch !== undefined;
    results.push(result);
  }
  return { results, totalBytes, anyError };
}

async function readPartition(
  input: FetchPartitionInput,
  limits: { isolation: FetchInput['isolation']; maxBytes: number; minOneBatch: boolean },
  deps: FetchDeps,
): Promise<FetchPartitionResult> {
  const committed = limits.isolation === 'read_committed';
  const base = {
    topic: input.topic, partition: input.partition, error: undefined, highWatermark: -1, lastStableOffset: -1,
    logStartOffset: -1, leaderEpoch: -1, bytes: EMPTY, divergingEpoch: undefined, abortedTransactions: committed ? [] : undefined,
  };
  try {
    const partition = deps.replicas.getPartition(input.topic, input.partition);
    partition.checkLeader(input.currentLeaderEpoch);
    const highWatermark = partition.highWatermark;
    const lastStableOffset = partition.lastStableOffset;
    const readableEnd = committed ? lastStableOffset : highWatermark;
    const state = { ...base, highWatermark, lastStableOffset, logStartOffset: partition.logStartOffset, leaderEpoch: partition.leaderEpoch };
    if (input.lastFetchedEpoch >= 0) {
      const end = partition.log.endOffsetForEpoch(input.lastFetchedEpoch);
      // The fetcher's log diverged when our log of its last epoch ends before its fetch offset, or we
      // never had that epoch: it must truncate to `end` before fetching on (KIP-320).
      if (end !== undefined && (end.epoch < input.lastFetchedEpoch || end.endOffset < input.fetchOffset)) {
        return { ...state, divergingEpoch: end };
      }
    }
    if (input.fetchOffset < partition.logStartOffset || input.fetchOffset > partition.logEndOffset) {
      throw new ApiError('OFFSET_OUT_OF_RANGE', `fetch offset ${input.fetchOffset} of ${input.topic}-${input.partition} is outside [${partition.logStartOffset}, ${partition.logEndOffset}]`);
    }
    if (input.fetchOffset >= readableEnd) return state;
    const maxBytes = input.partitionMaxBytes > 0 ? Math.min(input.partitionMaxBytes, limits.maxBytes) : limits.maxBytes;
    if (maxBytes === 0 && !limits.minOneBatch) return state;
    const read = await partition.log.read(input.fetchOffset, maxBytes, { maxOffset: readableEnd, minOneBatch: limits.minOneBatch });
    if (!committed || read.records.length === 0) return { ...state, bytes: read.records };
    // Only the transactions the returned batches overlap: [fetchOffset, end of the last batch].
    let end = input.fetchOffset;
    for (const h of batchesIn(read.records, { verifyCrc: false })) end = h.lastOffset + 1;
    const aborted = await partition.log.abortedTransactions(input.fetchOffset, Math.min(end, readableEnd));
    return { ...state, bytes: read.records, abortedTransactions: aborted.map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset })) };
  } catch (err) {
    return { ...base, error: err };
  }
}

/**
 * Long-poll fetch. Answers at once when min_bytes are available, any partition has an error, or
 * max_wait_ms is 0; otherwise re-reads on every change of a watched partition until the deadline.
 * Returns undefined when `signal` aborts (the caller is gone).
 */
export async function fetch(input: FetchInput, deps: FetchDeps, signal?: AbortSignal): Promise<FetchPartitionResult[] | undefined> {
  const deadline = deps.nowMs() + input.maxWaitMs;
  const keys = [...new Set(input.partitions.map((p) => partitionKey(p.topic, p.partition)))];
  for (;;) {
    const { results, totalBytes, anyError } = await readPartitions(input, deps);
    const remaining = deadline - deps.nowMs();
    if (anyError || totalBytes >= input.minBytes || remaining <= 0) return results;
    // A high watermark that moved while the reads awaited notified nobody: re-read instead of waiting
    // for a wake-up that already happened (this check and wait() run in one synchronous step).
    if (results.some((r) => {
      const partition = deps.replicas.findPartition(r.topic, r.partition);
      return (partition?.highWatermark ?? -1) > r.highWatermark || (input.isolation === 'read_committed' && (partition?.lastStableOffset ?? -1) > r.lastStableOffset);
    })) continue;
    const outcome = await deps.notifier.wait(keys, remaining, signal);
    if (outcome === 'aborted') return undefined;
    if (outcome === 'timeout') return (await readPartitions(input, deps)).results;
  }
}
