// Log compaction: the compacted log reads, per key, to the same last value as the uncompacted one;
// offsets never change; the active segment is never touched; min.compaction.lag.ms, the dirty ratio and
// the map limit (several passes) are honoured; and a crash at any step of the swap protocol leaves a
// log that opens and reads to the same view.
import { readdir, truncate } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CleanerStep, LogConfig, PartitionLog } from '../src/index.js';
import { CLEANER_CHECKPOINT_FILE, parseCleanerCheckpoint } from '../src/internal.js';
import { LogHarness } from './harness.js';
import { buildRecordBatch, type Codec, decodeRecords, type DecodedRecord, type TestRecord } from './record-builder.js';

const h = new LogHarness();
// Real epoch milliseconds, so timestamps days in the past stay positive.
beforeEach(() => {
  h.clock.nowMs = 1_700_000_000_000;
});
afterEach(() => h.dispose());

const DAY_MS = 86_400_000;
const COMPACT: Partial<LogConfig> = { cleanupPolicy: 'compact', segmentBytes: 400, indexIntervalBytes: 100, minCleanableDirtyRatio: 0 };

/** Every record of the log from its start, in offset order (gaps allowed). */
async function readRecords(log: PartitionLog, maxBytes = 1000): Promise<DecodedRecord[]> {
  const out: DecodedRecord[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const result = await log.read(offset, maxBytes);
    if (result.records.length === 0) break; // only a compacted gap remains below the log end
    const records = decodeRecords(result.records).filter((r) => r.offset >= offset);
    out.push(...records);
    offset = lastOffsetOf(result.records) + 1;
  }
  for (let i = 1; i < out.length; i++) expect(out[i]!.offset).toBeGreaterThan(out[i - 1]!.offset);
  return out;
}

function lastOffsetOf(batches: Buffer): number {
  let at = 0;
  let last = -1;
  while (at < batches.length) {
    last = Number(batches.readBigInt64BE(at)) + batches.readInt32BE(at + 23);
    at += 12 + batches.readInt32BE(at + 8);
  }
  return last;
}

/** key -> last value, tombstones meaning "absent" (what a consumer rebuilding a table sees). */
function tableOf(records: readonly DecodedRecord[]): Map<string, string> {
  const table = new Map<string, string>();
  for (const r of records) {
    if (r.key === null) continue;
    if (r.value === null) table.delete(r.key);
    else table.set(r.key, r.value);
  }
  return table;
}

function lastByKey(records: readonly DecodedRecord[]): Map<string, DecodedRecord> {
  const last = new Map<string, DecodedRecord>();
  for (const r of records) if (r.key !== null) last.set(r.key, r);
  return last;
}

async function appendAll(log: PartitionLog, batches: readonly { records: TestRecord[]; codec: Codec }[]): Promise<void> {
  for (const b of batches) await log.appendAsLeader(buildRecordBatch(b.records, b.codec), 0);
  log.updateHighWatermark(log.logEndOffset);
}

