// The transactional producer's state and its conversations with the transaction coordinator
// (KIP-98 with "transactions v2", KIP-890; docs/transactions.md "Client"). The Producer owns batching
// and the sender; this owns the transaction: which state it is in, which partitions the coordinator
// has in it, and InitProducerId / AddPartitionsToTxn / AddOffsetsToTxn / TxnOffsetCommit / EndTxn.
//
// States change only through `transition`, along TRANSACTION_TRANSITIONS (kafkajs's eosManager and the
// Java client's TransactionManager keep such a table), logged `from -> to`.
//
// Errors, as Kafka classifies them (classifyTxnError):
// - fatal: the producer can do nothing more; close it. PRODUCER_FENCED (a newer producer with the same
//   transactional.id), TRANSACTION_COORDINATOR_FENCED, INVALID_PRODUCER_ID_MAPPING, and from the
//   coordinator INVALID_PRODUCER_EPOCH / INVALID_TXN_STATE / any other refusal of InitProducerId or EndTxn.
// - abortable: this transaction cannot commit; `abortTransaction()` ends it and the producer goes on.
//   A batch that was not written (any non-retriable produce error, a delivery timeout, an out-of-order
//   sequence; also INVALID_PRODUCER_EPOCH from a partition leader, KIP-588: the coordinator may have
//   aborted a timed-out transaction and bumped the epoch), a partition the coordinator would not add,
//   an offset commit the group refused (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID: a
//   zombie consumer, KIP-447), TRANSACTION_ABORTABLE.
// - retriable: retried inside each call until max.block.ms; a commit or abort that times out leaves
//   the state as it was, and the same call may be made again.
import { tributary } from '@tributary/protocol';
import type { Cluster } from './cluster.js';
import type { ProducerConfig } from './config.js';
import type { ConsumerGroupMetadata } from './consumer-group.js';
import {
  BrokerError, IllegalStateError, InvalidTxnStateError, ProducerFencedError, TransactionAbortableError, TransactionAbortedError,
  TributaryClientError, errorFromWire,
} from './errors.js';
import { GroupRpc } from './group-rpc.js';
import type { Logger } from './logger.js';
import { backoffMs } from './retry.js';
import { COORDINATOR_CODES, TxnCoordinatorRpc } from './txn-rpc.js';
import { errorName, isRetriable } from './wire-errors.js';
import { setTimeout as sleep } from 'node:timers/promises';

export type TransactionState =
  | 'UNINITIALIZED' | 'INITIALIZING' | 'READY' | 'IN_TRANSACTION' | 'COMMITTING' | 'ABORTING' | 'ABORTABLE_ERROR' | 'FATAL_ERROR';

/**
 * Which state may follow which. Every other change is a bug and throws.
 * - UNINITIALIZED -> INITIALIZING: initTransactions() asks the coordinator for the id's producer id/epoch.
 * - INITIALIZING -> READY (granted) | UNINITIALIZED (timed out: initTransactions() may be called again).
 * - READY -> IN_TRANSACTION: beginTransaction() (local).
 * - IN_TRANSACTION -> COMMITTING | ABORTING | ABORTABLE_ERROR (a send or an offset commit failed).
 * - COMMITTING -> READY (EndTxn answered) | ABORTABLE_ERROR (a batch failed during the flush).
 * - ABORTABLE_ERROR -> ABORTING: only abortTransaction() gets out.
 * - ABORTING -> READY (EndTxn answered, or there was nothing to end).
 * - any but FATAL_ERROR -> FATAL_ERROR: fenced, or a coordinator refusal nothing can repair; final.
 */
export const TRANSACTION_TRANSITIONS: Readonly<Record<TransactionState, readonly TransactionState[]>> = {
  UNINITIALIZED: ['INITIALIZING', 'FATAL_ERROR'],
  INITIALIZING: ['READY', 'UNINITIALIZED', 'FATAL_ERROR'],
  READY: ['IN_TRANSACTION', 'FATAL_ERROR'],
  IN_TRANSACTION: ['COMMITTING', 'ABORTING', 'ABORTABLE_ERROR', 'FATAL_ERROR'],
  COMMITTING: ['READY', 'ABORTABLE_ERROR', 'FATAL_ERROR'],
  ABORTING: ['READY', 'FATAL_ERROR'],
  ABORTABLE_ERROR: ['ABORTING', 'FATAL_ERROR'],
  FATAL_ERROR: [],
};

