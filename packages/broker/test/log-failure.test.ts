// One node, one failed partition log: the partition answers KAFKA_STORAGE_ERROR and shows its replica
// offline; every other partition serves; the stop writes no clean-shutdown marker (clean-shutdown.ts),
// so the next start cannot claim the lost-nothing guarantee a clean stop gives. The 3-node scenarios
// (leadership moving away) are in test/cluster/log-failure.test.ts.
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLEAN_SHUTDOWN_FILE } from '../src/clean-shutdown.js';
import { batchOf, call, codeName, createTopic, fetchFrom, makeTempDir, produceBatch, startTestNode, type TestNode } from './helpers.js';

function segmentName(baseOffset: number): string {
  return `${String(baseOffset).padStart(20, '0')}.log`;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function offlineReplicas(t: TestNode, topic: string): Promise<number[]> {
  const md = await call(t.broker, t.broker.metadata, { topics: [topic] });
  const described = await call(t.admin, t.admin.describeTopics, { names: [topic] });
  const fromMetadata = [...(md.topics[0]?.partitions?.[0]?.offlineReplicas ?? [])];
  expect([...(described.topics[0]?.partitions?.[0]?.offlineReplicas ?? [])]).toEqual(fromMetadata);
  return fromMetadata;
}

async function offlineGauge(t: TestNode): Promise<number | undefined> {
  const metric = t.node.metrics.registry.getSingleMetric('tributary_offline_replicas');
  return metric === undefined ? undefined : (await metric.get()).values[0]?.value;
}

/** The directory's listing once no `.tmp` file (an atomic write in flight) is left, within a deadline. */
async function settledListing(dir: string, timeoutMs = 10_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const names = (await readdir(dir)).sort();
    if (!names.some((n) => n.endsWith('.tmp'))) return names;
    if (Date.now() > deadline) throw new Error(`${dir} still has a .tmp file after ${timeoutMs} ms: ${names.join(', ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Produce to `ok` and read it back: the rest of the node serves. */
async function expectServes(t: TestNode, offset: number): Promise<void> {
  const produced = await produceBatch(t, 'ok', 0, batchOf([`ok-${offset}`]));
  expect(codeName(produced.error)).toBe('NONE');
  expect(Number(produced.baseOffset)).toBe(offset);
  expect(codeName((await fetchFrom(t, 'ok', 0, 0)).error)).toBe('NONE');
}

describe('a failed partition log on one node', () => {
  it('failing while running: KAFKA_STORAGE_ERROR for it alone, and no clean-shutdown marker at the stop', async () => {
    const dataDir = await makeTempDir();
    const t = await startTestNode({ dataDir });
    try {
      await createTopic(t, 'ok');
      await createTopic(t, 'bad', 1, { 'segment.bytes': '1024' }); // a 2 KB batch rolls a segment per append
      await expectServes(t, 0);
      for (let i = 0; i < 2; i++) expect(codeName((await produceBatch(t, 'bad', 0, batchOf(['x'.repeat(2000)]))).error)).toBe('NONE');
      // The next roll cannot create segment 2: the disk "fails" under the running log.
      await mkdir(join(dataDir, 'bad-0', segmentName(2)));
      const failed = await produceBatch(t, 'bad', 0, batchOf(['y'.repeat(2000)]));
      expect(codeName(failed.error)).toBe('KAFKA_STORAGE_ERROR');
      const again = await produceBatch(t, 'bad', 0, batchOf(['z']));
      expect(codeName(again.error)).toBe('KAFKA_STORAGE_ERROR');
      expect(again.error?.message).toMatch(/offline/);
      expect(codeName((await fetchFrom(t, 'bad', 0, 0)).error)).toBe('KAFKA_STORAGE_ERROR');
      expect(await offlineReplicas(t, 'bad')).toEqual([1]);
      expect(await offlineReplicas(t, 'ok')).toEqual([]);
      expect(await offlineGauge(t)).toBe(1);
      await expectServes(t, 1);
      // An atomic write the log began before it failed (a time index written as .tmp, then renamed) may
      // still finish; wait until none is in flight, then nothing may change any more.
      const files = await settledListing(join(dataDir, 'bad-0'));

      await t.node.close();
      expect(await exists(join(dataDir, CLEAN_SHUTDOWN_FILE))).toBe(false);
      expect((await readdir(join(dataDir, 'bad-0'))).sort()).toEqual(files); // nothing removed, nothing added
    } finally {
      await t.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('unopenable at start: the node starts, the partition is offline, the rest serves', async () => {
    const dataDir = await makeTempDir();
    let t = await startTestNode({ dataDir });
    try {
      await createTopic(t, 'ok');
      await createTopic(t, 'bad');
      expect(codeName((await produceBatch(t, 'bad', 0, batchOf(['a', 'b']))).error)).toBe('NONE');
      await t.node.close();
      expect(await exists(join(dataDir, CLEAN_SHUTDOWN_FILE))).toBe(true); // a clean stop writes it
      await mkdir(join(dataDir, 'bad-0', segmentName(1))); // segment 0 holds offsets 0..1: 1 cannot be read
      t = await startTestNode({ dataDir });
      expect(codeName((await produceBatch(t, 'bad', 0, batchOf(['c']))).error)).toBe('KAFKA_STORAGE_ERROR');
      expect(await offlineReplicas(t, 'bad')).toEqual([1]);
      expect(await offlineGauge(t)).toBe(1);
      await expectServes(t, 0);
      await t.node.close();
      expect(await exists(join(dataDir, CLEAN_SHUTDOWN_FILE))).toBe(false);
      expect((await readdir(join(dataDir, 'bad-0'))).some((f) => f === segmentName(0))).toBe(true);
    } finally {
      await t.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
