import { readdir, readFile, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HIGH_WATERMARK_CHECKPOINT_FILE, LEADER_EPOCH_CHECKPOINT_FILE, UnexpectedAppendOffsetError } from '../src/internal.js';
import { buildBatch } from './batch-builder.js';
import { appendMany, LogHarness, readAll } from './harness.js';

const h = new LogHarness();
afterEach(() => h.dispose());

const BATCH_BYTES = 161;

/** Epoch 0: [0, 4), epoch 2: [4, 10), epoch 5: [10, 12); batches of 2 records, 3 batches per segment. */
async function epochLog(dir: string) {
  const log = await h.open(dir, { segmentBytes: 3 * BATCH_BYTES });
  await appendMany(log, 2, { recordCount: 2, epoch: 0 });
  await appendMany(log, 3, { recordCount: 2, epoch: 2, firstFill: 2 });
  await appendMany(log, 1, { recordCount: 2, epoch: 5, firstFill: 5 });
  return log;
}

describe('leader epochs', () => {
  it('assigns epochs on leader appends and answers endOffsetForEpoch', async () => {
    const log = await epochLog(await h.dir());
    expect(log.epochEntries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 4 }, { epoch: 5, startOffset: 10 }]);
    expect(log.latestEpoch).toBe(5);
    expect(log.endOffsetForEpoch(0)).toEqual({ epoch: 0, endOffset: 4 });
    expect(log.endOffsetForEpoch(1)).toEqual({ epoch: 0, endOffset: 4 });
    expect(log.endOffsetForEpoch(4)).toEqual({ epoch: 2, endOffset: 10 });
    expect(log.endOffsetForEpoch(5)).toEqual({ epoch: 5, endOffset: 12 });
    expect(log.endOffsetForEpoch(6)).toEqual({ epoch: -1, endOffset: -1 });
  });

  it('persists the leader-epoch-checkpoint atomically and reloads it', async () => {
    const dir = await h.dir();
    const log = await epochLog(dir);
    expect(await readFile(path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE), 'utf8')).toBe('0\n3\n0 0\n2 4\n5 10\n');
    await log.close();
    const reopened = await h.open(dir, { segmentBytes: 3 * BATCH_BYTES });
    expect(reopened.epochEntries().map((e) => e.epoch)).toEqual([0, 2, 5]);
  });
});

describe('a leader epoch assigned at the log end (assignLeaderEpoch)', () => {
  it('is the latest epoch before any record, answers endOffsetForEpoch like Kafka, and gives way to records', async () => {
    const dir = await h.dir();
    const log = await epochLog(dir);
    await log.assignLeaderEpoch(8);
    expect(log.latestEpoch).toBe(8);
    expect(log.endOffsetForEpoch(8)).toEqual({ epoch: 8, endOffset: 12 });
    expect(log.endOffsetForEpoch(6)).toEqual({ epoch: 5, endOffset: 12 });
    expect(log.endOffsetForEpoch(5)).toEqual({ epoch: 5, endOffset: 12 });
    await log.assignLeaderEpoch(7); // not newer: ignored
    expect(log.epochEntries().at(-1)).toEqual({ epoch: 8, startOffset: 12 });
    await appendMany(log, 1, { recordCount: 2, epoch: 8, firstFill: 8 });
    expect(log.epochEntries().at(-1)).toEqual({ epoch: 8, startOffset: 12 });
    expect(log.endOffsetForEpoch(8)).toEqual({ epoch: 8, endOffset: 14 });
  });

  it('survives a clean reopen and a crash reopen while the log still ends where it starts, not a lost tail', async () => {
    const dir = await h.dir();
    const log = await epochLog(dir);
    await log.assignLeaderEpoch(9);
    const crashed = await h.snapshot(dir); // no clean-shutdown marker: recovery rebuilds epochs from batches
    await log.close();
    expect((await h.open(dir, { segmentBytes: 3 * BATCH_BYTES })).latestEpoch).toBe(9);
    expect((await h.open(crashed, { segmentBytes: 3 * BATCH_BYTES })).latestEpoch).toBe(9);
    const cut = await h.snapshot(dir);
    const tail = path.join(cut, (await readdir(cut)).filter((f) => f.endsWith('.log')).sort().at(-1)!);
    await truncate(tail, (await stat(tail)).size - BATCH_BYTES); // power loss took the last batch (epoch 5)
    const lost = await h.open(cut, { segmentBytes: 3 * BATCH_BYTES });
    expect([lost.logEndOffset, lost.latestEpoch]).toEqual([10, 2]);
  });

  it('truncateTo the log end drops it (the leader being followed never saw it)', async () => {
    const dir = await h.dir();
    const log = await epochLog(dir);
    await log.assignLeaderEpoch(9);
    expect(await log.truncateTo(12)).toBe(12);
    expect(log.latestEpoch).toBe(5);
    expect(await readFile(path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE), 'utf8')).toBe('0\n3\n0 0\n2 4\n5 10\n');
  });
});

