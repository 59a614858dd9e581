// read_committed filtering of one fetched partition, Kafka's algorithm (CompletedFetch): pure, no I/O.
//
// A read_committed fetch returns data up to the last stable offset and the aborted transactions that
// overlap it: (producerId, firstOffset) for each aborted transaction whose ABORT marker is at or after
// the fetch offset. Walking the batches in offset order:
// - every aborted transaction whose firstOffset <= the batch's last offset makes its producer "aborted";
// - an ABORT control batch of that producer ends it (its later batches belong to a new transaction);
// - a transactional batch of an aborted producer is dropped;
// - control batches (COMMIT and ABORT markers) are never returned.
// The consumer's position moves past dropped and control batches alike. Each fetch response stands
// alone: the broker lists every aborted transaction that overlaps it, so no state carries over.
import type { RecordBatch } from '@tributary/protocol';

export interface AbortedTransaction {
  readonly producerId: number;
  /** The offset of the transaction's first batch on this partition. */
  readonly firstOffset: number;
}

/** Kafka's control record types (key: int16 version 0, int16 type). */
export type ControlType = 'ABORT' | 'COMMIT' | 'UNKNOWN';

/** The fields the filter reads: a decoded RecordBatch has them. */
type FilteredBatch = Pick<RecordBatch, 'producerId' | 'transactional' | 'control' | 'lastOffset'> & { readonly records: readonly { readonly key: Buffer | null }[] };

export function controlTypeOf(batch: Pick<FilteredBatch, 'control' | 'records'>): ControlType {
  if (!batch.control) throw new Error('assertion: controlTypeOf on a data batch');
  const key = batch.records[0]?.key;
  // A malformed marker is not trusted to end a transaction; it is still never returned.
  if (key === null || key === undefined || key.length < 4 || key.readInt16BE(0) !== 0) return 'UNKNOWN';
  const type = key.readInt16BE(2);
  return type === 0 ? 'ABORT' : type === 1 ? 'COMMIT' : 'UNKNOWN';
}

export class AbortedTransactionFilter {
  /** Not yet reached, by firstOffset descending (the next one is last). */
  private readonly upcoming: AbortedTransaction[];
  private readonly abortedProducers = new Set<number>();

  constructor(aborted: readonly AbortedTransaction[]) {
    this.upcoming = [...aborted].sort((a, b) => b.firstOffset - a.firstOffset);
  }

  /**
   * Whether `batch`'s records must not be returned: a control batch, or a transactional batch of an
   * aborted transaction. Call once per batch, in offset order.
   */
  skip(batch: FilteredBatch): boolean {
    if (batch.producerId >= 0) {
      for (let next = this.upcoming.at(-1); next !== undefined && next.firstOffset <= batch.lastOffset; next = this.upcoming.at(-1)) {
        this.abortedProducers.add(this.upcoming.pop()!.producerId);
      }
      if (batch.control) {
        if (controlTypeOf(batch) === 'ABORT') this.abortedProducers.delete(batch.producerId);
      } else if (batch.transactional && this.abortedProducers.has(batch.producerId)) {
        return true;
      }
    }
    return batch.control;
  }
}
