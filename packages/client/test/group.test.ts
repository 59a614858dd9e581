// Consumer groups end to end against a real in-process node: assignment, crash takeover from committed
// offsets, cooperative rebalancing, and commits surviving a restart of the coordinator's node.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNodeConfig, startNode, type TributaryNode } from '@tributary/broker';
import * as grpc from '@grpc/grpc-js';
import { GroupsClient } from '@tributary/protocol';
import { Admin, Consumer, Producer, type ConsumerOptions, type ConsumerRecord, type TopicPartition } from '../src/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'tributary-group-test-'));
let node: TributaryNode;
let address = '127.0.0.1:0';
let admin: Admin;

async function start(): Promise<void> {
  const config = parseNodeConfig({ flags: { 'node.id': 1, listen: address, 'data.dir': dataDir }, set: { 'log.level': 'error' } });
  node = await startNode(config, { groups: { 'offsets.topic.num.partitions': 3, 'group.tick.interval.ms': 50 } });
  address = node.address;
}

beforeAll(async () => {
  await start();
  admin = new Admin({ 'bootstrap.servers': address });
});

afterAll(async () => {
  await admin?.close();
  await node?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const FAST: ConsumerOptions = {
  'session.timeout.ms': 3_000, 'heartbeat.interval.ms': 200, 'max.poll.interval.ms': 10_000,
  'auto.offset.reset': 'earliest', 'enable.auto.commit': false, 'fetch.max.wait.ms': 100,
};

async function produce(topic: string, partitions: number, perPartition: number): Promise<void> {
  const producer = new Producer({ 'bootstrap.servers': address, 'linger.ms': 0 });
  const sends: Promise<unknown>[] = [];
  for (let p = 0; p < partitions; p++) for (let i = 0; i < perPartition; i++) sends.push(producer.send({ topic, partition: p, value: Buffer.from(`${p}:${i}`) }));
  await Promise.all(sends);
  await producer.close();
}

const tpKey = (tp: TopicPartition): string => `${tp.topic}-${tp.partition}`;

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls `consumer` in the background, collecting records, until stop(). */
function pump(consumer: Consumer, onRecords: (records: ConsumerRecord[]) => Promise<void> = async () => {}) {
  const records: ConsumerRecord[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const batch = await consumer.poll({ timeoutMs: 200 });
      records.push(...batch);
      await onRecords(batch);
    }
  })();
  return { records, stop: async () => { running = false; await done; } };
}

