// The data directory lock on its own: one winner among concurrent starters, the same directory reached
// through another path, a holder in another process refused until it is SIGKILLed (the kernel frees
// the lock with the process), and a record left behind that blocks nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DATA_DIR_LOCK, DataDirLockedError, acquireDataDirLock, parseOwner, type DataDirLock } from '../src/data-dir-lock.js';
import { makeTempDir } from './helpers.js';

const STARTERS = 8;
/** The built module, for a holder in another process (tests import the source; a child runs plain node). */
const BUILT_LOCK_MODULE = fileURLToPath(new URL('../dist/data-dir-lock.js', import.meta.url));

async function winnerOf(outcomes: PromiseSettledResult<DataDirLock>[]): Promise<DataDirLock> {
  const winners = outcomes.filter((o): o is PromiseFulfilledResult<DataDirLock> => o.status === 'fulfilled');
  expect(winners).toHaveLength(1);
  for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(DataDirLockedError);
  return winners[0]!.value;
}

/** A child process that takes the lock on `dir` and holds it until killed. */
async function holderProcess(dir: string): Promise<ChildProcess> {
  const script = `const m = await import(${JSON.stringify(pathToFileURL(BUILT_LOCK_MODULE).href)});
    await m.acquireDataDirLock({ dataDir: ${JSON.stringify(dir)}, nodeId: 42 });
    process.stdout.write('held\\n'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error('the holder process did not take the lock within 20 s')), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('held')) { clearTimeout(deadline); resolve(); }
    });
    child.once('exit', (code) => { clearTimeout(deadline); reject(new Error(`the holder process exited with ${code}`)); });
  });
  return child;
}

describe('data directory lock', () => {
  it('lets exactly one of many concurrent starters win, again after each release, and leaves nothing behind', async () => {
    const dir = await makeTempDir();
    try {
      for (let round = 0; round < 3; round++) {
        const lock = await winnerOf(await Promise.allSettled(Array.from({ length: STARTERS }, (_, i) => acquireDataDirLock({ dataDir: dir, nodeId: i }))));
        expect(parseOwner(await readFile(join(dir, DATA_DIR_LOCK), 'utf8'))?.token).toBe(lock.owner.token);
        await lock.release();
        await lock.release(); // idempotent
        expect(await readdir(dir)).toEqual([]);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses the same directory reached through a symlink', async () => {
    const dir = await makeTempDir();
    const link = `${dir}-link`;
    try {
      await symlink(dir, link);
      const lock = await acquireDataDirLock({ dataDir: dir, nodeId: 1 });
      await expect(acquireDataDirLock({ dataDir: link, nodeId: 2 })).rejects.toBeInstanceOf(DataDirLockedError);
      await lock.release();
      await (await acquireDataDirLock({ dataDir: link, nodeId: 2 })).release();
    } finally {
      await rm(link, { force: true });
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a live holder in another process, naming it; a SIGKILL frees the lock with no one cleaning up', async () => {
    const dir = await makeTempDir();
    let child: ChildProcess | undefined;
    try {
      child = await holderProcess(dir);
      const err = await acquireDataDirLock({ dataDir: dir, nodeId: 1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DataDirLockedError);
      expect((err as Error).message).toContain(`is in use by node 42 (pid ${child.pid} on `);
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      expect(await readdir(dir)).toEqual([DATA_DIR_LOCK]); // the crash left its record behind
      const lock = await acquireDataDirLock({ dataDir: dir, nodeId: 1 });
      expect(parseOwner(await readFile(join(dir, DATA_DIR_LOCK), 'utf8'))?.pid).toBe(process.pid);
      await lock.release();
    } finally {
      child?.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is not blocked by a record without a holder, readable or not (a crash, a power loss)', async () => {
    const dir = await makeTempDir();
    try {
      for (const leftover of ['', 'pid=1\ntoken=old\nnode.id=7\n', '\u0000\u0000garbage']) {
        await writeFile(join(dir, DATA_DIR_LOCK), leftover);
        const lock = await acquireDataDirLock({ dataDir: dir, nodeId: 1 });
        expect(parseOwner(await readFile(join(dir, DATA_DIR_LOCK), 'utf8'))?.token).toBe(lock.owner.token);
        await lock.release();
        expect(await readdir(dir)).toEqual([]);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
