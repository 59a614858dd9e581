// The data directory lock (Kafka's `<log.dir>/.lock`): one node at a time owns a data directory. A
// second node on the same directory — another process, or another node in this process — is refused
// before it reads or writes anything; a node that crashed (SIGKILL, OOM, power loss) holds nothing, so
// the next start needs no operator action.
//
// Node has no flock(2), so the lock is held by the kernel another way: a listening Unix socket bound to
// an *abstract* address (Linux) named after the data directory's device and inode numbers. The kernel
// refuses a second bind of one address with EADDRINUSE — whoever asks, in whatever process — and frees
// the address the instant the holding process dies. There is no stale state to judge and no takeover
// race: acquiring is one bind(2). Device + inode (not the path) make a symlinked or bind-mounted path to
// the same directory meet the same lock.
//
// The `.lock` file in the directory is not the lock: it names the holder (pid, node id, host, time) for
// the refusal message, and is rewritten by each new holder. A crash leaves it behind, harmlessly.
//
// Limits: abstract addresses belong to a network namespace, so two containers (or chaos-suite network
// namespaces) sharing one directory are not protected from each other. Without abstract addresses
// (macOS), the socket is a file `<data.dir>/.lock.sock`; a crash's leftover file is recognised by a
// refused connection and replaced — two starters doing that at the same instant could both win there.
import { randomUUID } from 'node:crypto';
import { readFile, rm, stat, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '@tributary/storage';

/** The holder's record (not the lock itself, see above). */
export const DATA_DIR_LOCK = '.lock';
/** The socket file where abstract addresses do not exist (not Linux). */
export const DATA_DIR_LOCK_SOCKET = '.lock.sock';

/** What the `.lock` file says about the holder. */
export interface DataDirLockOwner {
  readonly pid: number;
  readonly token: string;
  readonly nodeId: number;
  readonly hostname: string;
  readonly acquiredAt: string;
}

/** The data directory is held by a live node. */
export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
  constructor(readonly dataDir: string, readonly holder: DataDirLockOwner | undefined) {
    super(
      `data directory ${dataDir} is in use by ${holder === undefined
        ? 'another node (its record in .lock is not readable yet)'
        : `node ${holder.nodeId} (pid ${holder.pid} on ${holder.hostname}, since ${holder.acquiredAt})`}: ` +
      `lock ${join(dataDir, DATA_DIR_LOCK)}. Stop that node first, or give this node another --data-dir; ` +
      'two nodes on one directory would overwrite each other\'s logs',
    );
  }
}

export interface DataDirLock {
  /** The holder's record file. */
  readonly path: string;
  readonly owner: DataDirLockOwner;
  /** Frees the lock (the record is removed first, if it is still ours). Idempotent. */
  release(): Promise<void>;
}

export interface AcquireDataDirLockOptions {
  readonly dataDir: string;
  readonly nodeId: number;
  readonly nowMs?: () => number;
}

/** Takes the data directory lock or throws DataDirLockedError naming the live holder. */
export async function acquireDataDirLock(options: AcquireDataDirLockOptions): Promise<DataDirLock> {
  const dataDir = options.dataDir;
  const { dev, ino } = await stat(dataDir);
  const server = createServer((socket) => socket.destroy());
  const address = process.platform === 'linux'
    ? `\0tributary-data-dir-lock:${dev}:${ino}`
    : join(dataDir, DATA_DIR_LOCK_SOCKET);
  try {
    await listen(server, address);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    if (process.platform === 'linux' || await isLiveSocket(address)) {
      throw new DataDirLockedError(dataDir, await readOwner(join(dataDir, DATA_DIR_LOCK)));
    }
    await unlink(address).catch(() => undefined); // a crash's leftover socket file (see the header)
    try {
      await listen(server, address);
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new DataDirLockedError(dataDir, await readOwner(join(dataDir, DATA_DIR_LOCK)));
      throw again;
    }
  }
  server.unref(); // holding a directory is no reason to keep a process alive
  const owner: DataDirLockOwner = {
    pid: process.pid, token: randomUUID().replaceAll('-', ''), nodeId: options.nodeId,
    hostname: hostname(), acquiredAt: new Date((options.nowMs ?? Date.now)()).toISOString(),
  };
  const path = join(dataDir, DATA_DIR_LOCK);
  try {
    await writeFileAtomic(path, formatOwner(owner));
  } catch (err) {
    await close(server);
    throw err;
  }
  let releasing: Promise<void> | undefined;
  return {
    path, owner,
    release: () => {
      releasing ??= (async () => {
        try {
          // Still holding the address: no other node can have rewritten the record since we wrote it.
          if ((await readOwner(path))?.token === owner.token) await rm(path, { force: true });
        } finally {
          await close(server);
        }
      })();
      return releasing;
    },
  };
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ path, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Whether something accepts connections on a socket file (a live holder), or it is a crash's leftover. */
function isLiveSocket(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ path });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT'));
  });
}

export function formatOwner(owner: DataDirLockOwner): string {
  return [
    '# Tributary data directory lock: the node below holds this directory while it runs',
    `pid=${owner.pid}`, `token=${owner.token}`, `node.id=${owner.nodeId}`, `hostname=${owner.hostname}`,
    `acquired.at=${owner.acquiredAt}`, '',
  ].join('\n');
}

export function parseOwner(text: string): DataDirLockOwner | undefined {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (!line.startsWith('#') && eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const pid = Number(values.get('pid'));
  const token = values.get('token');
  if (!Number.isSafeInteger(pid) || pid <= 0 || token === undefined || token === '') return undefined;
  return {
    pid, token, nodeId: Number(values.get('node.id') ?? -1),
    hostname: values.get('hostname') ?? '?', acquiredAt: values.get('acquired.at') ?? '?',
  };
}

/** The holder's record, undefined when there is none or it does not parse (written a moment from now). */
async function readOwner(path: string): Promise<DataDirLockOwner | undefined> {
  try {
    return parseOwner(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
}
