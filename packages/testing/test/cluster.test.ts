// startCluster: N real nodes in this process. Start to ready is measured; the harness's kill/restart
// drive a controller failover (combined mode) and a broker crash (dedicated controllers).
import { afterEach, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, type ConsumerRecord } from '@tributary/client';
import { startCluster, type InProcessCluster } from '../src/index.js';

let cluster: InProcessCluster | undefined;
const admins: Admin[] = [];
afterEach(async () => {
  await Promise.allSettled(admins.splice(0).map((a) => a.close()));
  await cluster?.stop();
  cluster = undefined;
});

function admin(bootstrap: string): Admin {
  const a = new Admin({ 'bootstrap.servers': bootstrap });
  admins.push(a);
  return a;
}

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('startCluster (in-process)', () => {
  it('refuses shapes that cannot form a cluster before starting anything', async () => {
    await expect(startCluster({ nodes: 0 })).rejects.toThrow(RangeError);
    await expect(startCluster({ topology: { controllers: 0, brokers: 3 } })).rejects.toThrow(/at least one controller/);
    await expect(startCluster({ electionTimeoutMs: 10 })).rejects.toThrow(/electionTimeoutMs/);
  });

  it('3 combined nodes: ready fast, topics through any broker, a new controller after the active one is killed', async () => {
    cluster = await startCluster({ nodes: 3 });
    const c = cluster;
    console.log(`startCluster({ nodes: 3 }): start to ready ${c.startupMs} ms`);
    expect(c.startupMs).toBeGreaterThan(0);
    expect(c.brokers.map((b) => b.nodeId)).toEqual([1, 2, 3]);
    expect(c.bootstrapServers.split(',')).toHaveLength(3);
    const first = c.activeController();
    expect(first).toBeDefined();

    const a = admin(c.bootstrapServers);
    await a.createTopics([{ topic: 'orders', numPartitions: 3, replicationFactor: 3 }]);
    const described = await a.describeCluster();
    expect(described.controller.leaderId).toBe(first);
    expect(described.nodes.map((n) => n.id).sort()).toEqual([1, 2, 3]);
    expect(described.nodes.every((n) => !n.fenced)).toBe(true);

    // Records through the cluster (acks=all over three replicas).
    const producer = new Producer({ 'bootstrap.servers': c.bootstrapServers, acks: 'all', 'linger.ms': 1 });
    try {
      await Promise.all(Array.from({ length: 30 }, (_, i) => producer.send({ topic: 'orders', key: `k${i}`, value: `v${i}` })));
    } finally {
      await producer.close();
    }
    const consumer = new Consumer({ 'bootstrap.servers': c.bootstrapServers, 'auto.offset.reset': 'earliest' });
    const seen: ConsumerRecord[] = [];
    try {
      consumer.assign([0, 1, 2].map((partition) => ({ topic: 'orders', partition })));
      await waitFor('30 records consumed', async () => {
        seen.push(...await consumer.poll({ timeoutMs: 500 }));
        return seen.length >= 30 ? true : undefined;
      }, 20_000);
    } finally {
      await consumer.close();
    }
    expect(new Set(seen.map((r) => r.value?.toString())).size).toBe(30);

    // Kill the active controller (no controlled shutdown): another one takes over.
    const killedAt = Date.now();
    await c.kill(first!);
    expect(c.isRunning(first!)).toBe(false);
    const successor = await waitFor('a new active controller', () => c.activeController(), 5_000);
    console.log(`in-process controller failover: ${Date.now() - killedAt} ms (election timeout 300 ms)`);
    expect(successor).not.toBe(first);

    const survivor = c.brokers.find((b) => b.nodeId !== first)!;
    const b = admin(survivor.address);
    await b.createTopics([{ topic: 'after-failover', numPartitions: 2, replicationFactor: 2 }]);
    // The forwarding broker has applied it when createTopics returns; the admin may ask the other
    // survivor, which follows the metadata log a moment later.
    await waitFor('every survivor to see the new topic', () => (c.brokers.filter((x) => x.nodeId !== first)
      .every((x) => c.node(x.nodeId).metadata.topics().some((t) => t.name === 'after-failover')) ? true : undefined), 5_000);
    expect((await b.listTopics()).map((t) => t.name)).toEqual(['after-failover', 'orders']);

    // Back on the same port and data: it catches up and is unfenced.
    await c.restart(first!);
    await c.waitForReady();
    expect(c.node(first!).metadata.topics().map((t) => t.name).sort()).toEqual(['after-failover', 'orders']);
  });

  it('3 controllers + 3 brokers: a killed broker is fenced and its leaderships move; restarted, it is unfenced', async () => {
    cluster = await startCluster({ topology: { controllers: 3, brokers: 3 } });
    const c = cluster;
    console.log(`startCluster({ controllers: 3, brokers: 3 }): start to ready ${c.startupMs} ms`);
    expect(c.controllers.map((n) => n.nodeId)).toEqual([1, 2, 3]);
    expect(c.brokers.map((n) => n.nodeId)).toEqual([4, 5, 6]);
    expect(c.bootstrapServers.split(',')).toEqual(c.brokers.map((b) => b.address));

    const a = admin(c.bootstrapServers);
    // DescribeCluster lists the dedicated controllers (known from the voters) beside the brokers.
    const described = await a.describeCluster();
    expect(described.nodes.map((n) => [n.id, [...n.roles].sort().join(',')])).toEqual([
      [1, 'controller'], [2, 'controller'], [3, 'controller'], [4, 'broker'], [5, 'broker'], [6, 'broker'],
    ]);
    await a.createTopics([{ topic: 'events', numPartitions: 3, replicationFactor: 3 }]);
    const before = (await a.describeTopics(['events']))[0]!;
    const victim = before.partitions[0]!.leader;
    expect([4, 5, 6]).toContain(victim);

    const killedAt = Date.now();
    await c.kill(victim);
    await waitFor('the killed broker fenced', async () => {
      const cl = await a.describeCluster();
      return cl.nodes.find((n) => n.id === victim)?.fenced === true ? true : undefined;
    }, 10_000);
    console.log(`in-process broker fencing: ${Date.now() - killedAt} ms after the kill (session timeout 2000 ms)`);
    const after = await waitFor('the killed broker\'s leaderships moved', async () => {
      const ps = (await a.describeTopics(['events']))[0]!.partitions;
      return ps.every((p) => p.leader >= 0 && p.leader !== victim) ? ps : undefined;
    }, 5_000);
    for (const p of after) {
      const old = before.partitions[p.partition]!;
      if (old.leader === victim) {
        expect(old.isr).toContain(p.leader);
        expect(p.leaderEpoch).toBeGreaterThan(old.leaderEpoch);
      }
    }

    await c.restart(victim);
    await c.waitForReady();
    const cl = await a.describeCluster();
    expect(cl.nodes.find((n) => n.id === victim)?.fenced).toBe(false);
  });
});
