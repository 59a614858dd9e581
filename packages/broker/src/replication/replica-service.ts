// The leader side of replication as a gRPC service (tributary.internal.v1.Replica): decode →
// serveReplicaFetch (domain) → encode. Records are served as stored bytes, never decoded.
import { TRANSACTIONAL_ID_LENGTH_MAX } from '../transactions/txn-state.js';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { isMalformedRequest, MALFORMED_REQUEST, ReplicaService, tributary } from '@tributary/protocol';
import { ChangeNotifier, logEndOffsetKey } from '../change-notifier.js';
import { errorCodeOf, InvalidArgumentError, NO_ERROR } from '../errors.js';
import { int64, requireName, unary } from '../grpc-call.js';
import type { ReplicaManager } from '../replica-manager.js';
import { PartitionTransactions } from '../partition-transactions.js';
import type { TxnMarkerRequest, TxnMarkerWriter } from '../transactions/txn-ports.js';
import { TRANSACTIONAL_PRODUCER_EPOCH_MAX } from './producer-admission.js';
import type { ReplicaFetchPartitionResponse, ReplicaFetchRequest, ReplicaFetchResponse } from './replica-fetch-transport.js';
import { ReplicaFetchStream, type ReplicaFetchStreamFailure } from './replica-fetch-stream.js';
import { DEFAULT_REPLICA_FETCH_STREAM_BYTES_IN_FLIGHT_MAX } from './replication-config.js';

/** Caps what a follower may ask for in one call. */
export const REPLICA_FETCH_WAIT_MAX_MS = 30_000;
export const REPLICA_FETCH_PARTITIONS_MAX = 10_000;

export interface ReplicaServiceDeps {
  readonly clusterId: string;
  readonly replicas: ReplicaManager;
  readonly notifier: ChangeNotifier;
  readonly nowMs: () => number;
  readonly logger: Logger;
  /** Writes WriteTxnMarkers' markers; default: a PartitionTransactions over `replicas`. */
  readonly txnMarkers?: TxnMarkerWriter;
  /** replica.fetch.stream.max.bytes.in.flight; default DEFAULT_REPLICA_FETCH_STREAM_BYTES_IN_FLIGHT_MAX. */
  readonly streamBytesInFlightMax?: number;
}

/** Most markers one WriteTxnMarkers request may carry, and most partitions over all of them. */
export const WRITE_TXN_MARKERS_MAX = 1_000;
export const WRITE_TXN_MARKER_PARTITIONS_MAX = 10_000;
const INT32_MAX = 0x7fffffff;

/** Validates a WriteTxnMarkers request field by field (INVALID_ARGUMENT naming the field). */
export function decodeWriteTxnMarkers(req: tributary.internal.v1.IWriteTxnMarkersRequest): { readonly clusterId: string; readonly markers: TxnMarkerRequest[] } {
  const markers = req.markers ?? [];
  if (markers.length > WRITE_TXN_MARKERS_MAX) throw new InvalidArgumentError('markers', `${markers.length} markers, at most ${WRITE_TXN_MARKERS_MAX}`);
  let partitionCount = 0;
  const decoded = markers.map((m, i): TxnMarkerRequest => {
    const field = `markers[${i}]`;
    const producerId = int64(m.producerId);
    if (!Number.isSafeInteger(producerId) || producerId < 0) throw new InvalidArgumentError(`${field}.producer_id`, `must be a producer id ≥ 0, got ${producerId}`);
    const producerEpoch = m.producerEpoch ?? 0;
    if (!Number.isInteger(producerEpoch) || producerEpoch < 0 || producerEpoch > TRANSACTIONAL_PRODUCER_EPOCH_MAX) {
      throw new InvalidArgumentError(`${field}.producer_epoch`, `must be in [0, ${TRANSACTIONAL_PRODUCER_EPOCH_MAX}], got ${producerEpoch}`);
    }
    const coordinatorEpoch = m.coordinatorEpoch ?? 0;
    if (!Number.isInteger(coordinatorEpoch) || coordinatorEpoch < 0 || coordinatorEpoch > INT32_MAX) throw new InvalidArgumentError(`${field}.coordinator_epoch`, `must be ≥ 0, got ${coordinatorEpoch}`);
    const transactionalId = m.transactionalId ?? '';
    if (transactionalId.length > TRANSACTIONAL_ID_LENGTH_MAX) throw new InvalidArgumentError(`${field}.transactional_id`, `longer than ${TRANSACTIONAL_ID_LENGTH_MAX}`);
    const seen = new Set<string>();
    const partitions = (m.topics ?? []).flatMap((t, j) => {
      const topic = requireName(t.topic, `${field}.topics[${j}].topic`);
      return (t.partitions ?? []).map((partition, k) => {
        if (!Number.isInteger(partition) || partition < 0) throw new InvalidArgumentError(`${field}.topics[${j}].partitions[${k}]`, `must be ≥ 0, got ${partition}`);
        const key = `${topic}\u0000${partition}`;
        if (seen.has(key)) throw new InvalidArgumentError(`${field}.topics[${j}].partitions[${k}]`, `${topic}-${partition} is named twice`);
        seen.add(key);
        return { topic, partition };
      });
    });
    partitionCount += partitions.length;
    if (partitionCount > WRITE_TXN_MARKER_PARTITIONS_MAX) throw new InvalidArgumentError('markers', `more than ${WRITE_TXN_MARKER_PARTITIONS_MAX} partitions in all`);
    return { transactionalId, producerId, producerEpoch, committed: m.committed === true, coordinatorEpoch, partitions };
  });
  return { clusterId: req.clusterId ?? '', markers: decoded };
}

