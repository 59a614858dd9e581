// The groups workload's part of the checker (see group-member.ts for the ops it reads). Pure: a
// history in, violations out. What a consumer group promises, as a client can see it:
// - committed offsets never go backwards: an offset fetch, or a later commit, never shows less than
//   a commit acknowledged before it began (a zombie's accepted commit, or a coordinator that lost
//   commits in a failover, shows up here);
// - a member that takes over a partition reads from the committed offset: nothing before it
//   (reprocessing what was committed) and nothing after it skipped;
// - the group as a whole reads every record below the offsets it finally committed;
// - after the final heal the group's commits reach the high watermarks (it is not stuck).
// Within one ownership span (process `<member>:p<partition>:a<k>`) reads are checked like any
// consumer's by checker.ts (strictly increasing, no record skipped).
import type { HistoryOp } from './history.js';

export type GroupViolationKind =
  | 'group-offset-regression' // a committed offset went backwards
  | 'group-reprocessed' // a new owner read below the offset committed when it took the partition
  | 'group-skipped' // a new owner started above the committed offset, or the group committed past unread records
  | 'group-stalled'; // after the final heal the group's commits did not reach the high watermarks

export interface GroupViolation {
  readonly kind: GroupViolationKind;
  readonly time: number;
  readonly message: string;
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: number;
}

export interface GroupCounts {
  readonly commitsOk: number;
  readonly commitsFailed: number;
  readonly commitsIndeterminate: number;
  readonly offsetFetchesOk: number;
  readonly spans: number;
  readonly groupReads: number;
}

/** Known record offsets of a partition strictly between `low` and `high`, ascending. */
export type KnownOffsetsBetween = (topic: string, partition: number, low: number, high: number) => readonly number[];

const SPAN = /^g\d+:p\d+:a\d+$/;
export const isGroupSpan = (process: string): boolean => SPAN.test(process);

interface OffsetEntry {
  readonly partition: number;
  readonly offset: number | null;
}

const entries = (value: unknown): OffsetEntry[] => (Array.isArray(value) ? (value as OffsetEntry[]) : []);

