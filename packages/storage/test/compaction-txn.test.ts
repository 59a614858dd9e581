// Compaction with transactions (Kafka's LogCleaner rules): the cleaner never passes the last stable
// offset; records of aborted transactions go and never supersede committed ones; markers stay while
// their transaction has records and go delete.retention.ms later; a producer's last batch survives as an
// empty batch with its header. Property: a read_committed consumer's table is the same before and after.
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AbortedTxn, LogConfig, PartitionLog } from '../src/index.js';
import { LogHarness } from './harness.js';
import { controlBatch, openTransactions, readBatches, readCommitted, tableOf, txnDataBatch, type TxnRecord } from './txn-builder.js';

const h = new LogHarness();
beforeEach(() => {
  h.clock.nowMs = 1_700_000_000_000;
});
afterEach(() => h.dispose());

const DAY_MS = 86_400_000;
const COMPACT: Partial<LogConfig> = { cleanupPolicy: 'compact', segmentBytes: 400, indexIntervalBytes: 100, minCleanableDirtyRatio: 0, deleteRetentionMs: DAY_MS };

/** Writes a partition's batches as a leader would, tracking open transactions and recording aborts. */
class Writer {
  readonly aborted: AbortedTxn[] = [];
  readonly open = new Map<number, number>();
  private seq = new Map<number, number>();

  constructor(readonly log: PartitionLog) {}

  /** A batch of producer `producerId` (transactional unless `plain`); producerId -1: no producer. */
  async data(producerId: number, records: readonly TxnRecord[], opts: { plain?: boolean } = {}): Promise<number> {
    const seq = this.seq.get(producerId) ?? 0;
    this.seq.set(producerId, seq + records.length);
    const transactional = opts.plain !== true && producerId >= 0;
    const info = await this.log.appendAsLeader(txnDataBatch({ producerId, producerEpoch: producerId < 0 ? -1 : 3, baseSequence: producerId < 0 ? -1 : seq, records, transactional }), 0);
    if (transactional && !this.open.has(producerId)) this.open.set(producerId, info.firstOffset);
    return info.firstOffset;
  }

  async end(producerId: number, committed: boolean, timestampMs: number): Promise<number | null> {
    const firstOffset = this.open.get(producerId);
    if (firstOffset === undefined) return null;
    const info = await this.log.appendAsLeader(controlBatch({ producerId, producerEpoch: 4, committed, timestampMs }), 0);
    this.open.delete(producerId);
    if (!committed) {
      const entry = { producerId, firstOffset, lastOffset: info.lastOffset, lastStableOffset: Math.min(info.lastOffset + 1, ...this.open.values()) };
      await this.log.appendAbortedTxn(entry);
      this.aborted.push(entry);
    }
    return info.lastOffset;
  }

  /** The partition's LSO: the first offset of the oldest open transaction, else the high watermark. */
  lastStableOffset(): number {
    return Math.min(this.log.highWatermark, ...this.open.values());
  }

  /** Fills with plain keyed records until the log has `segments` segments (so earlier ones are closed). */
  async fillTo(segments: number, nowMs: number): Promise<void> {
    for (let i = 0; this.log.segmentCount < segments; i++) await this.data(-1, [{ key: `fill${i % 3}`, value: `f${i}`, timestamp: nowMs }]);
    this.log.updateHighWatermark(this.log.logEndOffset);
  }
}

const rec = (key: string | null, value: string | null, timestamp: number): TxnRecord => ({ key, value, timestamp });

async function committedTable(log: PartitionLog): Promise<Map<string, string>> {
  return tableOf(readCommitted(await readBatches(log), await log.abortedTransactions(log.logStartOffset, log.logEndOffset)));
}

