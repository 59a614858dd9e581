// tributary.v1.Broker handlers: decode the wire request into domain input (rejecting malformed
// requests with INVALID_ARGUMENT naming the field), run the domain code, encode the result.
import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { batchesIn, decodeRecordBatch, readControlRecordType, tributary, type BrokerHandlers, type RecordBatch, type RecordInput } from '@tributary/protocol';
import type { BrokerMetrics } from './broker-metrics.js';
import { ChangeNotifier } from './change-notifier.js';
import { ApiError, InvalidArgumentError, NO_ERROR, errorCodeOf, toWireError } from './errors.js';
import { fetch, readPartitions, type AbortedTxnRef, type FetchInput, type FetchPartitionResult } from './fetch.js';
import { ReadCommittedFilter } from './read-committed.js';
import { TRANSACTIONAL_ID_LENGTH_MAX } from './transactions/txn-state.js';
import { int64, requireName, toServiceError, unary } from './grpc-call.js';
import { listOffset, type OffsetSpec } from './list-offsets.js';
import type { MetadataCommands, MetadataView, TopicInfo } from './metadata-view.js';
import type { NodeConfig } from './node-config.js';
import { produce, type ProduceInput, type ProducePartitionInput, type ProduceResult } from './produce.js';
import type { TransactionCoordinator } from './transactions/transaction-coordinator.js';
import { initTransactionalProducerId } from './transactions/transactions-service.js';
import type { ReplicaManager } from './replica-manager.js';
import { validateTopicName } from './topic-name.js';

/** Subscribe streams never wait less than this per round, so an idle stream does not spin. */
export const SUBSCRIBE_MIN_WAIT_MS = 100;
export const SUBSCRIBE_DEFAULT_WAIT_MS = 500;
/** A Fetch may name at most this many partitions (bounds the per-request work). */
export const MAX_FETCH_PARTITIONS = 10_000;

export interface BrokerServiceDeps {
  readonly config: NodeConfig;
  readonly metadata: MetadataView;
  readonly commands: MetadataCommands;
  readonly replicas: ReplicaManager;
  readonly notifier: ChangeNotifier;
  readonly metrics: BrokerMetrics;
  readonly logger: Logger;
  readonly nowMs: () => number;
  /** Aborted when the node shuts down: parked requests answer at once. */
  readonly shutdownSignal: AbortSignal;
  /** Keeps acks=0 appends (answered before they run) visible to shutdown. */
  readonly trackBackground: (work: Promise<unknown>) => void;
  /** InitProducerId with a transactional id goes to the transaction coordinator; absent, it is refused. */
  readonly transactions?: TransactionCoordinator;
}

// ---- decoding ----

