// Single-node metadata: this node is the only broker and the (trivial) controller, leads every
// partition at leaderEpoch 0 with ISR = [self]. State is one JSON file in the data dir, rewritten
// atomically on every change; a change is applied to listeners only after it is durable.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '@tributary/storage';
import { ApiError, assert } from './errors.js';
import type {
  AlterConfigOp, BrokerNode, ControllerInfo, CreateTopicCommand, MetadataChange, MetadataCommands,
  MetadataListener, MetadataView, PartitionInfo, TopicInfo,
} from './metadata-view.js';
import type { NodeConfig, NodeRole } from './node-config.js';
import { planAlterConfigs, planCreatePartitions, planCreateTopic } from './topic-commands.js';

export const METADATA_DIR = '__cluster_metadata';
export const METADATA_FILE = 'metadata.json';
const METADATA_VERSION = 1;
/**
 * Producer ids are handed out from blocks; only the block's end is persisted, so a crash skips the
 * rest of a block instead of ever reusing an id.
 */
export const PRODUCER_ID_BLOCK_SIZE = 1000;

interface StoredTopic {
  readonly name: string;
  readonly topicId: string;
  readonly internal: boolean;
  readonly partitions: readonly Omit<PartitionInfo, 'topic' | 'topicId'>[];
  readonly configs: Readonly<Record<string, string>>;
}

interface StoredMetadata {
  readonly version: number;
  readonly topics: readonly StoredTopic[];
  /** Ids below this may have been handed out already. */
  readonly producerIdBlockEnd: number;
}

export interface LocalMetadataStoreOptions {
  readonly dataDir: string;
  readonly clusterId: string;
  readonly nodeId: number;
  readonly roles: readonly NodeRole[];
  readonly config: NodeConfig;
}

export class LocalMetadataStore implements MetadataView, MetadataCommands {
  readonly clusterId: string;
  private topicsByName = new Map<string, TopicInfo>();
  private self: BrokerNode;
  private readonly listeners: MetadataListener[] = [];
  /** Serializes mutations: each waits for the previous one's persist + apply. */
  private queue: Promise<unknown> = Promise.resolve();
  private nextProducerId = 0;
  private producerIdBlockEnd = 0;

  private constructor(private readonly options: LocalMetadataStoreOptions) {
    this.clusterId = options.clusterId;
    this.self = { nodeId: options.nodeId, host: '', port: 0, rack: undefined, roles: options.roles, fenced: false };
  }

  get path(): string {
    return join(this.options.dataDir, METADATA_DIR, METADATA_FILE);
  }

