import { cp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PartitionLog } from '../src/index.js';
import { CLEAN_SHUTDOWN_FILE, OffsetIndex, segmentFileName, TimeIndex } from '../src/internal.js';
import { buildBatch, flipBits, splitBatches } from './batch-builder.js';
import { LogHarness, readAll } from './harness.js';

const h = new LogHarness();
afterAll(() => h.dispose());

const CONFIG = { segmentBytes: 700, indexIntervalBytes: 150 };

interface Expected {
  readonly fill: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly epoch: number;
  readonly maxTimestamp: number;
}

/**
 * A crash image: a log of 16 batches of varied sizes, record counts and epochs over several segments,
 * copied while the log was open (no clean-shutdown marker). The last batch has epoch 3, alone.
 */
let crashDir: string;
let batches: Expected[];
let tailFile: string;
let lastStart: number;
let lastEnd: number;

beforeAll(async () => {
  const dir = await h.dir();
  const log = await h.open(dir, CONFIG);
  batches = [];
  for (let i = 0; i < 16; i++) {
    const epoch = i === 15 ? 3 : i < 6 ? 1 : 2;
    const maxTimestamp = 1000 + ((i * 7919) % 500); // not monotonic
    const info = await log.appendAsLeader(buildBatch({ payloadBytes: i === 15 ? 12 : 40 + ((i * 37) % 90), recordCount: 1 + (i % 3), maxTimestamp, fill: i }), epoch);
    batches.push({ fill: i, baseOffset: info.firstOffset, lastOffset: info.lastOffset, epoch, maxTimestamp });
  }
  await log.settled();
  crashDir = await h.snapshot(dir);
  const tailBase = log.segmentBaseOffsets().at(-1)!;
  expect(log.segmentCount).toBeGreaterThan(3);
  tailFile = path.join(crashDir, segmentFileName(tailBase, '.log'));
  lastEnd = (await stat(tailFile)).size;
  const lastSize = (await log.read(batches[15]!.baseOffset, 1)).records.length;
  lastStart = lastEnd - lastSize;
  expect(lastStart).toBeGreaterThan(0); // the tail segment holds earlier batches too
});

async function copyOfCrash(): Promise<string> {
  const dir = await h.dir();
  await cp(crashDir, dir, { recursive: true });
  return dir;
}

/** The recovered log holds exactly `kept` (fills, offsets, epochs), reads by offset, and appends continue. */
async function expectExactly(log: PartitionLog, kept: readonly Expected[]): Promise<void> {
  const logEndOffset = kept.length === 0 ? 0 : kept.at(-1)!.lastOffset + 1;
  expect(log.logEndOffset).toBe(logEndOffset);
  const read = await readAll(log, 300);
  expect(read.map((b) => [b.fill, b.baseOffset, b.lastOffset, b.leaderEpoch])).toEqual(kept.map((b) => [b.fill, b.baseOffset, b.lastOffset, b.epoch]));
  for (const batch of kept) {
    const [first] = splitBatches((await log.read(batch.lastOffset, 1)).records);
    expect(first!.fill).toBe(batch.fill);
  }
  for (const target of kept) {
    // The time indexes (rebuilt or loaded) find the first kept batch reaching each timestamp.
    const expected = kept.find((b) => b.maxTimestamp >= target.maxTimestamp)!;
    expect(await log.offsetForTimestamp(target.maxTimestamp)).toEqual({ offset: expected.baseOffset, timestamp: expected.maxTimestamp });
  }
  expect(log.latestEpoch).toBe(kept.at(-1)?.epoch ?? -1);
  if (kept.length > 0) expect(log.endOffsetForEpoch(log.latestEpoch)).toEqual({ epoch: log.latestEpoch, endOffset: logEndOffset });
  const appended = await log.appendAsLeader(buildBatch({ fill: 200 }), 4);
  expect(appended.firstOffset).toBe(logEndOffset);
  expect(splitBatches((await log.read(logEndOffset, 1)).records)[0]!.fill).toBe(200);
}

async function expectValidIndexes(dir: string, log: PartitionLog): Promise<void> {
  for (const base of log.segmentBaseOffsets()) {
    const logBytes = (await stat(path.join(dir, segmentFileName(base, '.log')))).size;
    const index = OffsetIndex.load(base, 1e6, await readFile(path.join(dir, segmentFileName(base, '.index'))), logBytes);
    expect(index, `index of segment ${base}`).not.toBeNull();
    if (logBytes > 2 * CONFIG.indexIntervalBytes + 200) expect(index!.entries, `entries in the index of segment ${base}`).toBeGreaterThan(0);
  }
}