function asBuffer(bytes: Uint8Array | null | undefined): Buffer | undefined {
  if (bytes === null || bytes === undefined || bytes.length === 0) return undefined;
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

function decodeRecord(r: tributary.v1.IRecord): RecordInput {
  const key = asBuffer(r.key);
  const value = asBuffer(r.value);
  const timestamp = int64(r.timestampMs);
  return {
    key: r.hasKey === true || key !== undefined ? key ?? Buffer.alloc(0) : null,
    value: r.hasValue === true || value !== undefined ? value ?? Buffer.alloc(0) : null,
    headers: (r.headers ?? []).map((h) => ({ key: h.key ?? '', value: asBuffer(h.value) ?? Buffer.alloc(0) })),
    ...(timestamp > 0 ? { timestamp } : {}),
  };
}

export function decodeProduceRequest(req: tributary.v1.ProduceRequest, config: NodeConfig): ProduceInput {
  const topics = req.topics.map((t, i) => {
    const topic = requireName(t.topic, `topics[${i}].topic`);
    const seen = new Set<number>();
    const partitions = (t.partitions ?? []).map((p, j): ProducePartitionInput => {
      const partition = p.partition ?? 0;
      if (seen.has(partition)) throw new InvalidArgumentError(`topics[${i}].partitions[${j}].partition`, `partition ${partition} appears twice`);
      seen.add(partition);
      const recordBatch = asBuffer(p.recordBatch);
      const records = recordBatch === undefined ? (p.records ?? []).map(decodeRecord) : [];
      if (recordBatch === undefined && records.length === 0) {
        throw new InvalidArgumentError(`topics[${i}].partitions[${j}].record_batch`, 'record_batch or records is required');
      }
      return { partition, recordBatch, records, currentLeaderEpoch: p.currentLeaderEpoch ?? -1 };
    });
    if (partitions.length === 0) throw new InvalidArgumentError(`topics[${i}].partitions`, 'at least one partition is required');
    return { topic, partitions };
  });
  if (topics.length === 0) throw new InvalidArgumentError('topics', 'at least one topic is required');
  const timeoutMs = req.timeoutMs === 0 ? config.requestTimeoutMs : Math.min(req.timeoutMs, config.requestTimeoutMs);
  const transactionalId = req.transactionalId ?? '';
  if (transactionalId.length > TRANSACTIONAL_ID_LENGTH_MAX) throw new InvalidArgumentError('transactional_id', `longer than ${TRANSACTIONAL_ID_LENGTH_MAX} characters`);
  return { acks: req.acks, timeoutMs, topics, ...(transactionalId === '' ? {} : { transactionalId }) };
}

export function decodeFetchRequest(req: tributary.v1.FetchRequest, config: NodeConfig): FetchInput {
  const partitions = req.topics.flatMap((t, i) => {
    const topic = requireName(t.topic, `topics[${i}].topic`);
    return (t.partitions ?? []).map((p, j) => {
      const fetchOffset = int64(p.fetchOffset);
      if (fetchOffset < 0) throw new InvalidArgumentError(`topics[${i}].partitions[${j}].fetch_offset`, `must be ≥ 0, got ${fetchOffset}`);
      return {
        topic, partition: p.partition ?? 0, fetchOffset, partitionMaxBytes: p.partitionMaxBytes ?? 0,
        currentLeaderEpoch: p.currentLeaderEpoch ?? -1, lastFetchedEpoch: p.lastFetchedEpoch ?? -1,
      };
    });
  });
  if (partitions.length > MAX_FETCH_PARTITIONS) {
    throw new InvalidArgumentError('topics', `${partitions.length} partitions, more than the maximum ${MAX_FETCH_PARTITIONS}`);
  }
  return {
    maxWaitMs: Math.min(req.maxWaitMs, config.fetchMaxWaitMs),
    minBytes: req.minBytes,
    maxBytes: req.maxBytes === 0 ? config.fetchMaxBytes : Math.min(req.maxBytes, config.fetchMaxBytes),
    isolation: req.isolationLevel === tributary.v1.IsolationLevel.READ_COMMITTED ? 'read_committed' : 'read_uncommitted',
    partitions,
  };
}

// ---- encoding ----

function encodeProduceResult(result: ProduceResult): tributary.v1.IProduceResponse {
  return {
    topics: result.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p) => ({
        partition: p.partition,
        error: p.error === undefined ? NO_ERROR : toWireError(p.error),
        baseOffset: p.baseOffset, batchBaseOffsets: [...p.batchBaseOffsets], logAppendTimeMs: p.logAppendTimeMs, logStartOffset: p.logStartOffset,
      })),
    })),
  };
}

/**
 * The records of the stored batches in `bytes` at offsets ≥ fromOffset, for the RECORDS fetch format. A
 * batch that does not decode (poison stored by an older version, or a disk fault the CRC caught) ends the
 * list there: the records of the batches before it are returned, and when there are none the partition
 * answers CORRUPT_MESSAGE (so a reader can tell where the bad batch is and seek past it); the call as a
 * whole never fails on stored bytes.
 */
