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

export interface AlterPartitionClient {
  /**
   * Sends one request to the active controller and resolves when the change is committed in the
   * metadata log, or with the refusal. Never rejects: transport failures are error results.
   */
  alterPartition(request: AlterPartitionRequest): Promise<AlterPartitionResult>;
}
