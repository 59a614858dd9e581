// A failed partition log takes only its replica offline, never the node (DESIGN.md §9: a failure is
// contained to the smallest unit; Kafka's offline log directories). Three in-process combined nodes,
// RF=3. The victim is the leader of `doomed`-0:
//   (a) a log that cannot open at startup (a segment file name taken by a directory): the node starts,
//       registers and is unfenced, serves every other partition; the replica is reported offline
//       (metadata, metric) and its leadership and ISR membership are elsewhere;
//   (b) a log that fails while the node runs (a segment roll cannot create its file): leadership moves,
//       acks=all produces to that partition succeed through the new leader, and the node — which goes
//       on serving — does not write the clean-shutdown marker when it stops: the next start is unclean.
// Either way every file of the failed log stays as it was, byte for byte (a later start may only add
// the indexes its recovery rebuilds before it finds the log still unopenable).
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, type ConsumerRecord } from '@tributary/client';
import { startCluster, type InProcessCluster } from '@tributary/testing';
import { waitFor } from './helpers.js';

const CLEAN_SHUTDOWN_FILE = '.broker-clean-shutdown';
const WAIT_MS = 20_000;

let cluster: InProcessCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

function segmentName(baseOffset: number): string {
  return `${String(baseOffset).padStart(20, '0')}.log`;
}

function partitionDir(c: InProcessCluster, nodeId: number, topic: string, partition: number): string {
  return join(c.node(nodeId).config.dataDir, `${topic}-${partition}`);
}

/** Every regular file under `dir` (recursively) with its bytes; `skip` names left out. */
async function snapshotFiles(dir: string, skip: ReadonlySet<string>): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    if (skip.has(entry.name) || !entry.isFile()) continue;
    out.set(path, await readFile(path));
  }
  return out;
}

/**
 * Every file of `before` is there with the same bytes, and nothing else — but for `derived` names: a
 * later start's recovery may rebuild a segment's missing offset and time indexes (from the .log) before
 * it finds the log unopenable.
 */
async function expectSameFiles(dir: string, skip: ReadonlySet<string>, before: ReadonlyMap<string, Buffer>, derived?: RegExp): Promise<void> {
  const now = await snapshotFiles(dir, skip);
  const added = [...now.keys()].filter((path) => !before.has(path) && !(derived?.test(path) ?? false));
  expect(added).toEqual([]);
  for (const [path, bytes] of before) expect(now.get(path)?.equals(bytes), path).toBe(true);
}

const INDEX_FILE = /\.(index|timeindex)$/;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function gauge(c: InProcessCluster, nodeId: number, name: string, labels: Readonly<Record<string, string>> = {}): Promise<number | undefined> {
  const metric = c.node(nodeId).metrics.registry.getSingleMetric(name);
  if (metric === undefined) return undefined;
  const { values } = await metric.get();
  return values.find((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x))?.value;
}

async function produce(bootstrap: string, topic: string, partitions: number, count: number, valueBytes: number): Promise<void> {
  const producer = new Producer({
    'bootstrap.servers': bootstrap, acks: 'all', 'linger.ms': 0, 'request.timeout.ms': 3000, 'delivery.timeout.ms': WAIT_MS, 'retry.backoff.ms': 50,
  });
  try {
    for (let i = 0; i < count; i++) {
      for (let partition = 0; partition < partitions; partition++) {
        await producer.send({ topic, partition, value: `${i}-${'v'.repeat(valueBytes)}` });
      }
    }
  } finally {
    await producer.close({ timeoutMs: 5000 });
  }
}

async function consumeCount(bootstrap: string, topic: string, partitions: number, count: number): Promise<number> {
  const consumer = new Consumer({ 'bootstrap.servers': bootstrap, 'auto.offset.reset': 'earliest' });
  const seen: ConsumerRecord[] = [];
  try {
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
    const deadline = Date.now() + WAIT_MS;
    while (seen.length < count && Date.now() < deadline) seen.push(...await consumer.poll({ timeoutMs: 500 }));
  } finally {
    await consumer.close();
  }
  return seen.length;
}

