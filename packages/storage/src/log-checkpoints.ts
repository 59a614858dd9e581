// The checkpoint files of one log directory (names and formats in log-loader.ts and checkpoint-file.ts):
// each write is atomic (writeFileAtomic), writes of one file run one after another so two never share
// its temp file, and a file is not rewritten with the content it already holds. The log decides what
// to write and when; this only writes. Not on the writer queue: callers order their own writes.
import path from 'node:path';
import {
  CLEANER_CHECKPOINT_FILE,
  type CleanerCheckpoint,
  serializeCleanerCheckpoint,
  serializeOffsetCheckpoint,
  writeFileAtomic,
} from './checkpoint-file.js';
import {
  HIGH_WATERMARK_CHECKPOINT_FILE,
  LEADER_EPOCH_ASSIGNED_FILE,
  LEADER_EPOCH_CHECKPOINT_FILE,
  LOG_START_OFFSET_CHECKPOINT_FILE,
  RECOVERY_POINT_CHECKPOINT_FILE,
} from './log-loader.js';

export class LogCheckpoints {
  /** The write in flight (or last done) per file: the next write of that file waits for it. */
  private readonly chains = new Map<string, Promise<void>>();
  /** Last content written (or found at open) per file, to skip rewriting an unchanged one. */
  private readonly contents = new Map<string, string>();

  constructor(private readonly dir: string) {}

  /** What open() found on disk: a later write of the same value is skipped. */
  loaded(found: { readonly highWatermark: number | null; readonly recoveryPoint: number | null }): void {
    if (found.highWatermark !== null) this.contents.set(HIGH_WATERMARK_CHECKPOINT_FILE, serializeOffsetCheckpoint(found.highWatermark));
    if (found.recoveryPoint !== null) this.contents.set(RECOVERY_POINT_CHECKPOINT_FILE, serializeOffsetCheckpoint(found.recoveryPoint));
  }

  highWatermark(offset: number): Promise<void> {
    return this.write(HIGH_WATERMARK_CHECKPOINT_FILE, serializeOffsetCheckpoint(offset));
  }

  recoveryPoint(offset: number): Promise<void> {
    return this.write(RECOVERY_POINT_CHECKPOINT_FILE, serializeOffsetCheckpoint(offset));
  }

  logStartOffset(offset: number): Promise<void> {
    return this.write(LOG_START_OFFSET_CHECKPOINT_FILE, serializeOffsetCheckpoint(offset));
  }

  /** The leader epoch cache, serialized by LeaderEpochCache.serialize(). */
  leaderEpochs(serialized: string): Promise<void> {
    return this.write(LEADER_EPOCH_CHECKPOINT_FILE, serialized);
  }

  /** The epoch this replica leads from `startOffset` on, before it has records (PartitionLog.assignLeaderEpoch). */
  assignedEpoch(leaderEpoch: number, startOffset: number): Promise<void> {
    return this.write(LEADER_EPOCH_ASSIGNED_FILE, `${leaderEpoch} ${startOffset}\n`);
  }

  /** Truncation undoes any assigned epoch at the end (a reload must not bring it back). */
  clearAssignedEpoch(): Promise<void> {
    return this.write(LEADER_EPOCH_ASSIGNED_FILE, '');
  }

  cleaner(checkpoint: CleanerCheckpoint): Promise<void> {
    return this.write(CLEANER_CHECKPOINT_FILE, serializeCleanerCheckpoint(checkpoint));
  }

  /** Atomic write, serialized per file; a failed write forgets the content so the next one retries. */
  private write(name: string, content: string): Promise<void> {
    if (this.contents.get(name) === content) return this.chains.get(name) ?? Promise.resolve();
    this.contents.set(name, content);
    const previous = this.chains.get(name) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => writeFileAtomic(path.join(this.dir, name), content));
    next.catch(() => this.contents.delete(name));
    this.chains.set(name, next);
    return next;
  }
}
