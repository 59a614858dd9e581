// Three combined-mode node processes all SIGKILLed (a power cut), then brought back one at a time
// (the first alone for a while, with no quorum): every acknowledged record is still there. A node
// must not act on metadata it has not caught up on — e.g. take its own controller's empty image
// (nothing committed yet after the restart) as the truth and delete its partition logs as strays.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, type ConsumerRecord } from '@tributary/client';
import { startProcessCluster, type ProcessCluster } from '@tributary/testing';
import { FAST_CONFIGS, waitFor } from './helpers.js';

const TOPIC = 'durable';
const PARTITIONS = 3;
const RECORDS = 300;
/** How long the first node runs alone before the others come back. */
const ALONE_MS = 2000;

describe('3 combined nodes (processes): restart after all are killed', () => {
  let cluster: ProcessCluster;

  beforeAll(async () => {
    cluster = await startProcessCluster({ nodes: 3, configs: FAST_CONFIGS });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('keeps every acknowledged record', async () => {
    const admin = new Admin({ 'bootstrap.servers': cluster.bootstrapServers, 'request.timeout.ms': 2000, 'default.api.timeout.ms': 5000 });
    try {
      await waitFor('three unfenced brokers', async () => {
        const c = await admin.describeCluster();
        return c.controller.leaderId >= 0 && c.nodes.filter((n) => !n.fenced).length === 3 ? true : undefined;
      }, 20_000);
      await admin.createTopics([{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }]);
    } finally {
      await admin.close();
    }
    const producer = new Producer({ 'bootstrap.servers': cluster.bootstrapServers, acks: 'all', 'linger.ms': 1 });
    try {
      await Promise.all(Array.from({ length: RECORDS }, (_, i) => producer.send({ topic: TOPIC, key: `k${i}`, value: `v${i}` })));
    } finally {
      await producer.close();
    }

    await Promise.all(cluster.nodes.map((n) => n.kill()));
    const first = cluster.node(1).start().catch(() => {}); // may not count as ready until the quorum is back
    await new Promise((r) => setTimeout(r, ALONE_MS));
    await Promise.all([cluster.node(2).start(), cluster.node(3).start(), first]);
    if (cluster.node(1).state !== 'running') await cluster.node(1).start();

    const consumer = new Consumer({ 'bootstrap.servers': cluster.bootstrapServers, 'auto.offset.reset': 'earliest', 'request.timeout.ms': 2000 });
    const seen: ConsumerRecord[] = [];
    try {
      consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: TOPIC, partition })));
      await waitFor(`all ${RECORDS} records consumed`, async () => {
        seen.push(...await consumer.poll({ timeoutMs: 500 }));
        return new Set(seen.map((r) => r.value?.toString())).size >= RECORDS ? true : undefined;
      }, 20_000).catch((err: unknown) => {
        throw new Error(`${String(err)}; consumed ${new Set(seen.map((r) => r.value?.toString())).size} distinct of ${RECORDS}`);
      });
    } finally {
      await consumer.close();
    }
    expect(new Set(seen.map((r) => r.value?.toString())).size).toBe(RECORDS);
  });
});
