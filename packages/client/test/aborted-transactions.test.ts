// read_committed filtering (Kafka's algorithm) against a simple model: random interleavings of
// transactional producers (data, COMMIT, ABORT), non-transactional writes, and fetches that cut the log
// anywhere, each answered as a broker does (data up to the last stable offset, the aborted transactions
// whose ABORT marker is at or after the fetch offset and which start before the data's end).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AbortedTransactionFilter, controlTypeOf, type AbortedTransaction } from '../src/internal.js';

interface Batch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly producerId: number;
  readonly transactional: boolean;
  readonly control: boolean;
  readonly records: readonly { readonly offset: number; readonly key: Buffer | null }[];
}

const marker = (type: 0 | 1): Buffer => {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(type, 2);
  return key;
};

type Op =
  | { readonly kind: 'data'; readonly producer: number; readonly records: number }
  | { readonly kind: 'plain'; readonly records: number; readonly idempotent: boolean }
  | { readonly kind: 'end'; readonly producer: number; readonly commit: boolean };

const PRODUCERS = 3;
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('data' as const), producer: fc.integer({ min: 0, max: PRODUCERS - 1 }), records: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('plain' as const), records: fc.integer({ min: 1, max: 3 }), idempotent: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('end' as const), producer: fc.integer({ min: 0, max: PRODUCERS - 1 }), commit: fc.boolean() }) },
);

interface Log {
  readonly batches: Batch[];
  /** Aborted transactions as the broker's index holds them: first offset and the ABORT marker's offset. */
  readonly aborted: { producerId: number; firstOffset: number; lastOffset: number }[];
  readonly lastStableOffset: number;
  /** The model: offsets a read_committed consumer must see, in order. */
  readonly visible: number[];
}

function buildLog(ops: readonly Op[]): Log {
  const batches: Batch[] = [];
  const aborted: Log['aborted'] = [];
  const open = new Map<number, { firstOffset: number; offsets: number[] }>();
  const committedOffsets: number[] = [];
  let next = 0;
  const append = (producerId: number, transactional: boolean, control: boolean, keys: (Buffer | null)[]): number[] => {
    const offsets = keys.map((_, i) => next + i);
    batches.push({ baseOffset: next, lastOffset: next + keys.length - 1, producerId, transactional, control, records: keys.map((key, i) => ({ offset: next + i, key })) });
    next += keys.length;
    return offsets;
  };
  for (const op of ops) {
    const pid = 1000 + ('producer' in op ? op.producer : 0);
    if (op.kind === 'data') {
      const txn = open.get(pid) ?? { firstOffset: next, offsets: [] };
      open.set(pid, txn);
      txn.offsets.push(...append(pid, true, false, Array.from({ length: op.records }, () => null)));
    } else if (op.kind === 'plain') {
      committedOffsets.push(...append(op.idempotent ? 1 : -1, false, false, Array.from({ length: op.records }, () => null)));
    } else {
      const txn = open.get(pid);
      if (txn === undefined) continue; // nothing open: the coordinator writes no marker
      open.delete(pid);
      const [markerOffset] = append(pid, true, true, [marker(op.commit ? 1 : 0)]);
      if (op.commit) committedOffsets.push(...txn.offsets);
      else aborted.push({ producerId: pid, firstOffset: txn.firstOffset, lastOffset: markerOffset! });
    }
  }
  const lastStableOffset = Math.min(next, ...[...open.values()].map((t) => t.firstOffset));
  return { batches, aborted, lastStableOffset, visible: committedOffsets.filter((o) => o < lastStableOffset).sort((a, b) => a - b) };
}

/** A broker's read_committed fetch at `fetchOffset`, returning at most `maxBatches` batches. */
function fetch(log: Log, fetchOffset: number, maxBatches: number): { batches: Batch[]; aborted: AbortedTransaction[] } {
  const batches = log.batches.filter((b) => b.lastOffset >= fetchOffset && b.lastOffset < log.lastStableOffset).slice(0, maxBatches);
  const upper = batches.at(-1)?.lastOffset ?? fetchOffset;
  const aborted = log.aborted.filter((a) => a.lastOffset >= fetchOffset && a.firstOffset <= upper).map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset }));
  return { batches, aborted };
}

