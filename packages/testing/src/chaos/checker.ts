// The chaos checker: a pure function from a history (see history.ts) to the list of safety and
// liveness violations, in the spirit of Jepsen's queue/Kafka checkers. No I/O, no clocks.
//
// What counts as known. A (topic, partition, offset) → value fact comes from a consumer read or from
// a producer's acknowledgement (ok send with an offset). A value is "seen" when any consumer read it.
// Writes completed as `info` are indeterminate: never lost, reported as "unseen" when never read.

import { checkGroups, type GroupCounts, type GroupViolationKind } from './group-checker.js';
import { parseValue, type HistoryOp, type MetadataObservation } from './history.js';
import { checkTxn, EMPTY_TXN_COUNTS, hasTxnOps, type TxnCounts, type TxnViolationKind } from './txn-checker.js';
import { TXN_INPUT_TOPIC, TXN_OUTPUT_TOPIC } from './txn-records.js';

export type ViolationKind =
  | 'lost' // an acknowledged write no consumer read
  | 'failed-write-read' // a write completed as `fail` (certainly not written) was read
  | 'unknown-value-read' // a value no producer ever sent was read
  | 'inconsistent-offset' // one (topic, partition, offset) holds two values
  | 'duplicate' // one value at two (topic, partition, offset) positions
  | 'nonmonotonic-read' // a consumer's offsets on a partition went backwards or repeated
  | 'skipped-read' // a consumer jumped over a record that exists
  | 'order' // a producer's acknowledged writes on a partition are not in send order
  | 'leader-conflict' // two leaders observed for one (partition, leader epoch)
  | 'epoch-regression' // an observer saw a partition's leader epoch go down
  | 'isr-invalid' // leader ∉ ISR or ISR ⊄ replicas
  | 'unavailable-after-heal' // a partition had no successful produce within the bound after the final heal
  | 'metadata-divergence' // nodes' final metadata differ
  | 'topic-lost' // a topic whose creation was acknowledged is gone (not deleted)
  | 'topic-resurrected' // a topic whose deletion was acknowledged still exists
  | GroupViolationKind // the groups workload's (group-checker.ts)
  | TxnViolationKind; // the txn workload's (txn-checker.ts)

export type LostPosition = 'prefix' | 'middle' | 'postfix';

export interface Violation {
  readonly kind: ViolationKind;
  /** Run time (ms) the violation is attached to in the report. */
  readonly time: number;
  readonly message: string;
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: number;
  readonly value?: string;
  /** For 'lost': where in the producer's sequence on that partition the hole is. */
  readonly position?: LostPosition;
}

export interface CheckCounts {
  readonly sendsAttempted: number;
  readonly sendsOk: number;
  readonly sendsFailed: number;
  readonly sendsIndeterminate: number;
  readonly acked: number;
  readonly valuesRead: number;
  readonly lost: number;
  readonly lostByPosition: Readonly<Record<LostPosition, number>>;
  /** Indeterminate writes never read: not a violation (they may never have happened). */
  readonly unseen: number;
  /** Indeterminate writes that were read (they did happen). */
  readonly indeterminateRead: number;
  readonly duplicated: number;
  readonly inconsistentOffsets: number;
  readonly orderViolations: number;
  /** The groups workload's commits, fetches and reads (all zero without it). */
  readonly groups: GroupCounts;
  /** The txn workload's transactions and outputs (all zero without it). */
  readonly txn: TxnCounts;
}

export interface CheckResult {
  readonly valid: boolean;
  readonly violations: readonly Violation[];
  readonly counts: CheckCounts;
}

export interface CheckOptions {
  /** At most this many violations of one kind are listed (all are counted). */
  readonly violationsPerKindMax?: number;
}

export const DEFAULT_VIOLATIONS_PER_KIND_MAX = 50;

interface SendState {
  readonly value: string;
  readonly producer: string;
  readonly seq: number;
  readonly invokeTime: number;
  outcome: 'pending' | 'ok' | 'fail' | 'info';
  completeTime: number;
  topic: string | undefined;
  partition: number | undefined;
  offset: number | undefined;
}