describe('consumer groups', () => {
  it('3 members get 2 of 6 partitions each; a crashed member\'s partitions move on from its last commit', async () => {
    await admin.createTopics([{ topic: 'g1', numPartitions: 6, replicationFactor: 1 }]);
    const consumers = [0, 1, 2].map((i) => new Consumer({ 'bootstrap.servers': address, 'group.id': 'G1', 'client.id': `c${i}`, 'max.poll.records': 5, ...FAST }));
    consumers.forEach((c) => c.subscribe(['g1']));
    // The crashing member commits only what it consumed before `crashAfter` records; the others commit every poll.
    const pumps = consumers.map((c, i) => pump(c, async (batch) => {
      if (batch.length > 0 && (i !== 2 || pumps[2]!.records.length <= 10)) await c.commit();
    }));
    await until('2 partitions each', () => consumers.every((c) => c.assignment().length === 2) && new Set(consumers.flatMap((c) => c.assignment().map(tpKey))).size === 6);
    // Records only once the group is stable: produced earlier, the first members to join could read and
    // commit every partition before the third arrived (a race on a loaded machine).
    await produce('g1', 6, 20);
    await until('the crashing member has read past its commits', () => pumps[2]!.records.length > 10);
    const crashedPartitions = consumers[2]!.assignment();
    await pumps[2]!.stop();
    const committedByCrashed = await consumers[2]!.committed(crashedPartitions);
    await consumers[2]!.close({ leaveGroup: false }); // a crash: no leave, no commit
    const started = Date.now();
    await until('the survivors own all 6 partitions', () => new Set(consumers.slice(0, 2).flatMap((c) => c.assignment().map(tpKey))).size === 6, 15_000);
    expect(Date.now() - started).toBeLessThan(3_000 + 5_000);
    await until('every record consumed', () => {
      const seen = new Set(pumps.flatMap((p) => p.records).map((r) => `${r.partition}:${r.offset}`));
      return seen.size === 120;
    });
    const survivors = (): ConsumerRecord[] => pumps.slice(0, 2).flatMap((p) => p.records);
    await until('the survivors read the crashed member\'s uncommitted records', () =>
      committedByCrashed.every((c) => (c.offset ?? 0) === 20 || survivors().some((r) => r.partition === c.partition && r.offset === 19)));
    // The crashed member stopped committing after ~10 records, so some partition has uncommitted records.
    expect(committedByCrashed.some((c) => (c.offset ?? 0) < 20)).toBe(true);
    for (const c of committedByCrashed) {
      const after = pumps.slice(0, 2).flatMap((p) => p.records).filter((r) => r.partition === c.partition);
      // The survivor resumed exactly at the crashed member's commit: nothing committed was read again.
      if ((c.offset ?? 0) === 20) expect(after).toEqual([]);
      else expect(Math.min(...after.map((r) => r.offset))).toBe(c.offset ?? 0);
    }
    await Promise.all(pumps.slice(0, 2).map((p) => p.stop()));
    await Promise.all(consumers.slice(0, 2).map((c) => c.close()));
  }, 60_000);

  it('cooperative-sticky: a joining member causes no revocation of partitions that stay', async () => {
    await admin.createTopics([{ topic: 'g2', numPartitions: 6, replicationFactor: 1 }]);
    const revoked: string[][] = [[], [], []];
    const opts = { 'bootstrap.servers': address, 'group.id': 'G2', 'partition.assignment.strategy': ['cooperative-sticky'] as const, ...FAST };
    const consumers = [0, 1, 2].map((i) => new Consumer({ ...opts, 'partition.assignment.strategy': ['cooperative-sticky'], 'client.id': `k${i}` }));
    consumers.forEach((c, i) => c.subscribe(['g2'], { onPartitionsRevoked: (tps) => { revoked[i]!.push(...tps.map(tpKey)); } }));
    const pumps = consumers.slice(0, 2).map((c) => pump(c));
    await until('two members share 6', () => consumers[0]!.assignment().length === 3 && consumers[1]!.assignment().length === 3);
    const before = consumers.slice(0, 2).map((c) => new Set(c.assignment().map(tpKey)));
    pumps.push(pump(consumers[2]!));
    await until('three members share 6', () => consumers.every((c) => c.assignment().length === 2));
    for (const i of [0, 1]) {
      const kept = consumers[i]!.assignment().map(tpKey);
      for (const tp of kept) expect(before[i]!.has(tp)).toBe(true); // sticky
      // Only partitions that moved to the newcomer were revoked.
      expect(revoked[i]!.every((tp) => consumers[2]!.assignment().map(tpKey).includes(tp))).toBe(true);
      expect(revoked[i]!.length).toBe(1);
    }
    await Promise.all(pumps.map((p) => p.stop()));
    await Promise.all(consumers.map((c) => c.close()));
  }, 60_000);

  it('auto commits survive a restart of the coordinator\'s node; a RegExp subscriber re-forms the group from them', async () => {
    await admin.createTopics([{ topic: 'g3', numPartitions: 2, replicationFactor: 1 }]);
    await produce('g3', 2, 10);
    // Auto commit (and the final commit on close) instead of explicit commits.
    const consumer = new Consumer({ 'bootstrap.servers': address, 'group.id': 'G3', ...FAST, 'enable.auto.commit': true, 'auto.commit.interval.ms': 100 });
    consumer.subscribe(['g3']);
    const first = pump(consumer);
    await until('all 20 read', () => first.records.length === 20);
    await first.stop();
    await consumer.close();
    await admin.close();
    await node.close();
    await start();
    admin = new Admin({ 'bootstrap.servers': address });
    await produce('g3', 2, 5);
    const again = new Consumer({ 'bootstrap.servers': address, 'group.id': 'G3', ...FAST });
    again.subscribe(/^g3$/);
    const second = pump(again);
    await until('the 10 new records', () => second.records.length >= 10);
    await new Promise((r) => setTimeout(r, 300));
    expect(second.records.length).toBe(10);
    expect(second.records.every((r) => r.offset >= 10)).toBe(true);
    await second.stop();
    const committed = await again.committed([{ topic: 'g3', partition: 0 }, { topic: 'g3', partition: 1 }]);
    expect(committed.map((c) => c.offset)).toEqual([10, 10]);
    await again.close();
  }, 60_000);

  it('groupMetadata() keeps the identity of the last join when the coordinator drops the member, until poll() rejoins (KIP-447 fencing of a zombie\'s transaction)', async () => {
    await admin.createTopics([{ topic: 'g-meta', numPartitions: 2, replicationFactor: 1 }]);
    const consumer = new Consumer({ 'bootstrap.servers': address, 'group.id': 'G-meta', ...FAST });
    consumer.subscribe(['g-meta']);
    await until('joined', async () => { await consumer.poll({ timeoutMs: 100 }); return consumer.assignment().length === 2; });
    const joined = consumer.groupMetadata();
    expect(joined.generationId).toBeGreaterThan(0);
    expect(joined.memberId).not.toBe('');
    // The coordinator drops the member (as a session expiry does while its process is stopped).
    const groups = new GroupsClient(address, grpc.credentials.createInsecure());
    await new Promise<void>((resolve, reject) => groups.leaveGroup({ groupId: 'G-meta', memberId: joined.memberId }, (err) => (err ? reject(err) : resolve())));
    groups.close();
    // Its next heartbeat learns it (UNKNOWN_MEMBER_ID) outside poll().
    const group = (consumer as unknown as { group: { needsRejoin: boolean } }).group;
    await until('the heartbeat saw the member is gone', () => group.needsRejoin);
    // A transaction over records read in that generation must carry that identity, so the group fences
    // it — not an anonymous one the group would accept.
    expect(consumer.groupMetadata()).toEqual(joined);
    await until('rejoined', async () => { await consumer.poll({ timeoutMs: 100 }); return !group.needsRejoin && consumer.groupMetadata().generationId > joined.generationId; });
    expect(consumer.groupMetadata().memberId).not.toBe(joined.memberId);
    await consumer.close();
  }, 60_000);
});
