// Opening a partition directory (Kafka's LogLoader): clean up leftovers, read the checkpoints, load
// segments, recover the ones an unclean stop may have damaged, and reconcile the epoch cache, log start
// offset and high watermark with what survived. PartitionLog.open builds the live log from the result.
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { CLEANED_SUFFIX, DELETED_SUFFIX, SWAP_SUFFIX } from './cleaned-segment.js';
import {
  CLEANER_CHECKPOINT_FILE,
  type CleanerCheckpoint,
  fsyncDir,
  parseCleanerCheckpoint,
  parseOffsetCheckpoint,
  readFileIfExists,
} from './checkpoint-file.js';
import { LeaderEpochCache } from './leader-epoch-cache.js';
import type { LogConfig } from './log-config.js';
import { INDEX_SUFFIX, LOG_SUFFIX, LogSegment, segmentFileName, TIME_INDEX_SUFFIX } from './log-segment.js';
import type { Logger } from './logger.js';
import { TXN_INDEX_SUFFIX } from './txn-index.js';

export const LEADER_EPOCH_CHECKPOINT_FILE = 'leader-epoch-checkpoint';
/**
 * `epoch startOffset` of the leader epoch this replica was last assigned at its log end (empty: none).
 * Kept apart from the epoch checkpoint because recovery rebuilds that one from batches, and an
 * assigned epoch has none yet.
 */
export const LEADER_EPOCH_ASSIGNED_FILE = 'leader-epoch-assigned';

export function parseAssignedEpoch(text: string | null): { readonly epoch: number; readonly startOffset: number } | undefined {
  const m = /^(\d+) (\d+)\n$/.exec(text ?? '');
  if (m === null) return undefined;
  const epoch = Number(m[1]);
  const startOffset = Number(m[2]);
  return Number.isSafeInteger(epoch) && Number.isSafeInteger(startOffset) ? { epoch, startOffset } : undefined;
}
export const HIGH_WATERMARK_CHECKPOINT_FILE = 'high-watermark-checkpoint';
export const RECOVERY_POINT_CHECKPOINT_FILE = 'recovery-point-checkpoint';
export const LOG_START_OFFSET_CHECKPOINT_FILE = 'log-start-offset-checkpoint';
export const CLEAN_SHUTDOWN_FILE = '.clean-shutdown';

export interface LoadedLog {
  /** Open segments, oldest first; never empty. The caller owns their file handles. */
  readonly segments: LogSegment[];
  /** Agrees with the segments: no epoch starts at or beyond the log end offset. */
  readonly epochCache: LeaderEpochCache;
  readonly assignedEpoch: { readonly epoch: number; readonly startOffset: number } | undefined;
  readonly epochCacheChanged: boolean;
  readonly logStartOffset: number;
  /** The checkpointed high watermark clamped into [logStartOffset, logEndOffset]. */
  readonly highWatermark: number;
  readonly cleanShutdown: boolean;
  /** Some segment was validated batch by batch (its data is fsynced now). */
  readonly recovered: boolean;
  /**
   * Aborted-transaction entries for ABORT markers at offsets ≥ it may be missing from the txn indexes:
   * the recovery point after an unclean stop (entries above it were persisted only with the next
   * flush), or the base of the first segment whose `.txnindex` was unreadable or torn. null: the indexes hold every entry added
   * before the stop.
   */
  readonly txnIndexIncompleteFrom: number | null;
  /** The cleaner's checkpoint, clamped into [logStartOffset, logEndOffset] for firstDirtyOffset. */
  readonly cleaner: CleanerCheckpoint;
  /** Checkpoint values as found on disk (null when absent or malformed). */
  readonly checkpointed: { readonly recoveryPoint: number | null; readonly highWatermark: number | null; readonly logStartOffset: number | null };
}

