// The connection layer shared by Producer, Consumer and Admin: one gRPC channel per broker address
// (the Broker and Admin service clients share it), bootstrap from any listed broker, and a metadata
// cache (topics → partitions → leader + leaderEpoch) refreshed on demand (leadership errors), when older
// than `metadata.max.age.ms`, and never by more than one request at a time.
import * as grpc from '@grpc/grpc-js';
import { AdminClient, BrokerClient, flowControlChannelOptions, tributary } from '@tributary/protocol';
import type { CommonConfig } from './config.js';
import { ClientClosedError, ConnectionError, TributaryClientError, UnknownTopicOrPartitionError } from './errors.js';
import { errorName } from './wire-errors.js';
import type { Logger } from './logger.js';
import { backoffMs, isRetriableError } from './retry.js';
import { unary } from './rpc.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface BrokerNode {
  readonly nodeId: number;
  readonly address: string;
  readonly rack: string;
}

export interface PartitionInfo {
  readonly partition: number;
  /** -1 = no leader. */
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** Wire error code for this partition (0 = none). */
  readonly errorCode: number;
}

export interface TopicInfo {
  readonly name: string;
  readonly errorCode: number;
  readonly internal: boolean;
  /** Indexed by partition number. */
  readonly partitions: readonly PartitionInfo[];
}

const UNKNOWN_TOPIC_OR_PARTITION = tributary.v1.ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;

/** Pure metadata image built from Metadata responses. */
export class MetadataCache {
  clusterId = '';
  controllerId = -1;
  private brokers = new Map<number, BrokerNode>();
  private topics = new Map<string, TopicInfo>();
  private updatedMs = -Infinity;

  /**
   * Applies a response. `requestedTopics` undefined = the response lists all topics (forget the others).
   * `fallbackHost` replaces a wildcard advertised host (0.0.0.0, ::, empty).
   */
  update(response: tributary.v1.IMetadataResponse, nowMs: number, requestedTopics: readonly string[] | undefined, fallbackHost: string): void {
    this.clusterId = response.clusterId ?? '';
    this.controllerId = response.controllerId ?? -1;
    const brokers = new Map<number, BrokerNode>();
    for (const b of response.brokers ?? []) {
      const host = b.host === undefined || b.host === null || b.host === '' || b.host === '0.0.0.0' || b.host === '::' ? fallbackHost : b.host;
      brokers.set(b.nodeId ?? 0, { nodeId: b.nodeId ?? 0, address: formatAddress(host, b.port ?? 0), rack: b.rack ?? '' });
    }
    this.brokers = brokers;
    if (requestedTopics === undefined) this.topics = new Map();
    for (const t of response.topics ?? []) {
      const name = t.name ?? '';
      const partitions: PartitionInfo[] = [];
      for (const p of t.partitions ?? []) {
        partitions[p.partition ?? 0] = {
          partition: p.partition ?? 0,
          leaderId: p.leaderId ?? -1,
          leaderEpoch: p.leaderEpoch ?? -1,
          replicas: p.replicas ?? [],
          isr: p.isr ?? [],
          errorCode: p.error?.code ?? 0,
        };
      }
      this.topics.set(name, { name, errorCode: t.error?.code ?? 0, internal: t.internal ?? false, partitions });
    }
    this.updatedMs = nowMs;
  }

  topic(name: string): TopicInfo | undefined {
    return this.topics.get(name);
  }

  partition(topic: string, partition: number): PartitionInfo | undefined {
    return this.topics.get(topic)?.partitions[partition];
  }

  broker(nodeId: number): BrokerNode | undefined {
    return this.brokers.get(nodeId);
  }

  allBrokers(): BrokerNode[] {
    return [...this.brokers.values()];
  }

  ageMs(nowMs: number): number {
    return nowMs - this.updatedMs;
  }
}

export function formatAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The broker did not answer (unreachable, dropped, timed out), as opposed to answering with an error. */
function isConnectionLevel(error: unknown): boolean {
  return error instanceof ConnectionError || (error instanceof TributaryClientError && error.code === 'REQUEST_TIMED_OUT');
}

