import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CLEAN_SHUTDOWN_FILE, UNCLEAN_UNREPORTED_FILE, clearUncleanUnreported, takeCleanShutdownMarker, writeCleanShutdownMarker,
} from '../src/clean-shutdown.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function dataDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'trib-clean-'));
  dirs.push(d);
  return d;
}

describe('clean-shutdown marker', () => {
  it('a fresh data directory is unclean, and stays so until a registration reported it', async () => {
    const dir = await dataDir();
    expect(await takeCleanShutdownMarker(dir)).toBe(false);
    expect(await readdir(dir)).toEqual([UNCLEAN_UNREPORTED_FILE]);
    // Stopped cleanly before it ever registered: the next start is still unclean.
    await writeCleanShutdownMarker(dir);
    expect(await takeCleanShutdownMarker(dir)).toBe(false);
    await clearUncleanUnreported(dir); // the controller acknowledged "unclean"
    await writeCleanShutdownMarker(dir);
    expect(await takeCleanShutdownMarker(dir)).toBe(true);
    expect(await readdir(dir)).toEqual([]); // the marker is taken away at start
  });

  it('a crash (no marker) after clean runs is unclean; the marker is consumed by one start', async () => {
    const dir = await dataDir();
    await writeCleanShutdownMarker(dir);
    expect(await readdir(dir)).toEqual([CLEAN_SHUTDOWN_FILE]);
    expect(await takeCleanShutdownMarker(dir)).toBe(true);
    expect(await takeCleanShutdownMarker(dir)).toBe(false); // this run "crashed"
    await clearUncleanUnreported(dir);
    await clearUncleanUnreported(dir); // idempotent
  });
});