const batchesArb = fc.array(
  fc.record({
    records: fc.array(
      fc.record({
        key: fc.option(fc.constantFrom('k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7'), { freq: 12, nil: null }),
        value: fc.option(fc.string({ minLength: 0, maxLength: 12 }), { freq: 4, nil: null }),
        ageMs: fc.constantFrom(0, 10, 2 * DAY_MS),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    codec: fc.constantFrom<Codec>('none', 'none', 'gzip', 'lz4'),
  }),
  { minLength: 1, maxLength: 40 },
);

/** Records stamped relative to `nowMs`: ageMs 2 days puts a tombstone past delete.retention.ms (1 day). */
function stamp(spec: readonly { records: { key: string | null; value: string | null; ageMs: number }[]; codec: Codec }[], nowMs: number) {
  return spec.map((b) => ({ codec: b.codec, records: b.records.map((r) => ({ key: r.key, value: r.value, timestamp: nowMs - r.ageMs })) }));
}

describe('log compaction', () => {
  it('property: per key the compacted log keeps the last record (tombstones go only past delete.retention.ms), offsets unchanged, active segment untouched', async () => {
    await fc.assert(
      fc.asyncProperty(batchesArb, fc.constantFrom(70, 150, 400, 1 << 20), async (spec, dedupeBufferBytes) => {
        const nowMs = h.clock.nowMs;
        const dir = await h.dir();
        const log = await h.open(dir, { ...COMPACT, deleteRetentionMs: DAY_MS });
        await appendAll(log, stamp(spec, nowMs));
        const before = await readRecords(log);
        const activeBase = log.segmentBaseOffsets().at(-1)!;
        const result = await log.compact(nowMs, { dedupeBufferBytes });
        const after = await readRecords(log);
        const cleanedBelow = log.cleanerFirstDirtyOffset;

        // Offsets unchanged: every kept record is the original at its offset.
        const original = new Map(before.map((r) => [r.offset, r]));
        for (const r of after) expect(r).toEqual(original.get(r.offset));
        // Nothing at or above the first dirty offset is touched (the active segment included).
        expect(after.filter((r) => r.offset >= cleanedBelow)).toEqual(before.filter((r) => r.offset >= cleanedBelow));
        expect(after.filter((r) => r.offset >= activeBase)).toEqual(before.filter((r) => r.offset >= activeBase));
        expect(cleanedBelow).toBe(result.outcome === 'cleaned' ? activeBase : log.logStartOffset);
        // Per key: the last record survives, unless it is a tombstone past the horizon in the cleaned range.
        const lastBefore = lastByKey(before);
        const lastAfter = lastByKey(after);
        for (const [key, last] of lastBefore) {
          const expired = last.value === null && last.timestamp < nowMs - DAY_MS && last.offset < cleanedBelow;
          if (expired) expect(lastAfter.has(key)).toBe(false);
          else expect(lastAfter.get(key)).toEqual(last);
        }
        expect(tableOf(after)).toEqual(tableOf(before));
        // In the cleaned range each key appears at most once; keyless records all stay.
        const cleanedKeys = after.filter((r) => r.offset < cleanedBelow && r.key !== null).map((r) => r.key);
        expect(new Set(cleanedKeys).size).toBe(cleanedKeys.length);
        expect(after.filter((r) => r.key === null)).toEqual(before.filter((r) => r.key === null));
        if (dedupeBufferBytes === 70 && result.outcome === 'cleaned' && new Set(before.filter((r) => r.offset < activeBase && r.key !== null).map((r) => r.key)).size > 1) {
          expect(result.passes).toBeGreaterThan(1);
        }

        // The compacted log reopens to the same records, after a clean close and after a crash.
        const crashed = await h.snapshot(dir);
        await log.close();
        expect(await readRecords(await h.open(dir, COMPACT))).toEqual(after);
        expect(await readRecords(await h.open(crashed, COMPACT, 0))).toEqual(after);
      }),
      { numRuns: 40 },
    );
  });

  it('cleans a large dirty range in several passes when the key map is small, and cleaning again changes nothing', async () => {
    const dir = await h.dir();
    const log = await h.open(dir, COMPACT);
    const nowMs = h.clock.nowMs;
    const batches = Array.from({ length: 120 }, (_, i) => ({ codec: 'none' as Codec, records: [{ key: `key-${i % 30}`, value: `v${i}`, timestamp: nowMs }] }));
    await appendAll(log, batches);
    const before = await readRecords(log);
    const result = await log.compact(nowMs, { dedupeBufferBytes: 10 * (6 + 64) });
    expect(result.outcome).toBe('cleaned');
    expect(result.passes).toBeGreaterThanOrEqual(3);
    const after = await readRecords(log);
    expect(tableOf(after)).toEqual(tableOf(before));
    const active = log.segmentBaseOffsets().at(-1)!;
    expect(new Set(after.filter((r) => r.offset < active).map((r) => r.key)).size).toBe(after.filter((r) => r.offset < active).length);
    expect(result.bytesAfter).toBeLessThan(result.bytesBefore);
    const again = await log.compact(nowMs, { dedupeBufferBytes: 10 * (6 + 64) });
    expect(again.outcome).toBe('skipped');
    expect(await readRecords(log)).toEqual(after);
  });

  it('skips delete-policy logs, and compact-only logs ignore retention.ms', async () => {
    const nowMs = h.clock.nowMs;
    const batches = Array.from({ length: 20 }, (_, i) => ({ codec: 'none' as Codec, records: [{ key: 'k', value: `v${i}`, timestamp: nowMs - 10 * DAY_MS }] }));
    const deleting = await h.open(await h.dir(), { ...COMPACT, cleanupPolicy: 'delete' });
    await appendAll(deleting, batches);
    expect((await deleting.compact(nowMs)).reason).toBe('cleanup.policy=delete');
    const compacting = await h.open(await h.dir(), { ...COMPACT, retentionMs: DAY_MS });
    await appendAll(compacting, batches);
    expect((await compacting.applyRetention(nowMs)).deletedSegments).toBe(0);
    const both = await h.open(await h.dir(), { ...COMPACT, cleanupPolicy: 'compact,delete', retentionMs: DAY_MS });
    await appendAll(both, batches);
    expect((await both.applyRetention(nowMs)).deletedSegments).toBeGreaterThan(0);
  });

  it('honours min.compaction.lag.ms: segments with records newer than the lag stay as they are', async () => {
    const dir = await h.dir();
    const log = await h.open(dir, { ...COMPACT, minCompactionLagMs: 60_000 });
    const nowMs = h.clock.nowMs;
    const old = Array.from({ length: 12 }, (_, i) => ({ codec: 'none' as Codec, records: [{ key: 'k', value: `old${i}`, timestamp: nowMs - 120_000 }] }));
    const recent = Array.from({ length: 12 }, (_, i) => ({ codec: 'none' as Codec, records: [{ key: 'k', value: `new${i}`, timestamp: nowMs - 1_000 }] }));
    await appendAll(log, [...old, ...recent]);
    const before = await readRecords(log);
    const result = await log.compact(nowMs);
    expect(result.outcome).toBe('cleaned');
    const after = await readRecords(log);
    // Every recent record is still there; of the old ones only those in the segment the recent ones start in.
    expect(after.filter((r) => r.value!.startsWith('new'))).toEqual(before.filter((r) => r.value!.startsWith('new')));
    expect(after.filter((r) => r.value!.startsWith('old')).length).toBeLessThan(old.length);
    const cleanedBelow = log.cleanerFirstDirtyOffset;
    expect(before.filter((r) => r.offset >= cleanedBelow).every((r) => after.some((a) => a.offset === r.offset))).toBe(true);
    expect(before.find((r) => r.offset === cleanedBelow)?.timestamp ?? nowMs).toBeGreaterThanOrEqual(nowMs - 120_000);
    // Later, with the lag passed, the rest is cleanable.
    const later = await log.compact(nowMs + 60_000);
    expect(later.outcome).toBe('cleaned');
    expect(log.cleanerFirstDirtyOffset).toBeGreaterThan(cleanedBelow);
  });

  it('cleans only when the dirty ratio exceeds min.cleanable.dirty.ratio (or max.compaction.lag.ms forces it)', async () => {
    const dir = await h.dir();
    const log = await h.open(dir, { ...COMPACT, minCleanableDirtyRatio: 0.5 });
    const nowMs = h.clock.nowMs;
    const batch = (i: number) => ({ codec: 'none' as Codec, records: [{ key: `k${i % 40}`, value: `v${i}`, timestamp: nowMs }] });
    await appendAll(log, Array.from({ length: 40 }, (_, i) => batch(i)));
    expect((await log.compact(nowMs)).outcome).toBe('cleaned'); // all dirty: ratio 1
    const clean = log.cleanerFirstDirtyOffset;
    await appendAll(log, Array.from({ length: 8 }, (_, i) => batch(i)));
    const low = await log.compact(nowMs);
    expect(low.outcome).toBe('skipped');
    expect(low.dirtyRatio).toBeGreaterThan(0);
    expect(low.dirtyRatio).toBeLessThanOrEqual(0.5);
    expect(log.cleanerFirstDirtyOffset).toBe(clean);
    log.updateConfig({ ...log.logConfig, maxCompactionLagMs: 1 });
    const forced = await log.compact(nowMs + 10);
    expect(forced.outcome).toBe('cleaned');
    expect(log.cleanerFirstDirtyOffset).toBeGreaterThan(clean);
    log.updateConfig({ ...log.logConfig, maxCompactionLagMs: Infinity });
    await appendAll(log, Array.from({ length: 60 }, (_, i) => batch(i)));
    const high = await log.compact(nowMs);
    expect(high.dirtyRatio).toBeGreaterThan(0.5);
    expect(high.outcome).toBe('cleaned');
  });

  it('never cleans past the high watermark', async () => {
    const log = await h.open(await h.dir(), COMPACT);
    const nowMs = h.clock.nowMs;
    for (let i = 0; i < 30; i++) await log.appendAsLeader(buildRecordBatch([{ key: 'k', value: `v${i}`, timestamp: nowMs }]), 0);
    expect((await log.compact(nowMs)).outcome).toBe('skipped');
    log.updateHighWatermark(10);
    await log.compact(nowMs);
    expect(log.cleanerFirstDirtyOffset).toBeLessThanOrEqual(10);
    expect((await readRecords(log)).filter((r) => r.offset >= 10)).toHaveLength(20);
  });

  it('rewrites gzip and lz4 batches with their codec, keeping lastOffsetDelta and a valid CRC', async () => {
    const log = await h.open(await h.dir(), COMPACT);
    const nowMs = h.clock.nowMs;
    for (const codec of ['gzip', 'lz4', 'none'] as Codec[]) {
      await log.appendAsLeader(buildRecordBatch([0, 1, 2, 3].map((i) => ({ key: `k${i % 2}`, value: `${codec}${i}`, timestamp: nowMs })), codec), 0);
    }
    for (let i = 0; i < 12; i++) await log.appendAsLeader(buildRecordBatch([{ key: 'filler', value: `f${i}`, timestamp: nowMs }]), 0);
    log.updateHighWatermark(log.logEndOffset);
    await log.compact(nowMs);
    const first = await log.read(0, 100_000);
    const batches: { codec: number; base: number; lastDelta: number; count: number }[] = [];
    for (let at = 0; at < first.records.length; at += 12 + first.records.readInt32BE(at + 8)) {
      batches.push({ codec: first.records.readInt16BE(at + 21) & 7, base: Number(first.records.readBigInt64BE(at)), lastDelta: first.records.readInt32BE(at + 23), count: first.records.readInt32BE(at + 57) });
    }
    // k0 and k1 are rewritten in each later batch, so the gzip and lz4 batches lose everything and go;
    // the last (uncompressed) batch keeps its two latest records and its full offset span.
    expect(batches[0]).toEqual({ codec: 0, base: 8, lastDelta: 3, count: 2 });
    expect(decodeRecords(first.records).slice(0, 2).map((r) => [r.offset, r.value])).toEqual([[10, 'none2'], [11, 'none3']]);

    const log2 = await h.open(await h.dir(), COMPACT);
    for (const codec of ['gzip', 'lz4'] as Codec[]) {
      await log2.appendAsLeader(buildRecordBatch([0, 1, 2].map((i) => ({ key: `${codec}-${i % 2}`, value: `${codec}${i}`, timestamp: nowMs })), codec), 0);
    }
    for (let i = 0; i < 12; i++) await log2.appendAsLeader(buildRecordBatch([{ key: 'filler', value: `f${i}`, timestamp: nowMs }]), 0);
    log2.updateHighWatermark(log2.logEndOffset);
    await log2.compact(nowMs);
    const read = await log2.read(0, 100_000);
    const codecs: number[] = [];
    for (let at = 0; at < read.records.length; at += 12 + read.records.readInt32BE(at + 8)) codecs.push(read.records.readInt16BE(at + 21) & 7);
    expect(codecs.slice(0, 2)).toEqual([1, 3]);
    expect(decodeRecords(read.records).slice(0, 4).map((r) => [r.offset, r.value])).toEqual([[1, 'gzip1'], [2, 'gzip2'], [4, 'lz41'], [5, 'lz42']]);
  });
});

describe('crash during cleaning', () => {
  it('a crash after any step of the swap protocol leaves a log that opens to the same table, and cleaning resumes', async () => {
    for (const deleteRetentionMs of [DAY_MS, 0]) {
      const dir = await h.dir();
      const config = { ...COMPACT, deleteRetentionMs };
      const log = await h.open(dir, config);
      const nowMs = h.clock.nowMs;
      const batches = Array.from({ length: 24 }, (_, i) => ({
        codec: (['none', 'gzip', 'lz4'] as Codec[])[i % 3]!,
        records: [{ key: `k${i % 7}`, value: i % 11 === 5 ? null : `v${i}`, timestamp: nowMs - 1 }, { key: `j${i % 3}`, value: `w${i}`, timestamp: nowMs - 1 }],
      }));
      await appendAll(log, batches);
      const before = await readRecords(log);
      const snapshots: { step: CleanerStep; dir: string }[] = [];
      const result = await log.compact(nowMs, {
        dedupeBufferBytes: 6 * 70,
        onStep: async (step) => void snapshots.push({ step, dir: await h.snapshot(dir) }),
      });
      expect(result.passes).toBeGreaterThan(1);
      const kinds = new Set(snapshots.map((s) => s.step.kind));
      expect([...kinds].sort()).toEqual(['checkpointed', 'cleaned-written', 'committed', 'end-checkpointed', 'swapped']);
      const after = await readRecords(log);
      expect(tableOf(after)).toEqual(tableOf(before));

      // Also a crash in the middle of writing a .cleaned file: cut one short.
      const firstWritten = snapshots.find((s) => s.step.kind === 'cleaned-written' && s.step.baseOffsets.length > 0)!;
      const torn = await h.snapshot(firstWritten.dir);
      const cleanedLog = (await readdir(torn)).find((n) => n.endsWith('.log.cleaned'))!;
      expect(cleanedLog).toBeDefined();
      await truncate(path.join(torn, cleanedLog), 30);
      snapshots.push({ step: firstWritten.step, dir: torn });

      for (const { step, dir: crashed } of snapshots) {
        const reopened = await h.open(crashed, config, 0);
        const leftovers = (await readdir(crashed)).filter((n) => /\.(cleaned|swap|deleted)$/.test(n));
        expect(leftovers, JSON.stringify(step)).toEqual([]);
        const records = await readRecords(reopened);
        expect(tableOf(records), JSON.stringify(step)).toEqual(tableOf(before));
        // Offsets unchanged, nothing invented.
        const original = new Map(before.map((r) => [r.offset, r]));
        for (const r of records) expect(r).toEqual(original.get(r.offset));
        // Cleaning again from here reaches the same table and a fully cleaned closed range.
        reopened.updateHighWatermark(reopened.logEndOffset);
        await reopened.compact(nowMs, { dedupeBufferBytes: 6 * 70 });
        const resumed = await readRecords(reopened);
        expect(tableOf(resumed)).toEqual(tableOf(before));
        expect(resumed.filter((r) => r.offset < reopened.cleanerFirstDirtyOffset)).toEqual(after.filter((r) => r.offset < log.cleanerFirstDirtyOffset));
        await reopened.close();
      }
      const checkpoint = parseCleanerCheckpoint(await import('node:fs/promises').then((fs) => fs.readFile(path.join(dir, CLEANER_CHECKPOINT_FILE), 'utf8')));
      expect(checkpoint).toEqual({ firstDirtyOffset: log.cleanerFirstDirtyOffset, compactedEndOffset: log.cleanerFirstDirtyOffset });
    }
  }, 120_000);

  it('recovery walks a compacted tail segment with gaps without truncating it, but still cuts a torn tail', async () => {
    const dir = await h.dir();
    const log = await h.open(dir, COMPACT);
    const nowMs = h.clock.nowMs;
    await appendAll(log, Array.from({ length: 40 }, (_, i) => ({ codec: 'none' as Codec, records: [{ key: `k${i % 4}`, value: `v${i}`, timestamp: nowMs }] })));
    await log.compact(nowMs);
    const after = await readRecords(log);
    // Recovery from offset 0 validates every segment, compacted ones included.
    const crashed = await h.snapshot(dir);
    const reopened = await h.open(crashed, COMPACT, 0);
    expect(await readRecords(reopened)).toEqual(after);
    // A torn active segment is still truncated at the tear.
    const torn = await h.snapshot(dir);
    const active = (await readdir(torn)).filter((n) => n.endsWith('.log')).sort().at(-1)!;
    const { size } = await import('node:fs/promises').then((fs) => fs.stat(path.join(torn, active)));
    await truncate(path.join(torn, active), size - 5);
    const tornLog = await h.open(torn, COMPACT, 0);
    expect(tornLog.logEndOffset).toBe(log.logEndOffset - 1);
    expect(await readRecords(tornLog)).toEqual(after.slice(0, -1));
  });
});

describe('reads and appends while cleaning', () => {
  it('every read during the clean returns whole, valid batches with the same table, and appends go on', async () => {
    const dir = await h.dir();
    const log = await h.open(dir, { ...COMPACT, deleteRetentionMs: DAY_MS });
    const nowMs = h.clock.nowMs;
    await appendAll(log, Array.from({ length: 80 }, (_, i) => ({ codec: (['none', 'gzip'] as Codec[])[i % 2]!, records: [{ key: `k${i % 9}`, value: `v${i}`, timestamp: nowMs }] })));
    const before = await readRecords(log);
    const expected = tableOf(before);
    const endBefore = log.logEndOffset;
    let reads = 0;
    const check = async (): Promise<void> => {
      const records = (await readRecords(log, 300)).filter((r) => r.offset < endBefore);
      expect(tableOf(records)).toEqual(expected);
      reads++;
    };
    const result = await log.compact(nowMs, {
      dedupeBufferBytes: 4 * 70,
      onStep: async (step) => {
        // Reads run beside the writer queue, where the swap happens; appends queue behind it.
        await check();
        if (step.kind === 'committed') void log.appendAsLeader(buildRecordBatch([{ key: 'late', value: String(step.baseOffset), timestamp: nowMs }]), 0);
      },
    });
    expect(result.outcome).toBe('cleaned');
    await log.settled();
    await check();
    expect(reads).toBeGreaterThan(5);
    expect((await readRecords(log)).filter((r) => r.key === 'late').length).toBeGreaterThan(0);
  });
});