function toWireRecords(bytes: Buffer, fromOffset: number, aborted: readonly AbortedTxnRef[] | undefined): { records: tributary.v1.IRecord[]; error: unknown; nextOffset: number | undefined } {
  const records: tributary.v1.IRecord[] = [];
  // Control batches are never records to a reader; read_committed also skips aborted transactions.
  const committed = aborted === undefined ? undefined : new ReadCommittedFilter(aborted);
  let nextOffset: number | undefined;
  let pos = 0;
  while (pos < bytes.length) {
    let batch: RecordBatch;
    try {
      batch = decodeRecordBatch(bytes, pos);
    } catch (err) {
      if (records.length > 0) break;
      return { records, nextOffset, error: new ApiError('CORRUPT_MESSAGE', `stored batch at or after offset ${fromOffset} does not decode: ${err instanceof Error ? err.message : String(err)}`, { cause: err }) };
    }
    const at = pos;
    pos += batch.sizeBytes;
    nextOffset = batch.lastOffset + 1;
    const delivered = committed === undefined ? !batch.control : committed.accept(batch, () => isAbortMarker(bytes, at));
    if (!delivered) continue;
    for (const r of batch.records) {
      if (r.offset < fromOffset) continue;
      records.push({
        key: r.key ?? Buffer.alloc(0), hasKey: r.key !== null, value: r.value ?? Buffer.alloc(0), hasValue: r.value !== null,
        headers: r.headers.map((h) => ({ key: h.key, value: h.value ?? Buffer.alloc(0) })),
        timestampMs: r.timestamp, offset: r.offset,
      });
    }
  }
  return { records, error: undefined, nextOffset };
}

/** Whether the control batch at `position` is an ABORT marker (an undecodable one counts as not). */
function isAbortMarker(bytes: Buffer, position: number): boolean {
  try {
    return readControlRecordType(bytes, position) === 'ABORT';
  } catch {
    return false;
  }
}

export function encodeFetchResults(input: FetchInput, results: readonly FetchPartitionResult[], format: tributary.v1.RecordFormat): tributary.v1.IFetchResponse {
  return encodeFetch(input, results, format).response;
}

interface EncodedFetch {
  readonly response: tributary.v1.IFetchResponse;
  /** Some partition answers an error or a diverging epoch. */
  readonly failed: boolean;
  /** Per input partition: the offset after the last batch delivered, when one was. */
  readonly nextOffsets: readonly (number | undefined)[];
}

function encodeFetch(input: FetchInput, results: readonly FetchPartitionResult[], format: tributary.v1.RecordFormat): EncodedFetch {
  const byTopic = new Map<string, tributary.v1.IFetchPartitionResponse[]>();
  const nextOffsets: (number | undefined)[] = [];
  let failed = false;
  results.forEach((r, i) => {
    const asRecords = format === tributary.v1.RecordFormat.RECORDS;
    const converted = asRecords ? toWireRecords(r.bytes, input.partitions[i]?.fetchOffset ?? 0, r.abortedTransactions) : undefined;
    const error = r.error ?? converted?.error;
    failed ||= error !== undefined || r.divergingEpoch !== undefined;
    nextOffsets.push(converted !== undefined ? converted.nextOffset : nextOffsetAfter(r.bytes));
    const response: tributary.v1.IFetchPartitionResponse = {
      partition: r.partition,
      error: error === undefined ? NO_ERROR : toWireError(error),
      highWatermark: r.highWatermark, lastStableOffset: r.lastStableOffset, logStartOffset: r.logStartOffset,
      leaderEpoch: r.leaderEpoch,
      ...(converted !== undefined ? { records: converted.records } : { recordBatch: r.bytes }),
      ...(r.divergingEpoch !== undefined ? { divergingEpoch: { epoch: r.divergingEpoch.epoch, endOffset: r.divergingEpoch.endOffset } } : {}),
      abortedTransactions: (r.abortedTransactions ?? []).map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset })),
    };
    let list = byTopic.get(r.topic);
    if (list === undefined) byTopic.set(r.topic, (list = []));
    list.push(response);
  });
  return { response: { error: NO_ERROR, topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) }, failed, nextOffsets };
}

