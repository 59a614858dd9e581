// The group coordinator: the I/O shell around the pure group state machine (group.ts). It owns the groups
// of the `__consumer_offsets` partitions this broker leads, writes commits and group metadata there with
// acks=all through the broker's own produce path, and reloads them by reading the partition from its start
// when it becomes leader (COORDINATOR_LOAD_IN_PROGRESS meanwhile), so committed offsets survive failover.
// Partitions it stops leading are unloaded (NOT_COORDINATOR). A timer drives session expiry, rebalance
// deadlines and offset retention (start() starts it; close() stops it). Compacting __consumer_offsets
// is the log maintenance's job (log-maintenance.ts), as for every compacted topic.
//
// Transactions (txn-offsets.ts): TxnOffsetCommit writes a transactional batch of the producer whose
// offsets stay pending until the producer's marker in this partition; the ReplicaManager reports each
// committed marker this broker writes (onTxnMarker), and a load replays markers from the log.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { decodeRecordBatches, encodeRecordBatch, type RecordInput } from '@tributary/protocol';
import type { ChangeNotifier } from '../change-notifier.js';
import { ApiError, assert, errorCodeOf, type ErrorCodeName } from '../errors.js';
import type { MetadataCommands, MetadataView } from '../metadata-view.js';
import { produce } from '../produce.js';
import type { ReplicaManager } from '../replica-manager.js';
import type { TxnMarkerWritten, TxnVerifier } from '../transactions/txn-ports.js';
import type { TopicPartition } from './assignors/index.js';
import {
  applyCommit, deleteGroup, heartbeat, join, leave, newGroup, offsetKey, sync, tick, validateCommit, validateOffsetMetadata,
  type Group, type JoinInput, type JoinReply, type StepContext, type StepResult,
} from './group.js';
import type { GroupCoordinatorConfig } from './group-coordinator-config.js';
import { OFFSETS_TOPIC, groupRecord, offsetRecord, offsetsPartitionFor, replayBatch, type OffsetsRecord } from './group-records.js';
import { checkTxnIndex, completeTxn, hasPendingTxnOffset, stageTxnOffsets, validateTxnCommit, type OffsetsShardState, type TxnCommitMember } from './txn-offsets.js';

/** Bytes read per step while loading an offsets partition. */
const LOAD_READ_BYTES = 1024 * 1024;
/**
 * Most markers kept per shard while it loads, and per producer while one of its TxnOffsetCommits is
 * being written. Past it the shard is unloaded and loaded again: the log has every marker.
 */
export const TXN_MARKERS_BUFFERED_MAX = 1_000;

/** One offset of a commit request. */
export type OffsetCommitEntry = TopicPartition & { offset: number; metadata: string };

export interface TxnOffsetCommitInput extends TxnCommitMember {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly producerEpoch: number;
}

export interface GroupCoordinatorDeps {
  readonly nodeId: number;
  readonly metadata: MetadataView;
  readonly commands: MetadataCommands;
  readonly replicas: ReplicaManager;
  readonly notifier: ChangeNotifier;
  readonly config: GroupCoordinatorConfig;
  readonly logger: Logger;
  readonly nowMs: () => number;
  /**
   * Asks the transaction coordinator whether the group's offsets partition is in the producer's
   * ongoing transaction (AddOffsetsToTxn added it). Absent: TxnOffsetCommit is refused (INVALID_TXN_STATE).
   */
  readonly txnVerifier?: TxnVerifier;
}

interface Shard extends OffsetsShardState {
  readonly partition: number;
  readonly leaderEpoch: number;
  status: 'loading' | 'ready';
  /** The log end offset the load read up to: markers below it were replayed from the log. */
  loadedEndOffset: number;
  /** Markers reported while loading, applied after it (those at or past loadedEndOffset). */
  readonly markersWhileLoading: TxnMarkerWritten[];
  /** Producers with a TxnOffsetCommit being written, and the markers reported meanwhile. */
  readonly txnWrites: Map<number, { writes: number; readonly markers: TxnMarkerWritten[] }>;
}

type Parked = (reply: JoinReply) => void;

export class GroupCoordinator {
  private readonly shards = new Map<number, Shard>();
  private readonly parked = new Map<string, Parked>();
  private creatingTopic: Promise<void> | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly removeMarkerListener: () => void;

