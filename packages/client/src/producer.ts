// The Producer: `send` appends to per-partition batches (RecordAccumulator); a sender loop drains
// sendable batches into one Produce request per leader broker, at most
// `max.in.flight.requests.per.connection` at a time, and completes every record exactly once — with its
// offset, or with a typed error (never silently: a record that is not acknowledged within
// `delivery.timeout.ms` fails with DeliveryTimeoutError).
//
// Idempotence (`enable.idempotence`, default on): the producer asks the broker for a producerId/epoch
// (InitProducerId) and stamps each batch with a per-partition sequence, kept across retries, so the
// broker can drop duplicates and refuse gaps. If the broker does not implement InitProducerId, the
// producer logs a warning once and sends without producer ids: retries may then duplicate records and,
// with more than one request in flight, reorder them (see `idempotence`).
//
// Transactions (`transactional.id`): the producer id/epoch come from the transaction coordinator
// (initTransactions), every send belongs to a transaction (beginTransaction ... commitTransaction /
// abortTransaction), a partition's batches wait until the coordinator has the partition in the
// transaction (AddPartitionsToTxn), and batches go flagged transactional with the transactional id.
// The transaction's state and coordinator calls live in transaction-manager.ts.
//
// Why one file past 600 lines: the send path and the sender loop share one in-flight state (batches,
// sequences, per-broker request slots, the producer id) and complete every record exactly once between
// them. Batching lives in accumulator.ts, buffers in buffer-pool.ts, encoding in codec.ts, partition
// choice in partitioner.ts; the transaction's state and coordinator calls in transaction-manager.ts (the
// transactional methods here only delegate, plus the host callbacks that reach the in-flight state).
import { tributary } from '@tributary/protocol';
import {
  RecordAccumulator, type PendingRecord, type ProducerBatch, type RecordMetadata,
} from './accumulator.js';
import { retriesOnNewLeader } from './leader-change.js';
import { BufferPool } from './buffer-pool.js';
import { Cluster } from './cluster.js';
import { encodeProducerBatch } from './codec.js';
import { parseProducerConfig, type ProducerConfig, type ProducerOptions } from './config.js';
import type { ConsumerGroupMetadata } from './consumer-group.js';
import {
  ClientClosedError, DeliveryTimeoutError, IllegalStateError, InvalidRecordError, InvalidTxnStateError, MessageTooLargeError, OutOfOrderSequenceError, ProducerFencedError,
  TributaryClientError, UnknownTopicOrPartitionError, UnsupportedOperationError, errorFromWire, needsMetadataRefresh,
} from './errors.js';
import { TransactionManager, wireCodeOf, type TopicPartitionOffset, type TransactionState } from './transaction-manager.js';
import { SILENT_LOGGER, type ClientRuntimeOptions, type Logger } from './logger.js';
import { StickyPartitionCache, choosePartition } from './partitioner.js';
import { BATCH_OVERHEAD_BYTES, recordSizeUpperBoundBytes, type RecordHeader } from './record-size.js';
import { decideRetry } from './retry.js';
import { errorName } from './wire-errors.js';
import { setTimeout as sleep } from 'node:timers/promises';

export type { RecordMetadata } from './accumulator.js';

export type HeaderValue = Buffer | string;

export interface ProducerRecord {
  readonly topic: string;
  /** null/undefined = no key (sticky partitioning). Strings are UTF-8 encoded. */
  readonly key?: Buffer | string | null;
  /** null = tombstone. */
  readonly value: Buffer | string | null;
  /** An object (one value per key) or an ordered list (repeated keys allowed). */
  readonly headers?: Readonly<Record<string, HeaderValue>> | readonly { readonly key: string; readonly value: HeaderValue }[];
  /** Explicit partition; skips the partitioner. */
  readonly partition?: number;
  /** CreateTime in ms since the epoch; default now. */
  readonly timestamp?: number;
}

export type SendCallback = (error: Error | null, metadata?: RecordMetadata) => void;

/** What `producer.transaction(body)` hands its body: the sends of that one transaction. */
export interface Transaction {
  send(record: ProducerRecord): Promise<RecordMetadata>;
  sendBatch(records: readonly ProducerRecord[]): Promise<RecordMetadata[]>;
  /** sendOffsetsToTransaction: commit the consumer's progress with this transaction. */
  sendOffsets(offsets: readonly TopicPartitionOffset[], groupMetadata: ConsumerGroupMetadata): Promise<void>;
}

export type IdempotenceState = 'disabled' | 'uninitialized' | 'initializing' | 'ready' | 'unsupported' | 'fenced';

/**
 * Which idempotence state may follow which (kafkajs's and the Java client's transaction managers keep
 * such a table): every change goes through Producer.transitionIdempotence, which refuses any other.
 * - uninitialized -> initializing: a sender pass asks InitProducerId.
 * - initializing -> ready (granted) | unsupported (the broker grants none) | uninitialized (not now).
 * - ready -> uninitialized: the producer id is dropped (a sequence gap it cannot fill).
 * - any other -> fenced: INVALID_PRODUCER_EPOCH / PRODUCER_FENCED, final (an answer to a batch sent
 *   under an older producer id may arrive in any later state).
 */
export const IDEMPOTENCE_TRANSITIONS: Readonly<Record<IdempotenceState, readonly IdempotenceState[]>> = {
  disabled: ['fenced'],
  uninitialized: ['initializing', 'fenced'],
  initializing: ['ready', 'unsupported', 'uninitialized', 'fenced'],
  ready: ['uninitialized', 'fenced'],
  unsupported: ['fenced'],
  fenced: [],
};