/** The shortest pause of a Subscribe round that found nothing (a client's max_wait_ms 0 included). */
const SUBSCRIBE_IDLE_MIN_MS = 10;

/** Resolves after `ms`, or at once when `signal` aborts. */
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * The offset after the last batch in `bytes` (whole batches), or undefined when empty. Stops at a header
 * it cannot read (the reader of those bytes gets to see the bad batch and report it).
 */
function nextOffsetAfter(bytes: Buffer): number | undefined {
  let next: number | undefined;
  try {
    for (const header of batchesIn(bytes, { verifyCrc: false })) next = header.lastOffset + 1;
  } catch {
    // A header it cannot read: stop there.
  }
  return next;
}

function encodeTopicMetadata(topic: TopicInfo, replicas: ReplicaManager): tributary.v1.ITopicMetadata {
  return {
    name: topic.name, error: NO_ERROR, internal: topic.internal, topicId: topic.topicId,
    partitions: topic.partitions.map((p) => ({
      partition: p.partition, error: NO_ERROR, leaderId: p.leader, leaderEpoch: p.leaderEpoch,
      replicas: [...p.replicas], isr: [...p.isr], offlineReplicas: replicas.offlineReplicasOf(p),
    })),
  };
}

const OFFSET_SPECS: Record<number, OffsetSpec> = {
  [tributary.v1.OffsetSpec.LATEST]: 'LATEST',
  [tributary.v1.OffsetSpec.EARLIEST]: 'EARLIEST',
  [tributary.v1.OffsetSpec.TIMESTAMP]: 'TIMESTAMP',
  [tributary.v1.OffsetSpec.MAX_TIMESTAMP]: 'MAX_TIMESTAMP',
};

// ---- handlers ----

