// One partition replica hosted by this node: its log, leader epoch, ISR and high watermark. On one
// node the ISR is [self] and HW = LEO after each append; in a cluster the leader's replication state
// (replication/leader-replication.ts) moves the HW from its followers' fetches.
import type { Logger } from 'pino';
import { type BatchHeader, batchesIn, encodeControlBatch, readControlRecord, validateBatches } from '@tributary/protocol';
import { ApiError, assert } from './errors.js';
import { decodeProducerSnapshot, encodeProducerSnapshot, type ProducerStateSnapshot } from './replication/producer-state-snapshot.js';
import type { ProducerStateStore } from './replication/producer-state-store.js';
import { computeHighWatermark } from './high-watermark.js';
import type { PartitionInfo } from './metadata-view.js';
import type { EpochEndOffset, LogAppendInfo, PartitionLogPort } from './partition-log.js';
import type { TopicConfig } from './topic-config.js';
import type { AlterPartitionClient } from './replication/alter-partition-client.js';
import { followerHighWatermark, followerTruncation } from './replication/follower-replication.js';
import {
  applyAlterPartitionResult, becomeLeader, computeLeaderHighWatermark, handleFollowerFetch, isrBrokerEpochs, isrChangeToRetry,
  markIsrChangeSent, proposeIsrChange, updateLeaderMetadata, type FollowerFetch, type FollowerFetchOutcome, type LeaderState,
} from './replication/leader-replication.js';
import { IdempotenceWindow, type PendingBatch, type VerificationGuard } from './replication/idempotence-window.js';
import {
  lastSequenceOf, lastStableOffset, NO_TXN_OFFSET, type AppendedBatch, type BatchIdentity, type CompletedTxn, type MarkerInfo, type ProducerBatch, type ProducerEntry,
} from './replication/producer-state.js';
import { TRANSACTIONAL_PRODUCER_EPOCH_MAX } from './replication/producer-admission.js';
import type { TxnVerifier } from './transactions/txn-ports.js';

/** A leader append: offsets of the whole request plus each batch's base offset, in request order. */
export interface LeaderAppendInfo extends LogAppendInfo {
  readonly batchBaseOffsets: readonly number[];
}

import type { ReplicationConfig } from './replication/replication-config.js';

/** What a replicated partition needs from the broker (cluster mode). */
export interface PartitionReplication {
  readonly alterPartition: AlterPartitionClient;
  readonly brokerEpoch: () => number;
  readonly config: ReplicationConfig;
  /** KIP-841/903: `replicaId` is registered with exactly `fetchBrokerEpoch`, unfenced. */
  readonly isEligible: (replicaId: number, fetchBrokerEpoch: number) => boolean;
  readonly nowMs: () => number;
}

/** Records scanned from the log tail to rebuild producer state (bounded: see docs/replication.md). */
export const PRODUCER_STATE_SCAN_MAX_RECORDS = 1_000_000;
const PRODUCER_SCAN_READ_BYTES = 1024 * 1024;

/** The client did not say which epoch it believes current. */
export const NO_LEADER_EPOCH = -1;

/**
 * Longest wait for the coordinator's answer to a transactional batch's verification (KIP-890); past it
 * the batch is refused with the retriable COORDINATOR_NOT_AVAILABLE. The verifier bounds its own calls;
 * this bounds what one partition's producers can be kept waiting by a verifier that never answers.
 */
export const TXN_VERIFICATION_TIMEOUT_MS = 30_000;

/** A COMMIT/ABORT marker a transaction coordinator asks a partition leader to write. */
export interface TxnMarkerInput {
  readonly producerId: number;
  /** The epoch the marker is written with (transactions v2: after the end-of-transaction bump). */
  readonly producerEpoch: number;
  readonly committed: boolean;
  /** The leader epoch of the coordinator's `__transaction_state` partition. */
  readonly coordinatorEpoch: number;
}

/** What a leader append of transactional data needs beyond the batches (produce.ts passes it). */
export interface TxnAppendContext {
  /** The request's transactional id ('' or absent: none); a client's transactional batch needs one. */
  readonly transactionalId?: string;
  /** 'coordinator': written by a coordinator of this broker (base sequence -1, no verification). */
  readonly origin?: 'client' | 'coordinator';
}

/** One producer's state on this partition (Transactions.DescribeProducers). */
export interface ProducerDescription {
  readonly producerId: number;
  readonly producerEpoch: number;
  /** Last sequence of its newest batch; -1 when it has none in the window. */
  readonly lastSequence: number;
  readonly lastTimestampMs: number;
  readonly coordinatorEpoch: number;
  /** -1 when no transaction is open here. */
  readonly currentTxnStartOffset: number;
}

/** Which producer ids this partition admits, and how its producer table is bounded (producer-admission.ts). */
export interface ProducerIdPolicy {
  /** Producer ids below this were allocated by the cluster (this broker's metadata image). */
  readonly allocatedEnd: () => number;
  /** producer.ids.per.partition.max */
  readonly producersMax: number;
  /** producer.id.expiration.ms */
  readonly expirationMs: number;
  readonly nowMs: () => number;
}

export class Partition {
  private info: PartitionInfo;
  private config: TopicConfig;
  /** Single-node mode only: follower replica id → last known log end offset. */
  private readonly followerLogEndOffsets = new Map<number, number>();
  /** Set while this replica leads in cluster mode. */
  private leaderState: LeaderState | undefined;
  /** Idempotent producers' last batches and the accepted, unwritten ones (kept on followers too, so a new leader has it at once). */
  private readonly idempotence: IdempotenceWindow;
  /** Where the producer-state snapshot lives; none = no snapshots. */
  private readonly producerStateStore: ProducerStateStore | undefined;
  /** Bumped on every role/epoch change: fetch results from before it are dropped. */
  private roleGeneration = 0;
  /**
   * Appends' producer-state updates run in log order: each append takes the tail, and records its
   * batches only after the appends called before it recorded theirs (a marker recorded before the data
   * it follows would leave a transaction open for ever). Never rejects.
   */
  private recordTail: Promise<void> = Promise.resolve();
  /** Markers and coordinator-written batches accepted for append, not yet recorded: producer id → their epochs. */
  private readonly inFlightEpochs = new Map<number, number[]>();