const DUPLICATE_SEQUENCE_NUMBER = tributary.v1.ErrorCode.DUPLICATE_SEQUENCE_NUMBER;
const OUT_OF_ORDER_SEQUENCE_NUMBER = tributary.v1.ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER;
const UNKNOWN_PRODUCER_ID = tributary.v1.ErrorCode.UNKNOWN_PRODUCER_ID;
const INT32_MAX = 2_147_483_647;
/**
 * With idempotence, at most this many batches of one partition are unacknowledged on the wire: the
 * broker remembers only the last 5 batches per producer (BATCHES_PER_PRODUCER_MAX), and a retry of a
 * batch older than that window is refused as out of order forever. Kafka gets the same bound from
 * one batch per partition per request and max.in.flight ≤ 5; requests here may carry several.
 */
export const IDEMPOTENT_IN_FLIGHT_BATCHES_PER_PARTITION_MAX = 5;

function bytesOf(v: unknown, field: string): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new InvalidRecordError(`send: record.${field} must be a Buffer, Uint8Array or string, got ${typeof v}`);
}

function normalizeHeaders(h: ProducerRecord['headers']): RecordHeader[] {
  if (h === undefined) return [];
  if (Array.isArray(h)) return (h as readonly { key: string; value: HeaderValue }[]).map((x) => ({ key: String(x.key), value: bytesOf(x.value, `headers[${x.key}]`) }));
  return Object.entries(h as Record<string, HeaderValue>).map(([key, value]) => ({ key, value: bytesOf(value, `headers[${key}]`) }));
}

interface InFlightRequest {
  readonly address: string;
  readonly batches: ProducerBatch[];
}

export class Producer {
  readonly config: ProducerConfig;
  private readonly logger: Logger;
  private readonly cluster: Cluster;
  private readonly pool: BufferPool;
  private readonly sticky = new StickyPartitionCache();
  private readonly accumulator: RecordAccumulator;
  private readonly inFlightByAddress = new Map<string, number>();
  private readonly nextSequence = new Map<string, number>();
  /**
   * Per partition, the stamped batches not finished yet (in flight or queued for a retry), in stamping
   * order — which is sequence order within one producer id. Two uses:
   * - After a new producer id, batches of an older one may still be on the wire or waiting to be
   *   retried; the broker orders sequences per producer id only, so a partition's batches of the new id
   *   wait until those are done — else a retried old batch could land after newer records.
   * - Whether a sequence refusal is certain (see `sentBehindUnfinished`).
   */
  private readonly stampedUnfinished = new Map<string, ProducerBatch[]>();
  /** Set once the broker fenced this producer id: every pending and later send fails with it. */
  private fatalError: ProducerFencedError | undefined;
  private senderScheduled = false;
  /** Sends waiting for metadata or buffer space; while any is, new sends queue behind them (order). */
  private slowSends = 0;
  private slowTail: Promise<void> = Promise.resolve();
  private senderTimer: NodeJS.Timeout | undefined;
  private senderTimerAtMs = Infinity;
  private flushing = 0;
  private closing = false;
  private closePromise: Promise<void> | undefined;
  private refreshInProgress = false;
  /**
   * Retries are backing off after a leadership or connection error and the metadata still names the
   * leader they failed on: refresh again at this time (retry.backoff.ms apart, not the batches'
   * growing backoff), so a new leader is found within one retry.backoff.ms of its election.
   */
  private leaderRefreshAtMs = Infinity;
  private idempotenceState: IdempotenceState;
  private producerId = -1;
  private producerEpoch = -1;
  /** Set with `transactional.id`. */
  private readonly txn: TransactionManager | undefined;
  /** A `transaction(body)` is running: another one is refused. */
  private transactionHelperRunning = false;

  constructor(options: ProducerOptions = {}, runtime: ClientRuntimeOptions = {}) {
    this.config = parseProducerConfig(options);
    this.logger = runtime.logger ?? SILENT_LOGGER;
    this.cluster = new Cluster(this.config, this.logger, 'producer');
    this.pool = new BufferPool(this.config.bufferMemoryBytes, this.config.maxBlockMs);
    this.accumulator = new RecordAccumulator(this.config, (topic, partition) => {
      const n = this.cluster.metadata.topic(topic)?.partitions.length ?? 0;
      if (n > 0) this.sticky.onBatchClosed(topic, partition, n);
    });
    this.idempotenceState = this.config.enableIdempotence ? 'uninitialized' : 'disabled';
    this.txn = this.config.transactionalId === undefined ? undefined : this.transactionManager(this.config.transactionalId);
  }

  private transactionManager(transactionalId: string): TransactionManager {
    return new TransactionManager({
      cluster: this.cluster,
      config: this.config,
      logger: this.logger,
      identity: () => ({ producerId: this.producerId, producerEpoch: this.producerEpoch }),
      initStarted: () => this.transitionIdempotence('initializing', { transactionalId }, 'debug'),
      initFailed: (error) => {
        if (this.idempotenceState === 'initializing') this.transitionIdempotence('uninitialized', { err: error }, 'warn');
      },
      adoptIdentity: (producerId, producerEpoch, reason) => {
        const before = { producerId: this.producerId, producerEpoch: this.producerEpoch };
        if (this.stampedUnfinished.size > 0) throw new IllegalStateError(`${reason}: a new producer epoch while batches of the old one are unfinished`);
        this.producerId = producerId;
        this.producerEpoch = producerEpoch;
        this.nextSequence.clear();
        if (this.idempotenceState === 'initializing') this.transitionIdempotence('ready', { reason }, 'info');
        else this.logger.debug({ component: 'producer', transactionalId, before, producerId, producerEpoch, reason }, 'producer epoch advanced');
      },
      settleSlowSends: () => this.slowTail,
      flush: () => this.flush(),
      failQueued: (error) => {
        for (const b of this.accumulator.takeAllQueued()) this.finishBatch(b, { error });
      },
      drained: () => this.accumulator.drained(),
      fence: (error) => this.fence(error),
      wake: () => this.wake(),
    }, transactionalId);
  }