/** The partition as `observer` sees it once `ok` holds. */
async function waitPartition(c: InProcessCluster, observer: number, topic: string, partition: number, what: string, ok: (p: { leader: number; isr: readonly number[]; offlineReplicas: readonly number[] }) => boolean) {
  return waitFor(what, () => {
    const p = c.node(observer).metadata.partition(topic, partition);
    if (p === undefined) return undefined;
    const view = { leader: p.leader, isr: p.isr, offlineReplicas: p.offlineReplicas ?? [] };
    return ok(view) ? view : undefined;
  }, WAIT_MS);
}

/** The victim serves every partition of `healthy` again: in each ISR, and produce/consume work. */
async function expectServes(c: InProcessCluster, victim: number, healthy: string, partitions: number, produced: number): Promise<void> {
  for (let p = 0; p < partitions; p++) {
    await waitPartition(c, victim, healthy, p, `node ${victim} in the ISR of ${healthy}-${p}`, (x) => x.isr.includes(victim) && x.leader >= 0);
  }
  await produce(c.bootstrapServers, healthy, partitions, 5, 10);
  expect(await consumeCount(c.bootstrapServers, healthy, partitions, produced + 5 * partitions)).toBe(produced + 5 * partitions);
}

async function setup(c: InProcessCluster, doomedConfigs: Readonly<Record<string, string>>): Promise<number> {
  const admin = new Admin({ 'bootstrap.servers': c.bootstrapServers });
  try {
    await admin.createTopics([
      { topic: 'healthy', numPartitions: 3, replicationFactor: 3 },
      { topic: 'doomed', numPartitions: 1, replicationFactor: 3, configs: doomedConfigs },
    ]);
  } finally {
    await admin.close();
  }
  await produce(c.bootstrapServers, 'healthy', 3, 10, 10);
  const p = await waitPartition(c, 1, 'doomed', 0, 'doomed-0 with a full ISR', (x) => x.leader >= 0 && x.isr.length === 3);
  return p.leader;
}

async function describeOffline(c: InProcessCluster, via: number, topic: string): Promise<readonly number[]> {
  const admin = new Admin({ 'bootstrap.servers': c.brokers.find((b) => b.nodeId === via)!.address });
  try {
    const [description] = await admin.describeTopics([topic]);
    return description!.partitions[0]!.offlineReplicas;
  } finally {
    await admin.close();
  }
}

