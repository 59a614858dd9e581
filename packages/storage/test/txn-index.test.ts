// The aborted-transaction index: the `.txnindex` file format (round trip, torn and hostile files), and
// PartitionLog's appendAbortedTxn / abortedTransactions across segments, duplicates, truncation, segment
// deletion, recovery and the per-segment entry limit.
import { appendFile, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { type AbortedTxn, InvalidRecordError, type PartitionLog } from '../src/index.js';
import { parseTxnIndex, segmentFileName, TXN_INDEX_ENTRY_BYTES, TXN_INDEX_SUFFIX, TxnIndex, txnIndexMaxEntries } from '../src/internal.js';
import { parseLogConfig } from '../src/index.js';
import { LogHarness } from './harness.js';
import { controlBatch, txnDataBatch } from './txn-builder.js';

const h = new LogHarness();
afterEach(() => h.dispose());

function fileOf(dir: string, base: number): string {
  return path.join(dir, segmentFileName(base, TXN_INDEX_SUFFIX));
}

function entryBytes(version: number, producerId: number, firstOffset: number, lastOffset: number, lastStableOffset: number): Buffer {
  const b = Buffer.alloc(TXN_INDEX_ENTRY_BYTES);
  b.writeInt16BE(version, 0);
  b.writeBigInt64BE(BigInt(producerId), 2);
  b.writeBigInt64BE(BigInt(firstOffset), 10);
  b.writeBigInt64BE(BigInt(lastOffset), 18);
  b.writeBigInt64BE(BigInt(lastStableOffset), 26);
  return b;
}

function indexOf(entries: readonly AbortedTxn[], baseOffset = 0): TxnIndex {
  const index = new TxnIndex(baseOffset, 1000);
  for (const e of entries) index.append(e);
  return index;
}

/** Sorted, well-formed entries with markers in [base, base + span). */
const entriesArb = (base: number, span: number) =>
  fc.uniqueArray(fc.integer({ min: base, max: base + span - 1 }), { maxLength: 20 }).chain((lasts) => {
    const sorted = [...lasts].sort((a, b) => a - b);
    return fc.tuple(...sorted.map((last) => fc.record({ producerId: fc.integer({ min: 0, max: 5 }), firstOffset: fc.integer({ min: 0, max: last }), lastOffset: fc.constant(last), lastStableOffset: fc.integer({ min: 0, max: last + 1 }) })));
  });

describe('.txnindex format', () => {
  it('property: entries round-trip through the file image', () => {
    fc.assert(
      fc.property(entriesArb(100, 500), (entries) => {
        const bytes = indexOf(entries, 100).toBuffer();
        expect(bytes.length).toBe(entries.length * TXN_INDEX_ENTRY_BYTES);
        const parsed = parseTxnIndex(bytes, { baseOffset: 100, nextOffset: 600, maxEntries: 1000 });
        expect(parsed).toMatchObject({ kind: 'ok', cut: null, tornTail: false });
        if (parsed.kind === 'ok') expect(parsed.index.entries).toEqual(entries);
      }),
    );
  });

  it('property: a torn tail is cut to whole entries, and entries past the segment end are dropped', () => {
    fc.assert(
      fc.property(entriesArb(0, 300), fc.nat(), fc.integer({ min: 1, max: 300 }), (entries, cutSeed, nextOffset) => {
        const bytes = indexOf(entries).toBuffer();
        const cutAt = bytes.length === 0 ? 0 : cutSeed % (bytes.length + 1);
        const parsed = parseTxnIndex(bytes.subarray(0, cutAt), { baseOffset: 0, nextOffset, maxEntries: 1000 });
        expect(parsed.kind).toBe('ok');
        if (parsed.kind !== 'ok') return;
        const whole = entries.slice(0, Math.floor(cutAt / TXN_INDEX_ENTRY_BYTES)).filter((e) => e.lastOffset < nextOffset);
        expect(parsed.index.entries).toEqual(whole);
        const torn = cutAt % TXN_INDEX_ENTRY_BYTES !== 0;
        const pastEnd = entries.slice(0, Math.floor(cutAt / TXN_INDEX_ENTRY_BYTES)).some((e) => e.lastOffset >= nextOffset);
        expect(parsed.cut !== null).toBe(torn || pastEnd);
        expect(parsed.tornTail).toBe(torn);
      }),
    );
  });

  it('property: hostile bytes never throw; whatever is accepted is ordered, in the segment and well-formed', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 0, max: 1000 }), (raw, base) => {
        const parsed = parseTxnIndex(Buffer.from(raw), { baseOffset: base, nextOffset: base + 1_000_000, maxEntries: 100 });
        if (parsed.kind !== 'ok') {
          expect(parsed.reason.length).toBeGreaterThan(0);
          return;
        }
        let previous = -1;
        for (const e of parsed.index.entries) {
          expect(e.lastOffset).toBeGreaterThan(previous);
          expect(e.lastOffset).toBeGreaterThanOrEqual(base);
          expect(e.firstOffset).toBeLessThanOrEqual(e.lastOffset);
          expect(e.lastStableOffset).toBeLessThanOrEqual(e.lastOffset + 1);
          expect(e.producerId).toBeGreaterThanOrEqual(0);
          previous = e.lastOffset;
        }
      }),
      { numRuns: 500 },
    );
  });

  it('refuses (as unreadable, with the reason) an unknown version, disorder, a marker below the base, bad fields and too many entries', () => {
    const good = indexOf([
      { producerId: 1, firstOffset: 10, lastOffset: 12, lastStableOffset: 13 },
      { producerId: 2, firstOffset: 11, lastOffset: 20, lastStableOffset: 21 },
    ], 10).toBuffer();
    const seg = { baseOffset: 10, nextOffset: 100, maxEntries: 10 };
    const edit = (at: number, write: (b: Buffer) => void): Buffer => {
      const b = Buffer.from(good);
      write(b.subarray(at));
      return b;
    };
    const cases: [Buffer, RegExp][] = [
      [edit(TXN_INDEX_ENTRY_BYTES, (b) => b.writeInt16BE(1, 0)), /entry 1: unknown version 1/],
      [Buffer.concat([entryBytes(0, 1, 10, 12, 13), entryBytes(0, 2, 11, 12, 13)]), /entry 1: marker at 12 is not after the previous entry's 12/],
      [edit(18, (b) => b.writeBigInt64BE(9n, 0)), /entry 0: firstOffset 10 is after the marker at lastOffset 9/],
      [entryBytes(0, 1, 5, 5, 6), /entry 0: marker at 5 is below the segment's base offset 10/],
      [edit(2, (b) => b.writeBigInt64BE(-3n, 0)), /entry 0: producerId -3 is not a non-negative integer/],
      [edit(26, (b) => b.writeBigInt64BE(14n, 0)), /entry 0: lastStableOffset 14 is past the marker/],
      [edit(10, (b) => b.writeBigInt64BE(2n ** 62n, 0)), /entry 0: firstOffset \d+ is not a non-negative integer/],
    ];
    for (const [bytes, reason] of cases) {
      const parsed = parseTxnIndex(bytes, seg);
      expect(parsed.kind).toBe('unreadable');
      if (parsed.kind === 'unreadable') expect(parsed.reason).toMatch(reason);
    }
    const tooMany = parseTxnIndex(good, { ...seg, maxEntries: 1 });
    expect(tooMany).toEqual({ kind: 'unreadable', reason: '2 entries, more than the 1 a segment may hold' });
  });
});

