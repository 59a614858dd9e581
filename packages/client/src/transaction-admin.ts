// Transaction administration (Admin.listTransactions / describeTransactions / describeProducers /
// abortTransaction; the CLI's `txn` commands, kafka-transactions.sh's verbs):
// - ListTransactions goes to every broker (each lists the transactional ids it coordinates);
// - DescribeTransactions goes to each id's coordinator (FindCoordinator, key_type TRANSACTION);
// - DescribeProducers and AbortTransaction go to the partition's leader (a leadership error refreshes
//   metadata and retries).
// Retriable failures are retried until `default.api.timeout.ms`.
import { tributary } from '@tributary/protocol';
import type { Cluster } from './cluster.js';
import type { AdminConfig } from './config.js';
import { AdminBatchError, LeaderNotAvailableError, TributaryClientError, errorFromWire, needsMetadataRefresh } from './errors.js';
import { withRetries } from './retry.js';
import { TransactionsClients, TxnCoordinatorRpc } from './txn-rpc.js';

/** One of the coordinator's states (docs/transactions.md). */
export type TransactionStateName = 'Empty' | 'Ongoing' | 'PrepareCommit' | 'PrepareAbort' | 'CompleteCommit' | 'CompleteAbort' | 'Dead' | string;

export interface TransactionListing {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly state: TransactionStateName;
}

export interface ListTransactionsFilters {
  /** Only these states (empty or absent = every state). */
  readonly states?: readonly string[];
  readonly producerIds?: readonly number[];
  /** Only transactions open longer than this (KIP-994). */
  readonly durationFilterMs?: number;
}

export interface TransactionDescription {
  readonly transactionalId: string;
  readonly state: TransactionStateName;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly transactionTimeoutMs: number;
  /** null when no transaction is open. */
  readonly transactionStartTimeMs: number | null;
  readonly lastUpdateTimeMs: number;
  readonly topicPartitions: readonly { readonly topic: string; readonly partition: number }[];
}

export interface ProducerStateDescription {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly lastSequence: number;
  readonly lastTimestampMs: number;
  readonly coordinatorEpoch: number;
  /** The first offset of the producer's open transaction on the partition; null when none is open. */
  readonly currentTransactionStartOffset: number | null;
}

export interface PartitionProducers {
  readonly topic: string;
  readonly partition: number;
  readonly activeProducers: readonly ProducerStateDescription[];
}

export interface AbortTransactionSpec {
  readonly topic: string;
  readonly partition: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly coordinatorEpoch: number;
}

/** int64 fields decode as number or Long; absent = -1. */
const num = (v: unknown): number => Number(v ?? -1);

export class TransactionAdmin {
  private readonly clients: TransactionsClients;

  constructor(private readonly cluster: Cluster, private readonly config: AdminConfig) {
    this.clients = new TransactionsClients(cluster);
  }

  private retrying<T>(op: () => Promise<T>): Promise<T> {
    return withRetries({
      op, policy: { ...this.config, retries: Number.MAX_SAFE_INTEGER }, deadlineMs: Date.now() + this.config.defaultApiTimeoutMs,
      onRetriableError: async (error) => {
        if (needsMetadataRefresh(error)) this.cluster.requestRefresh();
      },
      isClosed: () => this.cluster.isClosed,
    });
  }

  /** The union of every broker's list; a broker that does not answer is skipped (as kafka-transactions.sh warns and goes on). */
  async listTransactions(filters: ListTransactionsFilters = {}): Promise<TransactionListing[]> {
    await this.retrying(() => this.cluster.refresh());
    const request: tributary.v1.IListTransactionsRequest = {
      stateFilters: [...(filters.states ?? [])], producerIdFilters: [...(filters.producerIds ?? [])], durationFilterMs: filters.durationFilterMs ?? 0,
    };
    const out = new Map<string, TransactionListing>();
    const failures: { name: string; error: TributaryClientError }[] = [];
    let answered = 0;
    for (const address of this.cluster.anyAddresses()) {
      try {
        const response = await this.clients.callAt<tributary.v1.ListTransactionsResponse>(address, 'listTransactions', request, this.config.requestTimeoutMs);
        const code = response.error?.code ?? 0;
        if (code !== 0) throw errorFromWire(code, response.error?.message ?? '', { context: `list transactions on ${address}` });
        answered += 1;
        for (const t of response.transactions) {
          out.set(t.transactionalId ?? '', { transactionalId: t.transactionalId ?? '', producerId: num(t.producerId), state: t.state ?? '' });
        }
      } catch (error) {
        failures.push({ name: address, error: error instanceof TributaryClientError ? error : new TributaryClientError(String(error), { code: 'UNKNOWN' }) });
      }
    }
    if (answered === 0 && failures.length > 0) throw new AdminBatchError('listTransactions', failures);
    return [...out.values()].sort((a, b) => (a.transactionalId < b.transactionalId ? -1 : a.transactionalId > b.transactionalId ? 1 : 0));
  }