interface Position {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
const posKey = (p: Position): string => `${p.topic}\u0000${p.partition}\u0000${p.offset}`;

export function checkHistory(history: readonly HistoryOp[], options: CheckOptions = {}): CheckResult {
  const perKindMax = options.violationsPerKindMax ?? DEFAULT_VIOLATIONS_PER_KIND_MAX;
  const violations: Violation[] = [];
  const kindCounts = new Map<ViolationKind, number>();
  const report = (v: Violation): void => {
    const n = (kindCounts.get(v.kind) ?? 0) + 1;
    kindCounts.set(v.kind, n);
    if (n <= perKindMax) violations.push(v);
  };

  const sends = collectSends(history);
  const facts = collectFacts(history, sends, report);
  const lostCounts = checkLost(sends, facts, report);
  checkReads(history, facts, report);
  const orderViolations = checkOrder(sends, facts, report);
  checkMetadata(history, report);
  checkFinal(history, report);
  const groups = checkGroups(history, (topic, partition, low, high) => offsetsBetween(facts.knownOffsets.get(tpKey(topic, partition)) ?? [], low, high), report);
  const txn = hasTxnOps(history) ? checkTxn(history, { inputTopic: TXN_INPUT_TOPIC, outputTopic: TXN_OUTPUT_TOPIC }, report) : EMPTY_TXN_COUNTS;

  let sendsOk = 0, sendsFailed = 0, sendsIndeterminate = 0, unseen = 0, indeterminateRead = 0;
  for (const s of sends.values()) {
    if (s.outcome === 'ok') sendsOk += 1;
    else if (s.outcome === 'fail') sendsFailed += 1;
    else {
      // pending at the end of the history = never completed = indeterminate
      sendsIndeterminate += 1;
      if (facts.readPositions.has(s.value)) indeterminateRead += 1;
      else unseen += 1;
    }
  }
  const counts: CheckCounts = {
    sendsAttempted: sends.size,
    sendsOk,
    sendsFailed,
    sendsIndeterminate,
    acked: sendsOk,
    valuesRead: facts.readPositions.size,
    lost: lostCounts.total,
    lostByPosition: lostCounts.byPosition,
    unseen,
    indeterminateRead,
    duplicated: kindCounts.get('duplicate') ?? 0,
    inconsistentOffsets: kindCounts.get('inconsistent-offset') ?? 0,
    orderViolations,
    groups,
    txn,
  };
  violations.sort((a, b) => a.time - b.time);
  return { valid: kindCounts.size === 0, violations, counts };
}

function collectSends(history: readonly HistoryOp[]): Map<string, SendState> {
  const sends = new Map<string, SendState>();
  for (const op of history) {
    if (op.f !== 'send' || typeof op.value !== 'string') continue;
    if (op.type === 'invoke') {
      const parsed = parseValue(op.value);
      if (parsed === undefined) throw new Error(`send of a value not in p<id>-<seq> form: ${op.value}`);
      if (sends.has(op.value)) throw new Error(`value ${op.value} sent twice: values must be unique`);
      sends.set(op.value, {
        value: op.value, producer: parsed.producer, seq: parsed.seq, invokeTime: op.time, outcome: 'pending',
        completeTime: op.time, topic: op.topic, partition: op.partition, offset: undefined,
      });
      continue;
    }
    const s = sends.get(op.value);
    if (s === undefined) throw new Error(`completion of ${op.value} without an invoke`);
    if (s.outcome !== 'pending') throw new Error(`value ${op.value} completed twice`);
    s.outcome = op.type;
    s.completeTime = op.time;
    if (op.topic !== undefined) s.topic = op.topic;
    if (op.partition !== undefined) s.partition = op.partition;
    if (op.type === 'ok' && op.offset !== undefined && op.offset >= 0) s.offset = op.offset;
  }
  return sends;
}

interface Facts {
  /** value → positions where consumers read it. */
  readonly readPositions: Map<string, Position[]>;
  /** (tp) → sorted offsets known to hold a record. */
  readonly knownOffsets: Map<string, number[]>;
  /** (tp, offset) → value, the first one seen. */
  readonly valueAt: Map<string, string>;
}

function collectFacts(history: readonly HistoryOp[], sends: Map<string, SendState>, report: (v: Violation) => void): Facts {
  const readPositions = new Map<string, Position[]>();
  const valueAt = new Map<string, { value: string; time: number }>();
  const offsetSets = new Map<string, Set<number>>();
  const duplicateReported = new Set<string>();
  const unexpectedReported = new Set<string>();

  const learn = (pos: Position, value: string, time: number, source: string): void => {
    const key = posKey(pos);
    const known = valueAt.get(key);
    if (known === undefined) {
      valueAt.set(key, { value, time });
      let set = offsetSets.get(tpKey(pos.topic, pos.partition));
      if (set === undefined) offsetSets.set(tpKey(pos.topic, pos.partition), (set = new Set()));
      set.add(pos.offset);
    } else if (known.value !== value) {
      report({
        kind: 'inconsistent-offset', time, ...pos, value,
        message: `${pos.topic}/${pos.partition}@${pos.offset} holds ${known.value} and ${value} (${source})`,
      });
    }
  };

  for (const s of sends.values()) {
    if (s.outcome === 'ok' && s.topic !== undefined && s.partition !== undefined && s.offset !== undefined) {
      learn({ topic: s.topic, partition: s.partition, offset: s.offset }, s.value, s.completeTime, `ack to ${s.producer}`);
    }
  }
  for (const op of history) {
    if (op.f !== 'read' || op.type !== 'ok') continue;
    if (typeof op.value !== 'string' || op.topic === undefined || op.partition === undefined || op.offset === undefined) {
      throw new Error(`read without value/topic/partition/offset at time ${op.time}`);
    }
    const pos: Position = { topic: op.topic, partition: op.partition, offset: op.offset };
    learn(pos, op.value, op.time, `read by ${op.process}`);
    let positions = readPositions.get(op.value);
    if (positions === undefined) readPositions.set(op.value, (positions = []));
    if (!positions.some((p) => posKey(p) === posKey(pos))) {
      positions.push(pos);
      if (positions.length === 2 && !duplicateReported.has(op.value)) {
        duplicateReported.add(op.value);
        const [a, b] = positions as [Position, Position];
        report({
          kind: 'duplicate', time: op.time, ...pos, value: op.value,
          message: `${op.value} appears at ${a.topic}/${a.partition}@${a.offset} and ${b.topic}/${b.partition}@${b.offset}`,
        });
      }
    }
    const s = sends.get(op.value);
    if (unexpectedReported.has(op.value)) continue;
    if (s === undefined) {
      unexpectedReported.add(op.value);
      report({ kind: 'unknown-value-read', time: op.time, ...pos, value: op.value, message: `${op.process} read ${op.value}, which nobody sent` });
    } else if (s.outcome === 'fail') {
      unexpectedReported.add(op.value);
      report({ kind: 'failed-write-read', time: op.time, ...pos, value: op.value, message: `${op.value} failed definitely but ${op.process} read it` });
    }
  }
  const knownOffsets = new Map<string, number[]>();
  for (const [tp, set] of offsetSets) knownOffsets.set(tp, [...set].sort((a, b) => a - b));
  const plainValueAt = new Map<string, string>();
  for (const [key, { value }] of valueAt) plainValueAt.set(key, value);
  return { readPositions, knownOffsets, valueAt: plainValueAt };
}

function checkLost(
  sends: Map<string, SendState>, facts: Facts, report: (v: Violation) => void,
): { total: number; byPosition: Record<LostPosition, number> } {
  // Group acknowledged writes by (producer, topic, partition) in send order; a lost write is a
  // prefix/middle/postfix hole relative to the ones of that group some consumer did read.
  const groups = new Map<string, SendState[]>();
  for (const s of sends.values()) {
    if (s.outcome !== 'ok') continue;
    const key = `${s.producer}\u0000${s.topic ?? '?'}\u0000${s.partition ?? -1}`;
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = []));
    group.push(s);
  }
  const byPosition: Record<LostPosition, number> = { prefix: 0, middle: 0, postfix: 0 };
  let total = 0;
  for (const group of groups.values()) {
    group.sort((a, b) => a.seq - b.seq);
    const seenSeqs = group.filter((s) => facts.readPositions.has(s.value)).map((s) => s.seq);
    const firstSeen = seenSeqs.length === 0 ? Infinity : Math.min(...seenSeqs);
    const lastSeen = seenSeqs.length === 0 ? -Infinity : Math.max(...seenSeqs);
    for (const s of group) {
      if (facts.readPositions.has(s.value)) continue;
      // Nothing of the group seen: the whole group is a lost prefix.
      const position: LostPosition = s.seq < firstSeen ? 'prefix' : s.seq > lastSeen ? 'postfix' : 'middle';
      byPosition[position] += 1;
      total += 1;
      report({
        kind: 'lost', time: s.completeTime, value: s.value, position,
        ...(s.topic === undefined ? {} : { topic: s.topic }),
        ...(s.partition === undefined ? {} : { partition: s.partition }),
        ...(s.offset === undefined ? {} : { offset: s.offset }),
        message: `acknowledged ${s.value} (${s.topic}/${s.partition}@${s.offset ?? '?'}) was never read (${position})`,
      });
    }
  }
  return { total, byPosition };
}

