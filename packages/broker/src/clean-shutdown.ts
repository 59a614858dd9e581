// The broker's clean-shutdown marker (KIP-966's problem, docs/replication.md "Unclean shutdown").
//
// `<dataDir>/.broker-clean-shutdown` exists only between a close() that flushed and closed every
// partition log and the next start. A start takes it away — durably, before this run can write
// anything — and tells the controller at registration whether it was there: a broker without it may
// have lost an unflushed tail holding acknowledged records, so it must not be elected as the last
// in-sync replica standing. A fresh data directory has no marker and counts as unclean too (nothing
// on it can be trusted to hold what the ISR had).
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';

export const CLEAN_SHUTDOWN_FILE = '.broker-clean-shutdown';

/** Whether the previous run ended cleanly. Removes the marker and fsyncs the directory. */
export async function takeCleanShutdownMarker(dataDir: string): Promise<boolean> {
  try {
    await unlink(join(dataDir, CLEAN_SHUTDOWN_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const dir = await open(dataDir, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return true;
}

/** Call only once every partition log is flushed and closed. */
export async function writeCleanShutdownMarker(dataDir: string): Promise<void> {
  await writeFileAtomic(join(dataDir, CLEAN_SHUTDOWN_FILE), `clean shutdown at ${new Date().toISOString()}\n`);
}
