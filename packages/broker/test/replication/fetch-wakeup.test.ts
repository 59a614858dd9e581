// Long-poll fetches must not lose a wake-up: an append (or HW advance) that lands while a fetch is
// still reading notifies before the fetch parks. The fetch must see it and answer at once, not sleep
// for its whole max wait (which made every acks=all produce wait replica.fetch.wait.max.ms under load).
import { afterEach, describe, expect, it } from 'vitest';
import { encodeRecordBatch } from '@tributary/protocol';
import { ChangeNotifier } from '../../src/change-notifier.js';
import { fetch } from '../../src/fetch.js';
import { memoryLogFactory } from '../../src/memory-partition-log.js';
import type { BrokerNode, MetadataView, PartitionInfo, TopicInfo } from '../../src/metadata-view.js';
import { parseNodeConfig } from '../../src/node-config.js';
import type { LogFactory, PartitionLogPort } from '../../src/partition-log.js';
import { ReplicaManager } from '../../src/replica-manager.js';
import { serveReplicaFetch } from '../../src/replication/replica-service.js';
import { silentLogger } from '../helpers.js';

const MAX_WAIT_MS = 3000;
const STATE: PartitionInfo = { topic: 't', topicId: 'T', partition: 0, leader: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1, 2], isr: [1] };

/** Runs `duringRead` after a read has computed its (empty) result and before it returns. */
function hookedLogs(hook: { duringRead: (() => Promise<void>) | undefined }): LogFactory {
  const inner = memoryLogFactory();
  return async (options) => {
    const log = await inner(options);
    return new Proxy(log, {
      get: (target, key) => {
        if (key === 'read') {
          return async (...args: Parameters<PartitionLogPort['read']>) => {
            const result = await target.read(...args);
            const run = hook.duringRead;
            hook.duringRead = undefined;
            await run?.();
            return result;
          };
        }
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
}

async function leader(hook: { duringRead: (() => Promise<void>) | undefined }): Promise<{ manager: ReplicaManager; notifier: ChangeNotifier }> {
  const topic = (): TopicInfo => ({ name: 't', topicId: 'T', internal: false, partitions: [STATE], configs: { 'min.insync.replicas': '1' } });
  const metadata: MetadataView = {
    clusterId: 'c',
    controller: () => ({ leaderId: 1, term: 1 }),
    brokers: (): BrokerNode[] => [1, 2].map((nodeId) => ({ nodeId, host: 'h', port: nodeId, rack: undefined, roles: ['broker'], fenced: false })),
    topics: () => [topic()],
    topic: (name) => (name === 't' ? topic() : undefined),
    partition: (name, p) => (name === 't' && p === 0 ? STATE : undefined),
    producerIdsEnd: () => 0,
  };
  const notifier = new ChangeNotifier();
  const manager = new ReplicaManager({
    nodeId: 1, config: parseNodeConfig({ flags: { 'node.id': 1, listen: '127.0.0.1:0', 'data.dir': '/nonexistent/1' }, set: {} }),
    metadata, openLog: hookedLogs(hook), notifier, logger: silentLogger, nowMs: Date.now,
    replication: {
      alterPartition: { alterPartition: async () => ({ ok: false, error: 'INVALID_UPDATE_VERSION', message: 'not in this test' }) },
      brokerEpoch: () => 1,
      fetchTransport: { fetch: async () => { throw new Error('not in this test'); }, close: () => undefined },
      config: { replicaLagTimeMaxMs: 60_000, replicaFetchWaitMaxMs: 100 },
    },
  });
  await manager.applyPartitionStates([STATE], []);
  return { manager, notifier };
}

const oneBatch = (): Buffer => encodeRecordBatch({ records: [{ key: null, value: Buffer.from('late'), headers: [], timestamp: 1 }] });
const batchBytes = (): number => oneBatch().length;

const append = (manager: ReplicaManager) => async (): Promise<void> => {
  const batch = oneBatch();
  await manager.findPartition('t', 0)!.appendAsLeader(batch, { requiredAcks: 1, nowMs: Date.now() });
};

describe('long-poll fetches see changes that land while they read', () => {
  let manager: ReplicaManager | undefined;
  afterEach(async () => {
    await manager?.shutdown();
    manager = undefined;
  });

  it('a follower fetch answers with an append made during its read, not after max wait', async () => {
    const hook: { duringRead: (() => Promise<void>) | undefined } = { duringRead: undefined };
    const l = await leader(hook);
    manager = l.manager;
    await append(l.manager)();
    hook.duringRead = append(l.manager);
    const started = Date.now();
    // minBytes = one batch + 1: the first read (one batch) is too little, so the fetch parks — unless it
    // notices the append made while it read.
    const res = await serveReplicaFetch({
      replicaId: 2, brokerEpoch: 1, clusterId: 'c', maxWaitMs: MAX_WAIT_MS, minBytes: batchBytes() + 1, maxBytes: 1 << 20, partitionMaxBytes: 1 << 20,
      partitions: [{ topic: 't', partition: 0, fetchOffset: 0, lastFetchedEpoch: -1, currentLeaderEpoch: 0, logStartOffset: 0 }],
    }, { clusterId: 'c', replicas: l.manager, notifier: l.notifier, nowMs: Date.now, logger: silentLogger });
    expect(hook.duringRead).toBeUndefined(); // the hook ran
    expect(res.partitions[0]!.records.length).toBe(2 * batchBytes());
    expect(Date.now() - started).toBeLessThan(MAX_WAIT_MS / 2);
  });

  it('a consumer fetch answers with a high watermark advance made during its read, not after max wait', async () => {
    const hook: { duringRead: (() => Promise<void>) | undefined } = { duringRead: undefined };
    const l = await leader(hook);
    manager = l.manager;
    // A first record so the consumer's read goes to the log (fetchOffset < HW) and runs the hook.
    await append(l.manager)();
    expect(l.manager.findPartition('t', 0)!.highWatermark).toBe(1);
    const started = Date.now();
    hook.duringRead = append(l.manager);
    // minBytes = one batch + 1: the first read (one batch) is too little, so the fetch parks — unless it
    // notices that the HW moved to 2 while it read, and reads the second batch.
    const results = await fetch({
      maxWaitMs: MAX_WAIT_MS, minBytes: batchBytes() + 1, maxBytes: 1 << 20, isolation: 'read_uncommitted',
      partitions: [{ topic: 't', partition: 0, fetchOffset: 0, partitionMaxBytes: 0, currentLeaderEpoch: 0, lastFetchedEpoch: -1 }],
    }, { replicas: l.manager, notifier: l.notifier, nowMs: Date.now });
    expect(hook.duringRead).toBeUndefined();
    expect(results![0]!.highWatermark).toBe(2);
    expect(Date.now() - started).toBeLessThan(MAX_WAIT_MS / 2);
  });
});
