// Hosts this node's partition replicas: opens their logs on start, creates/deletes them as metadata
// changes, and wakes parked requests when a high watermark moves. Logs live in
// `<data.dir>/<topic>-<partition>`, each with a `partition.metadata` file naming its topic id.
//
// Data is deleted only on a committed deletion (the topic deleted, the replica moved away: the
// storage renames the directory to `<topic>-<partition>.<32 hex>-delete`, then removes it; a crash in
// between leaves that name, removed at the next start). A log the metadata merely does not know —
// a directory of a partition not assigned here found at startup, or one whose partition.metadata
// names another topic id (a deleted namesake) — is a *stray*: renamed to
// `<topic>-<partition>.<32 hex>-stray` and kept for the operator (KIP-858), never deleted. Both
// suffixes end in a letter, so they can never be taken for a partition directory (`-<digits>`), and
// the random part makes two renames of one partition distinct.
//
// A log that cannot open, or fails on an I/O error while open, takes only its replica offline (Kafka's
// offline log directories, per partition): the node keeps serving everything else, answers
// KAFKA_STORAGE_ERROR for that partition, reports it to the controller (which moves its leadership
// and ISR membership away) and never touches its files again in this run — not even to delete them.
// A run with an offline replica never ends in a clean shutdown.
import type { TxnMarkerListener, TxnMarkerWritten, TxnVerifier } from './transactions/txn-ports.js';
import { AssertionError } from 'node:assert';
import { mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isSetAsideDirName, setAsideDirPath, writeFileAtomic } from '@tributary/storage';
import type { Logger } from 'pino';
import { ChangeNotifier, logEndOffsetKey, partitionKey } from './change-notifier.js';
import { ApiError } from './errors.js';
import type { MetadataChange, MetadataView, PartitionInfo } from './metadata-view.js';
import type { NodeConfig } from './node-config.js';
import { Partition, type TxnMarkerInput } from './partition.js';
import type { LogFactory } from './partition-log.js';
import { resolveTopicConfig } from './topic-config.js';
import type { ReplicationOptions } from './replication/replication-options.js';
import type { ReplicationConfig } from './replication/replication-config.js';
import { replicationConfig } from './component-configs.js';
import { ReplicaFetcherManager } from './replication/replica-fetcher.js';
import { grpcReplicaFetchTransport } from './adapters/grpc-replica-fetch-transport.js';
import { grpcReplicaFetchStreamTransport } from './adapters/grpc-replica-fetch-stream-transport.js';
import type { PartitionReplication } from './partition.js';
import { FileProducerStateStore } from './adapters/file-producer-state-store.js';

const PARTITION_DIR = /^(.+)-(\d+)$/;
export const STRAY_SUFFIX = '-stray';
/** Kafka's name and format: `version: 0` and `topic_id: <id>` lines. */
export const PARTITION_METADATA_FILE = 'partition.metadata';

/** What startup does with a directory of a partition the metadata does not assign to this node. */
export type StrayPolicy =
  /** The image is complete (it includes this broker's own registration, or is the local store): rename it. */
  | 'rename'
  /** The image may not be complete (no registration of ours in it): only report it. */
  | 'report';

/** `<dir>.<32 hex>-stray` (the `<topic>-<partition>` part cut short if the name would be too long). */
export function strayDirName(dir: string): string {
  return setAsideDirPath(dir, 'stray');
}

export interface ReplicaManagerOptions {
  readonly nodeId: number;
  readonly config: NodeConfig;
  readonly metadata: MetadataView;
  readonly openLog: LogFactory;
  readonly notifier: ChangeNotifier;
  readonly logger: Logger;
  /** The clock, milliseconds since the epoch (ISR lag, producer expiry). */
  readonly nowMs: () => number;
  /** Cluster mode: replicate with other brokers. Absent on a single node (ISR = [self]). */
  readonly replication?: ReplicationOptions;
  /** A replica went offline (its log failed): e.g. heartbeat now rather than at the next interval. */
  readonly onReplicaOffline?: () => void;
  /**
   * Asks a producer's transaction coordinator whether a partition is in its ongoing transaction
   * (transactions/txn-ports.ts). node.ts passes the coordinator's; absent, transactional batches are
   * refused.
   */
  readonly txnVerifier?: TxnVerifier;
}

