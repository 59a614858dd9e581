// The idempotent producer table of a partition as of one offset, in a file beside the log
// (`producer-state.snapshot`, Kafka's `<offset>.snapshot`): on open the table is loaded from it and
// only the log from its offset on is scanned, instead of the last PRODUCER_STATE_SCAN_MAX_RECORDS.
// Written on clean shutdown (storage's writeFileAtomic: temp + fsync + rename); removed when the log is truncated
// below its offset. Format: `TRIBPS1 <crc32c of the JSON, hex>\n<JSON>`; a file that does not match is
// ignored (the caller falls back to the bounded scan) — never trusted half-read.
import { crc32c } from '@node-rs/crc32';
import { BATCHES_PER_PRODUCER_MAX, PRODUCERS_PER_PARTITION_MAX, type ProducerBatch, type ProducerEntry } from './producer-state.js';

export const PRODUCER_STATE_SNAPSHOT_FILE = 'producer-state.snapshot';
const MAGIC = 'TRIBPS1';

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
  if (magic !== MAGIC || crcHex === undefined || (crc32c(json) >>> 0).toString(16) !== crcHex) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch {
    return undefined;
  }
  const { offset, producers } = parsed as { offset?: unknown; producers?: unknown };
  if (!isOffset(offset) || !Array.isArray(producers) || producers.length > producersMax) return undefined;
  if (!producers.every((p) => isEntry(p, offset))) return undefined;
  return { offset, producers: producers as ProducerEntry[] };
}

const isOffset = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function isEntry(value: unknown, below: number): boolean {
  const e = value as Partial<ProducerEntry>;
  if (typeof e !== 'object' || e === null || !Number.isSafeInteger(e.producerId) || (e.producerId as number) < 0) return false;
  if (!Number.isInteger(e.producerEpoch) || !isOffset(e.lastOffset) || !Array.isArray(e.batches)) return false;
  if (e.lastWriteMs !== undefined && !Number.isSafeInteger(e.lastWriteMs)) return false;
  if (e.batches.length === 0 || e.batches.length > BATCHES_PER_PRODUCER_MAX) return false;
  return e.batches.every((b: ProducerBatch) => Number.isInteger(b.firstSequence) && Number.isInteger(b.lastSequence)
    && isOffset(b.firstOffset) && isOffset(b.lastOffset) && b.firstOffset <= b.lastOffset && b.lastOffset < below);
}
