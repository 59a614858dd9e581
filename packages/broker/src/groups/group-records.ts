// The records the coordinator writes to `__consumer_offsets` and replays on load. Pure.
//
// Keys (compaction keeps the last value per key, so each key names one fact):
//   {"v":0,"type":"offset","group":G,"topic":T,"partition":P} → {"offset","metadata","commitTimestampMs"}
//   {"v":0,"type":"group","group":G}                          → the generation and its members
// A null value is a tombstone (offsets deleted/expired, group deleted). JSON: readable with `consume`.
//
// A TxnOffsetCommit writes offset records with the SAME key in a transactional batch of the producer
// (txn-offsets.ts): the batch header (transactional, producer id) says they are pending until that
// producer's control batch (COMMIT/ABORT marker) in this partition. Replay keeps aborted ones out; a
// compacted log must not keep an aborted record in place of the committed one before it (the cleaner
// removes aborted transactional data before it compacts by key, as Kafka's does).
import type { TopicPartition } from './assignors/index.js';
import { newGroup, offsetKey, type Group, type Member } from './group.js';
import type { AssignmentStrategy } from './assignors/index.js';
import { completeTxn, stageTxnOffsets, type OffsetsShardState } from './txn-offsets.js';

export const OFFSETS_TOPIC = '__consumer_offsets';

export type OffsetsRecordKey =
  | { readonly v: 0; readonly type: 'offset'; readonly group: string; readonly topic: string; readonly partition: number }
  | { readonly v: 0; readonly type: 'group'; readonly group: string };

interface OffsetValue {
  readonly offset: number;
  readonly metadata: string;
  readonly commitTimestampMs: number;
}

interface GroupValue {
  readonly generation: number;
  readonly protocolName: string | null;
  readonly leaderId: string | null;
  readonly members: readonly {
    readonly memberId: string; readonly groupInstanceId: string | null; readonly clientId: string;
    readonly sessionTimeoutMs: number; readonly rebalanceTimeoutMs: number;
    readonly strategies: readonly string[]; readonly topics: readonly string[];
    readonly assignment: readonly (readonly [string, number])[];
  }[];
}

