// Client workloads of a chaos run. Clients are the real @tributary/client, dialling the brokers
// through the fault proxy (grpc_proxy is set by the runner). Every operation goes to the history.
//
// queue: producers (acks=all, idempotence on) send unique values `p<id>-<seq>` round-robin over the
//   partitions; consumers are assigned every partition from offset 0 and log each record they read.
// admin: creates and deletes topics while the queue workload produces.
import { Admin, Consumer, Producer, type ConsumerRecord } from '@tributary/client';
import type { HistoryRecorder } from './history.js';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Send errors that prove the record was never written (it failed before leaving the client, or the
 * config refused it). Every other error — timeouts, lost connections, retriable broker errors that
 * ran out of time — leaves the write indeterminate (`info`).
 */
export const DEFINITE_SEND_FAILURES: ReadonlySet<string> = new Set([
  'MESSAGE_TOO_LARGE', 'MAX_BLOCK_TIMEOUT', 'INVALID_RECORD', 'INVALID_CONFIG', 'RECORD_LIST_TOO_LARGE',
]);

export function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if (error instanceof Error) return error.name;
  }
  return String(error);
}

export interface QueueWorkloadOptions {
  readonly bootstrapServers: string;
  readonly topic: string;
  readonly partitions: number;
  readonly history: HistoryRecorder;
  readonly producers: number;
  readonly consumers: number;
  /** Sends per second over all producers. */
  readonly ratePerSecond: number;
  /** Outstanding sends per producer; a producer waits when it has this many. */
  readonly inFlightPerProducerMax: number;
  readonly deliveryTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** Best-known leader of a partition, for the `node` field (null when unknown). */
  readonly leaderHint?: (topic: string, partition: number) => number | null;
  readonly log?: (line: string) => void;
}

export const DEFAULT_QUEUE_WORKLOAD = {
  producers: 3,
  consumers: 2,
  ratePerSecond: 150,
  inFlightPerProducerMax: 20,
  deliveryTimeoutMs: 15_000,
  requestTimeoutMs: 3_000,
} as const;


export class QueueWorkload {
  private producing = false;
  private consuming = false;
  private nextProducerId = 1;
  private readonly producerLoops: Promise<void>[] = [];
  private readonly consumerLoops: Promise<void>[] = [];
  private readonly consumerStates: ConsumerState[] = [];
  private readonly log: (line: string) => void;

  constructor(private readonly options: QueueWorkloadOptions) {
    this.log = options.log ?? (() => undefined);
  }

  start(): void {
    this.producing = true;
    this.consuming = true;
    for (let i = 0; i < this.options.producers; i++) this.producerLoops.push(this.runProducerSlot());
    for (let i = 0; i < this.options.consumers; i++) {
      const state: ConsumerState = { process: `c${i + 1}`, next: new Map() };
      this.consumerStates.push(state);
      this.consumerLoops.push(this.runConsumer(state));
    }
  }

  /** Stops sending and waits until every outstanding send completed (bounded by delivery.timeout.ms). */
  async stopProducers(): Promise<void> {
    this.producing = false;
    await Promise.all(this.producerLoops);
  }

  /** Waits until every consumer has read up to `endOffsets` (or timeoutMs), then stops them. */
  async drainConsumers(endOffsets: ReadonlyMap<number, number>, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let caughtUp = false;
    while (Date.now() < deadline) {
      caughtUp = this.consumerStates.every((c) => [...endOffsets].every(([p, end]) => (c.next.get(p) ?? 0) >= end));
      if (caughtUp) break;
      await sleep(200);
    }
    this.consuming = false;
    await Promise.all(this.consumerLoops);
    return caughtUp;
  }

  private async runProducerSlot(): Promise<void> {
    // A slot keeps one producer running; a producer that becomes unusable (fenced, closed) is
    // replaced by a new process id, as Jepsen replaces a crashed client.
    while (this.producing) {
      const id = this.nextProducerId++;
      await this.runProducer(`p${id}`);
    }
  }

