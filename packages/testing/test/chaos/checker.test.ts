// The chaos checker against hand-made histories: a clean one passes, and each kind of violation is
// caught; plus properties over random valid histories.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHistory, type HistoryOp, type MetadataObservation, type ViolationKind } from '@tributary/testing';

const T = 'q';

/** A tiny DSL: each helper returns history entries; time is the index in the final list. */
function send(value: string, partition: number, outcome: 'ok' | 'fail' | 'info' | 'none', offset?: number): Omit<HistoryOp, 'time'>[] {
  const process = value.split('-')[0] as string;
  const ops: Omit<HistoryOp, 'time'>[] = [{ process, type: 'invoke', f: 'send', value, node: 1, topic: T, partition }];
  if (outcome !== 'none') ops.push({ process, type: outcome, f: 'send', value, node: 1, topic: T, partition, ...(outcome === 'ok' && offset !== undefined ? { offset } : {}) });
  return ops;
}
function read(consumer: string, partition: number, offset: number, value: string): Omit<HistoryOp, 'time'> {
  return { process: consumer, type: 'ok', f: 'read', value, node: null, topic: T, partition, offset };
}
function assign(consumer: string, partition: number, offset = 0): Omit<HistoryOp, 'time'> {
  return { process: consumer, type: 'ok', f: 'assign', value: offset, node: null, topic: T, partition };
}
function metadata(process: string, node: number, partitions: MetadataObservation['partitions'], f: 'metadata' | 'final-metadata' = 'metadata', topics = [T]): Omit<HistoryOp, 'time'> {
  return { process, type: 'ok', f, value: { partitions, topics, controllerId: 1 } satisfies MetadataObservation, node };
}
function history(...parts: (Omit<HistoryOp, 'time'> | Omit<HistoryOp, 'time'>[])[]): HistoryOp[] {
  return parts.flat().map((op, time) => ({ ...op, time }));
}
const kinds = (h: HistoryOp[]): ViolationKind[] => [...new Set(checkHistory(h).violations.map((v) => v.kind))].sort();

/** Two producers, two partitions, everything acknowledged and read in order by one consumer. */
function clean(): HistoryOp[] {
  return history(
    assign('c1', 0), assign('c1', 1),
    send('p1-0', 0, 'ok', 0), send('p2-0', 0, 'ok', 1), send('p1-1', 1, 'ok', 0), send('p1-2', 0, 'ok', 2),
    send('p2-1', 1, 'info'), // indeterminate, never read: unseen, not lost
    read('c1', 0, 0, 'p1-0'), read('c1', 0, 1, 'p2-0'), read('c1', 1, 0, 'p1-1'), read('c1', 0, 2, 'p1-2'),
    metadata('obs-1', 1, [{ topic: T, partition: 0, leader: 1, leaderEpoch: 1, replicas: [1, 2, 3], isr: [1, 2] }]),
    metadata('obs-2', 2, [{ topic: T, partition: 0, leader: 1, leaderEpoch: 1, replicas: [1, 2, 3], isr: [1, 2, 3] }]),
  );
}

