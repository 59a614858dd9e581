// MemoryStorage as a RaftDriverStorage, with an fsync's worth of delay in persist (so Readies overlap
// with network input), an event log, and an injectable disk failure.
import { MemoryStorage, type ConfState } from '@tributary/nraft';
import type { PersistableReady } from '@tributary/nraft/adapters';
import type { RaftDriverStorage } from '../../src/raft/raft-driver.js';

const VOTERS: ConfState = { voters: [1, 2, 3], learners: [] };

/** What happened, in order, across all nodes. */
export type StorageEvent = { node: number; what: 'persist-start' | 'persist-end' | 'send' | 'apply'; entries?: number };

export class SlowMemoryStorage extends MemoryStorage implements RaftDriverStorage {
  /** Set to make the next persist fail (a dead disk). */
  failNextPersist = false;

  constructor(private readonly node: number, private readonly events: StorageEvent[], confState: ConfState = VOTERS) {
    super({ confState });
  }

  async persist(rd: PersistableReady): Promise<void> {
    if (this.failNextPersist) throw new Error('disk on fire');
    this.events.push({ node: this.node, what: 'persist-start', entries: rd.entries.length });
    await new Promise((r) => setTimeout(r, 2)); // an fsync's worth of delay
    if (rd.snapshot !== undefined && rd.snapshot.metadata.index > 0) this.applySnapshot(rd.snapshot);
    this.append(rd.entries);
    if (rd.hardState !== undefined) this.setHardState(rd.hardState);
    this.events.push({ node: this.node, what: 'persist-end' });
  }

  async close(): Promise<void> {}
}
