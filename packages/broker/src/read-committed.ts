// What a read_committed reader delivers from a fetched range (Kafka's consumer-side filter, KIP-98):
// records of aborted transactions and every control batch are skipped. The fetch returns the aborted
// transactions the range overlaps (producer id + first offset, from the aborted index); walking the
// batches in offset order, a producer enters the "aborted" set at its transaction's first offset and
// leaves it at its ABORT marker, and its transactional batches in between are dropped. Pure.
import type { AbortedTxnRef } from './fetch.js';

export interface FilteredBatch {
  readonly producerId: number;
  readonly transactional: boolean;
  readonly control: boolean;
  /** Offset of the batch's last record. */
  readonly lastOffset: number;
}

export class ReadCommittedFilter {
  /** Not yet reached, by first offset. */
  private readonly upcoming: AbortedTxnRef[];
  private readonly abortedProducers = new Set<number>();

  constructor(aborted: readonly AbortedTxnRef[]) {
    this.upcoming = [...aborted].sort((a, b) => a.firstOffset - b.firstOffset);
  }

  /**
   * Whether the batch's records are delivered. Batches must come in offset order. `isAbortMarker`
   * (asked only for control batches of a producer in an aborted transaction) says whether the control
   * batch is that transaction's ABORT.
   */
  accept(batch: FilteredBatch, isAbortMarker: () => boolean): boolean {
    while (this.upcoming.length > 0 && this.upcoming[0]!.firstOffset <= batch.lastOffset) {
      this.abortedProducers.add(this.upcoming.shift()!.producerId);
    }
    if (batch.control) {
      if (this.abortedProducers.has(batch.producerId) && isAbortMarker()) this.abortedProducers.delete(batch.producerId);
      return false;
    }
    return !(batch.transactional && this.abortedProducers.has(batch.producerId));
  }
}