describe('checkHistory', () => {
  it('passes a clean history and counts it', () => {
    const result = checkHistory(clean());
    expect(result.violations).toEqual([]);
    expect(result.valid).toBe(true);
    expect(result.counts).toMatchObject({ sendsAttempted: 5, sendsOk: 4, sendsIndeterminate: 1, unseen: 1, lost: 0, valuesRead: 4 });
  });

  it('reports an acknowledged write nobody read as lost, by position in the producer sequence', () => {
    const h = history(
      send('p1-0', 0, 'ok', 0), send('p1-1', 0, 'ok', 1), send('p1-2', 0, 'ok', 2), send('p1-3', 0, 'ok', 3), send('p1-4', 0, 'ok', 4),
      read('c1', 0, 1, 'p1-1'), read('c1', 0, 3, 'p1-3'),
    );
    const result = checkHistory(h);
    expect(result.valid).toBe(false);
    expect(result.counts.lostByPosition).toEqual({ prefix: 1, middle: 1, postfix: 1 });
    expect(result.violations.filter((v) => v.kind === 'lost').map((v) => [v.value, v.position])).toEqual([
      ['p1-0', 'prefix'], ['p1-2', 'middle'], ['p1-4', 'postfix'],
    ]);
  });

  it('never counts an indeterminate or pending write as lost, and counts the read ones', () => {
    const h = history(send('p1-0', 0, 'info'), send('p1-1', 0, 'none'), send('p1-2', 0, 'info'), read('c1', 0, 0, 'p1-2'));
    const result = checkHistory(h);
    expect(result.valid).toBe(true);
    expect(result.counts).toMatchObject({ sendsIndeterminate: 3, unseen: 2, indeterminateRead: 1, lost: 0 });
  });

  it('catches two values at one offset (reads and acknowledgements alike)', () => {
    expect(kinds(history(send('p1-0', 0, 'ok', 0), send('p2-0', 0, 'ok', 0), read('c1', 0, 0, 'p1-0'), read('c2', 0, 0, 'p2-0')))).toEqual(['inconsistent-offset']);
    expect(kinds(history(send('p1-0', 0, 'ok', 5), read('c1', 0, 5, 'p2-9'), send('p2-9', 0, 'info')))).toContain('inconsistent-offset');
  });

  it('catches a value stored at two offsets (a duplicate)', () => {
    const h = history(send('p1-0', 0, 'ok', 0), read('c1', 0, 0, 'p1-0'), read('c1', 0, 1, 'p1-0'));
    expect(kinds(h)).toEqual(['duplicate']);
    expect(checkHistory(h).counts.duplicated).toBe(1);
  });

  it('catches a consumer going backwards and a consumer skipping a record that exists', () => {
    const backwards = history(
      send('p1-0', 0, 'ok', 0), send('p1-1', 0, 'ok', 1),
      assign('c1', 0), read('c1', 0, 0, 'p1-0'), read('c1', 0, 1, 'p1-1'), read('c1', 0, 1, 'p1-1'),
    );
    expect(kinds(backwards)).toEqual(['nonmonotonic-read']);
    const skipping = history(
      send('p1-0', 0, 'ok', 0), send('p1-1', 0, 'ok', 1), send('p1-2', 0, 'ok', 2),
      assign('c1', 0), read('c1', 0, 0, 'p1-0'), read('c1', 0, 2, 'p1-2'),
      assign('c2', 0), read('c2', 0, 0, 'p1-0'), read('c2', 0, 1, 'p1-1'), read('c2', 0, 2, 'p1-2'),
    );
    expect(kinds(skipping)).toEqual(['skipped-read']);
    // Skipping from the assigned position counts too.
    const fromStart = history(send('p1-0', 0, 'ok', 0), send('p1-1', 0, 'ok', 1), assign('c1', 0), read('c1', 0, 1, 'p1-1'), read('c2', 0, 0, 'p1-0'));
    expect(kinds(fromStart)).toEqual(['skipped-read']);
  });

  it('allows gaps where no record is known (e.g. aborted or control batches)', () => {
    const h = history(send('p1-0', 0, 'ok', 0), send('p1-1', 0, 'ok', 5), assign('c1', 0), read('c1', 0, 0, 'p1-0'), read('c1', 0, 5, 'p1-1'));
    expect(checkHistory(h).valid).toBe(true);
  });

  it("catches a producer's acknowledged writes stored out of send order", () => {
    const h = history(send('p1-0', 0, 'ok', 1), send('p1-1', 0, 'ok', 0), read('c1', 0, 0, 'p1-1'), read('c1', 0, 1, 'p1-0'));
    expect(kinds(h)).toEqual(['order']);
  });

  it('catches a definitely failed write that was read, and a value nobody sent', () => {
    expect(kinds(history(send('p1-0', 0, 'fail'), read('c1', 0, 0, 'p1-0')))).toEqual(['failed-write-read']);
    expect(kinds(history(read('c1', 0, 0, 'p7-7')))).toEqual(['unknown-value-read']);
  });

  it('catches two leaders in one leader epoch, an epoch going back, and a bad ISR', () => {
    const p = { topic: T, partition: 0, replicas: [1, 2, 3] };
    expect(kinds(history(
      metadata('obs-1', 1, [{ ...p, leader: 1, leaderEpoch: 4, isr: [1, 2] }]),
      metadata('obs-2', 2, [{ ...p, leader: 2, leaderEpoch: 4, isr: [2, 3] }]),
    ))).toEqual(['leader-conflict']);
    expect(kinds(history(
      metadata('obs-1', 1, [{ ...p, leader: 1, leaderEpoch: 4, isr: [1, 2] }]),
      metadata('obs-1', 1, [{ ...p, leader: 1, leaderEpoch: 3, isr: [1, 2] }]),
    ))).toEqual(['epoch-regression']);
    expect(kinds(history(metadata('obs-1', 1, [{ ...p, leader: 1, leaderEpoch: 1, isr: [2, 3] }])))).toEqual(['isr-invalid']);
    expect(kinds(history(metadata('obs-1', 1, [{ ...p, leader: 1, leaderEpoch: 1, isr: [1, 4] }])))).toEqual(['isr-invalid']);
    // No leader (-1) is allowed, and a lagging node may show an older epoch than another node.
    expect(kinds(history(
      metadata('obs-1', 1, [{ ...p, leader: -1, leaderEpoch: 5, isr: [] }]),
      metadata('obs-2', 2, [{ ...p, leader: 3, leaderEpoch: 2, isr: [3] }]),
    ))).toEqual([]);
  });

  it('catches a partition that accepts no produce after the final heal', () => {
    const h = history(
      { process: 'probe-0', type: 'invoke', f: 'probe', value: null, node: null, topic: T, partition: 0 },
      { process: 'probe-0', type: 'fail', f: 'probe', value: 30_000, node: null, topic: T, partition: 0, error: 'DELIVERY_TIMEOUT' },
      { process: 'probe-1', type: 'invoke', f: 'probe', value: null, node: null, topic: T, partition: 1 },
      { process: 'probe-1', type: 'ok', f: 'probe', value: 20, node: null, topic: T, partition: 1 },
    );
    const result = checkHistory(h);
    expect(result.violations.map((v) => [v.kind, v.partition])).toEqual([['unavailable-after-heal', 0]]);
  });

  it('catches final metadata that differs between nodes, and admin outcomes the final metadata contradicts', () => {
    const p = { topic: T, partition: 0, leader: 1, replicas: [1, 2, 3], isr: [1, 2, 3] };
    expect(kinds(history(
      metadata('final', 1, [{ ...p, leaderEpoch: 2 }], 'final-metadata'),
      metadata('final', 2, [{ ...p, leaderEpoch: 2, isr: [3, 2, 1] }], 'final-metadata'),
    ))).toEqual([]);
    expect(kinds(history(
      metadata('final', 1, [{ ...p, leaderEpoch: 2 }], 'final-metadata'),
      metadata('final', 2, [{ ...p, leaderEpoch: 3 }], 'final-metadata'),
    ))).toEqual(['metadata-divergence']);
    const admin = (type: 'invoke' | 'ok' | 'info', f: 'create-topic' | 'delete-topic', topic: string): Omit<HistoryOp, 'time'> => ({ process: 'admin', type, f, value: topic, node: null });
    expect(kinds(history(
      admin('invoke', 'create-topic', 'a'), admin('ok', 'create-topic', 'a'),
      admin('invoke', 'create-topic', 'b'), admin('ok', 'create-topic', 'b'), admin('invoke', 'delete-topic', 'b'), admin('ok', 'delete-topic', 'b'),
      admin('invoke', 'create-topic', 'c'), admin('info', 'create-topic', 'c'),
      metadata('final', 1, [], 'final-metadata', [T, 'b']),
    ))).toEqual(['topic-lost', 'topic-resurrected']);
  });

  it('lists at most violationsPerKindMax of a kind but counts them all', () => {
    const parts = Array.from({ length: 10 }, (_, i) => send(`p1-${i}`, 0, 'ok', i));
    const result = checkHistory(history(...parts), { violationsPerKindMax: 3 });
    expect(result.violations).toHaveLength(3);
    expect(result.counts.lost).toBe(10);
  });

  it('refuses malformed histories loudly', () => {
    expect(() => checkHistory(history({ process: 'p1', type: 'ok', f: 'send', value: 'p1-0', node: null }))).toThrow(/without an invoke/);
    expect(() => checkHistory(history(send('p1-0', 0, 'ok', 0), send('p1-0', 0, 'ok', 1)))).toThrow(/sent twice/);
    expect(() => checkHistory(history({ process: 'x', type: 'invoke', f: 'send', value: 'hello', node: null }))).toThrow(/p<id>-<seq>/);
  });
});

