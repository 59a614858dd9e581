// The idempotence state of one partition replica: the producer table (each idempotent producer's last
// batches, producer-state.ts) plus the batches accepted for append whose write has not finished
// ("pending"). Pure: no I/O, no clock (times are passed in); the Partition decides when to consult and
// update it, and loads/saves it through a ProducerStateStore.
//
// Decisions are taken synchronously at a request's arrival, so pipelined requests of one producer are
// judged in arrival order, which is also the order the log assigns offsets in. A retry of a pending
// batch waits for the original's outcome (its real offsets, or its error) instead of being answered
// from state that is not true yet.
//
// Transactions add, per producer: the open transaction (ProducerEntry.currentTxnFirstOffset, mirrored in
// `openTxns` so the last stable offset costs O(open transactions)), and the verification state of
// KIP-890 (Kafka's VerificationStateEntry + VerificationGuard): the first transactional batch of a
// producer epoch is verified with the coordinator before it is appended. A guard object is stored when
// the verification starts; a marker for the producer removes it; a verification that returns to find
// another (or no) guard refuses its batch — a batch verified before a marker is never appended after it.
import { ApiError, assert } from '../errors.js';
import { checkProducerAdmission, checkProducerCapacity } from './producer-admission.js';
import {
  checkMarker, checkSequence, expireProducers, lastSequenceOf, NO_TXN_OFFSET, openTxnFirstOffset, recordBatch, truncateProducerState,
  type AppendedBatch, type BatchIdentity, type CompletedTxn, type MarkerRefusal, type ProducerBatch, type ProducerEntry, type SequenceCheck,
} from './producer-state.js';

/** An idempotent batch accepted for append whose write has not finished. */
export interface PendingBatch {
  readonly identity: BatchIdentity;
  /** Its offsets once written; rejects with the append's error. */
  readonly outcome: Promise<ProducerBatch>;
  readonly settle: (batch: ProducerBatch | undefined, err: unknown) => void;
}

/** Identity of one verification (Kafka's VerificationGuard): compared by reference. */
export interface VerificationGuard {
  readonly producerId: number;
  readonly producerEpoch: number;
}

export type IdempotenceCheck = SequenceCheck | { readonly kind: 'pending'; readonly outcome: Promise<ProducerBatch> };

export class IdempotenceWindow {
  /** Idempotent producers' last batches (kept on followers too, so a new leader has it at once). */
  private readonly producers = new Map<number, ProducerEntry>();
  /** Idempotent batches accepted for append whose write has not finished, per producer id, in order. */
  private readonly pendingBatches = new Map<number, PendingBatch[]>();
  /** Producer id → first offset of its open transaction (derived from `producers`). */
  private readonly openTxns = new Map<number, number>();
  /**
   * Transactions a marker ended whose marker may not be below the high watermark yet, in marker order
   * (Kafka's unreplicatedTxns): they hold the last stable offset until it passes their marker.
   */
  private readonly unreplicated: CompletedTxn[] = [];
  /** Producer id → the verification of its current epoch (in flight, or passed: `verified`). */
  private readonly verifications = new Map<number, { readonly producerEpoch: number; readonly guard: VerificationGuard; verified: boolean; readonly outcome: Promise<void> }>();

  constructor(private readonly options: {
    /** `<topic>-<partition>`, prefixed to error messages. */
    readonly label: string;
    /** producer.ids.per.partition.max */
    readonly producersMax: number;
  }) {}

  /**
   * Refuses (ApiError) batches whose producer identity the cluster never gave out, and new producer
   * ids while the table is full of unexpired ones — before anything about them is stored
   * (producer-admission.ts). Expires idle producers first when a new one arrives (reported to `onExpired`).
   */
  admit(
    headers: readonly BatchIdentity[],
    policy: {
      readonly allocatedEnd: number; readonly nowMs: () => number; readonly expirationMs: number; readonly onExpired: (count: number) => void;
      readonly origin?: 'client' | 'coordinator';
    },
  ): void {
    const judged = new Set<number>();
    for (const h of headers) {
      // A producer's later batches in one request follow its first: the sequence check judges them.
      if (judged.has(h.producerId)) continue;
      judged.add(h.producerId);
      const refusal = checkProducerAdmission(h, { allocatedEnd: policy.allocatedEnd, known: this.isKnown(h.producerId), origin: policy.origin ?? 'client' });
      if (refusal !== null) throw new ApiError(refusal.code, `${this.options.label}: ${refusal.message}`);
    }
    const fresh = [...judged].filter((id) => id >= 0 && !this.isKnown(id)).length;
    if (fresh === 0) return;
    const expired = expireProducers(this.producers, { nowMs: policy.nowMs(), expirationMs: policy.expirationMs });
    if (expired > 0) policy.onExpired(expired);
    let pendingOnly = 0;
    for (const id of this.pendingBatches.keys()) if (!this.producers.has(id)) pendingOnly += 1;
    for (const id of this.verifications.keys()) if (!this.producers.has(id) && !this.pendingBatches.has(id)) pendingOnly += 1;
    const full = checkProducerCapacity({ occupied: this.producers.size + pendingOnly, newProducers: fresh, producersMax: this.options.producersMax });
    if (full !== null) throw new ApiError(full.code, `${this.options.label}: ${full.message}`);
  }

