// Positional file I/O helpers and the two ways storage walks a .log file: a header-only walk (reads,
// lookups; trusts the bytes) and a validating walk (recovery; checks framing, magic, CRC, offsets).
import type { FileHandle } from 'node:fs/promises';
import { type BatchExtent, checkStoredBatch, EXTENT_HEADER_BYTES, LOG_OVERHEAD_BYTES, MIN_BATCH_LENGTH, readBatchExtent, BATCH_LENGTH_OFFSET } from './batch-header.js';

/** Reads [position, position + length), or fewer bytes at end of file. The buffer is the caller's. */
export async function preadFully(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buf : buf.subarray(0, done);
}

/** Writes every byte of `buffers` at `position` (one writev when the OS takes it all). */
export async function pwriteFully(handle: FileHandle, buffers: readonly Buffer[], position: number): Promise<void> {
  const total = buffers.reduce((n, b) => n + b.length, 0);
  let written = (await handle.writev(buffers as Buffer[], position)).bytesWritten;
  if (written === total) return;
  // Partial writev (rare on files): finish with plain writes of the rest.
  const rest = Buffer.concat(buffers as Buffer[]).subarray(written);
  let done = 0;
  while (done < rest.length) {
    const { bytesWritten } = await handle.write(rest, done, rest.length - done, position + written + done);
    done += bytesWritten;
  }
  written += done;
}

const HEADER_SCAN_CHUNK_BYTES = 16 * 1024;

/**
 * Walks batch headers in [from, end) without validating CRCs, calling `visit` for each; stops when visit
 * returns true (returns that extent) or at `end` (returns null). Throws if framing is broken: callers use
 * it only on bytes that recovery already accepted.
 */
export async function findExtent(
  handle: FileHandle,
  from: number,
  end: number,
  visit: (extent: BatchExtent) => boolean,
): Promise<BatchExtent | null> {
  let chunk: Buffer = Buffer.alloc(0);
  let chunkStart = from;
  let position = from;
  while (position < end) {
    let rel = position - chunkStart;
    if (chunk.length - rel < EXTENT_HEADER_BYTES) {
      chunk = await preadFully(handle, position, Math.min(HEADER_SCAN_CHUNK_BYTES, end - position));
      chunkStart = position;
      rel = 0;
    }
    const local = readBatchExtent(chunk, rel);
    if (local === null || local.sizeBytes < LOG_OVERHEAD_BYTES + MIN_BATCH_LENGTH || position + local.sizeBytes > end) {
      throw new Error(`broken batch framing at position ${position} (scan of [${from}, ${end}))`);
    }
    const extent = { ...local, position };
    if (visit(extent)) return extent;
    position += extent.sizeBytes;
  }
  return null;
}

const RECOVERY_CHUNK_BYTES = 1024 * 1024;

export interface ValidatedWalk {
  /** Bytes of whole valid batches from the start of the file. */
  readonly validBytes: number;
  /** Why the walk stopped before the end of the file; null when the whole file is valid. */
  readonly stopReason: string | null;
}

/**
 * Walks a whole .log file validating every batch (framing, magic, CRC, lastOffsetDelta, offsets,
 * leader epochs never decreasing); calls `visit` for each valid batch in order.
 *
 * Offsets: each batch must start exactly where the previous one ended (the first at `baseOffset`),
 * except that compaction (here, or on the leader a follower copied the range from) may have removed
 * whole batches below `compactedEndOffset` (the cleaner's checkpoint, written before any cleaned file is
 * swapped in and before a follower writes a batch after a gap): there a batch may start later, as long
 * as it starts at or below `compactedEndOffset`. So offsets always strictly increase, data at and above
 * the compacted end stays dense, and a corrupt baseOffset is still caught unless it lands inside the
 * compacted range.
 */
export async function validateLogFile(
  handle: FileHandle,
  fileBytes: number,
  baseOffset: number,
  visit: (extent: BatchExtent) => void,
  compactedEndOffset = 0,
): Promise<ValidatedWalk> {
  let chunk: Buffer = Buffer.alloc(0);
  let chunkStart = 0;
  let position = 0;
  let expectedOffset = baseOffset;
  let lastEpoch = -1;
  while (position < fileBytes) {
    let rel = position - chunkStart;
    if (chunk.length - rel < LOG_OVERHEAD_BYTES) {
      chunk = await preadFully(handle, position, Math.min(RECOVERY_CHUNK_BYTES, fileBytes - position));
      chunkStart = position;
      rel = 0;
      if (chunk.length < LOG_OVERHEAD_BYTES) return { validBytes: position, stopReason: 'torn header' };
    }
    const sizeBytes = LOG_OVERHEAD_BYTES + chunk.readInt32BE(rel + BATCH_LENGTH_OFFSET);
    if (sizeBytes > chunk.length - rel && sizeBytes <= fileBytes - position && sizeBytes > 0) {
      chunk = await preadFully(handle, position, Math.max(sizeBytes, Math.min(RECOVERY_CHUNK_BYTES, fileBytes - position)));
      chunkStart = position;
      rel = 0;
    }
    const problem = checkStoredBatch(chunk, rel, chunk.length);
    if (problem !== null) return { validBytes: position, stopReason: `${problem} at position ${position}` };
    const local = readBatchExtent(chunk, rel)!;
    if (local.baseOffset !== expectedOffset && !(local.baseOffset > expectedOffset && local.baseOffset <= compactedEndOffset)) {
      return { validBytes: position, stopReason: `baseOffset ${local.baseOffset} at position ${position}, expected ${expectedOffset}` };
    }
    if (local.partitionLeaderEpoch < lastEpoch) {
      return { validBytes: position, stopReason: `leader epoch ${local.partitionLeaderEpoch} at position ${position} below ${lastEpoch}` };
    }
    visit({ ...local, position });
    lastEpoch = local.partitionLeaderEpoch;
    expectedOffset = local.lastOffset + 1;
    position += local.sizeBytes;
  }
  return { validBytes: position, stopReason: null };
}