  constructor(
    private readonly args: {
      readonly nodeId: number;
      readonly info: PartitionInfo;
      readonly config: TopicConfig;
      readonly log: PartitionLogPort;
      /** Where the producer-state snapshot is kept; none = no snapshots (in-memory logs). */
      readonly producerStateStore?: ProducerStateStore;
      readonly logger: Logger;
      /** Called whenever the high watermark moves, so parked fetches and produces re-check. */
      readonly onHighWatermarkChange: () => void;
      /** Called when the leader's log grows, so parked follower fetches re-check. */
      readonly onLogEndOffsetChange?: () => void;
      readonly replication?: PartitionReplication;
      readonly producerIds: ProducerIdPolicy;
      /** Verifies a client's first transactional batch of a producer epoch; absent: such batches are refused. */
      readonly txnVerifier?: TxnVerifier;
      /** Default TXN_VERIFICATION_TIMEOUT_MS. */
      readonly txnVerificationTimeoutMs?: number;
    },
  ) {
    this.info = args.info;
    this.config = args.config;
    this.idempotence = new IdempotenceWindow({ label: `${args.info.topic}-${args.info.partition}`, producersMax: args.producerIds.producersMax });
    this.producerStateStore = args.producerStateStore;
  }

  get topic(): string {
    return this.info.topic;
  }

  get partition(): number {
    return this.info.partition;
  }

  get leaderEpoch(): number {
    return this.info.leaderEpoch;
  }

  get partitionEpoch(): number {
    return this.info.partitionEpoch;
  }

  /** The partition state this replica acts on. */
  get partitionInfo(): PartitionInfo {
    return this.info;
  }

  get inSyncReplicas(): readonly number[] {
    return this.info.isr;
  }

  get topicConfig(): TopicConfig {
    return this.config;
  }

  get log(): PartitionLogPort {
    return this.args.log;
  }

  get isLeader(): boolean {
    return this.info.leader === this.args.nodeId;
  }

  get logStartOffset(): number {
    return this.args.log.logStartOffset;
  }

  get logEndOffset(): number {
    return this.args.log.logEndOffset;
  }

  get highWatermark(): number {
    return this.args.log.highWatermark;
  }

  get generation(): number {
    return this.roleGeneration;
  }

  /**
   * Kafka's last stable offset: min(first offset of every open transaction, high watermark), where a
   * transaction whose marker is not yet below the high watermark still counts as open (its marker may
   * yet be lost with this leader). read_committed reads below it; ListOffsets LATEST read_committed is it.
   */
  get lastStableOffset(): number {
    const highWatermark = this.highWatermark;
    return lastStableOffset({ highWatermark, firstUnstableOffset: this.idempotence.firstUnstableOffset(highWatermark) });
  }

  /** Every producer this replica holds state for, least recently written first (DescribeProducers). */
  describeProducers(): ProducerDescription[] {
    return this.idempotence.entries().map((e: ProducerEntry) => ({
      producerId: e.producerId, producerEpoch: e.producerEpoch,
      lastSequence: e.batches[e.batches.length - 1]?.lastSequence ?? -1, lastTimestampMs: e.lastTimestampMs ?? -1,
      coordinatorEpoch: e.coordinatorEpoch ?? -1, currentTxnStartOffset: e.currentTxnFirstOffset ?? NO_TXN_OFFSET,
    }));
  }

  /** The ISR acks=all counts: the committed one (as Kafka's min.insync.replicas check). */
  get isrSize(): number {
    return this.leaderState?.isr.length ?? this.info.isr.length;
  }

  /** New leader/ISR/epoch from metadata. Epochs never go back. */
  updateInfo(info: PartitionInfo): void {
    assert(info.leaderEpoch >= this.info.leaderEpoch, `${this.topic}-${this.partition}: leader epoch went back from ${this.info.leaderEpoch} to ${info.leaderEpoch}`);
    const previous = this.info;
    const wasLeader = this.leaderState !== undefined;
    this.info = info;
    const replication = this.args.replication;
    if (replication !== undefined) {
      const nowMs = replication.nowMs();
      if (info.leader === this.args.nodeId) {
        if (wasLeader && previous.leaderEpoch === info.leaderEpoch && this.leaderState !== undefined) {
          this.leaderState = updateLeaderMetadata(this.leaderState, info, nowMs);
        } else {
          this.roleGeneration++;
          // Verifications belong to a leadership: a new one asks the coordinator again.
          this.idempotence.clearVerifications();
          this.leaderState = becomeLeader({ leaderId: this.args.nodeId, info, leaderLogEndOffset: this.logEndOffset, nowMs });
          // The epoch is ours from the log end on, records or not (see PartitionLog.assignLeaderEpoch).
          this.args.log.assignLeaderEpoch(info.leaderEpoch).catch((err: unknown) => this.args.logger.error({ err, leaderEpoch: info.leaderEpoch }, 'recording the leader epoch failed'));
          this.args.logger.info({ leaderEpoch: info.leaderEpoch, isr: info.isr, logEndOffset: this.logEndOffset, highWatermark: this.highWatermark }, 'became leader');
          // An election from outside the ISR leaves ISR = [leader]; a follower's `previous` ISR may be stale
          // (followers are handed leadership changes only), so a wider new ISR is a clean hand-over.
          if (!previous.isr.includes(this.args.nodeId) && previous.leaderEpoch < info.leaderEpoch && info.isr.length === 1) this.logUncleanElection(previous);
        }
      } else {
        if (wasLeader || previous.leaderEpoch !== info.leaderEpoch || previous.leader !== info.leader) {
          this.roleGeneration++;
          this.idempotence.clearVerifications();
          this.args.logger.info({ leader: info.leader, leaderEpoch: info.leaderEpoch }, 'became follower');
        }
        this.leaderState = undefined;
      }
      // Parked produces and fetches re-check leadership.
      this.args.onHighWatermarkChange();
    }
    this.maybeAdvanceHighWatermark();
  }

  updateConfig(config: TopicConfig): void {
    this.config = config;
    this.args.log.updateConfig(config);
  }

