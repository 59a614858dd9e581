// Failures of the metadata state machine. Both are assertion-class: a controller never writes a record
// that breaks an invariant and the log never holds garbage, so either one means a bug or corruption,
// and the node must stop rather than build a wrong image (STYLE.md §6).

/** A record that cannot apply to the image (unknown id, epoch going back, leader outside the ISR...). */
export class MetadataInvariantError extends Error {
  override readonly name = 'MetadataInvariantError';
  readonly code = 'METADATA_INVARIANT';
  readonly retriable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Bytes that are not a well-formed MetadataBatch / MetadataSnapshot. */
export class MetadataDecodeError extends Error {
  override readonly name = 'MetadataDecodeError';
  readonly code = 'METADATA_DECODE';
  readonly retriable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Throws MetadataInvariantError unless `condition` holds. */
export function invariant(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new MetadataInvariantError(message());
}
