// The data directory lock (Kafka's `<log.dir>/.lock`): one node at a time owns a data directory. A
// second node on the same directory — another process, or another node in this process — is refused
// before it reads or writes anything; a node that crashed (SIGKILL, power loss) leaves a lock that the
// next start recognises as stale and takes over, with no operator action.
//
// Node has no flock(2) in its standard library, so the lock is a directory `<data.dir>/.lock` holding
// an `owner` file: the holder's pid, its process start time (Linux /proc/<pid>/stat field 22, so a pid
// reused by an unrelated process is told apart) and a random token. The holder keeps the owner file
// open for as long as it holds the lock; that open descriptor is how a node in the same process is
// told apart from a stale record left by a node of this process that is gone (the pid alone cannot).
//
// Acquiring and taking over are single renames, so two starters cannot both win:
//   acquire:  mkdir `.lock.acquiring.<token>`, write `owner`, rename it to `.lock`. rename(2) onto a
//             non-empty directory fails, so exactly one of several starters gets `.lock`.
//   takeover: a stale `.lock` (holder dead) is renamed to `.lock.stale.<holder token>`, checked to be
//             the very record judged stale (if a live lock replaced it meanwhile, it is put back), then
//             removed; the starter then tries to acquire again.
// Limits: the lock works between processes that see each other's pids (one host, one pid namespace):
// a data directory shared by two containers or two hosts is not protected. Without /proc (not Linux)
// pid reuse is not detected and a record naming this process's own pid is taken as held.
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, readdir, readlink, realpath, rename, rm, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const DATA_DIR_LOCK = '.lock';
const OWNER_FILE = 'owner';
/** A takeover that keeps losing races (starters in a tight loop) gives up after this many rounds. */
export const DATA_DIR_LOCK_ATTEMPTS_MAX = 8;

/** What the lock's owner file says about its holder. */
export interface DataDirLockOwner {
  readonly pid: number;
  /** Process start time in clock ticks since boot (Linux), absent elsewhere. */
  readonly processStartTicks: number | undefined;
  readonly token: string;
  readonly nodeId: number;
  readonly hostname: string;
  readonly acquiredAt: string;
}

/** The data directory is held by a live node. */
export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
  constructor(readonly dataDir: string, readonly holder: DataDirLockOwner) {
    super(
      `data directory ${dataDir} is in use by node ${holder.nodeId} (pid ${holder.pid} on ${holder.hostname}, ` +
      `since ${holder.acquiredAt}): lock ${join(dataDir, DATA_DIR_LOCK)}. Stop that node first, or give this node ` +
      'another --data-dir; two nodes on one directory would overwrite each other\'s logs',
    );
  }
}

export interface DataDirLock {
  readonly path: string;
  readonly owner: DataDirLockOwner;
  /** Removes the lock (if it is still this holder's) and closes its descriptor. Idempotent. */
  release(): Promise<void>;
}

export interface AcquireDataDirLockOptions {
  readonly dataDir: string;
  readonly nodeId: number;
  /** Told when a stale lock is taken over. */
  readonly onStaleLock?: (stale: DataDirLockOwner | undefined) => void;
  readonly nowMs?: () => number;
}

/** Takes the data directory lock or throws DataDirLockedError naming the live holder. */
export async function acquireDataDirLock(options: AcquireDataDirLockOptions): Promise<DataDirLock> {
  await mkdir(options.dataDir, { recursive: true });
  const dataDir = await realpath(options.dataDir);
  const lockPath = join(dataDir, DATA_DIR_LOCK);
  const token = randomUUID().replaceAll('-', '');
  const owner: DataDirLockOwner = {
    pid: process.pid, processStartTicks: await processStartTicks(process.pid), token, nodeId: options.nodeId,
    hostname: hostname(), acquiredAt: new Date((options.nowMs ?? Date.now)()).toISOString(),
  };
  const staging = join(dataDir, `${DATA_DIR_LOCK}.acquiring.${token}`);
  await mkdir(staging);
  let handle: FileHandle | undefined;
  try {
    // Opened before the rename: the descriptor follows the file, so this process is seen holding the
    // lock from the instant `.lock` exists.
    handle = await open(join(staging, OWNER_FILE), 'wx');
    await handle.writeFile(formatOwner(owner));
    await handle.sync();
    for (let attempt = 0; attempt < DATA_DIR_LOCK_ATTEMPTS_MAX; attempt++) {
      try {
        await rename(staging, lockPath);
        await removeLeftovers(dataDir);
        return lockHandle(lockPath, owner, handle);
      } catch (err) {
        if (!isDirectoryTaken(err)) throw err;
      }
      const holder = await readOwner(lockPath);
      if (holder === 'missing') continue; // released or taken over between our rename and this read
      if (holder !== 'unreadable' && await isHolderAlive(holder, lockPath)) throw new DataDirLockedError(dataDir, holder);
      if (await takeOver(dataDir, lockPath, holder)) options.onStaleLock?.(holder === 'unreadable' ? undefined : holder);
    }
    throw new Error(`could not take the lock ${lockPath} in ${DATA_DIR_LOCK_ATTEMPTS_MAX} attempts: other nodes keep starting on ${dataDir}`);
  } catch (err) {
    await handle?.close();
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
}

function lockHandle(path: string, owner: DataDirLockOwner, handle: FileHandle): DataDirLock {
  let releasing: Promise<void> | undefined;
  return {
    path, owner,
    release: () => {
      releasing ??= (async () => {
        try {
          const current = await readOwner(path);
          // Moved away first, the descriptor closed after: until then no starter of this process can
          // judge the lock stale and take it over, so the directory removed is certainly ours.
          if (typeof current === 'object' && current.token === owner.token) {
            const released = `${path}.released.${owner.token}`;
            await rename(path, released);
            await rm(released, { recursive: true, force: true });
          }
        } finally {
          await handle.close();
        }
      })();
      return releasing;
    },
  };
}

/** Moves a stale lock aside and removes it; false when another starter changed it first. */
async function takeOver(dataDir: string, lockPath: string, stale: DataDirLockOwner | 'unreadable'): Promise<boolean> {
  const staleToken = stale === 'unreadable' ? `unreadable${randomUUID().replaceAll('-', '')}` : stale.token;
  const aside = join(dataDir, `${DATA_DIR_LOCK}.stale.${staleToken}`);
  try {
    await rename(lockPath, aside);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || isDirectoryTaken(err)) return false; // another starter took it over first
    throw err;
  }
  const moved = await readOwner(aside);
  if (moved === 'missing') return false; // the new holder removed it as a leftover: look again
  const same = stale === 'unreadable' ? typeof moved !== 'object' : typeof moved === 'object' && moved.token === stale.token;
  if (!same) {
    // A live lock replaced the stale one between our read and our rename: put it back untouched.
    await rename(aside, lockPath);
    return false;
  }
  await rm(aside, { recursive: true, force: true });
  return true;
}

