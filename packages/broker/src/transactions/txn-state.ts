// The transaction coordinator's pure core: per transactional id, the producer id and epoch, the state of
// its current transaction, the partitions in it, its timeout. Each request is a step function from the
// current metadata (or none) and the request to either an error or the next metadata, which the shell
// writes to `__transaction_state` with acks=all BEFORE it answers or acts on it. No clock, no I/O: time
// and freshly allocated producer ids come in as inputs.
//
// States and moves follow Kafka's TransactionState (validPreviousStates), transactions v2 (KIP-890):
//
//   (none) ─InitProducerId→ Empty ─AddPartitions/AddOffsets→ Ongoing ─EndTxn(commit)→ PrepareCommit ─markers→ CompleteCommit
//                            ▲ ▲                               │   │                                                │
//                            │ └──────────InitProducerId───────┼───┼────────────── Complete* ◄──────────────────────┘
//                            │                                 │   └─EndTxn(abort) / timeout / fence→ PrepareAbort ─markers→ CompleteAbort
//                          Dead (transactional.id.expiration.ms; a tombstone) ◄── Empty / Complete*
//
// Every EndTxn bumps the producer epoch: the markers carry the bumped epoch, so a late batch of the
// transaction's epoch is refused by the partition (INVALID_PRODUCER_EPOCH). PrepareEpochFence is the
// in-memory step of InitProducerId over an open transaction (as Kafka: never written; the record
// written is the PrepareAbort that follows it).
import type { ErrorCodeName } from '../errors.js';

export type TxnStateName =
  | 'Empty' | 'Ongoing' | 'PrepareCommit' | 'PrepareAbort' | 'CompleteCommit' | 'CompleteAbort' | 'PrepareEpochFence' | 'Dead';

export const TXN_STATES: readonly TxnStateName[] = ['Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort', 'PrepareEpochFence', 'Dead'];

/**
 * Kafka's TransactionState.validPreviousStates: `to` may follow only these. PrepareAbort may follow
 * Empty/Complete* (v2: an abort with nothing open still bumps the epoch) and PrepareEpochFence.
 */
export const VALID_PREVIOUS_STATES: Readonly<Record<TxnStateName, readonly TxnStateName[]>> = Object.freeze({
  Empty: ['Empty', 'CompleteCommit', 'CompleteAbort'],
  Ongoing: ['Ongoing', 'Empty', 'CompleteCommit', 'CompleteAbort'],
  PrepareCommit: ['Ongoing'],
  PrepareAbort: ['Ongoing', 'PrepareEpochFence', 'Empty', 'CompleteCommit', 'CompleteAbort'],
  CompleteCommit: ['PrepareCommit'],
  CompleteAbort: ['PrepareAbort'],
  PrepareEpochFence: ['Ongoing'],
  Dead: ['Empty', 'CompleteCommit', 'CompleteAbort'],
});

/** The states a record in `__transaction_state` may hold (PrepareEpochFence is never written; Dead is a tombstone). */
export const DURABLE_STATES: readonly TxnStateName[] = ['Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort'];

export function isLegalTransition(from: TxnStateName, to: TxnStateName): boolean {
  return VALID_PREVIOUS_STATES[to].includes(from);
}

/** Kafka's producer epoch is an int16: 32767 is the last one. */
export const PRODUCER_EPOCH_MAX = 32_767;
/** Producer ids are int64 on the wire; ours are safe integers. */
export const PRODUCER_ID_MAX = Number.MAX_SAFE_INTEGER;
/** No producer id / epoch (-1), as Kafka's RecordBatch.NO_PRODUCER_ID / NO_PRODUCER_EPOCH. */
export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
/** Longest transactional id, UTF-16 code units (Tributary's; Kafka's wire limit is 32767 bytes). It is a record key. */
export const TRANSACTIONAL_ID_LENGTH_MAX = 1_024;
/**
 * Most partitions in one transaction (all AddPartitionsToTxn/AddOffsetsToTxn together) and in one
 * request: the transaction's record must fit in one batch of `__transaction_state` (2,000 partitions
 * of 249-character topics is about 0.5 MiB of JSON). Tributary's; Kafka has none.
 */
