// The transaction coordinator: the I/O shell around the pure core (txn-state.ts). It owns the
// transactional ids of the `__transaction_state` partitions this broker leads (one shard each, the
// partition's leader epoch is the coordinator epoch), writes every state change there with acks=all
// through the broker's own produce path BEFORE it answers or acts on it, and reloads a shard by reading
// its partition when it becomes leader (COORDINATOR_LOAD_IN_PROGRESS meanwhile). A partition it stops
// leading is unloaded (NOT_COORDINATOR); its marker work stops, and the next leader finishes it.
//
// One operation at a time per transactional id (a per-id queue). After a Prepare* is durable the
// markers go to the leader of every partition of the transaction — this broker's own partitions
// through the TxnMarkerWriter, others through Replica.WriteTxnMarkers — retried with backoff until
// each is written (a deleted topic counts as done), then Complete* is written. A timer loads/unloads
// shards, aborts timed-out transactions and expires idle ids.
import type { Logger } from 'pino';
import { decodeRecordBatches, isRetriable, tributary, type RecordInput } from '@tributary/protocol';
import type { ChangeNotifier } from '../change-notifier.js';
import { ApiError, AssertionError, errorCodeOf, type ErrorCodeName } from '../errors.js';
import type { BrokerNode, MetadataCommands, MetadataView } from '../metadata-view.js';
import { produce } from '../produce.js';
import type { ReplicaManager } from '../replica-manager.js';
import { offsetsPartitionFor } from '../groups/group-records.js';
import type { TransactionCoordinatorConfig } from './transaction-coordinator-config.js';
import { TXN_OPERATIONS_QUEUED_PER_ID_MAX } from './transaction-coordinator-config.js';
import { TRANSACTION_STATE_TOPIC, replayTxnRecord, txnRecord } from './txn-records.js';
import type { TxnMarkerRequest, TxnMarkerResults, TxnMarkerWriter } from './txn-ports.js';
import {
  abortTimedOut, addPartitions, completeTxn, endTxn, expire, initProducerId, isExpired, isLegalTransition, isTimedOut, markerIdentity,
  metadataProblem, verifyPartition,
  type AddPartitionsInput, type EndTxnInput, type InitProducerIdInput, type StepContext, type TxnMetadata, type TxnPartition, type TxnStep,
} from './txn-state.js';

/** Bytes read per step while loading a state partition. */
const LOAD_READ_BYTES = 1024 * 1024;

/** Replica.WriteTxnMarkers on another broker (adapters/grpc-txn-transport.ts). */
export interface TxnMarkerTransport {
  writeMarkers(broker: BrokerNode, marker: TxnMarkerRequest, signal: AbortSignal): Promise<TxnMarkerResults>;
}

export interface TransactionCoordinatorDeps {
  readonly nodeId: number;
  readonly metadata: MetadataView;
  readonly commands: MetadataCommands;
  readonly replicas: ReplicaManager;
  readonly notifier: ChangeNotifier;
  readonly config: TransactionCoordinatorConfig;
  /** This broker's partitions (PartitionTransactions). */
  readonly markerWriter: TxnMarkerWriter;
  readonly markerTransport: TxnMarkerTransport;
  readonly logger: Logger;
  readonly nowMs: () => number;
}

interface Shard {
  readonly partition: number;
  /** The coordinator epoch. */
  readonly leaderEpoch: number;
  status: 'loading' | 'ready';
  readonly ids: Map<string, TxnMetadata>;
  /** Per id: the tail of its operation queue and how many wait in it. */
  readonly queues: Map<string, { tail: Promise<unknown>; waiting: number }>;
  /** Ids with a state write in flight: verification answers CONCURRENT_TRANSACTIONS meanwhile. */
  readonly writing: Set<string>;
  /** Ids whose markers are being written. */
  readonly markerTasks: Set<string>;
  /** Aborted on unload: stops marker retries and waits. */
  readonly abort: AbortController;
}