  /**
   * Checks the epoch a client believes current (KIP-320): older than ours → FENCED_LEADER_EPOCH (the
   * client's metadata is stale), newer → UNKNOWN_LEADER_EPOCH (ours is stale), and that we lead.
   */
  checkLeader(currentLeaderEpoch: number): void {
    if (currentLeaderEpoch !== NO_LEADER_EPOCH) {
      if (currentLeaderEpoch < this.leaderEpoch) {
        throw new ApiError('FENCED_LEADER_EPOCH', `${this.topic}-${this.partition}: leader epoch ${currentLeaderEpoch} is older than the current ${this.leaderEpoch}`);
      }
      if (currentLeaderEpoch > this.leaderEpoch) {
        throw new ApiError('UNKNOWN_LEADER_EPOCH', `${this.topic}-${this.partition}: leader epoch ${currentLeaderEpoch} is newer than the current ${this.leaderEpoch}`);
      }
    }
    if (!this.isLeader) {
      throw new ApiError('NOT_LEADER_OR_FOLLOWER', `node ${this.args.nodeId} is not the leader of ${this.topic}-${this.partition} (leader ${this.info.leader})`);
    }
  }

  /**
   * Appends validated batches as leader. With acks=all the ISR must hold min.insync.replicas before
   * the append (after it, the producer waits for the high watermark instead). `headers`: what the produce
   * edge's validateBatches returned for `batches`; they travel to the log, so no layer parses the batches
   * again. Without them (tests, tools) the batches are validated here (validateBatches: framing, CRC).
   * Transactional batches (KIP-98/890): see checkTransactional and verifyTransaction.
   */
  async appendAsLeader(
    batches: Buffer,
    options: { readonly requiredAcks: number; readonly nowMs: number; readonly headers?: readonly BatchHeader[] } & TxnAppendContext,
  ): Promise<LeaderAppendInfo> {
    if (options.requiredAcks === -1 && this.isrSize < this.config.minInsyncReplicas) {
      throw new ApiError('NOT_ENOUGH_REPLICAS', `${this.topic}-${this.partition}: ${this.isrSize} in-sync replica(s), min.insync.replicas is ${this.config.minInsyncReplicas}`);
    }
    const headers = options.headers ?? validateBatches(batches);
    const origin = options.origin ?? 'client';
    const txn = this.checkTransactional(headers, options);
    this.admitProducers(headers, origin);
    // Checked synchronously: a request that needs no verification must not yield here (a marker accepted
    // meanwhile would be judged before it, out of arrival order).
    if (txn !== undefined && origin === 'client' && this.idempotence.verificationState(txn) !== 'not-needed') {
      // The only await before the decisions below: every batch of this request is judged after it, in one
      // synchronous step, so pipelined requests of one producer are still judged in arrival order (a
      // producer's later requests wait for the same verification, see verificationState).
      const leaderEpoch = this.leaderEpoch;
      const lost = (): ApiError => new ApiError('NOT_LEADER_OR_FOLLOWER', `${this.topic}-${this.partition}: leadership changed while the transaction was being verified`);
      try {
        await this.verifyTransaction(txn, options.transactionalId ?? '');
      } catch (err) {
        throw !this.isLeader || this.leaderEpoch !== leaderEpoch ? lost() : err;
      }
      if (!this.isLeader || this.leaderEpoch !== leaderEpoch) throw lost();
      this.admitProducers(headers, origin);
    }
    // Idempotence: decided synchronously (after the verification above, before any other await), so
    // pipelined requests of one producer are checked in arrival order, which is also the order offsets
    // are assigned in. Batches accepted but not yet written are "pending": a retry of one waits for the
    // original's outcome (its real offsets, or its error) instead of being answered from state that isn't
    // true yet. A retried request may start with batches already written or pending (a prefix) followed
    // by new ones: the prefix is answered with its original offsets, only the rest is appended.
    // Coordinator-written batches (sequence -1) skip it all: only epoch fencing applies to them.
    const sequenced = origin === 'client';
    for (const h of headers) this.checkInFlightEpoch(h);
    const known: (ProducerBatch | Promise<ProducerBatch>)[] = [];
    for (const h of sequenced ? headers : []) {
      if (h.producerId < 0) break;
      const check = this.idempotence.check(h);
      if (check.kind === 'error') throw new ApiError(check.code, `${this.topic}-${this.partition}: ${check.message}`);
      if (check.kind === 'append') break;
      known.push(check.kind === 'duplicate' ? check.batch : check.outcome);
    }
    const fresh = headers.slice(known.length);
    // Each accepted batch becomes pending at once, so the next batch of the request is judged after it.
    const pending: PendingBatch[] = [];
    try {
      for (const h of sequenced ? fresh : []) {
        if (h.producerId < 0) continue;
        const check = this.idempotence.check(h);
        if (check.kind === 'error') throw new ApiError(check.code, `${this.topic}-${this.partition}: ${check.message}`);
        if (check.kind !== 'append') throw new ApiError('OUT_OF_ORDER_SEQUENCE_NUMBER', `${this.topic}-${this.partition}: a retried batch (sequence ${h.baseSequence}) follows a new one in one request`);
        pending.push(this.idempotence.addPending(h));
      }
    } catch (err) {
      for (const p of pending) this.idempotence.settle(p, err);
      throw err;
    }
    const inFlight = sequenced ? [] : fresh.filter((h) => h.producerId >= 0).map((h) => this.beginInFlight(h.producerId, h.producerEpoch));
    const appendedOffsets: number[] = [];
    let result: LogAppendInfo | undefined;
    if (fresh.length > 0) {
      const first = fresh[0]!;
      const toAppend = first.position === 0 ? batches : batches.subarray(first.position);
      // The log's headers are positioned in the bytes it gets.
      const freshHeaders = first.position === 0 ? fresh : fresh.map((h) => ({ ...h, position: h.position - first.position }));
      const logAppendTimeMs = this.config.messageTimestampType === 'LogAppendTime' ? options.nowMs : undefined;
      const leoBefore = this.logEndOffset;
      const turn = this.takeRecordTurn();
      try {
        try {
          result = await this.args.log.appendAsLeader(toAppend, freshHeaders, this.leaderEpoch, logAppendTimeMs === undefined ? {} : { logAppendTimeMs });
        } catch (err) {
          for (const p of pending) this.idempotence.settle(p, err);
          throw err;
        }
        await turn.previous;
        assert(result.firstOffset >= leoBefore && result.lastOffset >= result.firstOffset, `${this.topic}-${this.partition}: append returned offsets [${result.firstOffset}, ${result.lastOffset}] with LEO ${leoBefore}`);
        // Offsets come from the append's result: consecutive batches from result.baseOffset, in order.
        let baseOffset = result.firstOffset;
        for (const h of fresh) {
          appendedOffsets.push(baseOffset);
          if (h.producerId >= 0) {
            const logTime = logAppendTimeMs ?? h.maxTimestamp;
            this.idempotence.record({ ...h, baseOffset, maxTimestamp: logTime }, this.args.producerIds.nowMs());
            const p = pending.find((q) => q.identity === h);
            if (p !== undefined) this.idempotence.settle(p, undefined, { firstSequence: h.baseSequence, lastSequence: lastSequenceOf(h), firstOffset: baseOffset, lastOffset: baseOffset + h.lastOffsetDelta });
          }
          baseOffset += h.lastOffsetDelta + 1;
        }
        assert(baseOffset === result.lastOffset + 1, `${this.topic}-${this.partition}: batch offsets end at ${baseOffset - 1}, append at ${result.lastOffset}`);
      } finally {
        for (const token of inFlight) this.endInFlight(token);
        turn.done();
      }
    }
    const retried = await Promise.all(known);
    const batchBaseOffsets = [...retried.map((b) => b.firstOffset), ...appendedOffsets];
    const lastOffset = result?.lastOffset ?? retried[retried.length - 1]!.lastOffset;
    if (result === undefined) return { firstOffset: batchBaseOffsets[0]!, lastOffset, logAppendTimeMs: -1, batchBaseOffsets };
    this.args.onLogEndOffsetChange?.();
    this.maybeAdvanceHighWatermark();
    return { firstOffset: batchBaseOffsets[0]!, lastOffset, logAppendTimeMs: result.logAppendTimeMs, batchBaseOffsets };
  }