// segment.index.bytes 340: at most 10 txn index entries per segment.
const SMALL: Parameters<LogHarness['open']>[1] = { segmentBytes: 600, indexIntervalBytes: 100, segmentIndexBytes: 340 };

/** A tiny partition model: data batches of producers, and their commit/abort markers. */
interface Model {
  readonly entries: AbortedTxn[];
  readonly open: Map<number, number>;
}

async function txnData(log: PartitionLog, model: Model, producerId: number, seq: number): Promise<number> {
  const info = await log.appendAsLeader(txnDataBatch({ producerId, baseSequence: seq, records: [{ key: `k${seq % 5}`, value: `v${seq}`, timestamp: 1000 }] }), 0);
  if (!model.open.has(producerId)) model.open.set(producerId, info.firstOffset);
  return info.firstOffset;
}

/** Writes an ABORT (or COMMIT) marker for `producerId` and, for an abort, records the entry with an honest LSO. */
async function endTxn(log: PartitionLog, model: Model, producerId: number, committed: boolean): Promise<AbortedTxn | null> {
  const firstOffset = model.open.get(producerId);
  if (firstOffset === undefined) return null;
  const info = await log.appendAsLeader(controlBatch({ producerId, committed, timestampMs: 1000 }), 0);
  model.open.delete(producerId);
  if (committed) return null;
  const lastStableOffset = Math.min(info.lastOffset + 1, ...model.open.values());
  const entry = { producerId, firstOffset, lastOffset: info.lastOffset, lastStableOffset };
  await log.appendAbortedTxn(entry);
  model.entries.push(entry);
  return entry;
}

