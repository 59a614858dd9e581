// Replica.WriteTxnMarkers' domain handler answers each partition as the TxnMarkerWriter reported it: a
// written marker (undefined in the results) is NONE — it was UNKNOWN_SERVER_ERROR, so a coordinator
// retried every remote marker forever (the cluster test never reached CompleteCommit) — and a partition
// the writer did not report at all is an error, never a success.
import { describe, expect, it } from 'vitest';
import { tributary } from '@tributary/protocol';
import { serveWriteTxnMarkers } from '../../src/replication/replica-service.js';
import type { TxnMarkerRequest, TxnMarkerWriter } from '../../src/transactions/txn-ports.js';

describe('WriteTxnMarkers handler', () => {
  it('reports written partitions as NONE, refused ones with their code, unreported ones as errors', async () => {
    const writer: TxnMarkerWriter = {
      writeMarkers: (m: TxnMarkerRequest) => Promise.resolve(new Map([['t-0', undefined], ['t-1', 'NOT_LEADER_OR_FOLLOWER' as const]].filter(([k]) => m.partitions.some((tp) => `${tp.topic}-${tp.partition}` === k)) as [string, undefined][])),
    };
    const marker: TxnMarkerRequest = { transactionalId: 'x', producerId: 1, producerEpoch: 2, committed: true, coordinatorEpoch: 0, partitions: [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }, { topic: 't', partition: 2 }] };
    const res = await serveWriteTxnMarkers({ clusterId: 'c', markers: [marker] }, { clusterId: 'c', txnMarkers: writer });
    const codes = res.markers?.[0]?.topics?.[0]?.partitions?.map((p) => tributary.v1.ErrorCode[p.error?.code ?? 0]);
    expect(codes).toEqual(['NONE', 'NOT_LEADER_OR_FOLLOWER', 'UNKNOWN_SERVER_ERROR']);
  });
});
