// A follower replicating a compacted range: the leader's cleaner removed records and whole batches, so
// the batches it serves have offset gaps. The follower must take them as they are (Kafka's rule: each
// batch starts at or after the log end offset, offsets increase), hold byte-identical batches, serve
// reads from offsets inside a gap, truncate inside a gap to the end of the last batch kept, and load the
// gapped log again after a crash or a clean stop.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogConfig, PartitionLog } from '../src/index.js';
import { MAX_RELATIVE_OFFSET } from '../src/internal.js';
import { buildBatch, splitBatches } from './batch-builder.js';
import { LogHarness, readAll } from './harness.js';
import { buildRecordBatch, type TestRecord } from './record-builder.js';

const h = new LogHarness();
beforeEach(() => {
  h.clock.nowMs = 1_700_000_000_000;
});
afterEach(() => h.dispose());

const COMPACT: Partial<LogConfig> = { cleanupPolicy: 'compact', segmentBytes: 400, indexIntervalBytes: 100, minCleanableDirtyRatio: 0 };

/** The log's batches from its start as raw bytes, one buffer per batch. */
async function batchBytes(log: PartitionLog): Promise<Buffer[]> {
  return (await readAll(log, 300)).map((b) => Buffer.from(b.bytes));
}

/** What the broker's follower does: fetch from its LEO, skip batches it holds, append the rest. */
async function replicate(leader: PartitionLog, follower: PartitionLog, maxBytes: number): Promise<number> {
  let fetches = 0;
  while (follower.logEndOffset < leader.logEndOffset) {
    const fetched = await leader.read(follower.logEndOffset, maxBytes, { maxOffset: leader.logEndOffset });
    const fresh = splitBatches(fetched.records).filter((b) => b.lastOffset >= follower.logEndOffset);
    expect(fresh.length).toBeGreaterThan(0);
    await follower.appendAsFollower(Buffer.concat(fresh.map((b) => b.bytes)));
    fetches++;
    expect(fetches).toBeLessThan(1000);
  }
  return fetches;
}

/** Offsets in [from, to) no batch holds. */
function gapOffsets(batches: readonly { baseOffset: number; lastOffset: number }[], from: number): number[] {
  const gaps: number[] = [];
  let next = from;
  for (const b of batches) {
    for (let o = next; o < b.baseOffset; o++) gaps.push(o);
    next = b.lastOffset + 1;
  }
  return gaps;
}

