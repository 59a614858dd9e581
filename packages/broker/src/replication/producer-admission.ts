// Which producer ids a partition leader accepts, pure. Producer ids exist only as the cluster hands them
// out: the controller allocates blocks of ids to brokers (ProducerIdsBlock metadata records, contiguous
// from 0, so every broker's metadata image knows the allocated range [0, allocatedEnd)), and a broker's
// InitProducerId gives an idempotent producer's id epoch 0, never re-issued with a bumped epoch; a
// transactional id's coordinator bumps its epoch, up to TRANSACTIONAL_PRODUCER_EPOCH_MAX). A batch is
// judged before anything about it is stored, so made-up ids never take a slot in the partition's
// producer table (and never evict a real producer's deduplication state):
//   - producer id ≥ allocatedEnd: never allocated (or the block's record has not reached this broker
//     yet: the TypeScript producer retries its own fresh id) → UNKNOWN_PRODUCER_ID;
//   - epoch outside [0, PRODUCER_EPOCH_ISSUED_MAX] (idempotent) or [0, TRANSACTIONAL_PRODUCER_EPOCH_MAX]
//     (transactional batches): not an epoch any broker gave out → INVALID_PRODUCER_EPOCH;
//   - a producer id this partition has no state for must start at sequence 0 (KIP-98) →
//     OUT_OF_ORDER_SEQUENCE_NUMBER (retriable for a producer whose earlier batches are still in flight).
// A replica that becomes leader holds the producer state of every batch in its log (followers record
// them as they append), and its metadata has applied every block allocated before the election (the
// metadata log is applied in order), so it accepts whatever its old leader accepted.
import { NO_PRODUCER_ID, NO_SEQUENCE } from '@tributary/protocol';
import type { BatchIdentity } from './producer-state.js';

/**
 * Highest producer epoch a broker hands out to an idempotent (non-transactional) producer: InitProducerId
 * answers each with a fresh id at epoch 0.
 */
export const PRODUCER_EPOCH_ISSUED_MAX = 0;
/**
 * Highest epoch of a transactional producer: its coordinator bumps the epoch on every InitProducerId and
 * EndTxn (transactions v2) up to Kafka's Short.MAX_VALUE, then moves the transactional id to a new producer id.
 */
export const TRANSACTIONAL_PRODUCER_EPOCH_MAX = 32_767;

export interface ProducerAdmissionContext {
  /** Producer ids below this were allocated in blocks, per this broker's metadata. */
  readonly allocatedEnd: number;
  /** The partition has state for this producer id (written, or accepted and being written). */
  readonly known: boolean;
  /**
   * 'coordinator': a batch a coordinator of this broker writes for the producer (base sequence -1, no
   * sequence rules); 'client' (default): a produce request.
   */
  readonly origin?: 'client' | 'coordinator';
}

export interface ProducerRefusal {
  readonly code: 'UNKNOWN_PRODUCER_ID' | 'INVALID_PRODUCER_EPOCH' | 'OUT_OF_ORDER_SEQUENCE_NUMBER' | 'INVALID_RECORD';
  readonly message: string;
}

/** Null when the batch's producer identity may go on to the sequence check; non-idempotent batches always may. */
export function checkProducerAdmission(batch: BatchIdentity, ctx: ProducerAdmissionContext): ProducerRefusal | null {
  if (batch.producerId === NO_PRODUCER_ID) return null;
  if (batch.producerId < 0 || batch.producerId >= ctx.allocatedEnd) {
    return { code: 'UNKNOWN_PRODUCER_ID', message: `producer id ${batch.producerId} was not allocated by the cluster (allocated so far, as this broker knows: [0, ${ctx.allocatedEnd})); get one with InitProducerId` };
  }
  const epochMax = batch.transactional === true ? TRANSACTIONAL_PRODUCER_EPOCH_MAX : PRODUCER_EPOCH_ISSUED_MAX;
  if (batch.producerEpoch < 0 || batch.producerEpoch > epochMax) {
    const given = batch.transactional === true ? `transactional producers have epochs 0..${epochMax}` : `InitProducerId gives idempotent producers epochs 0..${epochMax}`;
    return { code: 'INVALID_PRODUCER_EPOCH', message: `producer ${batch.producerId} epoch ${batch.producerEpoch} was never given out (${given})` };
  }
  if (ctx.origin === 'coordinator') {
    if (batch.transactional !== true || batch.baseSequence !== NO_SEQUENCE) {
      return { code: 'INVALID_RECORD', message: `producer ${batch.producerId}: a coordinator writes transactional batches with base sequence -1 only (transactional ${batch.transactional === true}, base sequence ${batch.baseSequence})` };
    }
    return null;
  }
  if (!ctx.known && batch.baseSequence !== 0) {
    return { code: 'OUT_OF_ORDER_SEQUENCE_NUMBER', message: `producer ${batch.producerId} has no state in this partition: its first batch must start at sequence 0, got ${batch.baseSequence}` };
  }
  return null;
}

/**
 * Whether `newProducers` more ids fit in a table of `occupied` (after expiry). The leader refuses a new
 * producer id rather than evict a live producer's state: one client's burst of fresh ids must not make
 * other producers' retries duplicate.
 */
export function checkProducerCapacity(args: { readonly occupied: number; readonly newProducers: number; readonly producersMax: number }): { readonly code: 'THROTTLING_QUOTA_EXCEEDED'; readonly message: string } | null {
  if (args.newProducers === 0 || args.occupied + args.newProducers <= args.producersMax) return null;
  return {
    code: 'THROTTLING_QUOTA_EXCEEDED',
    message: `the partition keeps state for ${args.occupied} producer ids written within producer.id.expiration.ms (producer.ids.per.partition.max ${args.producersMax}); a new producer id is admitted once one expires`,
  };
}
