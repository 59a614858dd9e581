// ClusterMetadata: the broker's MetadataView read from the image its MetadataFollower keeps, and its
// MetadataCommands forwarded to the active controller (Quorum.Forward). Requests are validated here
// first (names, config keys and values: the broker owns those rules), and a command resolves only
// once this broker has applied the offset the change committed at, so a client that created a topic
// through this broker sees it in this broker's Metadata right away.
import { randomInt } from 'node:crypto';
import { INTERNAL_TOPIC_NAMES, placeReplicas } from '@tributary/controller';
import type { MetadataImage } from '@tributary/controller/metadata';
import { tributary } from '@tributary/protocol';
import { ApiError, type ErrorCodeName } from '../errors.js';
import type {
  AlterConfigOp, BrokerNode, CommandOptions, ControllerInfo, CreateTopicCommand, MetadataCommands, MetadataView, PartitionInfo, TopicInfo,
} from '../metadata-view.js';
import type { NodeConfig } from '../node-config.js';
import { validateTopicName } from '../topic-name.js';
import { isTopicConfigKey, validateTopicConfigOverrides } from '../topic-config.js';
import type { ControllerChannel } from './controller-channel.js';
import { toBrokerNodes, toTopicInfo } from './image-view.js';
import type { MetadataFollower } from './metadata-follower.js';

import v1 = tributary.v1;
import pb = tributary.internal.v1;

export interface ClusterMetadataOptions {
  readonly clusterId: string;
  readonly config: NodeConfig;
  readonly channel: ControllerChannel;
  readonly follower: MetadataFollower;
  /** This broker's registration epoch (-1 before registering). */
  readonly brokerEpoch: () => number;
}

interface ViewCache {
  readonly image: MetadataImage;
  readonly topics: readonly TopicInfo[];
  readonly byName: ReadonlyMap<string, TopicInfo>;
  readonly brokers: readonly BrokerNode[];
}

function throwIfError(error: v1.IError | null | undefined): void {
  const code = error?.code ?? v1.ErrorCode.NONE;
  if (code === v1.ErrorCode.NONE) return;
  throw new ApiError(v1.ErrorCode[code] as Exclude<ErrorCodeName, 'NONE'>, error?.message ?? '');
}

export class ClusterMetadata implements MetadataView, MetadataCommands {
  readonly clusterId: string;
  private cache: ViewCache | undefined;
  private producerIds = { next: 0, end: 0 };
  private producerIdsInFlight: Promise<void> | undefined;

  constructor(private readonly options: ClusterMetadataOptions) {
    this.clusterId = options.clusterId;
  }

  // ---- MetadataView ----