describe('compaction with transactions', () => {
  it('removes records of aborted transactions, which never supersede committed records', async () => {
    const nowMs = h.clock.nowMs;
    const log = await h.open(await h.dir(), COMPACT);
    const w = new Writer(log);
    await w.data(-1, [rec('k1', 'v1', nowMs), rec('k2', 'v2', nowMs)]);
    await w.data(1, [rec('k1', 'aborted-1', nowMs), rec('k3', 'aborted-3', nowMs)]);
    await w.data(2, [rec('k2', 'committed-2', nowMs)]);
    await w.data(1, [rec('k4', 'aborted-4', nowMs)]);
    await w.end(1, false, nowMs);
    await w.end(2, true, nowMs);
    await w.fillTo(4, nowMs);
    const before = await committedTable(log);
    expect(before.get('k1')).toBe('v1');
    const result = await log.compact(nowMs, { lastStableOffset: w.lastStableOffset() });
    expect(result.outcome).toBe('cleaned');
    expect(result.abortedRecordsRemoved).toBe(3);
    const after = await readBatches(log);
    const values = after.flatMap((b) => b.records.map((r) => r.value));
    expect(values.filter((v) => v?.startsWith('aborted'))).toEqual([]);
    expect(await committedTable(log)).toEqual(before);
    expect((await committedTable(log)).get('k1')).toBe('v1');
  });

  it('never cleans at or beyond the last stable offset', async () => {
    const nowMs = h.clock.nowMs;
    const log = await h.open(await h.dir(), COMPACT);
    const w = new Writer(log);
    for (let i = 0; i < 30; i++) await w.data(-1, [rec(`k${i % 3}`, `v${i}`, nowMs)]);
    await w.fillTo(log.segmentCount + 1, nowMs);
    const bases = log.segmentBaseOffsets();
    expect(bases.length).toBeGreaterThan(4);
    const lastStableOffset = bases[3]! + 1; // inside segment 3: segments 3.. must stay as they are
    const before = await readBatches(log);
    const result = await log.compact(nowMs, { lastStableOffset });
    expect(result.outcome).toBe('cleaned');
    expect(log.cleanerFirstDirtyOffset).toBe(bases[3]);
    const after = await readBatches(log);
    expect(after.filter((b) => b.lastOffset >= bases[3]!)).toEqual(before.filter((b) => b.lastOffset >= bases[3]!));
    expect(after.filter((b) => b.lastOffset < bases[3]!).length).toBeLessThan(before.filter((b) => b.lastOffset < bases[3]!).length);
    // With the LSO at the high watermark the rest of the closed segments are cleaned too.
    await log.compact(nowMs, { lastStableOffset: log.highWatermark });
    expect(log.cleanerFirstDirtyOffset).toBe(log.segmentBaseOffsets().at(-1));
    // An LSO at the log start cleans nothing.
    const other = await h.open(await h.dir(), COMPACT);
    const w2 = new Writer(other);
    for (let i = 0; i < 30; i++) await w2.data(-1, [rec(`k${i % 3}`, `v${i}`, nowMs)]);
    await w2.fillTo(other.segmentCount + 1, nowMs);
    expect((await other.compact(nowMs, { lastStableOffset: 0 })).outcome).toBe('skipped');
    await expect(other.compact(nowMs, { lastStableOffset: -1 })).rejects.toThrow(/lastStableOffset -1/);
  });

  it('keeps a marker while its transaction has records, then removes it (and its txn index entry) delete.retention.ms later', async () => {
    const nowMs = h.clock.nowMs;
    const dir = await h.dir();
    const log = await h.open(dir, COMPACT);
    const w = new Writer(log);
    await w.data(1, [rec('a', 'aborted', nowMs)]);
    const abortAt = (await w.end(1, false, nowMs))!;
    await w.data(2, [rec('c', 'committed', nowMs)]);
    const commitAt = (await w.end(2, true, nowMs))!;
    await w.data(3, [rec('x', 'x1', nowMs)]);
    const commit3At = (await w.end(3, true, nowMs))!;
    await w.fillTo(3, nowMs);
    const markers = async () => (await readBatches(log)).filter((b) => b.control).map((b) => b.baseOffset);

    // Pass 1 (markers new): the aborted record goes, every marker stays, the entry too.
    await log.compact(nowMs, { lastStableOffset: w.lastStableOffset() });
    expect(await markers()).toEqual([abortAt, commitAt, commit3At]);
    expect(await log.abortedTransactions(0, log.logEndOffset)).toEqual(w.aborted);

    // Two days later (x superseded, producers 1 and 3 committed later transactions meanwhile): the ABORT
    // marker has no batch left (its empty batch is no longer producer 1's last) and goes with its entry;
    // the COMMIT whose record is still there stays; the COMMIT whose record was superseded goes.
    const later = nowMs + 2 * DAY_MS;
    await w.data(-1, [rec('x', 'x2', later)]);
    await w.data(1, [rec('b1', 'b1', later)]);
    const later1At = (await w.end(1, true, later))!;
    await w.data(3, [rec('b3', 'b3', later)]);
    const later3At = (await w.end(3, true, later))!;
    await w.fillTo(log.segmentCount + 1, later);
    const result = await log.compact(later, { lastStableOffset: w.lastStableOffset() });
    expect(result.markersRemoved).toBe(2);
    expect(await markers()).toEqual([commitAt, later1At, later3At]);
    expect(await log.abortedTransactions(0, log.logEndOffset)).toEqual([]);
    expect((await committedTable(log)).get('c')).toBe('committed');
    // Re-adding the removed entry is refused: its marker is gone.
    await expect(log.appendAbortedTxn(w.aborted[0]!)).rejects.toThrow(/no control batch \(marker\) at offset/);
    expect(await log.abortedTransactions(0, log.logEndOffset)).toEqual([]);
    // The change survives a crash.
    await log.settled();
    const crashed = await h.snapshot(dir);
    const reopened = await h.open(crashed, COMPACT, 0);
    expect(await reopened.abortedTransactions(0, reopened.logEndOffset)).toEqual([]);
    expect((await readBatches(reopened)).filter((b) => b.control).map((b) => b.baseOffset)).toEqual([commitAt, later1At, later3At]);
  });

  it("keeps a producer's last batch as an empty batch with its header; earlier batches of it go", async () => {
    const nowMs = h.clock.nowMs;
    const log = await h.open(await h.dir(), COMPACT);
    const w = new Writer(log);
    const first = await w.data(5, [rec('p', 'p1', nowMs)], { plain: true });
    const last = await w.data(5, [rec('p', 'p2', nowMs), rec('q', 'q1', nowMs)], { plain: true });
    await w.data(6, [rec('t', 't1', nowMs)]);
    const abortedLast = await w.data(6, [rec('t', 't2', nowMs)]);
    await w.end(6, false, nowMs);
    await w.data(-1, [rec('p', 'p3', nowMs), rec('q', 'q2', nowMs)]);
    await w.fillTo(4, nowMs);
    const before = await readBatches(log);
    await log.compact(nowMs, { lastStableOffset: w.lastStableOffset() });
    const after = await readBatches(log);
    expect(after.some((b) => b.baseOffset === first)).toBe(false);
    const kept = after.find((b) => b.baseOffset === last)!;
    const original = before.find((b) => b.baseOffset === last)!;
    expect(kept.records).toEqual([]);
    expect({ ...kept, records: [] }).toEqual({ ...original, records: [] });
    expect(kept).toMatchObject({ producerId: 5, producerEpoch: 3, baseSequence: 1, lastOffset: last + 1 });
    // The aborted producer's last data batch too (its first aborted batch goes entirely).
    const abortedKept = after.find((b) => b.baseOffset === abortedLast)!;
    expect(abortedKept).toMatchObject({ producerId: 6, records: [], transactional: true });
    expect(after.some((b) => b.baseOffset === abortedLast - 1)).toBe(false);
    // A follower replicating the compacted log accepts the empty batch (its bytes as the leader serves them).
    const follower = await h.open(await h.dir(), COMPACT);
    await follower.truncateFullyAndStartAt(last);
    const served = (await log.read(last, 1)).records;
    const emptyBatch = served.subarray(0, 12 + served.readInt32BE(8));
    await follower.appendAsFollower(Buffer.from(emptyBatch));
    expect(follower.logEndOffset).toBe(last + 2);
    expect((await readBatches(follower))[0]).toEqual(kept);
    // A leader append of a record-less batch is still refused.
    await expect(follower.appendAsLeader(Buffer.from(emptyBatch), 0)).rejects.toThrow(/recordCount 0 < 1/);
  });
  it("keeps the marker of a producer's last transactional batch kept empty: no transaction is left open without its end", async () => {
    const nowMs = h.clock.nowMs;
    const dir = await h.dir();
    const log = await h.open(dir, COMPACT);
    const w = new Writer(log);
    const txnAt = await w.data(1, [rec('k', 'in-txn', nowMs)]);
    const commitAt = (await w.end(1, true, nowMs))!;
    await w.data(-1, [rec('k', 'later', nowMs)]); // supersedes the transaction's only record
    await w.fillTo(3, nowMs);
    expect(openTransactions(await readBatches(log))).toEqual(new Map());
    // Two days later (past delete.retention.ms): the batch is emptied but kept (the producer's last);
    // so its COMMIT must stay, or a rebuild from the log sees a transaction that never ends.
    await log.compact(nowMs + 2 * DAY_MS, { lastStableOffset: w.lastStableOffset() });
    const after = await readBatches(log);
    expect(after.find((b) => b.baseOffset === txnAt)).toMatchObject({ producerId: 1, transactional: true, records: [] });
    expect(after.filter((b) => b.control).map((b) => b.baseOffset)).toEqual([commitAt]);
    expect(openTransactions(after)).toEqual(new Map());
    // Once a later batch of the producer makes it no longer the last, the empty batch goes, then its marker.
    await w.data(1, [rec('m', 'next', nowMs + 2 * DAY_MS)]);
    await w.end(1, true, nowMs + 2 * DAY_MS);
    await w.fillTo(log.segmentCount + 1, nowMs + 2 * DAY_MS);
    await log.compact(nowMs + 4 * DAY_MS, { lastStableOffset: w.lastStableOffset() });
    await log.compact(nowMs + 4 * DAY_MS, { lastStableOffset: w.lastStableOffset() });
    const later = await readBatches(log);
    expect(later.some((b) => b.baseOffset === txnAt || b.baseOffset === commitAt)).toBe(false);
    expect(openTransactions(later)).toEqual(new Map());
  });
});

