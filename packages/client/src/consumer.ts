// The Consumer (manual assignment with `assign`, or a consumer group's with `subscribe`, both through
// one SubscriptionState). `poll` returns buffered records or fetches from partition leaders; fetches run in
// the background between polls and are bounded per leader to one in flight.
//
// Positions: each assigned partition has a fetch position (next offset to fetch) and the leader epoch of
// the last batch fetched (KIP-320's lastFetchedEpoch). Records below the fetch position in a returned
// batch (a fetch returns whole batches, which can start earlier) are skipped. Truncation: when the leader
// answers with a diverging epoch whose end offset is below our position, the consumer throws
// LogTruncationError if `auto.offset.reset=none`, otherwise it logs and seeks back to that end offset
// (the first offset that may differ), as the Java client does.
//
// Why one file past 600 lines: assignment, poll and fetch all act on the per-partition positions and
// buffers (SubscriptionState) and their generations; the group protocol lives in consumer-group.ts,
// decoding in codec.ts, offset lookup in list-offsets.ts.
import { tributary, type RecordBatch } from '@tributary/protocol';
import { AbortedTransactionFilter } from './aborted-transactions.js';
import { Cluster } from './cluster.js';
import { decodeFetchedBatches } from './codec.js';
import { parseConsumerConfig, type AutoOffsetReset, type ConsumerConfig, type ConsumerOptions } from './config.js';
import {
  ClientClosedError, ConcurrentPollError, CorruptRecordError, IllegalStateError, LogTruncationError, MessageTooLargeError,
  NoOffsetForPartitionError, OffsetOutOfRangeError, TributaryClientError, UnknownTopicOrPartitionError,
  errorFromWire, needsMetadataRefresh,
} from './errors.js';
import { ConsumerGroup, type ConsumerGroupMetadata, type OffsetAndMetadata, type RebalanceListener } from './consumer-group.js';
import { listOffsets } from './list-offsets.js';
import { SILENT_LOGGER, type ClientRuntimeOptions, type Logger } from './logger.js';
import { backoffMs } from './retry.js';

export const DEFAULT_POLL_TIMEOUT_MS = 1_000;

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export type TimestampType = 'CreateTime' | 'LogAppendTime';

export interface ConsumerRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly { readonly key: string; readonly value: Buffer | null }[];
  readonly timestamp: number;
  readonly timestampType: TimestampType;
  /** Leader epoch of the batch the record was written in (-1 if unknown). */
  readonly leaderEpoch: number;
}

export interface OffsetAndTimestamp {
  readonly offset: number;
  readonly timestamp: number;
}

type ResetStrategy = 'earliest' | 'latest';

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  /** Next offset to fetch; null until reset or seek. */
  fetchPosition: number | null;
  /** Leader epoch of the last fetched batch (-1 = none): sent as lastFetchedEpoch. */
  lastFetchedEpoch: number;
  pendingReset: ResetStrategy | null;
  paused: boolean;
  /** Fetched records not yet returned by poll (all at offsets >= the consumed position). */
  buffered: ConsumerRecord[];
  /** Bumped by seek/reset: a fetch response for an older generation is discarded. */
  generation: number;
  /** Not fetched before this time (backoff after an error). */
  nextFetchAtMs: number;
  fetchErrors: number;
  highWatermark: number;
}

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** Partition assignment and positions, set by `assign` or by the group's rebalances under `subscribe`. */
export class SubscriptionState {
  private readonly states = new Map<string, PartitionState>();

  /** Replaces the assignment; partitions kept keep their positions. */
  assign(tps: readonly TopicPartition[], defaultReset: AutoOffsetReset): void {
    const next = new Map<string, PartitionState>();
    for (const tp of tps) {
      if (typeof tp.topic !== 'string' || tp.topic === '' || !Number.isInteger(tp.partition) || tp.partition < 0) {
        throw new IllegalStateError(`assign: invalid topic-partition ${JSON.stringify(tp)}`);
      }
      const key = tpKey(tp.topic, tp.partition);
      next.set(key, this.states.get(key) ?? {
        topic: tp.topic, partition: tp.partition, fetchPosition: null, lastFetchedEpoch: -1,
        pendingReset: defaultReset === 'none' ? null : defaultReset, paused: false, buffered: [], generation: 0,
        nextFetchAtMs: 0, fetchErrors: 0, highWatermark: -1,
      });
    }
    this.states.clear();
    for (const [k, v] of next) this.states.set(k, v);
  }