/** A hosted replica whose log failed on an I/O error or could not open; offline until the node restarts. */
export interface OfflineReplica {
  readonly topic: string;
  readonly partition: number;
  /** The error, for operators. */
  readonly reason: string;
}

/** A partition that no longer exists (its topic was deleted). */
export interface DeletedPartition {
  readonly topic: string;
  readonly partition: number;
}

export class ReplicaManager {
  private readonly partitions = new Map<string, Partition>();
  /** By partitionKey; never removed in this run (the files stay untouched until a restart). */
  private readonly offline = new Map<string, OfflineReplica>();
  private closed = false;
  private readonly replicationConfig: ReplicationConfig | undefined;
  private readonly fetchers: ReplicaFetcherManager | undefined;
  private isrTimer: NodeJS.Timeout | undefined;
  private readonly nowMs: () => number;
  private readonly txnMarkerListeners = new Set<TxnMarkerListener>();

  constructor(private readonly options: ReplicaManagerOptions) {
    this.nowMs = options.nowMs;
    const replication = options.replication;
    if (replication !== undefined) {
      // The node's replica.* keys, unless the caller (a test) passes its own.
      const config = replicationConfig(options.config, replication.config);
      this.replicationConfig = config;
      this.fetchers = new ReplicaFetcherManager({
        nodeId: options.nodeId, clusterId: () => options.metadata.clusterId, brokerEpoch: replication.brokerEpoch,
        transport: replication.fetchTransport ?? (config.replicaFetchStreamEnable ? grpcReplicaFetchStreamTransport : grpcReplicaFetchTransport)({
          maxReceiveBytes: config.replicaFetchResponseMaxBytes + 1024 * 1024, http2FlowControlWindowBytes: options.config.http2FlowControlWindowBytes,
        }),
        config, nowMs: this.nowMs, logger: options.logger.child({ component: 'replica-fetcher' }),
      });
    }
  }

  /**
   * Calls `listener` for every transaction marker this broker writes as leader, once it is committed
   * (transactions/txn-ports.ts). Returns the unsubscribe function.
   */
  addTxnMarkerListener(listener: TxnMarkerListener): () => void {
    this.txnMarkerListeners.add(listener);
    return () => this.txnMarkerListeners.delete(listener);
  }

  /**
   * Writes a COMMIT/ABORT marker on a partition this broker leads (Partition.writeTxnMarker: fencing of
   * coordinator and producer epochs), then waits until it is committed — the high watermark past it —
   * and reports it to the marker listeners. NOT_LEADER_OR_FOLLOWER when leadership is lost (or changes
   * epoch) first, REQUEST_TIMED_OUT after `timeoutMs`; both retriable, the coordinator sends again.
   */
  async writeTxnMarker(
    marker: TxnMarkerInput & { readonly topic: string; readonly partition: number },
    options: { readonly timeoutMs: number; readonly signal?: AbortSignal },
  ): Promise<{ readonly offset: number }> {
    const { topic, partition: index } = marker;
    const partition = this.getPartition(topic, index);
    const leaderEpoch = partition.leaderEpoch;
    const { offset } = await partition.writeTxnMarker(marker, { nowMs: this.nowMs() });
    const key = partitionKey(topic, index);
    const deadline = this.nowMs() + options.timeoutMs;
    for (;;) {
      const current = this.findPartition(topic, index);
      if (current !== partition || !partition.isLeader || partition.leaderEpoch !== leaderEpoch) {
        throw new ApiError('NOT_LEADER_OR_FOLLOWER', `lost leadership of ${key} (epoch ${leaderEpoch}) before the transaction marker at offset ${offset} was committed`);
      }
      if (partition.highWatermark > offset) break;
      const remaining = deadline - this.nowMs();
      const outcome = remaining > 0 ? await this.options.notifier.wait([key], remaining, options.signal) : 'timeout';
      if (outcome === 'aborted') throw new ApiError('REQUEST_TIMED_OUT', `the transaction marker write on ${key} was cancelled`);
      if (outcome === 'timeout' && partition.highWatermark <= offset) {
        throw new ApiError('REQUEST_TIMED_OUT', `the high watermark of ${key} did not pass the transaction marker at offset ${offset} within ${options.timeoutMs} ms`);
      }
    }
    this.notifyTxnMarker({ topic, partition: index, producerId: marker.producerId, producerEpoch: marker.producerEpoch, committed: marker.committed, offset });
    return { offset };
  }

