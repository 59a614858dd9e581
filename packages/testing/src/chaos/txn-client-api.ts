// The transactional client API the txn workload, the example and the bench are written against
// (Kafka's Java semantics, issue 12). Until the client's transactions land, Producer and Consumer do
// not declare these methods; this one seam names them so the rest type-checks. Remove it once
// @tributary/client exports them (then `transactional(p)` is just `p`).
import { Producer, type ClientRuntimeOptions, type Consumer, type ProducerOptions, type ProducerRecord, type RecordMetadata } from '@tributary/client';

export interface ConsumerGroupMetadata {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId?: string | null;
}

export interface TransactionalProducer {
  initTransactions(): Promise<void>;
  beginTransaction(): void;
  send(record: ProducerRecord): Promise<RecordMetadata>;
  sendOffsetsToTransaction(
    offsets: readonly { topic: string; partition: number; offset: number; metadata?: string }[], groupMetadata: ConsumerGroupMetadata,
  ): Promise<void>;
  commitTransaction(): Promise<void>;
  abortTransaction(): Promise<void>;
  flush(): Promise<void>;
  /** `FATAL_ERROR` once the producer can only be closed. */
  readonly transactionState?: string;
  close(options?: { timeoutMs?: number }): Promise<void>;
}

/** A Producer with `transactional.id` and `transaction.timeout.ms` among `options`. */
export function newTransactionalProducer(options: Record<string, unknown>, runtime: ClientRuntimeOptions = {}): TransactionalProducer {
  return new Producer(options as ProducerOptions, runtime) as unknown as TransactionalProducer;
}

export function groupMetadataOf(consumer: Consumer): ConsumerGroupMetadata {
  return (consumer as unknown as { groupMetadata(): ConsumerGroupMetadata }).groupMetadata();
}