export function checkGroups(
  history: readonly HistoryOp[], knownBetween: KnownOffsetsBetween, report: (v: GroupViolation) => void,
): GroupCounts {
  let commitsOk = 0, commitsFailed = 0, commitsIndeterminate = 0, offsetFetchesOk = 0, groupReads = 0;
  // Invocation time of each process's operation in progress (one at a time per process).
  const invokedAt = new Map<string, number>();
  /** `topic/partition` → acknowledged commits in completion order. */
  const acked = new Map<string, { offset: number; time: number; by: string }[]>();
  const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
  /** Highest acknowledged commit completed strictly before `time`. */
  const committedBefore = (topic: string, partition: number, time: number): { offset: number; by: string } | undefined => {
    let best: { offset: number; by: string } | undefined;
    for (const c of acked.get(key(topic, partition)) ?? []) {
      if (c.time >= time) break;
      if (best === undefined || c.offset > best.offset) best = c;
    }
    return best;
  };
  /** Span → the start it must read from, until its first read. */
  const spanStart = new Map<string, { committed: number; time: number }>();
  /** `topic/partition` → offsets some group member read. */
  const readByGroup = new Map<string, Set<number>>();
  let spans = 0;

  for (const op of history) {
    if (op.type === 'invoke') {
      invokedAt.set(op.process, op.time);
      continue;
    }
    const topic = op.topic;
    if (op.f === 'group-commit' && topic !== undefined) {
      const started = invokedAt.get(op.process) ?? op.time;
      if (op.type === 'fail') { commitsFailed += 1; continue; }
      if (op.type === 'info') { commitsIndeterminate += 1; continue; }
      commitsOk += 1;
      for (const e of entries(op.value)) {
        if (e.offset === null) continue;
        const before = committedBefore(topic, e.partition, started);
        if (before !== undefined && e.offset < before.offset) {
          report({
            kind: 'group-offset-regression', time: op.time, topic, partition: e.partition, offset: e.offset,
            message: `${op.process} committed ${topic}/${e.partition} at ${e.offset} after ${before.by}'s acknowledged commit at ${before.offset}`,
          });
        }
        let list = acked.get(key(topic, e.partition));
        if (list === undefined) acked.set(key(topic, e.partition), (list = []));
        list.push({ offset: e.offset, time: op.time, by: op.process });
      }
      continue;
    }
    if (op.f === 'offset-fetch' && op.type === 'ok' && topic !== undefined) {
      offsetFetchesOk += 1;
      const started = invokedAt.get(op.process) ?? op.time;
      for (const e of entries(op.value)) {
        const before = committedBefore(topic, e.partition, started);
        if (before !== undefined && (e.offset === null || e.offset < before.offset)) {
          report({
            kind: 'group-offset-regression', time: op.time, topic, partition: e.partition, ...(e.offset === null ? {} : { offset: e.offset }),
            message: `${op.process} fetched ${topic}/${e.partition} committed at ${e.offset ?? 'none'} after ${before.by}'s acknowledged commit at ${before.offset}`,
          });
        }
      }
      continue;
    }
    if (op.f === 'group-assign' && op.type === 'ok' && topic !== undefined && op.partition !== undefined) {
      spans += 1;
      const value = op.value as { known?: boolean; committed?: number | null };
      // No committed offset: auto.offset.reset=earliest, and the chaos topic's log starts at 0.
      if (value.known === true) spanStart.set(op.process, { committed: value.committed ?? 0, time: op.time });
      continue;
    }
    if (op.f === 'read' && op.type === 'ok' && isGroupSpan(op.process) && topic !== undefined && op.partition !== undefined && op.offset !== undefined) {
      groupReads += 1;
      let read = readByGroup.get(key(topic, op.partition));
      if (read === undefined) readByGroup.set(key(topic, op.partition), (read = new Set()));
      read.add(op.offset);
      const start = spanStart.get(op.process);
      if (start === undefined) continue;
      spanStart.delete(op.process);
      if (op.offset < start.committed) {
        report({
          kind: 'group-reprocessed', time: op.time, topic, partition: op.partition, offset: op.offset,
          message: `${op.process} took ${topic}/${op.partition} with ${start.committed} committed but first read @${op.offset}`,
        });
        continue;
      }
      const skipped = knownBetween(topic, op.partition, start.committed - 1, op.offset);
      if (skipped.length > 0) {
        report({
          kind: 'group-skipped', time: op.time, topic, partition: op.partition, offset: skipped[0] as number,
          message: `${op.process} took ${topic}/${op.partition} with ${start.committed} committed but first read @${op.offset}, skipping ${skipped.length} record(s)`,
        });
      }
      continue;
    }
    if (op.f === 'group-drain' && op.type === 'fail') {
      report({ kind: 'group-stalled', time: op.time, message: `after the final heal the group's commits did not reach the high watermarks: ${JSON.stringify(op.value)}` });
    }
  }

  // Everything below the group's final committed offsets was read by some member.
  for (const op of history) {
    if (op.process !== 'groups-final' || op.f !== 'offset-fetch' || op.type !== 'ok' || op.topic === undefined) continue;
    for (const e of entries(op.value)) {
      if (e.offset === null) continue;
      const read = readByGroup.get(key(op.topic, e.partition)) ?? new Set<number>();
      const unread = knownBetween(op.topic, e.partition, -1, e.offset).filter((o) => !read.has(o));
      if (unread.length > 0) {
        report({
          kind: 'group-skipped', time: op.time, topic: op.topic, partition: e.partition, offset: unread[0] as number,
          message: `the group committed ${op.topic}/${e.partition} up to ${e.offset} but no member read ${unread.length} record(s) below it, from @${unread[0]}`,
        });
      }
    }
  }
  return { commitsOk, commitsFailed, commitsIndeterminate, offsetFetchesOk, spans, groupReads };
}
