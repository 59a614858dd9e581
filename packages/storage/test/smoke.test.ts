import { afterEach, describe, expect, it } from 'vitest';
import { PartitionLog, parseLogConfig } from '../src/index.js';
import { buildBatch, ManualClock, splitBatches, tempDir } from './batch-builder.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('smoke', () => {
  it('appends, reads, closes and reopens', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const clock = new ManualClock();
    const config = parseLogConfig({ segmentBytes: 1000, indexIntervalBytes: 200 });
    const log = await PartitionLog.open({ dir, config, clock: clock.now });
    for (let i = 0; i < 30; i++) {
      const info = await log.appendAsLeader(buildBatch({ recordCount: 2, fill: i }), 3);
      expect(info.firstOffset).toBe(i * 2);
    }
    expect(log.logEndOffset).toBe(60);
    expect(log.segmentCount).toBeGreaterThan(3);
    const all = [];
    let offset = 0;
    while (offset < log.logEndOffset) {
      const r = await log.read(offset, 500);
      const batches = splitBatches(r.records);
      all.push(...batches);
      offset = batches.at(-1)!.lastOffset + 1;
    }
    expect(all.map((b) => b.fill)).toEqual([...Array(30).keys()]);
    await log.close();
    const reopened = await PartitionLog.open({ dir, config, clock: clock.now });
    expect(reopened.logEndOffset).toBe(60);
    const r = await reopened.read(33, 1);
    expect(splitBatches(r.records)[0]!.baseOffset).toBe(32);
    await reopened.close();
  });
});
