// A compacted partition with transactions, reopened without a producer-state snapshot (an unclean
// restart, or a new replica that copied the log): the rebuild from the log must find every transaction
// the cleaner saw as decided still decided, so the last stable offset reaches the high watermark. The
// cleaner keeps a producer's last transactional batch as an empty batch (its header carries the
// producer's epoch and sequence); its marker must stay with it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeRecordBatches, encodeRecordBatch } from '@tributary/protocol';
import { parseNodeConfig, resolveTopicConfig } from '../src/index.js';
import { Partition } from '../src/internal.js';
import { storageLogFactory } from '../src/adapters/storage-partition-log.js';
import type { PartitionLogPort } from '../src/partition-log.js';
import { anyProducerIds, silentLogger } from './helpers.js';

const DAY_MS = 86_400_000;
const broker = parseNodeConfig({ flags: { 'node.id': 1, 'data.dir': '/unused' } });
const config = resolveTopicConfig({ 'cleanup.policy': 'compact', 'segment.bytes': '300' }, broker);
const info = { topic: 't', topicId: 'id', partition: 0, leader: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1], isr: [1] };
const openLog = storageLogFactory({ logger: silentLogger, nowMs: () => 0 });
let dir: string | undefined;
afterEach(async () => { if (dir !== undefined) await rm(dir, { recursive: true, force: true }); });

const keyed = (key: string, value: string, spec: { producerId: number; producerEpoch: number; baseSequence: number; transactional?: boolean }): Buffer =>
  encodeRecordBatch({ ...spec, records: [{ key: Buffer.from(key), value: Buffer.from(value), timestamp: 1_000 }] });
const open = (log: PartitionLogPort): Partition => new Partition({
  nodeId: 1, info, config, log, logger: silentLogger, onHighWatermarkChange: () => undefined, producerIds: anyProducerIds,
  txnVerifier: { verify: async () => undefined },
});

describe('a compacted partition reopened without a producer-state snapshot', () => {
  it('has LSO = HW: the marker of a transaction whose batch the cleaner kept empty is still there', async () => {
    dir = await mkdtemp(join(tmpdir(), 'trib-compacted-txn-'));
    const log = await openLog({ dir, topic: 't', partition: 0, config });
    const partition = open(log);
    await partition.loadProducerState();
    await partition.appendAsLeader(keyed('k', 'in-txn', { producerId: 7, producerEpoch: 0, baseSequence: 0, transactional: true }), { requiredAcks: 1, nowMs: 0, transactionalId: 'tx' });
    await partition.writeTxnMarker({ producerId: 7, producerEpoch: 1, committed: true, coordinatorEpoch: 0 }, { nowMs: 2_000 });
    // A later value of k supersedes the transaction's only record; then enough to close the segments.
    for (let i = 0; i < 12; i++) await partition.appendAsLeader(keyed(i === 0 ? 'k' : `fill${i % 3}`, `v${i}`, { producerId: -1, producerEpoch: -1, baseSequence: -1 }), { requiredAcks: 1, nowMs: 0 });
    expect(partition.lastStableOffset).toBe(partition.highWatermark);
    expect(partition.highWatermark).toBe(partition.logEndOffset);
    // Past delete.retention.ms (default one day) of the marker's timestamp.
    await log.compact(3 * DAY_MS, { lastStableOffset: partition.lastStableOffset });
    const batches = decodeRecordBatches((await log.read(0, 1 << 20, { maxOffset: log.logEndOffset, minOneBatch: true })).records);
    expect(batches[0]).toMatchObject({ baseOffset: 0, producerId: 7, transactional: true, records: [] });
    const endOffset = partition.logEndOffset;
    await log.close();

    const reopenedLog = await openLog({ dir, topic: 't', partition: 0, config });
    const reopened = open(reopenedLog);
    expect(await reopened.loadProducerState()).toEqual({ snapshotOffset: undefined, scannedFrom: 0 });
    reopened.updateInfo(info);
    expect(reopened.logEndOffset).toBe(endOffset);
    expect(reopened.highWatermark).toBe(endOffset);
    expect(reopened.lastStableOffset).toBe(reopened.highWatermark);
    await reopenedLog.close();
  });
});
