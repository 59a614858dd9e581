// The leader-epoch cache: for each leader epoch that wrote to this log, the offset of its first batch.
// Pure (no I/O); PartitionLog persists it as `leader-epoch-checkpoint`. Used by replication to find
// where a follower's log diverges from the leader's (Kafka's OffsetsForLeaderEpoch).
import assert from 'node:assert/strict';

export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: number;
}

export interface EpochEndOffset {
  /** The largest known epoch ≤ the requested one; -1 when unknown. */
  readonly epoch: number;
  /** The first offset after that epoch's batches (exclusive end); -1 when unknown. */
  readonly endOffset: number;
}

export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1;
const CHECKPOINT_VERSION = 0;

export class LeaderEpochCache {
  private entries: EpochEntry[];

  constructor(entries: readonly EpochEntry[] = []) {
    for (let i = 1; i < entries.length; i++) {
      assert.ok(entries[i]!.epoch > entries[i - 1]!.epoch && entries[i]!.startOffset >= entries[i - 1]!.startOffset, 'epoch entries must increase');
    }
    this.entries = [...entries];
  }

  get latestEpoch(): number {
    return this.entries.at(-1)?.epoch ?? UNDEFINED_EPOCH;
  }

  list(): readonly EpochEntry[] {
    return [...this.entries];
  }

  /**
   * Records that `epoch` starts at `startOffset` when epoch is newer than the latest known one.
   * Returns whether the cache changed. An older or equal epoch is ignored: batches from earlier
   * epochs are replicated after the epoch that wrote them is already known.
   */
  assign(epoch: number, startOffset: number): boolean {
    if (epoch < 0 || epoch <= this.latestEpoch) return false;
    const last = this.entries.at(-1);
    assert.ok(last === undefined || startOffset >= last.startOffset, `epoch ${epoch} at ${startOffset} starts before epoch ${last?.epoch} at ${last?.startOffset}`);
    // Two epochs starting at one offset: the older one wrote nothing that survives.
    if (last !== undefined && last.startOffset === startOffset) this.entries.pop();
    this.entries.push({ epoch, startOffset });
    return true;
  }

  /** Removes epochs that start at or after `endOffset` (the log was truncated to endOffset). */
  truncateFromEnd(endOffset: number): boolean {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.startOffset < endOffset);
    return this.entries.length !== before;
  }

  /** The log now starts at `startOffset`: drop epochs wholly before it and move the one spanning it. */
  truncateFromStart(startOffset: number): boolean {
    let firstKept = 0;
    while (firstKept + 1 < this.entries.length && this.entries[firstKept + 1]!.startOffset <= startOffset) firstKept++;
    const first = this.entries[firstKept];
    if (first === undefined || (firstKept === 0 && first.startOffset >= startOffset)) return false;
    this.entries = [{ epoch: first.epoch, startOffset: Math.max(first.startOffset, startOffset) }, ...this.entries.slice(firstKept + 1)];
    return true;
  }

  clear(): void {
    this.entries = [];
  }

  /**
   * Kafka's endOffsetFor: for the latest epoch, the log end offset; for an older one, the largest known
   * epoch ≤ requested and the start offset of the next known epoch; for a requested epoch newer than
   * all known ones (or an empty cache), (-1, -1).
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): EpochEndOffset {
    const undefinedResult = { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    if (requestedEpoch === UNDEFINED_EPOCH) return undefinedResult;
    if (requestedEpoch === this.latestEpoch) return { epoch: requestedEpoch, endOffset: logEndOffset };
    const higherIndex = this.entries.findIndex((e) => e.epoch > requestedEpoch);
    if (higherIndex < 0) return undefinedResult;
    const higher = this.entries[higherIndex]!;
    const floor = higherIndex > 0 ? this.entries[higherIndex - 1]! : undefined;
    return { epoch: floor?.epoch ?? requestedEpoch, endOffset: higher.startOffset };
  }

  /** The checkpoint file text: version, count, then "epoch startOffset" per line. */
  serialize(): string {
    return [String(CHECKPOINT_VERSION), String(this.entries.length), ...this.entries.map((e) => `${e.epoch} ${e.startOffset}`)].join('\n') + '\n';
  }

  /** Parses checkpoint text; null when it is malformed. */
  static parse(text: string): LeaderEpochCache | null {
    const lines = text.split('\n').filter((l) => l.length > 0);
    if (lines[0] !== String(CHECKPOINT_VERSION)) return null;
    const count = Number(lines[1]);
    if (!Number.isSafeInteger(count) || count < 0 || lines.length !== count + 2) return null;
    const entries: EpochEntry[] = [];
    for (const line of lines.slice(2)) {
      const match = /^(\d+) (\d+)$/.exec(line);
      if (match === null) return null;
      const entry = { epoch: Number(match[1]), startOffset: Number(match[2]) };
      const last = entries.at(-1);
      if (last !== undefined && (entry.epoch <= last.epoch || entry.startOffset < last.startOffset)) return null;
      entries.push(entry);
    }
    return new LeaderEpochCache(entries);
  }
}