  private view(): ViewCache {
    const image = this.options.follower.image;
    if (this.cache !== undefined && this.cache.image === image) return this.cache;
    const topics = [...image.topicsById.values()].map((t) => toTopicInfo(image, t)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.cache = { image, topics, byName: new Map(topics.map((t) => [t.name, t])), brokers: toBrokerNodes(image) };
    return this.cache;
  }

  controller(): ControllerInfo {
    return this.options.follower.controller;
  }

  brokers(): readonly BrokerNode[] {
    return this.view().brokers;
  }

  topics(): readonly TopicInfo[] {
    return this.view().topics;
  }

  topic(name: string): TopicInfo | undefined {
    return this.view().byName.get(name);
  }

  partition(topic: string, partition: number): PartitionInfo | undefined {
    return this.topic(topic)?.partitions[partition];
  }

  producerIdsEnd(): number {
    return this.options.follower.image.nextProducerId;
  }

  // ---- MetadataCommands ----

  async createTopic(command: CreateTopicCommand): Promise<TopicInfo> {
    validateTopicName(command.name);
    const configs = validateTopicConfigOverrides(command.configs, this.options.config);
    const res = await this.forward({ createTopics: {
      topics: [{ name: command.name, numPartitions: command.numPartitions, replicationFactor: command.replicationFactor, configs: { ...configs } }],
      validateOnly: command.validateOnly,
    } }, command);
    const result = res.createTopics?.topics?.[0];
    throwIfError(result?.error);
    if (command.validateOnly) {
      const live = this.brokers().filter((b) => !b.fenced).map((b) => b.nodeId);
      const partitions = previewPlacement({
        topic: command.name, topicId: '', firstPartition: 0, count: result?.numPartitions ?? 0,
        replicationFactor: result?.replicationFactor ?? 0, liveBrokerIds: live,
      });
      return { name: command.name, topicId: '', internal: INTERNAL_TOPIC_NAMES.has(command.name), partitions, configs };
    }
    const topic = this.topic(command.name);
    if (topic === undefined) throw new ApiError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${command.name} was created but deleted again before this broker saw it`);
    return topic;
  }

  async deleteTopic(name: string, options: CommandOptions = {}): Promise<void> {
    const res = await this.forward({ deleteTopics: { names: [name] } }, options);
    throwIfError(res.deleteTopics?.topics?.[0]?.error);
  }

  async alterTopicConfigs(name: string, ops: readonly AlterConfigOp[], validateOnly: boolean, options: CommandOptions = {}): Promise<void> {
    const topic = this.topic(name);
    if (topic === undefined) throw new ApiError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    validateAlterConfigs(ops, this.options.config); // validates keys and values (throws INVALID_CONFIG)
    const res = await this.forward({ alterConfigs: {
      resources: [{
        resource: { type: v1.ConfigResourceType.TOPIC, name },
        configs: ops.map((o) => ({ name: o.name, value: o.value, op: o.op === 'DELETE' ? v1.AlterConfigOp.DELETE : v1.AlterConfigOp.SET })),
      }],
      validateOnly,
    } }, options);
    throwIfError(res.alterConfigs?.results?.[0]?.error);
  }

  async createPartitions(name: string, totalCount: number, validateOnly: boolean, options: CommandOptions = {}): Promise<void> {
    const res = await this.forward({ createPartitions: { topics: [{ name, count: totalCount }], validateOnly } }, options);
    throwIfError(res.createPartitions?.results?.[0]?.error);
  }

  /** Producer ids come from blocks the controller allocates; one block request at a time. */
  async allocateProducerId(): Promise<number> {
    while (this.producerIds.next >= this.producerIds.end) {
      this.producerIdsInFlight ??= this.fetchProducerIds().finally(() => {
        this.producerIdsInFlight = undefined;
      });
      await this.producerIdsInFlight;
    }
    return this.producerIds.next++;
  }

  private async fetchProducerIds(): Promise<void> {
    const { channel } = this.options;
    if (this.options.brokerEpoch() < 0) throw new ApiError('COORDINATOR_NOT_AVAILABLE', `broker ${this.options.config.nodeId} is not registered with the controller yet`);
    const res = await channel.call('allocateProducerIds', { clusterId: channel.clusterId, brokerId: this.options.config.nodeId, brokerEpoch: this.options.brokerEpoch() });
    throwIfError(res.error);
    // Hand out ids only once this broker's own metadata has the block: its partitions then accept them
    // at once (other brokers may lag a moment; the producer retries UNKNOWN_PRODUCER_ID for its own id).
    await this.options.follower.waitForOffset(Number(res.metadataOffset ?? 0), this.options.config.requestTimeoutMs);
    const first = Number(res.firstProducerId);
    this.producerIds = { next: first, end: first + res.size };
  }

  /**
   * Sends an admin request to the active controller and waits until this broker has applied it. With
   * the client's deadline the forward gives up by then (each attempt carries it as its gRPC deadline,
   * and the controller refuses to decide a request whose deadline passed): a request the client
   * abandoned and retried must not be carried out later — say, re-creating a topic deleted since.
   */
  private async forward(request: Omit<pb.IForwardRequest, 'clusterId' | 'brokerId' | 'requestId'>, options: CommandOptions = {}): Promise<pb.ForwardResponse> {
    const { channel, config } = this.options;
    const { deadlineMs } = options;
    const started = Date.now();
    const timeoutMs = deadlineMs === undefined ? config.requestTimeoutMs : Math.min(config.requestTimeoutMs, deadlineMs - started);
    if (timeoutMs <= 0) throw new ApiError('REQUEST_TIMED_OUT', 'the request\'s deadline passed before it could be forwarded to the controller');
    const res = await channel.call('forward', { ...request, clusterId: channel.clusterId, brokerId: config.nodeId, requestId: options.requestId ?? '' }, { timeoutMs });
    throwIfError(res.error);
    const remainingMs = Math.max(1, config.requestTimeoutMs - (Date.now() - started));
    await this.options.follower.waitForOffset(Number(res.metadataOffset), remainingMs);
    return res;
  }
}

/** Checks SET/DELETE ops on a topic's overrides: throws INVALID_CONFIG naming the bad key or value. */
function validateAlterConfigs(ops: readonly AlterConfigOp[], broker: NodeConfig): void {
  const sets: Record<string, string> = {};
  for (const op of ops) {
    if (op.op === 'SET') sets[op.name] = op.value;
    else if (!isTopicConfigKey(op.name)) throw new ApiError('INVALID_CONFIG', `unknown topic config ${JSON.stringify(op.name)}`);
  }
  validateTopicConfigOverrides(sets, broker);
}

/**
 * A validate-only CreateTopics answer's partitions: the controller's placement (Kafka's round-robin
 * with a random start; the first replica is the preferred leader) as initial states (epochs 0).
 */
function previewPlacement(args: {
  readonly topic: string;
  readonly topicId: string;
  readonly firstPartition: number;
  readonly count: number;
  readonly replicationFactor: number;
  readonly liveBrokerIds: readonly number[];
}): PartitionInfo[] {
  if (args.count === 0) return [];
  const assignments = placeReplicas({
    brokers: args.liveBrokerIds.map((brokerId) => ({ brokerId, rack: undefined })),
    partitions: args.count, replicationFactor: args.replicationFactor, firstPartition: args.firstPartition,
    random: { intn: (n) => randomInt(n) },
  });
  return assignments.map((replicas, i) => ({
    topic: args.topic, topicId: args.topicId, partition: args.firstPartition + i,
    leader: replicas[0] ?? -1, leaderEpoch: 0, partitionEpoch: 0, replicas, isr: replicas,
  }));
}
