// Group membership of a subscribed Consumer: join/sync with the coordinator (which computes the
// assignment), a background heartbeat every heartbeat.interval.ms, commits, and leaving on close.
//
// The consumer drives it from poll(): `poll()` rejoins when needed and hands the new assignment to the
// consumer through `ConsumerGroupHost`, calling the rebalance listener (revoked before, assigned after;
// `lost` when the coordinator no longer knows us, so the partitions may already be someone else's).
// Eager strategies give up everything before rejoining; cooperative-sticky keeps what stays and gives up
// only what the coordinator names as revoked (and then rejoins for the follow-up rebalance).
import { tributary } from '@tributary/protocol';
import type { Cluster } from './cluster.js';
import type { ConsumerConfig } from './config.js';
import { BrokerError, ClientClosedError, IllegalStateError, TributaryClientError, errorFromWire } from './errors.js';
import { GroupRpc } from './group-rpc.js';
import type { Logger } from './logger.js';
import { backoffMs } from './retry.js';
import { errorName } from './wire-errors.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface GroupTopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface OffsetAndMetadata {
  /** The next offset to read. */
  readonly offset: number;
  readonly metadata?: string;
}

/**
 * A group member's identity for a transactional offset commit (KIP-447): the group coordinator refuses
 * the commit of a member that is no longer in this generation (a zombie after a rebalance).
 */
