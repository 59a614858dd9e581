// Upper bounds on the encoded size of records and batches (the record-batch v2 layout of
// docs/record-format.md), used for `batch.size`, `buffer.memory` and `max.request.size` accounting
// before anything is encoded. Compression only makes the real size smaller.

/** Fixed batch header: baseOffset(8) batchLength(4) leaderEpoch(4) magic(1) crc(4) attributes(2)
 *  lastOffsetDelta(4) baseTimestamp(8) maxTimestamp(8) producerId(8) producerEpoch(2) baseSequence(4)
 *  recordCount(4). */
export const BATCH_OVERHEAD_BYTES = 61;
/** length(5) attributes(1) timestampDelta(10) offsetDelta(5) keyLength(5) valueLength(5) headerCount(5). */
export const RECORD_OVERHEAD_MAX_BYTES = 36;
/** keyLength(5) valueLength(5) per header. */
export const HEADER_OVERHEAD_MAX_BYTES = 10;

export interface RecordHeader {
  readonly key: string;
  readonly value: Buffer;
}

export function recordSizeUpperBoundBytes(key: Buffer | null, value: Buffer | null, headers: readonly RecordHeader[]): number {
  let size = RECORD_OVERHEAD_MAX_BYTES + (key?.length ?? 0) + (value?.length ?? 0);
  for (const h of headers) size += HEADER_OVERHEAD_MAX_BYTES + Buffer.byteLength(h.key) + h.value.length;
  return size;
}