  static async open(options: LocalMetadataStoreOptions): Promise<LocalMetadataStore> {
    const store = new LocalMetadataStore(options);
    let text: string | undefined;
    try {
      text = await readFile(store.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== undefined) store.load(JSON.parse(text) as StoredMetadata);
    return store;
  }

  private load(stored: StoredMetadata): void {
    assert(stored.version === METADATA_VERSION, `unsupported metadata version ${stored.version} in ${this.path}`);
    for (const t of stored.topics) {
      const partitions = t.partitions.map((p) => ({ ...p, topic: t.name, topicId: t.topicId }));
      partitions.forEach((p, i) => assert(p.partition === i, `topic ${t.name}: partition ${p.partition} stored at index ${i}`));
      this.topicsByName.set(t.name, { name: t.name, topicId: t.topicId, internal: t.internal, partitions, configs: t.configs });
    }
    this.nextProducerId = stored.producerIdBlockEnd;
    this.producerIdBlockEnd = stored.producerIdBlockEnd;
  }

  /** Records the address clients reach this node at (known only after the server is bound). */
  setAdvertisedAddress(host: string, port: number): void {
    this.self = { ...this.self, host, port };
  }

  /** Listeners run after each change is durable; a mutation resolves after all of them. */
  subscribe(listener: MetadataListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  // ---- MetadataView ----

  controller(): ControllerInfo {
    return { leaderId: this.options.nodeId, term: 0 };
  }

  brokers(): readonly BrokerNode[] {
    return [this.self];
  }

  topics(): readonly TopicInfo[] {
    return [...this.topicsByName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  topic(name: string): TopicInfo | undefined {
    return this.topicsByName.get(name);
  }

  partition(topic: string, partition: number): PartitionInfo | undefined {
    return this.topicsByName.get(topic)?.partitions[partition];
  }

  // ---- MetadataCommands ----

  createTopic(command: CreateTopicCommand): Promise<TopicInfo> {
    return this.mutate(() => {
      const topic = planCreateTopic(this, command, { broker: this.options.config, liveBrokerIds: this.liveBrokerIds(), topicId: randomUUID() });
      if (command.validateOnly) return { result: topic };
      this.topicsByName.set(topic.name, topic);
      return { result: topic, change: { type: 'topicCreated', topic } };
    });
  }

  deleteTopic(name: string): Promise<void> {
    return this.mutate(() => {
      const topic = this.requireTopic(name);
      this.topicsByName.delete(name);
      return { result: undefined, change: { type: 'topicDeleted', topic } };
    });
  }

  alterTopicConfigs(name: string, ops: readonly AlterConfigOp[], validateOnly: boolean): Promise<void> {
    return this.mutate(() => {
      const topic = this.requireTopic(name);
      const configs = planAlterConfigs(topic, ops);
      if (validateOnly) return { result: undefined };
      const next = { ...topic, configs };
      this.topicsByName.set(name, next);
      return { result: undefined, change: { type: 'configsChanged', topic: next } };
    });
  }

  createPartitions(name: string, totalCount: number, validateOnly: boolean): Promise<void> {
    return this.mutate(() => {
      const topic = this.requireTopic(name);
      const added = planCreatePartitions(topic, totalCount, this.liveBrokerIds());
      if (validateOnly) return { result: undefined };
      const next = { ...topic, partitions: [...topic.partitions, ...added] };
      this.topicsByName.set(name, next);
      return { result: undefined, change: { type: 'partitionsAdded', topic: next, partitions: added } };
    });
  }

  producerIdsEnd(): number {
    return this.producerIdBlockEnd;
  }

  allocateProducerId(): Promise<number> {
    return this.mutate(() => {
      const id = this.nextProducerId;
      this.nextProducerId += 1;
      if (id < this.producerIdBlockEnd) return { result: id, persist: false };
      this.producerIdBlockEnd = id + PRODUCER_ID_BLOCK_SIZE;
      return { result: id };
    });
  }

  private liveBrokerIds(): number[] {
    return this.brokers().filter((b) => !b.fenced).map((b) => b.nodeId);
  }

  private requireTopic(name: string): TopicInfo {
    const topic = this.topicsByName.get(name);
    if (topic === undefined) throw new ApiError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
    return topic;
  }

  /**
   * Runs `apply` (synchronous: decides and updates the in-memory image), then persists and tells
   * listeners. If persisting fails the in-memory image is restored and the error propagates.
   */
  private mutate<T>(apply: () => { result: T; change?: MetadataChange; persist?: boolean }): Promise<T> {
    const run = async (): Promise<T> => {
      const before = new Map(this.topicsByName);
      const blockEndBefore = this.producerIdBlockEnd;
      const outcome = apply();
      const mustPersist = outcome.change !== undefined || (outcome.persist ?? true) && this.producerIdBlockEnd !== blockEndBefore;
      if (mustPersist) {
        try {
          await this.persist();
        } catch (err) {
          this.topicsByName = before;
          this.producerIdBlockEnd = blockEndBefore;
          throw err;
        }
      }
      if (outcome.change !== undefined) {
        for (const listener of [...this.listeners]) await listener(outcome.change);
      }
      return outcome.result;
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async persist(): Promise<void> {
    const stored: StoredMetadata = {
      version: METADATA_VERSION,
      producerIdBlockEnd: this.producerIdBlockEnd,
      topics: this.topics().map((t) => ({
        name: t.name, topicId: t.topicId, internal: t.internal, configs: t.configs,
        partitions: t.partitions.map(({ topic: _t, topicId: _id, ...rest }) => rest),
      })),
    };
    await mkdir(dirname(this.path), { recursive: true });
    await writeFileAtomic(this.path, JSON.stringify(stored, null, 1));
  }
}