  constructor(private readonly deps: GroupCoordinatorDeps) {
    this.removeMarkerListener = deps.replicas.addTxnMarkerListener((marker) => this.onTxnMarker(marker));
  }

  /** Starts the tick timer. Idempotent; does nothing once closed. */
  start(): void {
    if (this.closed || this.tickTimer !== undefined) return;
    this.tickTimer = setInterval(() => this.onTick(), this.deps.config.tickIntervalMs);
    this.tickTimer.unref();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.removeMarkerListener();
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer);
    for (const shard of [...this.shards.values()]) this.unload(shard, 'NOT_COORDINATOR');
  }

  private ctx(): StepContext {
    const partitionCounts = new Map<string, number>();
    for (const t of this.deps.metadata.topics()) if (!t.internal) partitionCounts.set(t.name, t.partitions.length);
    return {
      nowMs: this.deps.nowMs(), logger: this.deps.logger, partitionCounts,
      sessionTimeoutMs: { min: this.deps.config.groupMinSessionTimeoutMs, max: this.deps.config.groupMaxSessionTimeoutMs },
    };
  }

  // ---- coordinator lookup, loading ----------------------------------------------------------------

  partitionFor(groupId: string): number {
    return offsetsPartitionFor(groupId, this.offsetsPartitionCount());
  }

  private offsetsPartitionCount(): number {
    return this.deps.metadata.topic(OFFSETS_TOPIC)?.partitions.length ?? this.deps.config.offsetsTopicNumPartitions;
  }

  /** The broker leading the group's offsets partition; creates the offsets topic on first use. */
  async findCoordinator(groupId: string): Promise<{ nodeId: number; host: string; port: number }> {
    if (this.deps.metadata.topic(OFFSETS_TOPIC) === undefined) {
      await this.createOffsetsTopic();
      throw new ApiError('COORDINATOR_NOT_AVAILABLE', `${OFFSETS_TOPIC} is being created`);
    }
    const info = this.deps.metadata.partition(OFFSETS_TOPIC, this.partitionFor(groupId));
    const broker = info === undefined || info.leader < 0 ? undefined : this.deps.metadata.brokers().find((b) => b.nodeId === info.leader);
    if (broker === undefined) throw new ApiError('COORDINATOR_NOT_AVAILABLE', `${OFFSETS_TOPIC} partition of group ${groupId} has no leader`);
    return { nodeId: broker.nodeId, host: broker.host, port: broker.port };
  }

  private createOffsetsTopic(): Promise<void> {
    this.creatingTopic ??= (async () => {
      // Registered brokers, fenced ones included: while some are down the controller refuses (fewer
      // available than the factor) and a later FindCoordinator tries again. Counting only live ones made a
      // topic with 1 replica when 2 of 3 nodes were down, whose writes min.insync.replicas=2 then refused
      // for good (seen in the txn chaos smoke). A cluster smaller than 3 gets its size.
      const registered = this.deps.metadata.brokers().filter((b) => b.roles.includes('broker')).length;
      try {
        await this.deps.commands.createTopic({
          name: OFFSETS_TOPIC, numPartitions: this.deps.config.offsetsTopicNumPartitions,
          replicationFactor: Math.max(1, Math.min(3, registered)), configs: { 'cleanup.policy': 'compact', 'segment.bytes': String(this.deps.config.offsetsTopicSegmentBytes) }, validateOnly: false,
        });
        this.deps.logger.info({ partitions: this.deps.config.offsetsTopicNumPartitions }, `created ${OFFSETS_TOPIC}`);
      } catch (err) {
        if (errorCodeOf(err) !== 'TOPIC_ALREADY_EXISTS') this.deps.logger.warn({ err }, `creating ${OFFSETS_TOPIC} failed`);
      } finally {
        this.creatingTopic = undefined;
      }
    })();
    return this.creatingTopic;
  }

  /** The loaded shard holding `groupId`, or NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS. */
  private shardFor(groupId: string): Shard {
    if (this.closed) throw new ApiError('NOT_COORDINATOR', 'the broker is shutting down');
    const index = this.partitionFor(groupId);
    const hosted = this.deps.replicas.findPartition(OFFSETS_TOPIC, index);
    if (hosted === undefined || !hosted.isLeader) throw new ApiError('NOT_COORDINATOR', `node ${this.deps.nodeId} is not the coordinator of group ${groupId}`);
    let shard = this.shards.get(index);
    if (shard !== undefined && shard.leaderEpoch !== hosted.leaderEpoch) {
      this.unload(shard, 'NOT_COORDINATOR');
      shard = undefined;
    }
    if (shard === undefined) shard = this.load(index, hosted.leaderEpoch);
    if (shard.status !== 'ready') throw new ApiError('COORDINATOR_LOAD_IN_PROGRESS', `loading group state from ${OFFSETS_TOPIC}-${index}`);
    return shard;
  }

  private load(index: number, leaderEpoch: number): Shard {
    const shard: Shard = {
      partition: index, leaderEpoch, status: 'loading', groups: new Map(), txnGroups: new Map(),
      loadedEndOffset: -1, markersWhileLoading: [], txnWrites: new Map(),
    };
    this.shards.set(index, shard);
    const logger = this.deps.logger.child({ topic: OFFSETS_TOPIC, partition: index, leaderEpoch });
    void (async () => {
      const partition = this.deps.replicas.getPartition(OFFSETS_TOPIC, index);
      // Everything this leader has: records of its epoch are never truncated, older ones it holds are committed.
      const end = partition.logEndOffset;
      let offset = partition.logStartOffset;
      let records = 0;
      while (offset < end) {
        const read = await partition.log.read(offset, LOAD_READ_BYTES, { maxOffset: end, minOneBatch: true });
        if (read.records.length === 0) break;
        for (const batch of decodeRecordBatches(read.records)) {
          if (batch.lastOffset < offset) continue;
          replayBatch(shard, batch, this.deps.nowMs(), offset);
          records += batch.records.length;
          offset = batch.lastOffset + 1;
        }
      }
      if (this.shards.get(index) !== shard) return;
      for (const [id, g] of shard.groups) if (g.state === 'Dead') shard.groups.delete(id);
      shard.loadedEndOffset = end;
      shard.status = 'ready';
      // Markers committed while the load read: the ones the read did not reach apply now, in log order.
      for (const marker of shard.markersWhileLoading.sort((a, b) => a.offset - b.offset)) this.applyMarker(shard, marker);
      shard.markersWhileLoading.length = 0;
      checkTxnIndex(shard);
      let pending = 0;
      for (const g of shard.groups.values()) pending += g.pendingTxnOffsets.size;
      logger.info({ groups: shard.groups.size, records, logEndOffset: end, pendingTransactions: pending }, 'loaded group state');
    })().catch((err: unknown) => {
      logger.error({ err }, 'loading group state failed; will retry');
      if (this.shards.get(index) === shard) this.shards.delete(index);
    });
    return shard;
  }

  private unload(shard: Shard, error: ErrorCodeName): void {
    this.shards.delete(shard.partition);
    for (const g of shard.groups.values()) {
      for (const m of g.members.values()) if (m.pendingJoin !== null) this.answer({ type: 'join', requestId: m.pendingJoin, error, memberId: m.memberId, generation: -1, protocolName: '', rebalanceProtocol: '', leaderId: '', members: [] });
    }
    this.deps.logger.info({ topic: OFFSETS_TOPIC, partition: shard.partition, groups: shard.groups.size }, 'unloaded group state');
  }

  /**
   * A marker this broker wrote as leader is committed. Only `__consumer_offsets` partitions this
   * coordinator has loaded (or is loading) matter: one not loaded reads the marker from the log later.
   */
  private onTxnMarker(marker: TxnMarkerWritten): void {
    if (marker.topic !== OFFSETS_TOPIC || this.closed) return;
    const shard = this.shards.get(marker.partition);
    if (shard === undefined) return;
    if (shard.status === 'loading') {
      if (shard.markersWhileLoading.length >= TXN_MARKERS_BUFFERED_MAX) {
        this.deps.logger.warn({ partition: shard.partition, max: TXN_MARKERS_BUFFERED_MAX }, 'too many markers while loading; loading again');
        this.unload(shard, 'COORDINATOR_LOAD_IN_PROGRESS');
        return;
      }
      shard.markersWhileLoading.push(marker);
      return;
    }
    const writing = shard.txnWrites.get(marker.producerId);
    if (writing !== undefined) {
      if (writing.markers.length >= TXN_MARKERS_BUFFERED_MAX) {
        this.deps.logger.warn({ partition: shard.partition, producerId: marker.producerId, max: TXN_MARKERS_BUFFERED_MAX }, 'too many markers during a transactional commit; loading again');
        this.unload(shard, 'NOT_COORDINATOR');
        return;
      }
      writing.markers.push(marker);
    }
    this.applyMarker(shard, marker);
  }

  private applyMarker(shard: Shard, marker: TxnMarkerWritten): void {
    if (marker.offset < shard.loadedEndOffset) return; // the load replayed it from the log
    const changed = completeTxn(shard, { producerId: marker.producerId, committed: marker.committed, offset: marker.offset });
    if (changed.length > 0) {
      this.deps.logger.debug({ partition: shard.partition, producerId: marker.producerId, committed: marker.committed, offset: marker.offset, groups: changed }, 'transactional offsets completed');
    }
  }

  private onTick(): void {
    if (this.closed) return;
    const count = this.deps.metadata.topic(OFFSETS_TOPIC)?.partitions.length ?? 0;
    for (let index = 0; index < count; index++) {
      const hosted = this.deps.replicas.findPartition(OFFSETS_TOPIC, index);
      const shard = this.shards.get(index);
      const leads = hosted !== undefined && hosted.isLeader;
      if (shard !== undefined && (!leads || shard.leaderEpoch !== hosted.leaderEpoch)) this.unload(shard, 'NOT_COORDINATOR');
      // Load eagerly on becoming leader, so the first request after a failover finds the state ready.
      if (leads && !this.shards.has(index)) this.load(index, hosted.leaderEpoch);
    }
    const ctx = this.ctx();
    for (const shard of this.shards.values()) {
      if (shard.status !== 'ready') continue;
      for (const g of [...shard.groups.values()]) this.commitStep(shard, tick(g, this.deps.config.offsetsRetentionMs, ctx));
    }
  }

  /** Makes a step's group current, answers parked joins and writes what must be persisted. */
  private commitStep(shard: Shard, step: StepResult): void {
    const g = step.group;
    if (g.state === 'Dead') shard.groups.delete(g.groupId);
    else shard.groups.set(g.groupId, g);
    const records: OffsetsRecord[] = step.removedOffsets.map((tp) => offsetRecord(g.groupId, tp, null));
    if (step.persistGroup) records.push(groupRecord(g));
    if (records.length > 0) {
      this.append(shard, records).catch((err: unknown) => this.deps.logger.warn({ err, group: g.groupId }, 'writing group metadata failed'));
    }
    for (const reply of step.replies) this.answer(reply);
  }

  private answer(reply: JoinReply): void {
    const resolve = this.parked.get(reply.requestId);
    if (resolve === undefined) return;
    this.parked.delete(reply.requestId);
    resolve(reply);
  }

  /**
   * Writes `records` as one batch with acks=all; returns the batch's base offset. With `txn`, the batch
   * is the producer's transactional batch (base sequence -1, coordinator origin). Throws an ApiError with
   * a coordinator error code; its `cause` is the partition's error.
   */
  private async append(shard: Shard, records: readonly OffsetsRecord[], txn?: { readonly transactionalId: string; readonly producerId: number; readonly producerEpoch: number }): Promise<number> {
    const nowMs = this.deps.nowMs();
    const input: RecordInput[] = records.map((r) => ({ key: r.key, value: r.value, timestamp: nowMs }));
    let recordBatch: Buffer | undefined;
    if (txn !== undefined) {
      const configured = this.deps.replicas.findPartition(OFFSETS_TOPIC, shard.partition)?.topicConfig.compressionType;
      recordBatch = encodeRecordBatch({
        records: input, compression: configured === undefined || configured === 'producer' ? 'none' : configured,
        producerId: txn.producerId, producerEpoch: txn.producerEpoch, baseSequence: -1, transactional: true,
      });
    }
    const out = await produce({
      acks: -1, timeoutMs: this.deps.config.offsetsCommitTimeoutMs,
      topics: [{ topic: OFFSETS_TOPIC, partitions: [{ partition: shard.partition, recordBatch, records: recordBatch === undefined ? input : [], currentLeaderEpoch: shard.leaderEpoch }] }],
      ...(txn === undefined ? {} : { transactionalId: txn.transactionalId, origin: 'coordinator' as const }),
    }, { replicas: this.deps.replicas, notifier: this.deps.notifier, nowMs: this.deps.nowMs });
    const result = out.topics[0]?.partitions[0];
    const error = result?.error;
    if (error !== undefined) {
      const code = errorCodeOf(error);
      // Kafka maps append failures to coordinator errors the client knows how to retry.
      const mapped: ErrorCodeName = code === 'NOT_LEADER_OR_FOLLOWER' || code === 'FENCED_LEADER_EPOCH' ? 'NOT_COORDINATOR'
        : code === 'UNKNOWN_TOPIC_OR_PARTITION' || code === 'NOT_ENOUGH_REPLICAS' || code === 'NOT_ENOUGH_REPLICAS_AFTER_APPEND' || code === 'REQUEST_TIMED_OUT' ? 'COORDINATOR_NOT_AVAILABLE'
        : code === 'MESSAGE_TOO_LARGE' || code === 'RECORD_LIST_TOO_LARGE' ? 'INVALID_COMMIT_OFFSET_SIZE'
        : code;
      throw new ApiError(mapped as Exclude<ErrorCodeName, 'NONE'>, `writing to ${OFFSETS_TOPIC}-${shard.partition}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    assert(result !== undefined && Number.isSafeInteger(result.baseOffset) && result.baseOffset >= 0, `append to ${OFFSETS_TOPIC}-${shard.partition} answered base offset ${result?.baseOffset}`);
    return result.baseOffset;
  }

  // ---- requests -------------------------------------------------------------------------------------

  async joinGroup(groupId: string, input: Omit<JoinInput, 'requestId' | 'newMemberId'>, signal?: AbortSignal): Promise<JoinReply> {
    const shard = this.shardFor(groupId);
    const requestId = randomUUID();
    const clientPrefix = input.clientId === '' ? 'member' : input.clientId;
    const reply = new Promise<JoinReply>((resolve) => this.parked.set(requestId, resolve));
    const group = shard.groups.get(groupId) ?? newGroup(groupId, this.deps.nowMs());
    this.commitStep(shard, join(group, { ...input, requestId, newMemberId: `${clientPrefix}-${randomUUID()}` }, this.ctx()));
    const onAbort = (): void => this.answer({ type: 'join', requestId, error: 'REQUEST_TIMED_OUT', memberId: input.memberId, generation: -1, protocolName: '', rebalanceProtocol: '', leaderId: '', members: [] });
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await reply;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  syncGroup(groupId: string, input: { memberId: string; groupInstanceId: string | null; generation: number }): { error: ErrorCodeName | null; assignment: readonly TopicPartition[]; revoked: readonly TopicPartition[] } {
    const shard = this.shardFor(groupId);
    const group = shard.groups.get(groupId);
    if (group === undefined) return { error: 'UNKNOWN_MEMBER_ID', assignment: [], revoked: [] };
    const out = sync(group, input, this.ctx());
    this.commitStep(shard, out.step);
    return { error: out.error, assignment: out.assignment, revoked: out.revoked };
  }

  heartbeat(groupId: string, input: { memberId: string; groupInstanceId: string | null; generation: number }): ErrorCodeName | null {
    const shard = this.shardFor(groupId);
    const group = shard.groups.get(groupId);
    if (group === undefined) return 'UNKNOWN_MEMBER_ID';
    const out = heartbeat(group, input, this.deps.nowMs());
    shard.groups.set(groupId, out.group);
    return out.error;
  }

  leaveGroup(groupId: string, input: { memberId: string; groupInstanceId: string | null }): ErrorCodeName | null {
    const shard = this.shardFor(groupId);
    const group = shard.groups.get(groupId);
    if (group === undefined) return 'UNKNOWN_MEMBER_ID';
    const out = leave(group, input, this.ctx());
    this.commitStep(shard, out.step);
    return out.error;
  }

  /** Validates, writes with acks=all, then applies: a commit is visible only once it is durable. */
  async commitOffsets(groupId: string, input: { memberId: string; groupInstanceId: string | null; generation: number },
    commits: readonly OffsetCommitEntry[]): Promise<Map<string, ErrorCodeName | null>> {
    const shard = this.shardFor(groupId);
    const group = shard.groups.get(groupId) ?? newGroup(groupId, this.deps.nowMs());
    const { results, accepted } = this.checkCommits(commits, validateCommit(group, input));
    if (accepted.length === 0) return results;
    const nowMs = this.deps.nowMs();
    let recordOffset: number;
    try {
      recordOffset = await this.append(shard, accepted.map((c) => offsetRecord(groupId, c, { offset: c.offset, metadata: c.metadata, commitTimestampMs: nowMs })));
    } catch (err) {
      const code = errorCodeOf(err);
      for (const c of accepted) results.set(offsetKey(c.topic, c.partition), code);
      return results;
    }
    if (this.shards.get(shard.partition) !== shard) return results; // unloaded meanwhile: the next load replays it
    shard.groups.set(groupId, applyCommit(shard.groups.get(groupId) ?? group, accepted, nowMs, input.memberId, recordOffset));
    return results;
  }

  /** Per partition (by `topic\0partition`): `error` for all, else the partition's own check. */
  private checkCommits(commits: readonly OffsetCommitEntry[], error: ErrorCodeName | null): { results: Map<string, ErrorCodeName | null>; accepted: OffsetCommitEntry[] } {
    const results = new Map<string, ErrorCodeName | null>();
    const accepted: OffsetCommitEntry[] = [];
    for (const c of commits) {
      const own = error ?? validateOffsetMetadata(c.metadata)
        ?? (this.deps.metadata.partition(c.topic, c.partition) === undefined ? 'UNKNOWN_TOPIC_OR_PARTITION' : null)
        ?? (!Number.isSafeInteger(c.offset) || c.offset < 0 ? 'INVALID_COMMIT_OFFSET_SIZE' : null);
      results.set(offsetKey(c.topic, c.partition), own);
      if (own === null) accepted.push(c);
    }
    return { results, accepted };
  }

  /**
   * TxnOffsetCommit: fences the consumer by its group metadata (KIP-447), asks the transaction
   * coordinator whether this group's offsets partition is in the producer's ongoing transaction, then
   * writes the offsets as ONE transactional batch of the producer (acks=all). They stay pending until
   * the producer's marker follows in this partition (onTxnMarker; a load replays it from the log).
   */
  async txnCommitOffsets(groupId: string, input: TxnOffsetCommitInput, commits: readonly OffsetCommitEntry[]): Promise<Map<string, ErrorCodeName | null>> {
    const shard = this.shardFor(groupId);
    const fenced = (): ErrorCodeName | null => validateTxnCommit(shard.groups.get(groupId) ?? newGroup(groupId, this.deps.nowMs()), input);
    const { results, accepted } = this.checkCommits(commits, fenced());
    if (accepted.length === 0) return results;
    const failAll = (code: ErrorCodeName): Map<string, ErrorCodeName | null> => {
      for (const c of accepted) results.set(offsetKey(c.topic, c.partition), code);
      return results;
    };
    const verifier = this.deps.txnVerifier;
    if (verifier === undefined) return failAll('INVALID_TXN_STATE');
    const unverified = await verifier.verify({
      transactionalId: input.transactionalId, producerId: input.producerId, producerEpoch: input.producerEpoch, topic: OFFSETS_TOPIC, partition: shard.partition,
    });
    if (unverified !== undefined) return failAll(unverified);
    // The verification took a round trip: the shard or the group may have moved on meanwhile.
    if (this.shards.get(shard.partition) !== shard) return failAll('NOT_COORDINATOR');
    const again = fenced();
    if (again !== null) return failAll(again);
    const nowMs = this.deps.nowMs();
    let writing = shard.txnWrites.get(input.producerId);
    if (writing === undefined) shard.txnWrites.set(input.producerId, (writing = { writes: 0, markers: [] }));
    writing.writes++;
    let recordOffset: number;
    try {
      recordOffset = await this.append(shard, accepted.map((c) => offsetRecord(groupId, c, { offset: c.offset, metadata: c.metadata, commitTimestampMs: nowMs })), input);
    } catch (err) {
      // Timed out (or committed with too few replicas): the batch may be in the log, so only a load
      // knows whether it is pending. Anything else never reached the log.
      const cause = errorCodeOf((err as { cause?: unknown }).cause ?? err);
      if ((cause === 'REQUEST_TIMED_OUT' || cause === 'NOT_ENOUGH_REPLICAS_AFTER_APPEND') && this.shards.get(shard.partition) === shard) {
        this.deps.logger.warn({ partition: shard.partition, producerId: input.producerId, cause }, 'transactional commit outcome unknown; loading the offsets partition again');
        this.unload(shard, 'NOT_COORDINATOR');
      }
      return failAll(errorCodeOf(err));
    } finally {
      if (--writing.writes === 0 && shard.txnWrites.get(input.producerId) === writing) shard.txnWrites.delete(input.producerId);
    }
    if (this.shards.get(shard.partition) !== shard) return results; // unloaded meanwhile: the next load replays it
    stageTxnOffsets(shard, groupId, () => newGroup(groupId, nowMs), input.producerId, accepted, recordOffset, nowMs);
    // A marker committed while the append waited for its acks may already have been reported.
    for (const marker of writing.markers) if (marker.offset > recordOffset) this.applyMarker(shard, marker);
    return results;
  }

  /**
   * The committed offsets (-1 = none). With `requireStable`, a partition with a transactional commit
   * pending answers UNSTABLE_OFFSET_COMMIT (retriable) instead; for the whole group (`partitions` null)
   * such partitions are listed even before their first commit, so a consumer never starts from its reset policy.
   */
  fetchOffsets(groupId: string, partitions: readonly TopicPartition[] | null, requireStable = false): { topic: string; partition: number; offset: number; metadata: string; error: ErrorCodeName | null }[] {
    const shard = this.shardFor(groupId);
    const group = shard.groups.get(groupId);
    const offsets = group?.offsets ?? new Map();
    const answer = (tp: TopicPartition): { topic: string; partition: number; offset: number; metadata: string; error: ErrorCodeName | null } => {
      if (requireStable && group !== undefined && hasPendingTxnOffset(group, tp)) return { topic: tp.topic, partition: tp.partition, offset: -1, metadata: '', error: 'UNSTABLE_OFFSET_COMMIT' };
      const o = offsets.get(offsetKey(tp.topic, tp.partition));
      return { topic: tp.topic, partition: tp.partition, offset: o?.offset ?? -1, metadata: o?.metadata ?? '', error: null };
    };
    if (partitions !== null) return partitions.map(answer);
    const all = new Map<string, TopicPartition>();
    for (const o of offsets.values()) all.set(offsetKey(o.topic, o.partition), o);
    if (requireStable && group !== undefined) {
      for (const byPartition of group.pendingTxnOffsets.values()) for (const [key, p] of byPartition) all.set(key, p);
    }
    return [...all.values()].map(answer);
  }

  /** Groups of every offsets partition this broker leads and has loaded. */
  listGroups(): { groupId: string; state: string; protocolType: string }[] {
    const out: { groupId: string; state: string; protocolType: string }[] = [];
    for (const shard of this.shards.values()) {
      if (shard.status !== 'ready') continue;
      for (const g of shard.groups.values()) out.push({ groupId: g.groupId, state: g.state, protocolType: g.protocolType });
    }
    return out.sort((a, b) => (a.groupId < b.groupId ? -1 : 1));
  }

  describeGroup(groupId: string): Group {
    const shard = this.shardFor(groupId);
    return shard.groups.get(groupId) ?? { ...newGroup(groupId, this.deps.nowMs()), state: 'Dead' };
  }

  deleteGroup(groupId: string): ErrorCodeName | null {
    const shard = this.shardFor(groupId);
    const group = shard.groups.get(groupId);
    if (group === undefined) return 'GROUP_ID_NOT_FOUND';
    const out = deleteGroup(group, this.ctx());
    this.commitStep(shard, out.step);
    return out.error;
  }
}