function overlapping(entries: readonly AbortedTxn[], fetchOffset: number, upperBoundOffset: number): AbortedTxn[] {
  return entries.filter((e) => e.lastOffset >= fetchOffset && e.firstOffset < upperBoundOffset);
}

describe('PartitionLog aborted transactions', () => {
  it('property: abortedTransactions returns exactly the entries overlapping [fetchOffset, upperBoundOffset), across segments and a reopen', async () => {
    const opArb = fc.array(fc.record({ kind: fc.constantFrom('data', 'data', 'abort', 'commit'), producerId: fc.integer({ min: 0, max: 3 }) }), { minLength: 5, maxLength: 60 });
    await fc.assert(
      fc.asyncProperty(opArb, fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 5, maxLength: 10 }), async (ops, ranges) => {
        const dir = await h.dir();
        const log = await h.open(dir, SMALL);
        const model: Model = { entries: [], open: new Map() };
        let seq = 0;
        for (const op of ops) {
          if (op.kind === 'data') await txnData(log, model, op.producerId, seq++);
          else await endTxn(log, model, op.producerId, op.kind === 'commit');
        }
        const check = async (l: PartitionLog) => {
          const end = l.logEndOffset + 2;
          for (const [a, b] of ranges) {
            const fetchOffset = a % end;
            const upperBoundOffset = b % (end + 1);
            expect(await l.abortedTransactions(fetchOffset, upperBoundOffset)).toEqual(upperBoundOffset <= fetchOffset ? [] : overlapping(model.entries, fetchOffset, upperBoundOffset));
          }
          expect(await l.abortedTransactions(0, l.logEndOffset)).toEqual(model.entries);
        };
        await check(log);
        await log.close();
        const reopened = await h.open(dir, SMALL);
        expect(reopened.txnIndexIncompleteFrom).toBeNull();
        await check(reopened);
        await reopened.close();
      }),
      { numRuns: 25 },
    );
  });

  it('ignores duplicates (lastOffset ≤ the last recorded), refuses malformed or unappended entries, and writes nothing for them', async () => {
    const dir = await h.dir();
    const log = await h.open(dir);
    const model: Model = { entries: [], open: new Map() };
    await txnData(log, model, 7, 0);
    const first = (await endTxn(log, model, 7, false))!;
    await txnData(log, model, 8, 1);
    const second = (await endTxn(log, model, 8, false))!;
    await log.flush();
    const image = await readFile(fileOf(dir, 0));
    expect(image.length).toBe(2 * TXN_INDEX_ENTRY_BYTES);
    // The broker re-adding both (a producer-state rebuild), or an older one again: no change.
    await log.appendAbortedTxn(first);
    await log.appendAbortedTxn(second);
    await log.appendAbortedTxn({ ...first, producerId: 9 });
    expect(await log.abortedTransactions(0, log.logEndOffset)).toEqual([first, second]);
    await log.flush();
    expect(await readFile(fileOf(dir, 0))).toEqual(image);
    await expect(log.appendAbortedTxn({ producerId: 1, firstOffset: 3, lastOffset: 2, lastStableOffset: 3 })).rejects.toThrow(InvalidRecordError);
    await expect(log.appendAbortedTxn({ producerId: -1, firstOffset: 0, lastOffset: 1, lastStableOffset: 1 })).rejects.toThrow(/producerId -1/);
    await expect(log.appendAbortedTxn({ producerId: 1, firstOffset: 0, lastOffset: 1, lastStableOffset: 3 })).rejects.toThrow(/lastStableOffset 3 is past the marker/);
    await expect(log.appendAbortedTxn({ producerId: 1, firstOffset: 0, lastOffset: log.logEndOffset, lastStableOffset: 0 })).rejects.toThrow(/was not appended/);
    // A data batch is no marker; a COMMIT marker, or another producer's ABORT, is not this abort's.
    const dataAt = await txnData(log, model, 9, 2);
    await expect(log.appendAbortedTxn({ producerId: 9, firstOffset: dataAt, lastOffset: dataAt, lastStableOffset: dataAt })).rejects.toThrow(/no control batch \(marker\) at offset/);
    const commitAt = (await log.appendAsLeader(controlBatch({ producerId: 9, committed: true, timestampMs: 1000 }), 0)).lastOffset;
    await expect(log.appendAbortedTxn({ producerId: 9, firstOffset: dataAt, lastOffset: commitAt, lastStableOffset: commitAt + 1 })).rejects.toThrow(
      `the marker at offset ${commitAt} is COMMIT of producer 9, not ABORT of producer 9`,
    );
    const abortAt = (await log.appendAsLeader(controlBatch({ producerId: 10, committed: false, timestampMs: 1000 }), 0)).lastOffset;
    await expect(log.appendAbortedTxn({ producerId: 9, firstOffset: dataAt, lastOffset: abortAt, lastStableOffset: abortAt + 1 })).rejects.toThrow(/is ABORT of producer 10, not ABORT of producer 9/);
    expect(await log.abortedTransactions(0, log.logEndOffset)).toEqual([first, second]);
  });

  it('an entry for a closed segment (added after a roll) is durable when the call resolves', async () => {
    const dir = await h.dir();
    const log = await h.open(dir, SMALL);
    const model: Model = { entries: [], open: new Map() };
    await txnData(log, model, 1, 0);
    const marker = await log.appendAsLeader(controlBatch({ producerId: 1, committed: false, timestampMs: 1000 }), 0);
    // Roll past the marker before its entry is recorded.
    while (log.segmentCount < 2) await txnData(log, { entries: [], open: new Map() }, 2, 1);
    const entry = { producerId: 1, firstOffset: model.open.get(1)!, lastOffset: marker.lastOffset, lastStableOffset: marker.lastOffset + 1 };
    await log.appendAbortedTxn(entry);
    const crashed = await h.snapshot(dir);
    const reopened = await h.open(crashed, SMALL);
    expect(await reopened.abortedTransactions(0, reopened.logEndOffset)).toEqual([entry]);
  });

  it('truncation drops entries whose marker is at or past the truncation offset, on disk too', async () => {
    const dir = await h.dir();
    const log = await h.open(dir, SMALL);
    const model: Model = { entries: [], open: new Map() };
    for (let i = 0; i < 12; i++) {
      await txnData(log, model, i % 3, i);
      if (i % 2 === 1) await endTxn(log, model, i % 3, false);
    }
    expect(log.segmentCount).toBeGreaterThan(2);
    const cut = model.entries[3]!.lastOffset;
    await log.truncateTo(cut);
    const kept = model.entries.slice(0, 3);
    expect(await log.abortedTransactions(0, log.logEndOffset + 10)).toEqual(kept);
    // An entry re-added for the truncated marker's offset would now be a new one: the old is gone.
    const crashed = await h.snapshot(dir);
    expect(await (await h.open(crashed, SMALL)).abortedTransactions(0, 1000)).toEqual(kept);
    await log.truncateFullyAndStartAt(500);
    expect(await log.abortedTransactions(0, 1000)).toEqual([]);
    expect((await readdir(dir)).filter((n) => n.endsWith(TXN_INDEX_SUFFIX))).toEqual([]);
  });

  it('deleting segments (delete-records, retention) deletes their .txnindex; the active segment is never deleted', async () => {
    const dir = await h.dir();
    const log = await h.open(dir, { ...SMALL, retentionBytes: 1 });
    const model: Model = { entries: [], open: new Map() };
    for (let i = 0; i < 12; i++) {
      await txnData(log, model, 0, i);
      await endTxn(log, model, 0, false);
    }
    await log.flush();
    const bases = log.segmentBaseOffsets();
    const withIndex = async () => (await readdir(dir)).filter((n) => n.endsWith(TXN_INDEX_SUFFIX)).map((n) => Number(n.slice(0, 20)));
    expect(await withIndex()).toEqual(bases.filter((b, i) => model.entries.some((e) => e.lastOffset >= b && e.lastOffset < (bases[i + 1] ?? Infinity))));
    log.updateHighWatermark(log.logEndOffset);
    const before = await withIndex();
    expect(before.some((b) => b < bases[2]!)).toBe(true);
    await log.deleteRecordsBefore(bases[2]!);
    expect(await withIndex()).toEqual(before.filter((b) => b >= bases[2]!));
    expect(await log.abortedTransactions(log.logStartOffset, log.logEndOffset)).toEqual(model.entries.filter((e) => e.lastOffset >= bases[2]!));
    await log.applyRetention(h.clock.nowMs);
    expect(log.segmentCount).toBe(1);
    const active = log.segmentBaseOffsets()[0]!;
    expect(await withIndex()).toEqual(model.entries.some((e) => e.lastOffset >= active) ? [active] : []);
  });

  it('the txn index of a full segment rolls it (segment.index.bytes / 34 entries)', async () => {
    const dir = await h.dir();
    const config = { segmentIndexBytes: 3 * TXN_INDEX_ENTRY_BYTES, indexIntervalBytes: 1 << 20 };
    expect(txnIndexMaxEntries(parseLogConfig(config))).toBe(3);
    const log = await h.open(dir, config);
    const model: Model = { entries: [], open: new Map() };
    for (let i = 0; i < 4; i++) {
      await txnData(log, model, 0, i);
      await endTxn(log, model, 0, false);
    }
    // Three entries fill segment 0; the next append (data of the fourth transaction) rolls.
    expect(log.segmentCount).toBe(2);
    const second = log.segmentBaseOffsets()[1]!;
    expect(second).toBe(model.entries[2]!.lastOffset + 1);
    expect(await log.abortedTransactions(0, 100)).toEqual(model.entries);
  });

  it("markers appended together may fill a segment's index past the roll point; the file still loads whole", async () => {
    const dir = await h.dir();
    const config = { segmentIndexBytes: 2 * TXN_INDEX_ENTRY_BYTES, indexIntervalBytes: 1 << 20 };
    const log = await h.open(dir, config);
    const model: Model = { entries: [], open: new Map() };
    for (let p = 0; p < 4; p++) await txnData(log, model, p, p);
    // One WriteTxnMarkers for four producers: the four markers share one write, then the entries come.
    const markers = await Promise.all([0, 1, 2, 3].map((p) => log.appendAsLeader(controlBatch({ producerId: p, committed: false, timestampMs: 1000 }), 0)));
    const entries = markers.map((m, p) => ({ producerId: p, firstOffset: p, lastOffset: m.lastOffset, lastStableOffset: p === 3 ? m.lastOffset + 1 : 0 }));
    for (const e of entries) await log.appendAbortedTxn(e);
    expect(log.segmentCount).toBe(1);
    await log.close();
    const reopened = await h.open(dir, config);
    expect(reopened.txnIndexIncompleteFrom).toBeNull();
    expect(await reopened.abortedTransactions(0, 100)).toEqual(entries);
  });
});