  // ---- transactions (transactional.id) ---------------------------------------------------------

  /** The transaction state (transaction-manager.ts TRANSACTION_TRANSITIONS); undefined when not transactional. */
  get transactionState(): TransactionState | undefined {
    return this.txn?.state;
  }

  private requireTxn(operation: string): TransactionManager {
    if (this.txn === undefined) throw new InvalidTxnStateError(`${operation}: the producer has no transactional.id`);
    if (this.closing) throw new ClientClosedError('producer');
    return this.txn;
  }

  /**
   * Registers `transactional.id` with its coordinator: fences any older producer with the same id
   * (its open transaction is aborted) and gets this one's producer id and epoch. Call once, first.
   * Retries coordinator errors until max.block.ms (then a retriable timeout: call it again).
   */
  async initTransactions(): Promise<void> {
    await this.requireTxn('initTransactions').initTransactions();
  }

  /** Starts a transaction (local); sends are allowed until commitTransaction / abortTransaction. */
  beginTransaction(): void {
    this.requireTxn('beginTransaction').beginTransaction();
  }

  /**
   * Commits the consumer's progress (`offsets`: next offsets to read) with the current transaction;
   * `groupMetadata` is `consumer.groupMetadata()`, so the group refuses a zombie member (KIP-447).
   */
  async sendOffsetsToTransaction(offsets: readonly TopicPartitionOffset[], groupMetadata: ConsumerGroupMetadata): Promise<void> {
    await this.requireTxn('sendOffsetsToTransaction').sendOffsetsToTransaction(offsets, groupMetadata);
  }

  /**
   * Sends everything buffered, then commits. Rejects with TransactionAbortableError when a send of the
   * transaction failed (call abortTransaction), ProducerFencedError when fenced (fatal), or a retriable
   * timeout (call commitTransaction again: the outcome is not known yet).
   */
  async commitTransaction(): Promise<void> {
    await this.requireTxn('commitTransaction').commitTransaction();
  }

  /** Fails unsent records with TransactionAbortedError, waits for those in flight, and aborts. */
  async abortTransaction(): Promise<void> {
    await this.requireTxn('abortTransaction').abortTransaction();
  }

  /**
   * Runs `body` in a new transaction: commits when it resolves, aborts (and rethrows) when it or the
   * commit rejects. The body's `tx` is valid only until then. One at a time per producer (a second
   * concurrent call rejects with InvalidTxnStateError). A fatal error is rethrown without an abort;
   * a commit that timed out is rethrown as is (call commitTransaction again).
   */
  async transaction<T>(body: (tx: Transaction) => Promise<T>): Promise<T> {
    const txn = this.requireTxn('transaction');
    if (this.transactionHelperRunning) throw new InvalidTxnStateError('transaction: another transaction() is running on this producer (one at a time)');
    this.transactionHelperRunning = true;
    let open = true;
    const guard = (operation: string): void => {
      if (!open) throw new InvalidTxnStateError(`tx.${operation}: its transaction has ended`);
    };
    const tx: Transaction = {
      send: async (record) => { guard('send'); return this.send(record); },
      sendBatch: async (records) => { guard('sendBatch'); return this.sendBatch(records); },
      sendOffsets: async (offsets, groupMetadata) => { guard('sendOffsets'); return this.sendOffsetsToTransaction(offsets, groupMetadata); },
    };
    try {
      txn.beginTransaction();
      try {
        const result = await body(tx);
        open = false;
        await txn.commitTransaction();
        return result;
      } catch (error) {
        open = false;
        if (txn.state === 'IN_TRANSACTION' || txn.state === 'ABORTABLE_ERROR' || txn.state === 'ABORTING') {
          await txn.abortTransaction().catch((abortError: unknown) => {
            this.logger.warn({ component: 'producer', err: abortError, cause: error }, 'transaction(): abort after a failure failed too');
          });
        }
        throw error;
      }
    } finally {
      this.transactionHelperRunning = false;
    }
  }

  /** Idempotence as actually in effect (see the file comment for 'unsupported'). */
  get idempotence(): { readonly state: IdempotenceState; readonly producerId: number; readonly producerEpoch: number } {
    return { state: this.idempotenceState, producerId: this.producerId, producerEpoch: this.producerEpoch };
  }

  /**
   * Sends one record. Resolves with its metadata once acknowledged per `acks`; rejects with a typed
   * error (MessageTooLargeError, UnknownTopicOrPartitionError, MaxBlockTimeoutError, DeliveryTimeoutError,
   * BrokerError...). The optional callback gets the same outcome.
   */
  send(record: ProducerRecord, callback?: SendCallback): Promise<RecordMetadata> {
    const promise = this.sendInternal(record);
    if (callback !== undefined) promise.then((md) => callback(null, md), (err: Error) => callback(err));
    return promise;
  }

  /** Sends several records; resolves when all are acknowledged (rejects with the first failure). */
  sendBatch(records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    return Promise.all(records.map((r) => this.sendInternal(r)));
  }

  /** Sends everything buffered now, without waiting for linger.ms, and resolves when it has completed. */
  async flush(): Promise<void> {
    this.flushing += 1;
    try {
      this.wake();
      await this.accumulator.drained();
    } finally {
      this.flushing -= 1;
    }
  }

