// The txn workload's checker (ops: txn-workload.ts, txn-member.ts; records: txn-records.ts). Pure:
// a history in, violations and figures out. What exactly-once promises, as a client can see it:
// - every input record has exactly one effect in the committed output: none duplicated
//   (`txn-duplicate`), none lost below the group's final committed offsets (`txn-lost`);
// - offsets and outputs commit together: no committed output for an input at or above the final
//   committed offset of its partition (`txn-uncommitted-offset`: it would be processed again), no
//   committed offset lower than one a committed transaction carried (`txn-offset-regression`);
// - no read_committed consumer sees a record of an aborted transaction (`txn-aborted-read`), nor a
//   part of one (`txn-partial`: k = 0..n-1 are all visible or none);
// - a transaction whose commitTransaction() resolved has every output, where its send said
//   (`txn-lost-commit`);
// - read_committed views are stable and ordered: what a tail reader saw during the faults is in
//   the final read at the same position (`txn-unstable-read`); offsets per reader and partition
//   only grow (`txn-read-order`); the final read_committed reader returns every record of a visible
//   transaction that read_uncommitted returns (`txn-rc-skipped`), and both agree on every position
//   they share (`txn-read-inconsistent`);
// - liveness after the final heal: the group's offsets reach the input's end (`txn-stalled`) and
//   the final readers reach the high watermarks, so no transaction hangs (`txn-hanging`);
// - the inputs are what the input producer wrote, once each (`txn-input-duplicate`,
//   `txn-input-lost`, `txn-output-mismatch`, `txn-bad-record`).
import type { HistoryOp } from './history.js';
import {
  parseOutput, isReadCommitted, READER_FINAL_COMMITTED, READER_FINAL_INPUT, READER_FINAL_UNCOMMITTED,
  type TxnOpValue, type TxnOutput,
} from './txn-records.js';

export type TxnViolationKind =
  | 'txn-duplicate'
  | 'txn-lost'
  | 'txn-uncommitted-offset'
  | 'txn-offset-regression'
  | 'txn-aborted-read'
  | 'txn-partial'
  | 'txn-lost-commit'
  | 'txn-unstable-read'
  | 'txn-read-order'
  | 'txn-rc-skipped'
  | 'txn-read-inconsistent'
  | 'txn-stalled'
  | 'txn-hanging'
  | 'txn-input-duplicate'
  | 'txn-input-lost'
  | 'txn-output-mismatch'
  | 'txn-bad-record';

export interface TxnViolation {
  readonly kind: TxnViolationKind;
  readonly time: number;
  readonly message: string;
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: number;
  readonly value?: string;
}

export interface TxnCounts {
  readonly inputsAcked: number;
  /** Input records the final input reader found. */
  readonly inputs: number;
  readonly txnsAttempted: number;
  readonly committed: number;
  readonly abortedDeliberate: number;
  /** Transactions meant to commit that ended aborted (an abortable error, a fenced zombie). */
  readonly abortedByFault: number;
  /** Outcome unknown to the member (crash, fatal error); split by what the final read shows. */
  readonly indeterminate: number;
  readonly indeterminateVisible: number;
  /** Records the final read_committed reader returned. */
  readonly outputsCommitted: number;
  /** Records of definitely aborted transactions the read_uncommitted reader saw (proves the aborted data was written). */
  readonly abortedOutputsWritten: number;
  readonly duplicates: number;
  readonly abortedReads: number;
  readonly lost: number;
  readonly partial: number;
}

interface Txn {
  readonly txn: string;
  invokeTime: number;
  outcome: 'pending' | 'ok' | 'fail' | 'info';
  value: TxnOpValue | undefined;
  time: number;
}

export interface TxnCheckOptions {
  readonly inputTopic: string;
  readonly outputTopic: string;
}

interface Read {
  readonly partition: number;
  readonly offset: number;
  readonly output: TxnOutput;
  readonly raw: string;
  readonly time: number;
}

