// The records the transaction coordinator writes to `__transaction_state` and replays on load. Pure.
//
// One key per transactional id (compaction keeps the last value per key):
//   {"v":0,"type":"txn","id":T} → the id's TxnMetadata (every field), JSON: readable with `consume`
// A null value is a tombstone: the id expired (Dead, transactional.id.expiration.ms).
import { metadataProblem, type TxnMetadata, type TxnPartition } from './txn-state.js';

export const TRANSACTION_STATE_TOPIC = '__transaction_state';

export interface TxnStateRecord {
  readonly key: Buffer;
  readonly value: Buffer | null;
}

interface TxnValue {
  readonly producerId: number;
  readonly lastProducerId: number;
  readonly producerEpoch: number;
  readonly lastProducerEpoch: number;
  readonly nextProducerId: number;
  readonly timeoutMs: number;
  readonly state: TxnMetadata['state'];
  /** [topic, [partition, ...]] pairs: each topic name once. */
  readonly partitions: readonly (readonly [string, readonly number[]])[];
  readonly txnStartTimestampMs: number;
  readonly txnLastUpdateTimestampMs: number;
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

export function txnKey(transactionalId: string): Buffer {
  return json({ v: 0, type: 'txn', id: transactionalId });
}

/** The id's record: its metadata, or a tombstone once Dead. */
export function txnRecord(meta: TxnMetadata): TxnStateRecord {
  const key = txnKey(meta.transactionalId);
  if (meta.state === 'Dead') return { key, value: null };
  const byTopic = new Map<string, number[]>();
  for (const tp of meta.partitions) {
    let list = byTopic.get(tp.topic);
    if (list === undefined) byTopic.set(tp.topic, (list = []));
    list.push(tp.partition);
  }
  const value: TxnValue = {
    producerId: meta.producerId, lastProducerId: meta.lastProducerId, producerEpoch: meta.producerEpoch,
    lastProducerEpoch: meta.lastProducerEpoch, nextProducerId: meta.nextProducerId, timeoutMs: meta.timeoutMs, state: meta.state,
    partitions: [...byTopic], txnStartTimestampMs: meta.txnStartTimestampMs, txnLastUpdateTimestampMs: meta.txnLastUpdateTimestampMs,
  };
  return { key, value: json(value) };
}

export type ReplayOutcome = 'applied' | 'not-ours' | 'invalid';

/**
 * Applies one record of the partition to `ids` (mutating the map: the loader owns it). Records of
 * another format (a key that is not ours or a newer `v`) are skipped; a record of ours whose value
 * is not a valid metadata is 'invalid' and leaves the id as it was (the loader reports it).
 */
export function replayTxnRecord(ids: Map<string, TxnMetadata>, key: Buffer | null, value: Buffer | null): ReplayOutcome {
  if (key === null) return 'not-ours';
  let k: { v?: unknown; type?: unknown; id?: unknown };
  try {
    k = JSON.parse(key.toString('utf8')) as typeof k;
  } catch {
    return 'not-ours';
  }
  if (k === null || typeof k !== 'object' || k.v !== 0 || k.type !== 'txn') return 'not-ours';
  if (typeof k.id !== 'string') return 'invalid';
  if (value === null) {
    ids.delete(k.id);
    return 'applied';
  }
  let v: TxnValue;
  try {
    v = JSON.parse(value.toString('utf8')) as TxnValue;
  } catch {
    return 'invalid';
  }
  if (v === null || typeof v !== 'object' || !Array.isArray(v.partitions)) return 'invalid';
  const partitions: TxnPartition[] = [];
  for (const entry of v.partitions) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Array.isArray(entry[1])) return 'invalid';
    for (const p of entry[1] as unknown[]) partitions.push({ topic: entry[0], partition: p as number });
  }
  const meta: TxnMetadata = {
    transactionalId: k.id, producerId: v.producerId, lastProducerId: v.lastProducerId, producerEpoch: v.producerEpoch,
    lastProducerEpoch: v.lastProducerEpoch, nextProducerId: v.nextProducerId, timeoutMs: v.timeoutMs, state: v.state,
    partitions, txnStartTimestampMs: v.txnStartTimestampMs, txnLastUpdateTimestampMs: v.txnLastUpdateTimestampMs,
  };
  if (meta.state === 'Dead' || meta.state === 'PrepareEpochFence' || metadataProblem(meta) !== undefined) return 'invalid';
  ids.set(k.id, meta);
  return 'applied';
}
