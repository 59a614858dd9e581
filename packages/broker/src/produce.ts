// Produce, per partition: find the partition and check we lead it at the client's epoch, validate
// the batches' framing, size and CRC from their headers, then their records as Kafka's LogValidator
// does (counts, varints, offset deltas, bounded decompression; no record objects are built), append, and
// for acks=all wait until the high watermark covers the batch. A bad batch fails its partition only.
import { encodeRecordBatch, validateBatches, validateProducedBatch, type Compression, type RecordInput } from '@tributary/protocol';
import { ChangeNotifier, partitionKey } from './change-notifier.js';
import { ApiError } from './errors.js';
import type { ReplicaManager } from './replica-manager.js';

export const VALID_ACKS: readonly number[] = [0, 1, -1];
/** Most batches one partition's record_batch may hold: bounds per-request validation work. */
export const MAX_BATCHES_PER_PARTITION = 10_000;

export interface ProducePartitionInput {
  readonly partition: number;
  /** Concatenated encoded batches (fast path), or undefined when `records` is used. */
  readonly recordBatch: Buffer | undefined;
  readonly records: readonly RecordInput[];
  readonly currentLeaderEpoch: number;
}

export interface ProduceInput {
  readonly acks: number;
  /** How long acks=all may wait for the high watermark; already capped by the caller. */
  readonly timeoutMs: number;
  readonly topics: readonly { readonly topic: string; readonly partitions: readonly ProducePartitionInput[] }[];
  /** The request's transactional id ('' or absent: none); transactional batches need one. */
  readonly transactionalId?: string;
  /**
   * 'client' (default): a client's request, every check applies. 'coordinator': a batch a coordinator of
   * this broker writes for a producer (TxnOffsetCommit's offsets): transactional with base sequence -1, so
   * no sequence check and no TxnVerifier call (the caller verified), but epoch fencing and open-transaction
   * tracking apply.
   */
  readonly origin?: 'client' | 'coordinator';
}

export interface ProducePartitionResult {
  readonly partition: number;
  readonly error: unknown;
  readonly baseOffset: number;
  /** Base offset of each batch of the request, in order (empty on error). */
  readonly batchBaseOffsets: readonly number[];
  readonly logAppendTimeMs: number;
  readonly logStartOffset: number;
  /** Bytes appended (for metrics). */
  readonly appendedBytes: number;
}

export interface ProduceResult {
  readonly topics: readonly { readonly topic: string; readonly partitions: readonly ProducePartitionResult[] }[];
}

export interface ProduceDeps {
  readonly replicas: ReplicaManager;
  readonly notifier: ChangeNotifier;
  readonly nowMs: () => number;
}

function failed(partition: number, error: unknown): ProducePartitionResult {
  return { partition, error, baseOffset: -1, batchBaseOffsets: [], logAppendTimeMs: -1, logStartOffset: -1, appendedBytes: 0 };
}

/** Handles a whole produce request; partitions are independent and appended concurrently. */
export async function produce(input: ProduceInput, deps: ProduceDeps, signal?: AbortSignal): Promise<ProduceResult> {
  const topics = await Promise.all(input.topics.map(async ({ topic, partitions }) => ({
    topic,
    partitions: await Promise.all(partitions.map((p) => producePartition(topic, p, input, deps, signal))),
  })));
  return { topics };
}