  /**
   * Flushes, then closes connections. Idempotent. With `timeoutMs`, records still unsent after it fail
   * with ClientClosedError.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closePromise !== undefined) return this.closePromise;
    this.closing = true;
    this.closePromise = (async () => {
      this.wake();
      const drained = this.accumulator.drained();
      if (options.timeoutMs === undefined) {
        await drained;
      } else {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([drained, new Promise<void>((resolve) => { timer = setTimeout(resolve, options.timeoutMs); })]);
        clearTimeout(timer);
        const closedError = new ClientClosedError('producer');
        for (const b of this.accumulator.takeAllQueued()) this.finishBatch(b, { error: closedError });
      }
      this.pool.abortWaiters(new ClientClosedError('producer'));
      clearTimeout(this.senderTimer);
      this.cluster.close();
      this.logger.info({ component: 'producer' }, 'producer closed');
    })();
    return this.closePromise;
  }

  // ---- send path ----------------------------------------------------------------------------

  private sendInternal(record: ProducerRecord): Promise<RecordMetadata> {
    if (this.closing) return Promise.reject(new ClientClosedError('producer'));
    if (this.fatalError !== undefined) return Promise.reject(this.fencedErrorForPending());
    let txnSeq = 0;
    try {
      if (this.txn !== undefined) txnSeq = this.txn.admitSend();
    } catch (error) {
      return Promise.reject(error);
    }
    let key: Buffer | null;
    let value: Buffer | null;
    let headers: RecordHeader[];
    try {
      if (typeof record?.topic !== 'string' || record.topic === '') throw new InvalidRecordError('send: record.topic must be a non-empty string');
      if (record.value === undefined) throw new InvalidRecordError('send: record.value is required (null for a tombstone)');
      key = record.key === undefined || record.key === null ? null : bytesOf(record.key, 'key');
      value = record.value === null ? null : bytesOf(record.value, 'value');
      headers = normalizeHeaders(record.headers);
      if (record.timestamp !== undefined && (!Number.isSafeInteger(record.timestamp) || record.timestamp < 0)) {
        throw new InvalidRecordError(`send: record.timestamp must be a non-negative integer (ms since the epoch), got ${record.timestamp}`);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const sizeBytes = recordSizeUpperBoundBytes(key, value, headers);
    const requestBytes = sizeBytes + BATCH_OVERHEAD_BYTES;
    if (requestBytes > this.config.maxRequestSizeBytes) {
      return Promise.reject(new MessageTooLargeError(
        `record of ${requestBytes} bytes (serialized, with batch header) is larger than max.request.size=${this.config.maxRequestSizeBytes}`,
        requestBytes, this.config.maxRequestSizeBytes));
    }
    if (sizeBytes > this.config.bufferMemoryBytes) {
      return Promise.reject(new MessageTooLargeError(
        `record of ${sizeBytes} bytes is larger than buffer.memory=${this.config.bufferMemoryBytes}`, sizeBytes, this.config.bufferMemoryBytes));
    }
    const startMs = Date.now();
    const topicInfo = this.cluster.metadata.topic(record.topic);
    // Fast path, fully synchronous so that sends issued in order are appended in order.
    // Only while no earlier send is still on the slow path, or a later send could overtake it.
    if (topicInfo !== undefined && topicInfo.errorCode === 0 && topicInfo.partitions.length > 0
      && this.slowSends === 0 && this.pool.waiting === 0 && this.pool.available >= sizeBytes) {
      void this.pool.reserve(sizeBytes);
      return this.appendReserved(record, key, value, headers, sizeBytes, topicInfo.partitions.length, txnSeq);
    }
    // Slow sends run one after another, so records keep their send order even when they wait.
    const previous = this.slowTail;
    let done!: () => void;
    this.slowTail = new Promise<void>((resolve) => { done = resolve; });
    this.slowSends += 1;
    return (async () => {
      try {
        await previous;
        const info = await this.cluster.topicInfo(record.topic, Math.max(0, this.config.maxBlockMs - (Date.now() - startMs)));
        const remainingMs = Math.max(0, this.config.maxBlockMs - (Date.now() - startMs));
        await this.pool.reserve(sizeBytes, remainingMs);
        if (this.closing) {
          this.pool.release(sizeBytes);
          throw new ClientClosedError('producer');
        }
        return this.appendReserved(record, key, value, headers, sizeBytes, info.partitions.length, txnSeq);
      } finally {
        this.slowSends -= 1;
        done();
      }
    })();
  }

  private appendReserved(record: ProducerRecord, key: Buffer | null, value: Buffer | null, headers: RecordHeader[],
    sizeBytes: number, numPartitions: number, txnSeq: number): Promise<RecordMetadata> {
    let partition: number;
    try {
      // A send that waited for metadata or memory: its transaction may have ended meanwhile.
      const refused = this.txn?.admitAppend(txnSeq);
      if (refused !== undefined) throw refused;
      if (record.partition !== undefined && (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= numPartitions)) {
        throw new UnknownTopicOrPartitionError(record.topic, record.partition);
      }
      partition = choosePartition({
        topic: record.topic, key, explicitPartition: record.partition, numPartitions,
        userPartitioner: this.config.partitioner, sticky: this.sticky,
      }).partition;
      if (!Number.isInteger(partition) || partition < 0 || partition >= numPartitions) {
        throw new IllegalStateError(`partitioner returned ${partition} for ${record.topic} with ${numPartitions} partitions`);
      }
    } catch (error) {
      this.pool.release(sizeBytes);
      return Promise.reject(error);
    }
    return new Promise<RecordMetadata>((resolve, reject) => {
      const pending: PendingRecord = {
        key, value, headers, sizeBytes,
        timestampMs: record.timestamp ?? Date.now(),
        complete: (error, metadata) => {
          if (error !== null) reject(error);
          else resolve(metadata!);
        },
      };
      const result = this.accumulator.append(record.topic, partition, pending, Date.now());
      this.txn?.noteAppend(record.topic, partition);
      if (result.batchFull || this.config.lingerMs === 0 || this.flushing > 0) this.wake();
      else if (result.newBatch) this.scheduleAt(result.batch.createdMs + this.config.lingerMs);
    });
  }

  // ---- sender ---------------------------------------------------------------------------------

  private wake(): void {
    if (this.senderScheduled) return;
    this.senderScheduled = true;
    setImmediate(() => {
      this.senderScheduled = false;
      this.runSender();
    });
  }

  private scheduleAt(atMs: number): void {
    if (!Number.isFinite(atMs) || atMs >= this.senderTimerAtMs) return;
    clearTimeout(this.senderTimer);
    this.senderTimerAtMs = atMs;
    this.senderTimer = setTimeout(() => {
      this.senderTimerAtMs = Infinity;
      this.runSender();
    }, Math.max(0, atMs - Date.now()));
  }

  private runSender(): void {
    if (this.cluster.isClosed) return;
    if (this.fatalError !== undefined) {
      this.failQueued();
      return;
    }
    if (this.txn?.abortsQueued === true) {
      // The transaction is being aborted (or cannot commit): nothing more of it is sent.
      const error = this.txn.abortedError();
      for (const b of this.accumulator.takeAllQueued()) this.finishBatch(b, { error });
      return;
    }
    const nowMs = Date.now();
    for (const batch of this.accumulator.expire(nowMs)) {
      this.expireBatch(batch);
    }
    // A transactional producer's id comes from initTransactions only (sends are refused before it).
    if (this.idempotenceState === 'uninitialized' && this.accumulator.incompleteCount > 0 && this.txn === undefined) {
      void this.initProducerId();
      return;
    }
    if (this.idempotenceState === 'initializing') return; // woken when it settles
    const inFlightBatchesMax = this.idempotenceState === 'ready' ? IDEMPOTENT_IN_FLIGHT_BATCHES_PER_PARTITION_MAX : Infinity;
    const { ready, nextCheckMs } = this.accumulator.ready(nowMs, this.flushing > 0 || this.closing, inFlightBatchesMax);
    const requests = new Map<string, ProducerBatch[]>();
    const requestBytes = new Map<string, number>();
    let needRefresh = false;
    for (const q of ready) {
      const p = this.cluster.metadata.partition(q.topic, q.partition);
      const address = p === undefined || p.leaderId < 0 ? undefined : this.cluster.addressOf(p.leaderId);
      if (address === undefined) {
        needRefresh = true;
        continue;
      }
      if ((this.inFlightByAddress.get(address) ?? 0) >= this.config.maxInFlightRequestsPerConnection) continue;
      if (this.txn !== undefined && !this.txn.canSend(q.topic, q.partition)) continue; // woken when AddPartitionsToTxn answers
      const head = q.batches[0]!;
      if (this.holdsForOlderProducerId(head)) continue; // woken when those finish
      const bytes = requestBytes.get(address) ?? 0;
      if (bytes > 0 && bytes + head.sizeBytes > this.config.maxRequestSizeBytes) continue;
      const taken = this.accumulator.takeSendable(q, nowMs, this.flushing > 0 || this.closing, this.config.maxRequestSizeBytes - bytes, inFlightBatchesMax,
        (b) => this.holdsForOlderProducerId(b));
      let list = requests.get(address);
      if (list === undefined) requests.set(address, (list = []));
      let added = 0;
      for (const b of taken) {
        list.push(b);
        added += b.sizeBytes;
      }
      requestBytes.set(address, bytes + added);
    }
    for (const [address, batches] of requests) this.sendProduce({ address, batches });
    this.txn?.maybeAddPartitions();
    if (needRefresh || nowMs >= this.leaderRefreshAtMs || this.cluster.metadata.ageMs(nowMs) >= this.config.metadataMaxAgeMs) this.refreshMetadataThenWake();
    this.scheduleAt(Math.min(nextCheckMs, this.accumulator.nextExpiryMs(), this.leaderRefreshAtMs));
  }

  private refreshMetadataThenWake(): void {
    if (this.refreshInProgress) return;
    this.refreshInProgress = true;
    this.cluster.requestRefresh();
    this.cluster.refresh().catch((error: unknown) => {
      this.logger.warn({ component: 'producer', err: error }, 'metadata refresh failed');
    }).finally(() => {
      this.refreshInProgress = false;
      const nowMs = Date.now();
      const waiting = this.retryOnNewLeaders(nowMs);
      this.leaderRefreshAtMs = waiting ? nowMs + this.config.retryBackoffMs : Infinity;
      // Back off before looking again so a leaderless partition does not spin.
      this.scheduleAt(nowMs + this.config.retryBackoffMs);
    });
  }

  /**
   * Retries backing off after a leadership or connection error whose partition now has a newer leader
   * go at once (leader-change.ts); returns whether some still wait for their partition's leader to change.
   */
  private retryOnNewLeaders(nowMs: number): boolean {
    const { due, waitingForLeader } = retriesOnNewLeader(this.accumulator.backingOff(nowMs), (topic, partition) => this.cluster.metadata.partition(topic, partition));
    for (const b of due) b.retryAtMs = nowMs;
    if (due.length > 0) this.scheduleAt(nowMs);
    return waitingForLeader;
  }

