// Transaction markers (KIP-98): a control batch ends one producer's transaction on one partition. Kafka's
// layout, exactly: attributes transactional + control, uncompressed, one record, the producer id and epoch
// of the transaction, base sequence -1 (NO_SEQUENCE), and
//   key   = int16 version (0) + int16 type (0 ABORT, 1 COMMIT)
//   value = int16 version (0) + int32 coordinator epoch
// Readers must skip control batches; only brokers write them (a produced control batch is refused by
// validateProducedBatch).
import { NO_SEQUENCE } from './batch-header.js';
import { CorruptRecordError } from './errors.js';
import { decodeRecordBatch, encodeRecordBatch } from './record-batch.js';

export type ControlRecordType = 'ABORT' | 'COMMIT';

const CONTROL_KEY_VERSION = 0;
const CONTROL_VALUE_VERSION = 0;
const CONTROL_KEY_BYTES = 4;
const CONTROL_VALUE_BYTES = 6;
const TYPE_CODE: Record<ControlRecordType, number> = { ABORT: 0, COMMIT: 1 };

export interface ControlBatchInput {
  readonly type: ControlRecordType;
  readonly producerId: number;
  readonly producerEpoch: number;
  /** The leader epoch of the coordinator's `__transaction_state` partition (fences an older coordinator). */
  readonly coordinatorEpoch: number;
  /** Epoch ms of the marker (this module never reads a clock). */
  readonly timestampMs: number;
  /** Default 0: the leader stamps it on append. */
  readonly baseOffset?: number;
  /** Default -1: the leader stamps it on append. */
  readonly partitionLeaderEpoch?: number;
}

/** One marker as a whole control batch, ready for the leader's append (offset and epoch stamped there). */
export function encodeControlBatch(input: ControlBatchInput): Buffer {
  const key = Buffer.alloc(CONTROL_KEY_BYTES);
  key.writeInt16BE(CONTROL_KEY_VERSION, 0);
  key.writeInt16BE(TYPE_CODE[input.type], 2);
  const value = Buffer.alloc(CONTROL_VALUE_BYTES);
  value.writeInt16BE(CONTROL_VALUE_VERSION, 0);
  value.writeInt32BE(input.coordinatorEpoch, 2);
  return encodeRecordBatch({
    records: [{ key, value, timestamp: input.timestampMs }],
    baseTimestamp: input.timestampMs,
    producerId: input.producerId,
    producerEpoch: input.producerEpoch,
    baseSequence: NO_SEQUENCE,
    transactional: true,
    control: true,
    ...(input.baseOffset === undefined ? {} : { baseOffset: input.baseOffset }),
    ...(input.partitionLeaderEpoch === undefined ? {} : { partitionLeaderEpoch: input.partitionLeaderEpoch }),
  });
}

export interface ControlRecord {
  /** undefined: a control type this build does not know (Kafka has others); readers skip it like a marker. */
  readonly type: ControlRecordType | undefined;
  /** Coordinator epoch from the value; -1 when the value is absent or too short. */
  readonly coordinatorEpoch: number;
}

/**
 * The marker of the control batch at `position` of `batches` (CRC verified, records decoded). Throws
 * CorruptRecordError when the batch is not a control batch or its key is malformed.
 */
export function readControlRecord(batches: Buffer, position = 0): ControlRecord {
  const batch = decodeRecordBatch(batches, position);
  if (!batch.control) throw new CorruptRecordError(`batch at position ${position} is not a control batch`);
  const record = batch.records[0];
  if (batch.records.length !== 1 || record === undefined) throw new CorruptRecordError(`control batch at position ${position} has ${batch.records.length} records, expected 1`);
  const key = record.key;
  if (key === null || key.length < CONTROL_KEY_BYTES) throw new CorruptRecordError(`control record at position ${position}: key of ${key?.length ?? 'null'} bytes, expected ${CONTROL_KEY_BYTES}`);
  const code = key.readInt16BE(2);
  const type = code === TYPE_CODE.ABORT ? 'ABORT' : code === TYPE_CODE.COMMIT ? 'COMMIT' : undefined;
  const value = record.value;
  const coordinatorEpoch = value !== null && value.length >= CONTROL_VALUE_BYTES ? value.readInt32BE(2) : -1;
  return { type, coordinatorEpoch };
}

/** The marker type of the control batch at `position` (see readControlRecord). */
export function readControlRecordType(batches: Buffer, position = 0): ControlRecordType | undefined {
  return readControlRecord(batches, position).type;
}