export const TXN_PARTITIONS_MAX = 2_000;

/**
 * Kafka's isEpochExhausted: an epoch at or past 32766 cannot take another transaction, because the
 * end of that transaction needs one more epoch (32767) for its markers.
 */
export function isEpochExhausted(epoch: number): boolean {
  return epoch >= PRODUCER_EPOCH_MAX - 1;
}

export interface TxnPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface TxnMetadata {
  readonly transactionalId: string;
  /** In Prepare*, Complete* states after an exhausted epoch: see nextProducerId. */
  readonly producerId: number;
  /** The previous id (epoch exhaustion) or the same id; NO_PRODUCER_ID before any. */
  readonly lastProducerId: number;
  /**
   * The current epoch: the producer's (Empty/Ongoing), the markers' (Prepare*, Complete*: the
   * transaction's epoch + 1).
   */
  readonly producerEpoch: number;
  /**
   * The epoch of the last ended transaction, so a retried EndTxn is recognised (v2); NO_PRODUCER_EPOCH
   * when the last end was a fence (InitProducerId over an open transaction), which no retry may match.
   */
  readonly lastProducerEpoch: number;
  /**
   * Set in Prepare*, Complete* when the transaction's end exhausted the epoch: the id the producer uses next
   * (epoch 0); Complete* moves to it. NO_PRODUCER_ID otherwise.
   */
  readonly nextProducerId: number;
  readonly timeoutMs: number;
  readonly state: TxnStateName;
  /** Sorted by topic then partition, no duplicates. Empty outside Ongoing/Prepare*. */
  readonly partitions: readonly TxnPartition[];
  /** When the open transaction began (first AddPartitions), -1 when none is open. */
  readonly txnStartTimestampMs: number;
  readonly txnLastUpdateTimestampMs: number;
}

export type TxnStep =
  | { readonly kind: 'error'; readonly error: ErrorCodeName; readonly message: string }
  /** A new producer id is needed (new transactional id, epoch exhaustion): allocate one and step again with it. */
  | { readonly kind: 'allocate' }
  /**
   * Write `next` (acks=all), then answer. `next === current` (same object) means nothing to write.
   * `error`: the answer after the write (CONCURRENT_TRANSACTIONS when the write began an abort first).
   */
  | { readonly kind: 'write'; readonly next: TxnMetadata; readonly error?: ErrorCodeName; readonly reply: { readonly producerId: number; readonly producerEpoch: number } };

export interface StepContext {
  readonly nowMs: number;
  /** A producer id the shell allocated for this step (after an 'allocate' answer). */
  readonly newProducerId?: number;
}

const err = (error: ErrorCodeName, message: string): TxnStep => ({ kind: 'error', error, message });

/** Throws when `from → to` is not in the table: the core never builds an illegal move. */
export function transition(meta: TxnMetadata, to: TxnStateName, fields: Partial<Omit<TxnMetadata, 'state' | 'transactionalId'>>): TxnMetadata {
  if (!isLegalTransition(meta.state, to)) throw new IllegalTransitionError(meta.transactionalId, meta.state, to);
  return { ...meta, ...fields, state: to };
}

export class IllegalTransitionError extends Error {
  override readonly name = 'AssertionError';
  constructor(readonly transactionalId: string, readonly from: TxnStateName, readonly to: TxnStateName) {
    super(`transactional id ${JSON.stringify(transactionalId)}: illegal transition ${from} -> ${to}`);
  }
}

const partitionKey = (tp: TxnPartition): string => `${tp.topic}\u0000${tp.partition}`;

export function comparePartitions(a: TxnPartition, b: TxnPartition): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition;
}

