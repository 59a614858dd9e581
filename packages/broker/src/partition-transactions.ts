// The partition leader's side of transactions: writing COMMIT/ABORT markers (Replica.WriteTxnMarkers,
// and the coordinator of this broker directly), describing producers (Transactions.DescribeProducers) and
// aborting a hanging transaction (Transactions.AbortTransaction, kafka-transactions.sh abort). Each
// marker is written by ReplicaManager.writeTxnMarker, which answers once the marker is committed.
import { tributary } from '@tributary/protocol';
import { errorCodeOf, type ErrorCodeName } from './errors.js';
import { int64 } from './grpc-call.js';
import { partitionKey } from './change-notifier.js';
import type { ReplicaManager } from './replica-manager.js';
import type { TxnMarkerRequest, TxnMarkerResults, TxnMarkerWriter } from './transactions/txn-ports.js';

/**
 * How long one marker may wait to be committed (the high watermark past it) before the partition answers
 * REQUEST_TIMED_OUT (retriable: the coordinator sends it again). Kafka's request.timeout.ms for markers.
 */
export const TXN_MARKER_COMMIT_TIMEOUT_MS = 30_000;
/** Most partitions one marker request may name (bounds the work of one call). */
export const TXN_MARKER_PARTITIONS_MAX = 10_000;

export interface PartitionTransactionsDeps {
  readonly replicas: ReplicaManager;
  readonly nowMs: () => number;
  /** Default TXN_MARKER_COMMIT_TIMEOUT_MS. */
  readonly markerCommitTimeoutMs?: number;
}

function wireError(code: ErrorCodeName, message: string): tributary.v1.IError {
  return { code: tributary.v1.ErrorCode[code], message };
}

export class PartitionTransactions implements TxnMarkerWriter {
  constructor(private readonly deps: PartitionTransactionsDeps) {}

  /**
   * Writes `marker` on every named partition concurrently; per partition undefined (written and
   * committed) or the error code. A partition this broker does not lead answers NOT_LEADER_OR_FOLLOWER
   * (or UNKNOWN_TOPIC_OR_PARTITION); one partition's failure never affects another's.
   */
  async writeMarkers(marker: TxnMarkerRequest, signal?: AbortSignal): Promise<TxnMarkerResults> {
    if (marker.partitions.length > TXN_MARKER_PARTITIONS_MAX) {
      return new Map(marker.partitions.map((tp) => [partitionKey(tp.topic, tp.partition), 'INVALID_REQUEST' as const]));
    }
    const timeoutMs = this.deps.markerCommitTimeoutMs ?? TXN_MARKER_COMMIT_TIMEOUT_MS;
    const results = await Promise.all(marker.partitions.map(async (tp): Promise<[string, ErrorCodeName | undefined]> => {
      try {
        await this.deps.replicas.writeTxnMarker(
          { topic: tp.topic, partition: tp.partition, producerId: marker.producerId, producerEpoch: marker.producerEpoch, committed: marker.committed, coordinatorEpoch: marker.coordinatorEpoch },
          { timeoutMs, ...(signal === undefined ? {} : { signal }) },
        );
        return [partitionKey(tp.topic, tp.partition), undefined];
      } catch (err) {
        return [partitionKey(tp.topic, tp.partition), errorCodeOf(err)];
      }
    }));
    return new Map(results);
  }

  /** Every producer each named partition (led here) holds state for; per-partition errors. */
  describeProducers(req: tributary.v1.IDescribeProducersRequest): Promise<tributary.v1.IDescribeProducersResponse> {
    const topics = (req.topics ?? []).map((t) => ({
      topic: t.topic ?? '',
      partitions: (t.partitions ?? []).map((index) => {
        try {
          const partition = this.deps.replicas.getPartition(t.topic ?? '', index);
          partition.checkLeader(-1);
          return {
            partition: index, error: { code: tributary.v1.ErrorCode.NONE, message: '' },
            activeProducers: partition.describeProducers().map((p) => ({
              producerId: p.producerId, producerEpoch: p.producerEpoch, lastSequence: p.lastSequence, lastTimestampMs: p.lastTimestampMs,
              coordinatorEpoch: p.coordinatorEpoch, currentTxnStartOffset: p.currentTxnStartOffset,
            })),
          };
        } catch (err) {
          return { partition: index, error: wireError(errorCodeOf(err), err instanceof Error ? err.message : String(err)), activeProducers: [] };
        }
      }),
    }));
    return Promise.resolve({ topics });
  }

  /**
   * Writes an ABORT marker for the producer on the partition with the given epochs (an operator ending a
   * hanging transaction). The same fencing as a coordinator's marker applies: an older producer epoch
   * (INVALID_PRODUCER_EPOCH) or coordinator epoch (TRANSACTION_COORDINATOR_FENCED) is refused.
   */
  async abortTransaction(req: tributary.v1.IAbortTransactionRequest, signal?: AbortSignal): Promise<tributary.v1.IAbortTransactionResponse> {
    try {
      await this.deps.replicas.writeTxnMarker(
        { topic: req.topic ?? '', partition: req.partition ?? 0, producerId: int64(req.producerId), producerEpoch: req.producerEpoch ?? -1, committed: false, coordinatorEpoch: req.coordinatorEpoch ?? -1 },
        { timeoutMs: this.deps.markerCommitTimeoutMs ?? TXN_MARKER_COMMIT_TIMEOUT_MS, ...(signal === undefined ? {} : { signal }) },
      );
      return { error: { code: tributary.v1.ErrorCode.NONE, message: '' } };
    } catch (err) {
      return { error: wireError(errorCodeOf(err), err instanceof Error ? err.message : String(err)) };
    }
  }
}