  private sequenceKey(batch: ProducerBatch): string {
    return `${batch.topic}\u0000${batch.partition}`;
  }

  private stampIdempotence(batch: ProducerBatch): void {
    if (this.idempotenceState !== 'ready' || batch.baseSequence >= 0) return;
    const key = this.sequenceKey(batch);
    const seq = this.nextSequence.get(key) ?? 0;
    batch.producerId = this.producerId;
    batch.producerEpoch = this.producerEpoch;
    batch.baseSequence = seq;
    const unfinished = this.stampedUnfinished.get(key) ?? [];
    unfinished.push(batch);
    this.stampedUnfinished.set(key, unfinished);
    this.nextSequence.set(key, (seq + batch.records.length) % (INT32_MAX + 1));
    batch.encoded = undefined;
  }

  /** Sends one Produce request; batches of one partition are consecutive and go concatenated, in order. */
  private sendProduce(request: InFlightRequest): void {
    const byTopic = new Map<string, Map<number, ProducerBatch[]>>();
    for (const batch of request.batches) {
      this.stampIdempotence(batch);
      batch.sentBehindUnfinished = this.hasUnfinishedBefore(batch);
      batch.encoded ??= encodeProducerBatch(batch, this.config.compressionType, this.txn !== undefined);
      let parts = byTopic.get(batch.topic);
      if (parts === undefined) byTopic.set(batch.topic, (parts = new Map()));
      let list = parts.get(batch.partition);
      if (list === undefined) parts.set(batch.partition, (list = []));
      list.push(batch);
    }
    for (const b of request.batches) {
      const leaderEpoch = this.cluster.metadata.partition(b.topic, b.partition)?.leaderEpoch ?? -1;
      b.attemptsUnderLeader = leaderEpoch === b.sentLeaderEpoch ? b.attemptsUnderLeader + 1 : 1;
      b.sentLeaderEpoch = leaderEpoch;
    }
    const produceRequest: tributary.v1.IProduceRequest = {
      acks: this.config.acks,
      timeoutMs: this.config.requestTimeoutMs,
      topics: [...byTopic].map(([topic, parts]) => ({
        topic,
        partitions: [...parts].map(([partition, batches]) => ({
          partition,
          recordBatch: batches.length === 1 ? batches[0]!.encoded! : Buffer.concat(batches.map((b) => b.encoded!)),
          currentLeaderEpoch: this.cluster.metadata.partition(topic, partition)?.leaderEpoch ?? -1,
        })),
      })),
      transactionalId: this.config.transactionalId ?? '',
    };
    this.inFlightByAddress.set(request.address, (this.inFlightByAddress.get(request.address) ?? 0) + 1);
    const settle = (): void => {
      this.inFlightByAddress.set(request.address, (this.inFlightByAddress.get(request.address) ?? 1) - 1);
      for (const b of request.batches) this.accumulator.attemptEnded(b);
    };
    this.cluster.callBroker<tributary.v1.IProduceRequest, tributary.v1.ProduceResponse>(request.address, 'produce', produceRequest)
      .then((response) => {
        settle();
        this.handleProduceResponse(request, response);
      }, (error: unknown) => {
        settle();
        for (const b of request.batches) this.handleBatchError(b, error);
      })
      .finally(() => this.wake());
  }

