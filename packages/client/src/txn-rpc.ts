// Calls of the tributary.v1.Transactions service, and the transactional InitProducerId, to a
// transactional id's coordinator: found with FindCoordinator (key_type TRANSACTION) on any broker.
// Coordinator errors (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, a lost
// connection) find it again after a backoff; other retriable answers (CONCURRENT_TRANSACTIONS: the
// previous transaction's markers are still being written) are retried after a backoff too, until
// `deadlineMs`. A non-retriable answer is returned for the caller to classify.
import * as grpc from '@grpc/grpc-js';
import { TransactionsClient, tributary } from '@tributary/protocol';
import type { Cluster } from './cluster.js';
import { ClientClosedError, RequestTimeoutError, TributaryClientError, errorFromWire } from './errors.js';
import { GroupRpc } from './group-rpc.js';
import { backoffMs } from './retry.js';
import { unary } from './rpc.js';
import { errorName, isRetriable } from './wire-errors.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** Codes after which the coordinator must be looked up again. */
export const COORDINATOR_CODES: ReadonlySet<string> = new Set(['NOT_COORDINATOR', 'COORDINATOR_LOAD_IN_PROGRESS', 'COORDINATOR_NOT_AVAILABLE']);

export type TransactionsMethod = keyof TransactionsClient & ('addPartitionsToTxn' | 'addOffsetsToTxn' | 'endTxn' | 'listTransactions' | 'describeTransactions' | 'describeProducers' | 'abortTransaction');

/** One Transactions-service client per address, sharing the cluster's channel to it. */
export class TransactionsClients {
  private readonly clients = new Map<string, TransactionsClient>();

  constructor(private readonly cluster: Cluster) {}

  /** One call on `address`, no retries. */
  callAt<Res>(address: string, name: TransactionsMethod, request: object, timeoutMs: number): Promise<Res> {
    let client = this.clients.get(address);
    if (client === undefined) {
      client = new TransactionsClient(address, grpc.credentials.createInsecure(), { channelOverride: this.cluster.connection(address).channel });
      this.clients.set(address, client);
    }
    return unary<object, Res>({ client, method: client[name] as never, request, timeoutMs, address, name });
  }
}

/** The address of `transactionalId`'s coordinator (FindCoordinator with key_type TRANSACTION on any broker). */
export async function findTransactionCoordinator(cluster: Cluster, transactionalId: string, timeoutMs: number): Promise<string> {
  const groups = new GroupRpc(cluster, '');
  const response = await cluster.onAnyBroker((address) => groups.callAt<tributary.v1.FindCoordinatorResponse>(address, 'findCoordinator',
    { groupId: transactionalId, keyType: tributary.v1.CoordinatorType.TRANSACTION }, timeoutMs));
  const code = response.error?.code ?? 0;
  if (code !== 0) throw errorFromWire(code, response.error?.message ?? '', { context: `find the transaction coordinator of ${transactionalId}` });
  return `${response.host}:${response.port}`;
}

export interface TxnCallOptions<Res> {
  /** Absolute; retries stop here with a RequestTimeoutError (retriable: the caller may try again). */
  readonly deadlineMs: number;
  /** The response's whole-request error code (0 = none). */
  readonly errorOf: (response: Res) => number;
  readonly isClosed: () => boolean;
}

export class TxnCoordinatorRpc {
  private readonly transactions: TransactionsClients;
  private coordinatorAddress: string | undefined;

  constructor(private readonly cluster: Cluster, readonly transactionalId: string) {
    this.transactions = new TransactionsClients(cluster);
  }

  /** InitProducerId (Broker service) on the coordinator. */
  initProducerId(request: tributary.v1.IInitProducerIdRequest, options: TxnCallOptions<tributary.v1.InitProducerIdResponse>): Promise<tributary.v1.InitProducerIdResponse> {
    return this.retrying('InitProducerId', (address) => this.cluster.callBroker<tributary.v1.IInitProducerIdRequest, tributary.v1.InitProducerIdResponse>(
      address, 'initProducerId', request), options);
  }

  call<Res>(name: TransactionsMethod, request: object, options: TxnCallOptions<Res>): Promise<Res> {
    return this.retrying(name, (address) => this.transactions.callAt<Res>(address, name, request, this.cluster.config.requestTimeoutMs), options);
  }

  private async retrying<Res>(name: string, op: (address: string) => Promise<Res>, options: TxnCallOptions<Res>): Promise<Res> {
    for (let attempt = 1; ; attempt++) {
      if (options.isClosed()) throw new ClientClosedError('producer');
      let lastError: unknown;
      try {
        this.coordinatorAddress ??= await findTransactionCoordinator(this.cluster, this.transactionalId, this.cluster.config.requestTimeoutMs);
        const response = await op(this.coordinatorAddress);
        const code = options.errorOf(response);
        if (code === 0 || !isRetriable(code)) return response;
        if (COORDINATOR_CODES.has(errorName(code))) this.coordinatorAddress = undefined;
        lastError = errorFromWire(code, '', { context: `${name} for transactional id ${this.transactionalId}` });
      } catch (error) {
        const retriable = error instanceof TributaryClientError && (error.retriable || COORDINATOR_CODES.has(error.code));
        if (!retriable || error instanceof ClientClosedError) throw error;
        this.coordinatorAddress = undefined;
        lastError = error;
      }
      const waitMs = backoffMs(this.cluster.config, attempt, Math.random());
      if (Date.now() + waitMs >= options.deadlineMs) {
        throw new RequestTimeoutError(`${name} for transactional id ${this.transactionalId} did not succeed in time (max.block.ms)`, lastError);
      }
      await sleep(waitMs);
    }
  }
}
