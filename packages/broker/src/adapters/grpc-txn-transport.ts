// The transaction coordinator's calls to other brokers over gRPC: Replica.WriteTxnMarkers (markers to
// a partition leader) and Transactions.AddPartitionsToTxn with verify_only (a leader asking a
// coordinator). One channel per broker address, reused, as the replica fetch transport does.
import * as grpc from '@grpc/grpc-js';
import { flowControlChannelOptions, ReplicaClient, TransactionsClient, tributary } from '@tributary/protocol';
import type { ErrorCodeName } from '../errors.js';
import type { BrokerNode } from '../metadata-view.js';
import type { TxnMarkerTransport } from '../transactions/transaction-coordinator.js';
import type { TxnMarkerRequest, TxnMarkerResults, TxnVerifyInput } from '../transactions/txn-ports.js';
import type { TxnVerifyTransport } from '../transactions/txn-verifier.js';

/** Deadline of one inter-broker transaction call, milliseconds. */
export const TXN_CALL_TIMEOUT_MS = 30_000;

function codeName(e: tributary.v1.IError | null | undefined): ErrorCodeName | undefined {
  const code = e?.code ?? 0;
  if (code === tributary.v1.ErrorCode.NONE) return undefined;
  return (tributary.v1.ErrorCode[code] ?? 'UNKNOWN_SERVER_ERROR') as ErrorCodeName;
}

export interface GrpcTxnTransport extends TxnMarkerTransport, TxnVerifyTransport {
  close(): void;
}

export function grpcTxnTransport(options: { readonly clusterId: string; readonly nodeId: number; readonly http2FlowControlWindowBytes?: number }): GrpcTxnTransport {
  const channelOptions = flowControlChannelOptions(options.http2FlowControlWindowBytes);
  const replicas = new Map<string, ReplicaClient>();
  const transactions = new Map<string, TransactionsClient>();
  const address = (b: BrokerNode): string => (b.host.includes(':') ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`);
  const replicaFor = (b: BrokerNode): ReplicaClient => {
    let c = replicas.get(address(b));
    if (c === undefined) replicas.set(address(b), (c = new ReplicaClient(address(b), grpc.credentials.createInsecure(), channelOptions)));
    return c;
  };
  const transactionsFor = (b: BrokerNode): TransactionsClient => {
    let c = transactions.get(address(b));
    if (c === undefined) transactions.set(address(b), (c = new TransactionsClient(address(b), grpc.credentials.createInsecure(), channelOptions)));
    return c;
  };
  return {
    writeMarkers(broker: BrokerNode, marker: TxnMarkerRequest, signal: AbortSignal): Promise<TxnMarkerResults> {
      const topics = new Map<string, number[]>();
      for (const tp of marker.partitions) {
        let list = topics.get(tp.topic);
        if (list === undefined) topics.set(tp.topic, (list = []));
        list.push(tp.partition);
      }
      return new Promise((resolve, reject) => {
        const call = replicaFor(broker).writeTxnMarkers({
          clusterId: options.clusterId, coordinatorId: options.nodeId,
          markers: [{
            producerId: marker.producerId, producerEpoch: marker.producerEpoch, committed: marker.committed, coordinatorEpoch: marker.coordinatorEpoch,
            transactionalId: marker.transactionalId, topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
          }],
        }, { deadline: Date.now() + TXN_CALL_TIMEOUT_MS }, (err, res) => {
          signal.removeEventListener('abort', cancel);
          if (err !== null || res === undefined) return reject(err ?? new Error('empty WriteTxnMarkers response'));
          const whole = codeName(res.error);
          const results = new Map<string, ErrorCodeName | undefined>();
          // Only partitions we asked about count; a whole-request error leaves them all pending.
          const asked = new Set(marker.partitions.map((tp) => `${tp.topic}-${tp.partition}`));
          if (whole === undefined) {
            for (const m of res.markers) for (const t of m.topics ?? []) for (const p of t.partitions ?? []) {
              const key = `${t.topic ?? ''}-${p.partition ?? 0}`;
              if (asked.has(key)) results.set(key, codeName(p.error));
            }
          } else for (const key of asked) results.set(key, whole);
          resolve(results);
        });
        const cancel = (): void => call.cancel();
        signal.addEventListener('abort', cancel, { once: true });
      });
    },
    verify(broker: BrokerNode, input: TxnVerifyInput): Promise<ErrorCodeName | undefined> {
      return new Promise((resolve, reject) => {
        transactionsFor(broker).addPartitionsToTxn({
          transactionalId: input.transactionalId, producerId: input.producerId, producerEpoch: input.producerEpoch, verifyOnly: true,
          topics: [{ topic: input.topic, partitions: [input.partition] }],
        }, { deadline: Date.now() + TXN_CALL_TIMEOUT_MS }, (err, res) => {
          if (err !== null || res === undefined) return reject(err ?? new Error('empty AddPartitionsToTxn response'));
          const whole = codeName(res.error);
          if (whole !== undefined) return resolve(whole);
          const p = res.topics.find((t) => t.topic === input.topic)?.partitions?.find((x) => (x.partition ?? 0) === input.partition);
          // An answer that does not name our partition is no "yes".
          resolve(p === undefined ? 'INVALID_TXN_STATE' : codeName(p.error));
        });
      });
    },
    close(): void {
      for (const c of replicas.values()) c.close();
      for (const c of transactions.values()) c.close();
      replicas.clear();
      transactions.clear();
    },
  };
}
