import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { OffsetOutOfRangeError } from '../src/index.js';
import { buildBatch } from './batch-builder.js';
import { appendMany, LogHarness, readAll } from './harness.js';

const h = new LogHarness();
afterEach(() => h.dispose());

const BATCH_BYTES = 161;

describe('segment roll', () => {
  it('rolls by size: a segment never exceeds segment.bytes unless it holds a single append', async () => {
    const log = await h.open(await h.dir(), { segmentBytes: 4 * BATCH_BYTES });
    await appendMany(log, 10);
    expect(log.segmentBaseOffsets()).toEqual([0, 4, 8]);
    await log.appendAsLeader(buildBatch({ payloadBytes: 2000 }), 0); // bigger than a segment: rolls, then fits alone
    expect(log.segmentBaseOffsets()).toEqual([0, 4, 8, 10]);
    await appendMany(log, 1);
    expect(log.segmentBaseOffsets()).toEqual([0, 4, 8, 10, 11]);
  });

  it('rolls by time once segment.ms has passed since the first append (injected clock)', async () => {
    const log = await h.open(await h.dir(), { segmentMs: 1000 });
    await appendMany(log, 3);
    h.clock.advance(999);
    await appendMany(log, 1);
    expect(log.segmentCount).toBe(1);
    h.clock.advance(1);
    await appendMany(log, 2);
    expect(log.segmentBaseOffsets()).toEqual([0, 4]);
    h.clock.advance(10_000); // an empty-since-open segment starts its clock at its first append
    await appendMany(log, 1);
    expect(log.segmentBaseOffsets()).toEqual([0, 4, 6]);
  });

  it('a reopened segment keeps its segment.ms clock: it counts from the first batch timestamp, not the reopen', async () => {
    const dir = await h.dir();
    const first = await h.open(dir, { segmentMs: 1000 });
    await first.appendAsLeader(buildBatch({ maxTimestamp: h.clock.nowMs }), 0);
    await first.close();
    h.clock.advance(600);
    const second = await h.open(dir, { segmentMs: 1000 });
    await second.appendAsLeader(buildBatch({ maxTimestamp: h.clock.nowMs }), 0);
    expect(second.segmentCount).toBe(1);
    await second.close();
    h.clock.advance(600); // 1200 ms after the first batch, 600 ms after the last reopen
    const third = await h.open(dir, { segmentMs: 1000 });
    await third.appendAsLeader(buildBatch({ maxTimestamp: h.clock.nowMs }), 0);
    expect(third.segmentBaseOffsets()).toEqual([0, 2]);
  });

  it('rolls when the offset or time index is full (segment.index.bytes)', async () => {
    // 24 bytes = 3 offset entries, 2 time entries; an entry for every batch after the first.
    const log = await h.open(await h.dir(), { segmentIndexBytes: 24, indexIntervalBytes: 0 });
    let ts = 0;
    for (let i = 0; i < 12; i++) await log.appendAsLeader(buildBatch({ maxTimestamp: (ts += 10) }), 0);
    // Timestamps grow with every batch, so the 2-entry time index fills first: 3 batches per segment.
    expect(log.segmentBaseOffsets()).toEqual([0, 3, 6, 9]);
    expect((await readAll(log)).map((b) => b.baseOffset)).toEqual([...Array(12).keys()]);
  });
});

