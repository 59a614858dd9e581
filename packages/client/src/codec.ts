// The record-batch format at the client's edge: producer batches → bytes, fetched bytes → records.
// The rest of the client never touches bytes.
import {
  BATCH_HEADER_BYTES, BATCH_LENGTH_OFFSET, LOG_OVERHEAD_BYTES, decodeRecordBatch, encodeRecordBatch, type RecordBatch,
} from '@tributary/protocol';
import type { ProducerBatch } from './accumulator.js';
import type { CompressionType } from './config.js';

export function encodeProducerBatch(batch: ProducerBatch, compression: CompressionType): Buffer {
  const first = batch.records[0];
  if (first === undefined) throw new Error(`assertion: encoding empty batch for ${batch.topic}-${batch.partition}`);
  return encodeRecordBatch({
    records: batch.records.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestampMs })),
    compression,
    baseTimestamp: first.timestampMs,
    producerId: batch.producerId,
    producerEpoch: batch.producerEpoch,
    baseSequence: batch.baseSequence,
  });
}

/**
 * Decodes the whole batches in `buf`. A trailing partial batch (a fetch cut at max bytes) is ignored:
 * the next fetch starts from the position after the last whole batch. A batch that does not decode ends
 * the list: the batches before it are returned with the error, so their records are still delivered and
 * the next fetch starts at the bad batch (whose offset the error then names).
 */
export function decodeFetchedBatches(bytes: Uint8Array): { readonly batches: RecordBatch[]; readonly error: unknown } {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const batches: RecordBatch[] = [];
  let pos = 0;
  while (pos + BATCH_HEADER_BYTES <= buf.length) {
    const size = LOG_OVERHEAD_BYTES + buf.readInt32BE(pos + BATCH_LENGTH_OFFSET);
    if (pos + size > buf.length) break; // partial trailing batch (a corrupt length fails in decodeRecordBatch)
    let batch: RecordBatch;
    try {
      batch = decodeRecordBatch(buf, pos);
    } catch (error) {
      return { batches, error };
    }
    batches.push(batch);
    pos += batch.sizeBytes;
  }
  return { batches, error: undefined };
}
