// Three combined-mode nodes in one process: elections, topics through any node, controller failover,
// converging images.
import { imageHash } from '@tributary/controller/metadata';
import { afterEach, describe, expect, it } from 'vitest';
import { call, codeName } from '../helpers.js';
import { TestCluster, waitFor } from './cluster-harness.js';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

async function createTopic(c: TestCluster, via: number, name: string, partitions: number, rf: number): Promise<string> {
  const admin = c.admin(via);
  const res = await call(admin, admin.createTopics, { topics: [{ name, numPartitions: partitions, replicationFactor: rf }] });
  return codeName(res.topics[0]?.error);
}

function hashes(c: TestCluster): string[] {
  return [...c.nodes.values()].map((n) => imageHash(n.cluster!.follower.image));
}

describe('cluster mode (3 combined nodes)', () => {
  it('elects a controller, creates topics through any node, survives the loss of the active controller', async () => {
    const t0 = Date.now();
    cluster = await TestCluster.start(3);
    const c = cluster;
    await waitFor(() => [...c.nodes.values()].every((n) => n.metadata.brokers().filter((b) => !b.fenced).length === 3), 'three unfenced brokers everywhere');
    const readyMs = Date.now() - t0;
    console.log(`3-node in-process cluster: start to ready (3 unfenced brokers) ${readyMs} ms`);

    const active = c.activeController()!;
    expect(active).toBeDefined();
    const others = [1, 2, 3].filter((id) => id !== active.nodeId);
    // Through a node that is not the controller: forwarded, and visible on that node when it answers.
    expect(await createTopic(c, others[0]!, 'orders', 3, 3)).toBe('NONE');
    expect(c.node(others[0]!).metadata.topic('orders')?.partitions).toHaveLength(3);
    expect(await createTopic(c, active.nodeId, 'payments', 2, 1)).toBe('NONE');
    expect(await createTopic(c, others[1]!, 'orders', 1, 1)).toBe('TOPIC_ALREADY_EXISTS');
    await waitFor(() => new Set(hashes(c)).size === 1, 'images converge');
    const describe = await call(c.admin(others[1]!), c.admin(others[1]!).describeCluster, {});
    expect(describe.controllerLeaderId).toBe(active.nodeId);
    expect(describe.nodes.map((n) => n.id).sort()).toEqual([1, 2, 3]);

    // Kill the active controller (no controlled shutdown): a new one within a few election timeouts.
    const killedAt = Date.now();
    const oldTerm = active.cluster!.controller!.status().term;
    await c.stopNode(active.nodeId, { controlledShutdown: false });
    const electedMs = await waitFor(() => c.activeController() !== undefined, 'a new active controller', 5_000);
    console.log(`controller failover: new active controller ${electedMs} ms after the kill (election timeout 300 ms)`);
    const successor = c.activeController()!;
    expect(successor.nodeId).not.toBe(active.nodeId);
    expect(successor.cluster!.controller!.status().term).toBeGreaterThan(oldTerm);
    expect(Date.now() - killedAt).toBeLessThan(5_000);

    // Nothing lost; new topics can be created through either survivor.
    for (const n of c.nodes.values()) expect(n.metadata.topics().map((t) => t.name)).toEqual(['orders', 'payments']);
    const survivor = others.find((id) => id !== successor.nodeId) ?? successor.nodeId;
    expect(await createTopic(c, survivor, 'after-failover', 2, 2)).toBe('NONE');
    for (const n of c.nodes.values()) await waitFor(() => n.metadata.topic('after-failover') !== undefined, `node ${n.nodeId} sees the new topic`);

    // The killed node comes back, catches up, and every image is identical.
    await c.startNode(active.nodeId);
    await waitFor(() => new Set(hashes(c)).size === 1 && c.nodes.size === 3, 'images converge after restart');
    expect(c.node(active.nodeId).metadata.topics().map((t) => t.name)).toEqual(['after-failover', 'orders', 'payments']);
  });
});