/**
 * Removes what crashed starters left beside the lock: moved-aside locks (`.stale.`, `.released.`) and
 * staging directories of processes that no longer run. Called while holding the lock.
 */
async function removeLeftovers(dataDir: string): Promise<void> {
  for (const name of await readdir(dataDir)) {
    if (!name.startsWith(`${DATA_DIR_LOCK}.`)) continue;
    const path = join(dataDir, name);
    if (name.startsWith(`${DATA_DIR_LOCK}.acquiring.`)) {
      const starter = await readOwner(path);
      // A live starter's staging directory is its own to remove; one without a record is a crash's.
      if (typeof starter === 'object' && await isHolderAlive(starter, path)) continue;
    } else if (!name.startsWith(`${DATA_DIR_LOCK}.stale.`) && !name.startsWith(`${DATA_DIR_LOCK}.released.`)) {
      continue;
    }
    await rm(path, { recursive: true, force: true });
  }
}

function isDirectoryTaken(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR';
}

/**
 * Whether the process named by the record still holds the lock: this process holds it when one of
 * its descriptors is open on the owner file; another process when its pid is alive and (Linux) was
 * started at the recorded time — a different start time means the pid was reused.
 */
async function isHolderAlive(holder: DataDirLockOwner, lockPath: string): Promise<boolean> {
  if (holder.pid === process.pid) {
    const open = await openDescriptorTargets();
    return open === undefined || open.has(join(lockPath, OWNER_FILE));
  }
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: the process exists (another user's).
  }
  const stat = await processStat(holder.pid);
  if (stat === undefined) return true;
  // A zombie (killed, not yet reaped by its parent) holds nothing open any more.
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return holder.processStartTicks === undefined || stat.startTicks === holder.processStartTicks;
}

/** Paths this process has open (Linux /proc/self/fd), undefined where that cannot be read. */
async function openDescriptorTargets(): Promise<Set<string> | undefined> {
  let fds: string[];
  try {
    fds = await readdir('/proc/self/fd');
  } catch {
    return undefined;
  }
  const targets = new Set<string>();
  for (const fd of fds) {
    try {
      targets.add(await readlink(join('/proc/self/fd', fd)));
    } catch {
      // closed since the listing
    }
  }
  return targets;
}

/** Fields 3 (state) and 22 (start time after boot, clock ticks) of /proc/<pid>/stat; undefined without /proc. */
async function processStat(pid: number): Promise<{ readonly state: string; readonly startTicks: number | undefined } | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields resume after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const startTicks = Number(fields[22 - 3]);
  return { state: fields[0] ?? '', startTicks: Number.isSafeInteger(startTicks) ? startTicks : undefined };
}

async function processStartTicks(pid: number): Promise<number | undefined> {
  return (await processStat(pid))?.startTicks;
}

export function formatOwner(owner: DataDirLockOwner): string {
  return [
    '# Tributary data directory lock: held while the node below runs',
    `pid=${owner.pid}`, `process.start.ticks=${owner.processStartTicks ?? ''}`, `token=${owner.token}`,
    `node.id=${owner.nodeId}`, `hostname=${owner.hostname}`, `acquired.at=${owner.acquiredAt}`, '',
  ].join('\n');
}

export function parseOwner(text: string): DataDirLockOwner | undefined {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (!line.startsWith('#') && eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const pid = Number(values.get('pid'));
  const ticksText = values.get('process.start.ticks');
  const ticks = ticksText === undefined || ticksText === '' ? undefined : Number(ticksText);
  const token = values.get('token');
  if (!Number.isSafeInteger(pid) || pid <= 0 || token === undefined || token === '' || (ticks !== undefined && !Number.isSafeInteger(ticks))) return undefined;
  return {
    pid, processStartTicks: ticks, token, nodeId: Number(values.get('node.id') ?? -1),
    hostname: values.get('hostname') ?? '?', acquiredAt: values.get('acquired.at') ?? '?',
  };
}

/** The lock's owner record; 'unreadable' for a lock without a valid record (power loss before it reached disk). */
async function readOwner(lockPath: string): Promise<DataDirLockOwner | 'missing' | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(join(lockPath, OWNER_FILE), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      // The lock directory without an owner file: a leftover of a power loss; or no lock at all.
      try {
        await readdir(lockPath);
        return 'unreadable';
      } catch {
        return 'missing';
      }
    }
    if (code === 'ENOTDIR') return 'unreadable'; // a `.lock` file (another tool's): not ours to judge as held
    throw err;
  }
  return parseOwner(text) ?? 'unreadable';
}