describe('follower appends of a compacted range (offset gaps)', () => {
  it('a follower copies a compacted leader log byte for byte, reads from gap offsets, and reloads it after a crash and a clean stop', async () => {
    const leader = await h.open(await h.dir(), COMPACT);
    const nowMs = h.clock.nowMs;
    // Eight keys overwritten many times, a few records per batch: compaction removes records inside
    // batches and whole batches.
    for (let i = 0; i < 60; i++) {
      const records: TestRecord[] = Array.from({ length: 1 + (i % 3) }, (_, j) => ({ key: `k${(i * 3 + j) % 8}`, value: `v${i}-${j}`, timestamp: nowMs - 1000 }));
      await leader.appendAsLeader(buildRecordBatch(records, 'none'), 1 + Math.floor(i / 25));
    }
    leader.updateHighWatermark(leader.logEndOffset);
    const cleaned = await leader.compact(nowMs);
    expect(cleaned.outcome).toBe('cleaned');
    expect(cleaned.batchesRemoved).toBeGreaterThan(0);
    const served = await readAll(leader, 300);
    const gaps = gapOffsets(served, leader.logStartOffset);
    expect(gaps.length).toBeGreaterThan(10);

    const followerDir = await h.dir();
    const follower = await h.open(followerDir, COMPACT);
    // Small fetches, so fetch offsets (the follower's LEO) land right before gaps on the leader.
    await replicate(leader, follower, 200);
    expect(follower.logEndOffset).toBe(leader.logEndOffset);
    const leaderBytes = await batchBytes(leader);
    expect(await batchBytes(follower)).toEqual(leaderBytes);
    // The follower's epochs start at the first batch of each epoch it holds (the leader's may start at a removed offset).
    const firstOfEpoch = served.filter((b, i) => i === 0 || b.leaderEpoch > served[i - 1]!.leaderEpoch);
    expect(follower.epochEntries()).toEqual(firstOfEpoch.map((b) => ({ epoch: b.leaderEpoch, startOffset: b.baseOffset })));
    expect(follower.endOffsetForEpoch(3).endOffset).toBe(leader.logEndOffset);

    // A read from an offset inside a gap (on the leader, for a follower or a consumer, and on the
    // follower) returns the next batch, never OFFSET_OUT_OF_RANGE.
    for (const log of [leader, follower]) {
      for (const offset of gaps) {
        const result = await log.read(offset, 1);
        const [first] = splitBatches(result.records);
        const expected = served.find((b) => b.lastOffset >= offset)!;
        expect(first?.baseOffset).toBe(expected.baseOffset);
      }
    }

    // Crash image (no clean-shutdown marker: every segment past the recovery point is validated).
    await follower.settled();
    const crashed = await h.open(await h.snapshot(followerDir), COMPACT, 0);
    expect(crashed.logEndOffset).toBe(leader.logEndOffset);
    expect(await batchBytes(crashed)).toEqual(leaderBytes);
    await follower.close();
    const reopened = await h.open(followerDir, COMPACT);
    expect(reopened.logEndOffset).toBe(leader.logEndOffset);
    expect(await batchBytes(reopened)).toEqual(leaderBytes);
    // And it keeps replicating.
    await leader.appendAsLeader(buildRecordBatch([{ key: 'k0', value: 'last', timestamp: nowMs }], 'none'), 3);
    await replicate(leader, reopened, 200);
    expect(await batchBytes(reopened)).toEqual(await batchBytes(leader));
  });

  it('truncation inside a gap ends the log after the last batch kept, also after a reload', async () => {
    const dir = await h.dir();
    const log = await h.open(dir, { segmentBytes: 400, indexIntervalBytes: 100 });
    await log.appendAsFollower(Buffer.concat([
      buildBatch({ baseOffset: 0, recordCount: 2, leaderEpoch: 1, fill: 1 }),
      buildBatch({ baseOffset: 5, recordCount: 2, leaderEpoch: 1, fill: 2 }),
      buildBatch({ baseOffset: 10, leaderEpoch: 2, fill: 3 }),
    ]));
    await log.appendAsFollower(buildBatch({ baseOffset: 14, leaderEpoch: 2, fill: 4 }));
    await log.appendAsFollower(buildBatch({ baseOffset: 20, leaderEpoch: 3, fill: 5 }));
    expect(log.segmentCount).toBeGreaterThan(1);
    expect(log.logEndOffset).toBe(21);
    log.updateHighWatermark(21);
    // 18 lies in the gap [15, 20): the batch at 20 goes, the log ends after the batch at 14.
    expect(await log.truncateTo(18)).toBe(15);
    expect(log.logEndOffset).toBe(15);
    expect(log.highWatermark).toBe(15);
    expect(log.epochEntries()).toEqual([{ epoch: 1, startOffset: 0 }, { epoch: 2, startOffset: 10 }]);
    // 9 lies in the gap [7, 10): never an end beyond the truncation offset, which would skip the leader's records in [9, 10).
    expect(await log.truncateTo(9)).toBe(7);
    expect(log.logEndOffset).toBe(7);
    expect(log.epochEntries()).toEqual([{ epoch: 1, startOffset: 0 }]);
    // The follower fetches on from its LEO: the leader's next batch may start there or later.
    await log.appendAsFollower(buildBatch({ baseOffset: 7, leaderEpoch: 4, fill: 6 }));
    await log.appendAsFollower(buildBatch({ baseOffset: 12, leaderEpoch: 4, fill: 7 }));
    const expected = [[0, 1], [5, 2], [7, 6], [12, 7]];
    expect((await readAll(log)).map((b) => [b.baseOffset, b.fill])).toEqual(expected);
    await log.settled();
    const crashed = await h.open(await h.snapshot(dir), { segmentBytes: 400, indexIntervalBytes: 100 }, 0);
    expect(crashed.logEndOffset).toBe(13);
    expect((await readAll(crashed)).map((b) => [b.baseOffset, b.fill])).toEqual(expected);
  });

  it('an append checked against the end a pending truncation promised, which the truncation did not reach, is refused, not written after a hole', async () => {
    const log = await h.open(await h.dir());
    await log.appendAsFollower(Buffer.concat([buildBatch({ baseOffset: 0, recordCount: 2, fill: 1 }), buildBatch({ baseOffset: 2, recordCount: 3, fill: 2 })]));
    // 3 is inside the batch [2, 4]: the whole batch goes and the log ends at 2, but until the
    // truncation runs the log expects appends from 3. A batch at 3 would leave the leader's 2 out.
    const truncated = log.truncateTo(3);
    const raced = log.appendAsFollower(buildBatch({ baseOffset: 3, fill: 3 }));
    expect(await truncated).toBe(2);
    await expect(raced).rejects.toMatchObject({ code: 'UNEXPECTED_APPEND_OFFSET' });
    expect(log.logEndOffset).toBe(2);
    await log.appendAsFollower(buildBatch({ baseOffset: 2, fill: 4 }));
    expect((await readAll(log)).map((b) => [b.baseOffset, b.fill])).toEqual([[0, 1], [2, 4]]);
  });

  it('a gap wider than one segment can index starts a new segment at the batch after it', async () => {
    const dir = await h.dir();
    const log = await h.open(dir);
    await log.appendAsFollower(buildBatch({ baseOffset: 0, leaderEpoch: 1, fill: 1 }));
    const far = 5 + MAX_RELATIVE_OFFSET;
    await log.appendAsFollower(buildBatch({ baseOffset: far, recordCount: 2, leaderEpoch: 1, fill: 2 }));
    expect(log.segmentBaseOffsets()).toEqual([0, far]);
    expect(log.logEndOffset).toBe(far + 2);
    expect(log.currentState).toBe('open');
    await log.settled();
    for (const reloaded of [await h.open(await h.snapshot(dir), {}, 0), await (async () => {
      await log.close();
      return h.open(dir);
    })()]) {
      expect(reloaded.logEndOffset).toBe(far + 2);
      expect((await readAll(reloaded)).map((b) => [b.baseOffset, b.fill])).toEqual([[0, 1], [far, 2]]);
      expect(splitBatches((await reloaded.read(7, 1)).records)[0]?.baseOffset).toBe(far);
    }
  });
});
