// A whole cluster goes down and comes back one node at a time (as after a power cut, or `npm start`
// run again): every acknowledged record is still there. The first node back has no quorum yet, so
// it must not act on a metadata image it has not caught up on (e.g. delete its logs as "strays").
import { afterEach, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, type ConsumerRecord } from '@tributary/client';
import { startCluster, type InProcessCluster } from '../src/index.js';

let cluster: InProcessCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

const RECORDS = 300;

async function consumeAll(bootstrap: string, topic: string, partitions: number, count: number, timeoutMs: number): Promise<ConsumerRecord[]> {
  const consumer = new Consumer({ 'bootstrap.servers': bootstrap, 'auto.offset.reset': 'earliest' });
  const seen: ConsumerRecord[] = [];
  try {
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
    const deadline = Date.now() + timeoutMs;
    while (seen.length < count && Date.now() < deadline) seen.push(...await consumer.poll({ timeoutMs: 500 }));
  } finally {
    await consumer.close();
  }
  return seen;
}

describe('startCluster: whole-cluster restart', () => {
  it('keeps every acknowledged record when all nodes stop and come back one by one', async () => {
    cluster = await startCluster({ nodes: 3 });
    const c = cluster;
    const admin = new Admin({ 'bootstrap.servers': c.bootstrapServers });
    try {
      await admin.createTopics([{ topic: 'durable', numPartitions: 3, replicationFactor: 3 }]);
    } finally {
      await admin.close();
    }
    const producer = new Producer({ 'bootstrap.servers': c.bootstrapServers, acks: 'all', 'linger.ms': 1 });
    try {
      await Promise.all(Array.from({ length: RECORDS }, (_, i) => producer.send({ topic: 'durable', key: `k${i}`, value: `v${i}` })));
    } finally {
      await producer.close();
    }

    for (const b of c.brokers) await c.kill(b.nodeId);
    // The first node back runs alone for a while: no leader, no commit index yet. (It cannot finish
    // starting before a quorum is back, so the others are started without waiting for it.)
    const first = c.restart(1);
    await new Promise((r) => setTimeout(r, 1500));
    await Promise.all([first, c.restart(2), c.restart(3)]);
    await c.waitForReady();

    const seen = await consumeAll(c.bootstrapServers, 'durable', 3, RECORDS, 20_000);
    expect(new Set(seen.map((r) => r.value?.toString())).size).toBe(RECORDS);
  });
});
