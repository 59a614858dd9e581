// Operator mistakes on a data directory are refused, never obeyed by deleting data: a start whose
// flags disagree with the stored identity (meta.properties), a second node on a directory in use
// (the .lock), and logs the metadata does not know (renamed -stray, kept). After every refused start
// the directory is compared byte for byte with what it held before.
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { AdminClient, BrokerClient, decodeRecordBatches } from '@tributary/protocol';
import { ConfigError, parseNodeConfig, startNode, type TributaryNode } from '../src/index.js';
import { DataDirLockedError } from '../src/data-dir-lock.js';
import { FAST, freePorts } from './cluster/cluster-harness.js';
import { batchOf, call, codeName, makeTempDir, silentLogger } from './helpers.js';

/** Every file under `dir` (relative path → sha256), and every directory (→ 'dir'). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    const rel = path.slice(dir.length + 1);
    out[rel] = entry.isDirectory() ? 'dir' : createHash('sha256').update(await readFile(path)).digest('hex');
  }
  return out;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Running {
  readonly node: TributaryNode;
  readonly broker: BrokerClient;
  readonly admin: AdminClient;
  close(): Promise<void>;
}

async function start(dataDir: string, flags: Record<string, string | number>, set: Record<string, string> = {}): Promise<Running> {
  const config = parseNodeConfig({ flags: { 'node.id': 1, listen: '127.0.0.1:0', 'data.dir': dataDir, ...flags }, set: { ...FAST, ...set } });
  const node = await startNode(config, { logger: silentLogger, shutdownGraceMs: 500 });
  const broker = new BrokerClient(node.address, grpc.credentials.createInsecure());
  const admin = new AdminClient(node.address, grpc.credentials.createInsecure());
  if (node.cluster !== undefined) await waitFor('the cluster member to start', async () => (node.cluster!.started ? true : undefined));
  return {
    node, broker, admin,
    close: async () => {
      broker.close();
      admin.close();
      await node.close();
    },
  };
}

async function createTopic(r: Running, name: string, numPartitions: number): Promise<void> {
  // In a quorum the broker is unfenced a heartbeat after it starts: until then there is no broker to place on.
  await waitFor(`topic ${name} created`, async () => {
    const res = await call(r.admin, r.admin.createTopics, { topics: [{ name, numPartitions, replicationFactor: 1 }] });
    const code = codeName(res.topics[0]?.error);
    if (code !== 'NONE' && code !== 'INVALID_REPLICATION_FACTOR') throw new Error(`create ${name}: ${code}`);
    return code === 'NONE' ? true : undefined;
  });
}

async function produce(r: Running, topic: string, partition: number, values: string[]): Promise<void> {
  await waitFor(`a produce to ${topic}-${partition}`, async () => {
    const res = await call(r.broker, r.broker.produce, { acks: -1, timeoutMs: 5000, topics: [{ topic, partitions: [{ partition, recordBatch: batchOf(values), currentLeaderEpoch: -1 }] }] });
    return codeName(res.topics[0]?.partitions?.[0]?.error) === 'NONE' ? true : undefined;
  });
}

async function values(r: Running, topic: string, partition: number): Promise<string[]> {
  const res = await call(r.broker, r.broker.fetch, {
    maxWaitMs: 0, minBytes: 0, maxBytes: 1024 * 1024,
    topics: [{ topic, partitions: [{ partition, fetchOffset: 0, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
  });
  const p = res.topics[0]?.partitions?.[0];
  expect(codeName(p?.error)).toBe('NONE');
  return decodeRecordBatches(Buffer.from(p?.recordBatch ?? [])).flatMap((b) => b.records.map((rec) => rec.value?.toString() ?? ''));
}

async function refusal(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(async (started) => {
    await (started as Running).close();
    return undefined;
  }, (err: unknown) => err as Error);
  if (outcome === undefined) throw new Error('the start was not refused');
  return outcome;
}

describe('meta.properties: a start whose flags disagree with the stored identity is refused', () => {
  it('a quorum member restarted without --voters is refused and loses nothing; restarted as before, its topic is whole', async () => {
    // Two voters: a quorum of one voter on itself is what a node without --voters is (that start is accepted).
    const dir = await makeTempDir();
    const dir2 = join(dir, 'node-2');
    const [port, port2] = await freePorts(2);
    const voters = `1@127.0.0.1:${port},2@127.0.0.1:${port2}`;
    const member1 = { listen: `127.0.0.1:${port}`, 'controller.quorum.voters': voters };
    const member2 = { 'node.id': 2, listen: `127.0.0.1:${port2}`, 'controller.quorum.voters': voters };
    /** Both voters (a quorum of two needs both to start). */
    const startBoth = (): Promise<Running[]> => Promise.all([start(dir, member1), start(dir2, member2)]);
    /** A partition's values, read from whichever node leads it. */
    const valuesOnLeader = (rs: readonly Running[], topic: string, partition: number, count: number): Promise<string[]> =>
      waitFor(`${topic}-${partition}`, async () => {
        for (const r of rs) {
          const got = await values(r, topic, partition).catch(() => undefined);
          if (got?.length === count) return got;
        }
        return undefined;
      });
    try {
      await mkdir(dir2);
      let rs = await startBoth();
      await waitFor('topic kept created', async () => {
        // Both replicas on each node: node 1's directory holds every partition.
        const res = await call(rs[0]!.admin, rs[0]!.admin.createTopics, { topics: [{ name: 'kept', numPartitions: 2, replicationFactor: 2 }] });
        const code = codeName(res.topics[0]?.error);
        if (code !== 'NONE' && code !== 'INVALID_REPLICATION_FACTOR') throw new Error(`create kept: ${code}`);
        return code === 'NONE' ? true : undefined;
      });
      for (const [partition, vals] of [[0, ['a', 'b']], [1, ['c']]] as const) {
        await waitFor(`a produce to kept-${partition}`, async () => {
          for (const r of rs) {
            const res = await call(r.broker, r.broker.produce, { acks: -1, timeoutMs: 5000, topics: [{ topic: 'kept', partitions: [{ partition, recordBatch: batchOf([...vals]), currentLeaderEpoch: -1 }] }] });
            if (codeName(res.topics[0]?.partitions?.[0]?.error) === 'NONE') return true;
          }
          return undefined;
        });
      }
      await Promise.all(rs.map((r) => r.close()));
      const before = await snapshot(dir);
      expect(Object.keys(before)).toEqual(expect.arrayContaining(['kept-0', 'kept-1', 'meta.properties']));

      const err = await refusal(start(dir, {}));
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toContain('controller.quorum.voters: ');
      expect(err.message).toContain(`belongs to a member of the controller quorum ${voters}`);
      expect(err.message).toContain(`restart with --voters ${voters} --roles broker,controller as before, or move ${dir} away`);
      expect(await snapshot(dir)).toEqual(before);

      // In a quorum too, a log the (caught-up) image does not assign here is set aside, not deleted.
      await cp(join(dir, 'kept-1'), join(dir, 'ghost-0'), { recursive: true });
      const ghostBytes = await snapshot(join(dir, 'ghost-0'));
      rs = await startBoth();
      try {
        expect(await valuesOnLeader(rs, 'kept', 0, 2)).toEqual(['a', 'b']);
        expect(await valuesOnLeader(rs, 'kept', 1, 1)).toEqual(['c']);
      } finally {
        await Promise.all(rs.map((r) => r.close()));
      }
      const strays = (await readdir(dir)).filter((n) => n.startsWith('ghost-0'));
      expect(strays).toEqual([expect.stringMatching(/^ghost-0\.[0-9a-f]{32}-stray$/)]);
      expect(await snapshot(join(dir, strays[0]!))).toEqual(ghostBytes);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses the other mode, another voter set and other roles; accepts moved voter addresses', async () => {
    const dir = await makeTempDir();
    const [port, other] = await freePorts(2);
    try {
      const r = await start(dir, {});
      await createTopic(r, 'alone', 1);
      await produce(r, 'alone', 0, ['x']);
      await r.close();
      const before = await snapshot(dir);
      // A node alone is a quorum of one voter on itself: joining another quorum changes the voter ids.
      const quorumErr = await refusal(start(dir, { listen: `127.0.0.1:${port}`, 'controller.quorum.voters': `1@127.0.0.1:${port},2@127.0.0.1:${other}` }));
      expect(quorumErr.message).toContain(`belongs to a node that runs alone (a quorum of one voter on itself: 1@127.0.0.1:`);
      expect(quorumErr.message).toContain(`restart without --voters --roles broker,controller as before, or move ${dir} away`);
      const rolesErr = await refusal(start(dir, { 'process.roles': 'controller' }));
      expect(rolesErr.message).toContain('process.roles: stored broker,controller');
      expect(rolesErr.message).toContain('given controller');
      // Without --voters a broker alone has no quorum to follow: refused by the config already.
      const brokerOnly = await refusal(start(dir, { 'process.roles': 'broker' }));
      expect(brokerOnly.message).toContain('without controller.quorum.voters the node is a quorum of one voter on itself and needs the controller role');
      expect(await snapshot(dir)).toEqual(before);
      // "One voter on itself": its own id at the address it listened on.
      expect(await readFile(join(dir, 'meta.properties'), 'utf8')).toMatch(/^process\.roles=broker,controller\ncontroller\.quorum\.voters=1@127\.0\.0\.1:\d+\n/m);

      const quorumDir = join(dir, 'q');
      const q = await start(quorumDir, { listen: `127.0.0.1:${port}`, 'controller.quorum.voters': `1@127.0.0.1:${port}` });
      await q.close();
      const quorumBefore = await snapshot(quorumDir);
      const idsErr = await refusal(start(quorumDir, { listen: `127.0.0.1:${port}`, 'controller.quorum.voters': `1@127.0.0.1:${port},2@127.0.0.1:${other}` }));
      // --voters naming only itself is the same one-voter quorum as no --voters: another voter set is refused alike.
      expect(idsErr.message).toContain(`belongs to a node that runs alone (a quorum of one voter on itself: 1@127.0.0.1:${port}`);
      expect(idsErr.message).toContain(`but this start gives --voters 1@127.0.0.1:${port},2@127.0.0.1:${other}`);
      expect(await snapshot(quorumDir)).toEqual(quorumBefore);
      // The same voter on another address: accepted, and the new address stored.
      const moved = await start(quorumDir, { listen: `127.0.0.1:${other}`, 'controller.quorum.voters': `1@127.0.0.1:${other}` });
      await moved.close();
      expect(await readFile(join(quorumDir, 'meta.properties'), 'utf8')).toContain(`controller.quorum.voters=1@127.0.0.1:${other}\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('completes a meta.properties of an older version (no mode) from the flags, unless the directory contradicts them', async () => {
    // (An older version's node alone, with its local metadata file: local-metadata-import.test.ts.)
    const dir = await makeTempDir();
    try {
      const [port] = await freePorts(1);
      const quorum = { listen: `127.0.0.1:${port}`, 'controller.quorum.voters': `1@127.0.0.1:${port}` };
      const r = await start(dir, quorum);
      await createTopic(r, 'old', 1);
      await produce(r, 'old', 0, ['v']);
      await r.close();
      const meta = await readFile(join(dir, 'meta.properties'), 'utf8');
      const older = meta.split('\n').filter((l) => !l.startsWith('process.roles=') && !l.startsWith('controller.quorum.voters=')).join('\n');
      await writeFile(join(dir, 'meta.properties'), older);
      // The directory holds a quorum's Raft log: a start without --voters is refused even so.
      const before = await snapshot(dir);
      const err = await refusal(start(dir, {}));
      expect(err.message).toContain('holds a controller quorum\'s Raft log');
      expect(await snapshot(dir)).toEqual(before);

      const again = await start(dir, quorum);
      try {
        expect(await waitFor('old-0', async () => ((await values(again, 'old', 0)).length === 1 ? values(again, 'old', 0) : undefined))).toEqual(['v']);
      } finally {
        await again.close();
      }
      expect(await readFile(join(dir, 'meta.properties'), 'utf8')).toBe(meta);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('data directory lock', () => {
  it('refuses a second node on a directory in use, in the same process, touching nothing; free again after close()', async () => {
    const dir = await makeTempDir();
    try {
      const first = await start(dir, {});
      await createTopic(first, 'busy', 1);
      await produce(first, 'busy', 0, ['one']);
      const before = await snapshot(dir);
      const err = await refusal(start(dir, {}));
      expect(err).toBeInstanceOf(DataDirLockedError);
      expect(err.message).toContain(`data directory ${dir} is in use by node 1 (pid ${process.pid}`);
      expect(await snapshot(dir)).toEqual(before);
      expect(await values(first, 'busy', 0)).toEqual(['one']);
      await first.close();
      expect(await readdir(dir)).not.toContain('.lock');

      const second = await start(dir, {});
      try {
        expect(await values(second, 'busy', 0)).toEqual(['one']);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('starts over a record left by a node that is gone: the record names the holder, the kernel holds the lock', async () => {
    const dir = await makeTempDir();
    try {
      const r = await start(dir, {});
      const owner = await readFile(join(dir, '.lock'), 'utf8');
      expect(owner).toContain(`pid=${process.pid}\n`);
      await r.close();
      expect(await readdir(dir)).not.toContain('.lock');
      // What a crashed node leaves: its record, with nobody holding the lock.
      await writeFile(join(dir, '.lock'), owner);
      const again = await start(dir, {});
      expect(await readFile(join(dir, '.lock'), 'utf8')).not.toEqual(owner); // the new holder's record
      await again.close();
      // A power loss's empty record.
      await writeFile(join(dir, '.lock'), '');
      const third = await start(dir, {});
      await third.close();
      expect((await readdir(dir)).filter((n) => n.startsWith('.lock'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('stray logs are renamed and kept, never deleted', () => {
  it('renames a partition directory the metadata does not know at startup', async () => {
    const dir = await makeTempDir();
    try {
      let r = await start(dir, {});
      await createTopic(r, 'known', 1);
      await produce(r, 'known', 0, ['k']);
      await r.close();
      // A log of a topic this node's metadata does not have (say, copied in by hand, or its deletion
      // interrupted before the metadata change was applied).
      await cp(join(dir, 'known-0'), join(dir, 'unknown-0'), { recursive: true });
      const strayBytes = await snapshot(join(dir, 'unknown-0'));
      r = await start(dir, {});
      await r.close();
      const strays = (await readdir(dir)).filter((n) => n.startsWith('unknown-0'));
      expect(strays).toHaveLength(1);
      expect(strays[0]).toMatch(/^unknown-0\.[0-9a-f]{32}-stray$/);
      expect(await snapshot(join(dir, strays[0]!))).toEqual(strayBytes);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('sets aside the log of a deleted namesake instead of serving or deleting it', async () => {
    const dir = await makeTempDir();
    const backup = await makeTempDir();
    try {
      let r = await start(dir, {});
      await createTopic(r, 'reborn', 1);
      await produce(r, 'reborn', 0, ['old-1', 'old-2']);
      await r.close();
      await cp(join(dir, 'reborn-0'), join(backup, 'reborn-0'), { recursive: true });
      const oldBytes = await snapshot(join(backup, 'reborn-0'));
      r = await start(dir, {});
      const deleted = await call(r.admin, r.admin.deleteTopics, { names: ['reborn'] });
      expect(codeName(deleted.topics[0]?.error)).toBe('NONE');
      // A committed deletion does delete (through a `-delete` rename): nothing of it is left.
      expect((await readdir(dir)).filter((n) => n.startsWith('reborn-0'))).toEqual([]);
      // The old log reappears (a deletion the crash interrupted), then the name is created again.
      await cp(join(backup, 'reborn-0'), join(dir, 'reborn-0'), { recursive: true });
      await createTopic(r, 'reborn', 1);
      expect(await values(r, 'reborn', 0)).toEqual([]);
      await produce(r, 'reborn', 0, ['new']);
      await r.close();
      const strays = (await readdir(dir)).filter((n) => /^reborn-0\..*-stray$/.test(n));
      expect(strays).toHaveLength(1);
      expect(await snapshot(join(dir, strays[0]!))).toEqual(oldBytes);

      // And at startup: the new topic's directory replaced by the old one is set aside, not served.
      await rm(join(dir, 'reborn-0'), { recursive: true });
      await cp(join(backup, 'reborn-0'), join(dir, 'reborn-0'), { recursive: true });
      r = await start(dir, {});
      try {
        expect(await values(r, 'reborn', 0)).toEqual([]);
      } finally {
        await r.close();
      }
      expect((await readdir(dir)).filter((n) => /^reborn-0\..*-stray$/.test(n))).toHaveLength(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(backup, { recursive: true, force: true });
    }
  });
});
