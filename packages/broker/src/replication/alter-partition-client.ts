// The port through which a partition leader asks the active controller to change the ISR
// (DESIGN.md §4 AlterPartition). Owned by replication; the cluster shell implements it (cluster/grpc-alter-partition-client.ts)
// over the Quorum gRPC service. The controller commits the change with compare-and-set on
// partitionEpoch: a request built from a stale PartitionInfo is rejected and the leader waits for
// the newer metadata instead of retrying blindly.
import type { PartitionInfo } from '../metadata-view.js';

export interface AlterPartitionRequest {
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  /** The requesting leader; must equal the partition's current leader. */
  readonly leaderId: number;
  /** The requester's broker epoch (its registration); a stale one is rejected (STALE_BROKER_EPOCH). */
  readonly leaderBrokerEpoch: number;
  /** The leader epoch the leader acts under; must equal the controller's. */
  readonly leaderEpoch: number;
  /** The partitionEpoch the proposal was computed from (compare-and-set). */
  readonly partitionEpoch: number;
  /** The proposed ISR; always contains leaderId, every member is in replicas. */
  readonly newIsr: readonly number[];
  /**
   * The broker epoch each newIsr member's last fetch carried (KIP-903): the controller refuses
   * (INELIGIBLE_REPLICA) to add a member whose registration is newer — it restarted and may have
   * lost data. Optional: without it the controller checks only fencing.
   */
  readonly newIsrBrokerEpochs?: readonly { readonly brokerId: number; readonly brokerEpoch: number }[];
}

/**
 * Why the controller refused (Kafka's names). Only the first two are expected in normal operation:
 * - INVALID_UPDATE_VERSION: partitionEpoch is stale (someone else changed the partition first).
 * - FENCED_LEADER_EPOCH: the leader was replaced; the requester must wait for metadata.
 * - INELIGIBLE_REPLICA: a proposed member is fenced, shutting down or not a replica (KIP-841).
 * - STALE_BROKER_EPOCH: the leader's registration is stale.
 * - UNKNOWN_TOPIC_OR_PARTITION: the partition no longer exists.
 * - NOT_CONTROLLER / REQUEST_TIMED_OUT / NETWORK_EXCEPTION: transport or quorum trouble; retriable.
 */
export type AlterPartitionErrorCode =
  | 'INVALID_UPDATE_VERSION'
  | 'FENCED_LEADER_EPOCH'
  | 'INELIGIBLE_REPLICA'
  | 'STALE_BROKER_EPOCH'
  | 'UNKNOWN_TOPIC_OR_PARTITION'
  | 'NOT_CONTROLLER'
  | 'REQUEST_TIMED_OUT'
  | 'NETWORK_EXCEPTION';

export type AlterPartitionResult =
  /** Committed: the partition's state after the change (new partitionEpoch, the same leaderEpoch). */
  | { readonly ok: true; readonly partition: PartitionInfo }
  | { readonly ok: false; readonly error: AlterPartitionErrorCode; readonly message: string };

export interface AlterPartitionCallOptions {
  /**
   * The most the call may take, milliseconds (alterPartitionTimeoutMs): past it the call resolves with
   * REQUEST_TIMED_OUT (the leader retries later). The request may still commit meanwhile; the leader
   * then learns of it from metadata.
   */
  readonly timeoutMs: number;
}

export interface AlterPartitionClient {
  /**
   * Sends one request to the active controller and resolves when the change is committed in the
   * metadata log, or with the refusal, within options.timeoutMs. Never rejects: transport failures
   * and timeouts are error results.
   */
  alterPartition(request: AlterPartitionRequest, options: AlterPartitionCallOptions): Promise<AlterPartitionResult>;
}

/** `result`, or REQUEST_TIMED_OUT once `timeoutMs` has passed without it (the timer is unref'd and cleared). */
export function resultWithin(result: Promise<AlterPartitionResult>, timeoutMs: number): Promise<AlterPartitionResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<AlterPartitionResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, error: 'REQUEST_TIMED_OUT', message: 'AlterPartition timed out' }), timeoutMs);
    timer.unref();
  });
  return Promise.race([result, timeout]).finally(() => clearTimeout(timer));
}
