// The partition leader's side of transactions: writing COMMIT/ABORT markers (Replica.WriteTxnMarkers),
// describing producers (Transactions.DescribeProducers) and aborting a hanging transaction
// (Transactions.AbortTransaction). Placeholder signatures until the partition work of issue 12 lands.
import type { tributary } from '@tributary/protocol';
import type { ReplicaManager } from './replica-manager.js';
import type { TxnMarkerRequest, TxnMarkerResults, TxnMarkerWriter } from './transactions/txn-ports.js';

export interface PartitionTransactionsDeps {
  readonly replicas: ReplicaManager;
  readonly nowMs: () => number;
}

export class PartitionTransactions implements TxnMarkerWriter {
  constructor(private readonly deps: PartitionTransactionsDeps) {}

  writeMarkers(marker: TxnMarkerRequest, _signal?: AbortSignal): Promise<TxnMarkerResults> {
    void this.deps;
    return Promise.resolve(new Map(marker.partitions.map((tp) => [`${tp.topic}-${tp.partition}`, 'INVALID_REQUEST' as const])));
  }

  describeProducers(req: tributary.v1.DescribeProducersRequest): Promise<tributary.v1.IDescribeProducersResponse> {
    return Promise.resolve({ topics: req.topics.map((t) => ({ topic: t.topic, partitions: (t.partitions ?? []).map((p) => ({ partition: p, error: { code: 42, message: 'not implemented yet' }, activeProducers: [] })) })) });
  }

  abortTransaction(_req: tributary.v1.AbortTransactionRequest): Promise<tributary.v1.IAbortTransactionResponse> {
    return Promise.resolve({ error: { code: 42, message: 'not implemented yet' } });
  }
}
