// Small text files replaced atomically: write a temp file, fsync it, rename over the target, fsync the
// directory. A reader sees the old or the new content, never a mix, even after power loss.
// The broker's small files (meta.properties, partition.metadata, snapshots) use these too; nraft keeps
// its own pair (state-file.ts), since nraft depends on no package of ours.
import { open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';

/**
 * Replaces `file` with `content`. The directory must exist: creating it here could bring back a
 * directory that was deleted meanwhile. A crash leaves `<file>.tmp`, which the next write replaces.
 */
export async function writeFileAtomic(file: string, content: string | Uint8Array): Promise<void> {
  const temp = `${file}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  await fsyncDir(path.dirname(file));
}

/** fsync a directory so that creations, renames and unlinks inside it survive a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The file's text, or null when it does not exist. */
export async function readFileIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Checkpoint format for one offset: version line "0", then the offset. Null when absent or malformed. */
export function parseOffsetCheckpoint(text: string | null): number | null {
  if (text === null) return null;
  const match = /^0\n(\d+)\n$/.exec(text);
  if (match === null) return null;
  const value = Number(match[1]);
  return Number.isSafeInteger(value) ? value : null;
}

export function serializeOffsetCheckpoint(offset: number): string {
  return `0\n${offset}\n`;
}

/** The cleaner's progress in `cleaner-offset-checkpoint`: "0\n<firstDirtyOffset> <compactedEndOffset>\n". */
export interface CleanerCheckpoint {
  /** Offsets below it have been cleaned; the next pass starts here. */
  readonly firstDirtyOffset: number;
  /**
   * The highest end offset any pass has started swapping in, or the highest base offset of a batch a
   * follower append wrote after a gap (the leader's log was compacted): below it, batches may be missing
   * (offset gaps are legal); at and above it offsets are dense. Written before the first cleaned file is
   * swapped in (before the gapped batch is written), so recovery never mistakes a cleaned segment (a
   * copied compacted range) for a corrupt one.
   */
  readonly compactedEndOffset: number;
}

export const CLEANER_CHECKPOINT_FILE = 'cleaner-offset-checkpoint';

export function parseCleanerCheckpoint(text: string | null): CleanerCheckpoint | null {
  if (text === null) return null;
  const match = /^0\n(\d+) (\d+)\n$/.exec(text);
  if (match === null) return null;
  const firstDirtyOffset = Number(match[1]);
  const compactedEndOffset = Number(match[2]);
  if (!Number.isSafeInteger(firstDirtyOffset) || !Number.isSafeInteger(compactedEndOffset)) return null;
  return { firstDirtyOffset, compactedEndOffset };
}

export function serializeCleanerCheckpoint(checkpoint: CleanerCheckpoint): string {
  return `0\n${checkpoint.firstDirtyOffset} ${checkpoint.compactedEndOffset}\n`;
}