/**
 * Serves WriteTxnMarkers: markers one after another (two markers of one producer keep their order),
 * each over its partitions concurrently; every partition answers its own error.
 */
export async function serveWriteTxnMarkers(
  req: { readonly clusterId: string; readonly markers: readonly TxnMarkerRequest[] },
  deps: { readonly clusterId: string; readonly txnMarkers: TxnMarkerWriter },
  signal?: AbortSignal,
): Promise<tributary.internal.v1.IWriteTxnMarkersResponse> {
  if (req.clusterId !== deps.clusterId) {
    return { error: { code: tributary.v1.ErrorCode.INCONSISTENT_CLUSTER_ID, message: `cluster ${JSON.stringify(req.clusterId)} is not ${deps.clusterId}` }, markers: [] };
  }
  const markers: tributary.internal.v1.ITxnMarkerResult[] = [];
  for (const marker of req.markers) {
    const results = await deps.txnMarkers.writeMarkers(marker, signal);
    const byTopic = new Map<string, tributary.internal.v1.ITxnMarkerPartitionResult[]>();
    for (const tp of marker.partitions) {
      // undefined in the map = written; a partition missing from it is an error.
      const key = `${tp.topic}-${tp.partition}`;
      const code = results.has(key) ? results.get(key) : 'UNKNOWN_SERVER_ERROR';
      let list = byTopic.get(tp.topic);
      if (list === undefined) byTopic.set(tp.topic, (list = []));
      list.push({ partition: tp.partition, error: code === undefined ? NO_ERROR : { code: tributary.v1.ErrorCode[code], message: `${tp.topic}-${tp.partition}: ${code}` } });
    }
    markers.push({ producerId: marker.producerId, topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) });
  }
  return { error: NO_ERROR, markers };
}

const EMPTY = Buffer.alloc(0);

async function readOnce(req: ReplicaFetchRequest, deps: ReplicaServiceDeps): Promise<{ partitions: ReplicaFetchPartitionResponse[]; totalBytes: number; answerNow: boolean }> {
  const partitions: ReplicaFetchPartitionResponse[] = [];
  let totalBytes = 0;
  let answerNow = false;
  for (const p of req.partitions) {
    const base = { topic: p.topic, partition: p.partition, highWatermark: -1, logStartOffset: -1, leaderEpoch: -1, records: EMPTY, divergingEpoch: undefined };
    try {
      const partition = deps.replicas.getPartition(p.topic, p.partition);
      const remaining = Math.max(0, req.maxBytes - totalBytes);
      const { outcome, records } = await partition.handleReplicaFetch(
        { replicaId: req.replicaId, brokerEpoch: req.brokerEpoch, fetchOffset: p.fetchOffset, lastFetchedEpoch: p.lastFetchedEpoch, currentLeaderEpoch: p.currentLeaderEpoch },
        { maxBytes: req.partitionMaxBytes > 0 ? Math.min(req.partitionMaxBytes, remaining) : remaining, minOneBatch: totalBytes === 0 },
      );
      const state = { ...base, highWatermark: partition.highWatermark, logStartOffset: partition.logStartOffset, leaderEpoch: partition.leaderEpoch };
      if (outcome.kind === 'error') {
        answerNow = true;
        partitions.push({ ...state, error: { code: outcome.code, message: outcome.message } });
      } else if (outcome.kind === 'diverging') {
        answerNow = true;
        partitions.push({ ...state, error: undefined, divergingEpoch: outcome.divergingEpoch });
      } else {
        totalBytes += records.length;
        partitions.push({ ...state, error: undefined, records });
      }
    } catch (err) {
      answerNow = true;
      partitions.push({ ...base, error: { code: errorCodeOf(err), message: err instanceof Error ? err.message : String(err) } });
    }
  }
  return { partitions, totalBytes, answerNow };
}

