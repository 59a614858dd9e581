// Random operation sequences against a model (the list of batches the log should hold): appends as
// leader and follower, truncation, retention, clean reopen and crash-reopen. After every step the log
// must read back exactly the model from its log start offset. Follower appends may leave offset gaps
// (a leader whose log was compacted), and truncation may land inside a gap.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { PartitionLog } from '../src/index.js';
import { buildBatch } from './batch-builder.js';
import { LogHarness, readAll } from './harness.js';

const h = new LogHarness();
afterAll(() => h.dispose());

interface ModelBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly epoch: number;
  readonly fill: number;
}

type Op =
  | { kind: 'leader'; recordCounts: number[]; epochBump: boolean; burst: boolean }
  | { kind: 'follower'; recordCounts: number[]; gaps: number[] }
  | { kind: 'truncate'; fraction: number; intoGap: boolean }
  | { kind: 'retention' }
  | { kind: 'reopen'; crash: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('leader' as const), recordCounts: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 6 }), epochBump: fc.boolean(), burst: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('follower' as const),
      recordCounts: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
      // Offsets removed by the leader's cleaner before each batch (the i-th gap goes before the i-th batch).
      gaps: fc.array(fc.constantFrom(0, 0, 1, 3), { minLength: 3, maxLength: 3 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }), intoGap: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retention' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reopen' as const), crash: fc.boolean() }) },
);

const CONFIG = { segmentBytes: 600, indexIntervalBytes: 100, retentionBytes: 1500 };

describe('model-based', () => {
  it('random operation sequences keep the log equal to the model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), async (ops) => {
        let dir = await h.dir();
        let log: PartitionLog = await h.open(dir, CONFIG);
        let model: ModelBatch[] = [];
        let epoch = 0;
        let fill = 0;
        const end = () => model.at(-1)?.lastOffset ?? log.logStartOffset - 1;
        for (const op of ops) {
          if (op.kind === 'leader' || op.kind === 'follower') {
            if (op.kind === 'leader' && op.epochBump) epoch += 1;
            const parts: Buffer[] = [];
            let next = end() + 1;
            const added: ModelBatch[] = [];
            for (const [i, count] of op.recordCounts.entries()) {
              if (op.kind === 'follower') next += op.gaps[i]!;
              fill = (fill + 1) % 256;
              parts.push(buildBatch({ baseOffset: next, recordCount: count, payloadBytes: 20 + fill, leaderEpoch: epoch, fill }));
              added.push({ baseOffset: next, lastOffset: next + count - 1, epoch, fill });
              next += count;
            }
            if (op.kind === 'leader' && op.burst) {
              // One call per batch in the same turn: coalesced into one write, possibly split by rolls.
              const infos = await Promise.all(parts.map((part) => log.appendAsLeader(part, epoch)));
              expect(infos.map((i) => i.firstOffset)).toEqual(added.map((b) => b.baseOffset));
            } else {
              const info = op.kind === 'leader' ? await log.appendAsLeader(Buffer.concat(parts), epoch) : await log.appendAsFollower(Buffer.concat(parts));
              expect(info.firstOffset).toBe(added[0]!.baseOffset);
            }
            model.push(...added);
          } else if (op.kind === 'truncate') {
            const at = Math.min(Math.floor(op.fraction * model.length), model.length - 1);
            // intoGap: one below a batch that starts after a gap, so the target holds no record.
            const gapBefore = at >= 0 && model[at]!.baseOffset - 1 > (model[at - 1]?.lastOffset ?? log.logStartOffset - 1);
            const target = model.length === 0 ? log.logEndOffset : model[at]!.baseOffset - (op.intoGap && gapBefore ? 1 : 0);
            await log.truncateTo(target);
            model = model.filter((b) => b.lastOffset < target);
          } else if (op.kind === 'retention') {
            log.updateHighWatermark(log.logEndOffset);
            await log.applyRetention(h.clock.nowMs);
            model = model.filter((b) => b.baseOffset >= log.logStartOffset);
          } else if (op.crash) {
            await log.settled();
            dir = await h.snapshot(dir);
            log = await h.open(dir, CONFIG);
          } else {
            await log.close();
            log = await h.open(dir, CONFIG);
          }
          const read = await readAll(log, 250);
          expect(read.map((b) => [b.baseOffset, b.lastOffset, b.leaderEpoch, b.fill])).toEqual(model.map((b) => [b.baseOffset, b.lastOffset, b.epoch, b.fill]));
          expect(log.logEndOffset).toBe(end() + 1);
          expect(log.latestEpoch).toBe(model.length === 0 ? log.latestEpoch : Math.max(...model.map((b) => b.epoch)));
          // Epoch bookkeeping follows the batches: the latest epoch's end is the LEO.
          if (model.length > 0) expect(log.endOffsetForEpoch(log.latestEpoch).endOffset).toBe(log.logEndOffset);
        }
        await log.close();
      }),
      { numRuns: 30 },
    );
  });
});