  /** Reports a committed marker to the listeners (a throwing listener is logged, never propagated). */
  protected notifyTxnMarker(marker: TxnMarkerWritten): void {
    for (const listener of this.txnMarkerListeners) {
      try {
        listener(marker);
      } catch (err) {
        this.options.logger.error({ err, marker }, 'transaction marker listener failed');
      }
    }
  }

  /**
   * Starts the manager's timers (the constructor starts none; startup() calls this). Replication only:
   * followers that stop fetching must still leave the ISR, so shrink is checked on a timer too. Idempotent.
   */
  start(): void {
    const config = this.replicationConfig;
    if (config === undefined || this.isrTimer !== undefined || this.closed) return;
    this.isrTimer = setInterval(() => {
      for (const partition of this.partitions.values()) partition.maybeChangeIsr(this.nowMs());
    }, Math.max(1, Math.floor(config.replicaLagTimeMaxMs / 2)));
    this.isrTimer.unref();
  }

  private partitionReplication(): PartitionReplication | undefined {
    const replication = this.options.replication;
    const config = this.replicationConfig;
    if (replication === undefined || config === undefined) return undefined;
    return {
      alterPartition: replication.alterPartition, brokerEpoch: replication.brokerEpoch, config, nowMs: this.nowMs,
      isEligible: (replicaId, fetchBrokerEpoch) => {
        const broker = this.options.metadata.brokers().find((b) => b.nodeId === replicaId);
        return broker !== undefined && !broker.fenced && (broker.brokerEpoch === undefined || broker.brokerEpoch === fetchBrokerEpoch);
      },
    };
  }

  /** Starts or stops fetching for `partition` after its state changed. */
  private async reconcileFetcher(partition: Partition): Promise<void> {
    if (this.fetchers === undefined) return;
    const info = partition.partitionInfo;
    const leader = info.leader === this.options.nodeId || info.leader < 0 ? undefined : this.options.metadata.brokers().find((b) => b.nodeId === info.leader);
    if (leader === undefined) await this.fetchers.remove(partition);
    else await this.fetchers.assign(partition, { nodeId: leader.nodeId, host: leader.host, port: leader.port });
  }

  get partitionCount(): number {
    return this.partitions.size;
  }

  /** Replicas whose log failed or could not open in this run, by topic name then partition. */
  offlineReplicas(): OfflineReplica[] {
    return [...this.offline.values()].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  }

  isOffline(topic: string, partition: number): boolean {
    return this.offline.has(partitionKey(topic, partition));
  }

  /** The offline replicas of `info` as metadata has them, plus this node's own before metadata says so. */
  offlineReplicasOf(info: PartitionInfo): number[] {
    const localOffline = this.isOffline(info.topic, info.partition);
    return info.replicas.filter((id) => (info.offlineReplicas ?? []).includes(id) || (localOffline && id === this.options.nodeId));
  }