  /**
   * The partition has state for this producer id: written, accepted and being written, or a transactional
   * batch being verified (its later pipelined batches wait for that answer, then are judged in order).
   */
  private isKnown(producerId: number): boolean {
    return this.producers.has(producerId) || this.pendingBatches.has(producerId) || this.verifications.has(producerId);
  }

  /** The idempotence decision for one batch against written state plus pending (accepted, unwritten) batches. */
  check(h: BatchIdentity): IdempotenceCheck {
    const pending = this.pendingBatches.get(h.producerId) ?? [];
    const same = pending.find((p) => p.identity.producerEpoch === h.producerEpoch
      && p.identity.baseSequence === h.baseSequence && p.identity.lastOffsetDelta === h.lastOffsetDelta);
    if (same !== undefined) return { kind: 'pending', outcome: same.outcome };
    const newest = pending[pending.length - 1];
    if (newest === undefined) return checkSequence(this.producers, h);
    // Judge against the written window extended by the pending batches (offsets not known yet; a
    // duplicate of a pending batch was answered above, so the placeholders are never returned).
    const written = this.producers.get(h.producerId);
    const sameEpoch = written !== undefined && written.producerEpoch === newest.identity.producerEpoch ? written.batches : [];
    const view: ProducerEntry = {
      producerId: h.producerId, producerEpoch: newest.identity.producerEpoch, lastOffset: -1,
      batches: [...sameEpoch, ...pending.map((p) => ({ firstSequence: p.identity.baseSequence, lastSequence: lastSequenceOf(p.identity), firstOffset: -1, lastOffset: -1 }))],
    };
    const check = checkSequence(new Map([[h.producerId, view]]), h);
    assert(check.kind !== 'duplicate' || check.batch.firstOffset >= 0, `${this.options.label}: a pending batch matched as written`);
    return check;
  }

  /** Marks `identity` accepted for append: later batches of its producer are judged after it. */
  addPending(identity: BatchIdentity): PendingBatch {
    let settle!: (batch: ProducerBatch | undefined, err: unknown) => void;
    const outcome = new Promise<ProducerBatch>((resolve, reject) => {
      settle = (batch, err) => (batch !== undefined ? resolve(batch) : reject(err));
    });
    outcome.catch(() => undefined); // only retries await it; the original request reports the error
    const p: PendingBatch = { identity, outcome, settle };
    const list = this.pendingBatches.get(identity.producerId) ?? [];
    list.push(p);
    this.pendingBatches.set(identity.producerId, list);
    return p;
  }

  /** The pending batch's write finished: with its offsets (`batch`), or failed with `err`. */
  settle(p: PendingBatch, err: unknown, batch?: ProducerBatch): void {
    const list = (this.pendingBatches.get(p.identity.producerId) ?? []).filter((q) => q !== p);
    if (list.length === 0) this.pendingBatches.delete(p.identity.producerId);
    else this.pendingBatches.set(p.identity.producerId, list);
    p.settle(batch, err);
  }

  /**
   * A batch written to the log at `baseOffset` (leader append, follower append, log scan at open).
   * Returns the transaction a marker ended (the caller indexes an aborted one).
   */
  record(batch: AppendedBatch, nowMs: number): CompletedTxn | undefined {
    const completed = recordBatch(this.producers, batch, { producersMax: this.options.producersMax, nowMs });
    if (batch.marker !== undefined) this.verifications.delete(batch.producerId);
    this.syncOpenTxn(batch.producerId);
    if (completed !== undefined) this.unreplicated.push(completed);
    return completed;
  }

  /** The log was truncated to end at `offset`: batches at or above it are forgotten. */
  truncateTo(offset: number): void {
    truncateProducerState(this.producers, offset);
    this.rebuildOpenTxns();
    while ((this.unreplicated[this.unreplicated.length - 1]?.lastOffset ?? -1) >= offset) this.unreplicated.pop();
  }

  /** The log restarted empty, or state is about to be reloaded. */
  clear(): void {
    this.producers.clear();
    this.openTxns.clear();
    this.verifications.clear();
    this.unreplicated.length = 0;
  }

  /** Replaces the table with a snapshot's entries; an entry without its write time is stamped `loadedMs`. */
  load(entries: readonly ProducerEntry[], loadedMs: number): void {
    this.producers.clear();
    for (const entry of entries) this.producers.set(entry.producerId, { ...entry, lastWriteMs: entry.lastWriteMs ?? loadedMs });
    this.rebuildOpenTxns();
  }

  /** The producer's written state, if any. */
  entry(producerId: number): ProducerEntry | undefined {
    return this.producers.get(producerId);
  }

  /** Whether any producer has an open transaction or has had a marker here (the partition is transactional). */
  get hasTransactionState(): boolean {
    if (this.openTxns.size > 0) return true;
    for (const entry of this.producers.values()) if ((entry.coordinatorEpoch ?? -1) >= 0) return true;
    return false;
  }