function checkReads(history: readonly HistoryOp[], facts: Facts, report: (v: Violation) => void): void {
  // Per consumer process and partition: the last offset read (or the assigned start - 1).
  const last = new Map<string, number>();
  for (const op of history) {
    if (op.topic === undefined || op.partition === undefined) continue;
    const key = `${op.process}\u0000${tpKey(op.topic, op.partition)}`;
    if (op.f === 'assign' && op.type === 'ok') {
      const next = Number(op.value);
      if (!Number.isInteger(next) || next < 0) throw new Error(`assign with a bad offset ${String(op.value)} at time ${op.time}`);
      last.set(key, next - 1);
      continue;
    }
    if (op.f !== 'read' || op.type !== 'ok' || op.offset === undefined) continue;
    const previous = last.get(key);
    last.set(key, op.offset);
    if (previous === undefined) continue;
    if (op.offset <= previous) {
      report({
        kind: 'nonmonotonic-read', time: op.time, topic: op.topic, partition: op.partition, offset: op.offset,
        message: `${op.process} read ${op.topic}/${op.partition}@${op.offset} after @${previous}`,
      });
      continue;
    }
    const skipped = offsetsBetween(facts.knownOffsets.get(tpKey(op.topic, op.partition)) ?? [], previous, op.offset);
    if (skipped.length > 0) {
      report({
        kind: 'skipped-read', time: op.time, topic: op.topic, partition: op.partition, offset: skipped[0] as number,
        message: `${op.process} went from ${op.topic}/${op.partition}@${previous} to @${op.offset}, skipping ${skipped.length} record(s) from @${skipped[0]}`,
      });
    }
  }
}