  /**
   * Opens a log for every partition this node hosts, on an image that is complete: every partition
   * directory on disk was created for metadata that image contains. Directories of partitions the
   * image does not assign here are strays: renamed (`strays: 'rename'`) or only reported. Starts the
   * manager's timers (start()).
   */
  async startup(options: { readonly strays: StrayPolicy } = { strays: 'rename' }): Promise<void> {
    this.start();
    const hosted = new Set<string>();
    for (const topic of this.options.metadata.topics()) {
      for (const info of topic.partitions) {
        if (!info.replicas.includes(this.options.nodeId)) continue;
        hosted.add(partitionKey(info.topic, info.partition));
        await this.openPartition(info, { fresh: false });
        // A follower fetches from the start: later deltas only carry partitions whose leadership changes.
        const partition = this.partitions.get(partitionKey(info.topic, info.partition));
        if (partition !== undefined) await this.reconcileFetcher(partition);
      }
    }
    for (const entry of await readdir(this.options.config.dataDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(this.options.config.dataDir, entry.name);
      if (isSetAsideDirName(entry.name, 'delete')) { // left by a committed deletion a crash interrupted
        this.options.logger.info({ dir: entry.name }, 'removing the rest of a deleted log');
        await rm(dir, { recursive: true, force: true });
        continue;
      }
      if (!PARTITION_DIR.test(entry.name) || hosted.has(entry.name)) continue;
      // Only directories that hold a log (segment files) are strays; others are not ours to move.
      if (!(await readdir(dir)).some((f) => f.endsWith('.log'))) continue;
      if (options.strays === 'report') {
        this.options.logger.warn({ dir: entry.name }, 'keeping the log of a partition not (yet) in the metadata image');
        continue;
      }
      await this.renameStray(dir, 'its partition is not assigned to this node in the metadata');
    }
  }

  /** Moves a log the metadata does not know aside, keeping every byte (the operator decides). */
  private async renameStray(dir: string, reason: string): Promise<void> {
    const stray = strayDirName(dir);
    await rename(dir, stray);
    this.options.logger.warn({ dir, stray, reason }, 'renamed a stray log: it is kept, not served; delete it once it is not needed');
  }

  /** Applies a durable metadata change to the hosted logs. */
  async applyChange(change: MetadataChange): Promise<void> {
    switch (change.type) {
      case 'topicCreated':
        for (const info of change.topic.partitions) await this.openPartition(info, { fresh: true });
        return;
      case 'partitionsAdded':
        for (const info of change.partitions) await this.openPartition(info, { fresh: true });
        return;
      case 'topicDeleted':
        for (const info of change.topic.partitions) await this.deletePartition(info);
        return;
      case 'configsChanged': {
        const config = resolveTopicConfig(change.topic.configs, this.options.config);
        for (const info of change.topic.partitions) this.partitions.get(partitionKey(info.topic, info.partition))?.updateConfig(config);
        return;
      }
    }
  }

  /**
   * Cluster mode entry point (the cluster runtime calls it after applying committed metadata): `states` are the
   * current states of partitions that changed (or all of them, e.g. after a snapshot); `deleted` are
   * partitions of deleted topics. For each state: this node is not a replica → stop replicating and
   * remove the log; leader === this node → become leader (a new leaderEpoch resets follower
   * tracking; the same epoch with a new partitionEpoch only updates the ISR); otherwise → become a
   * follower of `leader` (a new epoch re-checks divergence: leader-epoch truncation, then fetching).
   * Stale states (leaderEpoch or partitionEpoch older than the hosted one) are ignored. Resolves once
   * logs are open and fetchers are (re)assigned; calls must not overlap (await each).
   */
  async applyPartitionStates(states: readonly PartitionInfo[], deleted: readonly DeletedPartition[]): Promise<void> {
    for (const gone of deleted) {
      const info = this.partitions.get(partitionKey(gone.topic, gone.partition))?.partitionInfo;
      if (info !== undefined) await this.deletePartition(info);
    }
    for (const info of states) {
      const hosted = this.partitions.get(partitionKey(info.topic, info.partition));
      if (!info.replicas.includes(this.options.nodeId)) {
        if (hosted !== undefined) await this.deletePartition(info);
        continue;
      }
      if (hosted === undefined) {
        await this.openPartition(info, { fresh: false });
      } else if (info.leaderEpoch > hosted.leaderEpoch || (info.leaderEpoch === hosted.leaderEpoch && info.partitionEpoch > hosted.partitionEpoch)) {
        // Stop applying fetched data before the role changes (a new leader's epoch starts at a settled LEO).
        if (info.leader === this.options.nodeId && this.fetchers !== undefined) await this.fetchers.remove(hosted);
        hosted.updateInfo(info);
      } else continue;
      const partition = this.partitions.get(partitionKey(info.topic, info.partition));
      if (partition !== undefined) await this.reconcileFetcher(partition);
    }
  }

  /** The hosted partition, or UNKNOWN_TOPIC_OR_PARTITION (KAFKA_STORAGE_ERROR when its log is offline). */
  getPartition(topic: string, partition: number): Partition {
    const hosted = this.partitions.get(partitionKey(topic, partition));
    if (hosted !== undefined) return hosted;
    const offline = this.offline.get(partitionKey(topic, partition));
    if (offline !== undefined) {
      throw new ApiError('KAFKA_STORAGE_ERROR', `the log of ${topic}-${partition} on node ${this.options.nodeId} is offline: ${offline.reason}`);
    }
    if (this.options.metadata.topic(topic) === undefined) {
      throw new ApiError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic} does not exist`);
    }
    if (this.options.metadata.partition(topic, partition) === undefined) {
      throw new ApiError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic} has no partition ${partition}`);
    }
    throw new ApiError('NOT_LEADER_OR_FOLLOWER', `node ${this.options.nodeId} does not host ${topic}-${partition}`);
  }

  findPartition(topic: string, partition: number): Partition | undefined {
    return this.partitions.get(partitionKey(topic, partition));
  }

  /** The replicas hosted now (a copy: the set may change while the caller awaits); none once shut down. */
  hostedPartitions(): readonly Partition[] {
    return this.closed ? [] : [...this.partitions.values()];
  }

  /**
   * Closes every log (flushing it); parked requests are woken to answer. True when each one flushed
   * and closed without error and no log went offline in this run (a clean shutdown). Idempotent.
   */
  async shutdown(): Promise<boolean> {
    if (this.closed) return false;
    this.closed = true;
    let clean = true;
    if (this.isrTimer !== undefined) clearInterval(this.isrTimer);
    await this.fetchers?.close();
    this.options.notifier.notifyAll();
    const partitions = [...this.partitions.values()];
    this.partitions.clear();
    for (const partition of partitions) {
      try {
        // Before the log closes: the next open loads the producer table instead of scanning for it.
        // Only an optimisation — a failure (a full disk) is logged and the close goes on.
        await partition.writeProducerSnapshot().catch((err: unknown) =>
          this.options.logger.warn({ err, topic: partition.topic, partition: partition.partition }, 'writing the producer state snapshot failed'));
        await partition.log.close();
      } catch (err) {
        clean = false;
        this.options.logger.error({ err, topic: partition.topic, partition: partition.partition }, 'closing a log failed');
      }
    }
    // A log that failed (even one that closed without complaint since) may have lost writes it had
    // acknowledged to the page cache: the next registration must say so.
    if (this.offline.size > 0) {
      clean = false;
      this.options.logger.warn({ offlineReplicas: this.offlineReplicas() }, 'not a clean shutdown: replicas went offline in this run');
    }
    return clean;
  }

  private logDir(info: PartitionInfo): string {
    return join(this.options.config.dataDir, partitionKey(info.topic, info.partition));
  }

  private async openPartition(info: PartitionInfo, { fresh }: { fresh: boolean }): Promise<void> {
    const key = partitionKey(info.topic, info.partition);
    if (!info.replicas.includes(this.options.nodeId) || this.partitions.has(key) || this.offline.has(key)) return;
    const dir = this.logDir(info);
    const topic = this.options.metadata.topic(info.topic);
    const config = resolveTopicConfig(topic?.configs ?? {}, this.options.config);
    const logger = this.options.logger.child({ topic: info.topic, partition: info.partition });
    let partition: Partition | undefined;
    let loaded: Awaited<ReturnType<Partition['loadProducerState']>>;
    try {
      const recorded = await this.setAsideNamesake(dir, info, fresh);
      const log = await this.options.openLog({
        dir, topic: info.topic, partition: info.partition, config,
        onFailure: (err) => this.takeOffline(info.topic, info.partition, err, partition),
      });
      if (!recorded) {
        await mkdir(dir, { recursive: true }); // a log factory that keeps no files (memory logs) made none
        await writeFileAtomic(join(dir, PARTITION_METADATA_FILE), `version: 0\ntopic_id: ${info.topicId}\n`);
      }
      partition = new Partition({
        nodeId: this.options.nodeId, info, config, log, logger, producerStateStore: new FileProducerStateStore(dir),
        producerIds: {
          allocatedEnd: () => this.options.metadata.producerIdsEnd(), nowMs: this.nowMs,
          producersMax: this.options.config.producerIdsPerPartitionMax, expirationMs: this.options.config.producerIdExpirationMs,
        },
        onHighWatermarkChange: () => this.options.notifier.notify(key),
        onLogEndOffsetChange: () => this.options.notifier.notify(logEndOffsetKey(info.topic, info.partition)),
        ...(this.options.txnVerifier === undefined ? {} : { txnVerifier: this.options.txnVerifier }),
        ...(this.partitionReplication() === undefined ? {} : { replication: this.partitionReplication()! }),
      });
      loaded = await partition.loadProducerState();
    } catch (err) {
      if (err instanceof AssertionError) throw err;
      // Not closed: closing a log that did not fail would write its checkpoints and clean-shutdown
      // marker into a directory that just proved unreadable (the handles go with the process).
      this.takeOffline(info.topic, info.partition, err, undefined);
      return;
    }
    if (this.offline.has(key)) return; // the log failed while loading
    this.partitions.set(key, partition);
    // On one node this replays the HW up to the recovered LEO (a clean restart keeps it already).
    partition.updateInfo(info);
    logger.debug({ logStartOffset: partition.logStartOffset, logEndOffset: partition.logEndOffset, highWatermark: partition.highWatermark, producerStateSnapshot: loaded.snapshotOffset ?? null, producerStateScannedFrom: loaded.scannedFrom }, 'partition opened');
  }

  /**
   * The log of `topic`-`partition` failed (or could not open): the replica goes offline for the rest
   * of this run. Synchronous bookkeeping (shutdown() must see it whenever it runs); `failed`, the
   * partition of a log that failed, is closed (a failed log writes nothing on close) and its fetcher
   * stopped in the background.
   */
  private takeOffline(topic: string, partition: number, err: unknown, failed: Partition | undefined): void {
    const key = partitionKey(topic, partition);
    if (this.offline.has(key)) return;
    const reason = err instanceof Error ? err.message : String(err);
    this.offline.set(key, { topic, partition, reason });
    this.options.logger.error({ err, topic, partition }, 'replica offline: its log failed or could not open; its files are left as they are');
    if (failed !== undefined) {
      if (this.partitions.get(key) === failed) this.partitions.delete(key);
      void (async () => {
        await this.fetchers?.remove(failed);
        await failed.log.close();
      })().catch((closeErr: unknown) => this.options.logger.warn({ err: closeErr, topic, partition }, 'closing an offline log failed'));
    }
    this.options.notifier.notify(key); // parked requests answer (KAFKA_STORAGE_ERROR)
    this.options.notifier.notify(logEndOffsetKey(topic, partition));
    this.options.onReplicaOffline?.();
  }

  private async deletePartition(info: PartitionInfo): Promise<void> {
    const key = partitionKey(info.topic, info.partition);
    if (this.offline.has(key)) {
      // Never delete what a failed disk holds in this run; a restart finds the log and handles it.
      this.options.logger.warn({ topic: info.topic, partition: info.partition }, 'keeping the files of an offline replica that is no longer hosted');
      return;
    }
    const partition = this.partitions.get(key);
    if (partition !== undefined) await this.fetchers?.remove(partition);
    this.partitions.delete(key);
    this.options.notifier.notify(key); // parked fetches answer UNKNOWN_TOPIC_OR_PARTITION
    // The metadata committed this deletion: the storage renames the directory to `-delete`, then removes it.
    try {
      if (partition !== undefined) await partition.log.delete();
      else await deleteLogDir(this.logDir(info)); // never opened (its open failed): gone all the same
    } catch (err) {
      if (err instanceof AssertionError) throw err;
      // A file system error deleting one log must not stop this node from following the metadata: the
      // partition is gone from the metadata either way; its files stay for the operator (and are found
      // as a stray at the next start).
      this.options.logger.error({ err, topic: info.topic, partition: info.partition, dir: this.logDir(info) }, 'could not remove the log of a deleted partition; its files stay on disk');
    }
  }

  /**
   * Before a log opens in `dir`: a directory left there by another topic of the same name (its
   * partition.metadata names another topic id; for a partition just created, any directory at all)
   * is renamed stray, so the partition starts empty and the old data stays on disk. True when `dir`
   * already records this topic id.
   */
  private async setAsideNamesake(dir: string, info: PartitionInfo, fresh: boolean): Promise<boolean> {
    let text: string | undefined;
    try {
      text = await readFile(join(dir, PARTITION_METADATA_FILE), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const storedTopicId = text === undefined ? undefined : /^topic_id:\s*(\S+)\s*$/m.exec(text)?.[1];
    if (storedTopicId !== undefined && storedTopicId !== info.topicId) {
      await this.renameStray(dir, `its partition.metadata names topic id ${storedTopicId}, the metadata's ${info.topic} is ${info.topicId}`);
    } else if (fresh && storedTopicId === undefined && await holdsFiles(dir)) {
      await this.renameStray(dir, 'a partition created just now found a directory of the same name');
    }
    return storedTopicId === info.topicId;
  }
}

async function holdsFiles(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length > 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** A committed deletion of a log that is not open: renamed `<dir>.<32 hex>-delete` (atomic), then removed. */
async function deleteLogDir(dir: string): Promise<void> {
  const deleted = setAsideDirPath(dir, 'delete');
  try {
    await rename(dir, deleted);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  await rm(deleted, { recursive: true, force: true });
}
