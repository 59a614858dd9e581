// The txn workload's checks against hand-made histories: a clean run (a committed transaction, one
// aborted on purpose, its inputs processed again in a third) passes with its figures; each
// exactly-once property is then broken by one edit of that history and exactly its violation is
// reported — duplicates, lost inputs, aborted reads, partial transactions, lost commits, offsets not
// committed with their outputs, unstable or reordered read_committed reads, skipped records,
// stalls, hanging transactions and broken inputs.
import { describe, expect, it } from 'vitest';
import {
  checkHistory, encodeOutput, READER_FINAL_COMMITTED, READER_FINAL_INPUT, READER_FINAL_UNCOMMITTED, READER_TAIL_COMMITTED,
  TXN_INPUT_TOPIC, TXN_OUTPUT_TOPIC, type HistoryOp, type TxnOpValue, type ViolationKind,
} from '@tributary/testing';

type Op = Omit<HistoryOp, 'time'>;
const IN = TXN_INPUT_TOPIC;
const OUT = TXN_OUTPUT_TOPIC;

interface Out { id: string; ip: number; io: number; k: number; partition: number; offset: number }
interface TxnSpec { txn: string; n: number; outcome: 'ok' | 'fail' | 'info'; intent?: 'commit' | 'abort'; reason?: string; outputs: Out[]; offsets: { partition: number; offset: number }[] }

function input(id: string, partition: number, offset: number): Op[] {
  return [
    { process: 'txn-in', type: 'invoke', f: 'txn-input', value: id, node: null, topic: IN, partition },
    { process: 'txn-in', type: 'ok', f: 'txn-input', value: id, node: null, topic: IN, partition, offset },
  ];
}
function txn(spec: TxnSpec): Op[] {
  const member = spec.txn.split('.').slice(0, 2).join('.');
  const intent = spec.intent ?? 'commit';
  const value: TxnOpValue = {
    txn: spec.txn, intent, n: spec.n, offsets: spec.offsets,
    outputs: spec.outputs.map((o) => ({ id: o.id, ip: o.ip, io: o.io, k: o.k, partition: o.partition, offset: o.offset })),
    ...(spec.reason === undefined ? {} : { reason: spec.reason }),
  };
  return [
    { process: member, type: 'invoke', f: 'txn', value: { txn: spec.txn, intent, n: spec.n }, node: null },
    { process: member, type: spec.outcome, f: 'txn', value, node: null },
  ];
}
function outRead(reader: string, spec: { txn: string; n: number }, o: Out): Op {
  return { process: reader, type: 'ok', f: 'txn-read', value: encodeOutput({ id: o.id, ip: o.ip, io: o.io, txn: spec.txn, k: o.k, n: spec.n }), node: null, topic: OUT, partition: o.partition, offset: o.offset };
}
function rawRead(reader: string, partition: number, offset: number, value: string): Op {
  return { process: reader, type: 'ok', f: 'txn-read', value, node: null, topic: OUT, partition, offset };
}
function inRead(id: string, partition: number, offset: number): Op {
  return { process: READER_FINAL_INPUT, type: 'ok', f: 'txn-read', value: id, node: null, topic: IN, partition, offset };
}
const verify = (reader: string, type: 'ok' | 'fail' = 'ok'): Op => ({ process: reader, type, f: 'txn-verify', value: { reader }, node: null });