  /**
   * The transactional rules a request's batches must meet before anything else is judged. Returns the
   * transactional batch to verify (one producer id and epoch per request), or undefined when none is.
   *   - transactional data is all of one producer id and epoch, and never mixed with other batches;
   *   - a client's transactional batch needs the request's transactional id;
   *   - a non-transactional batch of a producer with a transaction open here is refused (INVALID_TXN_STATE);
   *   - a coordinator writes transactional batches only.
   */
  private checkTransactional(headers: readonly BatchHeader[], context: TxnAppendContext): BatchHeader | undefined {
    const where = `${this.topic}-${this.partition}`;
    const txn = headers.find((h) => h.transactional);
    if (context.origin === 'coordinator' && (txn === undefined || headers.some((h) => !h.transactional))) {
      throw new ApiError('INVALID_RECORD', `${where}: a coordinator writes transactional batches only`);
    }
    if (txn !== undefined) {
      const other = headers.find((h) => !h.transactional || h.producerId !== txn.producerId || h.producerEpoch !== txn.producerEpoch);
      if (other !== undefined) {
        throw new ApiError('INVALID_RECORD', `${where}: transactional batches of producer ${txn.producerId} epoch ${txn.producerEpoch} are mixed with a batch of producer ${other.producerId} epoch ${other.producerEpoch} (transactional ${other.transactional}) in one request`);
      }
      if (txn.producerId < 0) throw new ApiError('INVALID_RECORD', `${where}: a transactional batch needs a producer id, got ${txn.producerId}`);
      if (context.origin !== 'coordinator' && (context.transactionalId ?? '') === '') {
        throw new ApiError('INVALID_TXN_STATE', `${where}: producer ${txn.producerId} sent transactional batches without a transactional_id in the request`);
      }
      return txn;
    }
    for (const h of headers) {
      if (h.producerId >= 0 && this.idempotence.hasOpenTxn(h.producerId)) {
        throw new ApiError('INVALID_TXN_STATE', `${where}: producer ${h.producerId} has a transaction open here; its batches must be transactional until the transaction ends`);
      }
    }
    return undefined;
  }

  /**
   * KIP-890: the first transactional batch of a producer epoch here is appended only once its
   * coordinator confirms the partition is in the producer's ongoing transaction. Throws the refusal.
   * Call only when verificationState says it is needed or in flight. A marker for the producer accepted while the answer was outstanding
   * clears the verification (its guard): the batch is then refused, never appended after the marker.
   */
  private async verifyTransaction(h: BatchHeader, transactionalId: string): Promise<void> {
    const state = this.idempotence.verificationState(h);
    assert(state !== 'not-needed', `${this.topic}-${this.partition}: producer ${h.producerId} verified without need`);
    let guard: VerificationGuard;
    if (state === 'needed') {
      let settle!: (err: unknown) => void;
      const outcome = new Promise<void>((resolve, reject) => {
        settle = (err) => (err === undefined ? resolve() : reject(err));
      });
      outcome.catch(() => undefined); // later batches of the producer may not be waiting on it
      guard = this.idempotence.beginVerification(h.producerId, h.producerEpoch, outcome);
      const refusal = await this.askVerifier({ transactionalId, producerId: h.producerId, producerEpoch: h.producerEpoch, topic: this.topic, partition: this.partition });
      const ok = this.idempotence.completeVerification(guard, refusal === undefined);
      const err = refusal ?? (ok ? undefined : this.verificationLost(h));
      settle(err);
      if (err !== undefined) throw err;
    } else {
      guard = state.guard;
      await state.outcome;
    }
    if (!this.idempotence.isVerified(guard)) throw this.verificationLost(h);
  }

  private verificationLost(h: BatchHeader): ApiError {
    return new ApiError('INVALID_TXN_STATE', `${this.topic}-${this.partition}: a marker ended producer ${h.producerId}'s transaction (epoch ${h.producerEpoch}) while its batch was being verified; the batch was not appended`);
  }

