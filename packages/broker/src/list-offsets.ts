// ListOffsets: EARLIEST = log start offset, LATEST = high watermark (read_committed: the last stable
// offset), TIMESTAMP = first offset whose
// timestamp is ≥ T. Storage finds the batch (its max timestamp ≥ T); we decode that one batch to find
// the record — acceptable because ListOffsets is not on the hot path.
import { decodeRecordBatches } from '@tributary/protocol';
import type { Partition } from './partition.js';

export type OffsetSpec = 'EARLIEST' | 'LATEST' | 'TIMESTAMP' | 'MAX_TIMESTAMP';

export interface OffsetAndTimestamp {
  /** -1 when no record matches. */
  readonly offset: number;
  readonly timestampMs: number;
  readonly leaderEpoch: number;
}

/** How many batches past the storage hint to scan before giving up (timestamps need not be monotonic). */
export const MAX_TIMESTAMP_SCAN_BATCHES = 64;
const SCAN_READ_BYTES = 1024 * 1024;

export async function listOffset(
  partition: Partition, spec: OffsetSpec, timestampMs: number, isolation: 'read_uncommitted' | 'read_committed' = 'read_uncommitted',
): Promise<OffsetAndTimestamp> {
  const leaderEpoch = partition.leaderEpoch;
  switch (spec) {
    case 'EARLIEST':
      return { offset: partition.logStartOffset, timestampMs: -1, leaderEpoch };
    case 'LATEST':
      return { offset: isolation === 'read_committed' ? partition.lastStableOffset : partition.highWatermark, timestampMs: -1, leaderEpoch };
    case 'TIMESTAMP':
      return { ...(await offsetForTimestamp(partition, timestampMs, readableEnd(partition, isolation))), leaderEpoch };
    case 'MAX_TIMESTAMP':
      return { ...(await offsetOfMaxTimestamp(partition, readableEnd(partition, isolation))), leaderEpoch };
  }
}

/** Lookups answer only offsets the reader may fetch: below the LSO for read_committed (Kafka's lastFetchableOffset). */
function readableEnd(partition: Partition, isolation: 'read_uncommitted' | 'read_committed'): number {
  return isolation === 'read_committed' ? partition.lastStableOffset : partition.highWatermark;
}

async function offsetForTimestamp(partition: Partition, targetMs: number, highWatermark: number): Promise<{ offset: number; timestampMs: number }> {
  const none = { offset: -1, timestampMs: -1 };
  const hint = await partition.log.offsetForTimestamp(targetMs);
  if (hint === undefined) return none;
  let position = Math.max(hint.batchBaseOffset, partition.logStartOffset);
  for (let scanned = 0; scanned < MAX_TIMESTAMP_SCAN_BATCHES && position < highWatermark;) {
    const { records: bytes } = await partition.log.read(position, SCAN_READ_BYTES, { maxOffset: highWatermark, minOneBatch: true });
    if (bytes.length === 0) return none;
    const batches = decodeRecordBatches(bytes);
    for (const batch of batches) {
      scanned += 1;
      for (const record of batch.records) {
        if (record.offset >= position && record.offset < highWatermark && record.timestamp >= targetMs) {
          return { offset: record.offset, timestampMs: record.timestamp };
        }
      }
      position = Math.max(position, batch.lastOffset + 1);
    }
  }
  return none;
}

/** KIP-734: the offset of the record with the largest timestamp (the first such record). */
async function offsetOfMaxTimestamp(partition: Partition, highWatermark: number): Promise<{ offset: number; timestampMs: number }> {
  const none = { offset: -1, timestampMs: -1 };
  const hint = partition.log.maxTimestamp();
  if (hint === undefined || hint.batchBaseOffset >= highWatermark) return none;
  const position = Math.max(hint.batchBaseOffset, partition.logStartOffset);
  const { records: bytes } = await partition.log.read(position, 1, { maxOffset: highWatermark, minOneBatch: true });
  for (const batch of decodeRecordBatches(bytes)) {
    for (const record of batch.records) {
      if (record.offset >= position && record.timestamp === hint.timestampMs) return { offset: record.offset, timestampMs: record.timestamp };
    }
  }
  return none;
}
