// Shared by the multi-process replication tests: a producer stream that records what was acknowledged,
// a reader that consumes a partition range up to its high watermark, and the exactly-once check.
import { Admin, Consumer, Producer, type ConsumerRecord, type PartitionDescription } from '@tributary/client';
import { startProcessCluster, type ProcessCluster, type StartProcessClusterOptions } from '@tributary/testing';
import { FAST_CONFIGS, waitFor } from '../cluster/helpers.js';

export { FAST_CONFIGS, SESSION_TIMEOUT_MS, waitFor } from '../cluster/helpers.js';

export const REPLICA_LAG_TIME_MAX_MS = 1500;

/** Node configs for the replication tests: the cluster helpers' fast timeouts plus a short ISR lag. */
export const REPLICATION_CONFIGS = (base: Readonly<Record<string, string>>): Readonly<Record<string, string>> => ({
  ...base,
  'replica.lag.time.max.ms': String(REPLICA_LAG_TIME_MAX_MS),
  'replica.fetch.wait.max.ms': '200',
  'replica.fetch.backoff.ms': '100',
});

/**
 * A process cluster with the replication configs and an Admin on it, once three brokers are unfenced
 * and a controller is active.
 */
export async function startReplicationCluster(options: StartProcessClusterOptions, adminTimeoutMs = 5000): Promise<{ cluster: ProcessCluster; admin: Admin }> {
  const cluster = await startProcessCluster({ ...options, configs: { ...REPLICATION_CONFIGS(FAST_CONFIGS), ...options.configs } });
  const admin = new Admin({ 'bootstrap.servers': cluster.bootstrapServers, 'request.timeout.ms': 2000, 'default.api.timeout.ms': adminTimeoutMs });
  await waitFor('three unfenced brokers', async () => {
    const c = await admin.describeCluster();
    return c.controller.leaderId > 0 && c.nodes.filter((n) => n.roles.includes('broker') && !n.fenced).length === 3 ? true : undefined;
  }, 20_000);
  return { cluster, admin };
}

export async function describePartitions(admin: Admin, topic: string): Promise<readonly PartitionDescription[]> {
  return (await admin.describeTopics([topic]))[0]!.partitions;
}

/** One acknowledged (or failed) send of the stream. */
export interface SendOutcome {
  readonly producer: number;
  readonly seq: number;
  readonly partition: number;
  readonly value: string;
  readonly offset: number | undefined;
  readonly error: Error | undefined;
}

/**
 * Several idempotent acks=all producers, each sending `p<i>-<seq>` round-robin over the partitions
 * with up to `inFlightMax` sends outstanding, until stop() is called. Every send's outcome is kept.
 */
export class ProduceStream {
  readonly outcomes: SendOutcome[] = [];
  private readonly producers: Producer[];
  private stopped = false;
  private readonly loops: Promise<void>[];

  constructor(args: { bootstrapServers: string; topic: string; partitions: number; producers: number; inFlightMax: number; producerOptions?: Record<string, unknown> }) {
    this.producers = Array.from({ length: args.producers }, () => new Producer({
      'bootstrap.servers': args.bootstrapServers, acks: 'all', 'enable.idempotence': true,
      'max.in.flight.requests.per.connection': 5, 'linger.ms': 2, 'request.timeout.ms': 3000,
      'delivery.timeout.ms': 30_000, 'retry.backoff.ms': 50, 'retry.backoff.max.ms': 500, 'metadata.max.age.ms': 1000,
      ...args.producerOptions,
    }));
    this.loops = this.producers.map((producer, i) => this.loop(producer, i, args));
  }

  get acknowledged(): readonly SendOutcome[] {
    return this.outcomes.filter((o) => o.error === undefined);
  }

  get failed(): readonly SendOutcome[] {
    return this.outcomes.filter((o) => o.error !== undefined);
  }

  private async loop(producer: Producer, index: number, args: { topic: string; partitions: number; inFlightMax: number }): Promise<void> {
    const outstanding = new Set<Promise<void>>();
    for (let seq = 0; !this.stopped; seq++) {
      const partition = seq % args.partitions;
      const value = `p${index}-${seq}`;
      const p: Promise<void> = producer.send({ topic: args.topic, partition, value }).then(
        (md) => { this.outcomes.push({ producer: index, seq, partition, value, offset: md.offset, error: undefined }); },
        (error: Error) => { this.outcomes.push({ producer: index, seq, partition, value, offset: undefined, error }); },
      ).finally(() => outstanding.delete(p));
      outstanding.add(p);
      if (outstanding.size >= args.inFlightMax) await Promise.race(outstanding);
    }
    await Promise.all(outstanding);
  }