describe('crash recovery', () => {
  it('keeps every whole batch and nothing else for every cut point inside the last batch', async () => {
    expect(lastEnd - lastStart).toBe(61 + 12);
    for (let cut = lastStart; cut <= lastEnd; cut++) {
      const dir = await copyOfCrash();
      await truncate(path.join(dir, path.basename(tailFile)), cut);
      const log = await h.open(dir, CONFIG);
      const kept = cut === lastEnd ? batches : batches.slice(0, 15);
      await expectValidIndexes(dir, log);
      await expectExactly(log, kept);
      await log.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('drops the last batch when any one of its checked bytes is corrupted', async () => {
    // partitionLeaderEpoch (bytes 12..15) is outside the CRC so the leader can stamp it without
    // recomputing (as in Kafka); a flipped epoch byte is only caught when it makes epochs decrease.
    const epochField = new Set([12, 13, 14, 15]);
    for (let at = lastStart; at < lastEnd; at++) {
      if (epochField.has(at - lastStart)) continue;
      const dir = await copyOfCrash();
      const file = path.join(dir, path.basename(tailFile));
      const bytes = await readFile(file);
      flipBits(bytes, at, 0xff);
      await writeFile(file, bytes);
      const log = await h.open(dir, CONFIG);
      await expectExactly(log, batches.slice(0, 15));
      await log.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('truncates at a corrupt batch in the middle of the tail segment', async () => {
    const dir = await copyOfCrash();
    const log0 = await h.open(await copyOfCrash(), CONFIG);
    const tailBase = log0.segmentBaseOffsets().at(-1)!;
    await log0.close();
    const firstInTail = batches.findIndex((b) => b.baseOffset === tailBase);
    const file = path.join(dir, path.basename(tailFile));
    const bytes = await readFile(file);
    flipBits(bytes, 70, 1); // payload byte of the tail segment's first batch
    await writeFile(file, bytes);
    const log = await h.open(dir, CONFIG);
    await expectExactly(log, batches.slice(0, firstInTail));
  });

  it('scans only segments at or above the recovery point', async () => {
    const dir = await copyOfCrash();
    const first = path.join(dir, segmentFileName(0, '.log'));
    const bytes = await readFile(first);
    flipBits(bytes, 70, 1); // corrupt batch 0, in a segment below the recovery point
    await writeFile(first, bytes);
    const trusting = await h.open(await (async () => { const d = await h.dir(); await cp(dir, d, { recursive: true }); return d; })(), CONFIG);
    expect(trusting.logEndOffset).toBe(batches.at(-1)!.lastOffset + 1); // not scanned, not noticed
    await trusting.close();
    const scanning = await h.open(dir, CONFIG, 0); // recovery point 0: every segment is validated
    await expectExactly(scanning, []);
  });

  it('a clean shutdown skips recovery; removing the marker forces it', async () => {
    const dir = await copyOfCrash();
    const log = await h.open(dir, CONFIG);
    await log.close();
    await expect(stat(path.join(dir, CLEAN_SHUTDOWN_FILE))).resolves.toBeDefined();
    const reopened = await h.open(dir, CONFIG);
    await expect(stat(path.join(dir, CLEAN_SHUTDOWN_FILE))).rejects.toThrow(); // removed while open
    await expectExactly(reopened, batches);
  });

  it('rebuilds missing or bad index files of closed segments on a clean open', async () => {
    const dir = await copyOfCrash();
    const log = await h.open(dir, CONFIG);
    const bases = log.segmentBaseOffsets();
    await log.close();
    const file = (base: number, suffix: string) => path.join(dir, segmentFileName(base, suffix));
    const originals = new Map<string, Buffer>();
    for (const base of bases) for (const suffix of ['.index', '.timeindex']) originals.set(file(base, suffix), await readFile(file(base, suffix)));
    const index0 = originals.get(file(bases[0]!, '.index'))!;
    expect(index0.length).toBeGreaterThanOrEqual(16);
    await rm(file(bases[1]!, '.index')); // missing
    await writeFile(file(bases[2]!, '.timeindex'), Buffer.alloc(7)); // not a multiple of the entry size
    const swapped = Buffer.concat([index0.subarray(8, 16), index0.subarray(0, 8), index0.subarray(16)]);
    await writeFile(file(bases[0]!, '.index'), swapped); // entries out of order
    const beyond = Buffer.from(originals.get(file(bases[3]!, '.index'))!);
    beyond.writeUInt32BE(1_000_000, beyond.length - 4); // a position past the end of the log
    await writeFile(file(bases[3]!, '.index'), beyond);
    expect(OffsetIndex.load(bases[3]!, 1e6, beyond, 700)).toBeNull();
    expect(TimeIndex.load(0, 1e6, Buffer.alloc(7), 100)).toBeNull();

    const reopened = await h.open(dir, CONFIG);
    for (const [name, bytes] of originals) expect((await readFile(name)).equals(bytes), name).toBe(true);
    await expectExactly(reopened, batches);
  });

  it('the epoch checkpoint is brought back to the recovered log end', async () => {
    const dir = await copyOfCrash();
    await truncate(path.join(dir, path.basename(tailFile)), lastStart + 5);
    const log = await h.open(dir, CONFIG);
    expect(log.epochEntries().map((e) => e.epoch)).toEqual([1, 2]);
    expect(log.endOffsetForEpoch(3)).toEqual({ epoch: -1, endOffset: -1 });
    expect(log.endOffsetForEpoch(1)).toEqual({ epoch: 1, endOffset: batches[6]!.baseOffset });
  });
});
