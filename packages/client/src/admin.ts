// Admin: the tributary.v1.Admin service (topics, configs, partitions, cluster) plus listOffsets.
// Requests go to any broker (it forwards to the active controller); retriable failures (connection
// loss, NOT_CONTROLLER, ...) are retried until `default.api.timeout.ms`. Per-item broker errors are
// thrown typed (errorFromWire); when several items fail, as one AdminBatchError listing each.
import { randomUUID } from 'node:crypto';
import { tributary } from '@tributary/protocol';
import { Cluster } from './cluster.js';
import { parseAdminConfig, type AdminConfig, type AdminOptions, type IsolationLevel } from './config.js';
import { AdminBatchError, ClientClosedError, TributaryClientError, errorFromWire } from './errors.js';
import { listOffsets, type ListedOffset, type ListOffsetsRequest } from './list-offsets.js';
import { SILENT_LOGGER, type ClientRuntimeOptions, type Logger } from './logger.js';
import { withRetries } from './retry.js';
import {
  TransactionAdmin, type AbortTransactionSpec, type ListTransactionsFilters, type PartitionProducers, type TransactionDescription, type TransactionListing,
} from './transaction-admin.js';

export interface NewTopic {
  readonly topic: string;
  /** Default: the broker's num.partitions. */
  readonly numPartitions?: number;
  /** Default: the broker's default.replication.factor. */
  readonly replicationFactor?: number;
  readonly configs?: Readonly<Record<string, string>>;
}

export interface CreatedTopic {
  readonly topic: string;
  readonly topicId: string;
  readonly numPartitions: number;
  readonly replicationFactor: number;
  /** False when it already existed and `ifNotExists` was set (or with validateOnly). */
  readonly created: boolean;
}

export interface TopicListing {
  readonly name: string;
  readonly topicId: string;
  readonly internal: boolean;
  readonly numPartitions: number;
  readonly replicationFactor: number;
}

export interface PartitionDescription {
  readonly partition: number;
  readonly leader: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly offlineReplicas: readonly number[];
  readonly leaderEpoch: number;
  readonly logStartOffset: number;
  readonly highWatermark: number;
  readonly logEndOffset: number;
}

export interface ConfigEntry {
  readonly name: string;
  readonly value: string;
  readonly isDefault: boolean;
  readonly readOnly: boolean;
  readonly isSensitive: boolean;
}

export interface TopicDescription {
  readonly name: string;
  readonly topicId: string;
  readonly internal: boolean;
  readonly partitions: readonly PartitionDescription[];
  /** name → value. */
  readonly configs: Readonly<Record<string, string>>;
  readonly configEntries: readonly ConfigEntry[];
}

export type ConfigResourceType = 'topic' | 'broker';

export interface ConfigResource {
  readonly type: ConfigResourceType;
  /** Topic name, or broker id as a string. */
  readonly name: string;
}

export interface ResourceConfigs {
  readonly resource: ConfigResource;
  readonly configs: readonly ConfigEntry[];
}

export interface AlterConfigsEntry {
  readonly resource: ConfigResource;
  readonly configs: readonly ({ readonly name: string; readonly value: string; readonly op?: 'set' } | { readonly name: string; readonly op: 'delete' })[];
}

export interface ClusterDescription {
  readonly clusterId: string;
  readonly controller: { readonly leaderId: number; readonly term: number };
  readonly nodes: readonly { readonly id: number; readonly roles: readonly string[]; readonly address: string; readonly fenced: boolean; readonly rack: string }[];
  /** Controller voters the active controller has not heard from for two election timeouts. */
  readonly unreachableControllerVoters: readonly number[];
}

const { ErrorCode } = tributary.v1;

function toWireResource(r: ConfigResource): tributary.v1.IConfigResource {
  return { type: r.type === 'broker' ? tributary.v1.ConfigResourceType.BROKER : tributary.v1.ConfigResourceType.TOPIC, name: r.name };
}

