// One consume-transform-produce member of the txn workload, run as its own process
// (txn-member-main.ts) so that killing the application is a real SIGKILL and pausing it a real
// SIGSTOP (a zombie that wakes up after the group moved on).
//
// Kafka's exactly-once loop, with the public client API only: a read_committed consumer in group
// `chaos-txn` (auto commit off) and a transactional producer (`transactional.id` = the slot's,
// stable across restarts of the slot, so a restarted member fences its predecessor). Per poll:
// beginTransaction, one output per input record spread over the output partitions (one
// transaction spans several), sendOffsetsToTransaction(next offsets, consumer.groupMetadata()),
// then commitTransaction — or, with probability `abortProbability`, abortTransaction on purpose.
// After any abort the consumer seeks back to the first offset of the batch, so the inputs are
// processed again in a later transaction. Each transaction is one `txn` op on stdout (see
// txn-records.ts for the outcome rules). A fatal error (PRODUCER_FENCED, an abort that fails)
// ends the process with EXIT_FATAL; the workload starts the slot again.
import { Consumer, Producer, type ConsumerRecord, type Logger, type ProducerOptions } from '@tributary/client';
import type { EmittedOp } from './group-member.js';
import { SeededRandom } from './seeded-random.js';
import { encodeOutput, type SentOutput, type TxnIntent, type TxnOpValue } from './txn-records.js';
import { errorCode } from './workloads.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface TxnMemberConfig {
  readonly bootstrapServers: string;
  readonly inputTopic: string;
  readonly outputTopic: string;
  readonly outputPartitions: number;
  readonly groupId: string;
  /** Process name `x<slot>.<incarnation>`; transactions are `<name>.<n>`. */
  readonly name: string;
  readonly transactionalId: string;
  readonly transactionTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** Records per poll, so per transaction, at most. */
  readonly maxPollRecords: number;
  /** Probability of aborting a transaction on purpose, [0, 1]. */
  readonly abortProbability: number;
  readonly seed: number;
  readonly debugLog?: boolean;
}

/** Exit code of a member that met a fatal error (the workload restarts the slot). */
export const EXIT_FATAL = 3;

/** Codes after which the producer cannot go on (Kafka: fatal errors); the member exits. */
export const FATAL_TXN_ERRORS: ReadonlySet<string> = new Set([
  'PRODUCER_FENCED', 'TRANSACTION_COORDINATOR_FENCED', 'INVALID_PRODUCER_ID_MAPPING', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'UNSUPPORTED_VERSION', 'CLIENT_CLOSED', 'INVALID_CONFIG',
]);

/** A commitTransaction() that failed retriably (a timeout) is called again this many times: its outcome is not known yet. */
export const COMMIT_ATTEMPTS_MAX = 5;

export class FatalMemberError extends Error {
  constructor(readonly code: string, cause: unknown) {
    super(`fatal: ${code}`, { cause });
  }
}