function unionPartitions(current: readonly TxnPartition[], added: readonly TxnPartition[]): TxnPartition[] {
  const seen = new Map(current.map((tp) => [partitionKey(tp), tp]));
  for (const tp of added) seen.set(partitionKey(tp), { topic: tp.topic, partition: tp.partition });
  return [...seen.values()].sort(comparePartitions);
}

function isPrepare(state: TxnStateName): boolean {
  return state === 'PrepareCommit' || state === 'PrepareAbort' || state === 'PrepareEpochFence';
}

function isComplete(state: TxnStateName): boolean {
  return state === 'Empty' || state === 'CompleteCommit' || state === 'CompleteAbort';
}

/** The id and epoch the producer uses next, as InitProducerId / EndTxn answer them. */
export function producerIdentity(meta: TxnMetadata): { producerId: number; producerEpoch: number } {
  if (meta.nextProducerId !== NO_PRODUCER_ID) return { producerId: meta.nextProducerId, producerEpoch: 0 };
  return { producerId: meta.producerId, producerEpoch: meta.producerEpoch };
}

/** The id and epoch the markers of a Prepare* transaction carry. */
export function markerIdentity(meta: TxnMetadata): { producerId: number; producerEpoch: number } {
  return { producerId: meta.producerId, producerEpoch: meta.producerEpoch };
}

// ---- InitProducerId -------------------------------------------------------------------------------

export interface InitProducerIdInput {
  readonly transactionalId: string;
  readonly timeoutMs: number;
  /** KIP-360: the producer's current id and epoch, or NO_PRODUCER_ID / NO_PRODUCER_EPOCH for a new producer. */
  readonly producerId: number;
  readonly producerEpoch: number;
}

/**
 * A new id gets a fresh producer id (Empty, epoch 0). An existing one: Prepare* → CONCURRENT_TRANSACTIONS
 * (markers pending); Ongoing → fence: PrepareEpochFence → PrepareAbort with the epoch bumped (the old
 * incarnation's writes are refused from here on) and CONCURRENT_TRANSACTIONS, the client retries;
 * Empty/Complete* → Empty with the epoch bumped, or a new producer id when the epoch is exhausted.
 */
