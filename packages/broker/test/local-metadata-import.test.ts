// A data directory of an earlier version's node alone — meta.properties without voters, the local
// metadata file `__cluster_metadata/metadata.json`, partition logs — is imported into the node's
// quorum of one voter on itself on its first start: nothing is lost, the file is kept renamed, and
// meta.properties then says so. A start it cannot be imported into is refused with the directory
// untouched (compared byte for byte).
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { AdminClient, BrokerClient, decodeRecordBatches } from '@tributary/protocol';
import { ConfigError, parseNodeConfig, startNode, type TributaryNode } from '../src/index.js';
import { RAFT_DIR } from '@tributary/controller';
import { freePorts } from './cluster/cluster-harness.js';
import { batchOf, call, codeName, makeTempDir, silentLogger } from './helpers.js';

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    out[path.slice(dir.length + 1)] = entry.isDirectory() ? 'dir' : createHash('sha256').update(await readFile(path)).digest('hex');
  }
  return out;
}

interface Running {
  readonly node: TributaryNode;
  readonly broker: BrokerClient;
  readonly admin: AdminClient;
  close(options?: { readonly controlledShutdown?: boolean }): Promise<void>;
}

async function start(dataDir: string, flags: Record<string, string | number> = {}): Promise<Running> {
  const config = parseNodeConfig({ flags: { 'node.id': 1, listen: '127.0.0.1:0', 'data.dir': dataDir, ...flags } });
  const node = await startNode(config, { logger: silentLogger, shutdownGraceMs: 500 });
  const broker = new BrokerClient(node.address, grpc.credentials.createInsecure());
  const admin = new AdminClient(node.address, grpc.credentials.createInsecure());
  return { node, broker, admin, close: async (options) => { broker.close(); admin.close(); await node.close(options); } };
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

const CLUSTER_ID = 'AAAAAAAAAAAAAAAAAAAAAA';
const PRODUCER_ID_BLOCK_END = 5000;

/**
 * What an earlier version left: partition logs (written here by a node, then its quorum's log removed),
 * the local metadata file in that version's format, and meta.properties with no voters.
 */
async function makeLegacyDir(dir: string, meta: 'with-mode' | 'no-mode'): Promise<void> {
  const r = await start(dir, { 'cluster.id': CLUSTER_ID });
  const created = await call(r.admin, r.admin.createTopics, { topics: [{ name: 'legacy', numPartitions: 2, replicationFactor: 1, configs: { 'retention.ms': '123456789' } }] });
  expect(codeName(created.topics[0]?.error)).toBe('NONE');
  for (const [partition, vals] of [[0, ['a', 'b']], [1, ['c']]] as const) {
    const res = await call(r.broker, r.broker.produce, { acks: -1, timeoutMs: 5000, topics: [{ topic: 'legacy', partitions: [{ partition, recordBatch: batchOf([...vals]), currentLeaderEpoch: -1 }] }] });
    expect(codeName(res.topics[0]?.partitions?.[0]?.error)).toBe('NONE');
  }
  const topic = r.node.metadata.topic('legacy')!;
  await r.close({ controlledShutdown: false });
  await rm(join(dir, RAFT_DIR), { recursive: true, force: true });
  await mkdir(join(dir, '__cluster_metadata'), { recursive: true });
  await writeFile(join(dir, '__cluster_metadata', 'metadata.json'), JSON.stringify({
    version: 1, producerIdBlockEnd: PRODUCER_ID_BLOCK_END,
    topics: [{
      name: 'legacy', topicId: topic.topicId, internal: false, configs: { 'retention.ms': '123456789' },
      partitions: topic.partitions.map((p) => ({ partition: p.partition, leader: 1, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, replicas: [1], isr: [1] })),
    }],
  }, null, 1));
  await writeFile(join(dir, 'meta.properties'), [
    '# Tributary node identity: do not edit', 'version=1', 'node.id=1', `cluster.id=${CLUSTER_ID}`,
    ...(meta === 'with-mode' ? ['process.roles=broker,controller', 'controller.quorum.voters='] : []), '',
  ].join('\n'));
}

async function refusal(promise: Promise<Running>): Promise<Error> {
  const outcome = await promise.then(async (r) => {
    await r.close();
    return undefined;
  }, (err: unknown) => err as Error);
  if (outcome === undefined) throw new Error('the start was not refused');
  return outcome;
}

describe('an earlier version\'s node alone (local metadata file) is imported into its one-voter quorum', () => {
  for (const meta of ['with-mode', 'no-mode'] as const) {
    it(`imports topics, partitions, configs and the producer-id position; keeps the file renamed; marks meta.properties (${meta})`, async () => {
      const dir = await makeTempDir();
      try {
        await makeLegacyDir(dir, meta);
        const legacyBytes = await readFile(join(dir, '__cluster_metadata', 'metadata.json'));
        const before = await snapshot(dir);

        // A quorum does not read that file: a start with other voters is refused, the directory untouched.
        const [p1, p2] = await freePorts(2);
        const err = await refusal(start(dir, { listen: `127.0.0.1:${p1}`, 'controller.quorum.voters': `1@127.0.0.1:${p1},2@127.0.0.1:${p2}` }));
        expect(err).toBeInstanceOf(ConfigError);
        expect(err.message).toMatch(/ran alone on a local metadata file|holds the metadata of a node that ran alone/);
        expect(err.message).toContain('restart without --voters');
        expect(await snapshot(dir)).toEqual(before);

        const r = await start(dir);
        try {
          expect(r.node.clusterId).toBe(CLUSTER_ID);
          expect(await values(r, 'legacy', 0)).toEqual(['a', 'b']);
          expect(await values(r, 'legacy', 1)).toEqual(['c']);
          expect(r.node.metadata.topic('legacy')?.configs).toEqual({ 'retention.ms': '123456789' });
          expect(r.node.metadata.producerIdsEnd()).toBeGreaterThanOrEqual(PRODUCER_ID_BLOCK_END);
          // Ids below the old block end may have been handed out: new ones start at or above it.
          const pid = await call(r.broker, r.broker.initProducerId, {});
          expect(Number(pid.producerId)).toBeGreaterThanOrEqual(PRODUCER_ID_BLOCK_END);
          const port = Number(r.node.address.split(':').pop());
          const props = await readFile(join(dir, 'meta.properties'), 'utf8');
          expect(props).toContain(`controller.quorum.voters=1@127.0.0.1:${port}\n`);
          expect(props).toContain('local.metadata.imported=true\n');
          expect(props).toContain(`cluster.id=${CLUSTER_ID}\n`);
        } finally {
          await r.close();
        }
        const files = await readdir(join(dir, '__cluster_metadata'));
        expect(files).toEqual(['metadata.json.imported']);
        expect(await readFile(join(dir, '__cluster_metadata', 'metadata.json.imported'))).toEqual(legacyBytes);
        expect((await readdir(dir)).filter((n) => n.endsWith('-stray'))).toEqual([]);

        // An ordinary restart: the renamed file is not read again, nothing is imported twice.
        const again = await start(dir);
        try {
          expect(await values(again, 'legacy', 0)).toEqual(['a', 'b']);
          expect(again.node.metadata.topics().map((t) => t.name)).toEqual(['legacy']);
        } finally {
          await again.close();
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  it('a crash after the import committed, before the file was renamed: the next start completes it without importing twice', async () => {
    const dir = await makeTempDir();
    try {
      await makeLegacyDir(dir, 'with-mode');
      const legacyMeta = await readFile(join(dir, 'meta.properties'));
      const r = await start(dir);
      await r.close();
      // Back to the state just after the import's raft entry committed: file in place, meta.properties unmarked.
      await rename(join(dir, '__cluster_metadata', 'metadata.json.imported'), join(dir, '__cluster_metadata', 'metadata.json'));
      await writeFile(join(dir, 'meta.properties'), legacyMeta);
      const again = await start(dir);
      try {
        expect(again.node.metadata.topics().map((t) => t.name)).toEqual(['legacy']);
        expect(await values(again, 'legacy', 0)).toEqual(['a', 'b']);
      } finally {
        await again.close();
      }
      expect(await readdir(join(dir, '__cluster_metadata'))).toEqual(['metadata.json.imported']);
      expect(await readFile(join(dir, 'meta.properties'), 'utf8')).toContain('local.metadata.imported=true\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a local metadata file it cannot import whole, changing nothing', async () => {
    const dir = await makeTempDir();
    try {
      await makeLegacyDir(dir, 'with-mode');
      const path = join(dir, '__cluster_metadata', 'metadata.json');
      const stored = JSON.parse(await readFile(path, 'utf8')) as { topics: { partitions: { replicas: number[] }[] }[] };
      stored.topics[0]!.partitions[1]!.replicas = [];
      await writeFile(path, JSON.stringify(stored));
      const before = await snapshot(dir);
      const err = await refusal(start(dir));
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toContain(`${path} (the metadata of a node that ran alone, written by an earlier version) has a malformed partition 1 of topic legacy`);
      expect(err.message).toContain('nothing was changed');
      expect(await snapshot(dir)).toEqual(before);

      // Its meta.properties lost: refused too, never a new empty node over the logs.
      await rm(join(dir, 'meta.properties'));
      const lost = await snapshot(dir);
      const lostErr = await refusal(start(dir));
      expect(lostErr.message).toContain('but no meta.properties: its identity is lost');
      expect(await snapshot(dir)).toEqual(lost);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
