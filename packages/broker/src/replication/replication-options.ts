// What the cluster shell hands the ReplicaManager so it can replicate.
import type { AlterPartitionClient } from './alter-partition-client.js';
import type { ReplicationConfig } from './replication-config.js';
import type { ReplicaFetchTransport } from './replica-fetch-transport.js';

export interface ReplicationOptions {
  /** Sends ISR changes to the active controller. */
  readonly alterPartition: AlterPartitionClient;
  /** This broker's current registration epoch (-1 before it registered); sent with fetches and ISR changes. */
  readonly brokerEpoch: () => number;
  /** How a follower reaches a leader; defaults to gRPC (the Replica service) at the leader's advertised address. */
  readonly fetchTransport?: ReplicaFetchTransport;
  readonly config?: Partial<ReplicationConfig>;
}