/** Long-poll: answers once minBytes are readable, any partition needs attention, or maxWaitMs passed. */
export async function serveReplicaFetch(req: ReplicaFetchRequest, deps: ReplicaServiceDeps, signal?: AbortSignal): Promise<ReplicaFetchResponse> {
  if (req.clusterId !== deps.clusterId) {
    return { error: { code: 'INCONSISTENT_CLUSTER_ID', message: `cluster ${req.clusterId} is not ${deps.clusterId}` }, partitions: [] };
  }
  const deadline = deps.nowMs() + Math.min(req.maxWaitMs, REPLICA_FETCH_WAIT_MAX_MS);
  const keys = req.partitions.map((p) => logEndOffsetKey(p.topic, p.partition));
  for (;;) {
    const once = await readOnce(req, deps);
    const remaining = deadline - deps.nowMs();
    if (once.answerNow || once.totalBytes >= req.minBytes || remaining <= 0) return { error: undefined, partitions: once.partitions };
    // The reads awaited: an append that landed meanwhile notified before we started waiting. Without
    // this synchronous re-check (nothing awaits between it and wait()), that wake-up is lost and the
    // follower sleeps the whole replica.fetch.wait.max.ms — and every acks=all produce with it.
    if (req.partitions.some((p) => (deps.replicas.findPartition(p.topic, p.partition)?.logEndOffset ?? -1) > p.fetchOffset)) continue;
    const outcome = await deps.notifier.wait(keys, remaining, signal);
    if (outcome === 'aborted') return { error: undefined, partitions: once.partitions };
  }
}

export function decodeReplicaFetchRequest(req: tributary.internal.v1.ReplicaFetchRequest): ReplicaFetchRequest {
  if (req.partitions.length > REPLICA_FETCH_PARTITIONS_MAX) throw new InvalidArgumentError('partitions', `at most ${REPLICA_FETCH_PARTITIONS_MAX}`);
  if (!Number.isInteger(req.replicaId) || req.replicaId < 0) throw new InvalidArgumentError('replica_id', `must be a node id ≥ 0, got ${req.replicaId}`);
  req.partitions.forEach((p, i) => {
    const partition = p.partition ?? 0;
    if (!Number.isInteger(partition) || partition < 0) throw new InvalidArgumentError(`partitions[${i}].partition`, `must be ≥ 0, got ${partition}`);
    const fetchOffset = int64(p.fetchOffset);
    if (!Number.isSafeInteger(fetchOffset) || fetchOffset < 0) throw new InvalidArgumentError(`partitions[${i}].fetch_offset`, `must be an offset ≥ 0, got ${fetchOffset}`);
  });
  return {
    replicaId: req.replicaId, brokerEpoch: int64(req.brokerEpoch), clusterId: req.clusterId, maxWaitMs: Math.max(0, req.maxWaitMs),
    minBytes: Math.max(0, req.minBytes), maxBytes: Math.max(0, req.maxBytes), partitionMaxBytes: Math.max(0, req.partitionMaxBytes),
    partitions: req.partitions.map((p, i) => ({
      topic: requireName(p.topic, `partitions[${i}].topic`), partition: p.partition ?? 0, fetchOffset: int64(p.fetchOffset),
      lastFetchedEpoch: p.lastFetchedEpoch ?? -1, currentLeaderEpoch: p.currentLeaderEpoch ?? -1, logStartOffset: int64(p.logStartOffset),
    })),
  };
}

function wireError(error: { code: string; message: string } | undefined): tributary.v1.IError {
  if (error === undefined) return NO_ERROR;
  const code = (tributary.v1.ErrorCode as unknown as Record<string, number>)[error.code] ?? tributary.v1.ErrorCode.UNKNOWN_SERVER_ERROR;
  return { code, message: error.message };
}

export function encodeReplicaFetchResponse(res: ReplicaFetchResponse): tributary.internal.v1.IReplicaFetchResponse {
  return {
    error: wireError(res.error),
    partitions: res.partitions.map((p) => ({
      topic: p.topic, partition: p.partition, error: wireError(p.error), highWatermark: p.highWatermark, logStartOffset: p.logStartOffset,
      leaderEpoch: p.leaderEpoch, records: p.records, hasDivergingEpoch: p.divergingEpoch !== undefined,
      divergingEpoch: p.divergingEpoch === undefined ? null : { epoch: p.divergingEpoch.epoch, endOffset: p.divergingEpoch.endOffset },
    })),
  };
}