describe('retention', () => {
  it('deletes oldest closed segments by retention.bytes, then by retention.ms, never the active one or above the HW', async () => {
    const dir = await h.dir();
    const log = await h.open(dir, { segmentBytes: 2 * BATCH_BYTES, retentionBytes: 3 * BATCH_BYTES, retentionMs: 1000 });
    for (let i = 0; i < 10; i++) await log.appendAsLeader(buildBatch({ maxTimestamp: 100 * i, fill: i }), 0);
    expect(log.segmentBaseOffsets()).toEqual([0, 2, 4, 6, 8]);
    // Nothing is deletable while the high watermark is 0.
    expect(await log.applyRetention(0)).toEqual({ deletedSegments: 0, logStartOffset: 0 });
    log.updateHighWatermark(4);
    // By bytes: 10 batches, keep ≥ 3 → could drop 3 segments, but only those below HW=4 qualify.
    expect(await log.applyRetention(0)).toEqual({ deletedSegments: 2, logStartOffset: 4 });
    log.updateHighWatermark(10);
    expect(await log.applyRetention(0)).toEqual({ deletedSegments: 1, logStartOffset: 6 });
    expect(log.sizeBytes).toBe(4 * BATCH_BYTES);
    // By time: segment [6,8) has max timestamp 700; at now=1700 it is exactly retention.ms old: kept.
    expect((await log.applyRetention(1700)).deletedSegments).toBe(0);
    // At 1701 it goes; [8,10) is active and stays.
    expect(await log.applyRetention(1_000_000)).toEqual({ deletedSegments: 1, logStartOffset: 8 });
    expect(log.segmentBaseOffsets()).toEqual([8]);
    await expect(log.read(7, 100)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    expect((await readAll(log)).map((b) => b.fill)).toEqual([8, 9]);
    await log.close();
    const reopened = await h.open(dir, { segmentBytes: 2 * BATCH_BYTES });
    expect([reopened.logStartOffset, reopened.logEndOffset, reopened.highWatermark]).toEqual([8, 10, 10]);
  });

  it('deleteRecordsBefore moves the log start offset (persisted) and drops wholly-covered segments', async () => {
    const dir = await h.dir();
    const log = await h.open(dir, { segmentBytes: 2 * BATCH_BYTES });
    await appendMany(log, 6);
    await expect(log.deleteRecordsBefore(3)).rejects.toBeInstanceOf(OffsetOutOfRangeError); // above HW
    log.updateHighWatermark(6);
    expect(await log.deleteRecordsBefore(3)).toBe(3);
    expect(log.segmentBaseOffsets()).toEqual([2, 4]);
    await log.close();
    const reopened = await h.open(dir, { segmentBytes: 2 * BATCH_BYTES });
    expect(reopened.logStartOffset).toBe(3);
    expect((await readAll(reopened)).map((b) => b.baseOffset)).toEqual([3, 4, 5]);
  });
});

describe('offsetForTimestamp', () => {
  it('finds the first batch with maxTimestamp ≥ T when timestamps are not monotonic', async () => {
    const log = await h.open(await h.dir(), { segmentBytes: 3 * BATCH_BYTES, indexIntervalBytes: 0 });
    const timestamps = [100, 300, 200, 150, 400, 250, 500, 50, 450, 600];
    for (const ts of timestamps) await log.appendAsLeader(buildBatch({ maxTimestamp: ts }), 0);
    const expected = (t: number) => timestamps.findIndex((ts) => ts >= t);
    for (let t = 0; t <= 650; t += 25) {
      const found = await log.offsetForTimestamp(t);
      const index = expected(t);
      expect(found === null ? -1 : found.offset, `T=${t}`).toBe(index);
      if (found !== null) expect(found.timestamp).toBe(timestamps[index]);
    }
    expect(log.maxTimestampAndOffset()).toEqual({ offset: 9, timestamp: 600 });
  });

  it('property: matches a linear scan for any timestamps, segment and index sizes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 600 }),
        fc.array(fc.integer({ min: -10, max: 1010 }), { minLength: 5, maxLength: 5 }),
        async (timestamps, batchesPerSegment, indexIntervalBytes, targets) => {
          const log = await h.open(await h.dir(), { segmentBytes: batchesPerSegment * BATCH_BYTES, indexIntervalBytes });
          for (const ts of timestamps) await log.appendAsLeader(buildBatch({ maxTimestamp: ts }), 0);
          for (const t of targets) {
            const found = await log.offsetForTimestamp(t);
            const index = timestamps.findIndex((ts) => ts >= t);
            expect(found === null ? -1 : found.offset).toBe(index);
          }
          await log.close();
        },
      ),
      { numRuns: 25 },
    );
  });

  it('with LogAppendTime uses the stamped time', async () => {
    const log = await h.open(await h.dir());
    await log.appendAsLeader(buildBatch({ maxTimestamp: 9_999 }), 0, { logAppendTimeMs: 10 });
    await log.appendAsLeader(buildBatch({ maxTimestamp: 1 }), 0, { logAppendTimeMs: 20 });
    expect(await log.offsetForTimestamp(15)).toEqual({ offset: 1, timestamp: 20 });
  });
});

describe('updateConfig', () => {
  it('applies a new segment.bytes and retention.bytes to the live log', async () => {
    const log = await h.open(await h.dir());
    await appendMany(log, 4);
    expect(log.segmentCount).toBe(1);
    log.updateConfig({ ...log.logConfig, segmentBytes: 2 * BATCH_BYTES, retentionBytes: 2 * BATCH_BYTES });
    await appendMany(log, 4);
    expect(log.segmentBaseOffsets()).toEqual([0, 4, 6]);
    log.updateHighWatermark(8);
    expect(await log.applyRetention(0)).toEqual({ deletedSegments: 2, logStartOffset: 6 });
  });
});