  get(topic: string, partition: number): PartitionState | undefined {
    return this.states.get(tpKey(topic, partition));
  }

  require(tp: TopicPartition, operation: string): PartitionState {
    const s = this.get(tp.topic, tp.partition);
    if (s === undefined) throw new IllegalStateError(`${operation}: ${tp.topic}-${tp.partition} is not assigned to this consumer`);
    return s;
  }

  all(): PartitionState[] {
    return [...this.states.values()];
  }

  get size(): number {
    return this.states.size;
  }

  seek(s: PartitionState, offset: number): void {
    s.fetchPosition = offset;
    s.lastFetchedEpoch = -1;
    s.pendingReset = null;
    s.buffered = [];
    s.generation += 1;
    s.nextFetchAtMs = 0;
  }

  requestReset(s: PartitionState, strategy: ResetStrategy): void {
    s.fetchPosition = null;
    s.pendingReset = strategy;
    s.buffered = [];
    s.generation += 1;
  }
}

function toConsumerRecord(topic: string, partition: number, batch: RecordBatch, r: RecordBatch['records'][number]): ConsumerRecord {
  return {
    topic,
    partition,
    offset: r.offset,
    key: r.key,
    value: r.value,
    headers: r.headers,
    timestamp: r.timestamp,
    timestampType: batch.timestampType === 'log-append' ? 'LogAppendTime' : 'CreateTime',
    leaderEpoch: batch.partitionLeaderEpoch,
  };
}

export class Consumer implements AsyncIterable<ConsumerRecord> {
  readonly config: ConsumerConfig;
  private readonly logger: Logger;
  private readonly cluster: Cluster;
  private readonly subscriptions = new SubscriptionState();
  private readonly fetchesInFlight = new Set<string>();
  private polling = false;
  private closed = false;
  /** An error from a background fetch, thrown by the next poll. */
  private pendingError: Error | undefined;
  private wakeWaiter: (() => void) | undefined;
  /** Round-robin start for fairness across partitions when draining buffers. */
  private drainCursor = 0;
  /** Set by subscribe: group membership drives the assignment. */
  private group: ConsumerGroup | undefined;

  constructor(options: ConsumerOptions = {}, runtime: ClientRuntimeOptions = {}) {
    this.config = parseConsumerConfig(options);
    this.logger = runtime.logger ?? SILENT_LOGGER;
    this.cluster = new Cluster(this.config, this.logger, 'consumer');
  }

  // ---- assignment, positions ------------------------------------------------------------------

  /**
   * Joins the consumer group `group.id` and consumes what its coordinator assigns; `topics` is a list of
   * names or a RegExp over topic names (resolved at each rebalance). Partitions without a committed offset
   * start at auto.offset.reset.
   */
  subscribe(topics: readonly string[] | RegExp, listener?: RebalanceListener): void {
    this.ensureOpen();
    if (this.group !== undefined) throw new IllegalStateError('subscribe: already subscribed');
    if (this.subscriptions.size > 0) throw new IllegalStateError('subscribe: partitions were assigned manually');
    this.group = new ConsumerGroup({
      cluster: this.cluster, config: this.config, logger: this.logger, subscription: topics, listener,
      host: {
        assignment: () => this.assignment(),
        setAssignment: (tps, positions) => {
          this.subscriptions.assign(tps, this.config.autoOffsetReset);
          this.cluster.addInterest(tps.map((tp) => tp.topic));
          for (const [k, offset] of positions) {
            const s = this.subscriptions.all().find((x) => tpKey(x.topic, x.partition) === k);
            if (s !== undefined) this.subscriptions.seek(s, offset);
          }
        },
        consumedPositions: () => {
          const out = new Map<string, OffsetAndMetadata & TopicPartition>();
          for (const s of this.subscriptions.all()) {
            const offset = s.buffered[0]?.offset ?? s.fetchPosition;
            if (offset !== null) out.set(tpKey(s.topic, s.partition), { topic: s.topic, partition: s.partition, offset });
          }
          return out;
        },
        wake: () => this.wake(),
      },
    });
  }