export function checkTxn(history: readonly HistoryOp[], options: TxnCheckOptions, report: (v: TxnViolation) => void): TxnCounts {
  const { inputTopic, outputTopic } = options;
  const txns = new Map<string, Txn>();
  let inputsAcked = 0;
  const ackedInputs: { id: string; partition: number; offset: number; time: number }[] = [];
  /** Final input read: `partition/offset` → id, and id → positions. */
  const inputAt = new Map<string, string>();
  const inputPositions = new Map<string, string[]>();
  /** Reads of the output topic per reader process. */
  const reads = new Map<string, Read[]>();
  const verified = new Map<string, HistoryOp>();
  let drain: HistoryOp | undefined;
  let finalOffsets: Map<number, number | null> | undefined;
  let lastTime = 0;

  for (const op of history) {
    lastTime = Math.max(lastTime, op.time);
    switch (op.f) {
      case 'txn-input':
        if (op.type === 'ok' && typeof op.value === 'string' && op.partition !== undefined && op.offset !== undefined) {
          inputsAcked += 1;
          ackedInputs.push({ id: op.value, partition: op.partition, offset: op.offset, time: op.time });
        }
        break;
      case 'txn': {
        const value = op.value as TxnOpValue | undefined;
        if (value === undefined || typeof value.txn !== 'string') break;
        let t = txns.get(value.txn);
        if (op.type === 'invoke') {
          if (t === undefined) txns.set(value.txn, (t = { txn: value.txn, invokeTime: op.time, outcome: 'pending', value, time: op.time }));
          break;
        }
        if (t === undefined) txns.set(value.txn, (t = { txn: value.txn, invokeTime: op.time, outcome: 'pending', value, time: op.time }));
        if (t.outcome !== 'pending') throw new Error(`transaction ${value.txn} completed twice`);
        t.outcome = op.type;
        t.value = value;
        t.time = op.time;
        break;
      }
      case 'txn-read': {
        if (op.type !== 'ok' || op.partition === undefined || op.offset === undefined) break;
        if (op.process === READER_FINAL_INPUT && op.topic === inputTopic) {
          if (typeof op.value !== 'string') break;
          const pos = `${op.partition}/${op.offset}`;
          if (inputAt.has(pos)) break; // a re-read of the same position
          inputAt.set(pos, op.value);
          const list = inputPositions.get(op.value) ?? [];
          list.push(pos);
          inputPositions.set(op.value, list);
          break;
        }
        if (op.topic !== outputTopic) break;
        const raw = typeof op.value === 'string' ? op.value : JSON.stringify(op.value);
        const output = parseOutput(op.value);
        if (output === undefined) {
          report({ kind: 'txn-bad-record', time: op.time, topic: outputTopic, partition: op.partition, offset: op.offset, value: raw, message: `${op.process} read a record that is no transaction output: ${raw.slice(0, 200)}` });
          break;
        }
        let list = reads.get(op.process);
        if (list === undefined) reads.set(op.process, (list = []));
        list.push({ partition: op.partition, offset: op.offset, output, raw, time: op.time });
        break;
      }
      case 'txn-verify':
        if (op.type !== 'invoke') verified.set(op.process, op);
        break;
      case 'txn-drain':
        if (op.type !== 'invoke') drain = op;
        break;
      case 'txn-final-offsets':
        if (op.type === 'ok' && Array.isArray(op.value)) {
          finalOffsets = new Map((op.value as { partition: number; offset: number | null }[]).map((e) => [e.partition, e.offset]));
        }
        break;
      default:
        break;
    }
  }

  // Readers' own order: offsets per partition strictly increase.
  for (const [reader, list] of reads) {
    const last = new Map<number, number>();
    for (const r of list) {
      const prev = last.get(r.partition);
      if (prev !== undefined && r.offset <= prev) {
        report({ kind: 'txn-read-order', time: r.time, topic: outputTopic, partition: r.partition, offset: r.offset, message: `${reader} read ${outputTopic}/${r.partition} @${r.offset} after @${prev}` });
      }
      last.set(r.partition, r.offset);
    }
  }

  const finalRc = reads.get(READER_FINAL_COMMITTED) ?? [];
  const finalRu = reads.get(READER_FINAL_UNCOMMITTED) ?? [];
  const rcVerified = verified.get(READER_FINAL_COMMITTED)?.type === 'ok';
  const ruVerified = verified.get(READER_FINAL_UNCOMMITTED)?.type === 'ok';
  const inVerified = verified.get(READER_FINAL_INPUT)?.type === 'ok';
  for (const [reader, op] of verified) {
    if (op.type === 'ok') continue;
    report({
      kind: 'txn-hanging', time: op.time,
      message: `${reader} did not reach the end of ${reader === READER_FINAL_INPUT ? inputTopic : outputTopic} after the final heal` +
        `${isReadCommitted(reader) ? ' (the last stable offset stayed below the high watermark: a transaction never ended?)' : ''}: ${JSON.stringify(op.value)}`,
    });
  }
  if (drain !== undefined && drain.type !== 'ok') {
    report({ kind: 'txn-stalled', time: drain.time, message: `after the final heal the group's committed offsets did not reach the end of ${inputTopic}: ${JSON.stringify(drain.value)}` });
  }

  // Inputs: each acknowledged one is in the input topic where its ack said, once.
  if (inVerified) {
    for (const [id, positions] of inputPositions) {
      if (positions.length > 1) report({ kind: 'txn-input-duplicate', time: lastTime, topic: inputTopic, value: id, message: `input ${id} is in ${inputTopic} ${positions.length} times: ${positions.join(', ')}` });
    }
    for (const a of ackedInputs) {
      if (inputAt.get(`${a.partition}/${a.offset}`) !== a.id) {
        report({ kind: 'txn-input-lost', time: a.time, topic: inputTopic, partition: a.partition, offset: a.offset, value: a.id, message: `acknowledged input ${a.id} @${a.partition}/${a.offset} is not there in the final read (found ${inputAt.get(`${a.partition}/${a.offset}`) ?? 'nothing'})` });
      }
    }
  }

  // The final committed view, by position and by transaction.
  const rcAt = new Map<string, Read>();
  for (const r of finalRc) rcAt.set(`${r.partition}/${r.offset}`, r);
  const visible = new Map<string, Map<number, Read>>(); // txn → k → read
  for (const r of finalRc) {
    let ks = visible.get(r.output.txn);
    if (ks === undefined) visible.set(r.output.txn, (ks = new Map()));
    ks.set(r.output.k, r);
  }

  // Aborted reads: any read_committed reader, at any time.
  let abortedReads = 0;
  for (const [reader, list] of reads) {
    if (!isReadCommitted(reader)) continue;
    for (const r of list) {
      const t = txns.get(r.output.txn);
      if (t?.outcome !== 'fail') continue;
      abortedReads += 1;
      report({
        kind: 'txn-aborted-read', time: r.time, topic: outputTopic, partition: r.partition, offset: r.offset, value: r.raw,
        message: `${reader} read ${outputTopic}/${r.partition}@${r.offset} of transaction ${r.output.txn}, which was aborted (${t.value?.reason ?? 'no reason'}, at ${t.time} ms)`,
      });
    }
  }

  // Atomicity: a visible transaction is visible whole.
  let partial = 0;
  if (rcVerified) {
    for (const [txn, ks] of visible) {
      const n = (ks.values().next().value as Read).output.n;
      if (ks.size === n) continue;
      partial += 1;
      const missing = Array.from({ length: n }, (_, k) => k).filter((k) => !ks.has(k));
      const first = ks.values().next().value as Read;
      report({
        kind: 'txn-partial', time: first.time, topic: outputTopic, partition: first.partition, offset: first.offset,
        message: `transaction ${txn}: ${ks.size} of its ${n} outputs are visible to read_committed; missing k = ${missing.slice(0, 10).join(', ')}`,
      });
    }
  }

  // Committed transactions keep every output, where the send said.
  if (rcVerified) {
    for (const t of txns.values()) {
      if (t.outcome !== 'ok') continue;
      for (const o of t.value?.outputs ?? []) {
        const at = o.offset === null ? undefined : rcAt.get(`${o.partition}/${o.offset}`);
        const ok = o.offset === null
          ? visible.get(t.txn)?.has(o.k) === true
          : at !== undefined && at.output.txn === t.txn && at.output.k === o.k;
        if (!ok) {
          report({
            kind: 'txn-lost-commit', time: t.time, topic: outputTopic, partition: o.partition, ...(o.offset === null ? {} : { offset: o.offset }), value: o.id,
            message: `transaction ${t.txn} committed (commitTransaction resolved at ${t.time} ms) but its output k=${o.k} for ${o.id} is not at ${outputTopic}/${o.partition}@${o.offset ?? '?'} (found ${at?.raw ?? 'nothing'})`,
          });
        }
      }
    }
  }

  // Exactly once per input; outputs name real inputs.
  let duplicates = 0;
  const outputsOf = new Map<string, Read[]>(); // input position → reads
  for (const r of finalRc) {
    const pos = `${r.output.ip}/${r.output.io}`;
    if (inVerified && inputAt.get(pos) !== r.output.id) {
      report({
        kind: 'txn-output-mismatch', time: r.time, topic: outputTopic, partition: r.partition, offset: r.offset, value: r.raw,
        message: `output @${r.partition}/${r.offset} names input ${r.output.id} at ${inputTopic}/${pos}, which holds ${inputAt.get(pos) ?? 'nothing'}`,
      });
    }
    const list = outputsOf.get(pos) ?? [];
    list.push(r);
    outputsOf.set(pos, list);
  }
  for (const [pos, list] of outputsOf) {
    if (list.length < 2) continue;
    duplicates += list.length - 1;
    const first = list[1] as Read;
    report({
      kind: 'txn-duplicate', time: first.time, topic: outputTopic, partition: first.partition, offset: first.offset, value: first.output.id,
      message: `input ${first.output.id} (${inputTopic}/${pos}) has ${list.length} committed outputs: ${list.map((r) => `${r.partition}@${r.offset} by ${r.output.txn}`).join(', ')}`,
    });
  }

  // Offsets and outputs together, against the group's final committed offsets.
  let lost = 0;
  if (rcVerified && inVerified && finalOffsets !== undefined) {
    for (const [pos, id] of inputAt) {
      const [p, o] = pos.split('/').map(Number) as [number, number];
      const committed = finalOffsets.get(p) ?? null;
      const below = committed !== null && o < committed;
      const outputs = outputsOf.get(pos) ?? [];
      if (below && outputs.length === 0) {
        lost += 1;
        report({ kind: 'txn-lost', time: lastTime, topic: inputTopic, partition: p, offset: o, value: id, message: `input ${id} (${inputTopic}/${pos}) is below the group's committed offset ${committed} but has no committed output` });
      }
      if (!below && outputs.length > 0) {
        const r = outputs[0] as Read;
        report({
          kind: 'txn-uncommitted-offset', time: r.time, topic: outputTopic, partition: r.partition, offset: r.offset, value: id,
          message: `input ${id} (${inputTopic}/${pos}) has a committed output (by ${r.output.txn}) but the group's committed offset for partition ${p} is ${committed ?? 'none'}: its input offset did not commit with it`,
        });
      }
    }
    for (const t of txns.values()) {
      if (t.outcome !== 'ok') continue;
      for (const e of t.value?.offsets ?? []) {
        const committed = finalOffsets.get(e.partition) ?? null;
        if (committed === null || committed < e.offset) {
          report({ kind: 'txn-offset-regression', time: t.time, topic: inputTopic, partition: e.partition, offset: e.offset, message: `transaction ${t.txn} committed ${inputTopic}/${e.partition} at ${e.offset} but the group's final committed offset is ${committed ?? 'none'}` });
        }
      }
    }
  }

  // read_committed views are stable: what the tail saw is still there.
  if (rcVerified) {
    for (const [reader, list] of reads) {
      if (!isReadCommitted(reader) || reader === READER_FINAL_COMMITTED) continue;
      for (const r of list) {
        const final = rcAt.get(`${r.partition}/${r.offset}`);
        if (final?.raw === r.raw) continue;
        report({
          kind: 'txn-unstable-read', time: r.time, topic: outputTopic, partition: r.partition, offset: r.offset, value: r.raw,
          message: `${reader} read ${r.raw} at ${outputTopic}/${r.partition}@${r.offset} at ${r.time} ms; the final read_committed read has ${final?.raw ?? 'nothing'} there`,
        });
      }
    }
  }

  // read_uncommitted against read_committed: the committed reader skips only what is not committed.
  let abortedOutputsWritten = 0;
  if (ruVerified) {
    const ruAt = new Map(finalRu.map((r) => [`${r.partition}/${r.offset}`, r]));
    for (const r of finalRu) {
      if (txns.get(r.output.txn)?.outcome === 'fail') abortedOutputsWritten += 1;
      if (!rcVerified || !visible.has(r.output.txn) || rcAt.has(`${r.partition}/${r.offset}`)) continue;
      report({
        kind: 'txn-rc-skipped', time: r.time, topic: outputTopic, partition: r.partition, offset: r.offset, value: r.raw,
        message: `read_committed skipped ${outputTopic}/${r.partition}@${r.offset} (${r.raw}) though it returned other outputs of ${r.output.txn}`,
      });
    }
    if (rcVerified) {
      for (const r of finalRc) {
        const u = ruAt.get(`${r.partition}/${r.offset}`);
        if (u?.raw === r.raw) continue;
        report({
          kind: 'txn-read-inconsistent', time: r.time, topic: outputTopic, partition: r.partition, offset: r.offset, value: r.raw,
          message: `${outputTopic}/${r.partition}@${r.offset}: read_committed returned ${r.raw}, read_uncommitted ${u?.raw ?? 'nothing'}`,
        });
      }
    }
  }

  let committed = 0, abortedDeliberate = 0, abortedByFault = 0, indeterminate = 0, indeterminateVisible = 0;
  for (const t of txns.values()) {
    if (t.outcome === 'ok') committed += 1;
    else if (t.outcome === 'fail') {
      if (t.value?.intent === 'abort' && t.value.reason === 'deliberate') abortedDeliberate += 1;
      else abortedByFault += 1;
    } else {
      indeterminate += 1;
      if (visible.has(t.txn)) indeterminateVisible += 1;
    }
  }
  return {
    inputsAcked, inputs: inputAt.size, txnsAttempted: txns.size, committed, abortedDeliberate, abortedByFault, indeterminate, indeterminateVisible,
    outputsCommitted: finalRc.length, abortedOutputsWritten, duplicates, abortedReads, lost, partial,
  };
}

export const EMPTY_TXN_COUNTS: TxnCounts = {
  inputsAcked: 0, inputs: 0, txnsAttempted: 0, committed: 0, abortedDeliberate: 0, abortedByFault: 0, indeterminate: 0, indeterminateVisible: 0,
  outputsCommitted: 0, abortedOutputsWritten: 0, duplicates: 0, abortedReads: 0, lost: 0, partial: 0,
};

/** True when the history holds ops of the txn workload (the checker then runs). */
export const hasTxnOps = (history: readonly HistoryOp[]): boolean => history.some((op) => op.f === 'txn' || op.f === 'txn-input');
