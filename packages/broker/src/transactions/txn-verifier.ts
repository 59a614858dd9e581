// The TxnVerifier a partition leader (and the group coordinator) calls before appending the first
// transactional batch of a producer epoch (KIP-890 part 1). It finds the transactional id's coordinator
// from metadata: this broker → the local shard answers; another broker → Transactions.AddPartitionsToTxn
// with verify_only there. Nothing is cached: every call asks the coordinator's current state, so a
// stale "yes" can never let a batch in after the transaction ended.
import type { Logger } from 'pino';
import { ApiError, errorCodeOf, type ErrorCodeName } from '../errors.js';
import type { BrokerNode } from '../metadata-view.js';
import type { TransactionCoordinator } from './transaction-coordinator.js';
import type { TxnVerifier, TxnVerifyInput } from './txn-ports.js';

/** Transactions.AddPartitionsToTxn(verify_only) on another broker (adapters/grpc-txn-transport.ts). */
export interface TxnVerifyTransport {
  /** The coordinator's answer for the one partition; a transport failure rejects. */
  verify(broker: BrokerNode, input: TxnVerifyInput): Promise<ErrorCodeName | undefined>;
}

export interface CoordinatorTxnVerifierDeps {
  readonly nodeId: number;
  readonly coordinator: TransactionCoordinator;
  readonly transport: TxnVerifyTransport;
  readonly logger: Logger;
}

export class CoordinatorTxnVerifier implements TxnVerifier {
  constructor(private readonly deps: CoordinatorTxnVerifierDeps) {}

  async verify(input: TxnVerifyInput): Promise<ErrorCodeName | undefined> {
    const { coordinator } = this.deps;
    const broker = coordinator.coordinatorBroker(input.transactionalId);
    // No coordinator known (state topic missing, no leader, metadata behind): retriable for the producer.
    if (broker === undefined) return 'COORDINATOR_NOT_AVAILABLE';
    const tp = { topic: input.topic, partition: input.partition };
    if (broker.nodeId === this.deps.nodeId) {
      try {
        return coordinator.verify(input.transactionalId, input.producerId, input.producerEpoch, tp);
      } catch (err) {
        if (err instanceof ApiError) return err.code;
        throw err;
      }
    }
    try {
      return await this.deps.transport.verify(broker, input);
    } catch (err) {
      this.deps.logger.debug({ err, coordinator: broker.nodeId, transactionalId: input.transactionalId }, 'verifying a transactional batch at its coordinator failed');
      const code = errorCodeOf(err);
      return code === 'UNKNOWN_SERVER_ERROR' ? 'COORDINATOR_NOT_AVAILABLE' : code;
    }
  }
}