  /** The verifier's refusal as an ApiError, or undefined when the partition is in the producer's ongoing transaction. */
  private async askVerifier(input: { transactionalId: string; producerId: number; producerEpoch: number; topic: string; partition: number }): Promise<ApiError | undefined> {
    const where = `${this.topic}-${this.partition}`;
    const verifier = this.args.txnVerifier;
    if (verifier === undefined) return new ApiError('INVALID_TXN_STATE', `${where}: this broker has no transaction coordinator to verify producer ${input.producerId}'s transaction with`);
    const timeoutMs = this.args.txnVerificationTimeoutMs ?? TXN_VERIFICATION_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = await Promise.race([
        verifier.verify(input),
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), timeoutMs);
          timer.unref();
        }),
      ]);
      if (answer === 'timeout') return new ApiError('COORDINATOR_NOT_AVAILABLE', `${where}: the transaction coordinator did not verify producer ${input.producerId}'s transaction within ${timeoutMs} ms`);
      if (answer === undefined) return undefined;
      return new ApiError(answer === 'NONE' ? 'UNKNOWN_SERVER_ERROR' : answer, `${where}: the transaction coordinator refused producer ${input.producerId} epoch ${input.producerEpoch} (transactional id ${JSON.stringify(input.transactionalId)}): ${answer}`);
    } catch (err) {
      return new ApiError('COORDINATOR_NOT_AVAILABLE', `${where}: verifying producer ${input.producerId}'s transaction failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /** Markers and coordinator-written batches in flight fence lower epochs before they are recorded. */
  private checkInFlightEpoch(h: BatchIdentity): void {
    if (h.producerId < 0) return;
    const max = Math.max(-1, ...(this.inFlightEpochs.get(h.producerId) ?? []));
    if (h.producerEpoch < max) {
      throw new ApiError('INVALID_PRODUCER_EPOCH', `${this.topic}-${this.partition}: producer ${h.producerId} epoch ${h.producerEpoch} is older than ${max}, of a marker or batch being written`);
    }
    const entry = this.idempotence.entry(h.producerId);
    if (entry !== undefined && h.producerEpoch < entry.producerEpoch) {
      throw new ApiError('INVALID_PRODUCER_EPOCH', `${this.topic}-${this.partition}: producer ${h.producerId} epoch ${h.producerEpoch} is older than ${entry.producerEpoch}`);
    }
  }

  private beginInFlight(producerId: number, producerEpoch: number): { readonly producerId: number; readonly producerEpoch: number } {
    const list = this.inFlightEpochs.get(producerId) ?? [];
    list.push(producerEpoch);
    this.inFlightEpochs.set(producerId, list);
    return { producerId, producerEpoch };
  }

  private endInFlight(token: { readonly producerId: number; readonly producerEpoch: number }): void {
    const list = this.inFlightEpochs.get(token.producerId) ?? [];
    const i = list.indexOf(token.producerEpoch);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.inFlightEpochs.delete(token.producerId);
  }

  /** The next place in the log-order sequence of producer-state updates (see recordTail). */
  private takeRecordTurn(): { readonly previous: Promise<void>; readonly done: () => void } {
    const previous = this.recordTail;
    let release!: () => void;
    this.recordTail = new Promise<void>((resolve) => (release = resolve));
    return { previous, done: () => void previous.then(release) };
  }

  /**
   * Writes a COMMIT/ABORT control batch for `marker.producerId` as leader (the marker a transaction
   * coordinator sends, or an operator's AbortTransaction), after the checks of checkMarker: a deposed
   * coordinator (TRANSACTION_COORDINATOR_FENCED), a fenced producer epoch (INVALID_PRODUCER_EPOCH).
   * Written even when the producer has no transaction open here. Clears the producer's verification
   * at once (a batch verified before this marker cannot be appended after it). Resolves with the
   * marker's offset once appended and recorded; the caller waits for the high watermark (ReplicaManager).
   */
  async writeTxnMarker(marker: TxnMarkerInput, options: { readonly nowMs: number }): Promise<{ readonly offset: number }> {
    const where = `${this.topic}-${this.partition}`;
    this.checkLeader(NO_LEADER_EPOCH);
    if (!Number.isSafeInteger(marker.producerId) || marker.producerId < 0 || !Number.isInteger(marker.producerEpoch) || marker.producerEpoch < 0
      || marker.producerEpoch > TRANSACTIONAL_PRODUCER_EPOCH_MAX || !Number.isInteger(marker.coordinatorEpoch) || marker.coordinatorEpoch < 0 || marker.coordinatorEpoch > 0x7fffffff) {
      throw new ApiError('INVALID_REQUEST', `${where}: marker for producer ${marker.producerId} epoch ${marker.producerEpoch} coordinator epoch ${marker.coordinatorEpoch} is out of range`);
    }
    if (this.isrSize < this.config.minInsyncReplicas) {
      throw new ApiError('NOT_ENOUGH_REPLICAS', `${where}: ${this.isrSize} in-sync replica(s), min.insync.replicas is ${this.config.minInsyncReplicas}`);
    }
    const refusal = this.idempotence.checkMarker(marker);
    if (refusal !== null) throw new ApiError(refusal.code, `${where}: ${refusal.message}`);
    const acceptedEpoch = Math.max(this.idempotence.pendingEpoch(marker.producerId), ...(this.inFlightEpochs.get(marker.producerId) ?? []));
    if (marker.producerEpoch < acceptedEpoch) {
      throw new ApiError('INVALID_PRODUCER_EPOCH', `${where}: marker epoch ${marker.producerEpoch} of producer ${marker.producerId} is older than ${acceptedEpoch}, of a batch being written`);
    }
    this.idempotence.clearVerification(marker.producerId);
    const info: MarkerInfo = { committed: marker.committed, coordinatorEpoch: marker.coordinatorEpoch };
    const bytes = encodeControlBatch({ type: marker.committed ? 'COMMIT' : 'ABORT', producerId: marker.producerId, producerEpoch: marker.producerEpoch, coordinatorEpoch: marker.coordinatorEpoch, timestampMs: options.nowMs });
    const headers = validateBatches(bytes);
    const token = this.beginInFlight(marker.producerId, marker.producerEpoch);
    const turn = this.takeRecordTurn();
    let offset: number;
    try {
      const result = await this.args.log.appendAsLeader(bytes, headers, this.leaderEpoch, {});
      offset = result.firstOffset;
      await turn.previous;
      const h = headers[0]!;
      await this.recordAppended({ ...h, baseOffset: offset, maxTimestamp: options.nowMs, marker: info });
    } finally {
      this.endInFlight(token);
      turn.done();
    }
    this.args.logger.debug({ producerId: marker.producerId, producerEpoch: marker.producerEpoch, committed: marker.committed, coordinatorEpoch: marker.coordinatorEpoch, offset }, 'wrote transaction marker');
    this.args.onLogEndOffsetChange?.();
    const highWatermark = this.highWatermark;
    this.maybeAdvanceHighWatermark();
    // Followers may have fetched the marker (moving the high watermark past it) before it was recorded
    // here: the LSO moves only now, with no high-watermark change to wake parked read_committed fetches.
    if (this.highWatermark === highWatermark && highWatermark > offset) this.args.onHighWatermarkChange();
    return { offset };
  }

  /**
   * Records one batch in the producer state and, when it is an ABORT that ended a transaction, indexes
   * the aborted transaction in the log — unless it is indexed already (a recovery scan passing it again).
   */
  private async recordAppended(batch: AppendedBatch): Promise<CompletedTxn | undefined> {
    const marker = batch.marker;
    const openFirst = this.idempotence.entry(batch.producerId)?.currentTxnFirstOffset ?? NO_TXN_OFFSET;
    if (marker !== undefined && marker !== 'unknown' && !marker.committed && openFirst !== NO_TXN_OFFSET) {
      // Indexed before the transaction ends in the producer state: until then it holds the last stable
      // offset, so no reader (and no cleaner) ever finds its records below the LSO without the entry.
      const lastOffset = batch.baseOffset + batch.lastOffsetDelta;
      const firstOtherOpen = this.idempotence.firstOpenTxnOffset(batch.producerId);
      const indexed = await this.args.log.abortedTransactions(lastOffset, lastOffset + 1);
      if (!indexed.some((a) => a.producerId === batch.producerId && a.lastOffset === lastOffset)) {
        await this.args.log.appendAbortedTxn({
          producerId: batch.producerId, firstOffset: openFirst, lastOffset,
          lastStableOffset: firstOtherOpen === undefined ? lastOffset + 1 : Math.min(firstOtherOpen, lastOffset + 1),
        });
      }
    }
    const completed = this.idempotence.record(batch, this.args.producerIds.nowMs());
    this.idempotence.forgetReplicated(this.highWatermark);
    assert(completed === undefined || completed.firstOffset === openFirst, `${this.topic}-${this.partition}: producer ${batch.producerId}'s transaction began at ${completed?.firstOffset}, not ${openFirst}`);
    return completed;
  }

  /**
   * Refuses batches whose producer identity the cluster never gave out, and new producer ids while the
   * table is full of unexpired ones — before anything about them is stored (producer-admission.ts).
   */
  private admitProducers(headers: readonly BatchIdentity[], origin: 'client' | 'coordinator'): void {
    const policy = this.args.producerIds;
    this.idempotence.admit(headers, {
      origin,
      allocatedEnd: policy.allocatedEnd(), nowMs: policy.nowMs, expirationMs: policy.expirationMs,
      onExpired: (expired) => this.args.logger.debug({ expired, expirationMs: policy.expirationMs }, 'expired idle producer ids'),
    });
  }

  /**
   * Rebuilds idempotent producer state (open / recovery): from producer-state.snapshot when there is
   * an intact one within [logStartOffset, logEndOffset], then batch headers from its offset on; without
   * one, batch headers of the last PRODUCER_STATE_SCAN_MAX_RECORDS offsets. Returns where the scan began.
   */
  async loadProducerState(): Promise<{ readonly snapshotOffset: number | undefined; readonly scannedFrom: number }> {
    this.idempotence.clear();
    const snapshot = await this.readProducerSnapshot();
    // The aborted index may have lost entries from some offset on (an unclean stop): the scan must pass
    // every ABORT marker from there to re-add them, so a snapshot taken after it is not used.
    const indexIncompleteFrom = this.args.log.txnIndexIncompleteFrom ?? null;
    const usable = snapshot !== undefined && snapshot.offset >= this.logStartOffset && snapshot.offset <= this.logEndOffset
      && (indexIncompleteFrom === null || snapshot.offset <= indexIncompleteFrom);
    if (snapshot !== undefined && !usable) {
      this.args.logger.info({ snapshotOffset: snapshot.offset, logStartOffset: this.logStartOffset, logEndOffset: this.logEndOffset, indexIncompleteFrom }, 'producer state snapshot outside the log or past an incomplete aborted index; scanning instead');
    }
    // Expiry counts from this replica's clock: an entry without its write time starts its period now.
    const loadedMs = this.args.producerIds.nowMs();
    if (usable) this.idempotence.load(snapshot.producers, loadedMs);
    const scannedFrom = usable ? snapshot.offset : Math.max(this.logStartOffset, this.logEndOffset - PRODUCER_STATE_SCAN_MAX_RECORDS);
    let offset = scannedFrom;
    while (offset < this.logEndOffset) {
      const { records: bytes } = await this.args.log.read(offset, PRODUCER_SCAN_READ_BYTES, { maxOffset: this.logEndOffset, minOneBatch: true });
      if (bytes.length === 0) break;
      const ids = batchIdentities(bytes, this.args.logger);
      // Rebuilds open transactions too, and re-indexes the aborted ones it passes (duplicate-safe).
      for (const h of ids) await this.recordAppended(h);
      const last = ids[ids.length - 1];
      if (last === undefined) break;
      offset = last.baseOffset + last.lastOffsetDelta + 1;
    }
    return { snapshotOffset: usable ? snapshot.offset : undefined, scannedFrom };
  }

  /** Writes the producer table as of the log end offset (clean shutdown); a no-op without a snapshot store. */
  async writeProducerSnapshot(): Promise<void> {
    if (this.producerStateStore === undefined) return;
    await this.producerStateStore.write(encodeProducerSnapshot({ offset: this.logEndOffset, producers: this.idempotence.entries() }));
  }

  private async readProducerSnapshot(): Promise<ProducerStateSnapshot | undefined> {
    const store = this.producerStateStore;
    if (store === undefined) return undefined;
    const bytes = await store.read();
    if (bytes === undefined) return undefined;
    const snapshot = decodeProducerSnapshot(bytes, this.args.producerIds.producersMax);
    if (snapshot === undefined) this.args.logger.warn({ file: store.location }, 'producer state snapshot is corrupt; scanning the log instead');
    return snapshot;
  }

  /** A truncation may remove batches the snapshot holds: it must not be loaded any more. */
  private async removeProducerSnapshot(): Promise<void> {
    await this.producerStateStore?.remove();
  }

  // ---- replication: leader side ----

  /**
   * A follower's fetch of this partition (we must lead it): fencing, divergence, progress, then the
   * bytes from fetchOffset (up to our LEO, not the HW). Advances the HW and may propose an ISR change.
   */
  async handleReplicaFetch(fetch: Omit<FollowerFetch, 'nowMs'>, limits: { readonly maxBytes: number; readonly minOneBatch: boolean }): Promise<{ outcome: FollowerFetchOutcome; records: Buffer }> {
    const replication = this.args.replication;
    const state = this.leaderState;
    if (replication === undefined || state === undefined) {
      return { outcome: { kind: 'error', code: 'NOT_LEADER_OR_FOLLOWER', message: `node ${this.args.nodeId} does not lead ${this.topic}-${this.partition}` }, records: EMPTY };
    }
    const nowMs = replication.nowMs();
    const handled = handleFollowerFetch(state, { ...fetch, nowMs }, this.leaderLogView());
    this.leaderState = handled.state;
    if (handled.outcome.kind !== 'read') return { outcome: handled.outcome, records: EMPTY };
    this.maybeAdvanceHighWatermark();
    this.maybeChangeIsr(nowMs);
    const offset = handled.outcome.fetchOffset;
    if (offset >= this.logEndOffset || (limits.maxBytes === 0 && !limits.minOneBatch)) return { outcome: handled.outcome, records: EMPTY };
    const read = await this.args.log.read(offset, limits.maxBytes, { maxOffset: this.logEndOffset, minOneBatch: limits.minOneBatch });
    return { outcome: handled.outcome, records: read.records };
  }

  /** Timer-driven: shrink the ISR of lagging followers, retry an unanswered AlterPartition. */
  maybeChangeIsr(nowMs: number): void {
    const replication = this.args.replication;
    let state = this.leaderState;
    if (replication === undefined || state === undefined) return;
    const retry = isrChangeToRetry(state, nowMs);
    const proposal = retry?.proposedIsr ?? proposeIsrChange(state, {
      nowMs, leaderLogEndOffset: this.logEndOffset, highWatermark: this.highWatermark,
      replicaLagTimeMaxMs: replication.config.replicaLagTimeMaxMs, isEligible: replication.isEligible,
    });
    if (proposal === undefined) return;
    state = markIsrChangeSent(state, proposal, nowMs, replication.config.alterPartitionTimeoutMs);
    this.leaderState = state;
    const fromPartitionEpoch = state.partitionEpoch;
    const generation = this.roleGeneration;
    this.args.logger.info({ from: state.isr, to: proposal, partitionEpoch: fromPartitionEpoch }, 'proposing ISR change');
    const request = {
      topic: this.topic, topicId: this.info.topicId, partition: this.partition, leaderId: this.args.nodeId,
      leaderBrokerEpoch: replication.brokerEpoch(), leaderEpoch: state.leaderEpoch, partitionEpoch: fromPartitionEpoch, newIsr: proposal,
      newIsrBrokerEpochs: isrBrokerEpochs(state, proposal, replication.brokerEpoch()),
    };
    void replication.alterPartition.alterPartition(request, { timeoutMs: replication.config.alterPartitionTimeoutMs }).then((result) => {
      if (this.roleGeneration !== generation || this.leaderState === undefined) return;
      this.leaderState = applyAlterPartitionResult(this.leaderState, { fromPartitionEpoch, result, nowMs: replication.nowMs(), backoffMs: replication.config.alterPartitionBackoffMs });
      if (result.ok) {
        this.args.logger.info({ isr: result.partition.isr, partitionEpoch: result.partition.partitionEpoch }, 'ISR changed');
        if (result.partition.leaderEpoch === this.info.leaderEpoch && result.partition.partitionEpoch > this.info.partitionEpoch) this.info = result.partition;
      } else {
        this.args.logger.warn({ error: result.error, message: result.message }, 'ISR change not committed');
      }
      this.maybeAdvanceHighWatermark();
      this.args.onHighWatermarkChange();
    });
  }

  private leaderLogView(): { logStartOffset: number; logEndOffset: number; latestEpoch: number; endOffsetForEpoch(epoch: number): EpochEndOffset | undefined } {
    const log = this.args.log;
    return { logStartOffset: log.logStartOffset, logEndOffset: log.logEndOffset, latestEpoch: log.latestEpoch, endOffsetForEpoch: (e) => log.endOffsetForEpoch(e) };
  }

  // ---- replication: follower side ----

  /** What a follower fetch of this partition carries; undefined when we lead it. */
  followerFetchState(): { fetchOffset: number; lastFetchedEpoch: number; currentLeaderEpoch: number; logStartOffset: number; generation: number } | undefined {
    if (this.leaderState !== undefined || this.isLeader) return undefined;
    return { fetchOffset: this.logEndOffset, lastFetchedEpoch: this.args.log.latestEpoch, currentLeaderEpoch: this.leaderEpoch, logStartOffset: this.logStartOffset, generation: this.roleGeneration };
  }

  /** Appends batches fetched from the leader (from fetchOffset = our LEO) and takes its HW. */
  async appendFetched(generation: number, records: Buffer, leaderHighWatermark: number): Promise<void> {
    if (generation !== this.roleGeneration) return;
    if (records.length > 0) {
      // Skip batches we already hold (the leader returns whole batches from the one holding fetchOffset).
      let pos = records.length;
      for (const h of batchesIn(records, { verifyCrc: false })) {
        if (h.lastOffset >= this.logEndOffset) {
          pos = h.position;
          break;
        }
      }
      const fresh = records.subarray(pos);
      if (fresh.length > 0) {
        const ids = batchIdentities(fresh, this.args.logger);
        await this.args.log.appendAsFollower(fresh);
        // Followers track transactions and index aborted ones as the leader does, so a new leader knows
        // the open transactions (its last stable offset) and serves read_committed at once.
        for (const h of ids) await this.recordAppended(h);
      }
    }
    if (generation !== this.roleGeneration) return;
    const next = followerHighWatermark({ leaderHighWatermark, logEndOffset: this.logEndOffset, currentHighWatermark: this.highWatermark });
    if (next > this.highWatermark) {
      this.args.log.updateHighWatermark(next);
      this.args.onHighWatermarkChange();
    }
  }

  /**
   * Elected from outside the ISR (unclean.leader.election.enable): whatever the previous leader had at or
   * above our log end offset is gone — the other replicas truncate to our log. We cannot know the
   * previous leader's end; what we know is our high watermark: below it records were acknowledged, so
   * [logEndOffset, highWatermark) is certainly lost (a tail lost in an unclean stop), and anything the
   * old leader acknowledged from logEndOffset on may be.
   */
  private logUncleanElection(previous: PartitionInfo): void {
    const leo = this.logEndOffset;
    const hw = this.highWatermark;
    this.args.logger.warn({
      leaderEpoch: this.info.leaderEpoch, previousLeader: previous.leader, previousLeaderEpoch: previous.leaderEpoch, previousIsr: previous.isr,
      logEndOffset: leo, highWatermark: hw,
      ...(hw > leo ? { lostOffsets: `[${leo}, ${hw})` } : {}),
      mayBeLostFromOffset: leo,
    }, `unclean leader election: leading from outside the ISR [${previous.isr.join(',')}]; acknowledged records at offsets ≥ ${leo} on the previous leader ${previous.leader} may be lost${hw > leo ? ` (certainly [${leo}, ${hw}), below the high watermark this replica knew)` : ''}`);
  }

  /** The leader said our log diverged: leader-epoch truncation (KIP-279), never to the HW. */
  async truncateToDivergence(generation: number, diverging: EpochEndOffset, leaderLogStartOffset: number): Promise<void> {
    if (generation !== this.roleGeneration) return;
    const decision = followerTruncation({
      diverging, localLogStartOffset: this.logStartOffset, localLogEndOffset: this.logEndOffset,
      localEndOffsetForEpoch: (e) => this.args.log.endOffsetForEpoch(e), leaderLogStartOffset,
    });
    this.args.logger.info({ diverging, decision, logEndOffset: this.logEndOffset, highWatermark: this.highWatermark }, 'truncating diverged log');
    const keptEndOffset = decision.kind === 'truncate' ? decision.offset : decision.startOffset;
    if (keptEndOffset < this.highWatermark) {
      // Only after an unclean leader election does a leader's log end below records we knew committed.
      this.args.logger.warn({ leaderEpoch: this.info.leaderEpoch, leader: this.info.leader, lostOffsets: `[${keptEndOffset}, ${this.highWatermark})`, highWatermark: this.highWatermark },
        `truncating committed records [${keptEndOffset}, ${this.highWatermark}) below the high watermark: the leader (elected uncleanly) does not have them`);
    }
    await this.removeProducerSnapshot();
    if (decision.kind === 'truncate') {
      await this.args.log.truncateTo(decision.offset);
      // A truncated marker re-opens the transaction it ended, which the table cannot undo: a partition
      // with transaction state rebuilds it from the log (the snapshot was just removed: a bounded scan).
      if (this.idempotence.hasTransactionState) await this.loadProducerState();
      else this.idempotence.truncateTo(decision.offset);
    } else {
      await this.args.log.truncateFullyAndStartAt(decision.startOffset);
      this.idempotence.clear();
    }
  }

  /** Our fetch offset is outside the leader's log: start over at the leader's log start. */
  async resetToLeaderStart(generation: number, leaderLogStartOffset: number): Promise<void> {
    if (generation !== this.roleGeneration || this.logEndOffset >= leaderLogStartOffset) return;
    await this.removeProducerSnapshot();
    await this.args.log.truncateFullyAndStartAt(leaderLogStartOffset);
    this.idempotence.clear();
  }

  /** Follower progress without replication state (tests of the HW rule): record its LEO and re-evaluate the HW. */
  updateFollowerLogEndOffset(replicaId: number, logEndOffset: number): void {
    this.followerLogEndOffsets.set(replicaId, logEndOffset);
    this.maybeAdvanceHighWatermark();
  }

  private maybeAdvanceHighWatermark(): void {
    if (!this.isLeader) return;
    const current = this.highWatermark;
    const next = this.leaderState !== undefined
      ? computeLeaderHighWatermark(this.leaderState, { leaderLogEndOffset: this.logEndOffset, currentHighWatermark: current })
      : computeHighWatermark({
      leaderId: this.args.nodeId,
      leaderLogEndOffset: this.logEndOffset,
      followerLogEndOffsets: this.followerLogEndOffsets,
      isr: this.info.isr,
      currentHighWatermark: current,
    });
    if (next === current) return;
    assert(next > current && next <= this.logEndOffset, `${this.topic}-${this.partition}: high watermark ${current} -> ${next} with LEO ${this.logEndOffset}`);
    this.args.log.updateHighWatermark(next);
    this.args.onHighWatermarkChange();
  }
}

