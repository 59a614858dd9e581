// Disk faults for chaos nodes: a full disk (a small tmpfs per node, filled up by a ballast file) and
// a power-loss approximation (truncate the unflushed tail of a SIGKILLed node's log files).
//
// Full disk needs a mount, so root (`mount -t tmpfs -o size=N tmpfs DIR`); without root the fault
// is skipped with the reason `diskFullUnsupportedReason()` gives. No loop devices, no other mounts.
//
// Power loss cannot be measured from outside: which bytes a node had fsynced is known only inside
// it. The approximation truncates every partition segment file (`*.log`) by a random length within
// its last `tailBytesMax` bytes — what a page cache not yet written back could lose: partition data
// is not fsynced by default (as in Kafka, replication is the durability), so losing it on one node
// is within the model and must be masked by the other replicas. Raft segment files (`*.seg`) are left
// alone: nraft fsyncs every entry before any message that depends on it is sent, so their unsynced
// tail is at most the Ready in flight (nraft's own every-byte torn-tail tests cover that); cutting
// fsynced entries would break Raft's storage contract, not test it (a node refuses to start when its
// log ends before its persisted commit index, as it should).
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, statSync, truncateSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { SeededRandom } from './seeded-random.js';

export const DEFAULT_TMPFS_BYTES = 256 * 1024 * 1024;
export const DEFAULT_POWER_LOSS_TAIL_BYTES_MAX = 64 * 1024;
const BALLAST_FILE = 'chaos-ballast';
const BALLAST_CHUNK_BYTES = 1024 * 1024;

/** Why full-disk faults cannot run here, or undefined when they can. */
export function diskFullUnsupportedReason(): string | undefined {
  if (process.platform !== 'linux') return 'disk-full needs Linux tmpfs';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'disk-full needs root to mount a tmpfs (run as root)';
  return undefined;
}

/** Mounts a tmpfs of `sizeBytes` at `dir` (created if missing). Root only. */
export function mountTmpfs(dir: string, sizeBytes = DEFAULT_TMPFS_BYTES): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], { stdio: 'pipe' });
}

export function unmountTmpfs(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    // Busy (a process still holds a file) or already gone: lazy unmount as a last resort.
    try { execFileSync('umount', ['-l', dir], { stdio: 'pipe' }); } catch { /* not mounted */ }
  }
}

/** Fills the file system holding `dir` until writes fail with ENOSPC; returns the ballast size. */
export function fillDisk(dir: string): number {
  const fd = openSync(join(dir, BALLAST_FILE), 'a');
  const chunk = Buffer.alloc(BALLAST_CHUNK_BYTES);
  let written = 0;
  try {
    for (;;) {
      try {
        written += writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw error;
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

export function freeDisk(dir: string): void {
  try { unlinkSync(join(dir, BALLAST_FILE)); } catch { /* not filled */ }
}

export interface TruncatedFile {
  readonly file: string;
  readonly bytesBefore: number;
  readonly bytesCut: number;
}

/**
 * The power-loss approximation on a stopped node's data directory (see the file comment). The node
 * must not be running. Returns what was cut, for the history.
 */
export function simulatePowerLoss(dataDir: string, random: SeededRandom, tailBytesMax = DEFAULT_POWER_LOSS_TAIL_BYTES_MAX): TruncatedFile[] {
  const cut: TruncatedFile[] = [];
  for (const file of listFiles(dataDir)) {
    if (!file.endsWith('.log')) continue;
    const bytesBefore = statSync(file).size;
    if (bytesBefore === 0) continue;
    const bytesCut = random.int(0, Math.min(bytesBefore, tailBytesMax) + 1);
    if (bytesCut === 0) continue;
    truncateSync(file, bytesBefore - bytesCut);
    cut.push({ file, bytesBefore, bytesCut });
  }
  return cut;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(path));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}