  /** Commits (and waits for) `offsets` — next offsets to read — or else the consumed positions of every assigned partition. */
  async commit(offsets?: readonly (TopicPartition & OffsetAndMetadata)[]): Promise<void> {
    this.ensureOpen();
    await this.requireGroup('commit').commit(offsets);
  }

  /** Commits without waiting; failures go to `callback` (or are logged). */
  commitAsync(offsets?: readonly (TopicPartition & OffsetAndMetadata)[], callback?: (error: Error | undefined) => void): void {
    this.requireGroup('commitAsync').commit(offsets).then(() => callback?.(undefined), (error: unknown) => {
      if (callback !== undefined) callback(error instanceof Error ? error : new Error(String(error)));
      else this.logger.warn({ component: 'consumer', err: error }, 'async commit failed');
    });
  }

  /** The group's committed offsets (next offset to read; null when none). */
  async committed(tps: readonly TopicPartition[]): Promise<(TopicPartition & { offset: number | null; metadata: string })[]> {
    this.ensureOpen();
    const found = await this.requireGroup('committed').committed(tps);
    return found.map((c) => ({ topic: c.topic, partition: c.partition, offset: c.offset < 0 ? null : c.offset, metadata: c.metadata }));
  }

  /**
   * This member's group identity, for `producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata())`
   * (KIP-447: the group refuses a zombie's transactional commit). Needs group.id; before the first join
   * the generation is -1 and the member id ''.
   */
  groupMetadata(): ConsumerGroupMetadata {
    this.ensureOpen();
    if (this.config.groupId === undefined) throw new IllegalStateError('groupMetadata: needs group.id');
    return this.group?.metadata() ?? { groupId: this.config.groupId, generationId: -1, memberId: '', groupInstanceId: this.config.groupInstanceId ?? null };
  }

  private requireGroup(operation: string): ConsumerGroup {
    if (this.group === undefined) throw new IllegalStateError(`${operation}: needs subscribe() with group.id`);
    return this.group;
  }

  /** Manually assigns partitions (replacing the previous assignment). */
  assign(tps: readonly TopicPartition[]): void {
    this.ensureOpen();
    if (this.group !== undefined) throw new IllegalStateError('assign: the consumer is subscribed to a group');
    this.subscriptions.assign(tps, this.config.autoOffsetReset);
    this.cluster.addInterest(tps.map((tp) => tp.topic));
  }

