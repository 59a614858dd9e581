// Whether this broker may have lost an unflushed tail since the controller last heard about it
// (KIP-966's problem, docs/replication.md "Unclean shutdown").
//
// `<dataDir>/.broker-clean-shutdown` exists only between a close() that flushed and closed every
// partition log and the next start, which takes it away durably before this run can write anything.
// A start without it (a crash, or a fresh data directory: nothing on it can be trusted to hold what
// the ISR had) leaves `<dataDir>/.broker-unclean-unreported`, which only a registration that told the
// controller "unclean" removes: a run that crashes again, or even stops cleanly, before registering
// must not make the next start look clean — its logs are still the ones that lost a tail.
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, writeFileAtomic } from '@tributary/storage';

export const CLEAN_SHUTDOWN_FILE = '.broker-clean-shutdown';
export const UNCLEAN_UNREPORTED_FILE = '.broker-unclean-unreported';

async function exists(path: string): Promise<boolean> {
  try {
    await (await open(path, 'r')).close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * At start, before any log opens: true when the previous run ended in a clean shutdown and no unclean
 * start is still unreported. Takes the marker away; an unclean start leaves the unreported flag.
 */
export async function takeCleanShutdownMarker(dataDir: string): Promise<boolean> {
  let marker = true;
  try {
    await unlink(join(dataDir, CLEAN_SHUTDOWN_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    marker = false;
  }
  const unreported = join(dataDir, UNCLEAN_UNREPORTED_FILE);
  if (!marker && !(await exists(unreported))) {
    const handle = await open(unreported, 'w');
    try {
      await handle.writeFile(`unclean start at ${new Date().toISOString()}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
  await fsyncDir(dataDir);
  return marker && !(await exists(unreported));
}

/** The controller has acknowledged a registration that said "unclean": the flag's job is done. */
export async function clearUncleanUnreported(dataDir: string): Promise<void> {
  try {
    await unlink(join(dataDir, UNCLEAN_UNREPORTED_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  await fsyncDir(dataDir);
}

/** Call only once every partition log is flushed and closed. */
export async function writeCleanShutdownMarker(dataDir: string): Promise<void> {
  await writeFileAtomic(join(dataDir, CLEAN_SHUTDOWN_FILE), `clean shutdown at ${new Date().toISOString()}\n`);
}
