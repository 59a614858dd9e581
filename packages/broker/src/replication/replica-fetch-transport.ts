// The follower's port to a leader broker: one ReplicaFetch round trip. Domain types only; the gRPC
// adapter (adapters/grpc-replica-fetch-transport.ts) maps them to proto/tributary/internal/v1/replica.proto.
import type { ErrorCodeName } from '../errors.js';
import type { EpochEndOffset } from '../partition-log.js';

export interface ReplicaFetchPartitionRequest {
  readonly topic: string;
  readonly partition: number;
  readonly fetchOffset: number;
  /** -1 = the follower's log is empty. */
  readonly lastFetchedEpoch: number;
  readonly currentLeaderEpoch: number;
  readonly logStartOffset: number;
}

export interface ReplicaFetchRequest {
  readonly replicaId: number;
  readonly brokerEpoch: number;
  readonly clusterId: string;
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  /** 0 = no per-partition limit. */
  readonly partitionMaxBytes: number;
  readonly partitions: readonly ReplicaFetchPartitionRequest[];
}

export interface ReplicaFetchPartitionResponse {
  readonly topic: string;
  readonly partition: number;
  /** undefined = no error. */
  readonly error: { readonly code: ErrorCodeName; readonly message: string } | undefined;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly leaderEpoch: number;
  /** Whole batches starting at fetchOffset (owned by the receiver). */
  readonly records: Buffer;
  readonly divergingEpoch: EpochEndOffset | undefined;
}

export interface ReplicaFetchResponse {
  readonly error: { readonly code: ErrorCodeName; readonly message: string } | undefined;
  readonly partitions: readonly ReplicaFetchPartitionResponse[];
}

export interface LeaderEndpoint {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

export interface ReplicaFetchTransport {
  /** One fetch; rejects on transport failure or when `signal` aborts. */
  fetch(leader: LeaderEndpoint, request: ReplicaFetchRequest, signal: AbortSignal): Promise<ReplicaFetchResponse>;
  /** Releases connections. Idempotent. */
  close(): void;
}
