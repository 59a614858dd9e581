// Replication between three real brokers in one process (startNode ×3, controller quorum, gRPC Replica
// service, storage logs on disk). Each node's logs are tapped (to read its LEO/HW, and to hold back the
// leader's reads so a tail stays unreplicated) and its warnings captured.
//   - the high watermark reaches the followers (they only learn it from fetch responses);
//   - a leader's unreplicated tail is truncated through the diverging epoch when it rejoins as follower;
//   - unclean leader election: the new leader warns about the offsets that may be lost, the old leader
//     warns when it truncates records below its high watermark, and a consumer that read them detects the
//     truncation (KIP-320) and resumes at the diverging offset.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Admin, Consumer, LogTruncationError, Producer, type PartitionDescription } from '@tributary/client';
import { storageLogFactory } from '../../src/adapters/storage-partition-log.js';
import { parseNodeConfig, startNode, type LogFactory, type PartitionLogPort, type TributaryNode } from '../../src/index.js';
import { FAST, freePorts } from '../cluster/cluster-harness.js';

const IDS = [1, 2, 3];

/**
 * One node's partition logs as it opened them. `holdReads` makes every read wait (nothing is served);
 * `holdFollowerAppends` makes follower appends wait until `releaseFollowerAppends` fails them (the
 * follower stops making progress while its node stays up, so the controller quorum is undisturbed).
 */
class LogTap {
  readonly logs = new Map<string, PartitionLogPort>();
  holdReads = false;
  holdFollowerAppends = false;
  private readonly held: ((err: Error) => void)[] = [];

  releaseFollowerAppends(): void {
    this.holdFollowerAppends = false;
    for (const fail of this.held.splice(0)) fail(new Error('held follower append released'));
  }

  wrap(inner: LogFactory): LogFactory {
    return async (options) => {
      const log = await inner(options);
      const proxy = new Proxy(log, {
        get: (target, key) => {
          if (key === 'appendAsFollower' && this.holdFollowerAppends) {
            return () => new Promise<never>((_resolve, reject) => { this.held.push(reject); });
          }
          if (key === 'read') {
            return (...args: Parameters<PartitionLogPort['read']>) => (this.holdReads ? new Promise<never>(() => undefined) : target.read(...args));
          }
          const value = Reflect.get(target, key, target) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      this.logs.set(`${options.topic}-${options.partition}`, proxy);
      return proxy;
    };
  }
}

interface LogLine { readonly level: number; readonly msg: string; readonly [key: string]: unknown }

class Brokers {
  readonly nodes = new Map<number, TributaryNode>();
  readonly taps = new Map<number, LogTap>();
  readonly warnings = new Map<number, LogLine[]>();
  admin!: Admin;

  private constructor(readonly root: string, readonly ports: readonly number[]) {}

  static async start(): Promise<Brokers> {
    const b = new Brokers(await mkdtemp(join(tmpdir(), 'tributary-repl-')), await freePorts(IDS.length));
    await Promise.all(IDS.map((id) => b.startNode(id)));
    b.admin = new Admin({ 'bootstrap.servers': b.bootstrap, 'request.timeout.ms': 2000, 'default.api.timeout.ms': 5000 });
    await until('three unfenced brokers', async () => {
      const c = await b.admin.describeCluster();
      return c.nodes.filter((n) => n.roles.includes('broker') && !n.fenced).length === IDS.length ? true : undefined;
    });
    return b;
  }

  get bootstrap(): string {
    return this.ports.map((p) => `127.0.0.1:${p}`).join(',');
  }

  async startNode(id: number): Promise<void> {
    const voters = this.ports.map((p, i) => `${i + 1}@127.0.0.1:${p}`).join(',');
    const config = parseNodeConfig({
      flags: { 'node.id': id, listen: `127.0.0.1:${this.ports[id - 1]!}`, 'data.dir': join(this.root, `node-${id}`), 'controller.quorum.voters': voters },
      set: { ...FAST, 'replica.lag.time.max.ms': '1500', 'replica.fetch.wait.max.ms': '100', 'replica.fetch.backoff.ms': '50' },
    });
    const warnings = this.warnings.get(id) ?? [];
    this.warnings.set(id, warnings);
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line !== '') warnings.push(JSON.parse(line) as LogLine);
        done();
      },
    });
    const tap = new LogTap();
    this.taps.set(id, tap);
    const logger = pino({ level: 'warn', base: { nodeId: id } }, sink);
    this.nodes.set(id, await startNode(config, { logger, openLog: tap.wrap(storageLogFactory({ logger, nowMs: Date.now })), shutdownGraceMs: 300 }));
  }

  async kill(id: number): Promise<void> {
    const node = this.nodes.get(id)!;
    this.nodes.delete(id);
    await node.close({ controlledShutdown: false });
  }

  log(id: number, tp: string): PartitionLogPort {
    const log = this.taps.get(id)?.logs.get(tp);
    if (log === undefined) throw new Error(`node ${id} has no log for ${tp}`);
    return log;
  }

  async partition(topic: string): Promise<PartitionDescription> {
    return (await this.admin.describeTopics([topic]))[0]!.partitions[0]!;
  }

  async close(): Promise<void> {
    await this.admin?.close();
    await Promise.all([...this.nodes.values()].map((n) => n.close({ controlledShutdown: false })));
    this.nodes.clear();
    await rm(this.root, { recursive: true, force: true });
  }
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : ` (${String(last)})`}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function produceAll(bootstrap: string, topic: string, values: readonly string[], acks: 'all' | 1): Promise<number[]> {
  const producer = new Producer({ 'bootstrap.servers': bootstrap, acks, 'linger.ms': 0, 'request.timeout.ms': 3000, 'delivery.timeout.ms': 15_000, 'metadata.max.age.ms': 500, 'max.in.flight.requests.per.connection': 1 });
  try {
    const offsets: number[] = [];
    for (const value of values) offsets.push((await producer.send({ topic, partition: 0, value })).offset);
    return offsets;
  } finally {
    await producer.close({ timeoutMs: 2000 });
  }
}