export interface ConsumerGroupMetadata {
  readonly groupId: string;
  /** -1 before the first join. */
  readonly generationId: number;
  /** '' before the first join. */
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

export interface RebalanceListener {
  /** Before partitions go to another member: commit their progress here (auto commit already does). */
  onPartitionsRevoked?(partitions: readonly GroupTopicPartition[]): void | Promise<void>;
  onPartitionsAssigned?(partitions: readonly GroupTopicPartition[]): void | Promise<void>;
  /** The membership was lost (session expired, fenced): the partitions may be owned elsewhere already. */
  onPartitionsLost?(partitions: readonly GroupTopicPartition[]): void | Promise<void>;
}

/** What the group needs from its consumer. */
export interface ConsumerGroupHost {
  assignment(): GroupTopicPartition[];
  /** Replaces the assignment; `positions` sets where newly assigned partitions start (absent: auto.offset.reset). */
  setAssignment(tps: readonly GroupTopicPartition[], positions: ReadonlyMap<string, number>): void;
  /** Positions to auto-commit (the next offset poll would return) for the assigned partitions. */
  consumedPositions(): Map<string, OffsetAndMetadata & GroupTopicPartition>;
  wake(): void;
}

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
const REJOIN_CODES = new Set(['REBALANCE_IN_PROGRESS']);
const LOST_CODES = new Set(['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'FENCED_INSTANCE_ID']);

export class ConsumerGroup {
  private readonly rpc: GroupRpc;
  private memberId = '';
  private generation = -1;
  /**
   * The identity of the last completed join (SyncGroup answered): what groupMetadata() reports. Unlike
   * memberId/generation it is not cleared when the coordinator says the member is gone, so a
   * transaction over records read in that generation is fenced by it (KIP-447) instead of committing
   * anonymously; the next poll() rejoins and replaces it.
   */
  private joined: { readonly memberId: string; readonly generation: number } = { memberId: '', generation: -1 };
  private protocol: 'eager' | 'cooperative' = 'eager';
  private rejoinNeeded = true;
  private lost = false;
  private readonly heartbeatTimer: NodeJS.Timeout;
  private heartbeatInFlight = false;
  private lastAutoCommitMs = Date.now();
  private lastPollMs = Date.now();
  private closed = false;

  constructor(
    private readonly args: {
      readonly cluster: Cluster;
      readonly config: ConsumerConfig;
      readonly logger: Logger;
      readonly host: ConsumerGroupHost;
      /** Topic names, or a pattern resolved against the cluster's topics at each join. */
      readonly subscription: readonly string[] | RegExp;
      readonly listener: RebalanceListener | undefined;
    },
  ) {
    if (args.config.groupId === undefined) throw new IllegalStateError('subscribe: group.id is required');
    this.rpc = new GroupRpc(args.cluster, args.config.groupId);
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), args.config.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
  }

  get groupId(): string {
    return this.args.config.groupId!;
  }

  get generationId(): number {
    return this.generation;
  }

  /** A rebalance is under way: the next poll rejoins. */
  get needsRejoin(): boolean {
    return this.rejoinNeeded;
  }

  get member(): string {
    return this.memberId;
  }

  private callOptions<Res>(errorOf: (r: Res) => number, timeoutMs = this.args.config.requestTimeoutMs) {
    return { deadlineMs: Date.now() + timeoutMs, requestTimeoutMs: this.args.config.requestTimeoutMs, errorOf, isClosed: () => this.closed };
  }

  private async heartbeat(): Promise<void> {
    if (this.closed || this.heartbeatInFlight || this.memberId === '' || this.rejoinNeeded) return;
    if (Date.now() - this.lastPollMs > this.args.config.maxPollIntervalMs) {
      // max.poll.interval.ms exceeded: leave so the others can take over (Kafka's poll timeout).
      this.args.logger.warn({ component: 'consumer-group', group: this.groupId }, 'max.poll.interval.ms exceeded; leaving the group');
      await this.leave().catch(() => undefined);
      // Our partitions may be someone else's by the time poll runs again: report them lost, do not commit.
      this.lost = true;
      this.rejoinNeeded = true;
      return;
    }
    this.heartbeatInFlight = true;
    try {
      const response = await this.rpc.call<tributary.v1.HeartbeatResponse>('heartbeat',
        { groupId: this.groupId, memberId: this.memberId, generationId: this.generation, groupInstanceId: this.args.config.groupInstanceId ?? '' },
        this.callOptions<tributary.v1.HeartbeatResponse>((r) => r.error?.code ?? 0, this.args.config.heartbeatIntervalMs));
      this.onMembershipError(response.error?.code ?? 0);
    } catch (error) {
      this.args.logger.debug({ component: 'consumer-group', err: error }, 'heartbeat failed');
    } finally {
      this.heartbeatInFlight = false;
    }
  }

  private onMembershipError(code: number): void {
    if (code === 0) return;
    const name = errorName(code);
    if (REJOIN_CODES.has(name)) this.rejoinNeeded = true;
    else if (LOST_CODES.has(name)) {
      if (name === 'UNKNOWN_MEMBER_ID') this.memberId = '';
      this.generation = -1;
      this.rejoinNeeded = true;
      this.lost = true;
    }
    this.args.host.wake();
  }

  /** Called at each poll: auto-commits when due and (re)joins when needed. */
  async poll(): Promise<void> {
    if (this.closed) throw new ClientClosedError('consumer');
    this.lastPollMs = Date.now();
    if (this.args.config.enableAutoCommit && Date.now() - this.lastAutoCommitMs >= this.args.config.autoCommitIntervalMs && this.generation >= 0 && !this.rejoinNeeded) {
      this.lastAutoCommitMs = Date.now();
      void this.commit(undefined).catch((error: unknown) => this.args.logger.debug({ component: 'consumer-group', err: error }, 'auto commit failed'));
    }
    while (this.rejoinNeeded && !this.closed) await this.joinAndSync();
  }

  private async topics(): Promise<string[]> {
    const sub = this.args.subscription;
    if (Array.isArray(sub)) return [...sub];
    const pattern = sub as RegExp;
    const response = await this.args.cluster.onAnyBroker((address) =>
      this.args.cluster.callBroker<tributary.v1.IMetadataRequest, tributary.v1.MetadataResponse>(address, 'metadata', { topics: [] }));
    return response.topics.map((t) => t.name ?? '').filter((name) => name !== '' && pattern.test(name)).sort();
  }

  private async joinAndSync(): Promise<void> {
    const host = this.args.host;
    const before = host.assignment();
    if (this.lost) {
      this.lost = false;
      if (before.length > 0) await this.args.listener?.onPartitionsLost?.(before);
      host.setAssignment([], new Map());
    } else if (this.protocol === 'eager' && before.length > 0) {
      await this.revoke(before);
      host.setAssignment([], new Map());
    }
    const topics = await this.topics();
    this.args.cluster.addInterest(topics);
    const owned = host.assignment();
    const joinTimeoutMs = this.args.config.maxPollIntervalMs + this.args.config.requestTimeoutMs;
    const join = await this.rpc.call<tributary.v1.JoinGroupResponse>('joinGroup', {
      groupId: this.groupId, memberId: this.memberId, groupInstanceId: this.args.config.groupInstanceId ?? '', clientId: this.args.config.clientId,
      sessionTimeoutMs: this.args.config.sessionTimeoutMs, rebalanceTimeoutMs: this.args.config.maxPollIntervalMs, protocolType: 'consumer',
      assignmentStrategies: [...this.args.config.partitionAssignmentStrategy], topics,
      ownedPartitions: owned, generationId: this.generation,
    }, { ...this.callOptions<tributary.v1.JoinGroupResponse>((r) => r.error?.code ?? 0), requestTimeoutMs: joinTimeoutMs });
    const joinCode = join.error?.code ?? 0;
    if (joinCode !== 0) {
      const name = errorName(joinCode);
      if (name === 'UNKNOWN_MEMBER_ID') this.memberId = '';
      if (LOST_CODES.has(name) || REJOIN_CODES.has(name)) {
        if (name === 'FENCED_INSTANCE_ID') throw errorFromWire(joinCode, join.error?.message ?? '', { context: 'join group' });
        return; // try again
      }
      throw errorFromWire(joinCode, join.error?.message ?? '', { context: `join group ${this.groupId}` });
    }
    this.memberId = join.memberId;
    this.generation = join.generationId;
    this.protocol = join.rebalanceProtocol === 'cooperative' ? 'cooperative' : 'eager';
    const synced = await this.rpc.call<tributary.v1.SyncGroupResponse>('syncGroup',
      { groupId: this.groupId, memberId: this.memberId, generationId: this.generation, groupInstanceId: this.args.config.groupInstanceId ?? '' },
      this.callOptions<tributary.v1.SyncGroupResponse>((r) => r.error?.code ?? 0));
    const syncCode = synced.error?.code ?? 0;
    if (syncCode !== 0) {
      this.onMembershipError(syncCode);
      if (!REJOIN_CODES.has(errorName(syncCode)) && !LOST_CODES.has(errorName(syncCode))) throw errorFromWire(syncCode, synced.error?.message ?? '', { context: 'sync group' });
      return;
    }
    const assignment = synced.assignment.map((tp) => ({ topic: tp.topic ?? '', partition: tp.partition ?? 0 }));
    const assignedKeys = new Set(assignment.map((tp) => key(tp.topic, tp.partition)));
    const current = host.assignment();
    const revoked = current.filter((tp) => !assignedKeys.has(key(tp.topic, tp.partition)));
    if (revoked.length > 0) await this.revoke(revoked);
    const currentKeys = new Set(current.map((tp) => key(tp.topic, tp.partition)));
    const added = assignment.filter((tp) => !currentKeys.has(key(tp.topic, tp.partition)));
    const positions = new Map<string, number>();
    if (added.length > 0) {
      for (const c of await this.committed(added)) if (c.offset >= 0) positions.set(key(c.topic, c.partition), c.offset);
    }
    host.setAssignment(assignment, positions);
    this.joined = { memberId: this.memberId, generation: this.generation };
    this.rejoinNeeded = false;
    this.lastAutoCommitMs = Date.now();
    this.args.logger.info({ component: 'consumer-group', group: this.groupId, memberId: this.memberId, generation: this.generation, assignment: assignment.length, revoked: revoked.length }, 'joined group');
    if (added.length > 0) await this.args.listener?.onPartitionsAssigned?.(added);
    // A rebalance may have started meanwhile (cooperative follow-up): the next heartbeat tells us.
  }

  private async revoke(tps: readonly GroupTopicPartition[]): Promise<void> {
    if (this.args.config.enableAutoCommit) {
      const positions = this.args.host.consumedPositions();
      const mine = tps.map((tp) => positions.get(key(tp.topic, tp.partition))).filter((p) => p !== undefined);
      if (mine.length > 0) await this.commit(mine).catch((error: unknown) => this.args.logger.warn({ component: 'consumer-group', err: error }, 'commit before revocation failed'));
    }
    await this.args.listener?.onPartitionsRevoked?.(tps);
  }

  /** Commits `offsets` (default: the consumed positions of every assigned partition). */
  async commit(offsets: readonly (GroupTopicPartition & OffsetAndMetadata)[] | undefined): Promise<void> {
    const list = offsets ?? [...this.args.host.consumedPositions().values()];
    if (list.length === 0) return;
    const byTopic = new Map<string, tributary.v1.IOffsetCommitPartition[]>();
    for (const o of list) {
      let parts = byTopic.get(o.topic);
      if (parts === undefined) byTopic.set(o.topic, (parts = []));
      parts.push({ partition: o.partition, committedOffset: o.offset, metadata: o.metadata ?? '' });
    }
    const response = await this.rpc.call<tributary.v1.OffsetCommitResponse>('offsetCommit', {
      groupId: this.groupId, generationId: this.generation, memberId: this.memberId, groupInstanceId: this.args.config.groupInstanceId ?? '',
      topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
    }, this.callOptions<tributary.v1.OffsetCommitResponse>((r) => r.error?.code ?? r.topics[0]?.partitions?.[0]?.error?.code ?? 0));
    const top = response.error?.code ?? 0;
    if (top !== 0) throw errorFromWire(top, response.error?.message ?? '', { context: 'commit' });
    for (const t of response.topics) {
      for (const p of t.partitions ?? []) {
        const code = p.error?.code ?? 0;
        if (code === 0) continue;
        this.onMembershipError(code);
        throw errorFromWire(code, p.error?.message ?? '', { topic: t.topic ?? '', partition: p.partition ?? 0, context: `commit ${t.topic}-${p.partition}` });
      }
    }
  }

  /** `groupMetadata()`: who this member is in which generation. */
  metadata(): ConsumerGroupMetadata {
    return { groupId: this.groupId, generationId: this.joined.generation, memberId: this.joined.memberId, groupInstanceId: this.args.config.groupInstanceId ?? null };
  }

  /**
   * The committed offsets of `tps`. With isolation.level=read_committed they are asked with
   * require_stable (KIP-447): a partition whose transactional commit is still pending answers
   * UNSTABLE_OFFSET_COMMIT, retried with backoff for up to max.poll.interval.ms — starting from the
   * commit before it would reprocess what the pending transaction already consumed.
   */
  async committed(tps: readonly GroupTopicPartition[]): Promise<(GroupTopicPartition & { offset: number; metadata: string })[]> {
    const byTopic = new Map<string, number[]>();
    for (const tp of tps) {
      let parts = byTopic.get(tp.topic);
      if (parts === undefined) byTopic.set(tp.topic, (parts = []));
      parts.push(tp.partition);
    }
    const requireStable = this.args.config.isolationLevel === 'read_committed';
    const deadlineMs = Date.now() + this.args.config.maxPollIntervalMs;
    for (let attempt = 1; ; attempt++) {
      const response = await this.rpc.call<tributary.v1.OffsetFetchResponse>('offsetFetch',
        { groupId: this.groupId, topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })), requireStable },
        this.callOptions<tributary.v1.OffsetFetchResponse>((r) => r.error?.code ?? 0));
      const code = response.error?.code ?? 0;
      const unstable = errorName(code) === 'UNSTABLE_OFFSET_COMMIT'
        || response.topics.some((t) => (t.partitions ?? []).some((p) => errorName(p.error?.code ?? 0) === 'UNSTABLE_OFFSET_COMMIT'));
      if (unstable && !this.closed) {
        const waitMs = backoffMs(this.args.config, attempt, Math.random());
        if (Date.now() + waitMs < deadlineMs) {
          this.args.logger.debug({ component: 'consumer-group', group: this.groupId, attempt }, 'committed offsets unstable (a transaction is pending); retrying');
          await sleep(waitMs);
          continue;
        }
      }
      if (code !== 0) throw errorFromWire(code, response.error?.message ?? '', { context: 'offset fetch' });
      if (unstable) throw errorFromWire(tributary.v1.ErrorCode.UNSTABLE_OFFSET_COMMIT, `a transactional offset commit of group ${this.groupId} stayed pending for max.poll.interval.ms`, { context: 'offset fetch' });
      return response.topics.flatMap((t) => (t.partitions ?? []).map((p) => ({ topic: t.topic ?? '', partition: p.partition ?? 0, offset: Number(p.committedOffset ?? -1), metadata: p.metadata ?? '' })));
    }
  }

  private async leave(): Promise<void> {
    if (this.memberId === '') return;
    const memberId = this.memberId;
    this.memberId = '';
    this.generation = -1;
    await this.rpc.call<tributary.v1.LeaveGroupResponse>('leaveGroup', { groupId: this.groupId, memberId, groupInstanceId: '' },
      this.callOptions<tributary.v1.LeaveGroupResponse>((r) => r.error?.code ?? 0));
  }

  /**
   * Stops heartbeating. With `leaveGroup` (the default) commits (auto commit) and leaves, so the others
   * rebalance at once; without it the coordinator notices after session.timeout.ms (like a crash).
   */
  async close(options: { readonly leaveGroup: boolean }): Promise<void> {
    if (this.closed) return;
    clearInterval(this.heartbeatTimer);
    if (options.leaveGroup) {
      try {
        if (this.args.config.enableAutoCommit && this.generation >= 0 && !this.rejoinNeeded) await this.commit(undefined);
      } catch (error) {
        this.args.logger.warn({ component: 'consumer-group', err: error }, 'final commit failed');
      }
      // Static members keep their place across restarts: they do not leave (KIP-345).
      if (this.args.config.groupInstanceId === undefined) {
        await this.leave().catch((error: unknown) => this.args.logger.debug({ component: 'consumer-group', err: error }, 'leave failed'));
      }
    }
    this.closed = true;
  }
}

export function isGroupError(error: unknown, name: string): boolean {
  return error instanceof TributaryClientError && (error.code === name || (error instanceof BrokerError && error.code === name));
}
