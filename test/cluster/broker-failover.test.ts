// Three dedicated controllers + three brokers, each its own process. SIGKILL a broker: within the
// session timeout it is fenced and its partitions get new leaders from their ISR with a higher leader
// epoch. Restart it: it rejoins, is unfenced, and the preferred leaders come back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, type PartitionDescription } from '@tributary/client';
import { startProcessCluster, type ProcessCluster } from '@tributary/testing';
import { FAST_CONFIGS, SESSION_TIMEOUT_MS, canonicalMetadata, waitFor } from './helpers.js';

const TOPIC = 'events';

describe('3 controllers + 3 brokers (processes): broker failover', () => {
  let cluster: ProcessCluster;
  let admin: Admin;

  beforeAll(async () => {
    // The listener probe off: this scenario is the session-timeout path (a host that is gone, not just
    // its process); leader-kill-failover.test.ts covers the probe.
    cluster = await startProcessCluster({ topology: { controllers: 3, brokers: 3 }, configs: { ...FAST_CONFIGS, 'broker.liveness.probe.after.ms': '0' } });
    admin = new Admin({ 'bootstrap.servers': cluster.bootstrapServers, 'request.timeout.ms': 2000, 'default.api.timeout.ms': 5000 });
  }, 60_000);

  afterAll(async () => {
    await admin?.close();
    await cluster?.stop();
  }, 60_000);

  async function partitions(): Promise<readonly PartitionDescription[]> {
    return (await admin.describeTopics([TOPIC]))[0]!.partitions;
  }

  it('fences a killed broker, moves its leaderships within the ISR, and restores preferred leaders after restart', async () => {
    expect(cluster.brokers.map((b) => b.nodeId)).toEqual([4, 5, 6]);
    await waitFor('an active controller and three unfenced brokers', async () => {
      const c = await admin.describeCluster();
      const brokers = c.nodes.filter((n) => n.roles.includes('broker') && !n.fenced);
      return c.controller.leaderId >= 1 && c.controller.leaderId <= 3 && brokers.length === 3 ? true : undefined;
    }, 20_000);
    await admin.createTopics([{ topic: TOPIC, numPartitions: 6, replicationFactor: 3 }]);
    const before = await waitFor('every partition led by its preferred replica', async () => {
      const ps = await partitions();
      return ps.every((p) => p.leader === p.replicas[0]) ? ps : undefined;
    }, 10_000);

    const victim = before[0]!.leader;
    const led = before.filter((p) => p.leader === victim);
    expect(led.length).toBeGreaterThan(0);
    const killedAt = Date.now();
    await cluster.node(victim).kill();

    await waitFor(`broker ${victim} fenced`, async () => {
      const c = await admin.describeCluster();
      return c.nodes.find((n) => n.id === victim)?.fenced === true ? true : undefined;
    }, SESSION_TIMEOUT_MS + 8_000);
    const fencedMs = Date.now() - killedAt;
    const moved = await waitFor(`broker ${victim}'s partitions led by other ISR members`, async () => {
      const ps = await partitions();
      return ps.every((p) => p.leader >= 0 && p.leader !== victim) ? ps : undefined;
    }, 5_000);
    const movedMs = Date.now() - killedAt;
    console.log(`broker failover (processes): broker ${victim} fenced ${fencedMs} ms after SIGKILL, its ${led.length} leaderships moved after ${movedMs} ms (session timeout ${SESSION_TIMEOUT_MS} ms)`);
    // Fenced by the session timeout (plus the controller's check and a loaded machine's slack).
    expect(fencedMs).toBeGreaterThanOrEqual(SESSION_TIMEOUT_MS - 500);
    for (const old of led) {
      const now = moved[old.partition]!;
      expect(old.isr).toContain(now.leader);
      expect(now.leaderEpoch).toBeGreaterThan(old.leaderEpoch);
      expect(now.isr).not.toContain(victim);
    }

    await cluster.node(victim).start();
    await waitFor(`broker ${victim} unfenced`, async () => {
      const c = await admin.describeCluster();
      return c.nodes.find((n) => n.id === victim)?.fenced === false ? true : undefined;
    }, 15_000);
    let last: readonly PartitionDescription[] = [];
    const restored = await waitFor('preferred leaders back (auto.leader.rebalance.enable)', async () => {
      last = await partitions();
      return last.every((p) => p.leader === p.replicas[0]) ? last : undefined;
    }, 20_000).catch((err: unknown) => {
      throw new Error(`${String(err)}; partitions: ${JSON.stringify(last.map((p) => ({ p: p.partition, leader: p.leader, replicas: p.replicas, isr: p.isr })))}`);
    });
    for (const old of led) expect(restored[old.partition]!.leaderEpoch).toBeGreaterThan(moved[old.partition]!.leaderEpoch);

    // Every node (controllers included) answers Metadata with the same content.
    await waitFor('every node answering Metadata with the same content', async () => {
      const forms = (await Promise.all(cluster.nodes.map((n) => cluster.metadata(n.nodeId)))).map(canonicalMetadata);
      return new Set(forms).size === 1 ? true : undefined;
    }, 10_000);
  });
});