async function producePartition(
  topic: string,
  input: ProducePartitionInput,
  request: ProduceInput,
  deps: ProduceDeps,
  signal: AbortSignal | undefined,
): Promise<ProducePartitionResult> {
  try {
    if (!VALID_ACKS.includes(request.acks)) {
      throw new ApiError('INVALID_REQUIRED_ACKS', `acks must be 0, 1 or -1 (all), got ${request.acks}`);
    }
    const partition = deps.replicas.getPartition(topic, input.partition);
    partition.checkLeader(input.currentLeaderEpoch);
    const config = partition.topicConfig;
    const nowMs = deps.nowMs();
    const batches = input.recordBatch ?? buildBatch(input.records, config.compressionType === 'producer' ? 'none' : config.compressionType, nowMs);
    const headers = validateBatches(batches, { maxBatchBytes: config.maxMessageBytes, maxBatches: MAX_BATCHES_PER_PARTITION });
    if (config.compressionType !== 'producer') {
      const other = headers.find((h) => h.compression !== config.compressionType);
      if (other !== undefined) {
        throw new ApiError('INVALID_RECORD', `topic ${topic} has compression.type=${config.compressionType} but a batch is ${other.compression}; the broker does not recompress`);
      }
    }
    if (input.recordBatch !== undefined) {
      // Client bytes: every record is checked before anything is written. (A batch built just above by
      // our own encoder is not walked again.)
      for (const header of headers) validateProducedBatch(batches, header, { maxUncompressedBytes: config.maxMessageBytes });
    }
    // The headers validated here travel with the bytes to the log: nothing below parses them again.
    const appended = await partition.appendAsLeader(batches, {
      requiredAcks: request.acks, nowMs, headers,
      ...(request.transactionalId === undefined ? {} : { transactionalId: request.transactionalId }),
      ...(request.origin === undefined ? {} : { origin: request.origin }),
    });
    if (request.acks === -1) {
      await awaitHighWatermark({ topic, partition: input.partition, offset: appended.lastOffset + 1, timeoutMs: request.timeoutMs, deps, signal });
    }
    return {
      partition: input.partition, error: undefined, baseOffset: appended.firstOffset, batchBaseOffsets: appended.batchBaseOffsets,
      logAppendTimeMs: appended.logAppendTimeMs, logStartOffset: partition.logStartOffset, appendedBytes: batches.length,
    };
  } catch (err) {
    return failed(input.partition, err);
  }
}

function buildBatch(records: readonly RecordInput[], compression: Compression, nowMs: number): Buffer {
  if (records.length === 0) throw new ApiError('INVALID_RECORD', 'neither record_batch nor records has any record');
  // Records without a timestamp get the broker's clock: the producer did not choose one.
  const stamped = records.map((r) => (r.timestamp === undefined ? { ...r, timestamp: nowMs } : r));
  return encodeRecordBatch({ records: stamped, compression });
}

/**
 * Parks until the partition's high watermark reaches `offset`, answering REQUEST_TIMED_OUT after
 * `timeoutMs`. Re-checks after every change notification, so it also notices deletion/leadership loss.
 */
async function awaitHighWatermark(args: {
  topic: string; partition: number; offset: number; timeoutMs: number; deps: ProduceDeps; signal: AbortSignal | undefined;
}): Promise<void> {
  const deadline = args.deps.nowMs() + args.timeoutMs;
  const key = partitionKey(args.topic, args.partition);
  for (;;) {
    const partition = args.deps.replicas.getPartition(args.topic, args.partition);
    if (partition.highWatermark >= args.offset) {
      // Kafka semantics: covered by the HW, but the ISR shrank below min.insync.replicas meanwhile,
      // so the record is on fewer replicas than the producer asked for.
      if (partition.isrSize < partition.topicConfig.minInsyncReplicas) {
        throw new ApiError('NOT_ENOUGH_REPLICAS_AFTER_APPEND', `${key}: the ISR shrank to ${partition.isrSize} (min.insync.replicas ${partition.topicConfig.minInsyncReplicas}) while waiting`);
      }
      return;
    }
    if (!partition.isLeader) {
      throw new ApiError('NOT_LEADER_OR_FOLLOWER', `lost leadership of ${key} before the high watermark reached ${args.offset}`);
    }
    const remaining = deadline - args.deps.nowMs();
    const outcome = remaining > 0 ? await args.deps.notifier.wait([key], remaining, args.signal) : 'timeout';
    if (outcome === 'aborted') throw new ApiError('REQUEST_TIMED_OUT', 'the request was cancelled');
    if (outcome === 'timeout' && args.deps.replicas.getPartition(args.topic, args.partition).highWatermark < args.offset) {
      throw new ApiError('REQUEST_TIMED_OUT', `the high watermark of ${key} did not reach ${args.offset} within ${args.timeoutMs} ms`);
    }
  }
}
