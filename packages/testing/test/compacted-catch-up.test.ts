// A replica that was down while its leader compacted the partition must catch up from the compacted
// log and rejoin the ISR (Kafka's follower rule: batches may start after the log end offset; the
// leader's cleaner leaves offset gaps). Compacted topics are __consumer_offsets and __transaction_state
// among others, so a replica that can not do this stays out of sync forever after a restart, a
// reassignment or a lost disk. Three real nodes on loopback; the cleaner runs on the leader only, so
// the follower's copy is exactly what the leader served: its batches must be byte-identical.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, type PartitionDescription } from '@tributary/client';
import { PartitionLog } from '@tributary/storage';
import { CLEANER_CHECKPOINT_FILE, parseCleanerCheckpoint } from '@tributary/storage/internal';
import { startCluster, waitFor, type InProcessCluster } from '../src/index.js';

const TOPIC = 'compacted-catch-up';
const KEYS = 5;
const RECORDS = 600;
/** Every ONCE_EVERY-th record has a key of its own (it stays). */
const ONCE_EVERY = 60;
/**
 * Big against what compaction keeps (KEYS + RECORDS / ONCE_EVERY records of about 120 bytes), so the
 * uncleaned closed segments at the end always exceed min.cleanable.dirty.ratio (0.5) and the leader's
 * cleaner reaches its active segment.
 */
const SEGMENT_BYTES = 4096;

let cluster: InProcessCluster | undefined;
let root: string | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
  if (root !== undefined) await rm(root, { recursive: true, force: true });
  root = undefined;
});


async function describePartition(admin: Admin, partition: number): Promise<PartitionDescription> {
  return (await admin.describeTopics([TOPIC]))[0]!.partitions.find((p) => p.partition === partition)!;
}

/** The leader's cleaner has cleaned every closed segment: its checkpoint reached the active segment's base. */
async function cleanedUpToActiveSegment(dir: string): Promise<boolean> {
  const checkpoint = parseCleanerCheckpoint(await readFile(join(dir, CLEANER_CHECKPOINT_FILE), 'utf8').catch(() => null));
  const bases = (await readdir(dir)).filter((n) => /^\d{20}\.log$/.test(n)).map((n) => Number(n.slice(0, 20)));
  return checkpoint !== null && bases.length > 1 && checkpoint.firstDirtyOffset === Math.max(...bases);
}

/** Every batch of a stopped node's partition log, as raw bytes with its offsets. */
async function batchesOf(dir: string): Promise<{ logEndOffset: number; batches: { baseOffset: number; lastOffset: number; bytes: Buffer }[] }> {
  const log = await PartitionLog.open({ dir, clock: () => Date.now() });
  try {
    const batches: { baseOffset: number; lastOffset: number; bytes: Buffer }[] = [];
    let offset = log.logStartOffset;
    while (offset < log.logEndOffset) {
      const { records } = await log.read(offset, 64 * 1024);
      if (records.length === 0) break;
      for (let at = 0; at < records.length;) {
        const size = 12 + records.readInt32BE(at + 8);
        const baseOffset = Number(records.readBigInt64BE(at));
        const lastOffset = baseOffset + records.readInt32BE(at + 23);
        if (lastOffset >= offset) batches.push({ baseOffset, lastOffset, bytes: Buffer.from(records.subarray(at, at + size)) });
        offset = lastOffset + 1;
        at += size;
      }
    }
    return { logEndOffset: log.logEndOffset, batches };
  } finally {
    await log.close();
  }
}

