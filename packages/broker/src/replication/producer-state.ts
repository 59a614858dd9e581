// Idempotent producer state of one partition, pure (DESIGN.md §5, KIP-98): per producer id the
// current epoch and the last BATCHES_PER_PRODUCER_MAX batches' sequence ranges and offsets. Built
// from batch headers only (producerId, producerEpoch, baseSequence, lastOffsetDelta): on append, on
// log recovery and on becoming leader (a scan of the log tail), never by decoding records.
import { NO_PRODUCER_ID, NO_SEQUENCE } from '@tributary/protocol';
import { assert } from '../errors.js';

/** Kafka keeps 5: with max.in.flight ≤ 5 a retry always finds its original batch. */
export const BATCHES_PER_PRODUCER_MAX = 5;
/**
 * Default of producer.ids.per.partition.max. The leader refuses a new producer id when the table is
 * full of unexpired ids (producer-admission.ts), so only a replica applying what its leader accepted
 * (or a recovery scan) can go beyond it: then the producer with the oldest write is forgotten.
 */
export const PRODUCERS_PER_PARTITION_MAX = 10_000;
const INT32_MAX = 0x7fffffff;

export interface ProducerBatch {
  readonly firstSequence: number;
  readonly lastSequence: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
}

export interface ProducerEntry {
  readonly producerId: number;
  readonly producerEpoch: number;
  /** Oldest first, at most BATCHES_PER_PRODUCER_MAX. */
  readonly batches: readonly ProducerBatch[];
  /** Offset of the producer's last batch, to evict the least recently written producer. */
  readonly lastOffset: number;
  /** This replica's clock when the producer's last batch was recorded (producer.id.expiration.ms). */
  readonly lastWriteMs?: number;
  /** Max timestamp of the producer's last batch (DescribeProducers); absent/-1: unknown. */
  readonly lastTimestampMs?: number;
  /** Coordinator epoch of the last marker written for this producer here; absent/-1: none yet. */
  readonly coordinatorEpoch?: number;
  /** First offset of the producer's open transaction on this partition; absent/-1: none open. */
  readonly currentTxnFirstOffset?: number;
}

/** No transaction open / no coordinator epoch seen (Kafka's -1 sentinels). */
export const NO_TXN_OFFSET = -1;
export const NO_COORDINATOR_EPOCH = -1;

export function openTxnFirstOffset(entry: ProducerEntry | undefined): number {
  return entry?.currentTxnFirstOffset ?? NO_TXN_OFFSET;
}

/** How one partition's table is bounded (node config: producer.ids.per.partition.max, producer.id.expiration.ms). */
export interface ProducerTableLimits {
  readonly producersMax: number;
  readonly nowMs: number;
}

export interface BatchIdentity {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  /** Records in the batch minus one. */
  readonly lastOffsetDelta: number;
  /** Part of a transaction (attributes bit 4); absent: false. */
  readonly transactional?: boolean;
}

/** A COMMIT/ABORT marker (control batch) as the producer state sees it. */
export interface MarkerInfo {
  readonly committed: boolean;
  readonly coordinatorEpoch: number;
}

/** A batch written to the log, as recordBatch replays it. */
export interface AppendedBatch extends BatchIdentity {
  readonly baseOffset: number;
  /** The batch's max timestamp (DescribeProducers' last timestamp). */
  readonly maxTimestamp?: number;
  /**
   * Set for a control batch: the marker it carries, or 'unknown' for a control type this build does not
   * know (it changes nothing). Control batches carry base sequence -1 and never enter the sequence window.
   */
  readonly marker?: MarkerInfo | 'unknown';
}

/** A transaction a marker ended on this partition: [firstOffset, lastOffset = the marker's offset]. */
export interface CompletedTxn {
  readonly producerId: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
  readonly committed: boolean;
}

