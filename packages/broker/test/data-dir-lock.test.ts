// The data directory lock on its own: one winner among concurrent starters, stale records (dead pid,
// reused pid, zombie of this process) taken over, a live holder of another process refused.
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DATA_DIR_LOCK, DataDirLockedError, acquireDataDirLock, parseOwner, type DataDirLock } from '../src/data-dir-lock.js';
import { makeTempDir } from './helpers.js';

const STARTERS = 8;

async function ownStartTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

async function plantOwner(dir: string, fields: { pid: number; ticks: number | undefined }): Promise<void> {
  await mkdir(join(dir, DATA_DIR_LOCK));
  await writeFile(join(dir, DATA_DIR_LOCK, 'owner'), `pid=${fields.pid}\nprocess.start.ticks=${fields.ticks ?? ''}\ntoken=planted\nnode.id=7\nhostname=h\nacquired.at=t\n`);
}

describe('data directory lock', () => {
  it('lets exactly one of many concurrent starters win, and leaves nothing behind after release', async () => {
    const dir = await makeTempDir();
    try {
      const outcomes = await Promise.allSettled(Array.from({ length: STARTERS }, (_, i) => acquireDataDirLock({ dataDir: dir, nodeId: i })));
      const winners = outcomes.filter((o): o is PromiseFulfilledResult<DataDirLock> => o.status === 'fulfilled');
      expect(winners).toHaveLength(1);
      for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(DataDirLockedError);
      await winners[0]!.value.release();
      await winners[0]!.value.release(); // idempotent
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lets exactly one of many concurrent starters take over a stale lock', async () => {
    const dir = await makeTempDir();
    try {
      await plantOwner(dir, { pid: 2147483646, ticks: undefined });
      const outcomes = await Promise.allSettled(Array.from({ length: STARTERS }, (_, i) => acquireDataDirLock({ dataDir: dir, nodeId: i })));
      const winners = outcomes.filter((o): o is PromiseFulfilledResult<DataDirLock> => o.status === 'fulfilled');
      expect(winners).toHaveLength(1);
      for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(DataDirLockedError);
      const owner = parseOwner(await readFile(join(dir, DATA_DIR_LOCK, 'owner'), 'utf8'));
      expect(owner?.token).toBe(winners[0]!.value.owner.token);
      await winners[0]!.value.release();
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.runIf(process.platform === 'linux')('refuses a live holder in another process; takes over when that pid was reused', async () => {
    const dir = await makeTempDir();
    try {
      // The parent process (the test runner) is alive: with its real start time it holds the lock.
      await plantOwner(dir, { pid: process.ppid, ticks: await ownStartTicks(process.ppid) });
      const err = await acquireDataDirLock({ dataDir: dir, nodeId: 1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DataDirLockedError);
      expect((err as Error).message).toContain(`is in use by node 7 (pid ${process.ppid} on h`);
      expect(await readdir(dir)).toEqual([DATA_DIR_LOCK]);
      // The same pid with another start time: a process that reused the pid of a dead holder.
      await rm(join(dir, DATA_DIR_LOCK), { recursive: true });
      await plantOwner(dir, { pid: process.ppid, ticks: (await ownStartTicks(process.ppid)) + 1 });
      const taken: string[] = [];
      const lock = await acquireDataDirLock({ dataDir: dir, nodeId: 1, onStaleLock: (stale) => taken.push(stale?.token ?? '?') });
      expect(taken).toEqual(['planted']);
      await lock.release();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('takes over a lock without a readable record (a power loss before it reached the disk)', async () => {
    const dir = await makeTempDir();
    try {
      await mkdir(join(dir, DATA_DIR_LOCK));
      await writeFile(join(dir, DATA_DIR_LOCK, 'owner'), '');
      const lock = await acquireDataDirLock({ dataDir: dir, nodeId: 1 });
      expect(parseOwner(await readFile(join(dir, DATA_DIR_LOCK, 'owner'), 'utf8'))?.pid).toBe(process.pid);
      await lock.release();
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