  assignment(): TopicPartition[] {
    return this.subscriptions.all().map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  /** The next poll starts at `offset` for `tp`. */
  seek(tp: TopicPartition, offset: number): void {
    this.ensureOpen();
    if (!Number.isSafeInteger(offset) || offset < 0) throw new IllegalStateError(`seek: offset must be an integer >= 0, got ${offset}`);
    this.subscriptions.seek(this.subscriptions.require(tp, 'seek'), offset);
  }

  /** Lazily moves to the log start offset (resolved at the next poll or position call). */
  seekToBeginning(tps: readonly TopicPartition[] = this.assignment()): void {
    this.ensureOpen();
    for (const tp of tps) this.subscriptions.requestReset(this.subscriptions.require(tp, 'seekToBeginning'), 'earliest');
  }

  /** Lazily moves to the high watermark (the next offset to be written and committed). */
  seekToEnd(tps: readonly TopicPartition[] = this.assignment()): void {
    this.ensureOpen();
    for (const tp of tps) this.subscriptions.requestReset(this.subscriptions.require(tp, 'seekToEnd'), 'latest');
  }

  /** The offset of the next record poll will return for `tp` (resolving a pending reset first). */
  async position(tp: TopicPartition): Promise<number> {
    this.ensureOpen();
    const s = this.subscriptions.require(tp, 'position');
    await this.updatePositions([s]);
    const first = s.buffered[0];
    if (first !== undefined) return first.offset;
    if (s.fetchPosition === null) throw new NoOffsetForPartitionError(s.topic, s.partition);
    return s.fetchPosition;
  }

  /**
   * For each partition, the earliest offset whose timestamp is >= the given one, with that record's
   * timestamp; `offsetAndTimestamp` is null when no such record exists.
   */
  async offsetsForTimes(query: readonly { readonly topic: string; readonly partition: number; readonly timestamp: number }[]):
  Promise<{ readonly topic: string; readonly partition: number; readonly offsetAndTimestamp: OffsetAndTimestamp | null }[]> {
    this.ensureOpen();
    this.cluster.addInterest(query.map((q) => q.topic));
    const listed = await listOffsets(this.cluster, query.map((q) => ({ topic: q.topic, partition: q.partition, spec: { timestamp: q.timestamp } })),
      { isolationLevel: this.config.isolationLevel, timeoutMs: this.config.requestTimeoutMs });
    return listed.map((l) => ({
      topic: l.topic, partition: l.partition,
      offsetAndTimestamp: l.offset < 0 ? null : { offset: l.offset, timestamp: l.timestamp },
    }));
  }

  /** Paused partitions are not fetched and their buffered records are held back until resumed. */
  pause(tps: readonly TopicPartition[]): void {
    for (const tp of tps) this.subscriptions.require(tp, 'pause').paused = true;
  }

  resume(tps: readonly TopicPartition[]): void {
    for (const tp of tps) this.subscriptions.require(tp, 'resume').paused = false;
    this.wake();
  }

  paused(): TopicPartition[] {
    return this.subscriptions.all().filter((s) => s.paused).map((s) => ({ topic: s.topic, partition: s.partition }));
  }

  // ---- poll -------------------------------------------------------------------------------------

  /**
   * Returns up to `max.poll.records` records, waiting up to `timeoutMs` for some. Records of one
   * partition come in offset order. Rejects with ConcurrentPollError if a poll is already pending.
   */
  async poll(options: { timeoutMs?: number } = {}): Promise<ConsumerRecord[]> {
    if (this.polling) throw new ConcurrentPollError();
    this.ensureOpen();
    this.polling = true;
    try {
      return await this.pollOnce(options.timeoutMs ?? DEFAULT_POLL_TIMEOUT_MS);
    } finally {
      this.polling = false;
    }
  }

  /** Yields records one by one, polling as needed, until the consumer is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<ConsumerRecord> {
    while (!this.closed) {
      const records = await this.poll({ timeoutMs: DEFAULT_POLL_TIMEOUT_MS }).catch((error: unknown) => {
        if (error instanceof ClientClosedError) return [];
        throw error;
      });
      for (const r of records) {
        yield r;
        if (this.closed) return;
      }
    }
  }

  /**
   * Idempotent; a pending poll returns what it has. A group member commits (auto commit) and leaves the
   * group; `leaveGroup: false` just stops, as a crash would (the coordinator notices after session.timeout.ms).
   */
  async close(options: { readonly leaveGroup?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    await this.group?.close({ leaveGroup: options.leaveGroup ?? true });
    this.closed = true;
    this.wake();
    this.cluster.close();
    this.logger.debug({ component: 'consumer' }, 'consumer closed');
  }

  private ensureOpen(): void {
    if (this.closed) throw new ClientClosedError('consumer');
  }

  private async pollOnce(timeoutMs: number): Promise<ConsumerRecord[]> {
    if (this.group !== undefined) {
      await this.group.poll();
      if (this.subscriptions.size === 0) {
        await this.waitForData(Math.max(0, timeoutMs));
        return [];
      }
    }
    if (this.subscriptions.size === 0) throw new IllegalStateError('poll: no partitions assigned (call assign first)');
    const deadlineMs = Date.now() + Math.max(0, timeoutMs);
    await this.ensureMetadata(Math.max(0, timeoutMs));
    for (;;) {
      this.throwPendingError();
      const records = this.drainBuffered();
      if (records.length > 0) {
        this.sendFetches(); // prefetch while the caller processes these
        return records;
      }
      await this.updatePositions(this.subscriptions.all());
      this.sendFetches();
      const remainingMs = deadlineMs - Date.now();
      if (remainingMs <= 0 || this.closed) return [];
      await this.waitForData(remainingMs);
      if (this.closed || this.group?.needsRejoin === true) return [];
    }
  }

  private throwPendingError(): void {
    const e = this.pendingError;
    if (e !== undefined) {
      this.pendingError = undefined;
      throw e;
    }
  }

  private async ensureMetadata(maxWaitMs: number): Promise<void> {
    await this.cluster.maybeRefresh().catch(() => undefined);
    for (const s of this.subscriptions.all()) {
      const info = await this.cluster.topicInfo(s.topic, maxWaitMs);
      if (s.partition >= info.partitions.length) throw new UnknownTopicOrPartitionError(s.topic, s.partition);
    }
  }

  private drainBuffered(): ConsumerRecord[] {
    const out: ConsumerRecord[] = [];
    const states = this.subscriptions.all();
    const n = states.length;
    for (let i = 0; i < n && out.length < this.config.maxPollRecords; i++) {
      const s = states[(this.drainCursor + i) % n]!;
      if (s.paused || s.buffered.length === 0) continue;
      const take = s.buffered.splice(0, this.config.maxPollRecords - out.length);
      for (const r of take) out.push(r);
    }
    this.drainCursor = (this.drainCursor + 1) % Math.max(1, n);
    return out;
  }

  /** Resolves pending resets (auto.offset.reset, seekToBeginning/End) with ListOffsets. */
  private async updatePositions(states: readonly PartitionState[]): Promise<void> {
    const needing = states.filter((s) => s.fetchPosition === null);
    const resets: PartitionState[] = [];
    for (const s of needing) {
      if (s.pendingReset === null) throw new NoOffsetForPartitionError(s.topic, s.partition);
      resets.push(s);
    }
    if (resets.length === 0) return;
    const generations = resets.map((s) => s.generation);
    const listed = await listOffsets(this.cluster, resets.map((s) => ({ topic: s.topic, partition: s.partition, spec: s.pendingReset! })),
      { isolationLevel: this.config.isolationLevel, timeoutMs: this.config.requestTimeoutMs });
    resets.forEach((s, i) => {
      if (s.generation !== generations[i] || s.fetchPosition !== null) return; // seeked meanwhile
      const l = listed[i]!;
      this.logger.debug({ component: 'consumer', topic: s.topic, partition: s.partition, strategy: s.pendingReset, offset: l.offset }, 'position reset');
      this.subscriptions.seek(s, l.offset);
    });
  }

  private wake(): void {
    const w = this.wakeWaiter;
    this.wakeWaiter = undefined;
    w?.();
  }

  private waitForData(maxWaitMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wakeWaiter = undefined;
        resolve();
      }, maxWaitMs);
      this.wakeWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  // ---- fetch ------------------------------------------------------------------------------------

  private sendFetches(): void {
    if (this.closed) return;
    const nowMs = Date.now();
    const byAddress = new Map<string, PartitionState[]>();
    let needRefresh = false;
    for (const s of this.subscriptions.all()) {
      if (s.paused || s.fetchPosition === null || s.buffered.length > 0 || s.nextFetchAtMs > nowMs) continue;
      const p = this.cluster.metadata.partition(s.topic, s.partition);
      const address = p === undefined || p.leaderId < 0 ? undefined : this.cluster.addressOf(p.leaderId);
      if (address === undefined) {
        needRefresh = true;
        continue;
      }
      if (this.fetchesInFlight.has(address)) continue;
      let list = byAddress.get(address);
      if (list === undefined) byAddress.set(address, (list = []));
      list.push(s);
    }
    if (needRefresh) {
      this.cluster.requestRefresh();
      this.cluster.refresh().catch(() => undefined).finally(() => this.wake());
    }
    for (const [address, states] of byAddress) this.fetchFrom(address, states);
  }

  private fetchFrom(address: string, states: PartitionState[]): void {
    const sent = states.map((s) => ({ s, generation: s.generation, fetchOffset: s.fetchPosition! }));
    const topics = new Map<string, tributary.v1.IFetchPartition[]>();
    for (const { s, fetchOffset } of sent) {
      let parts = topics.get(s.topic);
      if (parts === undefined) topics.set(s.topic, (parts = []));
      parts.push({
        partition: s.partition,
        fetchOffset,
        partitionMaxBytes: this.config.maxPartitionFetchBytes,
        currentLeaderEpoch: this.cluster.metadata.partition(s.topic, s.partition)?.leaderEpoch ?? -1,
        lastFetchedEpoch: s.lastFetchedEpoch,
      });
    }
    const request: tributary.v1.IFetchRequest = {
      maxWaitMs: this.config.fetchMaxWaitMs,
      minBytes: this.config.fetchMinBytes,
      maxBytes: this.config.fetchMaxBytes,
      isolationLevel: this.config.isolationLevel === 'read_committed' ? tributary.v1.IsolationLevel.READ_COMMITTED : tributary.v1.IsolationLevel.READ_UNCOMMITTED,
      topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
      format: tributary.v1.RecordFormat.BATCH,
    };
    this.fetchesInFlight.add(address);
    this.cluster.callBroker<tributary.v1.IFetchRequest, tributary.v1.FetchResponse>(address, 'fetch', request)
      .then((response) => {
        const topLevel = response.error?.code ?? 0;
        if (topLevel !== 0) throw errorFromWire(topLevel, response.error?.message ?? '', { context: 'fetch' });
        const results = new Map<string, tributary.v1.IFetchPartitionResponse>();
        for (const t of response.topics) for (const p of t.partitions ?? []) results.set(tpKey(t.topic ?? '', p.partition ?? 0), p);
        for (const item of sent) this.handlePartitionResult(item, results.get(tpKey(item.s.topic, item.s.partition)));
      })
      .catch((error: unknown) => {
        if (this.closed) return;
        for (const { s } of sent) this.onFetchError(s, error);
      })
      .finally(() => {
        this.fetchesInFlight.delete(address);
        this.wake();
      });
  }

  private handlePartitionResult(item: { s: PartitionState; generation: number; fetchOffset: number }, r: tributary.v1.IFetchPartitionResponse | undefined): void {
    const { s } = item;
    // Discard answers for positions the user has since moved away from, or for unassigned partitions.
    if (this.subscriptions.get(s.topic, s.partition) !== s || s.generation !== item.generation || s.fetchPosition !== item.fetchOffset) return;
    if (r === undefined) return;
    const code = r.error?.code ?? 0;
    if (code !== 0) {
      const error = errorFromWire(code, r.error?.message ?? '', { topic: s.topic, partition: s.partition, context: `fetch ${s.topic}-${s.partition}` });
      if (error.code === 'OFFSET_OUT_OF_RANGE') this.onOffsetOutOfRange(s, error);
      else this.onFetchError(s, error);
      return;
    }
    s.fetchErrors = 0;
    s.highWatermark = Number(r.highWatermark ?? -1);
    const diverging = r.divergingEpoch;
    if (diverging !== null && diverging !== undefined && (diverging.epoch ?? -1) >= 0) {
      this.onDivergingEpoch(s, diverging.epoch ?? -1, Number(diverging.endOffset ?? -1));
      return;
    }
    const bytes = r.recordBatch;
    if (bytes === null || bytes === undefined || bytes.length === 0) return;
    const decoded = decodeFetchedBatches(bytes);
    const batches: RecordBatch[] = decoded.batches;
    if (decoded.error !== undefined && batches.length === 0) {
      this.pendingError = new CorruptRecordError(s.topic, s.partition, item.fetchOffset, decoded.error);
      s.nextFetchAtMs = Infinity; // until the user seeks past it
      return;
    }
    // A bad batch after good ones: deliver the good ones; the next fetch starts at the bad batch and
    // reports it at its own offset.
    if (batches.length === 0) {
      this.pendingError = new MessageTooLargeError(
        `a batch at ${s.topic}-${s.partition} offset ${item.fetchOffset} is larger than max.partition.fetch.bytes=${this.config.maxPartitionFetchBytes}`,
        bytes.length, this.config.maxPartitionFetchBytes);
      return;
    }
    let position = item.fetchOffset;
    // read_committed: drop aborted transactions' batches (the broker lists them); control batches never show.
    const aborted = this.config.isolationLevel === 'read_committed'
      ? new AbortedTransactionFilter((r.abortedTransactions ?? []).map((a) => ({ producerId: Number(a.producerId ?? -1), firstOffset: Number(a.firstOffset ?? -1) })))
      : undefined;
    for (const batch of batches) {
      const skipped = aborted !== undefined ? aborted.skip(batch) : batch.control;
      if (batch.lastOffset < position) continue; // wholly before our position
      if (!skipped) {
        for (const rec of batch.records) {
          if (rec.offset >= position) s.buffered.push(toConsumerRecord(s.topic, s.partition, batch, rec));
        }
      }
      position = batch.lastOffset + 1;
      s.lastFetchedEpoch = batch.partitionLeaderEpoch;
    }
    s.fetchPosition = position;
  }

  private onOffsetOutOfRange(s: PartitionState, error: TributaryClientError): void {
    if (this.config.autoOffsetReset === 'none') {
      this.pendingError = new OffsetOutOfRangeError(s.topic, s.partition, s.fetchPosition ?? -1, error);
      s.nextFetchAtMs = Infinity; // until the user seeks
      return;
    }
    this.logger.info({ component: 'consumer', topic: s.topic, partition: s.partition, offset: s.fetchPosition, reset: this.config.autoOffsetReset }, 'offset out of range, resetting');
    this.subscriptions.requestReset(s, this.config.autoOffsetReset);
  }

  private onDivergingEpoch(s: PartitionState, epoch: number, endOffset: number): void {
    const position = s.fetchPosition ?? -1;
    if (endOffset < 0 || endOffset >= position) {
      // Our history matches up to our position; only the epoch differed. Continue from here.
      s.lastFetchedEpoch = epoch;
      return;
    }
    if (this.config.autoOffsetReset === 'none') {
      this.pendingError = new LogTruncationError({ topic: s.topic, partition: s.partition, position, divergingEpoch: epoch, divergingEndOffset: endOffset });
      s.nextFetchAtMs = Infinity;
      return;
    }
    this.logger.warn({ component: 'consumer', topic: s.topic, partition: s.partition, position, epoch, endOffset }, 'log truncation detected, seeking to the diverging offset');
    this.subscriptions.seek(s, endOffset);
    s.lastFetchedEpoch = epoch;
  }

  private onFetchError(s: PartitionState, error: unknown): void {
    if (needsMetadataRefresh(error)) this.cluster.requestRefresh();
    const retriable = error instanceof TributaryClientError && error.retriable;
    if (!retriable) {
      this.pendingError = error instanceof Error ? error : new Error(String(error));
      return;
    }
    s.fetchErrors += 1;
    s.nextFetchAtMs = Date.now() + backoffMs(this.config, s.fetchErrors, Math.random());
    this.logger.debug({ component: 'consumer', topic: s.topic, partition: s.partition, err: error }, 'fetch failed, backing off');
    setTimeout(() => this.wake(), s.nextFetchAtMs - Date.now()).unref?.();
    void this.cluster.maybeRefresh().catch(() => undefined);
  }
}
