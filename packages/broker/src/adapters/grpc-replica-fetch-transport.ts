// ReplicaFetchTransport over gRPC (tributary.internal.v1.Replica), one channel per leader address.
import * as grpc from '@grpc/grpc-js';
import { flowControlChannelOptions, ReplicaClient, tributary } from '@tributary/protocol';
import type { ErrorCodeName } from '../errors.js';
import { int64 } from '../grpc-call.js';
import type { LeaderEndpoint, ReplicaFetchRequest, ReplicaFetchResponse, ReplicaFetchTransport } from '../replication/replica-fetch-transport.js';

const EMPTY = Buffer.alloc(0);

function errorOf(e: tributary.v1.IError | null | undefined): { code: ErrorCodeName; message: string } | undefined {
  const code = e?.code ?? 0;
  if (code === tributary.v1.ErrorCode.NONE) return undefined;
  return { code: (tributary.v1.ErrorCode[code] ?? 'UNKNOWN_SERVER_ERROR') as ErrorCodeName, message: e?.message ?? '' };
}

/** The domain view of a leader's answer (the records are a view of the decoded message's bytes, not a copy). */
export function decodeReplicaFetchResponse(res: tributary.internal.v1.ReplicaFetchResponse): ReplicaFetchResponse {
  return {
    error: errorOf(res.error),
    partitions: res.partitions.map((p) => ({
      topic: p.topic ?? '', partition: p.partition ?? 0, error: errorOf(p.error), highWatermark: int64(p.highWatermark), logStartOffset: int64(p.logStartOffset),
      leaderEpoch: p.leaderEpoch ?? -1, // A view of the decoded message's bytes, not a copy (Buffer.from(Uint8Array) copies).
      records: p.records === undefined || p.records === null ? EMPTY : Buffer.from(p.records.buffer, p.records.byteOffset, p.records.byteLength),
      divergingEpoch: p.hasDivergingEpoch ? { epoch: p.divergingEpoch?.epoch ?? -1, endOffset: int64(p.divergingEpoch?.endOffset) } : undefined,
    })),
  };
}

export function grpcReplicaFetchTransport(options: { readonly maxReceiveBytes: number; readonly http2FlowControlWindowBytes?: number }): ReplicaFetchTransport {
  const clients = new Map<string, ReplicaClient>();
  const clientFor = (leader: LeaderEndpoint): ReplicaClient => {
    const address = `${leader.host}:${leader.port}`;
    let client = clients.get(address);
    if (client === undefined) {
      client = new ReplicaClient(address, grpc.credentials.createInsecure(), {
        'grpc.max_receive_message_length': options.maxReceiveBytes, ...flowControlChannelOptions(options.http2FlowControlWindowBytes),
      });
      clients.set(address, client);
    }
    return client;
  };
  return {
    fetch(leader, request: ReplicaFetchRequest, signal): Promise<ReplicaFetchResponse> {
      return new Promise((resolve, reject) => {
        const call = clientFor(leader).replicaFetch({ ...request, partitions: [...request.partitions] }, { deadline: Date.now() + request.maxWaitMs + 30_000 }, (err, res) => {
          signal.removeEventListener('abort', cancel);
          if (err !== null || res === undefined) return reject(err ?? new Error('empty ReplicaFetch response'));
          resolve(decodeReplicaFetchResponse(res));
        });
        const cancel = (): void => call.cancel();
        signal.addEventListener('abort', cancel, { once: true });
      });
    },
    close(): void {
      for (const client of clients.values()) client.close();
      clients.clear();
    },
  };
}
