import { cp, mkdir, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { decodeRecordBatches } from '@tributary/protocol';
import { batchOf, call, codeName, createTopic, fetchFrom, makeTempDir, produceBatch, startTestNode } from './helpers.js';

const valuesAt = async (t: Parameters<typeof fetchFrom>[0], topic: string, partition: number): Promise<string[]> => {
  const res = await fetchFrom(t, topic, partition, 0, { maxBytes: 10 * 1024 * 1024 });
  return decodeRecordBatches(Buffer.from(res.recordBatch ?? [])).flatMap((b) => b.records.map((r) => r.value?.toString() ?? ''));
};

describe('node lifecycle: restarts, recovery, deletion, live configs, shutdown, retention', () => {
  it('keeps topics, configs, records and the cluster id across a clean restart', async () => {
    let t = await startTestNode();
    try {
      await createTopic(t, 'durable', 2, { 'retention.ms': '123456' });
      for (let i = 0; i < 5; i++) await produceBatch(t, 'durable', i % 2, batchOf([`r${i}`]));
      const clusterId = t.node.clusterId;
      const pid = async () => {
        const res = await call(t.broker, t.broker.initProducerId, { producerId: -1, producerEpoch: -1 });
        expect(codeName(res.error)).toBe('NONE');
        expect(res.producerEpoch).toBe(0);
        return Number(res.producerId);
      };
      const [p1, p2] = [await pid(), await pid()];
      expect(p2).toBe(p1 + 1);
      const txn = await call(t.broker, t.broker.initProducerId, { transactionalId: 'tx-1', producerId: -1, producerEpoch: -1 });
      // A transactional id goes to the transaction coordinator, which refuses a missing (0) transaction timeout.
      expect(codeName(txn.error)).toBe('INVALID_TRANSACTION_TIMEOUT');
      t = await t.restart();
      // Producer ids are never handed out twice, even across restarts.
      expect(await pid()).toBeGreaterThan(p2);
      expect(t.node.clusterId).toBe(clusterId);
      expect(await valuesAt(t, 'durable', 0)).toEqual(['r0', 'r2', 'r4']);
      expect(await valuesAt(t, 'durable', 1)).toEqual(['r1', 'r3']);
      const described = await call(t.admin, t.admin.describeTopics, { names: ['durable'] });
      expect(described.topics[0]?.configs?.find((c) => c.name === 'retention.ms')?.value).toBe('123456');
      expect(described.topics[0]?.partitions?.map((p) => Number(p.highWatermark))).toEqual([3, 2]);
      // Appends continue at the right offsets.
      expect(Number((await produceBatch(t, 'durable', 0, batchOf(['r5']))).baseOffset)).toBe(3);
    } finally {
      await t.close();
      await rm(t.dataDir, { recursive: true, force: true });
    }
  });

  it('recovers from an unclean stop: every acknowledged whole batch survives, a torn tail is dropped', async () => {
    const t = await startTestNode();
    const crashDir = await makeTempDir();
    try {
      await createTopic(t, 'crashy');
      for (let i = 0; i < 4; i++) expect(codeName((await produceBatch(t, 'crashy', 0, batchOf([`a${i}`, `b${i}`]))).error)).toBe('NONE');
      // A crash image: the files as they are on disk while the node runs (no clean-shutdown marker,
      // no final checkpoints), then the last write torn in half.
      await cp(t.dataDir, crashDir, { recursive: true });
      const partitionDir = join(crashDir, 'crashy-0');
      const segment = (await readdir(partitionDir)).find((f) => f.endsWith('.log'));
      expect(segment).toBeDefined();
      const segmentPath = join(partitionDir, segment ?? '');
      const fullSize = (await stat(segmentPath)).size;
      await produceBatch(t, 'crashy', 0, batchOf(['torn']));
      await cp(join(t.dataDir, 'crashy-0', segment ?? ''), segmentPath);
      await truncate(segmentPath, fullSize + 20);

      const recovered = await startTestNode({ dataDir: crashDir });
      try {
        expect(await valuesAt(recovered, 'crashy', 0)).toEqual(['a0', 'b0', 'a1', 'b1', 'a2', 'b2', 'a3', 'b3']);
        expect(Number((await produceBatch(recovered, 'crashy', 0, batchOf(['after']))).baseOffset)).toBe(8);
      } finally {
        await recovered.close();
      }
    } finally {
      await t.close();
      await rm(t.dataDir, { recursive: true, force: true });
      await rm(crashDir, { recursive: true, force: true });
    }
  });

  it('deletes a topic\'s logs, and a re-created namesake starts empty', async () => {
    let t = await startTestNode();
    try {
      await createTopic(t, 'gone', 2);
      await produceBatch(t, 'gone', 0, batchOf(['old']));
      const deleted = await call(t.admin, t.admin.deleteTopics, { names: ['gone'] });
      expect(codeName(deleted.topics[0]?.error)).toBe('NONE');
      expect((await readdir(t.dataDir)).filter((d) => d.startsWith('gone-'))).toEqual([]);
      expect(codeName((await produceBatch(t, 'gone', 0, batchOf(['x']))).error)).toBe('UNKNOWN_TOPIC_OR_PARTITION');
      await createTopic(t, 'gone', 1);
      expect(await valuesAt(t, 'gone', 0)).toEqual([]);

      // A log the metadata does not know at start (a crash between persisting a deletion and removing
      // the files, or a directory copied in) is a stray: renamed `-stray` and kept, never deleted.
      // A `-delete` leftover (a committed deletion the crash interrupted) is removed. Directories that
      // are not partition logs are left alone.
      await mkdir(join(t.dataDir, 'orphan-0'));
      await writeFile(join(t.dataDir, 'orphan-0', '00000000000000000000.log'), 'bytes');
      await mkdir(join(t.dataDir, 'backup-1'));
      await mkdir(join(t.dataDir, `gone-1.${'0'.repeat(32)}-delete`));
      t = await t.restart();
      const dirs = await readdir(t.dataDir);
      expect(dirs).not.toContain('orphan-0');
      expect(dirs).not.toContain(`gone-1.${'0'.repeat(32)}-delete`);
      const strays = dirs.filter((d) => /^orphan-0\.[0-9a-f]{32}-stray$/.test(d));
      expect(strays).toHaveLength(1);
      expect(await readFile(join(t.dataDir, strays[0]!, '00000000000000000000.log'), 'utf8')).toBe('bytes');
      expect(dirs).toEqual(expect.arrayContaining(['backup-1', 'gone-0']));
    } finally {
      await t.close();
      await rm(t.dataDir, { recursive: true, force: true });
    }
  });

  it('applies altered configs to the live log: max.message.bytes and segment.bytes', async () => {
    const t = await startTestNode();
    try {
      await createTopic(t, 'live', 1, { 'max.message.bytes': '2000' });
      const big = batchOf(['x'.repeat(3000)]);
      expect(codeName((await produceBatch(t, 'live', 0, big)).error)).toBe('MESSAGE_TOO_LARGE');
      const resource = { type: 0, name: 'live' };
      const altered = await call(t.admin, t.admin.alterConfigs, { resources: [{ resource, configs: [{ name: 'max.message.bytes', value: '10000' }, { name: 'segment.bytes', value: '4000' }] }] });
      expect(codeName(altered.results[0]?.error)).toBe('NONE');
      expect(codeName((await produceBatch(t, 'live', 0, batchOf(['x'.repeat(3000)]))).error)).toBe('NONE');
      for (let i = 0; i < 3; i++) expect(codeName((await produceBatch(t, 'live', 0, batchOf(['y'.repeat(3000)]))).error)).toBe('NONE');
      // 4 batches of ~3 KB with 4000-byte segments: the log rolled.
      const segments = (await readdir(join(t.dataDir, 'live-0'))).filter((f) => f.endsWith('.log'));
      expect(segments.length).toBeGreaterThanOrEqual(3);
      expect((await valuesAt(t, 'live', 0)).length).toBe(4);
    } finally {
      await t.close();
    }
  });

  it('close() answers parked fetches promptly, releases cancelled ones, and is idempotent', async () => {
    const t = await startTestNode();
    await createTopic(t, 'idle');
    const waiting = async (): Promise<string | undefined> => (await t.node.metrics.registry.getSingleMetricAsString('tributary_waiting_requests')).split('\n').find((l) => l.startsWith('tributary_waiting_requests{'));
    // Exactly n parked: waited for with a deadline (a busy machine delivers the call late), never assumed after a sleep.
    const parkedCount = (n: number): Promise<void> => vi.waitFor(async () => expect(await waiting()).toMatch(new RegExp(` ${n}$`)), { timeout: 10_000, interval: 20 });
    // A client-cancelled long poll releases its waiter.
    const cancelled = t.broker.fetch({ maxWaitMs: 20_000, minBytes: 1, topics: [{ topic: 'idle', partitions: [{ partition: 0, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }] }, () => undefined);
    await parkedCount(1);
    cancelled.cancel();
    await parkedCount(0); // long before its 20 s max wait

    const parked = fetchFrom(t, 'idle', 0, 0, { maxWaitMs: 20_000, minBytes: 1 });
    await parkedCount(1);
    const started = Date.now();
    // Without a controlled shutdown: that moves leadership away first, and the parked fetch would then be
    // answered NOT_LEADER_OR_FOLLOWER or NONE depending on which came first (tests of it: cluster/).
    await Promise.all([t.node.close({ controlledShutdown: false }), t.node.close({ controlledShutdown: false })]);
    const answered = await parked.then((p) => codeName(p.error), (e: Error) => e.message);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(answered).toBe('NONE');
    await t.close();
  });

  it('runs retention on its timer: old segments go, the log start offset moves, old offsets are out of range', async () => {
    const t = await startTestNode({ set: { 'log.retention.check.interval.ms': '100' } });
    try {
      await createTopic(t, 'short', 1, { 'segment.bytes': '4000', 'retention.bytes': '5000' });
      for (let i = 0; i < 5; i++) await produceBatch(t, 'short', 0, batchOf([`${i}`.padEnd(3000, 'r')]));
      let logStartOffset = 0;
      for (let waited = 0; waited < 5000 && logStartOffset === 0; waited += 100) {
        await new Promise((r) => setTimeout(r, 100));
        const described = await call(t.admin, t.admin.describeTopics, { names: ['short'] });
        logStartOffset = Number(described.topics[0]?.partitions?.[0]?.logStartOffset);
      }
      expect(logStartOffset).toBeGreaterThan(0);
      expect(codeName((await fetchFrom(t, 'short', 0, 0)).error)).toBe('OFFSET_OUT_OF_RANGE');
      const earliest = await call(t.broker, t.broker.listOffsets, { topics: [{ topic: 'short', partitions: [{ partition: 0, spec: 1 }] }] });
      expect(Number(earliest.topics[0]?.partitions?.[0]?.offset)).toBe(logStartOffset);
    } finally {
      await t.close();
    }
  });
});