  /** Stops sending and waits for every outstanding send to complete (acknowledged or failed). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    await Promise.all(this.producers.map((p) => p.close({ timeoutMs: 5000 })));
  }
}

/** Reads every record of `topic` partitions [0, partitions) from offset 0 up to each high watermark. */
export async function readAll(bootstrapServers: string, topic: string, partitions: number, admin: Admin, timeoutMs = 20_000): Promise<ConsumerRecord[]> {
  // The leader's high watermark (ListOffsets latest goes to the leader); DescribeTopics reports the
  // answering broker's own view, which lags on a follower.
  const latest = await admin.listOffsets(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, spec: 'latest' as const })));
  const hws = Array.from({ length: partitions }, (_, p) => latest.find((l) => l.partition === p)!.offset);
  const consumer = new Consumer({ 'bootstrap.servers': bootstrapServers, 'auto.offset.reset': 'earliest', 'request.timeout.ms': 3000 });
  const records: ConsumerRecord[] = [];
  try {
    const tps = Array.from({ length: partitions }, (_, partition) => ({ topic, partition }));
    consumer.assign(tps);
    consumer.seekToBeginning(tps);
    const next = new Array<number>(partitions).fill(0);
    const deadline = Date.now() + timeoutMs;
    while (next.some((n, p) => n < hws[p]!)) {
      if (Date.now() > deadline) throw new Error(`readAll: reached ${JSON.stringify(next)} of high watermarks ${JSON.stringify(hws)} in ${timeoutMs} ms`);
      for (const r of await consumer.poll({ timeoutMs: 500 })) {
        if (r.offset >= hws[r.partition]!) continue;
        if (r.offset !== next[r.partition]) throw new Error(`readAll: partition ${r.partition} offset ${r.offset}, expected ${next[r.partition]}`);
        next[r.partition] = r.offset + 1;
        records.push(r);
      }
    }
  } finally {
    await consumer.close();
  }
  return records;
}

/**
 * The exactly-once check: every acknowledged value is in the log exactly once at its acknowledged
 * offset, no value at all appears twice, and per (producer, partition) the log holds values in send order.
 * Returns a list of violations (empty = fine).
 */
export function exactlyOnceViolations(outcomes: readonly SendOutcome[], records: readonly ConsumerRecord[]): string[] {
  const violations: string[] = [];
  const seen = new Map<string, ConsumerRecord>();
  for (const r of records) {
    const v = r.value?.toString() ?? '';
    if (seen.has(v)) violations.push(`duplicate ${v} at ${r.partition}@${seen.get(v)!.offset} and ${r.partition}@${r.offset}`);
    seen.set(v, r);
  }
  for (const o of outcomes) {
    if (o.error !== undefined) continue;
    const r = seen.get(o.value);
    if (r === undefined) violations.push(`acknowledged ${o.value} (partition ${o.partition} offset ${o.offset}) missing`);
    else if (r.partition !== o.partition || r.offset !== o.offset) violations.push(`acknowledged ${o.value} at ${o.partition}@${o.offset} but found at ${r.partition}@${r.offset}`);
  }
  const lastSeq = new Map<string, number>();
  for (const r of records) {
    const [producer, seq] = (r.value?.toString() ?? '').split('-');
    const key = `${producer}/${r.partition}`;
    const s = Number(seq);
    if ((lastSeq.get(key) ?? -1) >= s) violations.push(`out of order: ${producer}-${s} after ${producer}-${lastSeq.get(key)} in partition ${r.partition} (offset ${r.offset})`);
    lastSeq.set(key, s);
  }
  return violations;
}

/** Waits until every partition of `topic` has a leader and the full replica set in its ISR. */
export async function waitFullIsr(admin: Admin, topic: string, timeoutMs: number): Promise<readonly PartitionDescription[]> {
  return waitFor(`full ISR on every partition of ${topic}`, async () => {
    const ps = await describePartitions(admin, topic);
    return ps.every((p) => p.leader >= 0 && p.isr.length === p.replicas.length) ? ps : undefined;
  }, timeoutMs);
}
