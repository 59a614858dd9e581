// `txn list|describe|describe-producers|abort`: kafka-transactions.sh's verbs, to find and end a
// hanging transaction. `abort --start-offset` finds the producer whose open transaction starts at that
// offset (describe-producers) and aborts it with that producer's id, epoch and coordinator epoch.
import type { CommandContext } from '../context.js';
import { CliError, EXIT_OK, invalidArgument } from '../errors.js';
import { jsonLine, renderFacts, renderTable, type OutputFormat } from '../format/table.js';
import type { ActiveProducer } from '../ports.js';

export interface TxnListOptions {
  readonly states: readonly string[];
  readonly producerIds: readonly number[];
  readonly durationFilterMs: number;
  readonly format: OutputFormat;
}

export async function txnList(ctx: CommandContext, options: TxnListOptions): Promise<number> {
  const txns = await ctx.transactions();
  const listed = await txns.listTransactions({ states: options.states, producerIds: options.producerIds, durationFilterMs: options.durationFilterMs });
  if (options.format === 'json') await ctx.out(jsonLine(listed.map((t) => ({ transactionalId: t.transactionalId, producerId: t.producerId, state: t.state }))));
  else await ctx.out(renderTable(['TRANSACTIONAL-ID', 'PRODUCER-ID', 'STATE'], listed.map((t) => [t.transactionalId, t.producerId, t.state])));
  return EXIT_OK;
}

export async function txnDescribe(ctx: CommandContext, transactionalId: string, format: OutputFormat): Promise<number> {
  if (transactionalId === '') throw invalidArgument('--transactional-id must not be empty');
  const txns = await ctx.transactions();
  const d = await txns.describeTransaction(transactionalId);
  const durationMs = d.transactionStartTimeMs === null ? null : Math.max(0, ctx.nowMs() - d.transactionStartTimeMs);
  const partitions = d.topicPartitions.map((tp) => `${tp.topic}-${tp.partition}`);
  if (format === 'json') {
    await ctx.out(jsonLine({
      transactionalId: d.transactionalId, state: d.state, producerId: d.producerId, producerEpoch: d.producerEpoch,
      transactionTimeoutMs: d.transactionTimeoutMs, transactionStartTimeMs: d.transactionStartTimeMs, transactionDurationMs: durationMs,
      topicPartitions: d.topicPartitions.map((tp) => ({ topic: tp.topic, partition: tp.partition })),
    }));
    return EXIT_OK;
  }
  await ctx.out(renderFacts([
    ['TRANSACTIONAL-ID', d.transactionalId], ['STATE', d.state], ['PRODUCER-ID', d.producerId], ['PRODUCER-EPOCH', d.producerEpoch],
    ['TIMEOUT-MS', d.transactionTimeoutMs],
    ['START-TIME', d.transactionStartTimeMs === null ? null : new Date(d.transactionStartTimeMs).toISOString()],
    ['DURATION-MS', durationMs], ['PARTITIONS', partitions.length === 0 ? null : partitions.join(',')],
  ]));
  return EXIT_OK;
}

export async function txnDescribeProducers(ctx: CommandContext, topic: string, partition: number, format: OutputFormat): Promise<number> {
  const txns = await ctx.transactions();
  const producers = await txns.describeProducers(topic, partition);
  if (format === 'json') {
    await ctx.out(jsonLine(producers.map((p) => ({
      producerId: p.producerId, producerEpoch: p.producerEpoch, coordinatorEpoch: p.coordinatorEpoch, lastSequence: p.lastSequence,
      lastTimestampMs: p.lastTimestampMs, currentTransactionStartOffset: p.currentTransactionStartOffset,
    }))));
    return EXIT_OK;
  }
  await ctx.out(renderTable(['PRODUCER-ID', 'PRODUCER-EPOCH', 'COORDINATOR-EPOCH', 'LAST-SEQUENCE', 'LAST-TIMESTAMP', 'TXN-START-OFFSET'],
    producers.map((p) => [p.producerId, p.producerEpoch, p.coordinatorEpoch < 0 ? null : p.coordinatorEpoch, p.lastSequence,
      p.lastTimestampMs < 0 ? null : new Date(p.lastTimestampMs).toISOString(), p.currentTransactionStartOffset])));
  return EXIT_OK;
}

export interface TxnAbortOptions {
  readonly topic: string;
  readonly partition: number;
  readonly producerId: number | undefined;
  readonly producerEpoch: number | undefined;
  readonly coordinatorEpoch: number | undefined;
  readonly startOffset: number | undefined;
}

/** The producer whose open transaction on the partition starts at `startOffset`. */
export function producerAtStartOffset(producers: readonly ActiveProducer[], where: string, startOffset: number): ActiveProducer {
  const matches = producers.filter((p) => p.currentTransactionStartOffset === startOffset);
  if (matches.length === 1) return matches[0]!;
  const open = producers.filter((p) => p.currentTransactionStartOffset !== null).map((p) => `${p.currentTransactionStartOffset} (producer ${p.producerId})`);
  if (matches.length === 0) {
    throw new CliError(`no open transaction on ${where} starts at offset ${startOffset}; open transactions start at: ${open.length === 0 ? 'none' : open.join(', ')}`,
      { code: 'INVALID_TXN_STATE' });
  }
  throw new CliError(`${matches.length} producers report an open transaction at offset ${startOffset} on ${where}; name one with --producer-id`, { code: 'INVALID_TXN_STATE' });
}

export async function txnAbort(ctx: CommandContext, options: TxnAbortOptions): Promise<number> {
  const where = `${options.topic}-${options.partition}`;
  const byProducer = options.producerId !== undefined || options.producerEpoch !== undefined || options.coordinatorEpoch !== undefined;
  if (byProducer === (options.startOffset !== undefined)) {
    throw invalidArgument('give either --start-offset, or --producer-id with --producer-epoch and --coordinator-epoch');
  }
  const txns = await ctx.transactions();
  let spec: { producerId: number; producerEpoch: number; coordinatorEpoch: number };
  if (options.startOffset !== undefined) {
    const p = producerAtStartOffset(await txns.describeProducers(options.topic, options.partition), where, options.startOffset);
    // As kafka-transactions.sh: a producer whose markers came from no known coordinator epoch uses 0.
    spec = { producerId: p.producerId, producerEpoch: p.producerEpoch, coordinatorEpoch: Math.max(0, p.coordinatorEpoch) };
  } else {
    if (options.producerId === undefined || options.producerEpoch === undefined || options.coordinatorEpoch === undefined) {
      throw invalidArgument('--producer-id needs --producer-epoch and --coordinator-epoch');
    }
    spec = { producerId: options.producerId, producerEpoch: options.producerEpoch, coordinatorEpoch: options.coordinatorEpoch };
  }
  await txns.abortTransaction({ topic: options.topic, partition: options.partition, ...spec });
  await ctx.out(`aborted the open transaction of producer ${spec.producerId} (epoch ${spec.producerEpoch}) on ${where}\n`);
  return EXIT_OK;
}