export function initProducerId(meta: TxnMetadata | undefined, input: InitProducerIdInput, ctx: StepContext): TxnStep {
  const kip360 = input.producerId !== NO_PRODUCER_ID;
  if (meta === undefined || meta.state === 'Dead') {
    if (kip360) return err('INVALID_PRODUCER_ID_MAPPING', `transactional id ${JSON.stringify(input.transactionalId)} has no producer id ${input.producerId}`);
    if (ctx.newProducerId === undefined) return { kind: 'allocate' };
    const next: TxnMetadata = {
      transactionalId: input.transactionalId, producerId: ctx.newProducerId, lastProducerId: NO_PRODUCER_ID,
      producerEpoch: 0, lastProducerEpoch: NO_PRODUCER_EPOCH, nextProducerId: NO_PRODUCER_ID, timeoutMs: input.timeoutMs,
      state: 'Empty', partitions: [], txnStartTimestampMs: -1, txnLastUpdateTimestampMs: ctx.nowMs,
    };
    return { kind: 'write', next, reply: { producerId: next.producerId, producerEpoch: 0 } };
  }
  if (isPrepare(meta.state)) return err('CONCURRENT_TRANSACTIONS', `the ${meta.state} of ${JSON.stringify(meta.transactionalId)} is still writing markers`);
  if (kip360) {
    const current = producerIdentity(meta);
    // A retried InitProducerId whose bump already happened: answer it again.
    if (meta.state === 'Empty' && input.producerId === meta.lastProducerId && input.producerEpoch === meta.lastProducerEpoch && input.producerEpoch !== NO_PRODUCER_EPOCH) {
      return { kind: 'write', next: meta, reply: current };
    }
    if (input.producerId !== current.producerId || input.producerEpoch !== current.producerEpoch) {
      return err('PRODUCER_FENCED', `producer ${input.producerId} epoch ${input.producerEpoch} is not the current incarnation (${current.producerId} epoch ${current.producerEpoch})`);
    }
  }
  if (meta.state === 'Ongoing') {
    // Fence the open transaction: abort it with the bumped epoch; the retry after its markers bumps again.
    const fence = transition(meta, 'PrepareEpochFence', {});
    const { next, reply } = beginEnd(fence, 'PrepareAbort', ctx, NO_PRODUCER_EPOCH);
    if (next === undefined) return { kind: 'allocate' };
    return { kind: 'write', next, error: 'CONCURRENT_TRANSACTIONS', reply };
  }
  // Empty / CompleteCommit / CompleteAbort: bump the current identity, or move to a new id.
  const current = producerIdentity(meta);
  const base: Partial<TxnMetadata> = { nextProducerId: NO_PRODUCER_ID, timeoutMs: input.timeoutMs, partitions: [], txnStartTimestampMs: -1, txnLastUpdateTimestampMs: ctx.nowMs };
  if (isEpochExhausted(current.producerEpoch)) {
    if (ctx.newProducerId === undefined) return { kind: 'allocate' };
    const next = transition(meta, 'Empty', { ...base, producerId: ctx.newProducerId, lastProducerId: current.producerId, producerEpoch: 0, lastProducerEpoch: current.producerEpoch });
    return { kind: 'write', next, reply: { producerId: ctx.newProducerId, producerEpoch: 0 } };
  }
  const next = transition(meta, 'Empty', { ...base, producerId: current.producerId, lastProducerId: current.producerId, producerEpoch: current.producerEpoch + 1, lastProducerEpoch: current.producerEpoch });
  return { kind: 'write', next, reply: { producerId: next.producerId, producerEpoch: next.producerEpoch } };
}

// ---- AddPartitionsToTxn / AddOffsetsToTxn -----------------------------------------------------------

export interface AddPartitionsInput {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly partitions: readonly TxnPartition[];
}

/** The check every in-transaction request makes: this id, this epoch, no markers pending. */
function checkProducer(meta: TxnMetadata | undefined, producerId: number, producerEpoch: number, transactionalId: string): TxnStep | undefined {
  if (meta === undefined || meta.state === 'Dead') return err('INVALID_PRODUCER_ID_MAPPING', `transactional id ${JSON.stringify(transactionalId)} is unknown: call InitProducerId first`);
  const current = producerIdentity(meta);
  if (producerId !== current.producerId) {
    // The previous id of an exhausted epoch is a fenced incarnation, any other a mapping error.
    if (producerId === meta.lastProducerId || producerId === meta.producerId) return err('PRODUCER_FENCED', `producer id ${producerId} of ${JSON.stringify(transactionalId)} was replaced by ${current.producerId}`);
    return err('INVALID_PRODUCER_ID_MAPPING', `transactional id ${JSON.stringify(transactionalId)} has producer id ${current.producerId}, not ${producerId}`);
  }
  if (producerEpoch !== current.producerEpoch) return err('PRODUCER_FENCED', `producer ${producerId} epoch ${producerEpoch} is fenced: the current epoch is ${current.producerEpoch}`);
  if (isPrepare(meta.state)) return err('CONCURRENT_TRANSACTIONS', `the previous transaction of ${JSON.stringify(transactionalId)} is still writing its markers (${meta.state})`);
  return undefined;
}