/** The consumer's loop over fetch responses, as Consumer.handlePartitionResult does it. */
function consume(log: Log, start: number, fetchSizes: readonly number[]): number[] {
  const seen: number[] = [];
  let position = start;
  for (let i = 0; position < log.lastStableOffset; i++) {
    const response = fetch(log, position, fetchSizes[i % fetchSizes.length]!);
    if (response.batches.length === 0) break;
    const filter = new AbortedTransactionFilter(response.aborted);
    for (const batch of response.batches) {
      const skipped = filter.skip(batch);
      if (batch.lastOffset < position) continue;
      if (!skipped) for (const r of batch.records) if (r.offset >= position) seen.push(r.offset);
      position = batch.lastOffset + 1;
    }
  }
  return seen;
}

describe('read_committed filtering', () => {
  it('returns exactly the committed and non-transactional records below the LSO, however the fetches cut the log', () => {
    fc.assert(fc.property(fc.array(opArb, { minLength: 5, maxLength: 80, size: 'max' }), fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 8 }), (ops, sizes) => {
      const log = buildLog(ops);
      expect(consume(log, 0, sizes)).toEqual(log.visible);
    }), { numRuns: 400 });
  });

  it('starting anywhere (a seek into the middle of transactions) returns the model from there', () => {
    fc.assert(fc.property(fc.array(opArb, { minLength: 5, maxLength: 50, size: 'max' }), fc.nat(), fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }), (ops, seed, sizes) => {
      const log = buildLog(ops);
      const start = log.lastStableOffset === 0 ? 0 : seed % log.lastStableOffset;
      expect(consume(log, start, sizes)).toEqual(log.visible.filter((o) => o >= start));
    }), { numRuns: 300 });
  });

  it('a producer\'s aborted transaction does not hide its next, committed one (the ABORT marker ends it)', () => {
    // offsets: 0 data(P) 1 ABORT(P) 2 data(P) 3 COMMIT(P)
    const log = buildLog([
      { kind: 'data', producer: 0, records: 1 }, { kind: 'end', producer: 0, commit: false },
      { kind: 'data', producer: 0, records: 1 }, { kind: 'end', producer: 0, commit: true },
    ]);
    expect(log.visible).toEqual([2]);
    expect(consume(log, 0, [10])).toEqual([2]);
    expect(consume(log, 0, [1])).toEqual([2]);
  });

  it('the filter needs the aborted list: without it an aborted transaction would show (the test can fail)', () => {
    const log = buildLog([{ kind: 'data', producer: 1, records: 2 }, { kind: 'end', producer: 1, commit: false }]);
    const filter = new AbortedTransactionFilter([]);
    expect(filter.skip(log.batches[0]!)).toBe(false);
    expect(consume(log, 0, [5])).toEqual([]);
  });

  it('control batches are never returned; a malformed marker ends nothing', () => {
    const abort = { producerId: 5, transactional: true, control: true, lastOffset: 3, records: [{ key: marker(0) }] } as unknown as Batch;
    expect(controlTypeOf(abort as never)).toBe('ABORT');
    expect(controlTypeOf({ control: true, records: [{ key: marker(1) }] } as never)).toBe('COMMIT');
    expect(controlTypeOf({ control: true, records: [{ key: Buffer.from([0]) }] } as never)).toBe('UNKNOWN');
    expect(controlTypeOf({ control: true, records: [{ key: null }] } as never)).toBe('UNKNOWN');
    const filter = new AbortedTransactionFilter([{ producerId: 5, firstOffset: 0 }]);
    const data = { producerId: 5, transactional: true, control: false, lastOffset: 1, records: [] };
    expect(filter.skip(data)).toBe(true);
    expect(filter.skip({ producerId: 5, transactional: true, control: true, lastOffset: 2, records: [{ key: Buffer.from([1, 2]) }] })).toBe(true);
    expect(filter.skip({ ...data, lastOffset: 3 })).toBe(true); // the malformed marker did not end the aborted transaction
  });
});