  private handleProduceResponse(request: InFlightRequest, response: tributary.v1.ProduceResponse): void {
    const results = new Map<string, tributary.v1.IProducePartitionResponse>();
    for (const t of response.topics) {
      for (const p of t.partitions ?? []) results.set(`${t.topic}\u0000${p.partition ?? 0}`, p);
    }
    // Each batch's base offset comes from batchBaseOffsets (a retried request may mix batches already
    // written with new ones). Brokers that don't send it append a partition's batches as one unit, so
    // later batches follow the first.
    const nextOffset = new Map<string, number>();
    const batchIndex = new Map<string, number>();
    const batchCount = new Map<string, number>();
    for (const batch of request.batches) {
      const key = this.sequenceKey(batch);
      batchCount.set(key, (batchCount.get(key) ?? 0) + 1);
    }
    for (const batch of request.batches) {
      const key = this.sequenceKey(batch);
      const index = batchIndex.get(key) ?? 0;
      batchIndex.set(key, index + 1);
      const r = results.get(key);
      if (r === undefined) {
        if (this.config.acks === 0) {
          this.finishBatch(batch, { baseOffset: -1, logAppendTimeMs: -1 });
        } else {
          this.handleBatchError(batch, new TributaryClientError(
            `produce response has no result for ${batch.topic}-${batch.partition}`, { code: 'INVALID_RESPONSE', retriable: true }));
        }
        continue;
      }
      const code = r.error?.code ?? 0;
      const perBatch = r.batchBaseOffsets ?? [];
      if (code === DUPLICATE_SEQUENCE_NUMBER && perBatch.length === 0 && (batchCount.get(key) ?? 0) > 1) {
        // Which of the batches landed is unknown: resend them all (idempotence answers the ones that did).
        this.handleBatchError(batch, new TributaryClientError(
          `${batch.topic}-${batch.partition}: duplicate sequence in a multi-batch request without per-batch offsets`, { code: 'DUPLICATE_SEQUENCE_NUMBER', retriable: true }));
        continue;
      }
      if (code === 0 || code === DUPLICATE_SEQUENCE_NUMBER) {
        // DUPLICATE_SEQUENCE_NUMBER: the broker already has this batch (a retry of a write that landed).
        const first = perBatch.length === batchCount.get(key) ? Number(perBatch[index]) : Number(r.baseOffset ?? -1);
        const baseOffset = this.config.acks === 0 || first < 0 ? -1 : (perBatch.length === batchCount.get(key) ? first : (nextOffset.get(key) ?? first));
        if (baseOffset >= 0) nextOffset.set(key, baseOffset + batch.records.length);
        this.finishBatch(batch, { baseOffset, logAppendTimeMs: Number(r.logAppendTimeMs ?? -1) });
      } else {
        this.handleBatchError(batch, errorFromWire(code, r.error?.message ?? '', {
          topic: batch.topic, partition: batch.partition, context: `produce to ${batch.topic}-${batch.partition}`,
        }));
      }
    }
  }

