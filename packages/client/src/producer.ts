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
// Why one file past 600 lines: the send path and the sender loop share one in-flight state (batches,
// sequences, per-broker request slots, the producer id) and complete every record exactly once between
// them. Batching lives in accumulator.ts, buffers in buffer-pool.ts, encoding in codec.ts, partition
// choice in partitioner.ts.
import { tributary } from '@tributary/protocol';
import {
  RecordAccumulator, type PendingRecord, type ProducerBatch, type RecordMetadata,
} from './accumulator.js';
import { BufferPool } from './buffer-pool.js';
import { Cluster } from './cluster.js';
import { encodeProducerBatch } from './codec.js';
import { parseProducerConfig, type ProducerConfig, type ProducerOptions } from './config.js';
import {
  ClientClosedError, DeliveryTimeoutError, IllegalStateError, InvalidRecordError, MessageTooLargeError, OutOfOrderSequenceError, ProducerFencedError,
  TributaryClientError, UnknownTopicOrPartitionError, UnsupportedOperationError, errorFromWire, needsMetadataRefresh,
} from './errors.js';
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
  private idempotenceState: IdempotenceState;
  private producerId = -1;
  private producerEpoch = -1;

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
      return this.appendReserved(record, key, value, headers, sizeBytes, topicInfo.partitions.length);
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
        return this.appendReserved(record, key, value, headers, sizeBytes, info.partitions.length);
      } finally {
        this.slowSends -= 1;
        done();
      }
    })();
  }

  private appendReserved(record: ProducerRecord, key: Buffer | null, value: Buffer | null, headers: RecordHeader[],
    sizeBytes: number, numPartitions: number): Promise<RecordMetadata> {
    let partition: number;
    try {
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
    const nowMs = Date.now();
    for (const batch of this.accumulator.expire(nowMs)) {
      this.expireBatch(batch);
    }
    if (this.idempotenceState === 'uninitialized' && this.accumulator.incompleteCount > 0) {
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
    if (needRefresh || this.cluster.metadata.ageMs(nowMs) >= this.config.metadataMaxAgeMs) this.refreshMetadataThenWake();
    this.scheduleAt(Math.min(nextCheckMs, this.accumulator.nextExpiryMs()));
  }

  private refreshMetadataThenWake(): void {
    if (this.refreshInProgress) return;
    this.refreshInProgress = true;
    this.cluster.requestRefresh();
    this.cluster.refresh().catch((error: unknown) => {
      this.logger.warn({ component: 'producer', err: error }, 'metadata refresh failed');
    }).finally(() => {
      this.refreshInProgress = false;
      // Back off before looking again so a leaderless partition does not spin.
      this.scheduleAt(Date.now() + this.config.retryBackoffMs);
    });
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
      batch.encoded ??= encodeProducerBatch(batch, this.config.compressionType);
      let parts = byTopic.get(batch.topic);
      if (parts === undefined) byTopic.set(batch.topic, (parts = new Map()));
      let list = parts.get(batch.partition);
      if (list === undefined) parts.set(batch.partition, (list = []));
      list.push(batch);
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
    if (error instanceof ProducerFencedError) {
      this.fence(error);
      this.finishBatch(batch, { error });
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
      this.finishBatch(batch, { error: new OutOfOrderSequenceError(
        `${batch.topic}-${batch.partition}: broker refused sequence ${batch.baseSequence} of producer ${batch.producerId} (${(error as TributaryClientError).code}) although every earlier batch had finished before it was sent`, error) });
      if (batch.producerId === this.producerId && this.idempotenceState === 'ready') this.resetIdempotence('sequence refused after every earlier batch had finished');
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
      error, retriable, attempt: batch.attempts, nowMs, deadlineMs, policy: this.config, jitter01: Math.random(),
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
    if (expired && batch.producerId === this.producerId && this.idempotenceState === 'ready') this.resetIdempotence('expired batch left a sequence gap');
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
    this.finishBatch(batch, { error: new DeliveryTimeoutError(batch.topic, batch.partition, this.config.deliveryTimeoutMs, batch.lastError) });
  }

  /** The one place the idempotence state changes: only along IDEMPOTENCE_TRANSITIONS, logged `from -> to`. */
  private transitionIdempotence(to: IdempotenceState, detail: Record<string, unknown>, level: 'debug' | 'info' | 'warn' | 'error'): void {
    const from = this.idempotenceState;
    if (!IDEMPOTENCE_TRANSITIONS[from].includes(to)) throw new IllegalStateError(`idempotence: ${from} -> ${to} is not a transition`);
    this.idempotenceState = to;
    this.logger[level]({ component: 'producer', producerId: this.producerId, producerEpoch: this.producerEpoch, ...detail }, `idempotence: ${from} -> ${to}`);
  }

  private resetIdempotence(reason: string): void {
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