function hostOf(address: string): string {
  const i = address.lastIndexOf(':');
  const host = i < 0 ? address : address.slice(0, i);
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

interface Connection {
  readonly channel: grpc.Channel;
  readonly broker: BrokerClient;
  readonly admin: AdminClient;
}

/**
 * Channel options. Reconnect backoff follows `retry.backoff.ms`/`retry.backoff.max.ms`: grpc-js's own
 * default (1 s growing ×1.6 to 120 s) kept a channel to a broker that had been down for ten seconds in
 * backoff for many seconds more after the broker was back, and every call on it failed at once with
 * UNAVAILABLE meanwhile — chaos runs saw outages far longer than the faults.
 */
export function channelOptions(config: Pick<CommonConfig, 'retryBackoffMs' | 'retryBackoffMaxMs' | 'http2FlowControlWindowBytes'>): grpc.ChannelOptions {
  return {
    ...flowControlChannelOptions(config.http2FlowControlWindowBytes),
    // Size limits are the broker's (max.message.bytes) and the client's (max.request.size, fetch.max.bytes).
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
    'grpc.initial_reconnect_backoff_ms': Math.max(1, config.retryBackoffMs),
    'grpc.max_reconnect_backoff_ms': Math.max(1, config.retryBackoffMaxMs),
  };
}

/**
 * How long a broker address that failed at the connection level (unreachable, timed out) is tried
 * after the others by `onAnyBroker`, ms. Without it every metadata refresh while a broker is paused
 * (SIGSTOP) or cut off first waited a whole request.timeout.ms on that broker.
 */
export const ADDRESS_SUSPECT_MS = 10_000;
/** Addresses remembered as suspect at most (bootstrap + metadata brokers are few; a bound anyway). */
const SUSPECT_ADDRESSES_MAX = 1_024;

/**
 * Pure: `addresses` reordered so that those without a failure in the last ADDRESS_SUSPECT_MS come
 * first (in their given order), then the suspect ones, the longest-ago failure first.
 */
export function orderBySuspicion(addresses: readonly string[], failedAtMs: ReadonlyMap<string, number>, nowMs: number): string[] {
  const suspectSince = (a: string): number | undefined => {
    const t = failedAtMs.get(a);
    return t !== undefined && nowMs - t < ADDRESS_SUSPECT_MS ? t : undefined;
  };
  const healthy = addresses.filter((a) => suspectSince(a) === undefined);
  const suspect = addresses.filter((a) => suspectSince(a) !== undefined)
    .sort((a, b) => (suspectSince(a) as number) - (suspectSince(b) as number));
  return [...healthy, ...suspect];
}

export class Cluster {
  readonly metadata = new MetadataCache();
  private readonly connections = new Map<string, Connection>();
  /** Topics this client cares about; metadata requests ask for exactly these. */
  private readonly interest = new Set<string>();
  private readonly activeCalls = new Set<grpc.ClientUnaryCall>();
  /** address → when a call to it last failed at the connection level (see orderBySuspicion). */
  private readonly failedAtMs = new Map<string, number>();
  private refreshing: Promise<void> | undefined;
  private refreshRequested = false;
  private closed = false;

  constructor(readonly config: CommonConfig, private readonly logger: Logger, private readonly what: string) {}

  get isClosed(): boolean {
    return this.closed;
  }

  connection(address: string): Connection {
    if (this.closed) throw new ClientClosedError(this.what);
    let c = this.connections.get(address);
    if (c === undefined) {
      const channel = new grpc.Channel(address, grpc.credentials.createInsecure(), channelOptions(this.config));
      const options: grpc.ClientOptions = { channelOverride: channel };
      c = {
        channel,
        broker: new BrokerClient(address, grpc.credentials.createInsecure(), options),
        admin: new AdminClient(address, grpc.credentials.createInsecure(), options),
      };
      this.connections.set(address, c);
    }
    return c;
  }

  /** Address of node `nodeId` from metadata (undefined when unknown). */
  addressOf(nodeId: number): string | undefined {
    return this.metadata.broker(nodeId)?.address;
  }

  /**
   * Candidate addresses for a request any broker can answer: known brokers first, then bootstrap;
   * addresses that recently failed at the connection level go last.
   */
  anyAddresses(): string[] {
    const known = this.metadata.allBrokers().map((b) => b.address);
    return orderBySuspicion([...new Set([...known, ...this.config.bootstrapServers])], this.failedAtMs, Date.now());
  }

  /** Notes a connection-level failure (or a success, which clears it) of `address`. */
  noteAddress(address: string, ok: boolean): void {
    if (ok) {
      this.failedAtMs.delete(address);
      return;
    }
    this.failedAtMs.delete(address);
    if (this.failedAtMs.size >= SUSPECT_ADDRESSES_MAX) this.failedAtMs.delete(this.failedAtMs.keys().next().value as string);
    this.failedAtMs.set(address, Date.now());
  }

  /** Calls a Broker-service RPC on `address` with `request.timeout.ms` (or `timeoutMs`). */
  callBroker<Req, Res>(address: string, name: keyof BrokerClient & string, request: Req, timeoutMs = this.config.requestTimeoutMs): Promise<Res> {
    const client = this.connection(address).broker;
    return this.watched(address, unary<Req, Res>({ client, method: client[name] as never, request, timeoutMs, address, name, activeCalls: this.activeCalls }));
  }

  callAdmin<Req, Res>(address: string, name: keyof AdminClient & string, request: Req, timeoutMs = this.config.requestTimeoutMs): Promise<Res> {
    const client = this.connection(address).admin;
    return this.watched(address, unary<Req, Res>({ client, method: client[name] as never, request, timeoutMs, address, name, activeCalls: this.activeCalls }));
  }

  /** Every call's connection-level outcome feeds `onAnyBroker`'s order (a produce timing out on a paused leader, too). */
  private watched<T>(address: string, call: Promise<T>): Promise<T> {
    return call.then(
      (value) => {
        this.noteAddress(address, true);
        return value;
      },
      (error: unknown) => {
        if (isConnectionLevel(error)) this.noteAddress(address, false);
        throw error;
      },
    );
  }

  /**
   * Runs `op` against brokers in `anyAddresses()` order until one answers; connection-level failures
   * move on to the next address. Used for metadata and admin requests.
   */
  async onAnyBroker<T>(op: (address: string) => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (const address of this.anyAddresses()) {
      if (this.closed) throw new ClientClosedError(this.what);
      try {
        return await op(address);
      } catch (error) {
        if (!isConnectionLevel(error)) throw error;
        this.noteAddress(address, false);
        lastError = error;
      }
    }
    throw lastError ?? new ConnectionError(this.config.bootstrapServers.join(','));
  }

  addInterest(topics: Iterable<string>): boolean {
    let added = false;
    for (const t of topics) {
      if (!this.interest.has(t)) {
        this.interest.add(t);
        added = true;
      }
    }
    return added;
  }

  /** Marks metadata stale: the next `maybeRefresh` fetches it. */
  requestRefresh(): void {
    this.refreshRequested = true;
  }

  /** Refreshes when requested or older than `metadata.max.age.ms`. */
  async maybeRefresh(): Promise<void> {
    if (this.refreshRequested || this.metadata.ageMs(Date.now()) >= this.config.metadataMaxAgeMs) await this.refresh();
  }

  /** Fetches metadata for the interesting topics; concurrent callers share one request. */
  refresh(): Promise<void> {
    if (this.refreshing !== undefined) return this.refreshing;
    this.refreshRequested = false;
    const topics = [...this.interest];
    this.refreshing = this.onAnyBroker(async (address) => {
      const response = await this.callBroker<tributary.v1.IMetadataRequest, tributary.v1.MetadataResponse>(
        address, 'metadata', { topics, includeInternal: false });
      this.metadata.update(response, Date.now(), topics.length === 0 ? undefined : topics, hostOf(address));
      this.logger.debug({ component: 'client', topics, brokers: this.metadata.allBrokers().length }, 'metadata refreshed');
    }).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /**
   * Metadata of `topic`, refreshing until it has partitions or `maxWaitMs` passes. An unknown topic
   * is retried (it may have just been created) until the deadline, then UnknownTopicOrPartitionError.
   */
  async topicInfo(topic: string, maxWaitMs: number): Promise<TopicInfo> {
    const cached = this.metadata.topic(topic);
    if (cached !== undefined && cached.errorCode === 0 && cached.partitions.length > 0) return cached;
    this.addInterest([topic]);
    const deadlineMs = Date.now() + maxWaitMs;
    for (let attempt = 1; ; attempt++) {
      let lastError: unknown;
      try {
        await this.refresh();
      } catch (error) {
        if (!isRetriableError(error)) throw error;
        lastError = error;
      }
      const info = this.metadata.topic(topic);
      if (info !== undefined && info.errorCode === 0 && info.partitions.length > 0) return info;
      const wait = backoffMs(this.config, attempt, Math.random());
      if (Date.now() + wait >= deadlineMs || this.closed) {
        if (lastError !== undefined) throw lastError;
        if (info === undefined || info.errorCode === UNKNOWN_TOPIC_OR_PARTITION || info.partitions.length === 0) {
          throw new UnknownTopicOrPartitionError(topic);
        }
        throw new TributaryClientError(`metadata for ${topic}: ${errorName(info.errorCode)}`, { code: errorName(info.errorCode), retriable: true });
      }
      await sleep(wait);
    }
  }

  /** Cancels pending calls (they fail with ClientClosedError) and closes every channel; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const call of [...this.activeCalls]) call.cancel();
    this.activeCalls.clear();
    for (const c of this.connections.values()) {
      c.broker.close();
      c.admin.close();
      c.channel.close();
    }
    this.connections.clear();
  }
}
