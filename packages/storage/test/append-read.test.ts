import { AssertionError } from 'node:assert';
import { afterEach, describe, expect, it } from 'vitest';
import { CorruptRecordError, InvalidRecordError, LogUnavailableError, OffsetOutOfRangeError, parseLogConfig, RecordTooLargeError, UnexpectedAppendOffsetError } from '../src/index.js';
import { LogSegment, MAX_RELATIVE_OFFSET } from '../src/internal.js';
import { buildBatch, flipBits, resealCrc, splitBatches } from './batch-builder.js';
import { appendMany, LogHarness, readAll } from './harness.js';

const h = new LogHarness();
afterEach(() => h.dispose());

const BATCH_BYTES = 161; // 61-byte header + 100 payload bytes

describe('append and read', () => {
  it('round-trips many batches across many tiny segments, and again after reopening', async () => {
    const dir = await h.dir();
    const log = await h.open(dir, { segmentBytes: 3 * BATCH_BYTES, indexIntervalBytes: 200 });
    const infos = await appendMany(log, 100, { recordCount: 3 });
    expect(infos.map((i) => i.firstOffset)).toEqual(infos.map((_, i) => i * 3));
    expect(log.logEndOffset).toBe(300);
    expect(log.segmentCount).toBe(34);
    expect(log.segmentBaseOffsets().slice(0, 3)).toEqual([0, 9, 18]);
    for (const maxBytes of [1, 500, 10_000]) {
      const batches = await readAll(log, maxBytes);
      expect(batches.map((b) => b.fill)).toEqual([...Array(100).keys()]);
      expect(batches.map((b) => b.baseOffset)).toEqual(infos.map((i) => i.firstOffset));
      expect(batches.every((b) => b.leaderEpoch === 0)).toBe(true);
    }
    await log.close();
    const reopened = await h.open(dir, { segmentBytes: 3 * BATCH_BYTES, indexIntervalBytes: 200 });
    expect(reopened.logEndOffset).toBe(300);
    expect((await readAll(reopened)).map((b) => b.fill)).toEqual([...Array(100).keys()]);
    expect((await reopened.appendAsLeader(buildBatch(), 0)).firstOffset).toBe(300);
  });

  it('a read from an offset inside a batch returns the whole containing batch', async () => {
    const log = await h.open(await h.dir(), { indexIntervalBytes: 0 });
    await appendMany(log, 10, { recordCount: 5 });
    for (let offset = 0; offset < 50; offset++) {
      const result = await log.read(offset, 1);
      const [first] = splitBatches(result.records);
      expect(first!.baseOffset).toBe(Math.floor(offset / 5) * 5);
      expect(result.firstOffset).toBe(first!.baseOffset);
      expect(first!.lastOffset).toBeGreaterThanOrEqual(offset);
    }
  });

  it('maxBytes limits whole batches; minOneBatch returns an oversized first batch', async () => {
    const log = await h.open(await h.dir());
    await appendMany(log, 5);
    expect(splitBatches((await log.read(0, 2 * BATCH_BYTES)).records)).toHaveLength(2);
    expect(splitBatches((await log.read(0, 2 * BATCH_BYTES + 160)).records)).toHaveLength(2);
    expect(splitBatches((await log.read(0, 10)).records)).toHaveLength(1);
    expect((await log.read(0, 10, { minOneBatch: false })).records).toHaveLength(0);
    expect(splitBatches((await log.read(0, 0)).records)).toHaveLength(1);
  });

  it('maxOffset (e.g. the high watermark) is an exclusive bound on whole batches', async () => {
    const log = await h.open(await h.dir());
    await appendMany(log, 4, { recordCount: 2 }); // batches [0,1] [2,3] [4,5] [6,7]
    expect(splitBatches((await log.read(0, 1e6, { maxOffset: 4 })).records).map((b) => b.baseOffset)).toEqual([0, 2]);
    expect(splitBatches((await log.read(0, 1e6, { maxOffset: 5 })).records).map((b) => b.baseOffset)).toEqual([0, 2]);
    expect((await log.read(4, 1e6, { maxOffset: 4 })).records).toHaveLength(0);
    const atEnd = await log.read(8, 1e6);
    expect(atEnd.records).toHaveLength(0);
    expect(atEnd.logEndOffset).toBe(8);
  });

  it('throws OffsetOutOfRangeError outside [logStartOffset, logEndOffset]', async () => {
    const log = await h.open(await h.dir());
    await appendMany(log, 3);
    await expect(log.read(4, 100)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    await expect(log.read(-1, 100)).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE', logEndOffset: 3 });
    log.updateHighWatermark(3);
    expect(await log.deleteRecordsBefore(2)).toBe(2);
    expect(log.logStartOffset).toBe(2);
    await expect(log.read(1, 100)).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE', logStartOffset: 2 });
    expect(splitBatches((await log.read(2, 100)).records)[0]!.baseOffset).toBe(2);
  });

  it('appends issued in one event-loop turn are coalesced into one write, in call order', async () => {
    const log = await h.open(await h.dir());
    await appendMany(log, 1);
    const before = log.ioStats.writes;
    const pending = Array.from({ length: 20 }, (_, i) => log.appendAsLeader(buildBatch({ recordCount: 2, fill: i }), 0));
    expect(log.logEndOffset).toBe(1); // nothing readable until the write lands
    const infos = await Promise.all(pending);
    expect(log.ioStats.writes - before).toBe(1);
    expect(infos.map((i) => i.firstOffset)).toEqual(infos.map((_, i) => 1 + 2 * i));
    expect((await readAll(log)).slice(1).map((b) => b.fill)).toEqual([...Array(20).keys()]);
  });

  it('fsync=always: an append resolves only after an fsync, and concurrent appends share one', async () => {
    const log = await h.open(await h.dir(), { flushMessages: 1 });
    const start = log.ioStats.fsyncs;
    await appendMany(log, 3);
    expect(log.ioStats.fsyncs - start).toBe(3);
    expect(log.recoveryPoint).toBe(3);
    await Promise.all(Array.from({ length: 10 }, () => log.appendAsLeader(buildBatch(), 0)));
    expect(log.ioStats.fsyncs - start).toBe(4);
    expect(log.recoveryPoint).toBe(13);
  });

  it('flush.messages fsyncs once enough offsets are unflushed; the default never does', async () => {
    const counted = await h.open(await h.dir(), { flushMessages: 5 });
    await appendMany(counted, 4);
    expect(counted.ioStats.fsyncs).toBe(0);
    await appendMany(counted, 1);
    expect(counted.ioStats.fsyncs).toBe(1);
    expect(counted.recoveryPoint).toBe(5);
    const lazy = await h.open(await h.dir());
    await appendMany(lazy, 50);
    expect(lazy.ioStats.fsyncs).toBe(0);
    await lazy.flush();
    expect(lazy.recoveryPoint).toBe(50);
  });

  it('flush.ms flushes from the log-owned timer', async () => {
    const log = await h.open(await h.dir(), { flushMs: 20 });
    await appendMany(log, 2);
    expect(log.recoveryPoint).toBe(0);
    h.clock.advance(25);
    const deadline = Date.now() + 2000;
    while (log.recoveryPoint < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(log.recoveryPoint).toBe(2);
  });

  it('stamps LogAppendTime: attribute bit 3, maxTimestamp, valid CRC', async () => {
    const log = await h.open(await h.dir());
    const info = await log.appendAsLeader(buildBatch({ maxTimestamp: 5 }), 2, { logAppendTimeMs: 777 });
    expect(info).toMatchObject({ logAppendTimeMs: 777, maxTimestamp: 777, batchCount: 1, validBytes: BATCH_BYTES });
    const [batch] = splitBatches((await log.read(0, 1000)).records); // splitBatches checks the CRC
    expect(batch!.attributes & 0x08).toBe(0x08);
    expect(batch!.maxTimestamp).toBe(777);
    expect(batch!.leaderEpoch).toBe(2);
  });

  it('bad input gets a typed error and leaves the log unchanged and usable', async () => {
    const log = await h.open(await h.dir(), { maxMessageBytes: 1000 });
    await appendMany(log, 2);
    const badCrc = buildBatch();
    flipBits(badCrc, 100, 1);
    const badMagic = resealCrc(buildBatch());
    badMagic.writeInt8(1, 16);
    const badCount = resealCrc(buildBatch({ recordCount: 3 }));
    badCount.writeInt32BE(5, 57);
    resealCrc(badCount);
    // More records than offsets cannot be a batch at all (corrupt); fewer is a compacted batch, which a
    // leader may not be handed (it assigns lastOffsetDelta + 1 offsets without reading records).
    const sparseCount = resealCrc(buildBatch({ recordCount: 3 }));
    sparseCount.writeInt32BE(2, 57);
    resealCrc(sparseCount);
    // A leader append trusts the CRC the broker verified at the edge (it asserts framing only); bytes from
    // the network, a follower append, have their CRC checked by the log.
    const cases: [Buffer, string, 'leader' | 'follower'][] = [
      [badCrc, 'CORRUPT_MESSAGE', 'follower'],
      [badMagic, 'CORRUPT_MESSAGE', 'leader'],
      [buildBatch().subarray(0, 150), 'CORRUPT_MESSAGE', 'leader'],
      [Buffer.concat([buildBatch(), buildBatch().subarray(0, 30)]), 'CORRUPT_MESSAGE', 'leader'],
      [Buffer.concat([buildBatch({ baseOffset: 2 }), badCrc]), 'CORRUPT_MESSAGE', 'follower'],
      [buildBatch({ payloadBytes: 1000 }), 'MESSAGE_TOO_LARGE', 'leader'],
      [badCount, 'CORRUPT_MESSAGE', 'leader'],
      [sparseCount, 'INVALID_RECORD', 'leader'],
      [Buffer.alloc(0), 'INVALID_RECORD', 'leader'],
    ];
    for (const [input, code, role] of cases) {
      const copy = Buffer.from(input);
      await expect(role === 'leader' ? log.appendAsLeader(input, 0) : log.appendAsFollower(input)).rejects.toMatchObject({ code });
      expect(input.equals(copy)).toBe(true); // nothing stamped
      expect(log.logEndOffset).toBe(2);
    }
    await expect(log.appendAsLeader(buildBatch({ payloadBytes: 1000 }), 0)).rejects.toBeInstanceOf(RecordTooLargeError);
    await expect(log.appendAsFollower(badCrc)).rejects.toBeInstanceOf(CorruptRecordError);
    await expect(log.appendAsLeader(sparseCount, 0)).rejects.toBeInstanceOf(InvalidRecordError);
    expect((await log.appendAsLeader(buildBatch({ fill: 9 }), 0)).firstOffset).toBe(2);
    expect((await readAll(log)).map((b) => b.fill)).toEqual([0, 1, 9]);
  });

  it('an append wider than one segment can index is refused (INVALID_RECORD): the log is not failed and reopens', async () => {
    const dir = await h.dir();
    const log = await h.open(dir);
    await appendMany(log, 2);
    // The finding: 100 batches whose headers claim 2^31-1 records each (valid CRCs) once got past the
    // checks, were written, then failed the offset index ("relative offset … out of u32 range") and the log.
    const huge = (): Buffer => buildBatch({ recordCount: MAX_RELATIVE_OFFSET });
    const hostile = Buffer.concat(Array.from({ length: 100 }, huge));
    await expect(log.appendAsLeader(hostile, 0)).rejects.toBeInstanceOf(InvalidRecordError);
    // Exactly one offset too many for a segment, in two batches, is refused too; the span of one segment passes.
    await expect(log.appendAsLeader(Buffer.concat([huge(), buildBatch({ recordCount: 2 })]), 0)).rejects.toMatchObject({ code: 'INVALID_RECORD' });
    expect(log.currentState).toBe('open');
    expect(log.logEndOffset).toBe(2);
    await expect(log.appendAsFollower(Buffer.concat([buildBatch({ baseOffset: 2, recordCount: MAX_RELATIVE_OFFSET }), buildBatch({ baseOffset: 2 + MAX_RELATIVE_OFFSET, recordCount: 2 })])))
      .rejects.toBeInstanceOf(InvalidRecordError);
    const fits = await log.appendAsLeader(Buffer.concat([huge(), buildBatch()]), 0);
    expect(fits).toMatchObject({ firstOffset: 2, lastOffset: 2 + MAX_RELATIVE_OFFSET });
    expect((await log.appendAsLeader(buildBatch({ fill: 7 }), 0)).firstOffset).toBe(3 + MAX_RELATIVE_OFFSET);
    expect(log.currentState).toBe('open');
    await log.close();
    const reopened = await h.open(dir);
    expect(reopened.logEndOffset).toBe(4 + MAX_RELATIVE_OFFSET);
    expect((await readAll(reopened)).map((b) => b.fill)).toEqual([0, 1, 0x61, 0x61, 7]);
  });

  it('follower appends keep offsets and epochs; offsets may leave gaps but never go back', async () => {
    const log = await h.open(await h.dir());
    const info = await log.appendAsFollower(Buffer.concat([buildBatch({ baseOffset: 0, recordCount: 2, leaderEpoch: 1 }), buildBatch({ baseOffset: 2, leaderEpoch: 3 })]));
    expect(info).toMatchObject({ firstOffset: 0, lastOffset: 2, batchCount: 2 });
    expect(log.epochEntries()).toEqual([{ epoch: 1, startOffset: 0 }, { epoch: 3, startOffset: 2 }]);
    // Below the log end offset, or overlapping / going back inside one append: refused, log unchanged.
    await expect(log.appendAsFollower(buildBatch({ baseOffset: 2, leaderEpoch: 3 }))).rejects.toBeInstanceOf(UnexpectedAppendOffsetError);
    await expect(log.appendAsFollower(Buffer.concat([buildBatch({ baseOffset: 3, recordCount: 2 }), buildBatch({ baseOffset: 4 })]))).rejects.toMatchObject({ code: 'UNEXPECTED_APPEND_OFFSET' });
    await expect(log.appendAsFollower(Buffer.concat([buildBatch({ baseOffset: 6 }), buildBatch({ baseOffset: 5 })]))).rejects.toMatchObject({ code: 'UNEXPECTED_APPEND_OFFSET' });
    expect(log.logEndOffset).toBe(3);
    // A gap (the leader's cleaner removed offsets 3, 4 and 7) is fine: the LEO follows the last batch.
    expect(await log.appendAsFollower(Buffer.concat([buildBatch({ baseOffset: 5, recordCount: 2, leaderEpoch: 3 }), buildBatch({ baseOffset: 8, leaderEpoch: 4 })])))
      .toMatchObject({ firstOffset: 5, lastOffset: 8, batchCount: 2 });
    expect(log.logEndOffset).toBe(9);
    expect(log.epochEntries()).toEqual([{ epoch: 1, startOffset: 0 }, { epoch: 3, startOffset: 2 }, { epoch: 4, startOffset: 8 }]);
    expect((await readAll(log)).map((b) => [b.baseOffset, b.leaderEpoch])).toEqual([[0, 1], [2, 3], [5, 3], [8, 4]]);
  });

  it('asserts on broken invariants: stale leader epoch, high watermark beyond LEO or moving back', async () => {
    const log = await h.open(await h.dir());
    await log.appendAsLeader(buildBatch(), 4);
    await expect(log.appendAsLeader(buildBatch(), 3)).rejects.toBeInstanceOf(AssertionError);
    expect(() => log.updateHighWatermark(2)).toThrow(AssertionError);
    log.updateHighWatermark(1);
    expect(() => log.updateHighWatermark(0)).toThrow(AssertionError);
  });

  it('close is idempotent; a closed log refuses appends and reads', async () => {
    const log = await h.open(await h.dir());
    await appendMany(log, 1);
    const pending = log.appendAsLeader(buildBatch(), 0);
    await Promise.all([log.close(), log.close()]);
    expect((await pending).firstOffset).toBe(1); // queued before close, so written
    await expect(log.appendAsLeader(buildBatch(), 0)).rejects.toBeInstanceOf(LogUnavailableError);
    await expect(log.read(0, 100)).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR' });
  });

  it('delete removes the directory', async () => {
    const dir = await h.dir();
    const log = await h.open(dir);
    await appendMany(log, 2);
    await log.delete();
    const { existsSync } = await import('node:fs');
    expect(existsSync(dir)).toBe(false);
  });
});

describe('reads and retention together', () => {
  it('a read in progress keeps a segment readable while retention deletes it', async () => {
    const log = await h.open(await h.dir(), { segmentBytes: 1 * BATCH_BYTES, retentionBytes: 0 });
    await appendMany(log, 40);
    log.updateHighWatermark(40);
    const readings = [0, 10, 20].map((offset) => log.read(offset, 100_000)); // each pins its segments synchronously
    const retention = log.applyRetention(0);
    const results = await Promise.all(readings);
    expect(splitBatches(results[0]!.records).map((b) => b.fill)).toEqual([...Array(40).keys()]);
    expect(splitBatches(results[2]!.records)).toHaveLength(20);
    expect(await retention).toEqual({ deletedSegments: 39, logStartOffset: 39 });
    await expect(log.read(0, 100)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
  });
});

describe('segment file handles', () => {
  it('close() waits for pinned readers before closing the file', async () => {
    const dir = await h.dir();
    const segment = await LogSegment.create(dir, 0, parseLogConfig());
    const batch = buildBatch();
    await segment.append([batch], [{ position: 0, sizeBytes: batch.length, baseOffset: 0, lastOffset: 0, maxTimestamp: 1000 }], parseLogConfig(), 0);
    segment.acquire();
    let closed = false;
    const closing = segment.delete().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(false);
    expect((await segment.findBatch(0))?.baseOffset).toBe(0); // the handle still works for the pinned reader
    segment.release();
    await closing;
    expect(closed).toBe(true);
  });
});

describe('I/O failure', () => {
  it('a failed write fails the log: queued and later appends get KAFKA_STORAGE_ERROR, close still works', async () => {
    const log = await h.open(await h.dir());
    await appendMany(log, 2);
    // Pull the file out from under the log, as a dying disk would.
    const internals = log as unknown as { segments: { handle: { close(): Promise<void> } }[] };
    await internals.segments[0]!.handle.close();
    const first = log.appendAsLeader(buildBatch(), 0);
    const second = log.appendAsLeader(buildBatch(), 0);
    await expect(first).rejects.toBeInstanceOf(LogUnavailableError);
    await expect(second).rejects.toMatchObject({ code: 'KAFKA_STORAGE_ERROR', retriable: true });
    expect(log.currentState).toBe('failed');
    expect(log.logEndOffset).toBe(2);
    await expect(log.appendAsLeader(buildBatch(), 0)).rejects.toBeInstanceOf(LogUnavailableError);
    await log.close().catch(() => undefined);
  });
});
