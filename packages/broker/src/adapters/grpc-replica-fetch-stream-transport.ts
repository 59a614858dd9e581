// ReplicaFetchTransport over one long-lived ReplicaFetchStream per leader address
// (tributary.internal.v1.Replica): each fetch writes a request on the stream and takes the next answer
// (the leader answers in the order sent), so there is no HTTP/2 stream, header block or deadline timer
// per fetch. Several fetches may be outstanding on one stream (pipelining); they are answered first in,
// first out, each answer naming its request's correlation id. Any failure — a transport error, the
// stream ending, an answer nobody asked for or to another request than the oldest waiting, a fetch
// unanswered for maxWaitMs + REPLICA_FETCH_STREAM_ANSWER_GRACE_MS, or a fetch's signal aborting — breaks
// the whole stream: every outstanding fetch rejects, and the next fetch opens a new stream.
import * as grpc from '@grpc/grpc-js';
import { ReplicaClient, type tributary } from '@tributary/protocol';
import type { LeaderEndpoint, ReplicaFetchRequest, ReplicaFetchResponse, ReplicaFetchTransport } from '../replication/replica-fetch-transport.js';
import { int64 } from '../grpc-call.js';
import { decodeReplicaFetchResponse } from './grpc-replica-fetch-transport.js';

/**
 * The HTTP/2 flow-control window the follower grants a leader's connection, bytes: with the default 64 KiB
 * a 1 MiB answer waits for 16 window updates (a round trip each) on its way.
 */
export const REPLICA_FETCH_STREAM_FLOW_CONTROL_WINDOW_BYTES = 4 * 1024 * 1024;

/** How long past its long-poll time an answer may take before the stream counts as dead, milliseconds. */
export const REPLICA_FETCH_STREAM_ANSWER_GRACE_MS = 30_000;

type Call = grpc.ClientDuplexStream<tributary.internal.v1.IReplicaFetchRequest, tributary.internal.v1.ReplicaFetchResponse>;

interface Waiter {
  readonly correlationId: number;
  readonly resolve: (response: ReplicaFetchResponse) => void;
  readonly reject: (err: Error) => void;
  readonly cleanup: () => void;
}

interface OpenStream {
  readonly address: string;
  readonly call: Call;
  /** Outstanding fetches, in the order their requests were written. */
  readonly waiters: Waiter[];
  /** The last request's correlation id (requests are numbered 1, 2, 3, ... per stream). */
  lastCorrelationId: number;
  broken: boolean;
}

export class ReplicaFetchStreamError extends Error {
  override readonly name = 'ReplicaFetchStreamError';
}

export function grpcReplicaFetchStreamTransport(options: { readonly maxReceiveBytes: number; readonly http2FlowControlWindowBytes?: number }): ReplicaFetchTransport {
  const clients = new Map<string, ReplicaClient>();
  const streams = new Map<string, OpenStream>();

  const breakStream = (stream: OpenStream, reason: Error): void => {
    if (stream.broken) return;
    stream.broken = true;
    if (streams.get(stream.address) === stream) streams.delete(stream.address);
    stream.call.cancel();
    for (const waiter of stream.waiters.splice(0)) {
      waiter.cleanup();
      waiter.reject(reason);
    }
  };

  const open = (address: string): OpenStream => {
    let client = clients.get(address);
    if (client === undefined) {
      client = new ReplicaClient(address, grpc.credentials.createInsecure(), {
        'grpc.max_receive_message_length': options.maxReceiveBytes,
        'grpc-node.flow_control_window': options.http2FlowControlWindowBytes ?? REPLICA_FETCH_STREAM_FLOW_CONTROL_WINDOW_BYTES,
      });
      clients.set(address, client);
    }
    const stream: OpenStream = { address, call: client.replicaFetchStream(), waiters: [], lastCorrelationId: 0, broken: false };
    stream.call.on('data', (message: tributary.internal.v1.ReplicaFetchResponse) => {
      const waiter = stream.waiters.shift();
      if (waiter === undefined) return breakStream(stream, new ReplicaFetchStreamError(`leader ${address} answered a fetch nobody asked for`));
      const correlationId = int64(message.correlationId);
      if (correlationId !== waiter.correlationId) {
        stream.waiters.unshift(waiter);
        return breakStream(stream, new ReplicaFetchStreamError(`leader ${address} answered fetch ${correlationId} while fetch ${waiter.correlationId} waits`));
      }
      waiter.cleanup();
      waiter.resolve(decodeReplicaFetchResponse(message));
    });
    stream.call.on('error', (err: Error) => breakStream(stream, err));
    stream.call.on('end', () => breakStream(stream, new ReplicaFetchStreamError(`leader ${address} ended the fetch stream`)));
    streams.set(address, stream);
    return stream;
  };

  return {
    fetch(leader: LeaderEndpoint, request: ReplicaFetchRequest, signal: AbortSignal): Promise<ReplicaFetchResponse> {
      return new Promise((resolve, reject) => {
        if (signal.aborted) return reject(new ReplicaFetchStreamError('fetch aborted'));
        const address = `${leader.host}:${leader.port}`;
        const stream = streams.get(address) ?? open(address);
        const timer = setTimeout(() => {
          breakStream(stream, new ReplicaFetchStreamError(`leader ${address} did not answer a fetch within ${request.maxWaitMs + REPLICA_FETCH_STREAM_ANSWER_GRACE_MS} ms`));
        }, request.maxWaitMs + REPLICA_FETCH_STREAM_ANSWER_GRACE_MS);
        timer.unref();
        // The answers come in order, so one fetch cannot be withdrawn alone: aborting breaks the stream.
        const onAbort = (): void => breakStream(stream, new ReplicaFetchStreamError('fetch aborted'));
        signal.addEventListener('abort', onAbort, { once: true });
        stream.lastCorrelationId += 1;
        const correlationId = stream.lastCorrelationId;
        stream.waiters.push({ correlationId, resolve, reject, cleanup: () => { clearTimeout(timer); signal.removeEventListener('abort', onAbort); } });
        stream.call.write({ ...request, partitions: [...request.partitions], correlationId });
      });
    },
    close(): void {
      for (const stream of [...streams.values()]) breakStream(stream, new ReplicaFetchStreamError('transport closed'));
      for (const client of clients.values()) client.close();
      clients.clear();
    },
  };
}