  private handleBatchError(batch: ProducerBatch, error: unknown): void {
    if (this.cluster.isClosed) {
      this.finishBatch(batch, { error: new ClientClosedError('producer') });
      return;
    }
    if (this.fatalError !== undefined) {
      this.finishBatch(batch, { error: this.fencedErrorForPending() });
      return;
    }
    if (needsMetadataRefresh(error)) this.cluster.requestRefresh();
    // In a transaction, INVALID_PRODUCER_EPOCH from a partition leader is abortable (KIP-588: the
    // coordinator may have aborted a timed-out transaction with an epoch bump); abort tells which.
    const fencedHere = error instanceof ProducerFencedError && !(this.txn !== undefined && wireCodeOf(error) === 'INVALID_PRODUCER_EPOCH');
    if (fencedHere) {
      this.fence(error);
      this.finishBatch(batch, { error });
      return;
    }
    if (this.txn !== undefined && (this.txn.refusesRetries || error instanceof ProducerFencedError)) {
      const failure = this.txn.refusesRetries ? this.txn.abortedError() : error as ProducerFencedError;
      this.txn.abortableError(failure);
      this.finishBatch(batch, { error: failure });
      return;
    }
    // UNKNOWN_PRODUCER_ID for the id the cluster just gave us: the partition leader's metadata has not
    // seen its block yet (it was allocated through another broker a moment ago); it will, so retry.
    const unknownOwnId = error instanceof TributaryClientError && error.code === errorName(UNKNOWN_PRODUCER_ID)
      && batch.producerId === this.producerId && this.idempotenceState === 'ready';
    const outOfOrder = error instanceof TributaryClientError && !unknownOwnId
      && (error.code === errorName(OUT_OF_ORDER_SEQUENCE_NUMBER) || error.code === errorName(UNKNOWN_PRODUCER_ID));
    if (outOfOrder && batch.baseSequence >= 0 && !batch.sentBehindUnfinished) {
      // Every earlier batch of the partition had finished before this attempt was sent, yet the broker
      // sees a gap (it lost acknowledged batches, or an earlier one failed). Retrying cannot fill the
      // gap; fail this batch and start a new producer id so later batches are accepted.
      const refused = new OutOfOrderSequenceError(
        `${batch.topic}-${batch.partition}: broker refused sequence ${batch.baseSequence} of producer ${batch.producerId} (${(error as TributaryClientError).code}) although every earlier batch had finished before it was sent`, error);
      this.finishBatch(batch, { error: refused });
      if (batch.producerId === this.producerId && this.idempotenceState === 'ready') this.resetIdempotence('sequence refused after every earlier batch had finished', refused);
      return;
    }
    // Otherwise an earlier batch of this partition was unfinished when this one was sent: the broker
    // may have received this one first (requests are not processed in sending order) or the earlier
    // one is being retried. Retry this one after it (the accumulator re-queues in sequence order).
    const retriable = error instanceof TributaryClientError
      && (error.retriable || unknownOwnId || (this.idempotenceState === 'ready' && outOfOrder));
    const nowMs = Date.now();
    const deadlineMs = batch.createdMs + this.config.deliveryTimeoutMs;
    const decision = decideRetry({
      error, retriable, attempt: batch.attempts, backoffAttempt: Math.max(1, batch.attemptsUnderLeader), nowMs, deadlineMs, policy: this.config, jitter01: Math.random(),
    });
    if (decision.retry && this.config.acks !== 0) {
      this.logger.debug({ component: 'producer', topic: batch.topic, partition: batch.partition, attempt: batch.attempts, err: error }, 'retrying batch');
      if (this.cluster.metadata.partition(batch.topic, batch.partition) === undefined || needsMetadataRefresh(error)) {
        this.refreshMetadataThenWake();
      }
      // A batch refused behind an unfinished earlier one needs no backoff: the accumulator sends a
      // retried batch only once its partition has nothing in flight, i.e. after the earlier one's answer
      // (backing off too, every reordering cost 100 ms of the partition's throughput).
      const backoffMs = outOfOrder ? 0 : decision.backoffMs;
      this.accumulator.reenqueue(batch, nowMs + backoffMs, error);
      this.scheduleAt(nowMs + backoffMs);
      return;
    }
    const expired = !decision.retry && decision.reason === 'deadline';
    const finalError = expired
      ? new DeliveryTimeoutError(batch.topic, batch.partition, this.config.deliveryTimeoutMs, error)
      : error instanceof Error ? error : new TributaryClientError(String(error), { code: 'UNKNOWN' });
    // Given up on a batch that may have reached the broker: its sequence may be a gap (as in expireBatch).
    if (expired && batch.producerId === this.producerId && this.idempotenceState === 'ready') this.resetIdempotence('expired batch left a sequence gap', finalError);
    this.txn?.abortableError(finalError); // a record of the transaction was not written: it cannot commit
    this.finishBatch(batch, { error: finalError });
  }

  /**
   * Whether a batch of the same partition and producer id, stamped before `batch`, is unfinished (in
   * flight or queued for a retry). Judged when an attempt is sent, not when its answer comes: Kafka's
   * rule (a sequence refusal is retriable while an earlier batch may still land) relies on one TCP
   * connection processing requests in order, so an answer arriving after the earlier batches' proves
   * the broker judged it after them. Here separate gRPC calls carry no processing order — the broker
   * may judge a batch before an earlier one sent on another call, and answer it after — so only an
   * attempt sent when every earlier batch had finished makes a refusal certain.
   */
  private hasUnfinishedBefore(batch: ProducerBatch): boolean {
    if (batch.baseSequence < 0) return false;
    for (const b of this.stampedUnfinished.get(this.sequenceKey(batch)) ?? []) {
      if (b === batch) return false;
      if (b.producerId === batch.producerId) return true;
    }
    throw new IllegalStateError(`${batch.topic}-${batch.partition}: a stamped batch (sequence ${batch.baseSequence}) is not tracked as unfinished`);
  }

