// Where a partition keeps its producer-state snapshot (producer-state-snapshot.ts holds the format).
// The port the Partition owns; the file adapter (adapters/file-producer-state-store.ts) keeps it beside
// the log, the in-memory one serves tests and logs that keep no files.

export interface ProducerStateStore {
  /** Where the snapshot lives, for log lines. */
  readonly location: string;
  /** The snapshot's bytes, or undefined when there is none (first open, removed by a truncation, unreadable). */
  read(): Promise<Buffer | undefined>;
  /** Replaces the snapshot atomically: a later read sees the old bytes or these, never a mix. */
  write(bytes: Buffer): Promise<void>;
  /** Removes the snapshot; no-op when there is none. */
  remove(): Promise<void>;
}

/** Keeps the snapshot in memory (tests; a restart is modelled by handing the same store to a new Partition). */
export class InMemoryProducerStateStore implements ProducerStateStore {
  readonly location = 'memory';
  private bytes: Buffer | undefined;

  async read(): Promise<Buffer | undefined> {
    return this.bytes === undefined ? undefined : Buffer.from(this.bytes);
  }

  async write(bytes: Buffer): Promise<void> {
    this.bytes = Buffer.from(bytes);
  }

  async remove(): Promise<void> {
    this.bytes = undefined;
  }
}