const EMPTY = Buffer.alloc(0);

/** The producer-state fields of every batch header in `batches` (records decoded only for control batches). */
interface BatchInBuffer extends AppendedBatch {
  /** Where the batch starts in the buffer and its size, in bytes. */
  readonly position: number;
  readonly sizeBytes: number;
}

function batchIdentities(batches: Buffer, logger: Logger): BatchInBuffer[] {
  // Headers only, for bytes read from the log or fetched from the leader (the follower's log checks their
  // CRC); a leader append uses the produce edge's headers instead. A control batch's one record says
  // COMMIT or ABORT.
  return Array.from(batchesIn(batches, { verifyCrc: false }), (h) => ({
    producerId: h.producerId, producerEpoch: h.producerEpoch, baseSequence: h.baseSequence, lastOffsetDelta: h.lastOffsetDelta,
    baseOffset: h.baseOffset, position: h.position, sizeBytes: h.sizeBytes, transactional: h.transactional, maxTimestamp: h.maxTimestamp,
    ...(h.control ? { marker: markerOf(batches, h.position, h.baseOffset, logger) } : {}),
  }));
}

function markerOf(batches: Buffer, position: number, offset: number, logger: Logger): MarkerInfo | 'unknown' {
  try {
    const record = readControlRecord(batches, position);
    return record.type === undefined ? 'unknown' : { committed: record.type === 'COMMIT', coordinatorEpoch: record.coordinatorEpoch };
  } catch (err) {
    // Its CRC was checked when it was written: this is a control batch of a kind we cannot read. It ends
    // nothing (a transaction it was meant to end stays open and holds the LSO: visible, not silent).
    logger.error({ err, offset }, 'a control batch does not decode; treating it as an unknown control type');
    return 'unknown';
  }
}