  /** INVALID_PRODUCER_EPOCH / PRODUCER_FENCED: fatal. Pending and later sends fail; nothing is resent. */
  private fence(error: ProducerFencedError): void {
    if (this.fatalError !== undefined) return;
    this.transitionIdempotence('fenced', { err: error }, 'error');
    this.fatalError = error;
    this.txn?.fatal(error);
    this.failQueued();
  }

  private fencedErrorForPending(): ProducerFencedError {
    return new ProducerFencedError(`producer ${this.producerId} epoch ${this.producerEpoch} was fenced; no further sends are possible`, this.fatalError);
  }

  private failQueued(): void {
    for (const b of this.accumulator.takeAllQueued()) this.finishBatch(b, { error: this.fencedErrorForPending() });
  }

  private expireBatch(batch: ProducerBatch): void {
    if (batch.attempts > 0 && batch.producerId === this.producerId && this.idempotenceState === 'ready') {
      // A batch that may have reached the broker leaves a sequence gap: start a new producer id
      // so later batches are not refused as out of order (the Java client bumps the epoch instead).
      this.resetIdempotence('expired batch left a sequence gap');
    }
    const expired = new DeliveryTimeoutError(batch.topic, batch.partition, this.config.deliveryTimeoutMs, batch.lastError);
    this.txn?.abortableError(expired);
    this.finishBatch(batch, { error: expired });
  }

  /** The one place the idempotence state changes: only along IDEMPOTENCE_TRANSITIONS, logged `from -> to`. */
  private transitionIdempotence(to: IdempotenceState, detail: Record<string, unknown>, level: 'debug' | 'info' | 'warn' | 'error'): void {
    const from = this.idempotenceState;
    if (!IDEMPOTENCE_TRANSITIONS[from].includes(to)) throw new IllegalStateError(`idempotence: ${from} -> ${to} is not a transition`);
    this.idempotenceState = to;
    this.logger[level]({ component: 'producer', producerId: this.producerId, producerEpoch: this.producerEpoch, ...detail }, `idempotence: ${from} -> ${to}`);
  }

  /**
   * A sequence gap: start over with a new producer id. In a transaction the gap dooms the transaction
   * instead (abortable); its abort's EndTxn answers a new epoch, whose sequences start at 0.
   */
  private resetIdempotence(reason: string, error?: Error): void {
    if (this.txn !== undefined) {
      this.txn.abortableError(error ?? new OutOfOrderSequenceError(`${reason} (transactional id ${this.config.transactionalId})`));
      return;
    }
    this.transitionIdempotence('uninitialized', { reason }, 'warn');
    this.producerId = -1;
    this.producerEpoch = -1;
    this.nextSequence.clear();
  }

  /** A batch not stamped yet must wait: batches of an older producer id of its partition are unfinished. */
  private holdsForOlderProducerId(batch: ProducerBatch): boolean {
    if (batch.baseSequence >= 0) return false;
    return (this.stampedUnfinished.get(this.sequenceKey(batch)) ?? []).some((b) => b.producerId !== this.producerId);
  }

  private finishBatch(batch: ProducerBatch, results: { error: Error } | { baseOffset: number; logAppendTimeMs: number }): void {
    if (batch.baseSequence >= 0) {
      const key = this.sequenceKey(batch);
      const unfinished = this.stampedUnfinished.get(key) ?? [];
      const i = unfinished.indexOf(batch);
      if (i < 0) throw new IllegalStateError(`${batch.topic}-${batch.partition}: finishing a stamped batch (sequence ${batch.baseSequence}) not tracked as unfinished`);
      unfinished.splice(i, 1);
      if (unfinished.length === 0) this.stampedUnfinished.delete(key);
    }
    let bytes = 0;
    for (const r of batch.records) bytes += r.sizeBytes;
    this.accumulator.completeBatch(batch, results);
    this.pool.release(bytes);
  }

  private async initProducerId(): Promise<void> {
    this.transitionIdempotence('initializing', {}, 'debug');
    const deadlineMs = Date.now() + this.config.maxBlockMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await this.cluster.onAnyBroker((address) => this.cluster.callBroker<tributary.v1.IInitProducerIdRequest, tributary.v1.InitProducerIdResponse>(
          address, 'initProducerId', { transactionalId: '', transactionTimeoutMs: 0, producerId: -1, producerEpoch: -1 }));
        const code = response.error?.code ?? 0;
        if (code !== 0) throw errorFromWire(code, response.error?.message ?? '', { context: 'InitProducerId' });
        if (Number(response.producerId) < 0) throw new UnsupportedOperationError('InitProducerId (no producer id returned)');
        this.producerId = Number(response.producerId);
        this.producerEpoch = response.producerEpoch;
        this.transitionIdempotence('ready', {}, 'info');
        break;
      } catch (error) {
        const decision = decideRetry({ error, attempt, nowMs: Date.now(), deadlineMs, policy: this.config, jitter01: Math.random() });
        if (decision.retry && !this.cluster.isClosed) {
          await sleep(decision.backoffMs);
          continue;
        }
        if (error instanceof UnsupportedOperationError) {
          // A broker without producer ids (an old one): degrade honestly, no broker-side dedupe or sequence checks.
          // The broker does not grant producer ids: sending without one (retries may duplicate or reorder).
          this.transitionIdempotence('unsupported', { err: error }, 'warn');
          break;
        }
        // Not granted for now (no controller, brokers down): never send without one — a retry could then
        // duplicate. Batches wait (and expire after delivery.timeout.ms); the next sender pass asks again.
        this.transitionIdempotence('uninitialized', { err: error, reason: 'no producer id yet; sends wait for one' }, 'warn');
        this.scheduleAt(Date.now() + this.config.retryBackoffMs);
        return;
      }
    }
    this.wake();
  }
}