export interface TxnAnswer {
  readonly error: ErrorCodeName | undefined;
  readonly message: string;
  readonly producerId: number;
  readonly producerEpoch: number;
}

/** Append failures after which the record may or may not be in the log: reload from the log. */
const UNCERTAIN_WRITE: ReadonlySet<ErrorCodeName> = new Set(['REQUEST_TIMED_OUT', 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', 'UNKNOWN_SERVER_ERROR', 'KAFKA_STORAGE_ERROR']);

/** A timer's step whose condition no longer holds once its turn came (the id moved on meanwhile). */
const NOTHING_TO_DO: TxnStep = { kind: 'error', error: 'INVALID_TXN_STATE', message: 'nothing to do any more' };

export class TransactionCoordinator {
  private readonly shards = new Map<number, Shard>();
  private creatingTopic: Promise<void> | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private lastAbortCheckMs = 0;
  private lastExpireCheckMs = 0;
  private closed = false;

  constructor(private readonly deps: TransactionCoordinatorDeps) {}

  /** Starts the timer. Idempotent; does nothing once closed. */
  start(): void {
    if (this.closed || this.tickTimer !== undefined) return;
    this.lastAbortCheckMs = this.lastExpireCheckMs = this.deps.nowMs();
    this.tickTimer = setInterval(() => this.onTick(), this.deps.config.leadershipCheckIntervalMs);
    this.tickTimer.unref();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer);
    for (const shard of [...this.shards.values()]) this.unload(shard);
  }

  // ---- coordinator lookup, loading ----------------------------------------------------------------

  partitionFor(transactionalId: string): number {
    const count = this.deps.metadata.topic(TRANSACTION_STATE_TOPIC)?.partitions.length ?? this.deps.config.stateLogNumPartitions;
    return offsetsPartitionFor(transactionalId, count);
  }

  /** The broker leading the id's state partition; creates `__transaction_state` on first use. */
  async findCoordinator(transactionalId: string): Promise<{ nodeId: number; host: string; port: number }> {
    if (this.deps.metadata.topic(TRANSACTION_STATE_TOPIC) === undefined) {
      await this.createStateTopic();
      throw new ApiError('COORDINATOR_NOT_AVAILABLE', `${TRANSACTION_STATE_TOPIC} is being created`);
    }
    const broker = this.coordinatorBroker(transactionalId);
    if (broker === undefined) throw new ApiError('COORDINATOR_NOT_AVAILABLE', `the ${TRANSACTION_STATE_TOPIC} partition of ${JSON.stringify(transactionalId)} has no leader`);
    return { nodeId: broker.nodeId, host: broker.host, port: broker.port };
  }

  /** The live broker leading the id's state partition (metadata as this broker knows it), if any. */
  coordinatorBroker(transactionalId: string): BrokerNode | undefined {
    const info = this.deps.metadata.partition(TRANSACTION_STATE_TOPIC, this.partitionFor(transactionalId));
    if (info === undefined || info.leader < 0) return undefined;
    return this.deps.metadata.brokers().find((b) => b.nodeId === info.leader && !b.fenced);
  }

  private createStateTopic(): Promise<void> {
    this.creatingTopic ??= (async () => {
      // Registered brokers, fenced ones included: while some are down the controller refuses (fewer
      // available than the factor) and a later FindCoordinator tries again, instead of creating the topic
      // with fewer replicas than min.insync.replicas needs, for good (as Kafka waits for
      // transaction.state.log.replication.factor brokers). A cluster smaller than the factor gets its size.
      const registered = this.deps.metadata.brokers().filter((b) => b.roles.includes('broker')).length;
      const replicationFactor = Math.max(1, Math.min(this.deps.config.stateLogReplicationFactor, registered));
      const minIsr = Math.max(1, Math.min(this.deps.config.stateLogMinIsr, replicationFactor));
      try {
        await this.deps.commands.createTopic({
          name: TRANSACTION_STATE_TOPIC, numPartitions: this.deps.config.stateLogNumPartitions, replicationFactor, validateOnly: false,
          configs: { 'cleanup.policy': 'compact', 'segment.bytes': String(this.deps.config.stateLogSegmentBytes), 'min.insync.replicas': String(minIsr) },
        });
        this.deps.logger.info({ partitions: this.deps.config.stateLogNumPartitions, replicationFactor, minIsr }, `created ${TRANSACTION_STATE_TOPIC}`);
      } catch (err) {
        if (errorCodeOf(err) !== 'TOPIC_ALREADY_EXISTS') this.deps.logger.warn({ err }, `creating ${TRANSACTION_STATE_TOPIC} failed`);
      } finally {
        this.creatingTopic = undefined;
      }
    })();
    return this.creatingTopic;
  }

  /** The loaded shard holding the id, or NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS. */
  private shardFor(transactionalId: string): Shard {
    if (this.closed) throw new ApiError('NOT_COORDINATOR', 'the broker is shutting down');
    if (this.deps.metadata.topic(TRANSACTION_STATE_TOPIC) === undefined) throw new ApiError('NOT_COORDINATOR', `${TRANSACTION_STATE_TOPIC} does not exist yet: find the coordinator first`);
    const index = this.partitionFor(transactionalId);
    const hosted = this.deps.replicas.findPartition(TRANSACTION_STATE_TOPIC, index);
    if (hosted === undefined || !hosted.isLeader) throw new ApiError('NOT_COORDINATOR', `node ${this.deps.nodeId} is not the coordinator of ${JSON.stringify(transactionalId)}`);
    let shard = this.shards.get(index);
    if (shard !== undefined && shard.leaderEpoch !== hosted.leaderEpoch) {
      this.unload(shard);
      shard = undefined;
    }
    if (shard === undefined) shard = this.load(index, hosted.leaderEpoch);
    if (shard.status !== 'ready') throw new ApiError('COORDINATOR_LOAD_IN_PROGRESS', `loading transaction state from ${TRANSACTION_STATE_TOPIC}-${index}`);
    return shard;
  }

  private isCurrent(shard: Shard): boolean {
    return !this.closed && this.shards.get(shard.partition) === shard && shard.status === 'ready';
  }

  private load(index: number, leaderEpoch: number): Shard {
    const shard: Shard = {
      partition: index, leaderEpoch, status: 'loading', ids: new Map(), queues: new Map(), writing: new Set(), markerTasks: new Set(), abort: new AbortController(),
    };
    this.shards.set(index, shard);
    const logger = this.deps.logger.child({ topic: TRANSACTION_STATE_TOPIC, partition: index, leaderEpoch });
    void (async () => {
      const partition = this.deps.replicas.getPartition(TRANSACTION_STATE_TOPIC, index);
      // Everything this leader has: records of its epoch are never truncated, older ones it holds are committed.
      const end = partition.logEndOffset;
      let offset = partition.logStartOffset;
      let records = 0;
      let invalid = 0;
      while (offset < end) {
        const read = await partition.log.read(offset, LOAD_READ_BYTES, { maxOffset: end, minOneBatch: true });
        if (read.records.length === 0) break;
        for (const batch of decodeRecordBatches(read.records)) {
          if (batch.lastOffset < offset) continue;
          if (!batch.control) {
            for (const r of batch.records) {
              if (r.offset < offset) continue;
              if (replayTxnRecord(shard.ids, r.key, r.value) === 'invalid') invalid++;
              records++;
            }
          }
          offset = batch.lastOffset + 1;
        }
      }
      if (this.shards.get(index) !== shard) return;
      shard.status = 'ready';
      if (invalid > 0) logger.error({ invalid }, 'records of __transaction_state that are not valid transaction metadata were skipped');
      logger.info({ ids: shard.ids.size, records, logEndOffset: end }, 'loaded transaction state');
      // Finish what the previous coordinator decided, and abort what has timed out meanwhile.
      for (const meta of shard.ids.values()) if (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') this.startMarkers(shard, meta.transactionalId);
      this.abortTimedOutIn(shard);
    })().catch((err: unknown) => {
      logger.error({ err }, 'loading transaction state failed; will retry');
      if (this.shards.get(index) === shard) this.shards.delete(index);
    });
    return shard;
  }

  private unload(shard: Shard): void {
    if (this.shards.get(shard.partition) !== shard) return;
    this.shards.delete(shard.partition);
    shard.abort.abort();
    this.deps.logger.info({ topic: TRANSACTION_STATE_TOPIC, partition: shard.partition, ids: shard.ids.size }, 'unloaded transaction state');
  }

  /** Unloads and loads again from the log: after a write whose outcome is unknown, the log is the truth. */
  private reload(shard: Shard): void {
    if (this.shards.get(shard.partition) !== shard) return;
    this.unload(shard);
    const hosted = this.deps.replicas.findPartition(TRANSACTION_STATE_TOPIC, shard.partition);
    if (!this.closed && hosted !== undefined && hosted.isLeader) this.load(shard.partition, hosted.leaderEpoch);
  }

  private onTick(): void {
    if (this.closed) return;
    const count = this.deps.metadata.topic(TRANSACTION_STATE_TOPIC)?.partitions.length ?? 0;
    for (let index = 0; index < count; index++) {
      const hosted = this.deps.replicas.findPartition(TRANSACTION_STATE_TOPIC, index);
      const shard = this.shards.get(index);
      const leads = hosted !== undefined && hosted.isLeader;
      if (shard !== undefined && (!leads || shard.leaderEpoch !== hosted.leaderEpoch)) this.unload(shard);
      // Load eagerly on becoming leader, so pending markers are finished without waiting for a request.
      if (leads && !this.shards.has(index)) this.load(index, hosted.leaderEpoch);
    }
    for (const shard of [...this.shards.values()]) if (shard.status === 'ready') this.unloadIfDeposed(shard);
    const nowMs = this.deps.nowMs();
    if (nowMs - this.lastAbortCheckMs >= this.deps.config.abortTimedOutIntervalMs) {
      this.lastAbortCheckMs = nowMs;
      for (const shard of this.shards.values()) if (shard.status === 'ready') this.abortTimedOutIn(shard);
    }
    if (nowMs - this.lastExpireCheckMs >= this.deps.config.removeExpiredIntervalMs) {
      this.lastExpireCheckMs = nowMs;
      for (const shard of this.shards.values()) if (shard.status === 'ready') this.expireIn(shard);
    }
  }

  private unloadIfDeposed(shard: Shard): void {
    const hosted = this.deps.replicas.findPartition(TRANSACTION_STATE_TOPIC, shard.partition);
    if (hosted === undefined || !hosted.isLeader || hosted.leaderEpoch !== shard.leaderEpoch) this.unload(shard);
  }

  private abortTimedOutIn(shard: Shard): void {
    const nowMs = this.deps.nowMs();
    for (const meta of shard.ids.values()) {
      if (!isTimedOut(meta, nowMs)) continue;
      const id = meta.transactionalId;
      this.deps.logger.info({ transactionalId: id, producerId: meta.producerId, producerEpoch: meta.producerEpoch, timeoutMs: meta.timeoutMs }, 'aborting a timed-out transaction');
      void this.operate(shard, id, (current, ctx) => (current !== undefined && isTimedOut(current, ctx.nowMs) ? abortTimedOut(current, ctx) : NOTHING_TO_DO))
        .catch((err: unknown) => this.deps.logger.warn({ err, transactionalId: id }, 'aborting a timed-out transaction failed; the next check retries'));
    }
  }

  private expireIn(shard: Shard): void {
    const nowMs = this.deps.nowMs();
    for (const meta of shard.ids.values()) {
      if (!isExpired(meta, nowMs, this.deps.config.transactionalIdExpirationMs)) continue;
      const id = meta.transactionalId;
      void this.operate(shard, id, (current, ctx) => (current !== undefined && isExpired(current, ctx.nowMs, this.deps.config.transactionalIdExpirationMs)
        ? { kind: 'write', next: expire(current, ctx), reply: { producerId: -1, producerEpoch: -1 } }
        : NOTHING_TO_DO))
        .then((step) => {
          if (step !== NOTHING_TO_DO) this.deps.logger.info({ transactionalId: id }, 'transactional id expired');
        })
        .catch((err: unknown) => this.deps.logger.warn({ err, transactionalId: id }, 'expiring a transactional id failed; the next check retries'));
    }
  }

  // ---- one operation at a time per id ----------------------------------------------------------------

  /**
   * Runs one step for `id` after the id's previous operations: computes it from the current metadata,
   * allocates a producer id when the step asks, writes the next metadata (acks=all), then makes it
   * current; a Prepare* starts the markers. Throws NOT_COORDINATOR etc. when the shard goes away.
   */
  private operate(shard: Shard, id: string, step: (meta: TxnMetadata | undefined, ctx: StepContext) => TxnStep): Promise<TxnStep> {
    let queue = shard.queues.get(id);
    if (queue === undefined) shard.queues.set(id, (queue = { tail: Promise.resolve(), waiting: 0 }));
    if (queue.waiting >= TXN_OPERATIONS_QUEUED_PER_ID_MAX) {
      return Promise.reject(new ApiError('CONCURRENT_TRANSACTIONS', `${queue.waiting} requests for ${JSON.stringify(id)} are already waiting (TXN_OPERATIONS_QUEUED_PER_ID_MAX)`));
    }
    queue.waiting++;
    const q = queue;
    const run = q.tail.catch(() => undefined).then(() => this.runStep(shard, id, step));
    q.tail = run;
    void run.catch(() => undefined).finally(() => {
      q.waiting--;
      if (q.waiting === 0 && shard.queues.get(id) === q) shard.queues.delete(id);
    });
    return run;
  }

  private async runStep(shard: Shard, id: string, makeStep: (meta: TxnMetadata | undefined, ctx: StepContext) => TxnStep): Promise<TxnStep> {
    this.requireCurrent(shard, id);
    const meta = shard.ids.get(id);
    let step = makeStep(meta, { nowMs: this.deps.nowMs() });
    if (step.kind === 'allocate') {
      const newProducerId = await this.allocateProducerId();
      this.requireCurrent(shard, id);
      step = makeStep(shard.ids.get(id), { nowMs: this.deps.nowMs(), newProducerId });
      if (step.kind === 'allocate') throw new AssertionError(`the step for ${JSON.stringify(id)} asked for a second producer id`);
    }
    if (step.kind !== 'write' || step.next === meta) return step;
    await this.persist(shard, meta, step.next);
    if (step.next.state === 'PrepareCommit' || step.next.state === 'PrepareAbort') this.startMarkers(shard, id);
    return step;
  }

  private requireCurrent(shard: Shard, id: string): void {
    if (!this.isCurrent(shard)) throw new ApiError('NOT_COORDINATOR', `node ${this.deps.nodeId} is no longer the coordinator of ${JSON.stringify(id)}`);
  }

  private async allocateProducerId(): Promise<number> {
    try {
      return await this.deps.commands.allocateProducerId();
    } catch (err) {
      throw new ApiError('COORDINATOR_NOT_AVAILABLE', `no producer id available now: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  /** Writes `next` (acks=all) and makes it current; the move from `prev` must be one the table allows. */
  private async persist(shard: Shard, prev: TxnMetadata | undefined, next: TxnMetadata): Promise<void> {
    const problem = metadataProblem(next);
    if (problem !== undefined) throw new AssertionError(`refusing to write transaction metadata of ${JSON.stringify(next.transactionalId)}: ${problem}`);
    if (prev !== undefined && !isLegalTransition(prev.state, next.state) && !(prev.state === 'Ongoing' && next.state === 'PrepareAbort')) {
      throw new AssertionError(`refusing to write ${JSON.stringify(next.transactionalId)}: ${prev.state} -> ${next.state} is not a legal move`);
    }
    if (prev === undefined && next.state !== 'Empty') throw new AssertionError(`a new transactional id must start Empty, not ${next.state}`);
    const record = txnRecord(next);
    shard.writing.add(next.transactionalId);
    try {
      await this.append(shard, [{ key: record.key, value: record.value, timestamp: this.deps.nowMs() }]);
    } finally {
      shard.writing.delete(next.transactionalId);
    }
    this.requireCurrent(shard, next.transactionalId);
    if (next.state === 'Dead') shard.ids.delete(next.transactionalId);
    else shard.ids.set(next.transactionalId, next);
    this.deps.logger.info({ transactionalId: next.transactionalId, producerId: next.producerId, producerEpoch: next.producerEpoch }, `transaction ${prev?.state ?? '(new)'} -> ${next.state}`);
  }

  private async append(shard: Shard, records: readonly RecordInput[]): Promise<void> {
    const out = await produce({
      acks: -1, timeoutMs: this.deps.config.writeTimeoutMs,
      topics: [{ topic: TRANSACTION_STATE_TOPIC, partitions: [{ partition: shard.partition, recordBatch: undefined, records, currentLeaderEpoch: shard.leaderEpoch }] }],
    }, { replicas: this.deps.replicas, notifier: this.deps.notifier, nowMs: this.deps.nowMs });
    const error = out.topics[0]?.partitions[0]?.error;
    if (error === undefined) return;
    const code = errorCodeOf(error);
    const message = `writing to ${TRANSACTION_STATE_TOPIC}-${shard.partition}: ${error instanceof Error ? error.message : String(error)}`;
    if (code === 'NOT_LEADER_OR_FOLLOWER' || code === 'FENCED_LEADER_EPOCH') {
      this.unload(shard);
      throw new ApiError('NOT_COORDINATOR', message, { cause: error });
    }
    // The record may be in the log (and committed later): the in-memory state must come from the log again.
    if (UNCERTAIN_WRITE.has(code)) this.reload(shard);
    // Kafka maps append failures to coordinator errors the client knows how to retry.
    throw new ApiError('COORDINATOR_NOT_AVAILABLE', message, { cause: error });
  }

  // ---- markers --------------------------------------------------------------------------------------

  private startMarkers(shard: Shard, id: string): void {
    if (shard.markerTasks.has(id)) return;
    shard.markerTasks.add(id);
    void this.finishTransaction(shard, id)
      .catch((err: unknown) => {
        // Only an impossible state gets here (the loops retry everything else until the shard is unloaded).
        this.deps.logger.error({ err, transactionalId: id }, 'finishing a transaction failed');
      })
      .finally(() => shard.markerTasks.delete(id));
  }

  /** Writes the markers of the id's Prepare* until all are written, then Complete*; stops on unload. */
  private async finishTransaction(shard: Shard, id: string): Promise<void> {
    const meta = shard.ids.get(id);
    if (meta === undefined || (meta.state !== 'PrepareCommit' && meta.state !== 'PrepareAbort')) return;
    const { producerId, producerEpoch } = markerIdentity(meta);
    const committed = meta.state === 'PrepareCommit';
    const pending = new Map(meta.partitions.map((tp) => [`${tp.topic}-${tp.partition}`, tp]));
    let backoffMs = this.deps.config.markerRetryBackoffMs;
    while (pending.size > 0) {
      if (!this.isCurrent(shard)) return; // the next coordinator finishes it
      await this.sendMarkers(shard, { transactionalId: id, producerId, producerEpoch, committed, coordinatorEpoch: shard.leaderEpoch, partitions: [...pending.values()] }, pending);
      if (pending.size === 0) break;
      await sleep(backoffMs, shard.abort.signal);
      backoffMs = Math.min(backoffMs * 2, this.deps.config.markerRetryBackoffMaxMs);
    }
    // Complete*, retried with backoff (never by writing the markers again) until written or unloaded. A write
    // whose outcome is unknown reloads the shard, whose load finishes the Prepare* if it is still there.
    for (;;) {
      if (!this.isCurrent(shard)) return;
      try {
        await this.operate(shard, id, (current, ctx) => {
          // Only the Prepare* whose markers were written may complete.
          if (current !== meta) throw new AssertionError(`the metadata of ${JSON.stringify(id)} changed while its markers were written (${meta.state} -> ${current?.state})`);
          return { kind: 'write', next: completeTxn(current, ctx), reply: { producerId, producerEpoch } };
        });
        return;
      } catch (err) {
        if ((err as { name?: string }).name === 'AssertionError') throw err;
        if (this.isCurrent(shard)) this.deps.logger.warn({ err, transactionalId: id, backoffMs }, `writing ${committed ? 'CompleteCommit' : 'CompleteAbort'} failed; retrying`);
      }
      await sleep(backoffMs, shard.abort.signal);
      backoffMs = Math.min(backoffMs * 2, this.deps.config.markerRetryBackoffMaxMs);
    }
  }

  /** One round: each partition's current leader gets the marker; written (or deleted) ones leave `pending`. */
  private async sendMarkers(shard: Shard, marker: TxnMarkerRequest, pending: Map<string, TxnPartition>): Promise<void> {
    const byLeader = new Map<number, TxnPartition[]>();
    for (const [key, tp] of pending) {
      if (this.deps.metadata.topic(tp.topic) === undefined) {
        pending.delete(key); // deleted: nothing to mark
        continue;
      }
      const leader = this.deps.metadata.partition(tp.topic, tp.partition)?.leader ?? -1;
      if (leader < 0) continue;
      let list = byLeader.get(leader);
      if (list === undefined) byLeader.set(leader, (list = []));
      list.push(tp);
    }
    const signal = shard.abort.signal;
    await Promise.all([...byLeader].map(async ([leader, partitions]) => {
      const request: TxnMarkerRequest = { ...marker, partitions };
      let results: TxnMarkerResults;
      try {
        if (leader === this.deps.nodeId) results = await this.deps.markerWriter.writeMarkers(request, signal);
        else {
          const broker = this.deps.metadata.brokers().find((b) => b.nodeId === leader);
          if (broker === undefined) return;
          results = await this.deps.markerTransport.writeMarkers(broker, request, signal);
        }
      } catch (err) {
        if (!signal.aborted) this.deps.logger.debug({ err, leader, transactionalId: marker.transactionalId }, 'writing markers failed; retrying');
        return;
      }
      for (const tp of partitions) {
        const key = `${tp.topic}-${tp.partition}`;
        if (!results.has(key)) continue;
        const error = results.get(key);
        if (error === undefined || (error === 'UNKNOWN_TOPIC_OR_PARTITION' && this.deps.metadata.topic(tp.topic) === undefined)) {
          pending.delete(key);
        } else if (error === 'TRANSACTION_COORDINATOR_FENCED') {
          // The partition has seen markers of a newer coordinator epoch: this shard is stale.
          this.deps.logger.warn({ leader, topic: tp.topic, partition: tp.partition, transactionalId: marker.transactionalId, coordinatorEpoch: marker.coordinatorEpoch }, 'a partition fenced this coordinator epoch; unloading');
          this.unload(shard);
        } else {
          // Never counted as written: retried until it is (a non-retriable refusal is an anomaly an operator should see).
          const level = isRetriable(tributary.v1.ErrorCode[error]) ? 'debug' : 'warn';
          this.deps.logger[level]({ error, leader, topic: tp.topic, partition: tp.partition, transactionalId: marker.transactionalId }, 'a marker was refused; retrying');
        }
      }
    }));
  }

  // ---- requests -------------------------------------------------------------------------------------

  private answer(step: TxnStep): TxnAnswer {
    if (step.kind === 'error') return { error: step.error, message: step.message, producerId: -1, producerEpoch: -1 };
    if (step.kind === 'allocate') throw new AssertionError('a step still asking for a producer id was answered');
    return { error: step.error, message: step.error ?? '', producerId: step.reply.producerId, producerEpoch: step.reply.producerEpoch };
  }

  async initProducerId(input: InitProducerIdInput): Promise<TxnAnswer> {
    if (input.timeoutMs > this.deps.config.maxTimeoutMs || input.timeoutMs < 1) {
      return { error: 'INVALID_TRANSACTION_TIMEOUT', message: `transaction_timeout_ms ${input.timeoutMs} must lie in [1, transaction.max.timeout.ms = ${this.deps.config.maxTimeoutMs}]`, producerId: -1, producerEpoch: -1 };
    }
    const shard = this.shardFor(input.transactionalId);
    return this.answer(await this.operate(shard, input.transactionalId, (meta, ctx) => initProducerId(meta, input, ctx)));
  }

  async addPartitions(transactionalId: string, input: AddPartitionsInput): Promise<TxnAnswer> {
    const shard = this.shardFor(transactionalId);
    return this.answer(await this.operate(shard, transactionalId, (meta, ctx) => addPartitions(meta, transactionalId, input, ctx)));
  }

  /** AddOffsetsToTxn: the group's `__consumer_offsets` partition joins the transaction. */
  async addOffsets(transactionalId: string, input: { producerId: number; producerEpoch: number; offsetsPartition: TxnPartition }): Promise<TxnAnswer> {
    return this.addPartitions(transactionalId, { producerId: input.producerId, producerEpoch: input.producerEpoch, partitions: [input.offsetsPartition] });
  }

  async endTxn(transactionalId: string, input: EndTxnInput): Promise<TxnAnswer> {
    const shard = this.shardFor(transactionalId);
    return this.answer(await this.operate(shard, transactionalId, (meta, ctx) => endTxn(meta, transactionalId, input, ctx)));
  }

  /**
   * verify_only for this broker's own shard: undefined when `tp` is in the ongoing transaction of
   * exactly this producer id and epoch. Reads the current state, never a copy kept elsewhere.
   */
  verify(transactionalId: string, producerId: number, producerEpoch: number, tp: TxnPartition): ErrorCodeName | undefined {
    const shard = this.shardFor(transactionalId);
    const verdict = verifyPartition(shard.ids.get(transactionalId), transactionalId, producerId, producerEpoch, tp);
    // Writes in flight only move the id forward: an incarnation already fenced by the durable state
    // stays fenced whatever they decide (Kafka checks the epoch first), the rest must wait for them.
    if (verdict === 'PRODUCER_FENCED' || verdict === 'INVALID_PRODUCER_ID_MAPPING') return verdict;
    if (shard.writing.has(transactionalId)) return 'CONCURRENT_TRANSACTIONS';
    return verdict;
  }

  /** The transactional ids of every shard this broker leads and has loaded. */
  listTransactions(): TxnMetadata[] {
    const out: TxnMetadata[] = [];
    for (const shard of this.shards.values()) if (shard.status === 'ready') out.push(...shard.ids.values());
    return out.sort((a, b) => (a.transactionalId < b.transactionalId ? -1 : 1));
  }

  /** TRANSACTIONAL_ID_NOT_FOUND when this coordinator has no such id. */
  describeTransaction(transactionalId: string): TxnMetadata {
    const meta = this.shardFor(transactionalId).ids.get(transactionalId);
    if (meta === undefined) throw new ApiError('TRANSACTIONAL_ID_NOT_FOUND', `no transactional id ${JSON.stringify(transactionalId)} at its coordinator`);
    return meta;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
