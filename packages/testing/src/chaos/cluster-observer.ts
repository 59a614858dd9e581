// Out-of-band eyes on the cluster for the nemesis and the checker: asks one node at a time, over
// raw gRPC channels that bypass the fault proxy ('grpc.enable_http_proxy': 0), what it believes
// (partition leaders, epochs, ISR, the active controller). A partition of the clients never blinds
// the nemesis, and each observation is one node's view, which is what the checker compares.
import * as grpc from '@grpc/grpc-js';
import { AdminClient, BrokerClient, GroupsClient, tributary } from '@tributary/protocol';
import type { MetadataObservation, PartitionObservation } from './history.js';

export const DEFAULT_OBSERVE_TIMEOUT_MS = 1_500;

const CHANNEL_OPTIONS: grpc.ChannelOptions = { 'grpc.enable_http_proxy': 0 };

export class ClusterObserver {
  private readonly brokers = new Map<number, InstanceType<typeof BrokerClient>>();
  private readonly admins = new Map<number, InstanceType<typeof AdminClient>>();
  private readonly groups = new Map<number, InstanceType<typeof GroupsClient>>();

  /** `addresses`: node id → real host:port (not the proxy). */
  constructor(private readonly addresses: ReadonlyMap<number, string>, private readonly timeoutMs = DEFAULT_OBSERVE_TIMEOUT_MS) {}

  /** Node `nodeId`'s view of every topic. Rejects when it does not answer within the timeout. */
  metadata(nodeId: number): Promise<MetadataObservation> {
    const client = this.broker(nodeId);
    return new Promise((resolve, reject) => {
      client.metadata({ topics: [] }, { deadline: Date.now() + this.timeoutMs }, (error, response) => {
        if (error !== null || response === undefined) return reject(error ?? new Error('no response'));
        resolve(toObservation(response));
      });
    });
  }

  /** The active controller's id as node `nodeId` reports it (-1 when it knows none). */
  controllerId(nodeId: number): Promise<number> {
    const client = this.admin(nodeId);
    return new Promise((resolve, reject) => {
      client.describeCluster({}, { deadline: Date.now() + this.timeoutMs }, (error, response) => {
        if (error !== null || response === undefined) return reject(error ?? new Error('no response'));
        resolve(response.controllerLeaderId ?? -1);
      });
    });
  }

  /**
   * The coordinator of a group or transactional id as node `nodeId` answers FindCoordinator; rejects
   * on an error answer (COORDINATOR_NOT_AVAILABLE while `__transaction_state` has no leader, …).
   */
  coordinator(nodeId: number, key: string, keyType: 'group' | 'transaction'): Promise<number> {
    let client = this.groups.get(nodeId);
    if (client === undefined) {
      client = new GroupsClient(this.address(nodeId), grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
      this.groups.set(nodeId, client);
    }
    const type = keyType === 'group' ? tributary.v1.CoordinatorType.GROUP : tributary.v1.CoordinatorType.TRANSACTION;
    return new Promise((resolve, reject) => {
      client.findCoordinator({ groupId: key, keyType: type }, { deadline: Date.now() + this.timeoutMs }, (error, response) => {
        if (error !== null || response === undefined) return reject(error ?? new Error('no response'));
        const code = response.error?.code ?? 0;
        if (code !== 0 || (response.nodeId ?? -1) < 0) return reject(new Error(`FindCoordinator: error ${code}`));
        resolve(response.nodeId ?? -1);
      });
    });
  }

  /** First answer among `nodeIds` (in order); undefined when none answers. */
  async firstAnswer<T>(nodeIds: readonly number[], ask: (nodeId: number) => Promise<T>): Promise<{ nodeId: number; value: T } | undefined> {
    for (const nodeId of nodeIds) {
      try {
        return { nodeId, value: await ask(nodeId) };
      } catch {
        // try the next node
      }
    }
    return undefined;
  }

  close(): void {
    for (const client of [...this.brokers.values(), ...this.admins.values(), ...this.groups.values()]) client.close();
    this.brokers.clear();
    this.admins.clear();
    this.groups.clear();
  }

  private address(nodeId: number): string {
    const address = this.addresses.get(nodeId);
    if (address === undefined) throw new Error(`unknown node ${nodeId}`);
    return address;
  }

  private broker(nodeId: number): InstanceType<typeof BrokerClient> {
    let client = this.brokers.get(nodeId);
    if (client === undefined) {
      client = new BrokerClient(this.address(nodeId), grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
      this.brokers.set(nodeId, client);
    }
    return client;
  }

  private admin(nodeId: number): InstanceType<typeof AdminClient> {
    let client = this.admins.get(nodeId);
    if (client === undefined) {
      client = new AdminClient(this.address(nodeId), grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
      this.admins.set(nodeId, client);
    }
    return client;
  }
}

export function toObservation(response: tributary.v1.IMetadataResponse): MetadataObservation {
  const partitions: PartitionObservation[] = [];
  const topics: string[] = [];
  for (const topic of response.topics ?? []) {
    const name = topic.name ?? '';
    if (topic.error !== null && topic.error !== undefined && (topic.error.code ?? 0) !== 0) continue;
    topics.push(name);
    for (const p of topic.partitions ?? []) {
      partitions.push({
        topic: name,
        partition: p.partition ?? 0,
        leader: p.leaderId ?? -1,
        leaderEpoch: p.leaderEpoch ?? 0,
        replicas: [...(p.replicas ?? [])],
        isr: [...(p.isr ?? [])],
      });
    }
  }
  return { partitions, topics, controllerId: response.controllerId ?? -1 };
}