  private async runProducer(processName: string): Promise<void> {
    const { options } = this;
    const producer = new Producer({
      'bootstrap.servers': options.bootstrapServers,
      'client.id': processName,
      acks: 'all',
      'enable.idempotence': true,
      'linger.ms': 2,
      'request.timeout.ms': options.requestTimeoutMs,
      'delivery.timeout.ms': options.deliveryTimeoutMs,
      'max.block.ms': options.deliveryTimeoutMs,
      'retry.backoff.ms': 50,
      'retry.backoff.max.ms': 500,
      'metadata.max.age.ms': 5_000,
    });
    const intervalMs = (1000 * options.producers) / options.ratePerSecond;
    const inFlight = new Set<Promise<void>>();
    // Per-partition bound as well as the total: sends to a partition whose leader is down hang until
    // delivery.timeout.ms, and with only a total bound they filled every slot within a second and
    // stopped this producer on the healthy partitions too — availability then measured the harness.
    const perPartitionMax = Math.max(1, Math.ceil(options.inFlightPerProducerMax / options.partitions));
    const inFlightByPartition = new Array<number>(options.partitions).fill(0);
    let broken = false;
    let seq = 0;
    let nextPartition = 0;
    while (this.producing && !broken) {
      const partition = pickPartition(inFlightByPartition, nextPartition, perPartitionMax);
      if (inFlight.size >= options.inFlightPerProducerMax || partition === undefined) {
        await Promise.race(inFlight);
        continue;
      }
      nextPartition = (partition + 1) % options.partitions;
      const value = `${processName}-${seq}`;
      seq += 1;
      const node = options.leaderHint?.(options.topic, partition) ?? null;
      options.history.record({ process: processName, type: 'invoke', f: 'send', value, node, topic: options.topic, partition });
      inFlightByPartition[partition] = (inFlightByPartition[partition] ?? 0) + 1;
      const p = producer.send({ topic: options.topic, partition, key: value, value }).then(
        (md) => {
          options.history.record({ process: processName, type: 'ok', f: 'send', value, node, topic: md.topic, partition: md.partition, offset: md.offset });
        },
        (error: unknown) => {
          const code = errorCode(error);
          const type = DEFINITE_SEND_FAILURES.has(code) ? 'fail' : 'info';
          options.history.record({ process: processName, type, f: 'send', value, node, topic: options.topic, partition, error: code });
          if (code === 'PRODUCER_FENCED' || code === 'CLIENT_CLOSED' || code === 'ILLEGAL_STATE') broken = true;
        },
      ).finally(() => {
        inFlight.delete(p);
        inFlightByPartition[partition] = (inFlightByPartition[partition] ?? 1) - 1;
      });
      inFlight.add(p);
      await sleep(intervalMs);
    }
    await Promise.all(inFlight);
    await producer.close({ timeoutMs: 1_000 }).catch(() => undefined);
    if (broken) this.log(`workload: producer ${processName} became unusable; replacing it`);
  }

  private async runConsumer(state: ConsumerState): Promise<void> {
    const { options } = this;
    const consumer = new Consumer({
      'bootstrap.servers': options.bootstrapServers,
      'client.id': state.process,
      'auto.offset.reset': 'earliest',
      'request.timeout.ms': options.requestTimeoutMs,
      'fetch.max.wait.ms': 200,
      'metadata.max.age.ms': 5_000,
    });
    const tps = Array.from({ length: options.partitions }, (_, partition) => ({ topic: options.topic, partition }));
    consumer.assign(tps);
    for (const tp of tps) {
      consumer.seek(tp, 0);
      state.next.set(tp.partition, 0);
      options.history.record({ process: state.process, type: 'ok', f: 'assign', value: 0, node: null, topic: tp.topic, partition: tp.partition });
    }
    while (this.consuming) {
      let records: ConsumerRecord[];
      try {
        records = await consumer.poll({ timeoutMs: 250 });
      } catch (error) {
        options.history.record({ process: state.process, type: 'info', f: 'poll-error', value: null, node: null, error: errorCode(error) });
        await sleep(100);
        continue;
      }
      for (const r of records) recordRead(options.history, state, r);
    }
    await consumer.close().catch(() => undefined);
  }
}

/** Pure: the first partition from `start` on (round-robin) with fewer than `max` sends in flight. */
export function pickPartition(inFlightByPartition: readonly number[], start: number, max: number): number | undefined {
  const n = inFlightByPartition.length;
  for (let i = 0; i < n; i++) {
    const partition = (start + i) % n;
    if ((inFlightByPartition[partition] ?? 0) < max) return partition;
  }
  return undefined;
}

interface ConsumerState {
  readonly process: string;
  /** partition → next offset to read. */
  readonly next: Map<number, number>;
}

function recordRead(history: HistoryRecorder, state: ConsumerState, r: ConsumerRecord): void {
  const value = r.value === null ? null : r.value.toString('utf8');
  history.record({ process: state.process, type: 'ok', f: 'read', value, node: null, topic: r.topic, partition: r.partition, offset: r.offset });
  state.next.set(r.partition, Math.max(state.next.get(r.partition) ?? 0, r.offset + 1));
}

