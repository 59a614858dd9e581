// Transactional data batches and control batches (COMMIT / ABORT markers, Kafka's layout: attributes
// transactional + control, one record, key = int16 version 0 + int16 type (0 ABORT, 1 COMMIT), value =
// int16 version 0 + int32 coordinator epoch, base sequence -1) for the transaction tests, built with
// @tributary/record-format's encoder. Plus a read_committed view of a log, as a consumer computes it.
import { decodeRecordBatches, encodeRecordBatch } from '@tributary/record-format';
import type { AbortedTxn, PartitionLog } from '../src/index.js';

export interface TxnRecord {
  readonly key: string | null;
  readonly value: string | null;
  readonly timestamp: number;
}

export function txnDataBatch(spec: { producerId: number; producerEpoch?: number; baseSequence: number; records: readonly TxnRecord[]; transactional?: boolean }): Buffer {
  return encodeRecordBatch({
    records: spec.records.map((r) => ({ key: r.key === null ? null : Buffer.from(r.key), value: r.value === null ? null : Buffer.from(r.value), timestamp: r.timestamp })),
    producerId: spec.producerId,
    producerEpoch: spec.producerEpoch ?? 0,
    baseSequence: spec.baseSequence,
    transactional: spec.transactional ?? true,
  });
}

export function controlBatch(spec: { producerId: number; producerEpoch?: number; committed: boolean; coordinatorEpoch?: number; timestampMs: number }): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(spec.committed ? 1 : 0, 2);
  const value = Buffer.alloc(6);
  value.writeInt16BE(0, 0);
  value.writeInt32BE(spec.coordinatorEpoch ?? 0, 2);
  return encodeRecordBatch({
    records: [{ key, value, timestamp: spec.timestampMs }],
    producerId: spec.producerId,
    producerEpoch: spec.producerEpoch ?? 0,
    baseSequence: -1,
    transactional: true,
    control: true,
  });
}

export interface ReadBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly transactional: boolean;
  readonly control: boolean;
  readonly records: readonly { offset: number; key: string | null; value: string | null; timestamp: number }[];
}

/** Every batch of the log from its start, decoded (CRC checked), in offset order. */
export async function readBatches(log: PartitionLog): Promise<ReadBatch[]> {
  const out: ReadBatch[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const result = await log.read(offset, 1 << 20);
    if (result.records.length === 0) break;
    const batches = decodeRecordBatches(result.records);
    for (const b of batches) {
      if (b.lastOffset < offset) continue;
      out.push({
        baseOffset: b.baseOffset,
        lastOffset: b.lastOffset,
        producerId: b.producerId,
        producerEpoch: b.producerEpoch,
        baseSequence: b.baseSequence,
        transactional: b.transactional,
        control: b.control,
        records: b.records.map((r) => ({ offset: r.offset, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null, timestamp: r.timestamp })),
      });
    }
    offset = batches.at(-1)!.lastOffset + 1;
  }
  return out;
}

/**
 * What a read_committed consumer sees of the whole log (Kafka's consumer rule): data records, minus
 * those of a transactional batch whose producer has an aborted transaction open at its offset, per
 * `aborted` (from log.abortedTransactions); markers are skipped.
 */
export function readCommitted(batches: readonly ReadBatch[], aborted: readonly AbortedTxn[]): { offset: number; key: string | null; value: string | null }[] {
  const out: { offset: number; key: string | null; value: string | null }[] = [];
  for (const b of batches) {
    if (b.control) continue;
    if (b.transactional && aborted.some((t) => t.producerId === b.producerId && t.firstOffset <= b.baseOffset && b.baseOffset <= t.lastOffset)) continue;
    for (const r of b.records) out.push({ offset: r.offset, key: r.key, value: r.value });
  }
  return out;
}

/** key -> last value of a record stream (null value: absent). */
export function tableOf(records: readonly { key: string | null; value: string | null }[]): Map<string, string> {
  const table = new Map<string, string>();
  for (const r of records) {
    if (r.key === null) continue;
    if (r.value === null) table.delete(r.key);
    else table.set(r.key, r.value);
  }
  return table;
}

/**
 * Replays `batches` through the simplest model of open transactions, as anything rebuilding producer
 * state from the log does: a transactional data batch (empty or not) opens its producer's transaction
 * unless one is open, a marker ends it. Returns producerId -> first offset of each transaction left open.
 */
export function openTransactions(batches: readonly ReadBatch[]): Map<number, number> {
  const open = new Map<number, number>();
  for (const b of batches) {
    if (b.control) open.delete(b.producerId);
    else if (b.transactional && !open.has(b.producerId)) open.set(b.producerId, b.baseOffset);
  }
  return open;
}
