// tributary.v1.Transactions handlers: decode → TransactionCoordinator / PartitionTransactions → encode.
// Every field is hostile: malformed requests (missing or over-long ids, ids and epochs out of range, too
// many partitions or filters) are gRPC INVALID_ARGUMENT naming the field; expected failures
// (NOT_COORDINATOR, PRODUCER_FENCED, CONCURRENT_TRANSACTIONS, ...) travel in the response's `error`.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { TransactionsService, tributary, type TransactionsHandlers } from '@tributary/protocol';
import { ApiError, InvalidArgumentError, NO_ERROR, toWireError, type ErrorCodeName } from '../errors.js';
import { answerWithError, int64, requireName, unary } from '../grpc-call.js';
import type { MetadataView } from '../metadata-view.js';
import type { PartitionTransactions } from '../partition-transactions.js';
import { topicNameProblem } from '@tributary/controller';
import type { TransactionCoordinator, TxnAnswer } from './transaction-coordinator.js';
import {
  NO_PRODUCER_EPOCH, NO_PRODUCER_ID, PRODUCER_EPOCH_MAX, PRODUCER_ID_MAX, TRANSACTIONAL_ID_LENGTH_MAX, TXN_PARTITIONS_MAX, TXN_STATES,
  type TxnMetadata, type TxnPartition, type TxnStateName,
} from './txn-state.js';

/** Most transactional ids in one DescribeTransactions, and most filters of each kind in one ListTransactions. */
export const DESCRIBE_TRANSACTIONS_IDS_MAX = 1_000;
export const LIST_TRANSACTIONS_FILTERS_MAX = 1_000;
/** Most partitions in one DescribeProducers. */
export const DESCRIBE_PRODUCERS_PARTITIONS_MAX = 10_000;

export interface TransactionsServiceDeps {
  readonly nodeId: number;
  readonly coordinator: TransactionCoordinator;
  readonly partitions: PartitionTransactions;
  readonly metadata: MetadataView;
  /** The group's partition of `__consumer_offsets` (the group coordinator's partitionFor). */
  readonly offsetsPartitionFor: (groupId: string) => number;
  readonly offsetsTopic: string;
  readonly logger: Logger;
  readonly nowMs: () => number;
}

const wire = (name: ErrorCodeName | undefined, message = name ?? ''): tributary.v1.IError =>
  name === undefined || name === 'NONE' ? NO_ERROR : { code: tributary.v1.ErrorCode[name], message };

export function requireTransactionalId(value: string | null | undefined, field = 'transactional_id'): string {
  const id = requireName(value, field);
  if (id.length > TRANSACTIONAL_ID_LENGTH_MAX) throw new InvalidArgumentError(field, `is ${id.length} characters; at most ${TRANSACTIONAL_ID_LENGTH_MAX} (TRANSACTIONAL_ID_LENGTH_MAX)`);
  return id;
}

export function requireProducerId(value: number | { toNumber(): number } | null | undefined, field = 'producer_id'): number {
  const id = int64(value);
  if (!Number.isSafeInteger(id) || id < 0 || id > PRODUCER_ID_MAX) throw new InvalidArgumentError(field, `must be a producer id in [0, ${PRODUCER_ID_MAX}], got ${id}`);
  return id;
}

export function requireProducerEpoch(value: number | null | undefined, field = 'producer_epoch'): number {
  const epoch = value ?? 0;
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > PRODUCER_EPOCH_MAX) throw new InvalidArgumentError(field, `must be an epoch in [0, ${PRODUCER_EPOCH_MAX}], got ${epoch}`);
  return epoch;
}

/** The request's partitions, checked: names, non-negative partitions, at most TXN_PARTITIONS_MAX in all. */
function requirePartitions(topics: readonly tributary.v1.ITxnTopic[]): TxnPartition[] {
  const out: TxnPartition[] = [];
  topics.forEach((t, i) => {
    const topic = requireName(t.topic, `topics[${i}].topic`);
    const problem = topicNameProblem(topic);
    if (problem !== undefined) throw new InvalidArgumentError(`topics[${i}].topic`, problem);
    (t.partitions ?? []).forEach((p, j) => {
      if (!Number.isInteger(p) || p < 0) throw new InvalidArgumentError(`topics[${i}].partitions[${j}]`, `must be ≥ 0, got ${p}`);
      if (out.length >= TXN_PARTITIONS_MAX) throw new InvalidArgumentError('topics', `more than ${TXN_PARTITIONS_MAX} partitions (TXN_PARTITIONS_MAX)`);
      out.push({ topic, partition: p });
    });
  });
  if (out.length === 0) throw new InvalidArgumentError('topics', 'must name at least one partition');
  return out;
}

function byTopic(partitions: readonly TxnPartition[]): tributary.v1.ITxnTopic[] {
  const map = new Map<string, number[]>();
  for (const tp of partitions) {
    let list = map.get(tp.topic);
    if (list === undefined) map.set(tp.topic, (list = []));
    list.push(tp.partition);
  }
  return [...map].map(([topic, ps]) => ({ topic, partitions: ps }));
}

