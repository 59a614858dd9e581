// The record-batch format at the client's edge: producer batches → bytes, fetched bytes → records.
// The rest of the client never touches bytes.
import { decodeRecordBatch, encodeRecordBatch, isPartialBatchAt, type RecordBatch } from '@tributary/protocol';
import type { ProducerBatch } from './accumulator.js';
import type { CompressionType } from './config.js';

/** `transactional`: the batch belongs to a transaction (the attribute bit read_committed consumers filter on). */
export function encodeProducerBatch(batch: ProducerBatch, compression: CompressionType, transactional = false): Buffer {
  const first = batch.records[0];
  if (first === undefined) throw new Error(`assertion: encoding empty batch for ${batch.topic}-${batch.partition}`);
  return encodeRecordBatch({
    records: batch.records.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestampMs })),
    compression,
    baseTimestamp: first.timestampMs,
    producerId: batch.producerId,
    producerEpoch: batch.producerEpoch,
    baseSequence: batch.baseSequence,
    transactional,
  });
}

/**
 * Decodes the whole batches in `buf`. A trailing partial batch (a fetch cut at max bytes) is ignored:
 * the next fetch starts from the position after the last whole batch. A batch that does not decode ends
 * the list: the batches before it are returned with the error, so their records are still delivered and
 * the next fetch starts at the bad batch (whose offset the error then names).
 *
 * "Partial" is record-format's isPartialBatchAt, the rule batchesIn's stopAtPartialBatch applies. The
 * walk is not batchesIn itself: decodeRecordBatch frames, CRC-checks and reads each header anyway, and
 * checks the CRC before any other header field, so a walk in front of it would read every header
 * twice (or compute every CRC twice).
 */
export function decodeFetchedBatches(bytes: Uint8Array): { readonly batches: RecordBatch[]; readonly error: unknown } {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const batches: RecordBatch[] = [];
  let pos = 0;
  // A batchLength below the minimum is not partial: decodeRecordBatch reports it as corrupt.
  while (pos < buf.length && !isPartialBatchAt(buf, pos)) {
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