function fromWireResource(r: tributary.v1.IConfigResource | null | undefined): ConfigResource {
  return { type: r?.type === tributary.v1.ConfigResourceType.BROKER ? 'broker' : 'topic', name: r?.name ?? '' };
}

const str = (v: string | null | undefined): string => v ?? '';
const num = (v: number | null | undefined): number => Number(v ?? 0);
const bool = (v: boolean | null | undefined): boolean => v ?? false;
const ints = (v: number[] | null | undefined): number[] => v ?? [];
const code = (e: tributary.v1.IError | null | undefined): number => e?.code ?? 0;

function configEntry(c: tributary.v1.IConfigEntry): ConfigEntry {
  return { name: c.name ?? '', value: c.value ?? '', isDefault: c.isDefault ?? false, readOnly: c.readOnly ?? false, isSensitive: c.isSensitive ?? false };
}

/** Throws the failures of a per-item response: one typed error, or an AdminBatchError for several. */
function throwFailures(operation: string, failures: { name: string; error: TributaryClientError }[]): void {
  if (failures.length === 1) throw failures[0]!.error;
  if (failures.length > 1) throw new AdminBatchError(operation, failures);
}

export class Admin {
  readonly config: AdminConfig;
  private readonly logger: Logger;
  private readonly cluster: Cluster;
  private readonly transactions: TransactionAdmin;
  private closed = false;

  constructor(options: AdminOptions = {}, runtime: ClientRuntimeOptions = {}) {
    this.config = parseAdminConfig(options);
    this.logger = runtime.logger ?? SILENT_LOGGER;
    this.cluster = new Cluster(this.config, this.logger, 'admin');
    this.transactions = new TransactionAdmin(this.cluster, this.config);
  }

  // ---- transactions (transaction-admin.ts) ----

  /** Transactional ids known to the coordinators, optionally filtered by state, producer id or age. */
  listTransactions(filters: ListTransactionsFilters = {}): Promise<TransactionListing[]> {
    return this.transactions.listTransactions(filters);
  }

  /** Each id's state, producer id/epoch, timeout, start time and partitions, from its coordinator. */
  describeTransactions(transactionalIds: readonly string[]): Promise<TransactionDescription[]> {
    return this.transactions.describeTransactions(transactionalIds);
  }

  /** The producers with state on each partition (open transactions show their first offset). */
  describeProducers(tps: readonly { readonly topic: string; readonly partition: number }[]): Promise<PartitionProducers[]> {
    return this.transactions.describeProducers(tps);
  }

  /** Aborts a producer's open (hanging) transaction on one partition by writing an ABORT marker there. */
  abortTransaction(spec: AbortTransactionSpec): Promise<void> {
    return this.transactions.abortTransaction(spec);
  }

  async createTopics(topics: readonly NewTopic[], options: { validateOnly?: boolean; ifNotExists?: boolean } = {}): Promise<CreatedTopic[]> {
    const response = await this.call<tributary.v1.ICreateTopicsRequest, tributary.v1.CreateTopicsResponse>('createTopics', {
      topics: topics.map((t) => ({
        name: t.topic, numPartitions: t.numPartitions ?? -1, replicationFactor: t.replicationFactor ?? -1, configs: { ...(t.configs ?? {}) },
      })),
      validateOnly: options.validateOnly ?? false,
      timeoutMs: this.config.requestTimeoutMs,
      requestId: randomUUID(), // every retry of this call carries it: applied at most once
    });
    const failures: { name: string; error: TributaryClientError }[] = [];
    const created: CreatedTopic[] = [];
    for (const r of response.topics) {
      const c = code(r.error);
      const name = str(r.name);
      const base = { topic: name, topicId: str(r.topicId), numPartitions: num(r.numPartitions), replicationFactor: num(r.replicationFactor) };
      if (c === ErrorCode.TOPIC_ALREADY_EXISTS && options.ifNotExists === true) {
        created.push({ ...base, created: false });
      } else if (c !== 0) {
        failures.push({ name, error: errorFromWire(c, str(r.error?.message), { topic: name, context: `create topic ${name}` }) });
      } else {
        created.push({ ...base, created: options.validateOnly !== true });
      }
    }
    throwFailures('createTopics', failures);
    return created;
  }