function stderrLogger(name: string): Logger {
  const write = (level: string) => (obj: object, msg?: string): void => {
    const err = (obj as { err?: unknown }).err;
    process.stderr.write(`${new Date().toISOString()} ${level} ${name} ${msg ?? ''} ${JSON.stringify({ ...obj, err: err instanceof Error ? err.message : err })}\n`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** Pure: the output partition of input k of a transaction (spread from a per-transaction base). */
export function outputPartitionOf(base: number, k: number, outputPartitions: number): number {
  return (base + k) % outputPartitions;
}

/** Pure: next offset per input partition after `records` (what sendOffsetsToTransaction commits). */
export function nextOffsets(records: readonly { partition: number; offset: number }[]): { partition: number; offset: number }[] {
  const next = new Map<number, number>();
  for (const r of records) next.set(r.partition, Math.max(next.get(r.partition) ?? 0, r.offset + 1));
  return [...next].sort((a, b) => a[0] - b[0]).map(([partition, offset]) => ({ partition, offset }));
}

/** Pure: first offset per input partition of `records` (where to seek back after an abort). */
export function firstOffsets(records: readonly { partition: number; offset: number }[]): Map<number, number> {
  const first = new Map<number, number>();
  for (const r of records) first.set(r.partition, Math.min(first.get(r.partition) ?? Number.MAX_SAFE_INTEGER, r.offset));
  return first;
}

/** Runs until `stopping()` turns true (then ends its transaction, leaves, closes); throws FatalMemberError. */
export async function runTxnMember(config: TxnMemberConfig, emit: (op: EmittedOp) => void, stopping: () => boolean): Promise<void> {
  const { name } = config;
  const random = new SeededRandom(config.seed);
  const runtime = config.debugLog === true ? { logger: stderrLogger(name) } : {};
  const consumer = new Consumer({
    'bootstrap.servers': config.bootstrapServers,
    'client.id': name,
    'group.id': config.groupId,
    'enable.auto.commit': false,
    'auto.offset.reset': 'earliest',
    'isolation.level': 'read_committed',
    'session.timeout.ms': config.sessionTimeoutMs,
    'heartbeat.interval.ms': Math.max(100, Math.floor(config.sessionTimeoutMs / 4)),
    'request.timeout.ms': config.requestTimeoutMs,
    'max.poll.records': config.maxPollRecords,
    'fetch.max.wait.ms': 200,
    'metadata.max.age.ms': 5_000,
    'retry.backoff.ms': 50,
    'retry.backoff.max.ms': 500,
  }, runtime);
  const producer = new Producer(transactionalProducerOptions(config), runtime);
  let n = 0;
  try {
    try {
      await producer.initTransactions();
    } catch (error) {
      throw new FatalMemberError(errorCode(error), error);
    }
    emit({ process: name, type: 'info', f: 'txn-member', value: { event: 'ready', transactionalId: config.transactionalId }, node: null });
    consumer.subscribe([config.inputTopic]);
    while (!stopping()) {
      let records: ConsumerRecord[];
      try {
        records = await consumer.poll({ timeoutMs: 250 });
      } catch (error) {
        emit({ process: name, type: 'info', f: 'poll-error', value: null, node: null, error: errorCode(error) });
        await sleep(100);
        continue;
      }
      if (records.length === 0) continue;
      n += 1;
      await processBatch({ config, consumer, producer, random, emit, txn: `${name}.${n}`, records });
    }
  } finally {
    await producer.close({ timeoutMs: 2_000 }).catch(() => undefined);
    await consumer.close({ leaveGroup: true }).catch(() => undefined);
  }
}

function transactionalProducerOptions(config: TxnMemberConfig): ProducerOptions {
  return {
    'bootstrap.servers': config.bootstrapServers,
    'client.id': config.name,
    'transactional.id': config.transactionalId,
    'transaction.timeout.ms': config.transactionTimeoutMs,
    acks: 'all',
    'enable.idempotence': true,
    'linger.ms': 5,
    'request.timeout.ms': config.requestTimeoutMs,
    'delivery.timeout.ms': Math.max(config.requestTimeoutMs * 3, 10_000),
    'max.block.ms': Math.max(config.requestTimeoutMs * 3, 10_000),
    'retry.backoff.ms': 50,
    'retry.backoff.max.ms': 500,
    'metadata.max.age.ms': 5_000,
  };
}

interface BatchContext {
  readonly config: TxnMemberConfig;
  readonly consumer: Consumer;
  readonly producer: Producer;
  readonly random: SeededRandom;
  readonly emit: (op: EmittedOp) => void;
  readonly txn: string;
  readonly records: readonly ConsumerRecord[];
}

/** One transaction over `records`; throws FatalMemberError when the member must stop. */
async function processBatch(ctx: BatchContext): Promise<void> {
  const { config, consumer, producer, random, emit, txn, records } = ctx;
  const intent: TxnIntent = random.next() < config.abortProbability ? 'abort' : 'commit';
  const n = records.length;
  emit({ process: config.name, type: 'invoke', f: 'txn', value: { txn, intent, n } satisfies TxnOpValue, node: null });
  const base = random.int(0, config.outputPartitions);
  const outputs: SentOutput[] = records.map((r, k) => ({
    id: r.value === null ? '' : r.value.toString('utf8'), ip: r.partition, io: r.offset, k, partition: outputPartitionOf(base, k, config.outputPartitions), offset: null,
  }));
  const offsets = nextOffsets(records);
  const done = (type: 'ok' | 'fail' | 'info', reason?: string): void => {
    const value: TxnOpValue = { txn, intent, n, outputs, offsets, ...(reason === undefined ? {} : { reason }) };
    emit({ process: config.name, type, f: 'txn', value, node: null, ...(reason === undefined || reason === 'deliberate' ? {} : { error: reason }) });
  };
  let stage = 'begin';
  try {
    producer.beginTransaction();
    stage = 'send';
    const acks = await Promise.all(outputs.map((o) => producer.send({
      topic: config.outputTopic, partition: o.partition, key: o.id,
      value: encodeOutput({ id: o.id, ip: o.ip, io: o.io, txn, k: o.k, n }),
    })));
    acks.forEach((md, k) => { outputs[k] = { ...(outputs[k] as SentOutput), offset: md.offset }; });
    stage = 'offsets';
    await producer.sendOffsetsToTransaction(
      offsets.map((o) => ({ topic: config.inputTopic, partition: o.partition, offset: o.offset })), consumer.groupMetadata());
    if (intent === 'abort') {
      stage = 'abort';
      await producer.abortTransaction();
      done('fail', 'deliberate');
      rewind(consumer, config.inputTopic, records);
      return;
    }
    stage = 'commit';
    for (let attempt = 1; ; attempt++) {
      try {
        await producer.commitTransaction();
        break;
      } catch (error) {
        // Kafka's rule: a retriable commit failure (timeout) means "call commitTransaction again".
        if ((error as { retriable?: unknown }).retriable !== true || attempt >= COMMIT_ATTEMPTS_MAX || producer.transactionState === 'FATAL_ERROR') throw error;
      }
    }
    done('ok');
  } catch (error) {
    const code = errorCode(error);
    if (FATAL_TXN_ERRORS.has(code) || producer.transactionState === 'FATAL_ERROR') {
      // A fenced producer's transaction may have been completed by the coordinator either way.
      done('info', `${stage}: ${code}`);
      throw new FatalMemberError(code, error);
    }
    try {
      await producer.abortTransaction();
    } catch (abortError) {
      // Neither committed nor aborted as far as this member knows (a commit that timed out can still complete).
      done('info', `${stage}: ${code}; abort: ${errorCode(abortError)}`);
      throw new FatalMemberError(errorCode(abortError), abortError);
    }
    done('fail', `${stage}: ${code}`);
    rewind(consumer, config.inputTopic, records);
  }
}

/** After an abort: back to the first record of the batch on every partition this member still owns. */
function rewind(consumer: Consumer, topic: string, records: readonly ConsumerRecord[]): void {
  const owned = new Set(consumer.assignment().filter((tp) => tp.topic === topic).map((tp) => tp.partition));
  for (const [partition, offset] of firstOffsets(records)) {
    if (owned.has(partition)) consumer.seek({ topic, partition }, offset);
  }
}