/** Known offsets o with low < o < high; `sorted` is ascending. */
function offsetsBetween(sorted: readonly number[], low: number, high: number): number[] {
  let lo = 0, hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) <= low) lo = mid + 1;
    else hi = mid;
  }
  const out: number[] = [];
  for (let i = lo; i < sorted.length && (sorted[i] as number) < high; i++) out.push(sorted[i] as number);
  return out;
}

function checkOrder(sends: Map<string, SendState>, facts: Facts, report: (v: Violation) => void): number {
  const groups = new Map<string, { seq: number; offset: number; value: string; time: number; topic: string; partition: number }[]>();
  for (const s of sends.values()) {
    if (s.outcome !== 'ok') continue;
    const read = facts.readPositions.get(s.value)?.[0];
    const topic = read?.topic ?? s.topic;
    const partition = read?.partition ?? s.partition;
    const offset = read?.offset ?? s.offset;
    if (topic === undefined || partition === undefined || offset === undefined) continue;
    const key = `${s.producer}\u0000${tpKey(topic, partition)}`;
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = []));
    group.push({ seq: s.seq, offset, value: s.value, time: s.completeTime, topic, partition });
  }
  let count = 0;
  for (const group of groups.values()) {
    group.sort((a, b) => a.seq - b.seq);
    let maxOffset = -1;
    let maxValue = '';
    for (const w of group) {
      if (w.offset < maxOffset) {
        count += 1;
        report({
          kind: 'order', time: w.time, topic: w.topic, partition: w.partition, offset: w.offset, value: w.value,
          message: `${w.value} sent after ${maxValue} but stored before it (@${w.offset} < @${maxOffset})`,
        });
      }
      if (w.offset > maxOffset) {
        maxOffset = w.offset;
        maxValue = w.value;
      }
    }
  }
  return count;
}

function checkMetadata(history: readonly HistoryOp[], report: (v: Violation) => void): void {
  const leaderOf = new Map<string, { leader: number; by: string }>();
  const epochSeen = new Map<string, number>();
  for (const op of history) {
    if ((op.f !== 'metadata' && op.f !== 'final-metadata') || op.type !== 'ok') continue;
    const observation = op.value as MetadataObservation;
    for (const p of observation.partitions) {
      const where = `${p.topic}/${p.partition}`;
      if (p.leader >= 0) {
        const key = `${tpKey(p.topic, p.partition)}\u0000${p.leaderEpoch}`;
        const known = leaderOf.get(key);
        if (known === undefined) leaderOf.set(key, { leader: p.leader, by: op.process });
        else if (known.leader !== p.leader) {
          report({
            kind: 'leader-conflict', time: op.time, topic: p.topic, partition: p.partition,
            message: `${where} epoch ${p.leaderEpoch}: leader ${known.leader} (seen by ${known.by}) and ${p.leader} (seen by ${op.process})`,
          });
        }
        if (!p.isr.includes(p.leader)) {
          report({ kind: 'isr-invalid', time: op.time, topic: p.topic, partition: p.partition, message: `${where} (${op.process}): leader ${p.leader} not in ISR [${p.isr.join(',')}]` });
        }
      }
      const outside = p.isr.filter((r) => !p.replicas.includes(r));
      if (outside.length > 0) {
        report({ kind: 'isr-invalid', time: op.time, topic: p.topic, partition: p.partition, message: `${where} (${op.process}): ISR [${p.isr.join(',')}] not within replicas [${p.replicas.join(',')}]` });
      }
      const epochKey = `${op.process}\u0000${tpKey(p.topic, p.partition)}`;
      const previous = epochSeen.get(epochKey);
      if (previous !== undefined && p.leaderEpoch < previous) {
        report({ kind: 'epoch-regression', time: op.time, topic: p.topic, partition: p.partition, message: `${where}: ${op.process} saw leader epoch ${previous} then ${p.leaderEpoch}` });
      }
      epochSeen.set(epochKey, Math.max(previous ?? p.leaderEpoch, p.leaderEpoch));
    }
  }
}