  /** Each id from its coordinator. An unknown id fails with TRANSACTIONAL_ID_NOT_FOUND; several failures as one AdminBatchError. */
  async describeTransactions(transactionalIds: readonly string[]): Promise<TransactionDescription[]> {
    const out: TransactionDescription[] = [];
    const failures: { name: string; error: TributaryClientError }[] = [];
    for (const id of transactionalIds) {
      const rpc = new TxnCoordinatorRpc(this.cluster, id);
      try {
        const response = await rpc.call<tributary.v1.DescribeTransactionsResponse>('describeTransactions', { transactionalIds: [id] }, {
          deadlineMs: Date.now() + this.config.defaultApiTimeoutMs, isClosed: () => this.cluster.isClosed,
          errorOf: (r) => r.error?.code || r.transactions[0]?.error?.code || 0,
        });
        const d = response.transactions.find((t) => t.transactionalId === id);
        const code = response.error?.code || d?.error?.code || 0;
        if (code !== 0) throw errorFromWire(code, response.error?.message || d?.error?.message || '', { context: `describe transaction ${id}` });
        if (d === undefined) throw new TributaryClientError(`describe transaction ${id}: the coordinator did not answer for it`, { code: 'INVALID_RESPONSE' });
        const start = num(d.transactionStartTimeMs);
        out.push({
          transactionalId: id, state: d.state ?? '', producerId: num(d.producerId), producerEpoch: d.producerEpoch ?? -1,
          transactionTimeoutMs: d.transactionTimeoutMs ?? 0, transactionStartTimeMs: start < 0 ? null : start, lastUpdateTimeMs: num(d.lastUpdateTimeMs),
          topicPartitions: (d.topics ?? []).flatMap((t) => (t.partitions ?? []).map((partition) => ({ topic: t.topic ?? '', partition })))
            .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1)),
        });
      } catch (error) {
        failures.push({ name: id, error: error instanceof TributaryClientError ? error : new TributaryClientError(String(error), { code: 'UNKNOWN' }) });
      }
    }
    if (failures.length === 1) throw failures[0]!.error;
    if (failures.length > 1) throw new AdminBatchError('describeTransactions', failures);
    return out;
  }

  private async leaderOf(topic: string, partition: number): Promise<string> {
    this.cluster.addInterest([topic]);
    const info = await this.cluster.topicInfo(topic, this.config.defaultApiTimeoutMs);
    if (!Number.isInteger(partition) || partition < 0 || partition >= info.partitions.length) {
      throw errorFromWire(tributary.v1.ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${topic} has ${info.partitions.length} partitions`, { topic, partition });
    }
    const p = this.cluster.metadata.partition(topic, partition);
    const address = p === undefined || p.leaderId < 0 ? undefined : this.cluster.addressOf(p.leaderId);
    if (address === undefined) {
      this.cluster.requestRefresh();
      await this.cluster.maybeRefresh().catch(() => undefined);
      throw new LeaderNotAvailableError(topic, partition);
    }
    return address;
  }

  /** The producers with state on each partition, from its leader (kafka-transactions.sh describe-producers). */
  async describeProducers(tps: readonly { readonly topic: string; readonly partition: number }[]): Promise<PartitionProducers[]> {
    const out: PartitionProducers[] = [];
    for (const tp of tps) {
      out.push(await this.retrying(async () => {
        const address = await this.leaderOf(tp.topic, tp.partition);
        const response = await this.clients.callAt<tributary.v1.DescribeProducersResponse>(address, 'describeProducers',
          { topics: [{ topic: tp.topic, partitions: [tp.partition] }] }, this.config.requestTimeoutMs);
        const r = response.topics.find((t) => t.topic === tp.topic)?.partitions?.find((p) => p.partition === tp.partition);
        if (r === undefined) throw new TributaryClientError(`describe producers ${tp.topic}-${tp.partition}: no answer for it`, { code: 'INVALID_RESPONSE' });
        const code = r.error?.code ?? 0;
        if (code !== 0) throw errorFromWire(code, r.error?.message ?? '', { topic: tp.topic, partition: tp.partition, context: `describe producers ${tp.topic}-${tp.partition}` });
        return {
          topic: tp.topic, partition: tp.partition,
          activeProducers: (r.activeProducers ?? []).map((s) => {
            const start = num(s.currentTxnStartOffset);
            return {
              producerId: num(s.producerId), producerEpoch: s.producerEpoch ?? -1, lastSequence: s.lastSequence ?? -1,
              lastTimestampMs: num(s.lastTimestampMs), coordinatorEpoch: s.coordinatorEpoch ?? -1, currentTransactionStartOffset: start < 0 ? null : start,
            };
          }).sort((a, b) => a.producerId - b.producerId),
        };
      }));
    }
    return out;
  }

  /** Writes an ABORT marker for the producer's open transaction on the partition (ends a hanging transaction). */
  async abortTransaction(spec: AbortTransactionSpec): Promise<void> {
    for (const [field, value, min] of [['partition', spec.partition, 0], ['producerId', spec.producerId, 0], ['producerEpoch', spec.producerEpoch, 0], ['coordinatorEpoch', spec.coordinatorEpoch, 0]] as const) {
      if (!Number.isSafeInteger(value) || value < min) throw new TributaryClientError(`abortTransaction: ${field} must be an integer >= ${min}, got ${value}`, { code: 'INVALID_ARGUMENT' });
    }
    if (spec.producerEpoch > 32767) throw new TributaryClientError(`abortTransaction: producerEpoch must be <= 32767, got ${spec.producerEpoch}`, { code: 'INVALID_ARGUMENT' });
    await this.retrying(async () => {
      const address = await this.leaderOf(spec.topic, spec.partition);
      const response = await this.clients.callAt<tributary.v1.AbortTransactionResponse>(address, 'abortTransaction', {
        topic: spec.topic, partition: spec.partition, producerId: spec.producerId, producerEpoch: spec.producerEpoch, coordinatorEpoch: spec.coordinatorEpoch,
      }, this.config.requestTimeoutMs);
      const code = response.error?.code ?? 0;
      if (code !== 0) throw errorFromWire(code, response.error?.message ?? '', { topic: spec.topic, partition: spec.partition, context: `abort transaction of producer ${spec.producerId} on ${spec.topic}-${spec.partition}` });
    });
  }
}
