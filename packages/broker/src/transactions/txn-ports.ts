// The seams between the transaction coordinator (transactions/), the partitions (partition.ts,
// replication/) and the group coordinator (groups/). Each side depends on these types only, so the
// three can be built and tested apart; node.ts wires the real implementations together.
import type { ErrorCodeName } from '../errors.js';

/**
 * Partition leader → transaction coordinator (KIP-890 part 1, the fix for hanging transactions): before
 * a leader appends the first transactional batch of a producer epoch, it asks the producer's coordinator
 * whether this partition is in the ongoing transaction of exactly that producer id and epoch. Answers
 * undefined (yes) or the error for the batch: INVALID_TXN_STATE (not in a transaction / partition not
 * added), PRODUCER_FENCED, INVALID_PRODUCER_ID_MAPPING, or a retriable NOT_COORDINATOR /
 * COORDINATOR_NOT_AVAILABLE / COORDINATOR_LOAD_IN_PROGRESS / CONCURRENT_TRANSACTIONS.
 * The group coordinator uses it too, for the `__consumer_offsets` partition of a TxnOffsetCommit.
 */
export interface TxnVerifier {
  verify(input: TxnVerifyInput): Promise<ErrorCodeName | undefined>;
}

export interface TxnVerifyInput {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly topic: string;
  readonly partition: number;
}

/**
 * A COMMIT/ABORT marker this broker wrote as leader, reported once the high watermark is past it
 * (committed). The group coordinator listens for markers on `__consumer_offsets` partitions to turn a
 * transaction's pending offsets into committed ones (commit) or drop them (abort). A coordinator that
 * loads a partition later sees the same markers in the log.
 */
export interface TxnMarkerWritten {
  readonly topic: string;
  readonly partition: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly committed: boolean;
  /** Offset of the control batch. */
  readonly offset: number;
}

export type TxnMarkerListener = (marker: TxnMarkerWritten) => void;

/** One marker for one producer over some partitions (Replica.WriteTxnMarkers' TxnMarker). */
export interface TxnMarkerRequest {
  readonly transactionalId: string;
  readonly producerId: number;
  /** The epoch the marker is written with (transactions v2: after the end-of-transaction bump). */
  readonly producerEpoch: number;
  readonly committed: boolean;
  /** The leader epoch of the coordinator's `__transaction_state` partition. */
  readonly coordinatorEpoch: number;
  readonly partitions: readonly { readonly topic: string; readonly partition: number }[];
}

/** Per partition: undefined = written and committed; else the error (retriable ones are retried by the coordinator). */
export type TxnMarkerResults = ReadonlyMap<string /* `${topic}-${partition}` */, ErrorCodeName | undefined>;

/**
 * Partition side, implemented over the ReplicaManager (partition-transactions.ts): writes one
 * marker on each named partition this broker leads, waiting until each is committed.
 */
export interface TxnMarkerWriter {
  writeMarkers(marker: TxnMarkerRequest, signal?: AbortSignal): Promise<TxnMarkerResults>;
}