/** Reads every partition of `topic` from offset 0 up to `endOffsets` as process `processName`. */
export async function readAll(options: {
  readonly bootstrapServers: string;
  readonly topic: string;
  readonly endOffsets: ReadonlyMap<number, number>;
  readonly history: HistoryRecorder;
  readonly processName: string;
  readonly timeoutMs: number;
}): Promise<boolean> {
  const consumer = new Consumer({ 'bootstrap.servers': options.bootstrapServers, 'auto.offset.reset': 'earliest', 'fetch.max.wait.ms': 100 });
  const state: ConsumerState = { process: options.processName, next: new Map() };
  const tps = [...options.endOffsets.keys()].map((partition) => ({ topic: options.topic, partition }));
  consumer.assign(tps);
  for (const tp of tps) {
    consumer.seek(tp, 0);
    state.next.set(tp.partition, 0);
    options.history.record({ process: state.process, type: 'ok', f: 'assign', value: 0, node: null, topic: tp.topic, partition: tp.partition });
  }
  const deadline = Date.now() + options.timeoutMs;
  let done = false;
  try {
    while (Date.now() < deadline) {
      done = [...options.endOffsets].every(([p, end]) => (state.next.get(p) ?? 0) >= end);
      if (done) break;
      try {
        for (const r of await consumer.poll({ timeoutMs: 250 })) recordRead(options.history, state, r);
      } catch (error) {
        options.history.record({ process: state.process, type: 'info', f: 'poll-error', value: null, node: null, error: errorCode(error) });
        await sleep(100);
      }
    }
  } finally {
    await consumer.close().catch(() => undefined);
  }
  return done;
}

/** A producer for the final availability probes: its writes are ordinary `send`s of process p0. */
export class ProbeProducer {
  private seq = 0;
  private readonly producer: Producer;

  constructor(private readonly options: { bootstrapServers: string; topic: string; history: HistoryRecorder; deliveryTimeoutMs: number; requestTimeoutMs: number }) {
    this.producer = new Producer({
      'bootstrap.servers': options.bootstrapServers, 'client.id': 'p0', acks: 'all', 'enable.idempotence': true,
      'linger.ms': 0, 'request.timeout.ms': options.requestTimeoutMs, 'delivery.timeout.ms': options.deliveryTimeoutMs,
      'max.block.ms': options.deliveryTimeoutMs, 'retry.backoff.ms': 50, 'retry.backoff.max.ms': 500,
    });
  }

  /** One send to `partition`; resolves with the elapsed ms, rejects with the error (recorded either way). */
  async send(partition: number): Promise<number> {
    const value = `p0-${this.seq++}`;
    const { history, topic } = this.options;
    const started = Date.now();
    history.record({ process: 'p0', type: 'invoke', f: 'send', value, node: null, topic, partition });
    try {
      const md = await this.producer.send({ topic, partition, key: value, value });
      history.record({ process: 'p0', type: 'ok', f: 'send', value, node: null, topic, partition: md.partition, offset: md.offset });
      return Date.now() - started;
    } catch (error) {
      const code = errorCode(error);
      history.record({ process: 'p0', type: DEFINITE_SEND_FAILURES.has(code) ? 'fail' : 'info', f: 'send', value, node: null, topic, partition, error: code });
      throw error;
    }
  }

  close(): Promise<void> {
    return this.producer.close({ timeoutMs: 1_000 }).catch(() => undefined);
  }
}

export interface AdminWorkloadOptions {
  readonly bootstrapServers: string;
  readonly history: HistoryRecorder;
  readonly replicationFactor: number;
  /** Pause between admin operations, ms. */
  readonly intervalMs: number;
  /** Topics this workload keeps alive at most; older ones are deleted. */
  readonly liveTopicsMax: number;
}

export class AdminWorkload {
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: AdminWorkloadOptions) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    const { options } = this;
    const admin = new Admin({ 'bootstrap.servers': options.bootstrapServers, 'client.id': 'admin', 'request.timeout.ms': 3_000, 'default.api.timeout.ms': 10_000 });
    const live: string[] = [];
    let n = 0;
    while (this.running) {
      const deleting = live.length >= options.liveTopicsMax;
      const topic = deleting ? (live.shift() as string) : `chaos-admin-${++n}`;
      const f = deleting ? 'delete-topic' : 'create-topic';
      options.history.record({ process: 'admin', type: 'invoke', f, value: topic, node: null });
      try {
        if (deleting) await admin.deleteTopics([topic]);
        else await admin.createTopics([{ topic, numPartitions: 2, replicationFactor: options.replicationFactor }]);
        options.history.record({ process: 'admin', type: 'ok', f, value: topic, node: null });
        if (!deleting) live.push(topic);
      } catch (error) {
        // Admin errors are indeterminate unless the broker refused outright.
        const code = errorCode(error);
        const definite = code === 'TOPIC_ALREADY_EXISTS' || code === 'INVALID_REPLICATION_FACTOR' || code === 'INVALID_CONFIG';
        options.history.record({ process: 'admin', type: definite ? 'fail' : 'info', f, value: topic, node: null, error: code });
        if (!deleting && !definite) live.push(topic); // may exist: delete it later
      }
      await sleep(options.intervalMs);
    }
    await admin.close().catch(() => undefined);
  }
}
