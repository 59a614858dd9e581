// The idempotent producer table of a partition as of one offset, in a file beside the log
// (`producer-state.snapshot`, Kafka's `<offset>.snapshot`): on open the table is loaded from it and
// only the log from its offset on is scanned, instead of the last PRODUCER_STATE_SCAN_MAX_RECORDS.
// Written on clean shutdown (storage's writeFileAtomic: temp + fsync + rename); removed when the log is truncated
// below its offset. Format: `TRIBPS2 <crc32c of the JSON, hex>\n<JSON>`; a file that does not match is
// ignored (the caller falls back to the bounded scan) — never trusted half-read.
// Version 2 (transactions) adds to each entry its open transaction's first offset, the coordinator epoch
// of its last marker and its last batch's timestamp, and allows an entry with no batch in its sequence
// window (a producer known here only by a marker or coordinator-written offsets). Version 1 files still
// load: their entries have no transaction open.
import { crc32c } from '@node-rs/crc32';
import { BATCHES_PER_PRODUCER_MAX, NO_COORDINATOR_EPOCH, NO_TXN_OFFSET, PRODUCERS_PER_PARTITION_MAX, type ProducerBatch, type ProducerEntry } from './producer-state.js';

export const PRODUCER_STATE_SNAPSHOT_FILE = 'producer-state.snapshot';
const MAGIC = 'TRIBPS2';
const MAGIC_V1 = 'TRIBPS1';

export interface ProducerStateSnapshot {
  /** The table holds every batch below this offset (the log end offset when it was taken). */
  readonly offset: number;
  /** Least recently written first (the table's eviction order). */
  readonly producers: readonly ProducerEntry[];
}

export function encodeProducerSnapshot(snapshot: ProducerStateSnapshot): Buffer {
  const json = Buffer.from(JSON.stringify({ offset: snapshot.offset, producers: snapshot.producers }), 'utf8');
  return Buffer.concat([Buffer.from(`${MAGIC} ${(crc32c(json) >>> 0).toString(16)}\n`, 'latin1'), json]);
}

/** The snapshot in `bytes`, or undefined when they are not an intact one (torn, corrupt, another format). */
export function decodeProducerSnapshot(bytes: Buffer, producersMax = PRODUCERS_PER_PARTITION_MAX): ProducerStateSnapshot | undefined {
  const newline = bytes.indexOf(0x0a);
  if (newline < 0 || newline > 64) return undefined;
  const [magic, crcHex] = bytes.subarray(0, newline).toString('latin1').split(' ');
  const json = bytes.subarray(newline + 1);
  if ((magic !== MAGIC && magic !== MAGIC_V1) || crcHex === undefined || (crc32c(json) >>> 0).toString(16) !== crcHex) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch {
    return undefined;
  }
  const { offset, producers } = parsed as { offset?: unknown; producers?: unknown };
  if (!isOffset(offset) || !Array.isArray(producers) || producers.length > producersMax) return undefined;
  if (!producers.every((p) => isEntry(p, offset, magic === MAGIC ? 2 : 1))) return undefined;
  return { offset, producers: producers as ProducerEntry[] };
}

const isOffset = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function isEntry(value: unknown, below: number, version: 1 | 2): boolean {
  const e = value as Partial<ProducerEntry>;
  if (typeof e !== 'object' || e === null || !Number.isSafeInteger(e.producerId) || (e.producerId as number) < 0) return false;
  if (!Number.isInteger(e.producerEpoch) || !isOffset(e.lastOffset) || (e.lastOffset as number) >= below || !Array.isArray(e.batches)) return false;
  if (e.lastWriteMs !== undefined && !Number.isSafeInteger(e.lastWriteMs)) return false;
  if (version === 1) {
    if (e.coordinatorEpoch !== undefined || e.currentTxnFirstOffset !== undefined || e.lastTimestampMs !== undefined) return false;
  } else {
    if (e.lastTimestampMs !== undefined && !Number.isSafeInteger(e.lastTimestampMs)) return false;
    if (e.coordinatorEpoch !== undefined && (!Number.isInteger(e.coordinatorEpoch) || (e.coordinatorEpoch as number) < NO_COORDINATOR_EPOCH)) return false;
    const txn = e.currentTxnFirstOffset;
    // An open transaction starts at or before the producer's last write, inside the snapshot.
    if (txn !== undefined && txn !== NO_TXN_OFFSET && (!isOffset(txn) || txn > (e.lastOffset as number))) return false;
  }
  // Only a marker (coordinator epoch) or a coordinator-written transactional batch (open transaction)
  // records a producer without a sequence: an empty window needs one of them.
  const withoutSequence = (e.coordinatorEpoch ?? NO_COORDINATOR_EPOCH) >= 0 || (e.currentTxnFirstOffset ?? NO_TXN_OFFSET) !== NO_TXN_OFFSET;
  if ((e.batches.length === 0 && (version === 1 || !withoutSequence)) || e.batches.length > BATCHES_PER_PRODUCER_MAX) return false;
  return e.batches.every((b: ProducerBatch) => Number.isInteger(b.firstSequence) && Number.isInteger(b.lastSequence)
    && isOffset(b.firstOffset) && isOffset(b.lastOffset) && b.firstOffset <= b.lastOffset && b.lastOffset < below);
}
