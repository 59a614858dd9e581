// The producer-state snapshot as a file in the partition's log directory (`producer-state.snapshot`),
// replaced with storage's writeFileAtomic (temp + fsync + rename + directory fsync).
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@tributary/storage';
import { PRODUCER_STATE_SNAPSHOT_FILE } from '../replication/producer-state-snapshot.js';
import type { ProducerStateStore } from '../replication/producer-state-store.js';

export class FileProducerStateStore implements ProducerStateStore {
  readonly location: string;

  /** `dir` is the partition's log directory; it must exist when write() is called. */
  constructor(dir: string) {
    this.location = join(dir, PRODUCER_STATE_SNAPSHOT_FILE);
  }

  async read(): Promise<Buffer | undefined> {
    try {
      return await readFile(this.location);
    } catch {
      return undefined; // none yet (first open, or removed by a truncation); an unreadable one is none too
    }
  }

  async write(bytes: Buffer): Promise<void> {
    await writeFileAtomic(this.location, bytes);
  }

  async remove(): Promise<void> {
    await rm(this.location, { force: true });
  }
}