/** Adds tributary.internal.v1.Replica to a broker's gRPC server. */
export function registerReplicaService(server: grpc.Server, deps: ReplicaServiceDeps & { readonly shutdownSignal?: AbortSignal }): void {
  const txnMarkers = deps.txnMarkers ?? new PartitionTransactions({ replicas: deps.replicas, nowMs: deps.nowMs });
  server.addService(ReplicaService, {
    replicaFetch: unary(deps.logger, 'ReplicaFetch', async (req: tributary.internal.v1.ReplicaFetchRequest, call) => {
      const abort = new AbortController();
      const onAbort = (): void => abort.abort();
      call.on('cancelled', onAbort);
      // Removed when the call ends: the shutdown signal lives as long as the node, and a listener left
      // per fetch (thousands a second) leaked and made every addEventListener slower (a linear scan).
      deps.shutdownSignal?.addEventListener('abort', onAbort, { once: true });
      try {
        return encodeReplicaFetchResponse(await serveReplicaFetch(decodeReplicaFetchRequest(req), deps, abort.signal));
      } finally {
        deps.shutdownSignal?.removeEventListener('abort', onAbort);
      }
    }),
    replicaFetchStream: (call: grpc.ServerDuplexStream<tributary.internal.v1.ReplicaFetchRequest, tributary.internal.v1.IReplicaFetchResponse>) => {
      serveReplicaFetchStream(call, deps);
    },
    writeTxnMarkers: unary(deps.logger, 'WriteTxnMarkers', async (req: tributary.internal.v1.WriteTxnMarkersRequest, call) => {
      const abort = new AbortController();
      const onAbort = (): void => abort.abort();
      call.on('cancelled', onAbort);
      deps.shutdownSignal?.addEventListener('abort', onAbort, { once: true });
      try {
        return await serveWriteTxnMarkers(decodeWriteTxnMarkers(req), { clusterId: deps.clusterId, txnMarkers }, abort.signal);
      } finally {
        deps.shutdownSignal?.removeEventListener('abort', onAbort);
      }
    }),
  });
}

const STREAM_FAILURE_STATUS: Record<ReplicaFetchStreamFailure, grpc.status> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  RESOURCE_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
  INTERNAL: grpc.status.INTERNAL,
};

/**
 * The gRPC shell of one ReplicaFetchStream: decodes each message (a malformed one fails this stream
 * with INVALID_ARGUMENT, naming the field), serves it as a unary fetch would be, writes the answers in order.
 */
function serveReplicaFetchStream(
  call: grpc.ServerDuplexStream<tributary.internal.v1.ReplicaFetchRequest, tributary.internal.v1.IReplicaFetchResponse>,
  deps: ReplicaServiceDeps & { readonly shutdownSignal?: AbortSignal },
): void {
  // Aborted when the stream ends for any reason: a long poll in progress answers at once, nothing more is served.
  const abort = new AbortController();
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    deps.shutdownSignal?.removeEventListener('abort', onShutdown);
    abort.abort();
  };
  // The node stops: end the stream (OK status); the follower sees it end and reconnects elsewhere or later.
  const onShutdown = (): void => {
    if (closed) return;
    close();
    call.end();
  };
  const stream = new ReplicaFetchStream({
    serve: (request, signal) => serveReplicaFetch(request, deps, signal),
    bytesInFlightMax: deps.streamBytesInFlightMax ?? DEFAULT_REPLICA_FETCH_STREAM_BYTES_IN_FLIGHT_MAX,
    signal: abort.signal,
    sink: {
      send: (response, correlationId, taken) => {
        if (!closed) call.write({ ...encodeReplicaFetchResponse(response), correlationId }, () => taken());
      },
      fail: (code, message) => {
        if (closed) return;
        // As the unary path's toServiceError: an unexpected failure is logged as an error, a refusal is not.
        if (code === 'INTERNAL') deps.logger.error({ method: 'ReplicaFetchStream', message }, 'request failed unexpectedly');
        else deps.logger.debug({ code, message }, 'replica fetch stream refused');
        close();
        call.emit('error', { code: STREAM_FAILURE_STATUS[code], details: message });
      },
      end: () => {
        if (closed) return;
        close();
        call.end();
      },
    },
  });
  call.on('cancelled', close);
  call.on('error', close);
  deps.shutdownSignal?.addEventListener('abort', onShutdown, { once: true });
  if (deps.shutdownSignal?.aborted === true) onShutdown();
  call.on('data', (message: tributary.internal.v1.ReplicaFetchRequest) => {
    let request: ReplicaFetchRequest;
    try {
      if (isMalformedRequest(message)) throw new InvalidArgumentError('request', `not a valid ReplicaFetch request: ${message[MALFORMED_REQUEST]}`);
      request = decodeReplicaFetchRequest(message);
    } catch (err) {
      return stream.fail('INVALID_ARGUMENT', err instanceof Error ? err.message : String(err));
    }
    stream.receive(request, int64(message.correlationId));
  });
  call.on('end', () => stream.endOfRequests());
}
