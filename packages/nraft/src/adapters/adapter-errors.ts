// Errors raised by nraft's I/O adapters. Corruption the adapter cannot repair on its own is a typed,
// non-retriable error (an operator must look at the files); broken invariants go through the core's
// `invariant` (node:assert's AssertionError).

/**
 * Durable raft state that cannot be recovered automatically: a bad record in a sealed (non-tail)
 * segment, a gap between segments, a state or snapshot file with a bad checksum, or a log that ends
 * before the persisted commit index. Recovering would mean silently losing acknowledged entries.
 */
export class StorageCorruptionError extends Error {
  override readonly name = 'StorageCorruptionError';
  readonly code = 'RAFT_STORAGE_CORRUPT';
  readonly retriable = false;
  constructor(
    message: string,
    readonly path: string,
    /** Byte offset of the bad data inside `path`, or -1 when the whole file is bad. */
    readonly offset = -1,
    options?: { cause?: unknown },
  ) {
    super(`${message} (${path}${offset >= 0 ? ` @${offset}` : ''})`, options);
  }
}
