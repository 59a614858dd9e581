// producer-state.snapshot: the idempotent producer table survives a clean restart without a scan of
// the log tail, a later unclean restart scans only from the snapshot's offset, and a snapshot that is
// corrupt, torn or outside the log is never trusted (the bounded scan takes over). Retries of batches
// written before the restart get their original offsets back in every case.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeRecordBatch } from '@tributary/protocol';
import { MemoryPartitionLog, parseNodeConfig, resolveTopicConfig } from '../src/index.js';
import { Partition } from '../src/internal.js';
import { FileProducerStateStore } from '../src/adapters/file-producer-state-store.js';
import { PRODUCER_STATE_SNAPSHOT_FILE, decodeProducerSnapshot, encodeProducerSnapshot } from '../src/replication/producer-state-snapshot.js';
import { anyProducerIds, silentLogger } from './helpers.js';

const broker = parseNodeConfig({ flags: { 'node.id': 1, 'data.dir': '/unused' } });
const config = resolveTopicConfig({}, broker);
const info = { topic: 't', topicId: 'id', partition: 0, leader: 1, leaderEpoch: 1, partitionEpoch: 0, replicas: [1], isr: [1] };
let dir: string | undefined;
afterEach(() => { if (dir !== undefined) rmSync(dir, { recursive: true, force: true }); });

const batch = (seq: number, records = 2): Buffer => encodeRecordBatch({
  producerId: 7, producerEpoch: 0, baseSequence: seq,
  records: Array.from({ length: records }, (_, i) => ({ key: null, value: Buffer.from(`v${seq + i}`), timestamp: 1_000 })),
});
const open = (log: MemoryPartitionLog, snapshotDir: string): Partition =>
  new Partition({ nodeId: 1, info, config, log, producerStateStore: new FileProducerStateStore(snapshotDir), logger: silentLogger, onHighWatermarkChange: () => undefined, producerIds: anyProducerIds });
const append = async (p: Partition, seq: number): Promise<number> => (await p.appendAsLeader(batch(seq), { requiredAcks: 1, nowMs: 0 })).batchBaseOffsets[0]!;

describe('producer state snapshot', () => {
  it('is loaded on open instead of a scan; an unclean restart scans only from its offset', async () => {
    dir = mkdtempSync(join(tmpdir(), 'trib-pss-'));
    const log = new MemoryPartitionLog(config);
    const first = open(log, dir);
    expect(await first.loadProducerState()).toEqual({ snapshotOffset: undefined, scannedFrom: 0 });
    const offsets: number[] = [];
    for (let seq = 0; seq < 10; seq += 2) offsets.push(await append(first, seq));
    await first.writeProducerSnapshot();
    const snapshotOffset = first.logEndOffset;

    const second = open(log, dir);
    expect(await second.loadProducerState()).toEqual({ snapshotOffset, scannedFrom: snapshotOffset });
    expect(await append(second, 6)).toBe(offsets[3]); // a retry: its original offsets, nothing appended
    expect(second.logEndOffset).toBe(snapshotOffset);
    const after = await append(second, 10); // written after the snapshot, then a crash (no new snapshot)

    const third = open(log, dir);
    expect(await third.loadProducerState()).toEqual({ snapshotOffset, scannedFrom: snapshotOffset });
    expect(await append(third, 10)).toBe(after);
    expect(await append(third, 8)).toBe(offsets[4]);
    await expect(third.appendAsLeader(batch(20), { requiredAcks: 1, nowMs: 0 })).rejects.toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
  });

  it('ignores a corrupt snapshot and one beyond the log end, and scans instead', async () => {
    dir = mkdtempSync(join(tmpdir(), 'trib-pss-'));
    const log = new MemoryPartitionLog(config);
    const p = open(log, dir);
    await p.loadProducerState();
    const offsets = [await append(p, 0), await append(p, 2)];
    await p.writeProducerSnapshot();
    const file = join(dir, PRODUCER_STATE_SNAPSHOT_FILE);
    const bytes = readFileSync(file);
    bytes[bytes.length - 3] ^= 0x01;
    writeFileSync(file, bytes);
    const afterCorruption = open(log, dir);
    expect(await afterCorruption.loadProducerState()).toEqual({ snapshotOffset: undefined, scannedFrom: 0 });
    expect(await append(afterCorruption, 2)).toBe(offsets[1]);

    writeFileSync(file, encodeProducerSnapshot({ offset: log.logEndOffset + 10, producers: [] }));
    const beyond = open(log, dir);
    expect(await beyond.loadProducerState()).toEqual({ snapshotOffset: undefined, scannedFrom: 0 });
    expect(await append(beyond, 0)).toBe(offsets[0]);
  });

  it('is removed by a truncation (it may hold batches the truncation took away)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'trib-pss-'));
    const log = new MemoryPartitionLog(config);
    const p = open(log, dir);
    await p.loadProducerState();
    for (let seq = 0; seq < 6; seq += 2) await append(p, seq);
    await p.writeProducerSnapshot();
    await p.truncateToDivergence(p.generation, { epoch: 1, endOffset: 2 }, 0);
    expect(p.logEndOffset).toBe(2);
    expect(() => readFileSync(join(dir!, PRODUCER_STATE_SNAPSHOT_FILE))).toThrow(/ENOENT/);
    const reopened = open(log, dir);
    expect(await reopened.loadProducerState()).toEqual({ snapshotOffset: undefined, scannedFrom: 0 });
    // Sequence 2 was truncated away: it is a new batch now, not a retry of offsets that are gone.
    expect(await append(reopened, 2)).toBe(2);
  });

  it('decodes only intact snapshots: round trip, torn, wrong checksum, impossible entries', () => {
    const snapshot = { offset: 12, producers: [{ producerId: 7, producerEpoch: 1, lastOffset: 11, batches: [{ firstSequence: 0, lastSequence: 1, firstOffset: 10, lastOffset: 11 }] }] };
    const bytes = encodeProducerSnapshot(snapshot);
    expect(decodeProducerSnapshot(bytes)).toEqual(snapshot);
    for (let cut = 0; cut < bytes.length; cut++) expect(decodeProducerSnapshot(bytes.subarray(0, cut))).toBeUndefined();
    expect(decodeProducerSnapshot(Buffer.from('TRIBPS1 0\n{}'))).toBeUndefined();
    // A batch at or beyond the snapshot's offset cannot be in it.
    expect(decodeProducerSnapshot(encodeProducerSnapshot({ offset: 11, producers: snapshot.producers }))).toBeUndefined();
    expect(decodeProducerSnapshot(encodeProducerSnapshot({ offset: 12, producers: [{ ...snapshot.producers[0]!, batches: [] }] }))).toBeUndefined();
  });
});