describe('txn index recovery', () => {
  async function logWithAborts(dir: string): Promise<{ log: PartitionLog; entries: AbortedTxn[] }> {
    const log = await h.open(dir, SMALL);
    const model: Model = { entries: [], open: new Map() };
    for (let i = 0; i < 10; i++) {
      await txnData(log, model, i % 2, i);
      await endTxn(log, model, i % 2, false);
    }
    return { log, entries: model.entries };
  }

  it('after a crash, entries below the recovery point survive and txnIndexIncompleteFrom names where the rest may be missing', async () => {
    const dir = await h.dir();
    const { log, entries } = await logWithAborts(dir);
    await log.flush();
    const flushedEnd = log.logEndOffset;
    const model: Model = { entries: [], open: new Map() };
    await txnData(log, model, 5, 100);
    const late = (await endTxn(log, model, 5, false))!;
    const crashed = await h.snapshot(dir);
    const reopened = await h.open(crashed, SMALL);
    const incompleteFrom = reopened.txnIndexIncompleteFrom;
    expect(incompleteFrom).not.toBeNull();
    expect(incompleteFrom!).toBeLessThanOrEqual(late.lastOffset);
    const found = await reopened.abortedTransactions(0, reopened.logEndOffset);
    expect(found.slice(0, entries.length)).toEqual(entries);
    expect(entries.every((e) => e.lastOffset < flushedEnd)).toBe(true);
    // The broker's rebuild re-adds from there; duplicates are ignored.
    for (const e of [...entries, late].filter((x) => x.lastOffset >= incompleteFrom!)) await reopened.appendAbortedTxn(e);
    expect(await reopened.abortedTransactions(0, reopened.logEndOffset)).toEqual([...entries, late]);
  });

  it('a torn tail is cut to whole entries; entries past the recovered log end are dropped', async () => {
    const dir = await h.dir();
    const { log, entries } = await logWithAborts(dir);
    const active = log.segmentBaseOffsets().at(-1)!;
    await log.close();
    const activeEntries = entries.filter((e) => e.lastOffset >= active);
    expect(activeEntries.length).toBeGreaterThan(0);
    // Torn tail: a half-written extra entry.
    await appendFile(fileOf(dir, active), Buffer.alloc(TXN_INDEX_ENTRY_BYTES / 2, 1));
    const reopened = await h.open(dir, SMALL);
    expect(reopened.txnIndexIncompleteFrom).toBe(active);
    expect(await reopened.abortedTransactions(0, 1000)).toEqual(entries);
    expect((await stat(fileOf(dir, active))).size).toBe(activeEntries.length * TXN_INDEX_ENTRY_BYTES);
    await reopened.close();
    // Cut the log inside the last marker (an unclean stop): recovery drops it and its entry.
    const last = entries.at(-1)!;
    const logFile = path.join(dir, segmentFileName(active, '.log'));
    await truncate(logFile, (await stat(logFile)).size - 5);
    await rm(path.join(dir, '.clean-shutdown'));
    const recovered = await h.open(dir, SMALL, 0);
    expect(recovered.logEndOffset).toBe(last.lastOffset);
    expect(await recovered.abortedTransactions(0, 1000)).toEqual(entries.slice(0, -1));
  });

  it('an unreadable .txnindex (hostile bytes, huge) is rebuilt empty with the segment named in txnIndexIncompleteFrom; the node keeps going', async () => {
    const dir = await h.dir();
    const { log, entries } = await logWithAborts(dir);
    const bases = log.segmentBaseOffsets();
    await log.close();
    const withEntries = bases.filter((b) => entries.some((e) => e.lastOffset >= b && e.lastOffset < (bases[bases.indexOf(b) + 1] ?? Infinity)));
    const victim = withEntries[0]!;
    const image = await readFile(fileOf(dir, victim));
    image.writeInt16BE(7, 0); // unknown version
    await writeFile(fileOf(dir, victim), image);
    const reopened = await h.open(dir, SMALL);
    expect(reopened.txnIndexIncompleteFrom).toBe(victim);
    const lost = entries.filter((e) => e.lastOffset >= victim && e.lastOffset < (bases[bases.indexOf(victim) + 1] ?? Infinity));
    expect(await reopened.abortedTransactions(0, 1000)).toEqual(entries.filter((e) => !lost.includes(e)));
    await reopened.close();
    // A file far larger than segment.index.bytes allows is refused without being read whole.
    const huge = withEntries[1]!;
    await writeFile(fileOf(dir, huge), Buffer.alloc(txnIndexMaxEntries(parseLogConfig(SMALL)) * TXN_INDEX_ENTRY_BYTES + 3 * TXN_INDEX_ENTRY_BYTES));
    const again = await h.open(dir, SMALL);
    // Reported by the open that found the loss (the victim's empty index is just empty now).
    expect(again.txnIndexIncompleteFrom).toBe(huge);
    expect((await readdir(dir)).includes(path.basename(fileOf(dir, huge)))).toBe(false);
    // The broker's rebuild re-adds every entry: the lost ones come back (in their segments), the rest are duplicates.
    for (const e of entries) await again.appendAbortedTxn(e);
    expect(await again.abortedTransactions(0, 1000)).toEqual(entries);
    await again.close();
    expect(await (await h.open(dir, SMALL)).abortedTransactions(0, 1000)).toEqual(entries);
  });
});