function checkFinal(history: readonly HistoryOp[], report: (v: Violation) => void): void {
  // Probes: every partition probed after the final heal must have an ok.
  const probes = new Map<string, { ok: boolean; time: number; topic: string; partition: number; error?: string }>();
  for (const op of history) {
    if (op.f !== 'probe' || op.topic === undefined || op.partition === undefined || op.type === 'invoke') continue;
    const key = tpKey(op.topic, op.partition);
    const known = probes.get(key);
    if (known?.ok === true) continue;
    probes.set(key, { ok: op.type === 'ok', time: op.time, topic: op.topic, partition: op.partition, ...(op.error === undefined ? {} : { error: op.error }) });
  }
  for (const p of probes.values()) {
    if (!p.ok) {
      report({ kind: 'unavailable-after-heal', time: p.time, topic: p.topic, partition: p.partition, message: `${p.topic}/${p.partition}: no produce succeeded within the bound after the final heal (${p.error ?? 'no answer'})` });
    }
  }

  // Convergence: the last final-metadata of every node must agree.
  const finals = new Map<number, { op: HistoryOp; canonical: string }>();
  for (const op of history) {
    if (op.f !== 'final-metadata' || op.type !== 'ok' || op.node === null) continue;
    finals.set(op.node, { op, canonical: canonicalMetadata(op.value as MetadataObservation) });
  }
  const distinct = new Map<string, number[]>();
  for (const [node, { canonical }] of finals) {
    const nodes = distinct.get(canonical) ?? [];
    nodes.push(node);
    distinct.set(canonical, nodes);
  }
  if (distinct.size > 1) {
    const time = Math.max(...[...finals.values()].map((f) => f.op.time));
    const groups = [...distinct.values()].map((nodes) => `{${nodes.join(',')}}`).join(' vs ');
    report({ kind: 'metadata-divergence', time, message: `final metadata differs between nodes ${groups}` });
  }

  // Admin: acknowledged creates/deletes must be reflected in the final topic list (of any node;
  // divergence is reported above).
  const final = [...finals.values()].at(-1);
  if (final === undefined) return;
  const finalTopics = new Set((final.op.value as MetadataObservation).topics);
  const lastAdmin = new Map<string, HistoryOp>();
  for (const op of history) {
    if ((op.f !== 'create-topic' && op.f !== 'delete-topic') || op.type === 'invoke' || typeof op.value !== 'string') continue;
    if (op.type === 'fail') continue;
    lastAdmin.set(op.value, op);
  }
  for (const [topic, op] of lastAdmin) {
    if (op.type !== 'ok') continue; // indeterminate: either outcome is fine
    if (op.f === 'create-topic' && !finalTopics.has(topic)) {
      report({ kind: 'topic-lost', time: op.time, topic, message: `topic ${topic} was created (acknowledged) and never deleted, but is gone` });
    }
    if (op.f === 'delete-topic' && finalTopics.has(topic)) {
      report({ kind: 'topic-resurrected', time: op.time, topic, message: `topic ${topic} was deleted (acknowledged) but still exists` });
    }
  }
}

/** A node-independent rendering of a metadata view: sorted topics and partitions. */
export function canonicalMetadata(observation: MetadataObservation): string {
  const partitions = [...observation.partitions]
    .map((p) => ({ ...p, isr: [...p.isr].sort((a, b) => a - b), replicas: [...p.replicas] }))
    .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  return JSON.stringify({ topics: [...observation.topics].sort(), partitions });
}