/** Empty, Complete*, Ongoing → Ongoing with the partitions added; nothing to write when all are in already. */
export function addPartitions(meta: TxnMetadata | undefined, transactionalId: string, input: AddPartitionsInput, ctx: StepContext): TxnStep {
  const refused = checkProducer(meta, input.producerId, input.producerEpoch, transactionalId);
  if (refused !== undefined) return refused;
  const m = meta as TxnMetadata;
  const partitions = unionPartitions(m.state === 'Ongoing' ? m.partitions : [], input.partitions);
  if (partitions.length > TXN_PARTITIONS_MAX) return err('INVALID_REQUEST', `a transaction may hold at most ${TXN_PARTITIONS_MAX} partitions (TXN_PARTITIONS_MAX); this one would hold ${partitions.length}`);
  if (m.state === 'Ongoing' && partitions.length === m.partitions.length) return { kind: 'write', next: m, reply: producerIdentity(m) };
  const wasOpen = m.state === 'Ongoing';
  const next = transition(m, 'Ongoing', {
    partitions, producerId: producerIdentity(m).producerId, producerEpoch: producerIdentity(m).producerEpoch, nextProducerId: NO_PRODUCER_ID,
    txnStartTimestampMs: wasOpen ? m.txnStartTimestampMs : ctx.nowMs, txnLastUpdateTimestampMs: ctx.nowMs,
    ...(m.nextProducerId !== NO_PRODUCER_ID ? { lastProducerId: m.producerId } : {}),
  });
  return { kind: 'write', next, reply: producerIdentity(next) };
}

/**
 * verify_only (KIP-890 part 1): is `tp` in the ongoing transaction of exactly this id and epoch?
 * undefined = yes. Never writes.
 */
export function verifyPartition(meta: TxnMetadata | undefined, transactionalId: string, producerId: number, producerEpoch: number, tp: TxnPartition): ErrorCodeName | undefined {
  if (meta === undefined || meta.state === 'Dead') return 'INVALID_PRODUCER_ID_MAPPING';
  if (producerId !== meta.producerId) return meta.lastProducerId === producerId ? 'PRODUCER_FENCED' : 'INVALID_PRODUCER_ID_MAPPING';
  if (producerEpoch < meta.producerEpoch) return 'PRODUCER_FENCED';
  if (producerEpoch > meta.producerEpoch) return 'INVALID_PRODUCER_EPOCH';
  if (meta.state !== 'Ongoing') return 'INVALID_TXN_STATE';
  void transactionalId;
  return meta.partitions.some((p) => p.topic === tp.topic && p.partition === tp.partition) ? undefined : 'INVALID_TXN_STATE';
}

// ---- EndTxn -----------------------------------------------------------------------------------------

export interface EndTxnInput {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly committed: boolean;
}

/**
 * Ongoing → Prepare* with the epoch bumped (a new id if that exhausts it). A retry of an end that
 * already happened (previous epoch, same outcome) answers success once Complete*, CONCURRENT_TRANSACTIONS
 * while its markers are pending; the other outcome is INVALID_TXN_STATE. Commit with nothing open is
 * INVALID_TXN_STATE; abort with nothing open bumps the epoch (v2, PrepareAbort with no partitions).
 */
export function endTxn(meta: TxnMetadata | undefined, transactionalId: string, input: EndTxnInput, ctx: StepContext): TxnStep {
  if (meta !== undefined && meta.state !== 'Dead' && isRetryOfEnd(meta, input)) {
    const outcome: TxnStateName = input.committed ? 'CompleteCommit' : 'CompleteAbort';
    const pending: TxnStateName = input.committed ? 'PrepareCommit' : 'PrepareAbort';
    if (meta.state === outcome) return { kind: 'write', next: meta, reply: producerIdentity(meta) };
    if (meta.state === pending) return err('CONCURRENT_TRANSACTIONS', `the ${input.committed ? 'commit' : 'abort'} of ${JSON.stringify(transactionalId)} is still writing its markers`);
    return err('INVALID_TXN_STATE', `cannot ${input.committed ? 'commit' : 'abort'}: the transaction of ${JSON.stringify(transactionalId)} ended as ${meta.state}`);
  }
  const refused = checkProducer(meta, input.producerId, input.producerEpoch, transactionalId);
  if (refused !== undefined) return refused;
  const m = meta as TxnMetadata;
  if (m.state !== 'Ongoing') {
    if (input.committed) return err('INVALID_TXN_STATE', `cannot commit: ${JSON.stringify(transactionalId)} has no open transaction (${m.state})`);
  }
  const { next, reply } = beginEnd(m, input.committed ? 'PrepareCommit' : 'PrepareAbort', ctx, producerIdentity(m).producerEpoch);
  if (next === undefined) return { kind: 'allocate' };
  return { kind: 'write', next, reply };
}