export async function loadLog(opts: {
  readonly dir: string;
  readonly config: LogConfig;
  readonly logger: Logger;
  /** Overrides the recovery-point checkpoint. */
  readonly recoveryPoint?: number;
}): Promise<LoadedLog> {
  const { dir, config, logger } = opts;
  await mkdir(dir, { recursive: true });
  await finishCleanerSwaps(dir, await readdir(dir), logger);
  const names = await readdir(dir);
  const bases = await removeLeftovers(dir, names);
  const cleanShutdown = names.includes(CLEAN_SHUTDOWN_FILE);
  const checkpointed = {
    recoveryPoint: parseOffsetCheckpoint(await readFileIfExists(path.join(dir, RECOVERY_POINT_CHECKPOINT_FILE))),
    highWatermark: parseOffsetCheckpoint(await readFileIfExists(path.join(dir, HIGH_WATERMARK_CHECKPOINT_FILE))),
    logStartOffset: parseOffsetCheckpoint(await readFileIfExists(path.join(dir, LOG_START_OFFSET_CHECKPOINT_FILE))),
  };
  const recoveryPoint = opts.recoveryPoint ?? checkpointed.recoveryPoint ?? 0;
  const cleanerText = await readFileIfExists(path.join(dir, CLEANER_CHECKPOINT_FILE));
  const cleanerCheckpoint = parseCleanerCheckpoint(cleanerText);
  if (cleanerText !== null && cleanerCheckpoint === null) logger.warn({ dir }, 'cleaner-offset-checkpoint is malformed; offsets must be dense everywhere');
  const compactedEndOffset = cleanerCheckpoint?.compactedEndOffset ?? 0;
  const epochText = await readFileIfExists(path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE));
  let epochCache = epochText === null ? new LeaderEpochCache() : LeaderEpochCache.parse(epochText);
  if (epochCache === null) {
    logger.warn({ dir }, 'leader-epoch-checkpoint is malformed; starting with an empty epoch cache');
    epochCache = new LeaderEpochCache();
  }

  const assignedEpoch = parseAssignedEpoch(await readFileIfExists(path.join(dir, LEADER_EPOCH_ASSIGNED_FILE)));
  const segments: LogSegment[] = [];
  let txnIndexIncompleteFrom: number | null = null;
  try {
    let recovered = false;
    for (let i = 0; i < bases.length; i++) {
      const baseOffset = bases[i]!;
      const nextBase = bases[i + 1];
      const previous = segments.at(-1);
      // Segments continue each other exactly, except where compaction emptied the tail of the previous one.
      const continues = previous === undefined || previous.nextOffset === baseOffset || (previous.nextOffset < baseOffset && baseOffset <= compactedEndOffset);
      if (!continues) {
        logger.warn({ dir, baseOffset, expected: previous!.nextOffset }, 'segment does not continue the log; deleting it and every later segment');
        await deleteSegmentFiles(dir, bases.slice(i));
        break;
      }
      // A segment needs recovery when it may hold offsets at or above the recovery point.
      const recover = !cleanShutdown && (nextBase === undefined || nextBase > recoveryPoint);
      const epochs = epochCache;
      // Epochs starting inside a recovered segment are rebuilt from its batches, so the cache agrees
      // with what survived (the checkpoint may be ahead of or behind the log after a crash).
      if (recover) epochs.truncateFromEnd(baseOffset);
      const loaded = await LogSegment.load({
        dir,
        baseOffset,
        config,
        recover,
        logger,
        onBatch: (extent) => void epochs.assign(extent.partitionLeaderEpoch, extent.baseOffset),
        compactedEndOffset,
      });
      recovered ||= recover;
      // Entries with markers below the recovery point were persisted with the flush that moved it there
      // (PartitionLog.flushSegments / roll); later ones may be lost. An unreadable file loses the segment's.
      const incompleteFrom = loaded.txnIndexLost !== null ? baseOffset : recover ? Math.max(baseOffset, recoveryPoint) : null;
      if (incompleteFrom !== null) txnIndexIncompleteFrom = Math.min(txnIndexIncompleteFrom ?? incompleteFrom, incompleteFrom);
      segments.push(loaded.segment);
      if (loaded.truncatedReason !== null && i + 1 < bases.length) {
        logger.warn({ dir, baseOffset }, 'deleting segments after a corrupt batch');
        await deleteSegmentFiles(dir, bases.slice(i + 1));
        break;
      }
    }
    if (segments.length === 0) segments.push(await LogSegment.create(dir, checkpointed.logStartOffset ?? 0, config));
    const logEndOffset = segments.at(-1)!.nextOffset;
    const logStartOffset = Math.min(Math.max(segments[0]!.baseOffset, checkpointed.logStartOffset ?? 0), logEndOffset);
    let epochCacheChanged = epochCache.truncateFromEnd(logEndOffset);
    // A leader epoch assigned at the log end with no records yet (recovery rebuilt the cache without
    // it) still holds when the log ends where it started; a lost tail takes it along.
    if (assignedEpoch !== undefined && assignedEpoch.startOffset === logEndOffset && assignedEpoch.epoch > epochCache.latestEpoch) {
      epochCacheChanged = epochCache.assign(assignedEpoch.epoch, assignedEpoch.startOffset) || epochCacheChanged;
    }
    epochCacheChanged = epochCache.truncateFromStart(logStartOffset) || epochCacheChanged;
    if (recovered) {
      // Make the recovered state (including any truncation) durable before trusting it as flushed.
      for (const segment of segments) await segment.fsync();
      await fsyncDir(dir);
    }
    const highWatermark = Math.min(Math.max(checkpointed.highWatermark ?? logStartOffset, logStartOffset), logEndOffset);
    const cleaner: CleanerCheckpoint = {
      firstDirtyOffset: Math.min(Math.max(cleanerCheckpoint?.firstDirtyOffset ?? logStartOffset, logStartOffset), logEndOffset),
      compactedEndOffset,
    };
    return { segments, epochCache, epochCacheChanged, assignedEpoch, logStartOffset, highWatermark, cleanShutdown, recovered, cleaner, checkpointed, txnIndexIncompleteFrom };
  } catch (err) {
    for (const segment of segments) await segment.close().catch(() => undefined);
    throw err;
  }
}