describe('compaction with transactions: property', () => {
  const opArb = fc.array(
    fc.record({
      kind: fc.constantFrom('txn', 'txn', 'plain', 'abort', 'commit'),
      producerId: fc.integer({ min: 1, max: 3 }),
      key: fc.constantFrom('k0', 'k1', 'k2', 'k3'),
      value: fc.option(fc.string({ maxLength: 6 }), { freq: 5, nil: null }),
      ageMs: fc.constantFrom(0, 2 * DAY_MS),
    }),
    { minLength: 5, maxLength: 50 },
  );

  it('property: the read_committed table is unchanged, no aborted record survives below the LSO but as an empty batch, nothing at or past the LSO changes', async () => {
    await fc.assert(
      fc.asyncProperty(opArb, fc.boolean(), async (ops, leaveOpen) => {
        const nowMs = h.clock.nowMs;
        const dir = await h.dir();
        const log = await h.open(dir, COMPACT);
        const w = new Writer(log);
        for (const op of ops) {
          const ts = nowMs - op.ageMs;
          if (op.kind === 'txn') await w.data(op.producerId, [rec(op.key, op.value, ts)]);
          else if (op.kind === 'plain') await w.data(-1, [rec(op.key, op.value, ts)]);
          else await w.end(op.producerId, op.kind === 'commit', ts);
        }
        if (!leaveOpen) for (const producerId of [...w.open.keys()]) await w.end(producerId, true, nowMs);
        await w.fillTo(log.segmentCount + 1, nowMs);
        const lastStableOffset = w.lastStableOffset();
        const before = await readBatches(log);
        const tableBefore = await committedTable(log);
        await log.compact(nowMs, { lastStableOffset });
        const after = await readBatches(log);
        expect(log.cleanerFirstDirtyOffset).toBeLessThanOrEqual(lastStableOffset);
        expect(after.filter((b) => b.lastOffset >= lastStableOffset)).toEqual(before.filter((b) => b.lastOffset >= lastStableOffset));
        expect(await committedTable(log)).toEqual(tableBefore);
        const cleanedBelow = log.cleanerFirstDirtyOffset;
        for (const b of after) {
          if (b.lastOffset >= cleanedBelow || !b.transactional || b.control) continue;
          const aborted = w.aborted.some((t) => t.producerId === b.producerId && t.firstOffset <= b.baseOffset && b.baseOffset <= t.lastOffset);
          if (aborted) expect(b.records).toEqual([]);
        }
        // The txn index keeps an entry exactly while its marker is there.
        const markerOffsets = new Set(after.filter((b) => b.control).map((b) => b.baseOffset));
        expect((await log.abortedTransactions(0, log.logEndOffset)).every((t) => markerOffsets.has(t.lastOffset))).toBe(true);
        await log.settled();
        const crashed = await h.snapshot(dir);
        expect(await readBatches(await h.open(crashed, COMPACT, 0))).toEqual(after);
      }),
      { numRuns: 30 },
    );
  });
});