describe('a failed partition log goes offline alone (3 nodes, RF=3)', () => {
  it('(a) a log that cannot open at startup: the node starts and serves the rest; the replica is offline', async () => {
    cluster = await startCluster({ nodes: 3 });
    const c = cluster;
    const victim = await setup(c, {});
    await produce(c.bootstrapServers, 'doomed', 1, 20, 100);
    const dir = partitionDir(c, victim, 'doomed', 0);
    const dataDir = c.node(victim).config.dataDir;

    await c.kill(victim);
    expect(await exists(join(dataDir, CLEAN_SHUTDOWN_FILE))).toBe(true); // it did stop cleanly
    // A segment the log cannot read: a directory where segment 1 would be (it starts at offset 0).
    const obstacle = segmentName(1);
    await mkdir(join(dir, obstacle));
    const skip = new Set([obstacle]);
    const before = await snapshotFiles(dir, skip);
    expect([...before.keys()].some((f) => f.endsWith(segmentName(0)))).toBe(true);

    const startedAt = Date.now();
    await c.restart(victim);
    await c.waitForReady(WAIT_MS);
    const readyMs = Date.now() - startedAt;
    const node = c.node(victim);
    expect(node.cluster?.started).toBe(true); // what /readyz reports
    expect(node.cluster?.lifecycleState).toBe('running'); // registered and unfenced
    const observer = [1, 2, 3].find((id) => id !== victim)!;
    const state = await waitPartition(c, observer, 'doomed', 0, `node ${victim}'s replica of doomed-0 offline`,
      (x) => x.offlineReplicas.includes(victim) && x.leader >= 0 && x.leader !== victim);
    expect(state.isr).not.toContain(victim);
    expect(await describeOffline(c, victim, 'doomed')).toEqual([victim]);
    expect(await describeOffline(c, observer, 'doomed')).toEqual([victim]);
    expect(await gauge(c, victim, 'tributary_offline_replicas')).toBe(1);
    expect(await gauge(c, victim, 'tributary_partition_offline', { topic: 'doomed', partition: '0' })).toBe(1);

    await expectServes(c, victim, 'healthy', 3, 30);
    await produce(c.bootstrapServers, 'doomed', 1, 5, 100); // acks=all through the new leader
    expect(await consumeCount(c.bootstrapServers, 'doomed', 1, 25)).toBe(25);
    // Preferred-leader elections (every second here) never hand it back to the offline replica.
    const after = c.node(observer).metadata.partition('doomed', 0)!;
    expect(after.leader).not.toBe(victim);
    expect(after.isr).not.toContain(victim);
    await expectSameFiles(dir, skip, before);

    await c.kill(victim);
    expect(await exists(join(dataDir, CLEAN_SHUTDOWN_FILE))).toBe(false); // the next start registers unclean
    await expectSameFiles(dir, skip, before);
    console.log(`node with an unopenable log ready ${readyMs} ms after its restart began`);
  }, 90_000);

  it('(b) a log that fails while running: leadership moves, the node serves the rest, no clean-shutdown marker', async () => {
    cluster = await startCluster({ nodes: 3 });
    const c = cluster;
    // Small segments: every append of a ~3 KB batch rolls a new segment file.
    const victim = await setup(c, { 'segment.bytes': '4096' });
    await produce(c.bootstrapServers, 'doomed', 1, 10, 3000);
    const dir = partitionDir(c, victim, 'doomed', 0);
    const dataDir = c.node(victim).config.dataDir;
    const labels = { topic: 'doomed', partition: '0' };
    const logEndOffset = await waitFor('the leader of doomed-0 at 10 records, high watermark there', async () => {
      const leo = await gauge(c, victim, 'tributary_partition_log_end_offset', labels);
      const hw = await gauge(c, victim, 'tributary_partition_high_watermark', labels);
      return leo === 10 && hw === 10 ? leo : undefined;
    }, WAIT_MS);
    // The next roll cannot create its segment file: the disk "fails" under the running log.
    const obstacle = segmentName(logEndOffset);
    await mkdir(join(dir, obstacle));
    const skip = new Set([obstacle]);

    const failedAt = Date.now();
    await produce(c.bootstrapServers, 'doomed', 1, 1, 3000); // acks=all: fails on the victim, retried at the new leader
    const movedMs = Date.now() - failedAt;
    expect(await gauge(c, victim, 'tributary_offline_replicas')).toBe(1);
    const observer = [1, 2, 3].find((id) => id !== victim)!;
    const state = await waitPartition(c, observer, 'doomed', 0, `node ${victim}'s replica of doomed-0 offline`,
      (x) => x.offlineReplicas.includes(victim) && x.leader >= 0 && x.leader !== victim);
    expect(state.isr).not.toContain(victim);
    expect(await describeOffline(c, observer, 'doomed')).toEqual([victim]);
    expect(c.node(victim).cluster?.lifecycleState).toBe('running'); // still registered and unfenced
    expect(c.node(victim).cluster?.started).toBe(true);
    const before = await snapshotFiles(dir, skip);
    expect(before.size).toBeGreaterThan(0);

    await expectServes(c, victim, 'healthy', 3, 30);
    await produce(c.bootstrapServers, 'doomed', 1, 3, 3000);
    expect(await consumeCount(c.bootstrapServers, 'doomed', 1, 14)).toBe(14);
    await expectSameFiles(dir, skip, before);

    await c.kill(victim);
    expect(await exists(join(dataDir, CLEAN_SHUTDOWN_FILE))).toBe(false); // the next start registers unclean
    await expectSameFiles(dir, skip, before);
    // The next start: the log still cannot open (its segment name is taken); the node serves the rest.
    await c.restart(victim);
    await c.waitForReady(WAIT_MS);
    await waitFor(`node ${victim} reports doomed-0 offline again`, async () => ((await gauge(c, victim, 'tributary_offline_replicas')) === 1 ? true : undefined), WAIT_MS);
    await waitPartition(c, observer, 'doomed', 0, 'doomed-0 offline on the victim after its restart', (x) => x.offlineReplicas.includes(victim) && x.leader !== victim);
    await expectServes(c, victim, 'healthy', 3, 45);
    await expectSameFiles(dir, skip, before, INDEX_FILE);
    console.log(`leadership of the failed log moved and an acks=all produce succeeded ${movedMs} ms after the failure`);
  }, 120_000);
});