export type SequenceCheck =
  | { readonly kind: 'append' }
  /** A retry of a batch already in the log: answer with its original offsets, append nothing. */
  | { readonly kind: 'duplicate'; readonly batch: ProducerBatch }
  | { readonly kind: 'error'; readonly code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' | 'UNKNOWN_PRODUCER_ID' | 'INVALID_PRODUCER_EPOCH'; readonly message: string };

export function lastSequenceOf(batch: BatchIdentity): number {
  // Sequences wrap from Int32.MAX to 0.
  return (batch.baseSequence + batch.lastOffsetDelta) % (INT32_MAX + 1);
}

function nextSequence(seq: number): number {
  return seq === INT32_MAX ? 0 : seq + 1;
}

/** The decision for one incoming batch, before it is appended. Non-idempotent batches always append. */
export function checkSequence(table: ReadonlyMap<number, ProducerEntry>, batch: BatchIdentity): SequenceCheck {
  if (batch.producerId === NO_PRODUCER_ID) return { kind: 'append' };
  const entry = table.get(batch.producerId);
  if (entry === undefined) {
    // A producer's first batch here starts at sequence 0. Anything else may be a later batch that
    // overtook the first on the way (requests of one connection are not processed in order: separate
    // HTTP/2 streams, and a large request's last frame can arrive after a small later one's). Appending it
    // would put it before the batches it follows; the producer retries it once those are answered, or
    // (when it knows they were all acknowledged) starts over, as with state lost to retention.
    if (batch.baseSequence === 0) return { kind: 'append' };
    return { kind: 'error', code: 'OUT_OF_ORDER_SEQUENCE_NUMBER', message: `producer ${batch.producerId} has no state here; its first batch must start at sequence 0, got ${batch.baseSequence}` };
  }
  if (batch.producerEpoch < entry.producerEpoch) {
    return { kind: 'error', code: 'INVALID_PRODUCER_EPOCH', message: `producer ${batch.producerId} epoch ${batch.producerEpoch} is older than ${entry.producerEpoch}` };
  }
  if (batch.producerEpoch > entry.producerEpoch) {
    if (batch.baseSequence === 0) return { kind: 'append' };
    return { kind: 'error', code: 'OUT_OF_ORDER_SEQUENCE_NUMBER', message: `producer ${batch.producerId} new epoch ${batch.producerEpoch} must start at sequence 0, got ${batch.baseSequence}` };
  }
  const newestWritten = entry.batches[entry.batches.length - 1];
  if (newestWritten === undefined && batch.baseSequence !== 0) {
    // Only a marker or a coordinator-written batch recorded this producer (sequence -1): its next epoch's
    // sequences start at 0, as after an epoch bump.
    return { kind: 'error', code: 'OUT_OF_ORDER_SEQUENCE_NUMBER', message: `producer ${batch.producerId} epoch ${batch.producerEpoch} has no batch here yet; its first must start at sequence 0, got ${batch.baseSequence}` };
  }
  const last = lastSequenceOf(batch);
  const duplicate = entry.batches.find((b) => b.firstSequence === batch.baseSequence && b.lastSequence === last);
  if (duplicate !== undefined) return { kind: 'duplicate', batch: duplicate };
  const newest = entry.batches[entry.batches.length - 1];
  if (newest === undefined || nextSequence(newest.lastSequence) === batch.baseSequence) return { kind: 'append' };
  return { kind: 'error', code: 'OUT_OF_ORDER_SEQUENCE_NUMBER', message: `producer ${batch.producerId} expected sequence ${nextSequence(newest.lastSequence)}, got ${batch.baseSequence}` };
}

/**
 * Records an appended batch (leader append, follower append, or a recovery scan). Mutates `table`
 * (the caller owns it). A scan replays every batch in log order, so a newer epoch resets the window.
 * Transactions (KIP-98): a transactional data batch opens the producer's transaction at its base offset
 * unless one is open; a marker ends it and advances the producer epoch to the marker's (transactions v2
 * write markers with the bumped epoch: the next batch starts at sequence 0). Batches with base sequence
 * -1 (markers, coordinator-written offsets) never enter the sequence window. Returns the transaction a
 * marker ended, if one was open (a marker with none open is still recorded: Kafka writes it anyway).
 */
export function recordBatch(
  table: Map<number, ProducerEntry>,
  batch: AppendedBatch,
  limits: ProducerTableLimits = { producersMax: PRODUCERS_PER_PARTITION_MAX, nowMs: 0 },
): CompletedTxn | undefined {
  if (batch.producerId === NO_PRODUCER_ID) return undefined;
  const entry = table.get(batch.producerId);
  assert(entry === undefined || batch.producerEpoch >= entry.producerEpoch || batch.producerEpoch < 0, `producer ${batch.producerId} epoch went back from ${entry?.producerEpoch} to ${batch.producerEpoch}`);
  const lastOffset = batch.baseOffset + batch.lastOffsetDelta;
  const sameEpoch = entry !== undefined && entry.producerEpoch === batch.producerEpoch;
  let batches: readonly ProducerBatch[] = sameEpoch ? entry.batches : [];
  if (batch.baseSequence !== NO_SEQUENCE) {
    const appended: ProducerBatch = { firstSequence: batch.baseSequence, lastSequence: lastSequenceOf(batch), firstOffset: batch.baseOffset, lastOffset };
    batches = [...batches.slice(-(BATCHES_PER_PRODUCER_MAX - 1)), appended];
  }
  let currentTxnFirstOffset = openTxnFirstOffset(entry);
  let coordinatorEpoch = entry?.coordinatorEpoch ?? NO_COORDINATOR_EPOCH;
  let completed: CompletedTxn | undefined;
  const marker = batch.marker;
  if (marker !== undefined) {
    if (marker !== 'unknown') {
      if (currentTxnFirstOffset !== NO_TXN_OFFSET) {
        completed = { producerId: batch.producerId, firstOffset: currentTxnFirstOffset, lastOffset, committed: marker.committed };
      }
      currentTxnFirstOffset = NO_TXN_OFFSET;
      coordinatorEpoch = Math.max(coordinatorEpoch, marker.coordinatorEpoch);
    }
  } else if (batch.transactional === true && currentTxnFirstOffset === NO_TXN_OFFSET) {
    currentTxnFirstOffset = batch.baseOffset;
  }
  table.delete(batch.producerId); // re-insert: Map order = least recently written first
  table.set(batch.producerId, {
    producerId: batch.producerId, producerEpoch: batch.producerEpoch, batches, lastOffset, lastWriteMs: limits.nowMs,
    lastTimestampMs: batch.maxTimestamp ?? entry?.lastTimestampMs ?? -1, coordinatorEpoch, currentTxnFirstOffset,
  });
  if (table.size > limits.producersMax) evictOldestIdle(table);
  return completed;
}

/**
 * Forgets the least recently written producer without an open transaction: forgetting one with an open
 * transaction would let the last stable offset pass records whose fate is not decided yet. When every
 * producer has one open, the table stays over its bound (only a replica applying what its leader accepted,
 * or a recovery scan, gets here: the leader refuses new producer ids when full).
 */
function evictOldestIdle(table: Map<number, ProducerEntry>): void {
  for (const [id, entry] of table) {
    if (openTxnFirstOffset(entry) !== NO_TXN_OFFSET) continue;
    table.delete(id);
    return;
  }
}

/** The first offset of the earliest open transaction in `table`, or undefined when none is open. */
export function firstUnstableOffset(table: ReadonlyMap<number, ProducerEntry>): number | undefined {
  let min: number | undefined;
  for (const entry of table.values()) {
    const first = openTxnFirstOffset(entry);
    if (first !== NO_TXN_OFFSET && (min === undefined || first < min)) min = first;
  }
  return min;
}

/**
 * Kafka's last stable offset: no reader in read_committed may see an offset at or past the first offset
 * of a transaction still open, nor anything past the high watermark.
 */
export function lastStableOffset(args: { readonly highWatermark: number; readonly firstUnstableOffset: number | undefined }): number {
  return args.firstUnstableOffset === undefined ? args.highWatermark : Math.min(args.firstUnstableOffset, args.highWatermark);
}

export type MarkerRefusal = { readonly code: 'TRANSACTION_COORDINATOR_FENCED' | 'INVALID_PRODUCER_EPOCH'; readonly message: string };

/**
 * Whether a leader may write a marker for this producer: a coordinator epoch older than the last one seen
 * for the producer is a deposed coordinator (TRANSACTION_COORDINATOR_FENCED); a producer epoch older than
 * the producer's current one is a marker of a fenced incarnation (INVALID_PRODUCER_EPOCH). A producer
 * unknown here gets its marker anyway (Kafka writes it: the coordinator cannot know what this partition holds).
 */
export function checkMarker(entry: ProducerEntry | undefined, marker: { readonly producerId: number; readonly producerEpoch: number; readonly coordinatorEpoch: number }): MarkerRefusal | null {
  if (entry === undefined) return null;
  const seen = entry.coordinatorEpoch ?? NO_COORDINATOR_EPOCH;
  if (marker.coordinatorEpoch < seen) {
    return { code: 'TRANSACTION_COORDINATOR_FENCED', message: `producer ${marker.producerId}: coordinator epoch ${marker.coordinatorEpoch} is older than ${seen}, the last one that wrote a marker here` };
  }
  if (marker.producerEpoch < entry.producerEpoch) {
    return { code: 'INVALID_PRODUCER_EPOCH', message: `producer ${marker.producerId}: marker epoch ${marker.producerEpoch} is older than the producer's current ${entry.producerEpoch}` };
  }
  return null;
}

/**
 * Drops what a truncation removed: batches at or above `offset` (follower truncation). A transaction
 * whose first offset is truncated is no longer open; a marker that was truncated cannot be undone here
 * (the entry does not remember what it ended), so a caller that truncates a log with markers must rebuild
 * the table from the log instead (Partition does: loadProducerState).
 */
export function truncateProducerState(table: Map<number, ProducerEntry>, offset: number): void {
  for (const [id, entry] of [...table]) {
    const batches = entry.batches.filter((b) => b.lastOffset < offset);
    const txnFirst = openTxnFirstOffset(entry);
    const txnGone = txnFirst !== NO_TXN_OFFSET && txnFirst >= offset;
    if (batches.length === entry.batches.length && entry.lastOffset < offset && !txnGone) continue;
    // The entry may have lost its newest batches; its epoch then may be too new — forget it entirely
    // when nothing remains, so the next batch of this producer is accepted like an unknown producer's.
    if (batches.length === 0) table.delete(id);
    else table.set(id, { ...entry, batches, lastOffset: batches[batches.length - 1]!.lastOffset, ...(txnGone ? { currentTxnFirstOffset: NO_TXN_OFFSET } : {}) });
  }
}

/**
 * Forgets producers whose last write is at least `expirationMs` old (Kafka's producer.id.expiration.ms).
 * The table is in write order, so this stops at the first one still alive (skipping producers with an
 * open transaction, which never expire). Returns how many it dropped.
 */
export function expireProducers(table: Map<number, ProducerEntry>, args: { readonly nowMs: number; readonly expirationMs: number }): number {
  let dropped = 0;
  for (const [id, entry] of table) {
    if (args.nowMs - (entry.lastWriteMs ?? args.nowMs) < args.expirationMs) break;
    // Never a producer with an open transaction: its records hold the last stable offset until a marker
    // ends it (the coordinator's transaction.timeout.ms aborts it), and the marker needs the entry.
    if (openTxnFirstOffset(entry) !== NO_TXN_OFFSET) continue;
    table.delete(id);
    dropped += 1;
  }
  return dropped;
}