export interface OffsetsRecord {
  readonly key: Buffer;
  readonly value: Buffer | null;
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

export function offsetRecord(group: string, tp: TopicPartition, value: OffsetValue | null): OffsetsRecord {
  return { key: json({ v: 0, type: 'offset', group, topic: tp.topic, partition: tp.partition }), value: value === null ? null : json(value) };
}

/** The group's current generation; a tombstone once the group is Dead. */
export function groupRecord(group: Group): OffsetsRecord {
  const key = json({ v: 0, type: 'group', group: group.groupId });
  if (group.state === 'Dead') return { key, value: null };
  const value: GroupValue = {
    generation: group.generation, protocolName: group.protocolName, leaderId: group.leaderId,
    members: [...group.members.values()].map((m) => ({
      memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId, sessionTimeoutMs: m.sessionTimeoutMs,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs, strategies: m.strategies, topics: m.topics,
      assignment: (group.assignment.get(m.memberId) ?? []).map((tp) => [tp.topic, tp.partition] as const),
    })),
  };
  return { key, value: json(value) };
}

/** Kafka's control record key: int16 version (0), int16 type (0 ABORT, 1 COMMIT). */
export const CONTROL_TYPE_ABORT = 0;
export const CONTROL_TYPE_COMMIT = 1;

/** The marker type of a control record's key, or undefined for anything else (ignored by the replay). */
export function controlRecordType(key: Buffer | null): 'abort' | 'commit' | undefined {
  if (key === null || key.length < 4 || key.readInt16BE(0) !== 0) return undefined;
  const type = key.readInt16BE(2);
  return type === CONTROL_TYPE_COMMIT ? 'commit' : type === CONTROL_TYPE_ABORT ? 'abort' : undefined;
}

/** What replayBatch needs of a decoded batch (record-format's RecordBatch has it). */
export interface ReplayBatch {
  readonly baseOffset: number;
  readonly producerId: number;
  readonly transactional: boolean;
  readonly control: boolean;
  readonly records: readonly { readonly offset: number; readonly key: Buffer | null; readonly value: Buffer | null }[];
}

/**
 * Applies one batch read from the offsets partition (records before `fromOffset` were applied already).
 * A control batch completes its producer's pending transactional offsets written before it; a
 * transactional batch's offset records become pending for its producer; other records apply at once.
 */
export function replayBatch(state: OffsetsShardState, batch: ReplayBatch, nowMs: number, fromOffset = 0): void {
  if (batch.control) {
    const first = batch.records[0];
    const type = first === undefined ? undefined : controlRecordType(first.key);
    if (first === undefined || first.offset < fromOffset || type === undefined || batch.producerId < 0) return;
    completeTxn(state, { producerId: batch.producerId, committed: type === 'commit', offset: batch.baseOffset });
    return;
  }
  const producerId = batch.transactional && batch.producerId >= 0 ? batch.producerId : null;
  for (const r of batch.records) {
    if (r.offset >= fromOffset) replayRecord(state, r.key, r.value, nowMs, { recordOffset: batch.baseOffset, producerId });
  }
}

/**
 * Applies one record read from the offsets partition to the groups of that partition (mutating the
 * state: the loader owns it). `recordOffset` is its batch's base offset; `producerId` is set for a
 * record of a transactional batch. Members come back Stable with their assignment and a fresh session
 * from `nowMs`, so consumers that keep heartbeating to the new coordinator carry on without a rebalance.
 */
export function replayRecord(
  state: OffsetsShardState, key: Buffer | null, value: Buffer | null, nowMs: number,
  source: { readonly recordOffset: number; readonly producerId: number | null },
): void {
  const { groups } = state;
  if (key === null) return;
  let k: OffsetsRecordKey;
  try {
    k = JSON.parse(key.toString('utf8')) as OffsetsRecordKey;
  } catch {
    return; // not ours; a newer format would bump v
  }
  if (k.v !== 0) return;
  if (source.producerId !== null) {
    // Only offsets are written in transactions (a tombstone never is): anything else is not ours.
    if (k.type !== 'offset' || value === null) return;
    const v = JSON.parse(value.toString('utf8')) as OffsetValue;
    stageTxnOffsets(state, k.group, () => newGroup(k.group, nowMs), source.producerId,
      [{ topic: k.topic, partition: k.partition, offset: v.offset, metadata: v.metadata }], source.recordOffset, v.commitTimestampMs);
    return;
  }
  const current = groups.get(k.group) ?? newGroup(k.group, nowMs);
  if (k.type === 'offset') {
    const offsets = new Map(current.offsets);
    const id = offsetKey(k.topic, k.partition);
    if (value === null) offsets.delete(id);
    else {
      const v = JSON.parse(value.toString('utf8')) as OffsetValue;
      offsets.set(id, { topic: k.topic, partition: k.partition, offset: v.offset, metadata: v.metadata, commitTimestampMs: v.commitTimestampMs, recordOffset: source.recordOffset });
    }
    groups.set(k.group, { ...current, offsets });
    return;
  }
  if (value === null) {
    if (current.offsets.size === 0 && current.pendingTxnOffsets.size === 0) groups.delete(k.group);
    else groups.set(k.group, { ...newGroup(k.group, nowMs), offsets: current.offsets, pendingTxnOffsets: current.pendingTxnOffsets });
    return;
  }
  const v = JSON.parse(value.toString('utf8')) as GroupValue;
  const members = new Map<string, Member>();
  const assignment = new Map<string, TopicPartition[]>();
  for (const m of v.members) {
    const owned = m.assignment.map(([topic, partition]) => ({ topic, partition }));
    members.set(m.memberId, {
      memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId, sessionTimeoutMs: m.sessionTimeoutMs,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs, strategies: m.strategies, topics: m.topics, ownedPartitions: owned,
      ownedGeneration: v.generation, lastSeenMs: nowMs, pendingJoin: null, synced: true,
    });
    assignment.set(m.memberId, owned);
  }
  groups.set(k.group, {
    ...current, state: members.size === 0 ? 'Empty' : 'Stable', generation: v.generation,
    protocolName: members.size === 0 ? null : (v.protocolName as AssignmentStrategy | null), leaderId: v.leaderId,
    members, assignment, revoked: new Map(), followUpRebalance: false, rebalanceDeadlineMs: 0, stateSinceMs: nowMs,
  });
}

/** Java's String.hashCode (UTF-16 code units, 32-bit wrap), as Kafka uses to place a group. */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** Kafka's partitionFor: Utils.abs(groupId.hashCode()) % partitionCount (Utils.abs maps MIN_VALUE to 0). */
export function offsetsPartitionFor(groupId: string, partitionCount: number): number {
  const h = javaStringHashCode(groupId);
  const abs = h === -2147483648 ? 0 : Math.abs(h);
  return abs % partitionCount;
}
