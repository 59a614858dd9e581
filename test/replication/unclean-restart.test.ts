// A replica that lost its unflushed tail (power loss) must never cost acknowledged records while
// another replica still has them (issue 5, "Unclean shutdown"; docs/replication.md). One controller
// process and three broker processes, RF=3, min.insync.replicas=2, partition data not fsynced (the
// default: replication is the durability). Power loss is approximated as in the chaos suite: SIGKILL,
// then cut the tail of the node's partition segment files.
//   (a) the leader loses its tail and restarts at once, before its session expires: it must not lead
//       its old epoch with the shorter log (followers would truncate to it);
//   (b) the last ISR member loses its tail while the other replicas are down: when all come back, the
//       partition recovers from the longest log instead of electing the suspect member (KIP-966).
import { readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer } from '@tributary/client';
import type { ProcessCluster } from '@tributary/testing';
import { SESSION_TIMEOUT_MS, describePartitions, readAll, startReplicationCluster, waitFor, waitFullIsr } from './helpers.js';

const TOPIC_CONFIGS = { 'min.insync.replicas': '2' };

/** Power loss on a stopped node: every segment of `topic`-`partition` loses the second half of its bytes. */
function cutTail(cluster: ProcessCluster, nodeId: number, topic: string, partition: number): number {
  const dir = join(cluster.node(nodeId).options.dataDir, `${topic}-${partition}`);
  let cut = 0;
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.log'))) {
    const path = join(dir, name);
    const size = statSync(path).size;
    truncateSync(path, Math.floor(size / 2));
    cut += size - Math.floor(size / 2);
  }
  return cut;
}

async function produceAcked(bootstrapServers: string, topic: string, prefix: string, count: number): Promise<string[]> {
  const producer = new Producer({ 'bootstrap.servers': bootstrapServers, acks: 'all', 'linger.ms': 0, 'request.timeout.ms': 3000, 'delivery.timeout.ms': 10_000 });
  const acked: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      await producer.send({ topic, partition: 0, value: `${prefix}-${i}-${'x'.repeat(200)}` });
      acked.push(`${prefix}-${i}-${'x'.repeat(200)}`);
    }
  } finally {
    await producer.close({ timeoutMs: 5000 });
  }
  return acked;
}

function expectEachOnce(values: readonly (string | undefined)[], acked: readonly string[]): void {
  const counts = new Map<string, number>();
  for (const v of values) if (v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
  const missing = acked.filter((v) => counts.get(v) === undefined);
  const duplicated = acked.filter((v) => (counts.get(v) ?? 0) > 1);
  expect({ missing: missing.length, duplicated: duplicated.length }).toEqual({ missing: 0, duplicated: 0 });
}

describe('unclean restarts (power loss) never lose acknowledged records another replica has', () => {
  let cluster: ProcessCluster;
  let admin: Admin;

  beforeAll(async () => {
    // No preferred-leader rebalance: (b) checks which replica the recovery election picked, and the
    // rebalance would soon hand leadership back to the preferred replica once it caught up.
    ({ cluster, admin } = await startReplicationCluster({
      topology: { controllers: 1, brokers: 3 }, configs: { 'auto.leader.rebalance.enable': 'false' },
      ...(process.env['TRIB_KEEP_DIR'] === undefined ? {} : { dataDir: process.env['TRIB_KEEP_DIR'] }),
    }, 10_000));
  }, 60_000);

  afterAll(async () => {
    await admin?.close();
    await cluster?.stop();
  }, 60_000);

  it('(a) a leader that lost its tail and restarted at once does not lead its old epoch', async () => {
    const topic = 'leader-power-loss';
    await admin.createTopics([{ topic, numPartitions: 1, replicationFactor: 3, configs: TOPIC_CONFIGS }]);
    const [before] = await waitFullIsr(admin, topic, 10_000);
    const acked = await produceAcked(cluster.bootstrapServers, topic, 'a', 200);
    const leader = before!.leader;
    await cluster.node(leader).kill();
    const cutBytes = cutTail(cluster, leader, topic, 0);
    const restartedAt = Date.now();
    await cluster.node(leader).start(); // well inside its session: the controller still names it leader
    const [after] = await waitFullIsr(admin, topic, 30_000);
    const recoveredMs = Date.now() - restartedAt;
    expect(after!.leaderEpoch).toBeGreaterThan(before!.leaderEpoch);
    const more = await produceAcked(cluster.bootstrapServers, topic, 'a-after', 10);
    const values = (await readAll(cluster.bootstrapServers, topic, 1, admin)).map((r) => r.value?.toString());
    expectEachOnce(values, [...acked, ...more]);
    console.log(`unclean restart (a): leader ${leader} lost ${cutBytes} bytes of its log tail and restarted at once; `
      + `full ISR again after ${recoveredMs} ms (leader ${after!.leader}, epoch ${before!.leaderEpoch} -> ${after!.leaderEpoch}); all ${acked.length + more.length} acknowledged records present once`);
  }, 90_000);

  it('(b) the last ISR member lost its tail: the longest replica log leads when all are back', async () => {
    const topic = 'last-isr-power-loss';
    await admin.createTopics([{ topic, numPartitions: 1, replicationFactor: 3, configs: TOPIC_CONFIGS }]);
    const [p0] = await waitFullIsr(admin, topic, 10_000);
    const acked = await produceAcked(cluster.bootstrapServers, topic, 'b', 200);
    const last = p0!.leader;
    const followers = p0!.replicas.filter((id) => id !== last);
    await Promise.all(followers.map((id) => cluster.node(id).kill()));
    // Their sessions expire: fenced, out of the ISR; the leader stays as the last ISR member.
    await waitFor('ISR = [last member]', async () => {
      const [p] = await describePartitions(admin, topic);
      return p!.isr.length === 1 && p!.isr[0] === last ? true : undefined;
    }, SESSION_TIMEOUT_MS * 5);
    await cluster.node(last).kill();
    const cutBytes = cutTail(cluster, last, topic, 0);
    // No broker answers now; let the controller fence it (partition offline, ISR [last]).
    await new Promise((resolve) => setTimeout(resolve, SESSION_TIMEOUT_MS * 2));

    const restartedAt = Date.now();
    // The suspect member first, alone: it must not be elected.
    await cluster.node(last).start();
    await new Promise((resolve) => setTimeout(resolve, SESSION_TIMEOUT_MS));
    const [alone] = await describePartitions(admin, topic);
    expect(alone!.leader).toBe(-1);
    await Promise.all(followers.map((id) => cluster.node(id).start()));
    const [led] = await waitFor('a leader', async () => {
      const ps = await describePartitions(admin, topic);
      return ps[0]!.leader >= 0 ? ps : undefined;
    }, 30_000);
    const electedMs = Date.now() - restartedAt;
    expect(followers).toContain(led!.leader);
    await waitFullIsr(admin, topic, 30_000);
    const more = await produceAcked(cluster.bootstrapServers, topic, 'b-after', 10);
    const values = (await readAll(cluster.bootstrapServers, topic, 1, admin)).map((r) => r.value?.toString());
    expectEachOnce(values, [...acked, ...more]);
    console.log(`unclean restart (b): last ISR member ${last} lost ${cutBytes} bytes; stayed offline alone; `
      + `with all replicas back, ${led!.leader} (the longest log) led ${electedMs} ms after the first restart; all ${acked.length + more.length} acknowledged records present once`);
  }, 120_000);
});