export function createTransactionsHandlers(deps: TransactionsServiceDeps): TransactionsHandlers {
  const { coordinator, logger } = deps;
  const guarded = answerWithError;
  const answered = (a: TxnAnswer): tributary.v1.IError => wire(a.error, a.message);

  return {
    addPartitionsToTxn: unary(logger, 'AddPartitionsToTxn', async (req: tributary.v1.AddPartitionsToTxnRequest) => {
      const transactionalId = requireTransactionalId(req.transactionalId);
      const producerId = requireProducerId(req.producerId);
      const producerEpoch = requireProducerEpoch(req.producerEpoch);
      const partitions = requirePartitions(req.topics);
      return guarded(async () => {
        if (req.verifyOnly) {
          const results = partitions.map((tp) => ({ tp, error: coordinator.verify(transactionalId, producerId, producerEpoch, tp) }));
          return { error: NO_ERROR, topics: results.length === 0 ? [] : groupResults(results) };
        }
        for (const tp of partitions) {
          const topic = deps.metadata.topic(tp.topic);
          if (topic === undefined || tp.partition >= topic.partitions.length) throw new ApiError('UNKNOWN_TOPIC_OR_PARTITION', `${tp.topic}-${tp.partition} does not exist; nothing was added`);
          if (topic.internal) throw new ApiError('INVALID_TOPIC_EXCEPTION', `${tp.topic} is internal: offsets join a transaction through AddOffsetsToTxn; nothing was added`);
        }
        const a = await coordinator.addPartitions(transactionalId, { producerId, producerEpoch, partitions });
        if (a.error !== undefined) return { error: answered(a), topics: [] };
        return { error: NO_ERROR, topics: groupResults(partitions.map((tp) => ({ tp, error: undefined }))) };
      }, (error) => ({ error, topics: [] }));
    }),

    addOffsetsToTxn: unary(logger, 'AddOffsetsToTxn', async (req: tributary.v1.AddOffsetsToTxnRequest) => {
      const transactionalId = requireTransactionalId(req.transactionalId);
      const producerId = requireProducerId(req.producerId);
      const producerEpoch = requireProducerEpoch(req.producerEpoch);
      const groupId = requireName(req.groupId, 'group_id');
      return guarded(async () => {
        const offsetsPartition = { topic: deps.offsetsTopic, partition: deps.offsetsPartitionFor(groupId) };
        return { error: answered(await coordinator.addOffsets(transactionalId, { producerId, producerEpoch, offsetsPartition })) };
      }, (error) => ({ error }));
    }),

    endTxn: unary(logger, 'EndTxn', async (req: tributary.v1.EndTxnRequest) => {
      const transactionalId = requireTransactionalId(req.transactionalId);
      const producerId = requireProducerId(req.producerId);
      const producerEpoch = requireProducerEpoch(req.producerEpoch);
      return guarded(async () => {
        const a = await coordinator.endTxn(transactionalId, { producerId, producerEpoch, committed: req.committed === true });
        return { error: answered(a), producerId: a.producerId, producerEpoch: a.producerEpoch };
      }, (error) => ({ error, producerId: -1, producerEpoch: -1 }));
    }),

    listTransactions: unary(logger, 'ListTransactions', async (req: tributary.v1.ListTransactionsRequest) => {
      if (req.stateFilters.length > LIST_TRANSACTIONS_FILTERS_MAX) throw new InvalidArgumentError('state_filters', `at most ${LIST_TRANSACTIONS_FILTERS_MAX}`);
      if (req.producerIdFilters.length > LIST_TRANSACTIONS_FILTERS_MAX) throw new InvalidArgumentError('producer_id_filters', `at most ${LIST_TRANSACTIONS_FILTERS_MAX}`);
      req.stateFilters.forEach((s, i) => {
        if (!TXN_STATES.includes(s as TxnStateName)) throw new InvalidArgumentError(`state_filters[${i}]`, `unknown state ${JSON.stringify(s)}; one of ${TXN_STATES.join(', ')}`);
      });
      const states = new Set(req.stateFilters);
      const producerIds = new Set(req.producerIdFilters.map((p, i) => requireProducerId(p, `producer_id_filters[${i}]`)));
      const durationMs = int64(req.durationFilterMs);
      if (!Number.isSafeInteger(durationMs) || durationMs < 0) throw new InvalidArgumentError('duration_filter_ms', `must be ≥ 0, got ${durationMs}`);
      const nowMs = deps.nowMs();
      const transactions = coordinator.listTransactions()
        .filter((m) => states.size === 0 || states.has(m.state))
        .filter((m) => producerIds.size === 0 || producerIds.has(m.producerId))
        .filter((m) => durationMs === 0 || (m.txnStartTimestampMs >= 0 && nowMs - m.txnStartTimestampMs > durationMs))
        .map((m) => ({ transactionalId: m.transactionalId, producerId: m.producerId, state: m.state }));
      return { error: NO_ERROR, transactions, coordinatorId: deps.nodeId };
    }),

    describeTransactions: unary(logger, 'DescribeTransactions', async (req: tributary.v1.DescribeTransactionsRequest) => {
      if (req.transactionalIds.length > DESCRIBE_TRANSACTIONS_IDS_MAX) throw new InvalidArgumentError('transactional_ids', `at most ${DESCRIBE_TRANSACTIONS_IDS_MAX} (DESCRIBE_TRANSACTIONS_IDS_MAX)`);
      const ids = req.transactionalIds.map((id, i) => requireTransactionalId(id, `transactional_ids[${i}]`));
      const transactions = await Promise.all(ids.map((transactionalId) => guarded((): tributary.v1.IDescribedTransaction => described(coordinator.describeTransaction(transactionalId)),
        (error) => ({ transactionalId, error, state: '', producerId: -1, producerEpoch: -1, transactionTimeoutMs: 0, transactionStartTimeMs: -1, topics: [], lastUpdateTimeMs: -1 }))));
      return { error: NO_ERROR, transactions };
    }),

    describeProducers: unary(logger, 'DescribeProducers', async (req: tributary.v1.DescribeProducersRequest) => {
      let count = 0;
      req.topics.forEach((t, i) => {
        requireName(t.topic, `topics[${i}].topic`);
        count += (t.partitions ?? []).length;
      });
      if (count > DESCRIBE_PRODUCERS_PARTITIONS_MAX) throw new InvalidArgumentError('topics', `at most ${DESCRIBE_PRODUCERS_PARTITIONS_MAX} partitions (DESCRIBE_PRODUCERS_PARTITIONS_MAX)`);
      return deps.partitions.describeProducers(req);
    }),

    abortTransaction: unary(logger, 'AbortTransaction', async (req: tributary.v1.AbortTransactionRequest) => {
      requireName(req.topic, 'topic');
      if (!Number.isInteger(req.partition) || req.partition < 0) throw new InvalidArgumentError('partition', `must be ≥ 0, got ${req.partition}`);
      requireProducerId(req.producerId);
      requireProducerEpoch(req.producerEpoch);
      if (!Number.isInteger(req.coordinatorEpoch) || req.coordinatorEpoch < 0) throw new InvalidArgumentError('coordinator_epoch', `must be ≥ 0, got ${req.coordinatorEpoch}`);
      return deps.partitions.abortTransaction(req);
    }),
  };
}