/**
 * Finishes or rolls back the cleaner's swap protocol (log-cleaner.ts) after a crash. A `<base>.log.swap`
 * means that segment's cleaned files were complete and fsynced when they were committed: its `.swap`
 * files replace the segment's files (roll forward). Without it, `.swap` index files belong to a commit
 * that never happened, and `.cleaned` files to an unfinished rewrite: both are deleted (roll back), as
 * are `.deleted` files. Either way each segment is wholly old or wholly cleaned, and commits go oldest
 * segment first, so the log reads as some prefix of the pass applied: the same last value per key.
 */
async function finishCleanerSwaps(dir: string, names: readonly string[], logger: Logger): Promise<void> {
  const committed = new Set(names.filter((n) => /^\d{20}\.log\.swap$/.test(n)).map((n) => n.slice(0, 20)));
  let changed = false;
  for (const base of [...committed].sort()) {
    for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX]) {
      const swap = `${base}${suffix}${SWAP_SUFFIX}`;
      if (names.includes(swap)) await rename(path.join(dir, swap), path.join(dir, `${base}${suffix}`));
    }
    logger.info({ dir, baseOffset: Number(base) }, 'completed an interrupted segment swap');
    changed = true;
  }
  for (const name of names) {
    const stale = name.endsWith(CLEANED_SUFFIX) || name.endsWith(DELETED_SUFFIX) || (name.endsWith(SWAP_SUFFIX) && !committed.has(name.slice(0, 20)));
    if (!stale) continue;
    await rm(path.join(dir, name), { force: true });
    changed = true;
  }
  if (changed) await fsyncDir(dir);
}

/** Deletes temp files and index files without a log; returns the segments' base offsets, ascending. */
async function removeLeftovers(dir: string, names: readonly string[]): Promise<number[]> {
  for (const name of names.filter((n) => n.endsWith('.tmp'))) await rm(path.join(dir, name), { force: true });
  const bases = names
    .filter((n) => /^\d{20}\.log$/.test(n))
    .map((n) => Number(n.slice(0, 20)))
    .sort((a, b) => a - b);
  const live = new Set(bases);
  for (const name of names) {
    const match = /^(\d{20})\.(index|timeindex|txnindex)$/.exec(name);
    if (match !== null && !live.has(Number(match[1]))) await rm(path.join(dir, name), { force: true });
  }
  return bases;
}

async function deleteSegmentFiles(dir: string, bases: readonly number[]): Promise<void> {
  for (const base of bases) {
    for (const suffix of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX]) await rm(path.join(dir, segmentFileName(base, suffix)), { force: true });
  }
}
