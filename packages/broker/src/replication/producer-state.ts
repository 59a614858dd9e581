// Idempotent producer state of one partition, pure (DESIGN.md §5, KIP-98): per producer id the
// current epoch and the last BATCHES_PER_PRODUCER_MAX batches' sequence ranges and offsets. Built
// from batch headers only (producerId, producerEpoch, baseSequence, lastOffsetDelta): on append, on
// log recovery and on becoming leader (a scan of the log tail), never by decoding records.
import { NO_PRODUCER_ID } from '@tributary/protocol';
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
 */
export function recordBatch(
  table: Map<number, ProducerEntry>,
  batch: BatchIdentity & { readonly baseOffset: number },
  limits: ProducerTableLimits = { producersMax: PRODUCERS_PER_PARTITION_MAX, nowMs: 0 },
): void {
  if (batch.producerId === NO_PRODUCER_ID) return;
  const entry = table.get(batch.producerId);
  const appended: ProducerBatch = {
    firstSequence: batch.baseSequence, lastSequence: lastSequenceOf(batch),
    firstOffset: batch.baseOffset, lastOffset: batch.baseOffset + batch.lastOffsetDelta,
  };
  const keep = entry === undefined || entry.producerEpoch !== batch.producerEpoch ? [] : entry.batches.slice(-(BATCHES_PER_PRODUCER_MAX - 1));
  assert(entry === undefined || batch.producerEpoch >= entry.producerEpoch || batch.producerEpoch < 0, `producer ${batch.producerId} epoch went back from ${entry?.producerEpoch} to ${batch.producerEpoch}`);
  table.delete(batch.producerId); // re-insert: Map order = least recently written first
  table.set(batch.producerId, { producerId: batch.producerId, producerEpoch: batch.producerEpoch, batches: [...keep, appended], lastOffset: appended.lastOffset, lastWriteMs: limits.nowMs });
  if (table.size > limits.producersMax) {
    const oldest = table.keys().next();
    if (oldest.done !== true) table.delete(oldest.value);
  }
}

/** Drops what a truncation removed: batches at or above `offset` (follower truncation). */
export function truncateProducerState(table: Map<number, ProducerEntry>, offset: number): void {
  for (const [id, entry] of [...table]) {
    const batches = entry.batches.filter((b) => b.lastOffset < offset);
    if (batches.length === entry.batches.length) continue;
    // The entry may have lost its newest batches; its epoch then may be too new — forget it entirely
    // when nothing remains, so the next batch of this producer is accepted like an unknown producer's.
    if (batches.length === 0) table.delete(id);
    else table.set(id, { ...entry, batches, lastOffset: batches[batches.length - 1]!.lastOffset });
  }
}

/**
 * Forgets producers whose last write is at least `expirationMs` old (Kafka's producer.id.expiration.ms).
 * The table is in write order, so this stops at the first one still alive. Returns how many it dropped.
 */
export function expireProducers(table: Map<number, ProducerEntry>, args: { readonly nowMs: number; readonly expirationMs: number }): number {
  let dropped = 0;
  for (const [id, entry] of table) {
    if (args.nowMs - (entry.lastWriteMs ?? args.nowMs) < args.expirationMs) break;
    table.delete(id);
    dropped += 1;
  }
  return dropped;
}