  /**
   * First offset of the earliest transaction that is open, or ended by a marker at or above
   * `highWatermark`; undefined when there is none. O(open transactions). Forgets ended transactions
   * whose marker is below the high watermark (it only moves up).
   */
  firstUnstableOffset(highWatermark: number): number | undefined {
    this.forgetReplicated(highWatermark);
    let min: number | undefined;
    for (const first of this.openTxns.values()) if (min === undefined || first < min) min = first;
    for (const txn of this.unreplicated) if (min === undefined || txn.firstOffset < min) min = txn.firstOffset;
    return min;
  }

  /** Forgets ended transactions whose marker is below `highWatermark` (bounds `unreplicated` to the unreplicated tail). */
  forgetReplicated(highWatermark: number): void {
    let drop = 0;
    while (drop < this.unreplicated.length && this.unreplicated[drop]!.lastOffset < highWatermark) drop += 1;
    if (drop > 0) this.unreplicated.splice(0, drop);
  }

  /** The earliest open transaction's first offset other than `excludedProducerId`'s (the LSO an aborted-index entry records). */
  firstOpenTxnOffset(excludedProducerId: number): number | undefined {
    let min: number | undefined;
    for (const [id, first] of this.openTxns) if (id !== excludedProducerId && (min === undefined || first < min)) min = first;
    return min;
  }

  /** Forgets every verification (leadership changed: in-flight ones are refused when they return). */
  clearVerifications(): void {
    this.verifications.clear();
  }

  /** Forgets the verification of `producerId` (a marker was accepted for it: Kafka's guard is cleared). */
  clearVerification(producerId: number): void {
    this.verifications.delete(producerId);
  }

  /** Highest epoch among the producer's accepted, unwritten idempotent batches (-1: none). */
  pendingEpoch(producerId: number): number {
    let max = -1;
    for (const p of this.pendingBatches.get(producerId) ?? []) max = Math.max(max, p.identity.producerEpoch);
    return max;
  }

  /** Whether `producerId` has a transaction open on this partition. */
  hasOpenTxn(producerId: number): boolean {
    return this.openTxns.has(producerId);
  }

  /** The leader's check of a marker before writing it (producer-state.ts checkMarker). */
  checkMarker(marker: { readonly producerId: number; readonly producerEpoch: number; readonly coordinatorEpoch: number }): MarkerRefusal | null {
    return checkMarker(this.producers.get(marker.producerId), marker);
  }

  /**
   * Whether a client's transactional batch must be verified with the coordinator first: not when the
   * producer's transaction is open here at this epoch, nor when this epoch already passed verification
   * (a batch accepted after it may still be being written).
   */
  verificationState(h: BatchIdentity): 'not-needed' | 'needed' | { readonly guard: VerificationGuard; readonly outcome: Promise<void> } {
    if (h.transactional !== true) return 'not-needed';
    const entry = this.producers.get(h.producerId);
    if (entry !== undefined && entry.producerEpoch === h.producerEpoch && openTxnFirstOffset(entry) !== NO_TXN_OFFSET) return 'not-needed';
    const v = this.verifications.get(h.producerId);
    if (v === undefined || v.producerEpoch !== h.producerEpoch) return 'needed';
    // In flight: later batches of the producer wait for the same answer, so they are judged after the
    // first, in arrival order (promise reactions run in the order they were registered).
    return v.verified ? 'not-needed' : { guard: v.guard, outcome: v.outcome };
  }

  /** A verification of the producer's epoch starts: its guard (any older one is replaced). `outcome` settles with its answer. */
  beginVerification(producerId: number, producerEpoch: number, outcome: Promise<void>): VerificationGuard {
    const guard: VerificationGuard = { producerId, producerEpoch };
    this.verifications.set(producerId, { producerEpoch, guard, verified: false, outcome });
    return guard;
  }

  /** Whether `guard` is still the producer's verification and it passed (no marker since). */
  isVerified(guard: VerificationGuard): boolean {
    const current = this.verifications.get(guard.producerId);
    return current !== undefined && current.guard === guard && current.verified;
  }

  /**
   * The coordinator answered `ok` for `guard`'s verification. True when the batch may go on: the
   * guard is still the producer's (no marker, and no newer verification, came in between).
   */
  completeVerification(guard: VerificationGuard, ok: boolean): boolean {
    const current = this.verifications.get(guard.producerId);
    if (current === undefined || current.guard !== guard) return false;
    if (!ok) {
      this.verifications.delete(guard.producerId);
      return false;
    }
    current.verified = true;
    return true;
  }

  private syncOpenTxn(producerId: number): void {
    const first = openTxnFirstOffset(this.producers.get(producerId));
    if (first === NO_TXN_OFFSET) this.openTxns.delete(producerId);
    else this.openTxns.set(producerId, first);
  }

  private rebuildOpenTxns(): void {
    this.openTxns.clear();
    for (const [id, entry] of this.producers) {
      const first = openTxnFirstOffset(entry);
      if (first !== NO_TXN_OFFSET) this.openTxns.set(id, first);
    }
  }

  /** The table, least recently written first (a snapshot's order). */
  entries(): ProducerEntry[] {
    return [...this.producers.values()];
  }
}
