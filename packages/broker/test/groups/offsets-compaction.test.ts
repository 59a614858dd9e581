// The log cleaner timer compacts __consumer_offsets (many commits to one key shrink to about one record per
// key in closed segments), and a restarted node loads the latest commit from the compacted log.
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { GroupsClient, decodeRecordBatches, tributary } from '@tributary/protocol';
import { call, createTopic, startTestNode, type TestNode } from '../helpers.js';

const GROUPS = { 'offsets.topic.num.partitions': 1, 'offsets.topic.segment.bytes': 600, 'log.cleaner.backoff.ms': 100 };
let t: TestNode | undefined;

afterAll(async () => {
  await t?.close();
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function offsetsRecords(node: TestNode): Promise<number> {
  const r = await call(node.broker, node.broker.fetch, {
    maxWaitMs: 0, minBytes: 0, maxBytes: 16 * 1024 * 1024,
    topics: [{ topic: '__consumer_offsets', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 16 * 1024 * 1024, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
    format: tributary.v1.RecordFormat.BATCH,
  });
  const bytes = r.topics[0]?.partitions?.[0]?.recordBatch;
  return bytes === undefined || bytes === null ? 0 : decodeRecordBatches(bytes).reduce((n, b) => n + b.records.length, 0);
}

describe('__consumer_offsets compaction', () => {
  it('200 commits to one partition compact away; the latest survives a restart', async () => {
    t = await startTestNode({ options: { groups: GROUPS } });
    await createTopic(t, 'ct');
    const groupsAt = (node: TestNode) => new GroupsClient(node.node.address, grpc.credentials.createInsecure());
    let groups = groupsAt(t);
    await until('a coordinator', async () => {
      const r = await call(groups, groups.findCoordinator, { groupId: 'CG' });
      return (r.error?.code ?? 0) === 0 ? true : undefined;
    });
    for (let offset = 1; offset <= 200; offset++) {
      const r = await until('commit', async () => {
        const res = await call(groups, groups.offsetCommit, { groupId: 'CG', generationId: -1, memberId: '', topics: [{ topic: 'ct', partitions: [{ partition: 0, committedOffset: offset }] }] });
        return (res.topics[0]?.partitions?.[0]?.error?.code ?? 0) === 0 ? res : undefined;
      });
      expect(r).toBeDefined();
    }
    const node = t;
    await until('the cleaner compacted the offsets partition', async () => ((await offsetsRecords(node)) < 50 ? true : undefined));
    groups.close();
    t = await t.restart({ groups: GROUPS });
    groups = groupsAt(t);
    const fetched = await until('the reloaded commit', async () => {
      const r = await call(groups, groups.offsetFetch, { groupId: 'CG', topics: [{ topic: 'ct', partitions: [0] }] });
      return (r.error?.code ?? 0) === 0 ? r : undefined;
    });
    expect(Number(fetched.topics[0]!.partitions![0]!.committedOffset)).toBe(200);
    groups.close();
  }, 60_000);
});