/** Throws unless `from -> to` is in TRANSACTION_TRANSITIONS. */
export function checkTransactionTransition(from: TransactionState, to: TransactionState): void {
  if (!TRANSACTION_TRANSITIONS[from].includes(to)) throw new IllegalStateError(`transaction: ${from} -> ${to} is not a transition`);
}

/** Who refused: the transaction coordinator, a partition leader (produce) or the group coordinator (TxnOffsetCommit). */
export type TxnErrorSource = 'coordinator' | 'partition' | 'group';

const FATAL_EVERYWHERE: ReadonlySet<string> = new Set(['PRODUCER_FENCED', 'TRANSACTION_COORDINATOR_FENCED', 'INVALID_PRODUCER_ID_MAPPING']);
const ABORTABLE_FROM_COORDINATOR: ReadonlySet<string> = new Set(['TRANSACTION_ABORTABLE']);

/** The wire error name behind a client error (its BrokerError cause's, when wrapped), else its own code. */
export function wireCodeOf(error: unknown): string | undefined {
  if (!(error instanceof TributaryClientError)) return undefined;
  if (error instanceof BrokerError) return error.code;
  return error.cause instanceof BrokerError ? error.cause.code : error.code;
}

/** Kafka's rule for a non-retriable failure inside a transaction (see the file comment). */
export function classifyTxnError(error: unknown, source: TxnErrorSource): 'fatal' | 'abortable' {
  const code = wireCodeOf(error);
  if (code !== undefined && FATAL_EVERYWHERE.has(code)) return 'fatal';
  switch (source) {
    case 'partition':
      return 'abortable';
    case 'group':
      // The group refusing the member (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID...) dooms
      // the transaction; a stale producer epoch means this producer was fenced.
      return code === 'INVALID_PRODUCER_EPOCH' ? 'fatal' : 'abortable';
    case 'coordinator':
      return code !== undefined && ABORTABLE_FROM_COORDINATOR.has(code) ? 'abortable' : 'fatal';
  }
}

export interface TopicPartitionOffset {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to read (the last processed + 1). */
  readonly offset: number;
  readonly metadata?: string;
}

