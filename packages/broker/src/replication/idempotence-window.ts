// The idempotence state of one partition replica: the producer table (each idempotent producer's last
// batches, producer-state.ts) plus the batches accepted for append whose write has not finished
// ("pending"). Pure: no I/O, no clock (times are passed in); the Partition decides when to consult and
// update it, and loads/saves it through a ProducerStateStore.
//
// Decisions are taken synchronously at a request's arrival, so pipelined requests of one producer are
// judged in arrival order, which is also the order the log assigns offsets in. A retry of a pending
// batch waits for the original's outcome (its real offsets, or its error) instead of being answered
// from state that is not true yet.
import { ApiError, assert } from '../errors.js';
import { checkProducerAdmission, checkProducerCapacity } from './producer-admission.js';
import {
  checkSequence, expireProducers, lastSequenceOf, recordBatch, truncateProducerState,
  type BatchIdentity, type ProducerBatch, type ProducerEntry, type SequenceCheck,
} from './producer-state.js';

/** An idempotent batch accepted for append whose write has not finished. */
export interface PendingBatch {
  readonly identity: BatchIdentity;
  /** Its offsets once written; rejects with the append's error. */
  readonly outcome: Promise<ProducerBatch>;
  readonly settle: (batch: ProducerBatch | undefined, err: unknown) => void;
}

export type IdempotenceCheck = SequenceCheck | { readonly kind: 'pending'; readonly outcome: Promise<ProducerBatch> };

export class IdempotenceWindow {
  /** Idempotent producers' last batches (kept on followers too, so a new leader has it at once). */
  private readonly producers = new Map<number, ProducerEntry>();
  /** Idempotent batches accepted for append whose write has not finished, per producer id, in order. */
  private readonly pendingBatches = new Map<number, PendingBatch[]>();

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
    policy: { readonly allocatedEnd: number; readonly nowMs: () => number; readonly expirationMs: number; readonly onExpired: (count: number) => void },
  ): void {
    const judged = new Set<number>();
    for (const h of headers) {
      // A producer's later batches in one request follow its first: the sequence check judges them.
      if (judged.has(h.producerId)) continue;
      judged.add(h.producerId);
      const refusal = checkProducerAdmission(h, { allocatedEnd: policy.allocatedEnd, known: this.producers.has(h.producerId) || this.pendingBatches.has(h.producerId) });
      if (refusal !== null) throw new ApiError(refusal.code, `${this.options.label}: ${refusal.message}`);
    }
    const fresh = [...judged].filter((id) => id >= 0 && !this.producers.has(id) && !this.pendingBatches.has(id)).length;
    if (fresh === 0) return;
    const expired = expireProducers(this.producers, { nowMs: policy.nowMs(), expirationMs: policy.expirationMs });
    if (expired > 0) policy.onExpired(expired);
    let pendingOnly = 0;
    for (const id of this.pendingBatches.keys()) if (!this.producers.has(id)) pendingOnly += 1;
    const full = checkProducerCapacity({ occupied: this.producers.size + pendingOnly, newProducers: fresh, producersMax: this.options.producersMax });
    if (full !== null) throw new ApiError(full.code, `${this.options.label}: ${full.message}`);
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

  /** A batch written to the log at `baseOffset` (leader append, follower append, log scan at open). */
  record(batch: BatchIdentity & { readonly baseOffset: number }, nowMs: number): void {
    recordBatch(this.producers, batch, { producersMax: this.options.producersMax, nowMs });
  }

  /** The log was truncated to end at `offset`: batches at or above it are forgotten. */
  truncateTo(offset: number): void {
    truncateProducerState(this.producers, offset);
  }

  /** The log restarted empty, or state is about to be reloaded. */
  clear(): void {
    this.producers.clear();
  }

  /** Replaces the table with a snapshot's entries; an entry without its write time is stamped `loadedMs`. */
  load(entries: readonly ProducerEntry[], loadedMs: number): void {
    this.producers.clear();
    for (const entry of entries) this.producers.set(entry.producerId, { ...entry, lastWriteMs: entry.lastWriteMs ?? loadedMs });
  }

  /** The table, least recently written first (a snapshot's order). */
  entries(): ProducerEntry[] {
    return [...this.producers.values()];
  }
}