export function createBrokerHandlers(deps: BrokerServiceDeps): BrokerHandlers {
  const { logger, metrics, config } = deps;
  const fetchDeps = { replicas: deps.replicas, notifier: deps.notifier, nowMs: deps.nowMs };

  /** Aborts when the call is cancelled or the node shuts down. */
  const callSignal = (call: { once(event: "cancelled", listener: () => void): unknown }): { signal: AbortSignal; cancelled: () => boolean } => {
    const controller = new AbortController();
    let cancelled = false;
    call.once('cancelled', () => {
      cancelled = true;
      controller.abort();
    });
    return { signal: AbortSignal.any([controller.signal, deps.shutdownSignal]), cancelled: () => cancelled };
  };

  const countResults = (api: string, errors: readonly unknown[]): void => {
    for (const err of errors) metrics.requests.inc({ api, result: err === undefined ? 'ok' : errorCodeOf(err) });
  };

  const runProduce = async (input: ProduceInput, signal?: AbortSignal): Promise<ProduceResult> => {
    const result = await produce(input, { replicas: deps.replicas, notifier: deps.notifier, nowMs: deps.nowMs }, signal);
    for (const t of result.topics) {
      countResults('produce', t.partitions.map((p) => p.error));
      for (const p of t.partitions) {
        if (p.appendedBytes > 0) metrics.bytesIn.inc({ topic: t.topic }, p.appendedBytes);
        if (p.error !== undefined) logger.debug({ err: p.error, topic: t.topic, partition: p.partition }, 'produce failed');
      }
    }
    return result;
  };

  const recordFetch = (results: readonly FetchPartitionResult[]): void => {
    countResults('fetch', results.map((r) => r.error));
    for (const r of results) if (r.bytes.length > 0) metrics.bytesOut.inc({ topic: r.topic }, r.bytes.length);
  };

  return {
    produce: unary(logger, 'Produce', async (req: tributary.v1.ProduceRequest, call) => {
      const end = metrics.requestLatencySeconds.startTimer({ api: 'produce' });
      const input = decodeProduceRequest(req, config);
      if (input.acks === 0) {
        // acks=0: the producer wants no answer, but a unary gRPC call needs one: reply empty at once and
        // append afterwards. Failures are only logged and counted, as with Kafka.
        deps.trackBackground(runProduce(input).catch((err: unknown) => logger.error({ err }, 'acks=0 produce failed')));
        end();
        return { topics: [] };
      }
      const { signal } = callSignal(call);
      const result = await runProduce(input, signal);
      end();
      return encodeProduceResult(result);
    }),

    fetch: unary(logger, 'Fetch', async (req: tributary.v1.FetchRequest, call) => {
      const end = metrics.requestLatencySeconds.startTimer({ api: 'fetch' });
      const input = decodeFetchRequest(req, config);
      const { signal, cancelled } = callSignal(call);
      const results = (await fetch(input, fetchDeps, signal)) ?? (cancelled() ? [] : (await readPartitions(input, fetchDeps)).results);
      recordFetch(results);
      end();
      return encodeFetchResults(input, results, req.format);
    }),

    subscribe: (call: grpc.ServerWritableStream<tributary.v1.FetchRequest, tributary.v1.IFetchResponse>) => {
      let input: FetchInput;
      try {
        const decoded = decodeFetchRequest(call.request, config);
        const wait = decoded.maxWaitMs === 0 ? SUBSCRIBE_DEFAULT_WAIT_MS : Math.max(decoded.maxWaitMs, SUBSCRIBE_MIN_WAIT_MS);
        input = { ...decoded, maxWaitMs: Math.min(wait, config.fetchMaxWaitMs), minBytes: Math.max(1, decoded.minBytes) };
      } catch (err) {
        call.destroy(Object.assign(new Error('subscribe'), toServiceError(logger, 'Subscribe', err)));
        return;
      }
      const { signal } = callSignal(call);
      let unsentBytes = 0;
      let wakeWriter: (() => void) | undefined;
      const loop = async (): Promise<void> => {
        while (!signal.aborted) {
          const roundStartMs = deps.nowMs();
          const results = await fetch(input, fetchDeps, signal);
          if (results === undefined) break;
          if (results.every((r) => r.bytes.length === 0 && r.error === undefined && r.divergingEpoch === undefined)) {
            // fetch() may return nothing without waiting (no partitions to wait on, or the notifier's
            // waiter limit reached): wait out the round here, or this loop never yields the event loop.
            // At least SUBSCRIBE_IDLE_MIN_MS even with max_wait_ms 0, so an idle stream cannot spin.
            const restMs = Math.max(input.maxWaitMs - (deps.nowMs() - roundStartMs), SUBSCRIBE_IDLE_MIN_MS);
            await abortableSleep(restMs, signal);
            continue;
          }
          recordFetch(results);
          const encoded = encodeFetch(input, results, call.request.format);
          // Flow control: write() only says "full" after 16 queued messages (grpc-js's object-mode
          // buffer), which can be hundreds of MiB of batches; so we also count bytes whose write callback
          // (the HTTP/2 layer took them) has not fired and stop reading ahead beyond one response's worth.
          // A slow reader thus costs this node at most ~2 responses of memory per stream.
          const size = results.reduce((sum, r) => sum + r.bytes.length, 0);
          unsentBytes += size;
          const writable = call.write(encoded.response, () => {
            unsentBytes -= size;
            wakeWriter?.();
          });
          if (!writable) await Promise.race([once(call, 'drain'), once(signal, 'abort')]);
          while (unsentBytes > input.maxBytes && !signal.aborted) {
            await new Promise<void>((resolve) => {
              wakeWriter = resolve;
              signal.addEventListener('abort', () => resolve(), { once: true });
            });
            wakeWriter = undefined;
          }
          if (encoded.failed) break; // the stream ends on error, after delivering it
          // Bytes that gave no whole readable batch cannot move the stream on: end it rather than resend them.
          if (results.some((r, i) => r.bytes.length > 0 && encoded.nextOffsets[i] === undefined)) break;
          input = {
            ...input,
            partitions: input.partitions.map((p, i) => {
              const next = encoded.nextOffsets[i];
              return next === undefined ? p : { ...p, fetchOffset: Math.max(p.fetchOffset, next) };
            }),
          };
        }
        call.end();
      };
      loop().catch((err: unknown) => {
        logger.error({ err }, 'subscribe failed');
        call.destroy(err instanceof Error ? err : new Error(String(err)));
      });
    },

    metadata: unary(logger, 'Metadata', async (req: tributary.v1.MetadataRequest) => {
      const metadata = deps.metadata;
      req.topics.forEach((name, i) => requireName(name, `topics[${i}]`));
      const topics = req.topics.length === 0
        ? metadata.topics().filter((t) => req.includeInternal || !t.internal).map((t) => encodeTopicMetadata(t, deps.replicas))
        : req.topics.map((name) => {
          const topic = metadata.topic(name);
          if (topic !== undefined) return encodeTopicMetadata(topic, deps.replicas);
          try {
            validateTopicName(name);
            throw new ApiError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`);
          } catch (err) {
            return { name, error: toWireError(err), partitions: [] };
          }
        });
      return {
        clusterId: metadata.clusterId,
        controllerId: metadata.controller().leaderId,
        brokers: metadata.brokers().filter((b) => !b.fenced).map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack ?? '' })),
        topics,
      };
    }),

    listOffsets: unary(logger, 'ListOffsets', async (req: tributary.v1.ListOffsetsRequest) => {
      req.topics.forEach((t, i) => requireName(t.topic, `topics[${i}].topic`));
      const topics: tributary.v1.IListOffsetsTopicResponse[] = [];
      for (const t of req.topics) {
        const partitions: tributary.v1.IListOffsetsPartitionResponse[] = [];
        for (const p of t.partitions ?? []) {
          const partition = p.partition ?? 0;
          try {
            const spec = OFFSET_SPECS[p.spec ?? 0];
            if (spec === undefined) throw new ApiError('INVALID_REQUEST', `unknown offset spec ${p.spec}`);
            const hosted = deps.replicas.getPartition(t.topic ?? '', partition);
            hosted.checkLeader(p.currentLeaderEpoch ?? -1);
            const isolation = req.isolationLevel === tributary.v1.IsolationLevel.READ_COMMITTED ? 'read_committed' : 'read_uncommitted';
            const found = await listOffset(hosted, spec, int64(p.timestampMs), isolation);
            partitions.push({ partition, error: NO_ERROR, offset: found.offset, timestampMs: found.timestampMs, leaderEpoch: found.leaderEpoch });
          } catch (err) {
            partitions.push({ partition, error: toWireError(err), offset: -1, timestampMs: -1, leaderEpoch: -1 });
          }
        }
        topics.push({ topic: t.topic, partitions });
      }
      return { topics };
    }),

    initProducerId: unary(logger, 'InitProducerId', async (req: tributary.v1.InitProducerIdRequest) => {
      if (req.transactionalId !== '') {
        if (deps.transactions === undefined) {
          return { error: { code: tributary.v1.ErrorCode.INVALID_REQUEST, message: 'this broker has no transaction coordinator (transactional_id must be empty)' }, producerId: -1, producerEpoch: -1 };
        }
        return initTransactionalProducerId(deps.transactions, req);
      }
      // Without transactions a producer id is never re-used: a reconnecting producer gets a new one
      // (the old id's sequence state simply ages out).
      try {
        const producerId = await deps.commands.allocateProducerId();
        return { error: NO_ERROR, producerId, producerEpoch: 0 };
      } catch (err) {
        // Ids come in blocks from the controller, to a registered broker: while there is none to be had
        // (no controller, this broker re-registering) the answer is retriable — a producer that gave up
        // on idempotence would let retries duplicate records.
        if (!(err instanceof ApiError)) throw err;
        const code = err.code === 'REQUEST_TIMED_OUT' ? tributary.v1.ErrorCode.REQUEST_TIMED_OUT : tributary.v1.ErrorCode.COORDINATOR_NOT_AVAILABLE;
        return { error: { code, message: `no producer id available now: ${err.message}` }, producerId: -1, producerEpoch: -1 };
      }
    }),
  };
}