function groupResults(results: readonly { tp: TxnPartition; error: ErrorCodeName | undefined }[]): tributary.v1.ITxnTopicResult[] {
  const map = new Map<string, tributary.v1.ITxnPartitionResult[]>();
  for (const { tp, error } of results) {
    let list = map.get(tp.topic);
    if (list === undefined) map.set(tp.topic, (list = []));
    list.push({ partition: tp.partition, error: wire(error) });
  }
  return [...map].map(([topic, partitions]) => ({ topic, partitions }));
}

function described(m: TxnMetadata): tributary.v1.IDescribedTransaction {
  return {
    transactionalId: m.transactionalId, error: NO_ERROR, state: m.state, producerId: m.producerId, producerEpoch: m.producerEpoch,
    transactionTimeoutMs: m.timeoutMs, transactionStartTimeMs: m.txnStartTimestampMs, topics: byTopic(m.partitions), lastUpdateTimeMs: m.txnLastUpdateTimestampMs,
  };
}

/** InitProducerId's transactional half (broker-service.ts routes a non-empty transactional id here). */
export async function initTransactionalProducerId(coordinator: TransactionCoordinator, req: tributary.v1.InitProducerIdRequest): Promise<tributary.v1.IInitProducerIdResponse> {
  const transactionalId = requireTransactionalId(req.transactionalId);
  const hasId = req.producerId !== undefined && req.producerId !== null && int64(req.producerId) !== NO_PRODUCER_ID;
  const hasEpoch = req.producerEpoch !== undefined && req.producerEpoch !== null && req.producerEpoch !== NO_PRODUCER_EPOCH;
  if (hasId !== hasEpoch) throw new InvalidArgumentError(hasId ? 'producer_epoch' : 'producer_id', 'producer_id and producer_epoch are set together (KIP-360) or both left out');
  const producerId = hasId ? requireProducerId(req.producerId) : NO_PRODUCER_ID;
  const producerEpoch = hasEpoch ? requireProducerEpoch(req.producerEpoch) : NO_PRODUCER_EPOCH;
  try {
    const a = await coordinator.initProducerId({ transactionalId, timeoutMs: req.transactionTimeoutMs ?? 0, producerId, producerEpoch });
    return { error: wire(a.error, a.message), producerId: a.producerId, producerEpoch: a.producerEpoch };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { error: toWireError(err), producerId: -1, producerEpoch: -1 };
  }
}

/** Registers tributary.v1.Transactions on `server`. */
export function registerTransactionsService(server: grpc.Server, deps: TransactionsServiceDeps): void {
  server.addService(TransactionsService, createTransactionsHandlers(deps));
}
