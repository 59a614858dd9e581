// Three combined-mode node processes: SIGKILL the active controller. A new controller is elected
// within a few election timeouts, no metadata is lost, new topics can be created, and once the killed
// node is back every node answers Metadata with the same content.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin } from '@tributary/client';
import { startProcessCluster, type ProcessCluster } from '@tributary/testing';
import { ELECTION_TIMEOUT_MS, FAST_CONFIGS, canonicalMetadata, waitFor } from './helpers.js';

describe('3 combined nodes (processes): controller failover', () => {
  let cluster: ProcessCluster;
  const admins: Admin[] = [];
  const admin = (bootstrap: string): Admin => {
    const a = new Admin({ 'bootstrap.servers': bootstrap, 'request.timeout.ms': 2000, 'default.api.timeout.ms': 5000 });
    admins.push(a);
    return a;
  };

  beforeAll(async () => {
    cluster = await startProcessCluster({ nodes: 3, configs: FAST_CONFIGS });
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(admins.map((a) => a.close()));
    await cluster?.stop();
  }, 60_000);

  it('elects a new controller after SIGKILL, keeps every topic, and converges', async () => {
    const all = admin(cluster.bootstrapServers);
    const before = await waitFor('an active controller and three unfenced brokers', async () => {
      const c = await all.describeCluster();
      return c.controller.leaderId >= 0 && c.nodes.filter((n) => !n.fenced).length === 3 ? c : undefined;
    }, 20_000);
    await all.createTopics([
      { topic: 'orders', numPartitions: 3, replicationFactor: 3 },
      { topic: 'payments', numPartitions: 2, replicationFactor: 2 },
    ]);

    const victim = before.controller.leaderId;
    const survivors = cluster.nodes.filter((n) => n.nodeId !== victim);
    const viaSurvivors = admin(survivors.map((n) => n.address).join(','));
    const killedAt = Date.now();
    await cluster.node(victim).kill();

    const after = await waitFor('a new active controller', async () => {
      const c = await viaSurvivors.describeCluster();
      return c.controller.leaderId >= 0 && c.controller.leaderId !== victim ? c : undefined;
    }, 15_000);
    const failoverMs = Date.now() - killedAt;
    console.log(`controller failover (processes): node ${after.controller.leaderId} active ${failoverMs} ms after SIGKILL of node ${victim} ` +
      `(term ${before.controller.term} -> ${after.controller.term}, election timeout ${ELECTION_TIMEOUT_MS} ms)`);
    expect(after.controller.term).toBeGreaterThan(before.controller.term);
    // "A few election timeouts": a follower campaigns 1-2 timeouts after the last heartbeat, plus PreVote.
    expect(failoverMs).toBeLessThan(10 * ELECTION_TIMEOUT_MS);

    expect((await viaSurvivors.listTopics()).map((t) => t.name)).toEqual(['orders', 'payments']);
    expect((await viaSurvivors.describeTopics(['orders']))[0]!.partitions).toHaveLength(3);
    await viaSurvivors.createTopics([{ topic: 'after-failover', numPartitions: 2, replicationFactor: 2 }]);

    await cluster.node(victim).start();
    const converged = await waitFor('every node answering Metadata with the same content', async () => {
      const answers = await Promise.all(cluster.nodes.map((n) => cluster.metadata(n.nodeId)));
      const forms = answers.map(canonicalMetadata);
      const complete = answers.every((a) => (a.brokers ?? []).length === 3 && (a.topics ?? []).length === 3);
      return complete && new Set(forms).size === 1 ? answers[0]! : undefined;
    }, 20_000);
    expect((converged.topics ?? []).map((t) => t.name).sort()).toEqual(['after-failover', 'orders', 'payments']);
  });
});