describe('truncation', () => {
  it('truncateTo a batch boundary drops later batches and segments, epochs and HW, and appends continue', async () => {
    const dir = await h.dir();
    const log = await epochLog(dir);
    log.updateHighWatermark(12);
    expect(await log.truncateTo(6)).toBe(6);
    expect([log.logEndOffset, log.highWatermark]).toEqual([6, 6]);
    expect(log.segmentBaseOffsets()).toEqual([0]);
    expect(log.epochEntries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 4 }]);
    expect((await readAll(log)).map((b) => b.fill)).toEqual([0, 1, 2]);
    const info = await log.appendAsFollower(buildBatch({ baseOffset: 6, recordCount: 2, leaderEpoch: 7, fill: 70 }));
    expect(info.firstOffset).toBe(6);
    expect(log.endOffsetForEpoch(2)).toEqual({ epoch: 2, endOffset: 6 });
    await appendMany(log, 3, { epoch: 7, firstFill: 71 }); // rolls again past the truncated segment
    await log.close();
    const reopened = await h.open(dir, { segmentBytes: 3 * BATCH_BYTES });
    expect((await readAll(reopened)).map((b) => b.fill)).toEqual([0, 1, 2, 70, 71, 72, 73]);
    expect(reopened.epochEntries().map((e) => e.epoch)).toEqual([0, 2, 7]);
  });

  it('appends issued right after truncateTo, without awaiting it, continue from the truncation point', async () => {
    const log = await epochLog(await h.dir());
    const truncated = log.truncateTo(4);
    const appended = log.appendAsFollower(buildBatch({ baseOffset: 4, leaderEpoch: 6, fill: 40 }));
    const next = log.appendAsFollower(buildBatch({ baseOffset: 5, leaderEpoch: 6, fill: 50 }));
    expect(await truncated).toBe(4);
    expect((await appended).firstOffset).toBe(4);
    expect((await next).firstOffset).toBe(5);
    expect((await log.appendAsLeader(buildBatch({ fill: 60 }), 6)).firstOffset).toBe(6);
    expect((await readAll(log)).map((b) => b.fill)).toEqual([0, 1, 40, 50, 60]);
  });

  it('an append racing a truncation into the middle of a batch is rejected, and the log recovers', async () => {
    const log = await epochLog(await h.dir());
    const truncated = log.truncateTo(5); // inside batch [4, 5]: the log ends at 4
    const racing = log.appendAsFollower(buildBatch({ baseOffset: 5, leaderEpoch: 6 }));
    expect(await truncated).toBe(4);
    await expect(racing).rejects.toBeInstanceOf(UnexpectedAppendOffsetError);
    expect(log.latestEpoch).toBe(0);
    expect((await log.appendAsFollower(buildBatch({ baseOffset: 4, leaderEpoch: 6 }))).firstOffset).toBe(4);
  });

  it('truncateTo inside a batch removes that whole batch', async () => {
    const log = await epochLog(await h.dir());
    expect(await log.truncateTo(7)).toBe(6);
    expect(log.logEndOffset).toBe(6);
    expect(await log.truncateTo(100)).toBe(6); // at or beyond LEO: no-op
  });

  it('truncateTo survives an unclean restart', async () => {
    const dir = await h.dir();
    const log = await epochLog(dir);
    await log.truncateTo(8);
    await appendMany(log, 1, { epoch: 6, firstFill: 80 });
    const crashed = await h.snapshot(dir);
    const reopened = await h.open(crashed, { segmentBytes: 3 * BATCH_BYTES });
    expect((await readAll(reopened)).map((b) => b.fill)).toEqual([0, 1, 2, 3, 80]);
    expect(reopened.epochEntries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 4 }, { epoch: 6, startOffset: 8 }]);
  });

  it('truncateFullyAndStartAt empties the log and restarts it at an offset', async () => {
    const dir = await h.dir();
    const log = await epochLog(dir);
    await log.truncateFullyAndStartAt(100);
    expect([log.logStartOffset, log.logEndOffset, log.highWatermark, log.latestEpoch]).toEqual([100, 100, 100, -1]);
    expect(log.segmentBaseOffsets()).toEqual([100]);
    await log.appendAsFollower(buildBatch({ baseOffset: 100, leaderEpoch: 9 }));
    await log.close();
    const reopened = await h.open(dir);
    expect([reopened.logStartOffset, reopened.logEndOffset, reopened.latestEpoch]).toEqual([100, 101, 9]);
  });
});

describe('high watermark checkpoint', () => {
  it('survives reopen, clamped into [logStartOffset, logEndOffset]', async () => {
    const dir = await h.dir();
    const log = await h.open(dir);
    await appendMany(log, 5);
    log.updateHighWatermark(3);
    await log.checkpointHighWatermark();
    expect(await readFile(path.join(dir, HIGH_WATERMARK_CHECKPOINT_FILE), 'utf8')).toBe('0\n3\n');
    log.updateHighWatermark(4);
    await log.close();
    expect((await h.open(dir)).highWatermark).toBe(4);
  });

  it('is checkpointed periodically by the log, so a crash keeps a recent one', async () => {
    const dir = await h.dir();
    const log = await h.open(dir, {}, undefined, 10);
    await appendMany(log, 5);
    log.updateHighWatermark(4);
    const file = path.join(dir, HIGH_WATERMARK_CHECKPOINT_FILE);
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline && (await readFile(file, 'utf8').catch(() => '')) !== '0\n4\n') await new Promise((r) => setTimeout(r, 10));
    const crashed = await h.snapshot(dir);
    expect((await h.open(crashed)).highWatermark).toBe(4);
  });

  it('is clamped to the recovered LEO after a crash lost the tail', async () => {
    const dir = await h.dir();
    const log = await h.open(dir);
    await appendMany(log, 5);
    log.updateHighWatermark(5);
    await log.checkpointHighWatermark();
    const crashed = await h.snapshot(dir);
    const { truncate } = await import('node:fs/promises');
    await truncate(path.join(crashed, '00000000000000000000.log'), 2 * BATCH_BYTES + 10);
    const reopened = await h.open(crashed);
    expect([reopened.logEndOffset, reopened.highWatermark]).toEqual([2, 2]);
  });
});