  async deleteTopics(names: readonly string[]): Promise<void> {
    const response = await this.call<tributary.v1.IDeleteTopicsRequest, tributary.v1.DeleteTopicsResponse>('deleteTopics', {
      names: [...names], timeoutMs: this.config.requestTimeoutMs, requestId: randomUUID(),
    });
    throwFailures('deleteTopics', response.topics.filter((r) => code(r.error) !== 0).map((r) => ({
      name: str(r.name), error: errorFromWire(code(r.error), str(r.error?.message), { topic: str(r.name), context: `delete topic ${str(r.name)}` }),
    })));
  }

  async listTopics(options: { includeInternal?: boolean } = {}): Promise<TopicListing[]> {
    const response = await this.call<tributary.v1.IListTopicsRequest, tributary.v1.ListTopicsResponse>('listTopics', {
      includeInternal: options.includeInternal ?? false,
    });
    return response.topics.map((t) => ({
      name: str(t.name), topicId: str(t.topicId), internal: bool(t.internal), numPartitions: num(t.numPartitions), replicationFactor: num(t.replicationFactor),
    })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async describeTopics(names: readonly string[]): Promise<TopicDescription[]> {
    const response = await this.call<tributary.v1.IDescribeTopicsRequest, tributary.v1.DescribeTopicsResponse>('describeTopics', { names: [...names] });
    const failures: { name: string; error: TributaryClientError }[] = [];
    const out: TopicDescription[] = [];
    for (const t of response.topics) {
      const c = code(t.error);
      const name = str(t.name);
      if (c !== 0) {
        failures.push({ name, error: errorFromWire(c, str(t.error?.message), { topic: name, context: `describe topic ${name}` }) });
        continue;
      }
      const configEntries = (t.configs ?? []).map(configEntry);
      out.push({
        name,
        topicId: str(t.topicId),
        internal: bool(t.internal),
        partitions: (t.partitions ?? []).map((p) => ({
          partition: num(p.partition),
          leader: p.leader ?? -1,
          replicas: ints(p.replicas),
          isr: ints(p.isr),
          offlineReplicas: ints(p.offlineReplicas),
          leaderEpoch: num(p.leaderEpoch),
          logStartOffset: num(p.logStartOffset),
          highWatermark: num(p.highWatermark),
          logEndOffset: num(p.logEndOffset),
        })).sort((a, b) => a.partition - b.partition),
        configs: Object.fromEntries(configEntries.map((c) => [c.name, c.value])),
        configEntries,
      });
    }
    throwFailures('describeTopics', failures);
    return out;
  }

  async describeConfigs(resources: readonly ConfigResource[]): Promise<ResourceConfigs[]> {
    const response = await this.call<tributary.v1.IDescribeConfigsRequest, tributary.v1.DescribeConfigsResponse>('describeConfigs', {
      resources: resources.map(toWireResource),
    });
    const failures: { name: string; error: TributaryClientError }[] = [];
    const out: ResourceConfigs[] = [];
    for (const r of response.results) {
      const resource = fromWireResource(r.resource);
      const c = code(r.error);
      if (c !== 0) {
        failures.push({ name: resource.name, error: errorFromWire(c, str(r.error?.message), { topic: resource.name, context: `describe configs of ${resource.type} ${resource.name}` }) });
      } else {
        out.push({ resource, configs: (r.configs ?? []).map(configEntry) });
      }
    }
    throwFailures('describeConfigs', failures);
    return out;
  }

  /** Sets or deletes (back to default) config entries; other entries are left alone (incremental). */
  async alterConfigs(entries: readonly AlterConfigsEntry[], options: { validateOnly?: boolean } = {}): Promise<void> {
    const response = await this.call<tributary.v1.IAlterConfigsRequest, tributary.v1.AlterConfigsResponse>('alterConfigs', {
      resources: entries.map((e) => ({
        resource: toWireResource(e.resource),
        configs: e.configs.map((c) => c.op === 'delete'
          ? { name: c.name, value: '', op: tributary.v1.AlterConfigOp.DELETE }
          : { name: c.name, value: c.value, op: tributary.v1.AlterConfigOp.SET }),
      })),
      validateOnly: options.validateOnly ?? false,
      requestId: randomUUID(),
    });
    throwFailures('alterConfigs', response.results.filter((r) => code(r.error) !== 0).map((r) => {
      const resource = fromWireResource(r.resource);
      return { name: resource.name, error: errorFromWire(code(r.error), str(r.error?.message), { topic: resource.name, context: `alter configs of ${resource.type} ${resource.name}` }) };
    }));
  }

  /** Grows topics to `count` partitions in total. */
  async createPartitions(topics: readonly { readonly topic: string; readonly count: number }[], options: { validateOnly?: boolean } = {}): Promise<void> {
    const response = await this.call<tributary.v1.ICreatePartitionsRequest, tributary.v1.CreatePartitionsResponse>('createPartitions', {
      topics: topics.map((t) => ({ name: t.topic, count: t.count })),
      validateOnly: options.validateOnly ?? false,
      requestId: randomUUID(),
    });
    throwFailures('createPartitions', response.results.filter((r) => code(r.error) !== 0).map((r) => ({
      name: str(r.name), error: errorFromWire(code(r.error), str(r.error?.message), { topic: str(r.name), context: `create partitions of ${str(r.name)}` }),
    })));
  }

  async describeCluster(): Promise<ClusterDescription> {
    const r = await this.call<tributary.v1.IDescribeClusterRequest, tributary.v1.DescribeClusterResponse>('describeCluster', {});
    const c = code(r.error);
    if (c !== 0) throw errorFromWire(c, str(r.error?.message), { context: 'describe cluster' });
    return {
      clusterId: r.clusterId,
      controller: { leaderId: r.controllerLeaderId, term: Number(r.controllerTerm) },
      nodes: r.nodes.map((n) => ({ id: num(n.id), roles: n.roles ?? [], address: str(n.address), fenced: bool(n.fenced), rack: str(n.rack) })),
      unreachableControllerVoters: (r.unreachableControllerVoters ?? []).map(num),
    };
  }

  /** Offsets by spec ('earliest' = log start, 'latest' = high watermark, {timestamp}, 'max-timestamp') from the leaders. */
  listOffsets(requests: readonly ListOffsetsRequest[], options: { isolationLevel?: IsolationLevel } = {}): Promise<ListedOffset[]> {
    if (this.closed) return Promise.reject(new ClientClosedError('admin'));
    return listOffsets(this.cluster, requests, { isolationLevel: options.isolationLevel ?? 'read_uncommitted', timeoutMs: this.config.defaultApiTimeoutMs });
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cluster.close();
    this.logger.debug({ component: 'admin' }, 'admin closed');
  }

  private call<Req, Res>(name: 'createTopics' | 'deleteTopics' | 'listTopics' | 'describeTopics' | 'describeConfigs' | 'alterConfigs' | 'createPartitions' | 'describeCluster', request: Req): Promise<Res> {
    if (this.closed) return Promise.reject(new ClientClosedError('admin'));
    return withRetries({
      op: () => this.cluster.onAnyBroker((address) => this.cluster.callAdmin<Req, Res>(address, name, request)),
      policy: { retries: Number.MAX_SAFE_INTEGER, retryBackoffMs: this.config.retryBackoffMs, retryBackoffMaxMs: this.config.retryBackoffMaxMs },
      deadlineMs: Date.now() + this.config.defaultApiTimeoutMs,
      isClosed: () => this.closed,
    });
  }
}