// Inputs i0, i1 on partition 0 and i2, i3 on partition 1. T1 commits i0 + i2 across both output
// partitions; T2 processes i1 + i3 and aborts on purpose; T3 processes them again and commits.
const T1: TxnSpec = {
  txn: 'x1.1.1', n: 2, outcome: 'ok',
  outputs: [{ id: 'i0', ip: 0, io: 0, k: 0, partition: 0, offset: 0 }, { id: 'i2', ip: 1, io: 0, k: 1, partition: 1, offset: 0 }],
  offsets: [{ partition: 0, offset: 1 }, { partition: 1, offset: 1 }],
};
const T2: TxnSpec = {
  txn: 'x1.1.2', n: 2, outcome: 'fail', intent: 'abort', reason: 'deliberate',
  outputs: [{ id: 'i1', ip: 0, io: 1, k: 0, partition: 0, offset: 1 }, { id: 'i3', ip: 1, io: 1, k: 1, partition: 1, offset: 1 }],
  offsets: [{ partition: 0, offset: 2 }, { partition: 1, offset: 2 }],
};
// Offsets 2 hold T2's abort markers.
const T3: TxnSpec = {
  txn: 'x1.1.3', n: 2, outcome: 'ok',
  outputs: [{ id: 'i1', ip: 0, io: 1, k: 0, partition: 0, offset: 3 }, { id: 'i3', ip: 1, io: 1, k: 1, partition: 1, offset: 3 }],
  offsets: [{ partition: 0, offset: 2 }, { partition: 1, offset: 2 }],
};

interface Scenario {
  inputs: Op[];
  txns: TxnSpec[];
  tail: Op[];
  rc: Op[];
  ru: Op[];
  inputReads: Op[];
  verifies: Op[];
  drain: Op;
  finalOffsets: { partition: number; offset: number | null }[];
}

function clean(): Scenario {
  const committed = [T1, T3].flatMap((t) => t.outputs.map((o) => ({ t, o }))).sort((a, b) => a.o.partition - b.o.partition || a.o.offset - b.o.offset);
  const all = [T1, T2, T3].flatMap((t) => t.outputs.map((o) => ({ t, o }))).sort((a, b) => a.o.partition - b.o.partition || a.o.offset - b.o.offset);
  return {
    inputs: [...input('i0', 0, 0), ...input('i1', 0, 1), ...input('i2', 1, 0), ...input('i3', 1, 1)],
    txns: [T1, T2, T3],
    tail: [outRead(READER_TAIL_COMMITTED, T1, T1.outputs[0] as Out)],
    rc: committed.map(({ t, o }) => outRead(READER_FINAL_COMMITTED, t, o)),
    ru: all.map(({ t, o }) => outRead(READER_FINAL_UNCOMMITTED, t, o)),
    inputReads: [inRead('i0', 0, 0), inRead('i1', 0, 1), inRead('i2', 1, 0), inRead('i3', 1, 1)],
    verifies: [verify(READER_FINAL_INPUT), verify(READER_FINAL_COMMITTED), verify(READER_FINAL_UNCOMMITTED)],
    drain: { process: 'txn-drain', type: 'ok', f: 'txn-drain', value: null, node: null, topic: IN },
    finalOffsets: [{ partition: 0, offset: 2 }, { partition: 1, offset: 2 }],
  };
}

function build(s: Scenario): HistoryOp[] {
  const ops: Op[] = [
    ...s.inputs, ...s.txns.flatMap(txn), ...s.tail, s.drain,
    { process: 'txn-final', type: 'invoke', f: 'txn-final-offsets', value: null, node: null, topic: IN },
    { process: 'txn-final', type: 'ok', f: 'txn-final-offsets', value: s.finalOffsets, node: null, topic: IN },
    ...s.inputReads, ...s.rc, ...s.ru, ...s.verifies,
  ];
  return ops.map((op, time) => ({ ...op, time }));
}
const kinds = (s: Scenario): ViolationKind[] => [...new Set(checkHistory(build(s)).violations.map((v) => v.kind))].sort();
const edit = (change: (s: Scenario) => void): Scenario => {
  const s = clean();
  change(s);
  return s;
};
const replaceTxn = (s: Scenario, name: string, change: (t: TxnSpec) => TxnSpec): void => {
  s.txns = s.txns.map((t) => (t.txn === name ? change(t) : t));
};