describe('checkHistory properties', () => {
  /**
   * A random valid history: producers send to partitions in order, the broker assigns dense offsets
   * per partition in arrival order, some sends end as info (written or not), consumers read each
   * partition from 0 in order.
   */
  const validHistory = fc.record({
    sends: fc.array(fc.record({ producer: fc.integer({ min: 1, max: 3 }), partition: fc.integer({ min: 0, max: 2 }), outcome: fc.constantFrom('ok', 'ok', 'ok', 'info-written', 'info-lost') }), { minLength: 1, maxLength: 60 }),
    consumers: fc.integer({ min: 1, max: 3 }),
  }).map(({ sends, consumers }) => {
    const seqs = new Map<number, number>();
    const logs: string[][] = [[], [], []];
    const ops: Omit<HistoryOp, 'time'>[] = [];
    for (const s of sends) {
      const seq = seqs.get(s.producer) ?? 0;
      seqs.set(s.producer, seq + 1);
      const value = `p${s.producer}-${seq}`;
      const log = logs[s.partition] as string[];
      if (s.outcome === 'info-lost') ops.push(...send(value, s.partition, 'info'));
      else {
        log.push(value);
        ops.push(...send(value, s.partition, s.outcome === 'ok' ? 'ok' : 'info', log.length - 1));
      }
    }
    for (let c = 1; c <= consumers; c++) {
      for (let p = 0; p < 3; p++) {
        ops.push(assign(`c${c}`, p));
        (logs[p] as string[]).forEach((value, offset) => ops.push(read(`c${c}`, p, offset, value)));
      }
    }
    return history(ops);
  });

  it('passes every valid history', () => {
    fc.assert(fc.property(validHistory, (h) => {
      const result = checkHistory(h);
      expect(result.violations).toEqual([]);
    }), { numRuns: 200 });
  });

  it("reports 'lost' when every read of one acknowledged value is deleted", () => {
    fc.assert(fc.property(validHistory, fc.nat(), (h, pick) => {
      const acked = h.filter((op) => op.f === 'send' && op.type === 'ok').map((op) => op.value as string);
      fc.pre(acked.length > 0);
      const victim = acked[pick % acked.length] as string;
      const withoutReads = h.filter((op) => !(op.f === 'read' && op.value === victim));
      const result = checkHistory(withoutReads);
      expect(result.violations.some((v) => v.kind === 'lost' && v.value === victim)).toBe(true);
      expect(result.counts.lost).toBe(1);
    }), { numRuns: 200 });
  });
});