function isRetryOfEnd(meta: TxnMetadata, input: EndTxnInput): boolean {
  if (input.producerEpoch === NO_PRODUCER_EPOCH || input.producerEpoch !== meta.lastProducerEpoch) return false;
  if (!(meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort' || meta.state === 'CompleteCommit' || meta.state === 'CompleteAbort')) return false;
  // The ended transaction ran on producerId (the markers' id), whatever id comes next.
  return input.producerId === meta.producerId;
}

/**
 * The start of a transaction's end: Prepare* with the markers' epoch (the transaction's + 1); when that
 * exhausts the epoch, nextProducerId is the id to use after (from ctx; undefined = allocate first).
 * `retryEpoch` is what a retried EndTxn must carry to be recognised (NO_PRODUCER_EPOCH for a fence).
 */
function beginEnd(meta: TxnMetadata, to: 'PrepareCommit' | 'PrepareAbort', ctx: StepContext, retryEpoch: number): { next: TxnMetadata | undefined; reply: { producerId: number; producerEpoch: number } } {
  const current = producerIdentity(meta);
  const exhausted = isEpochExhausted(current.producerEpoch);
  if (exhausted && ctx.newProducerId === undefined) return { next: undefined, reply: current };
  const open = meta.state === 'Ongoing' || meta.state === 'PrepareEpochFence';
  const next = transition(meta, to, {
    producerId: current.producerId, lastProducerId: current.producerId,
    producerEpoch: current.producerEpoch + 1, lastProducerEpoch: retryEpoch,
    nextProducerId: exhausted ? (ctx.newProducerId as number) : NO_PRODUCER_ID,
    partitions: open ? meta.partitions : [], txnStartTimestampMs: open ? meta.txnStartTimestampMs : -1, txnLastUpdateTimestampMs: ctx.nowMs,
  });
  return { next, reply: producerIdentity(next) };
}

/** Prepare* → Complete*, once every marker is written. */
export function completeTxn(meta: TxnMetadata, ctx: StepContext): TxnMetadata {
  const to: TxnStateName = meta.state === 'PrepareCommit' ? 'CompleteCommit' : 'CompleteAbort';
  return transition(meta, to, { partitions: [], txnStartTimestampMs: -1, txnLastUpdateTimestampMs: ctx.nowMs });
}

// ---- timeouts and expiration ------------------------------------------------------------------------

/** An Ongoing transaction past its transaction.timeout.ms. */
export function isTimedOut(meta: TxnMetadata, nowMs: number): boolean {
  return meta.state === 'Ongoing' && meta.txnStartTimestampMs + meta.timeoutMs < nowMs;
}

/**
 * Aborts a timed-out transaction (Kafka v2): PrepareAbort with the epoch bumped. The producer's next
 * produce with the old epoch is refused (INVALID_PRODUCER_EPOCH, abortable), its next
 * AddPartitions/AddOffsets/commit is PRODUCER_FENCED / INVALID_TXN_STATE, and its abortTransaction()
 * is a retry of this abort that succeeds and hands it the new epoch.
 */
export function abortTimedOut(meta: TxnMetadata, ctx: StepContext): TxnStep {
  if (!isTimedOut(meta, ctx.nowMs)) return err('INVALID_TXN_STATE', `${JSON.stringify(meta.transactionalId)} has not timed out`);
  const { next, reply } = beginEnd(meta, 'PrepareAbort', ctx, meta.producerEpoch);
  if (next === undefined) return { kind: 'allocate' };
  return { kind: 'write', next, reply };
}

/** transactional.id.expiration.ms: an id idle (Empty, Complete*) for that long is Dead (a tombstone). */
export function isExpired(meta: TxnMetadata, nowMs: number, expirationMs: number): boolean {
  return isComplete(meta.state) && meta.txnLastUpdateTimestampMs + expirationMs <= nowMs;
}

export function expire(meta: TxnMetadata, ctx: StepContext): TxnMetadata {
  return transition(meta, 'Dead', { partitions: [], txnLastUpdateTimestampMs: ctx.nowMs });
}

// ---- invariants ---------------------------------------------------------------------------------------

/** The shape every metadata must have; the shell asserts it before writing, replay checks records with it. */
export function metadataProblem(meta: TxnMetadata): string | undefined {
  if (!TXN_STATES.includes(meta.state)) return `unknown state ${String(meta.state)}`;
  if (typeof meta.transactionalId !== 'string' || meta.transactionalId.length === 0 || meta.transactionalId.length > TRANSACTIONAL_ID_LENGTH_MAX) return 'bad transactional id';
  if (!Number.isSafeInteger(meta.producerId) || meta.producerId < 0) return `bad producer id ${meta.producerId}`;
  if (!Number.isSafeInteger(meta.producerEpoch) || meta.producerEpoch < 0 || meta.producerEpoch > PRODUCER_EPOCH_MAX) return `bad producer epoch ${meta.producerEpoch}`;
  if (!Number.isSafeInteger(meta.lastProducerEpoch) || meta.lastProducerEpoch < NO_PRODUCER_EPOCH || meta.lastProducerEpoch > PRODUCER_EPOCH_MAX) return `bad last producer epoch ${meta.lastProducerEpoch}`;
  if (!Number.isSafeInteger(meta.lastProducerId) || meta.lastProducerId < NO_PRODUCER_ID) return `bad last producer id ${meta.lastProducerId}`;
  if (!Number.isSafeInteger(meta.nextProducerId) || meta.nextProducerId < NO_PRODUCER_ID) return `bad next producer id ${meta.nextProducerId}`;
  if (!Number.isSafeInteger(meta.timeoutMs) || meta.timeoutMs < 1) return `bad timeout ${meta.timeoutMs}`;
  if (!Array.isArray(meta.partitions) || meta.partitions.length > TXN_PARTITIONS_MAX) return 'bad partitions';
  for (let i = 0; i < meta.partitions.length; i++) {
    const tp = meta.partitions[i]!;
    if (typeof tp.topic !== 'string' || tp.topic.length === 0 || !Number.isSafeInteger(tp.partition) || tp.partition < 0) return `bad partition ${JSON.stringify(tp)}`;
    if (i > 0 && comparePartitions(meta.partitions[i - 1]!, tp) >= 0) return 'partitions not sorted and unique';
  }
  const open = meta.state === 'Ongoing' || meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort' || meta.state === 'PrepareEpochFence';
  if (!open && meta.partitions.length > 0) return `${meta.state} with partitions`;
  if (meta.state === 'Ongoing' && (meta.partitions.length === 0 || meta.txnStartTimestampMs < 0)) return 'Ongoing without partitions or start time';
  // An open transaction's end needs one more epoch for its markers.
  if (meta.state === 'Ongoing' && meta.producerEpoch >= PRODUCER_EPOCH_MAX) return 'Ongoing at the last epoch: its markers would need one more';
  if ((meta.state === 'Empty' || meta.state === 'Ongoing') && meta.nextProducerId !== NO_PRODUCER_ID) return `${meta.state} with a next producer id`;
  if (!Number.isSafeInteger(meta.txnLastUpdateTimestampMs) || !Number.isSafeInteger(meta.txnStartTimestampMs)) return 'bad timestamps';
  return undefined;
}
