// Log maintenance (log-maintenance.ts) is the one owner of retention and the log cleaner: on a node with
// no consumer group activity at all (no __consumer_offsets, the group coordinator idle) it compacts a
// compacted topic and applies retention to another, each on its own schedule (Kafka's keys).
import { decodeRecordBatches, tributary } from '@tributary/protocol';
import { describe, expect, it } from 'vitest';
import { LogMaintenance, type MaintainedLog } from '../src/internal.js';
import { batchOf, call, createTopic, produceBatch, silentLogger, startTestNode, type TestNode } from './helpers.js';

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function recordsIn(t: TestNode, topic: string): Promise<number> {
  const r = await call(t.broker, t.broker.fetch, {
    maxWaitMs: 0, minBytes: 0, maxBytes: 16 * 1024 * 1024,
    topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 16 * 1024 * 1024, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
    format: tributary.v1.RecordFormat.BATCH,
  });
  const bytes = r.topics[0]?.partitions?.[0]?.recordBatch;
  return bytes === undefined || bytes === null ? 0 : decodeRecordBatches(bytes).reduce((n, b) => n + b.records.length, 0);
}

describe('log maintenance on a node', () => {
  it('compacts a compacted topic and applies retention, with no group coordinator involved', async () => {
    const t = await startTestNode({ set: { 'log.cleaner.backoff.ms': '50', 'log.retention.check.interval.ms': '100' } });
    try {
      await createTopic(t, 'keyed', 1, { 'cleanup.policy': 'compact', 'segment.bytes': '600' });
      await createTopic(t, 'short', 1, { 'segment.bytes': '4000', 'retention.bytes': '5000' });
      const KEYS = 3;
      for (let i = 0; i < 120; i++) {
        const p = await produceBatch(t, 'keyed', 0, batchOf([`v${i}`], { key: Buffer.from(`k${i % KEYS}`) }));
        expect(p.error?.code ?? 0).toBe(0);
      }
      for (let i = 0; i < 5; i++) await produceBatch(t, 'short', 0, batchOf([`${i}`.padEnd(3000, 'r')]));

      // 120 records over 3 keys: the closed segments shrink to about one record per key per segment.
      await until('the cleaner compacted "keyed"', async () => ((await recordsIn(t, 'keyed')) < 60 ? true : undefined));
      await until('retention moved the log start of "short"', async () => {
        const described = await call(t.admin, t.admin.describeTopics, { names: ['short'] });
        return Number(described.topics[0]?.partitions?.[0]?.logStartOffset) > 0 ? true : undefined;
      });
      // Nothing of the consumer groups ran: the cleaner is not theirs.
      expect(t.node.metadata.topic('__consumer_offsets')).toBeUndefined();
    } finally {
      await t.close();
    }
  });
});

describe('LogMaintenance', () => {
  it('one failing log does not stop the pass; passes never overlap; close waits for the pass under way', async () => {
    const events: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const log = (name: string, policy: string, fail = false): MaintainedLog => {
      const step = async (what: string): Promise<void> => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        events.push(`${what} ${name}`);
        if (fail) throw new Error(`${name} failed`);
      };
      return { topic: name, partition: 0, topicConfig: { cleanupPolicy: policy }, log: { applyRetention: () => step('retention'), compact: () => step('compact') } };
    };
    const logs = [log('a', 'delete', true), log('b', 'compact'), log('c', 'compact,delete')];
    const maintenance = new LogMaintenance({
      config: { retentionCheckIntervalMs: 1_000_000, cleanerEnable: true, cleanerBackoffMs: 1_000_000 },
      logs: () => logs, nowMs: () => 0, logger: silentLogger,
    });
    await Promise.all([maintenance.runRetention(), maintenance.runCleaner(), maintenance.runRetention()]);
    expect(events).toEqual([
      'retention a', 'retention b', 'retention c',
      'compact b', 'compact c',
      'retention a', 'retention b', 'retention c',
    ]);
    expect(maxRunning).toBe(1);
    events.length = 0;
    const pass = maintenance.runRetention();
    await maintenance.close();
    expect(events.length).toBeLessThanOrEqual(1); // stopped at the next log
    await pass;
    await maintenance.runCleaner();
    expect(events.length).toBeLessThanOrEqual(1); // nothing runs once closed
  });

  it('gives the cleaner each partition\'s last stable offset (it never cleans undecided transactions)', async () => {
    const seen: { lastStableOffset: number }[] = [];
    const logs: MaintainedLog[] = [{
      topic: 'k', partition: 0, topicConfig: { cleanupPolicy: 'compact' }, lastStableOffset: 7,
      log: { highWatermark: 12, applyRetention: async () => undefined, compact: async (_nowMs, options) => { seen.push(options); } },
    }];
    const maintenance = new LogMaintenance({ config: { retentionCheckIntervalMs: 1_000_000, cleanerEnable: true, cleanerBackoffMs: 1_000_000 }, logs: () => logs, nowMs: () => 0, logger: silentLogger });
    await maintenance.runCleaner();
    await maintenance.close();
    expect(seen).toEqual([{ lastStableOffset: 7 }]);
  });
});