describe('checkTxn (through checkHistory)', () => {
  it('passes a clean run and counts it', () => {
    const result = checkHistory(build(clean()));
    expect(result.violations).toEqual([]);
    expect(result.counts.txn).toEqual({
      inputsAcked: 4, inputs: 4, txnsAttempted: 3, committed: 2, abortedDeliberate: 1, abortedByFault: 0, indeterminate: 0, indeterminateVisible: 0,
      outputsCommitted: 4, abortedOutputsWritten: 2, duplicates: 0, abortedReads: 0, lost: 0, partial: 0,
    });
  });

  it('a second committed output of one input is a duplicate', () => {
    const T4: TxnSpec = { txn: 'x2.1.1', n: 1, outcome: 'ok', outputs: [{ id: 'i0', ip: 0, io: 0, k: 0, partition: 1, offset: 5 }], offsets: [{ partition: 0, offset: 1 }] };
    const s = edit((s) => {
      s.txns.push(T4);
      s.rc.push(outRead(READER_FINAL_COMMITTED, T4, T4.outputs[0] as Out));
      s.ru.push(outRead(READER_FINAL_UNCOMMITTED, T4, T4.outputs[0] as Out));
    });
    expect(kinds(s)).toEqual(['txn-duplicate']);
    expect(checkHistory(build(s)).counts.txn.duplicates).toBe(1);
  });

  it('an input below the committed offset without a committed output is lost', () => {
    // T3 died before its commit and is invisible, yet the group's offsets say 2: i1 and i3 are gone.
    const s = edit((s) => {
      replaceTxn(s, 'x1.1.3', (t) => ({ ...t, outcome: 'info' }));
      s.rc = s.rc.filter((op) => (op.offset ?? 0) < 3);
      s.ru = s.ru.filter((op) => (op.offset ?? 0) < 3);
    });
    expect(kinds(s)).toEqual(['txn-lost']);
    expect(checkHistory(build(s)).counts.txn).toMatchObject({ lost: 2, indeterminate: 1, indeterminateVisible: 0 });
  });

  it('a read_committed read of an aborted transaction is an aborted read, whoever reads it', () => {
    const tail = edit((s) => { s.tail.push(outRead(READER_TAIL_COMMITTED, T2, T2.outputs[0] as Out)); });
    expect(kinds(tail)).toEqual(['txn-aborted-read', 'txn-unstable-read']);
    const final = edit((s) => {
      s.rc.push(outRead(READER_FINAL_COMMITTED, T2, T2.outputs[0] as Out), outRead(READER_FINAL_COMMITTED, T2, T2.outputs[1] as Out));
      s.rc.sort((a, b) => (a.partition ?? 0) - (b.partition ?? 0) || (a.offset ?? 0) - (b.offset ?? 0));
    });
    // Visible twice (T2 and T3 both carry i1 and i3), and the aborted transaction's outputs are read.
    expect(kinds(final)).toEqual(['txn-aborted-read', 'txn-duplicate']);
    expect(checkHistory(build(final)).counts.txn.abortedReads).toBe(2);
  });

  it('a transaction visible in part is partial (and its committed output lost)', () => {
    const s = edit((s) => { s.rc = s.rc.filter((op) => !(op.partition === 1 && op.offset === 3)); });
    expect(kinds(s)).toEqual(['txn-lost', 'txn-lost-commit', 'txn-partial', 'txn-rc-skipped']);
    expect(checkHistory(build(s)).counts.txn.partial).toBe(1);
  });

  it('partial even when the member never reported the transaction (n in the records says so)', () => {
    const T5 = { txn: 'x3.1.1', n: 3 };
    const s = edit((s) => {
      // A crashed member's transaction: two of its three outputs became visible.
      s.rc.push(outRead(READER_FINAL_COMMITTED, T5, { id: 'i9', ip: 0, io: 9, k: 0, partition: 0, offset: 7 }));
      s.rc.push(outRead(READER_FINAL_COMMITTED, T5, { id: 'i10', ip: 0, io: 10, k: 2, partition: 1, offset: 7 }));
    });
    expect(kinds(s)).toContain('txn-partial');
  });

  it('a committed transaction whose output is not where its send said is a lost commit', () => {
    const s = edit((s) => {
      const moved = { ...(T3.outputs[0] as Out), offset: 4 };
      s.rc = s.rc.map((op) => (op.partition === 0 && op.offset === 3 ? outRead(READER_FINAL_COMMITTED, T3, moved) : op));
      s.ru = s.ru.map((op) => (op.partition === 0 && op.offset === 3 ? outRead(READER_FINAL_UNCOMMITTED, T3, moved) : op));
    });
    expect(kinds(s)).toEqual(['txn-lost-commit']);
  });

  it('an output whose input offset did not commit with it is caught (and a lower final offset than a commit carried)', () => {
    const s = edit((s) => { s.finalOffsets = [{ partition: 0, offset: 2 }, { partition: 1, offset: 1 }]; });
    expect(kinds(s)).toEqual(['txn-offset-regression', 'txn-uncommitted-offset']);
    const only = edit((s) => replaceTxn(s, 'x1.1.3', (t) => ({ ...t, offsets: [{ partition: 0, offset: 3 }] })));
    expect(kinds(only)).toEqual(['txn-offset-regression']);
  });

  it('read_committed reads that change or go backwards are caught', () => {
    const unstable = edit((s) => { s.tail = [rawRead(READER_TAIL_COMMITTED, 0, 0, encodeOutput({ id: 'i0', ip: 0, io: 0, txn: 'x9.1.1', k: 0, n: 1 }))]; });
    expect(kinds(unstable)).toEqual(['txn-unstable-read']);
    const order = edit((s) => { s.tail = [outRead(READER_TAIL_COMMITTED, T3, T3.outputs[0] as Out), outRead(READER_TAIL_COMMITTED, T1, T1.outputs[0] as Out)]; });
    expect(kinds(order)).toEqual(['txn-read-order']);
  });

  it('read_committed skipping a record of a visible transaction, or disagreeing with read_uncommitted, is caught', () => {
    const skipped = edit((s) => { s.ru.push(outRead(READER_FINAL_UNCOMMITTED, T3, { ...(T3.outputs[0] as Out), offset: 5 })); });
    expect(kinds(skipped)).toEqual(['txn-rc-skipped']);
    const inconsistent = edit((s) => { s.ru[0] = rawRead(READER_FINAL_UNCOMMITTED, 0, 0, encodeOutput({ id: 'i0', ip: 0, io: 0, txn: 'x1.1.1', k: 0, n: 3 })); });
    expect(kinds(inconsistent)).toEqual(['txn-read-inconsistent']);
  });

  it('a group that never catches up stalls; a reader that never reaches the end means a hanging transaction', () => {
    expect(kinds(edit((s) => { s.drain = { ...s.drain, type: 'fail' }; }))).toEqual(['txn-stalled']);
    expect(kinds(edit((s) => { s.verifies[1] = verify(READER_FINAL_COMMITTED, 'fail'); }))).toEqual(['txn-hanging']);
  });

  it('inputs duplicated, lost or misnamed, and records that are no output, are caught', () => {
    expect(kinds(edit((s) => { s.inputReads.push(inRead('i0', 1, 2)); }))).toEqual(['txn-input-duplicate']);
    expect(kinds(edit((s) => { s.inputs.push(...input('i4', 0, 7)); }))).toEqual(['txn-input-lost']);
    const misnamed = edit((s) => {
      const T = { ...T1, outputs: [{ ...(T1.outputs[0] as Out), id: 'i9' }, T1.outputs[1] as Out] };
      replaceTxn(s, 'x1.1.1', () => T);
      s.rc[0] = outRead(READER_FINAL_COMMITTED, T, T.outputs[0] as Out);
      s.ru[0] = outRead(READER_FINAL_UNCOMMITTED, T, T.outputs[0] as Out);
      s.tail = [];
    });
    expect(kinds(misnamed)).toEqual(['txn-output-mismatch']);
    expect(kinds(edit((s) => { s.tail.push(rawRead(READER_TAIL_COMMITTED, 1, 9, 'not json')); }))).toEqual(['txn-bad-record']);
  });
});