async function readValues(log: PartitionLogPort): Promise<string[]> {
  const { decodeRecordBatches } = await import('@tributary/protocol');
  const read = await log.read(log.logStartOffset, 64 << 20, { maxOffset: log.logEndOffset, minOneBatch: true });
  return decodeRecordBatches(read.records).flatMap((b) => b.records.map((r) => Buffer.from(r.value ?? []).toString()));
}

describe('replication between three real brokers', () => {
  let brokers: Brokers | undefined;
  afterEach(async () => {
    await brokers?.close();
    brokers = undefined;
  }, 30_000);

  it('followers learn the high watermark from fetch responses; a leader’s unreplicated tail is truncated at the diverging epoch', async () => {
    brokers = await Brokers.start();
    const b = brokers;
    await b.admin.createTopics([{ topic: 't', numPartitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }]);
    const p0 = await until('full ISR', async () => { const p = await b.partition('t'); return p.leader > 0 && p.isr.length === 3 ? p : undefined; });
    expect(await produceAll(b.bootstrap, 't', ['a0', 'a1', 'a2', 'a3', 'a4'], 'all')).toEqual([0, 1, 2, 3, 4]);
    // HW propagation: every replica's log ends up with HW = LEO = 5.
    await until('HW 5 on every replica', () => (IDS.every((id) => b.log(id, 't-0').highWatermark === 5 && b.log(id, 't-0').logEndOffset === 5) ? true : undefined));

    // The leader appends a tail nobody can fetch (its reads are held), acks=1.
    const old = p0.leader;
    b.taps.get(old)!.holdReads = true;
    expect(await produceAll(b.bootstrap, 't', ['tail0', 'tail1'], 1)).toEqual([5, 6]);
    expect(b.log(old, 't-0').logEndOffset).toBe(7);
    for (const id of IDS.filter((i) => i !== old)) expect(b.log(id, 't-0').logEndOffset).toBe(5);

    await b.kill(old);
    const p1 = await until('a new leader with a higher epoch', async () => {
      const p = await b.partition('t');
      return p.leader > 0 && p.leader !== old && p.leaderEpoch > p0.leaderEpoch ? p : undefined;
    });
    expect(await produceAll(b.bootstrap, 't', ['b0', 'b1', 'b2'], 'all')).toEqual([5, 6, 7]);

    await b.startNode(old);
    await until('old leader caught up with the new leader', () => (b.log(old, 't-0').logEndOffset === 8 && b.log(old, 't-0').highWatermark === 8 ? true : undefined));
    const expected = ['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1', 'b2'];
    expect(await readValues(b.log(old, 't-0'))).toEqual(expected);
    expect(await readValues(b.log(p1.leader, 't-0'))).toEqual(expected);
    expect(b.log(old, 't-0').latestEpoch).toBe(p1.leaderEpoch);
  }, 60_000);

  it('unclean leader election: the new leader warns of the offsets that may be lost, the old leader of the committed records it truncates, a consumer detects the truncation (KIP-320)', async () => {
    brokers = await Brokers.start();
    const b = brokers;
    await b.admin.createTopics([{ topic: 'u', numPartitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '1', 'unclean.leader.election.enable': 'true' } }]);
    const p0 = await until('full ISR', async () => { const p = await b.partition('u'); return p.leader > 0 && p.isr.length === 3 ? p : undefined; });
    const old = p0.leader;
    const [f1, f2] = IDS.filter((id) => id !== old) as [number, number];
    await produceAll(b.bootstrap, 'u', ['a0', 'a1', 'a2'], 'all');
    await until('HW 3 on every replica', () => (IDS.every((id) => b.log(id, 'u-0').highWatermark === 3) ? true : undefined));

    // Both followers stop making progress (nodes up: the controller quorum stays); the ISR shrinks to
    // the leader alone, which then commits x0 and x1 on its own (min.insync.replicas=1).
    for (const id of [f1, f2]) b.taps.get(id)!.holdFollowerAppends = true;
    expect(await produceAll(b.bootstrap, 'u', ['x0', 'x1'], 'all')).toEqual([3, 4]);
    const shrunk = await b.partition('u');
    expect(shrunk.isr).toEqual([old]);
    for (const id of [f1, f2]) expect(b.log(id, 'u-0').logEndOffset).toBe(3);

    const consumer = new Consumer({ 'bootstrap.servers': b.bootstrap, 'auto.offset.reset': 'none', 'fetch.max.wait.ms': 100, 'request.timeout.ms': 2000, 'metadata.max.age.ms': 500 });
    try {
      consumer.assign([{ topic: 'u', partition: 0 }]);
      consumer.seekToBeginning([{ topic: 'u', partition: 0 }]);
      const seen: string[] = [];
      await until('consumer read 5 records', async () => {
        for (const r of await consumer.poll({ timeoutMs: 200 })) seen.push(r.value!.toString());
        return seen.length >= 5 ? true : undefined;
      });
      expect(seen).toEqual(['a0', 'a1', 'a2', 'x0', 'x1']);

      // Every node goes down; the two without x0, x1 come back and one is elected uncleanly. (The
      // leader serves nothing more, so released followers cannot fetch x0, x1 on their way down.)
      b.taps.get(old)!.holdReads = true;
      for (const id of [f1, f2]) {
        b.taps.get(id)!.releaseFollowerAppends();
        await b.kill(id);
      }
      await b.kill(old);
      await Promise.all([b.startNode(f1), b.startNode(f2)]);
      const p1 = await until('unclean leader', async () => { const p = await b.partition('u'); return p.leader === f1 || p.leader === f2 ? p : undefined; }, 20_000);
      expect(p1.leaderEpoch).toBeGreaterThan(p0.leaderEpoch);
      const warning = await until('unclean election warning on the new leader', () => b.warnings.get(p1.leader)!.find((l) => l.msg.startsWith('unclean leader election')));
      expect(warning).toMatchObject({ mayBeLostFromOffset: 3 });
      expect(await produceAll(b.bootstrap, 'u', ['c0', 'c1'], 'all')).toEqual([3, 4]);

      // KIP-320: the consumer's position 5 (epoch of x1) is past the new leader's end of that epoch (3).
      const error = await until('LogTruncationError', async () => {
        try {
          await consumer.poll({ timeoutMs: 200 });
          return undefined;
        } catch (err) {
          return err;
        }
      });
      expect(error).toBeInstanceOf(LogTruncationError);
      expect((error as LogTruncationError).message).toMatch(/3/);
      consumer.seek({ topic: 'u', partition: 0 }, 3);
      const after: string[] = [];
      await until('c0, c1 from the new leader', async () => {
        for (const r of await consumer.poll({ timeoutMs: 200 })) after.push(`${r.offset}:${r.value!.toString()}`);
        return after.length >= 2 ? true : undefined;
      });
      expect(after).toEqual(['3:c0', '4:c1']);
    } finally {
      await consumer.close();
    }

    // The old leader returns as a follower and drops x0, x1 although they were below its HW.
    await b.startNode(old);
    await until('old leader truncated to the new leader’s log', () => (b.log(old, 'u-0').logEndOffset === 5 && b.log(old, 'u-0').latestEpoch === b.log(f1, 'u-0').latestEpoch ? true : undefined), 20_000);
    expect(await readValues(b.log(old, 'u-0'))).toEqual(['a0', 'a1', 'a2', 'c0', 'c1']);
    const truncated = b.warnings.get(old)!.find((l) => l.msg.startsWith('truncating committed records'));
    expect(truncated).toMatchObject({ lostOffsets: '[3, 5)' });
  }, 90_000);
});