describe('compaction with transactions: no transaction left open', () => {
  const stepArb = fc.array(
    fc.record({
      kind: fc.constantFrom('txn', 'txn', 'plain', 'abort', 'commit', 'compact'),
      producerId: fc.integer({ min: 1, max: 3 }),
      key: fc.constantFrom('k0', 'k1', 'k2'),
      value: fc.option(fc.string({ maxLength: 4 }), { freq: 4, nil: null }),
      /** Clock advance before a compaction, ms. */
      advanceMs: fc.constantFrom(0, DAY_MS / 2, 2 * DAY_MS),
    }),
    { minLength: 5, maxLength: 40 },
  );

  it('property: after any appends, markers and compactions, a replay of the log closes every transaction the writer closed', async () => {
    await fc.assert(
      fc.asyncProperty(stepArb, async (steps) => {
        let nowMs = h.clock.nowMs;
        const log = await h.open(await h.dir(), COMPACT);
        const w = new Writer(log);
        const check = async (when: string) => {
          // The writer's open transactions are exactly those the log leaves open: the cleaner never
          // leaves a kept transactional batch (empty ones included) without the marker that ends it.
          expect(openTransactions(await readBatches(log)), when).toEqual(w.open);
        };
        for (const step of steps) {
          if (step.kind === 'txn') await w.data(step.producerId, [rec(step.key, step.value, nowMs)]);
          else if (step.kind === 'plain') await w.data(-1, [rec(step.key, step.value, nowMs)]);
          else if (step.kind === 'abort' || step.kind === 'commit') await w.end(step.producerId, step.kind === 'commit', nowMs);
          else {
            nowMs += step.advanceMs;
            await w.fillTo(log.segmentCount + 1, nowMs);
            await log.compact(nowMs, { lastStableOffset: w.lastStableOffset() });
            await check(`after compacting at ${nowMs}`);
          }
        }
        for (const producerId of [...w.open.keys()]) await w.end(producerId, commitsLeftover(producerId), nowMs);
        nowMs += 2 * DAY_MS;
        await w.fillTo(log.segmentCount + 1, nowMs);
        await log.compact(nowMs, { lastStableOffset: w.lastStableOffset() });
        await log.compact(nowMs, { lastStableOffset: w.lastStableOffset() });
        await check('after closing everything and compacting twice');
      }),
      { numRuns: 25 },
    );
  });
});

/** Commit even producer ids' leftovers, abort odd ones'. */
function commitsLeftover(producerId: number): boolean {
  return producerId % 2 === 0;
}