/** What the transaction needs from its producer. */
export interface TransactionHost {
  readonly cluster: Cluster;
  readonly config: ProducerConfig;
  readonly logger: Logger;
  identity(): { readonly producerId: number; readonly producerEpoch: number };
  /** InitProducerId is about to be asked (idempotence: uninitialized -> initializing). */
  initStarted(): void;
  /** InitProducerId failed (idempotence back to uninitialized). */
  initFailed(error: unknown): void;
  /** Adopts the producer id and epoch the coordinator answered; every partition's sequence restarts at 0. */
  adoptIdentity(producerId: number, producerEpoch: number, reason: string): void;
  /** Resolves once sends admitted earlier have appended (or failed). */
  settleSlowSends(): Promise<void>;
  /** Sends everything buffered and resolves when every batch completed. */
  flush(): Promise<void>;
  /** Fails every batch that is not in flight with `error`. */
  failQueued(error: Error): void;
  /** Resolves when every batch, in flight too, has completed. */
  drained(): Promise<void>;
  /** The producer was fenced: fatal for it as a whole. */
  fence(error: ProducerFencedError): void;
  wake(): void;
}

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export class TransactionManager {
  private current: TransactionState = 'UNINITIALIZED';
  private readonly rpc: TxnCoordinatorRpc;
  /** Partitions the coordinator has in the current transaction. */
  private readonly partitionsInTxn = new Set<string>();
  /** Partitions written to in this transaction and not yet added (nor being added). */
  private readonly partitionsToAdd = new Map<string, { readonly topic: string; readonly partition: number }>();
  private addInFlight: Promise<void> | undefined;
  /** An AddPartitionsToTxn/AddOffsetsToTxn whose outcome is unknown (timed out): EndTxn is needed to be sure. */
  private addOutcomeUnknown = false;
  private offsetsAdded = false;
  /** sendOffsetsToTransaction calls not settled yet: commit and abort wait for them (as Kafka's request queue does). */
  private readonly offsetsInFlight = new Set<Promise<void>>();
  /** Bumped by beginTransaction: a send admitted in one transaction never appends into another. */
  private transactionSeq = 0;
  /** Why the transaction is abortable, or why the producer is dead. */
  private lastError: Error | undefined;

  constructor(private readonly host: TransactionHost, readonly transactionalId: string) {
    this.rpc = new TxnCoordinatorRpc(host.cluster, transactionalId);
  }

  get state(): TransactionState {
    return this.current;
  }

  /** The sender must not send queued batches: they fail with TransactionAbortedError. */
  get abortsQueued(): boolean {
    return this.current === 'ABORTABLE_ERROR' || this.current === 'ABORTING' || this.current === 'FATAL_ERROR';
  }

  /** A batch failing now ends its attempt (no retry): the transaction is being aborted. */
  get refusesRetries(): boolean {
    return this.abortsQueued;
  }

  /** The error to fail a queued or retried batch with while the transaction is being aborted. */
  abortedError(): TransactionAbortedError {
    return new TransactionAbortedError(`transactional id ${this.transactionalId}: the transaction was aborted before this record was written`, this.lastError);
  }

  private transition(to: TransactionState, detail: Record<string, unknown> = {}): void {
    const from = this.current;
    checkTransactionTransition(from, to);
    this.current = to;
    const level = to === 'FATAL_ERROR' ? 'error' : to === 'ABORTABLE_ERROR' ? 'warn' : 'info';
    this.host.logger[level]({ component: 'producer', transactionalId: this.transactionalId, ...this.host.identity(), ...detail }, `transaction: ${from} -> ${to}`);
  }

  /** Throws the error that explains why `operation` is not allowed now, unless the state is one of `allowed`. */
  private require(operation: string, allowed: readonly TransactionState[]): void {
    if (allowed.includes(this.current)) return;
    if (this.current === 'FATAL_ERROR') throw this.fatalErrorFor(operation);
    if (this.current === 'ABORTABLE_ERROR') {
      throw new TransactionAbortableError(`${operation}: the transaction failed (${this.lastError?.message ?? 'unknown'}); call abortTransaction()`, this.lastError);
    }
    const hint = this.current === 'UNINITIALIZED' || this.current === 'INITIALIZING' ? 'call initTransactions() first'
      : this.current === 'READY' ? 'call beginTransaction() first'
        : this.current === 'IN_TRANSACTION' ? 'a transaction is already in progress' : `${this.current.toLowerCase()} is in progress`;
    throw new InvalidTxnStateError(`${operation}: not allowed in transaction state ${this.current} (${hint})`);
  }

  private fatalErrorFor(operation: string): Error {
    const cause = this.lastError;
    if (cause instanceof ProducerFencedError) {
      return new ProducerFencedError(`${operation}: transactional id ${this.transactionalId} was fenced by a newer producer; close this one`, cause);
    }
    return new InvalidTxnStateError(`${operation}: the producer hit a fatal error (${cause?.message ?? 'unknown'}); close it and create a new one`, cause);
  }

  /** Fatal: the producer can do nothing more. Idempotent. */
  fatal(error: Error): void {
    if (this.current === 'FATAL_ERROR') return;
    this.lastError = error;
    this.transition('FATAL_ERROR', { err: error });
    this.host.failQueued(this.fatalErrorFor('send'));
  }

  /** The current transaction cannot commit any more (a no-op outside IN_TRANSACTION / COMMITTING). */
  abortableError(error: Error): void {
    if (this.current !== 'IN_TRANSACTION' && this.current !== 'COMMITTING') return;
    this.lastError = error;
    this.transition('ABORTABLE_ERROR', { err: error });
    this.host.wake(); // the sender fails what is queued
  }

  private failWith(error: unknown, source: TxnErrorSource): Error {
    const e = error instanceof Error ? error : new TributaryClientError(String(error), { code: 'UNKNOWN' });
    if (classifyTxnError(e, source) === 'fatal') {
      if (e instanceof ProducerFencedError) this.host.fence(e); // calls back fatal()
      else this.fatal(e);
      return this.fatalErrorFor('transaction');
    }
    this.abortableError(e);
    return new TransactionAbortableError(`transactional id ${this.transactionalId}: ${e.message}; call abortTransaction()`, e);
  }

  private callOptions<Res>(errorOf: (r: Res) => number) {
    return { deadlineMs: Date.now() + this.host.config.maxBlockMs, errorOf, isClosed: () => this.host.cluster.isClosed };
  }

  // ---- the API ---------------------------------------------------------------------------------

  async initTransactions(): Promise<void> {
    this.require('initTransactions', ['UNINITIALIZED']);
    this.transition('INITIALIZING');
    this.host.initStarted();
    let response: tributary.v1.InitProducerIdResponse;
    try {
      response = await this.rpc.initProducerId(
        { transactionalId: this.transactionalId, transactionTimeoutMs: this.host.config.transactionTimeoutMs, producerId: -1, producerEpoch: -1 },
        this.callOptions<tributary.v1.InitProducerIdResponse>((r) => r.error?.code ?? 0));
    } catch (error) {
      this.host.initFailed(error);
      if (error instanceof TributaryClientError && error.retriable) {
        this.transition('UNINITIALIZED', { err: error });
        throw error;
      }
      throw this.failWith(error, 'coordinator');
    }
    const code = response.error?.code ?? 0;
    if (code !== 0) {
      const error = errorFromWire(code, response.error?.message ?? '', { context: `InitProducerId for transactional id ${this.transactionalId}` });
      this.host.initFailed(error);
      throw this.failWith(error, 'coordinator');
    }
    const producerId = Number(response.producerId);
    if (!Number.isSafeInteger(producerId) || producerId < 0 || response.producerEpoch < 0 || response.producerEpoch > 32767) {
      const error = new TributaryClientError(`InitProducerId answered producer id ${producerId} epoch ${response.producerEpoch}`, { code: 'INVALID_RESPONSE' });
      this.host.initFailed(error);
      throw this.failWith(error, 'coordinator');
    }
    this.host.adoptIdentity(producerId, response.producerEpoch, 'InitProducerId');
    this.transition('READY');
  }

  beginTransaction(): void {
    this.require('beginTransaction', ['READY']);
    this.transactionSeq += 1;
    this.transition('IN_TRANSACTION');
  }

  /** Called by send before anything else: throws unless a transaction is in progress; returns its number. */
  admitSend(): number {
    this.require('send', ['IN_TRANSACTION']);
    return this.transactionSeq;
  }

  /** Whether a send admitted in transaction `seq` may append now (it may have waited for metadata). */
  admitAppend(seq: number): Error | undefined {
    if (seq === this.transactionSeq && (this.current === 'IN_TRANSACTION' || this.current === 'COMMITTING')) return undefined;
    if (seq === this.transactionSeq && (this.current === 'ABORTING' || this.current === 'ABORTABLE_ERROR')) return this.abortedError();
    if (this.current === 'FATAL_ERROR') return this.fatalErrorFor('send');
    return new InvalidTxnStateError(`send: the transaction it was made in has ended (state ${this.current})`);
  }

  /** A record was appended for `topic`-`partition`: the coordinator must have the partition before it is sent. */
  noteAppend(topic: string, partition: number): void {
    const key = tpKey(topic, partition);
    if (!this.partitionsInTxn.has(key)) this.partitionsToAdd.set(key, { topic, partition });
  }

  /** Batches of `topic`-`partition` may be sent (the coordinator has the partition in the transaction). */
  canSend(topic: string, partition: number): boolean {
    return this.partitionsInTxn.has(tpKey(topic, partition));
  }

  /** Called by each sender pass: adds the partitions written since the last add, in one request. */
  maybeAddPartitions(): void {
    if (this.addInFlight !== undefined || this.partitionsToAdd.size === 0) return;
    if (this.current !== 'IN_TRANSACTION' && this.current !== 'COMMITTING') return;
    const batch = [...this.partitionsToAdd.values()];
    this.partitionsToAdd.clear();
    this.addInFlight = this.addPartitions(batch).finally(() => {
      this.addInFlight = undefined;
      this.host.wake();
    });
  }

  private async addPartitions(tps: readonly { topic: string; partition: number }[]): Promise<void> {
    const byTopic = new Map<string, number[]>();
    for (const tp of tps) {
      let list = byTopic.get(tp.topic);
      if (list === undefined) byTopic.set(tp.topic, (list = []));
      list.push(tp.partition);
    }
    const { producerId, producerEpoch } = this.host.identity();
    // A per-partition retriable answer (CONCURRENT_TRANSACTIONS, a coordinator error) retries the whole
    // request: adding a partition twice is harmless.
    const errorOf = (r: tributary.v1.AddPartitionsToTxnResponse): number => {
      const top = r.error?.code ?? 0;
      if (top !== 0) return top;
      for (const t of r.topics) for (const p of t.partitions ?? []) if (isRetriable(p.error?.code ?? 0)) return p.error!.code!;
      return 0;
    };
    this.addOutcomeUnknown = true;
    let response: tributary.v1.AddPartitionsToTxnResponse;
    try {
      response = await this.rpc.call<tributary.v1.AddPartitionsToTxnResponse>('addPartitionsToTxn',
        { transactionalId: this.transactionalId, producerId, producerEpoch, topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })), verifyOnly: false },
        this.callOptions(errorOf));
    } catch (error) {
      this.failWith(error instanceof TributaryClientError && error.retriable
        ? new TransactionAbortableError(`AddPartitionsToTxn did not succeed in time: ${(error as Error).message}`, error) : error, 'coordinator');
      return;
    }
    const top = response.error?.code ?? 0;
    if (top !== 0) {
      this.failWith(errorFromWire(top, response.error?.message ?? '', { context: 'AddPartitionsToTxn' }), 'coordinator');
      return;
    }
    const answered = new Set<string>();
    for (const t of response.topics) {
      for (const p of t.partitions ?? []) {
        const key = tpKey(t.topic ?? '', p.partition ?? 0);
        answered.add(key);
        const code = p.error?.code ?? 0;
        if (code === 0) {
          this.partitionsInTxn.add(key);
          continue;
        }
        const error = errorFromWire(code, p.error?.message ?? '', { topic: t.topic ?? '', partition: p.partition ?? 0, context: `AddPartitionsToTxn ${t.topic}-${p.partition}` });
        // The coordinator refusing one partition (UNKNOWN_TOPIC_OR_PARTITION...) dooms the transaction, not the producer.
        this.failWith(error, classifyTxnError(error, 'coordinator') === 'fatal' ? 'coordinator' : 'partition');
      }
    }
    const missing = tps.filter((tp) => !answered.has(tpKey(tp.topic, tp.partition)));
    if (missing.length > 0) {
      this.failWith(new TributaryClientError(`AddPartitionsToTxn answered nothing for ${missing.map((tp) => `${tp.topic}-${tp.partition}`).join(', ')}`, { code: 'INVALID_RESPONSE' }), 'partition');
    }
    if (this.current === 'IN_TRANSACTION' || this.current === 'COMMITTING') this.addOutcomeUnknown = false;
    this.host.logger.debug({ component: 'producer', transactionalId: this.transactionalId, partitions: tps.length }, 'partitions added to the transaction');
  }

  /**
   * Adds the consumer's offsets to the transaction (AddOffsetsToTxn, then TxnOffsetCommit to the group
   * coordinator): they become the group's committed offsets exactly when the transaction commits.
   */
  async sendOffsetsToTransaction(offsets: readonly TopicPartitionOffset[], group: ConsumerGroupMetadata): Promise<void> {
    this.require('sendOffsetsToTransaction', ['IN_TRANSACTION']);
    const done = this.sendOffsets(offsets, group);
    const tracked = done.catch(() => undefined); // its failure is reported to its caller and recorded in the state
    this.offsetsInFlight.add(tracked);
    void tracked.finally(() => this.offsetsInFlight.delete(tracked));
    return done;
  }

  private async settleOffsets(): Promise<void> {
    await Promise.all([...this.offsetsInFlight]);
  }

  private async sendOffsets(offsets: readonly TopicPartitionOffset[], group: ConsumerGroupMetadata): Promise<void> {
    if (typeof group?.groupId !== 'string' || group.groupId === '') throw new InvalidTxnStateError('sendOffsetsToTransaction: groupMetadata.groupId is required (pass consumer.groupMetadata())');
    for (const o of offsets) {
      if (typeof o.topic !== 'string' || o.topic === '' || !Number.isInteger(o.partition) || o.partition < 0 || !Number.isSafeInteger(o.offset) || o.offset < 0) {
        throw new TributaryClientError(`sendOffsetsToTransaction: invalid offset ${JSON.stringify(o)} (topic, partition >= 0, offset >= 0)`, { code: 'INVALID_ARGUMENT' });
      }
    }
    if (offsets.length === 0) return;
    const { producerId, producerEpoch } = this.host.identity();
    this.addOutcomeUnknown = true;
    try {
      const added = await this.rpc.call<tributary.v1.AddOffsetsToTxnResponse>('addOffsetsToTxn',
        { transactionalId: this.transactionalId, producerId, producerEpoch, groupId: group.groupId },
        this.callOptions<tributary.v1.AddOffsetsToTxnResponse>((r) => r.error?.code ?? 0));
      const code = added.error?.code ?? 0;
      if (code !== 0) throw errorFromWire(code, added.error?.message ?? '', { context: `AddOffsetsToTxn for group ${group.groupId}` });
    } catch (error) {
      throw this.failWith(error, 'coordinator');
    }
    this.offsetsAdded = true;
    this.addOutcomeUnknown = false;
    await this.txnOffsetCommit(offsets, group).catch((error: unknown) => {
      throw this.failWith(error, 'group');
    });
  }

  private async txnOffsetCommit(offsets: readonly TopicPartitionOffset[], group: ConsumerGroupMetadata): Promise<void> {
    const groups = new GroupRpc(this.host.cluster, group.groupId);
    const deadlineMs = Date.now() + this.host.config.maxBlockMs;
    let pending = [...offsets];
    for (let attempt = 1; pending.length > 0; attempt++) {
      const { producerId, producerEpoch } = this.host.identity();
      const byTopic = new Map<string, tributary.v1.IOffsetCommitPartition[]>();
      for (const o of pending) {
        let parts = byTopic.get(o.topic);
        if (parts === undefined) byTopic.set(o.topic, (parts = []));
        parts.push({ partition: o.partition, committedOffset: o.offset, metadata: o.metadata ?? '' });
      }
      const response = await groups.call<tributary.v1.OffsetCommitResponse>('txnOffsetCommit', {
        transactionalId: this.transactionalId, groupId: group.groupId, producerId, producerEpoch,
        generationId: group.generationId, memberId: group.memberId, groupInstanceId: group.groupInstanceId ?? '',
        topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
      }, {
        deadlineMs, requestTimeoutMs: this.host.config.requestTimeoutMs, isClosed: () => this.host.cluster.isClosed,
        errorOf: (r) => {
          if ((r.error?.code ?? 0) !== 0) return r.error!.code!;
          for (const t of r.topics) for (const p of t.partitions ?? []) if (COORDINATOR_CODES.has(errorName(p.error?.code ?? 0))) return p.error!.code!;
          return 0;
        },
      });
      const top = response.error?.code ?? 0;
      if (top !== 0) throw errorFromWire(top, response.error?.message ?? '', { context: `TxnOffsetCommit for group ${group.groupId}` });
      const retry: TopicPartitionOffset[] = [];
      let lastRetriable: TributaryClientError | undefined;
      for (const t of response.topics) {
        for (const p of t.partitions ?? []) {
          const code = p.error?.code ?? 0;
          if (code === 0) continue;
          const error = errorFromWire(code, p.error?.message ?? '', { topic: t.topic ?? '', partition: p.partition ?? 0, context: `TxnOffsetCommit ${t.topic}-${p.partition}` });
          if (!error.retriable) throw error;
          lastRetriable = error;
          const o = pending.find((x) => x.topic === t.topic && x.partition === p.partition);
          if (o !== undefined) retry.push(o);
        }
      }
      pending = retry;
      if (pending.length === 0) return;
      const waitMs = backoffMs(this.host.config, attempt, Math.random());
      if (Date.now() + waitMs >= deadlineMs) throw new TransactionAbortableError(`TxnOffsetCommit for group ${group.groupId} did not succeed in time (max.block.ms)`, lastRetriable);
      await sleep(waitMs);
    }
  }

  /** Flushes, then EndTxn(commit); adopts the producer id/epoch answered for the next transaction. */
  async commitTransaction(): Promise<void> {
    if (this.current !== 'COMMITTING') { // COMMITTING: a retry after a timed-out EndTxn
      this.require('commitTransaction', ['IN_TRANSACTION']);
      this.transition('COMMITTING');
      await this.host.settleSlowSends();
      await this.host.flush();
      await this.addInFlight;
      await this.settleOffsets();
      // A batch or an add may have failed while flushing: nothing of this transaction may commit.
      if ((this.current as TransactionState) !== 'COMMITTING') this.require('commitTransaction', ['COMMITTING']);
    }
    await this.endTxn(true);
  }

  /**
   * Fails queued batches with TransactionAbortedError, waits for those in flight, then EndTxn(abort).
   * Allowed in a transaction and after an abortable error; the producer is READY afterwards.
   */
  async abortTransaction(): Promise<void> {
    if (this.current !== 'ABORTING') { // ABORTING: a retry after a timed-out EndTxn
      this.require('abortTransaction', ['IN_TRANSACTION', 'ABORTABLE_ERROR']);
      this.transition('ABORTING');
      await this.host.settleSlowSends();
      this.host.failQueued(this.abortedError());
      this.partitionsToAdd.clear();
      await this.addInFlight;
      await this.settleOffsets();
      await this.host.drained();
      if ((this.current as TransactionState) !== 'ABORTING') this.require('abortTransaction', ['ABORTING']); // fenced meanwhile
    }
    await this.endTxn(false);
  }

  private async endTxn(committed: boolean): Promise<void> {
    const operation = committed ? 'commitTransaction' : 'abortTransaction';
    if (this.partitionsInTxn.size === 0 && !this.offsetsAdded && !this.addOutcomeUnknown) {
      // The coordinator never heard of this transaction: nothing to end, no epoch bump.
      this.completed(operation);
      return;
    }
    const { producerId, producerEpoch } = this.host.identity();
    let response: tributary.v1.EndTxnResponse;
    try {
      response = await this.rpc.call<tributary.v1.EndTxnResponse>('endTxn', { transactionalId: this.transactionalId, producerId, producerEpoch, committed },
        this.callOptions<tributary.v1.EndTxnResponse>((r) => r.error?.code ?? 0));
    } catch (error) {
      // Timed out: the outcome is unknown; the state stays, and the same call may be made again.
      if (error instanceof TributaryClientError && error.retriable) throw error;
      throw this.failWith(error, 'coordinator');
    }
    const code = response.error?.code ?? 0;
    if (code !== 0) {
      const error = errorFromWire(code, response.error?.message ?? '', { context: `EndTxn(${committed ? 'commit' : 'abort'}) for transactional id ${this.transactionalId}` });
      // An abort after an add whose outcome is unknown: the coordinator may have no transaction at all.
      if (!committed && errorName(code) === 'INVALID_TXN_STATE' && this.partitionsInTxn.size === 0 && !this.offsetsAdded) {
        this.completed(operation);
        return;
      }
      if (committed && classifyTxnError(error, 'coordinator') === 'abortable') {
        this.lastError = error;
        this.transition('ABORTABLE_ERROR', { err: error });
        throw new TransactionAbortableError(`${operation}: ${error.message}; call abortTransaction()`, error);
      }
      throw this.failWith(error, 'coordinator');
    }
    const nextId = Number(response.producerId);
    if (!Number.isSafeInteger(nextId) || nextId < 0 || response.producerEpoch < 0 || response.producerEpoch > 32767) {
      throw this.failWith(new TributaryClientError(`EndTxn answered producer id ${nextId} epoch ${response.producerEpoch}`, { code: 'INVALID_RESPONSE' }), 'coordinator');
    }
    this.host.adoptIdentity(nextId, response.producerEpoch, committed ? 'EndTxn(commit)' : 'EndTxn(abort)');
    this.completed(operation);
  }

  private completed(operation: string): void {
    this.partitionsInTxn.clear();
    this.partitionsToAdd.clear();
    this.offsetsAdded = false;
    this.addOutcomeUnknown = false;
    this.lastError = undefined;
    this.transition('READY', { operation });
  }
}