describe('a follower catches up from a compacted leader log', () => {
  it('rejoins the ISR with byte-identical batches; consumers read across the gaps', async () => {
    root = await mkdtemp(join(tmpdir(), 'tributary-compacted-catch-up-'));
    // The cleaner runs on node 1 only (it leads the partition used below), so nothing rewrites the
    // follower's copy after it caught up.
    cluster = await startCluster({
      nodes: 3,
      dataDir: root,
      configs: { 'log.cleaner.enable': 'false', 'replica.lag.time.max.ms': '1500', 'replica.fetch.wait.max.ms': '200', 'replica.fetch.backoff.ms': '100' },
      nodeConfigs: { 1: { 'log.cleaner.enable': 'true', 'log.cleaner.backoff.ms': '50' } },
    });
    const c = cluster;
    const admin = new Admin({ 'bootstrap.servers': c.bootstrapServers, 'request.timeout.ms': 2000 });
    const producer = new Producer({ 'bootstrap.servers': c.bootstrapServers, acks: 'all', 'linger.ms': 0, 'request.timeout.ms': 3000, 'delivery.timeout.ms': 20_000 });
    const consumer = new Consumer({ 'bootstrap.servers': c.bootstrapServers, 'auto.offset.reset': 'earliest', 'request.timeout.ms': 3000 });
    let leaderDir = '';
    let followerDir = '';
    try {
      await admin.createTopics([{ topic: TOPIC, numPartitions: 3, replicationFactor: 3, configs: { 'cleanup.policy': 'compact', 'segment.bytes': String(SEGMENT_BYTES) } }]);
      // The partition node 1 leads as its preferred replica (placement gives each node one).
      const chosen = await waitFor('node 1 leading a partition with the full ISR', async () => {
        const partitions = (await admin.describeTopics([TOPIC]))[0]!.partitions;
        return partitions.find((p) => p.replicas[0] === 1 && p.leader === 1 && p.isr.length === 3);
      });
      const partition = chosen.partition;
      const follower = chosen.replicas[1]!;
      leaderDir = join(root, 'node-1', `${TOPIC}-${partition}`);
      followerDir = join(root, `node-${follower}`, `${TOPIC}-${partition}`);

      await c.kill(follower);
      // Many values per key: the leader's cleaner removes most records and whole batches; a record
      // with a key of its own stays, so gaps lie between kept records all along the log.
      for (let i = 0; i < RECORDS; i++) {
        const key = i % ONCE_EVERY === 0 ? `once-${i}` : `k${i % KEYS}`;
        await producer.send({ topic: TOPIC, partition, key, value: `v${i}-${'x'.repeat(40)}` });
      }
      await waitFor('the leader to clean every closed segment', async () => ((await cleanedUpToActiveSegment(leaderDir)) ? true : undefined));

      // Consumers read the compacted log across its gaps: each fetch offset after the last record it
      // got may be a removed offset, and a seek into a gap starts at the next record.
      const tp = { topic: TOPIC, partition };
      consumer.assign([tp]);
      consumer.seekToBeginning([tp]);
      const offsets: number[] = [];
      await waitFor('a consumer to read the compacted partition to its end', async () => {
        for (const r of await consumer.poll({ timeoutMs: 200 })) offsets.push(r.offset);
        return offsets.at(-1) === RECORDS - 1 ? true : undefined;
      });
      expect(offsets.length).toBeLessThan(RECORDS / 2);
      const gaps = offsets.filter((o, i) => i > 0 && o > offsets[i - 1]! + 1).length;
      expect(gaps).toBeGreaterThan(5);
      const gap = offsets.findIndex((o, i) => i > 0 && o > offsets[i - 1]! + 1);
      consumer.seek(tp, offsets[gap - 1]! + 1);
      const afterSeek = await waitFor('records after a seek into a gap', async () => {
        const records = await consumer.poll({ timeoutMs: 200 });
        return records.length > 0 ? records : undefined;
      });
      expect(afterSeek[0]!.offset).toBe(offsets[gap]);

      // The follower comes back with an empty log: everything it fetches is the compacted range.
      await c.restart(follower);
      const caughtUp = await waitFor(`node ${follower} back in the ISR of ${TOPIC}-${partition}`, async () => {
        const p = await describePartition(admin, partition);
        return p.isr.includes(follower) && p.leader === 1 ? p : undefined;
      });
      expect(caughtUp.isr).toHaveLength(3);
    } finally {
      await consumer.close();
      await producer.close({ timeoutMs: 5000 });
      await admin.close();
    }
    // Stop every node, then compare the two logs on disk.
    for (const b of c.brokers) await c.kill(b.nodeId);
    const leaderLog = await batchesOf(leaderDir);
    const copy = await batchesOf(followerDir);
    expect(copy.logEndOffset).toBe(leaderLog.logEndOffset);
    expect(copy.batches.map((b) => [b.baseOffset, b.lastOffset])).toEqual(leaderLog.batches.map((b) => [b.baseOffset, b.lastOffset]));
    for (const [i, b] of copy.batches.entries()) expect(b.bytes.equals(leaderLog.batches[i]!.bytes), `batch at offset ${b.baseOffset}`).toBe(true);
    // The copy has the leader's gaps.
    expect(copy.batches.some((b, i) => i > 0 && b.baseOffset > copy.batches[i - 1]!.lastOffset + 1)).toBe(true);
  }, 120_000);
});
