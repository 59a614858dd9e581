import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, codeName, createTopic, startTestNode, type TestNode } from './helpers.js';
import { tributary } from '@tributary/protocol';

describe('Admin API on one node', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode();
  });
  afterAll(async () => {
    await t.close();
  });

  it('creates, lists, describes and deletes topics', async () => {
    const created = await call(t.admin, t.admin.createTopics, {
      topics: [{ name: 'orders', numPartitions: 3, replicationFactor: 1, configs: { 'retention.ms': '60000' } }],
    });
    expect(codeName(created.topics[0]?.error)).toBe('NONE');
    expect(created.topics[0]?.numPartitions).toBe(3);
    // The controller's topic ids, printed as Kafka prints a Uuid (22 characters of base64url).
    expect(created.topics[0]?.topicId).toMatch(/^[A-Za-z0-9_-]{22}$/);

    const list = await call(t.admin, t.admin.listTopics, {});
    expect(list.topics.map((x) => x.name)).toContain('orders');

    const described = await call(t.admin, t.admin.describeTopics, { names: ['orders'] });
    const topic = described.topics[0];
    expect(codeName(topic?.error)).toBe('NONE');
    expect(topic?.partitions?.map((p) => [p.partition, p.leader, p.replicas, p.isr, p.leaderEpoch, Number(p.highWatermark), Number(p.logStartOffset)]))
      .toEqual([[0, 1, [1], [1], 0, 0, 0], [1, 1, [1], [1], 0, 0, 0], [2, 1, [1], [1], 0, 0, 0]]);
    const retention = topic?.configs?.find((c) => c.name === 'retention.ms');
    expect(retention).toMatchObject({ value: '60000', isDefault: false });
    expect(topic?.configs?.find((c) => c.name === 'max.message.bytes')).toMatchObject({ value: '1048576', isDefault: true });

    const deleted = await call(t.admin, t.admin.deleteTopics, { names: ['orders', 'never-existed'] });
    expect(deleted.topics.map((d) => codeName(d.error))).toEqual(['NONE', 'UNKNOWN_TOPIC_OR_PARTITION']);
    const after = await call(t.admin, t.admin.describeTopics, { names: ['orders'] });
    expect(codeName(after.topics[0]?.error)).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('rejects illegal topic names with INVALID_TOPIC_EXCEPTION and duplicates with TOPIC_ALREADY_EXISTS', async () => {
    await createTopic(t, 'dup.name');
    const names = ['', 'x'.repeat(250), 'bad name', 'bad/name', 'é', '.', '..', 'dup.name', 'dup_name'];
    const res = await call(t.admin, t.admin.createTopics, {
      topics: names.map((name) => ({ name: name === '' ? 'placeholder' : name, numPartitions: 1, replicationFactor: 1 })),
    });
    // '' is a malformed request (tested below); here the rest:
    expect(res.topics.slice(1).map((r) => codeName(r.error))).toEqual([
      'INVALID_TOPIC_EXCEPTION', 'INVALID_TOPIC_EXCEPTION', 'INVALID_TOPIC_EXCEPTION', 'INVALID_TOPIC_EXCEPTION',
      'INVALID_TOPIC_EXCEPTION', 'INVALID_TOPIC_EXCEPTION', 'TOPIC_ALREADY_EXISTS', 'INVALID_TOPIC_EXCEPTION',
    ]);
    expect(res.topics[8]?.error?.message).toMatch(/collides with existing topic dup\.name/);
    // 249 characters is the maximum and allowed.
    await createTopic(t, 'y'.repeat(249));
  });

  it('answers a missing topic name with INVALID_ARGUMENT naming the field', async () => {
    const err = await call(t.admin, t.admin.createTopics, { topics: [{ name: 'ok', numPartitions: 1, replicationFactor: 1 }, { name: '', numPartitions: 1 }] })
      .then(() => undefined, (e: unknown) => e as { code: number; details: string });
    expect(err?.code).toBe(3); // INVALID_ARGUMENT
    expect(err?.details).toContain('topics[1].name');
  });

  it('rejects partitions 0 or negative, and a replication factor above the live brokers', async () => {
    const res = await call(t.admin, t.admin.createTopics, {
      topics: [
        { name: 'p0', numPartitions: 0, replicationFactor: 1 },
        { name: 'pneg', numPartitions: -5, replicationFactor: 1 },
        { name: 'rf2', numPartitions: 1, replicationFactor: 2 },
        { name: 'defaults', numPartitions: -1, replicationFactor: -1 },
      ],
    });
    expect(res.topics.map((r) => codeName(r.error))).toEqual(['INVALID_PARTITIONS', 'INVALID_PARTITIONS', 'INVALID_REPLICATION_FACTOR', 'NONE']);
    expect(res.topics[3]).toMatchObject({ numPartitions: 1, replicationFactor: 1 });
  });

  it('validate_only creates nothing', async () => {
    const res = await call(t.admin, t.admin.createTopics, { validateOnly: true, topics: [{ name: 'dry', numPartitions: 2, replicationFactor: 1 }] });
    expect(codeName(res.topics[0]?.error)).toBe('NONE');
    const described = await call(t.admin, t.admin.describeTopics, { names: ['dry'] });
    expect(codeName(described.topics[0]?.error)).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('describes and alters topic configs; bad keys and values are INVALID_CONFIG', async () => {
    await createTopic(t, 'cfg');
    const resource = { type: tributary.v1.ConfigResourceType.TOPIC, name: 'cfg' };
    const bad = await call(t.admin, t.admin.alterConfigs, { resources: [{ resource, configs: [{ name: 'retention.msx', value: '1' }] }] });
    expect(codeName(bad.results[0]?.error)).toBe('INVALID_CONFIG');
    expect(bad.results[0]?.error?.message).toContain('retention.msx');
    const badValue = await call(t.admin, t.admin.alterConfigs, { resources: [{ resource, configs: [{ name: 'cleanup.policy', value: 'shred' }] }] });
    expect(codeName(badValue.results[0]?.error)).toBe('INVALID_CONFIG');
    const badCreate = await call(t.admin, t.admin.createTopics, { topics: [{ name: 'cfg2', numPartitions: 1, replicationFactor: 1, configs: { 'segment.bytes': 'big' } }] });
    expect(codeName(badCreate.topics[0]?.error)).toBe('INVALID_CONFIG');
    expect(badCreate.topics[0]?.error?.message).toContain('segment.bytes');

    const dry = await call(t.admin, t.admin.alterConfigs, { validateOnly: true, resources: [{ resource, configs: [{ name: 'retention.ms', value: '1000' }] }] });
    expect(codeName(dry.results[0]?.error)).toBe('NONE');
    const set = await call(t.admin, t.admin.alterConfigs, { resources: [{ resource, configs: [{ name: 'retention.ms', value: '5000' }, { name: 'message.timestamp.type', value: 'LogAppendTime' }] }] });
    expect(codeName(set.results[0]?.error)).toBe('NONE');
    const described = await call(t.admin, t.admin.describeConfigs, { resources: [resource] });
    const configs = Object.fromEntries((described.results[0]?.configs ?? []).map((c) => [c.name, [c.value, c.isDefault]]));
    expect(configs['retention.ms']).toEqual(['5000', false]);
    expect(configs['message.timestamp.type']).toEqual(['LogAppendTime', false]);
    expect(configs['segment.bytes']).toEqual([String(1024 ** 3), true]);

    const del = await call(t.admin, t.admin.alterConfigs, { resources: [{ resource, configs: [{ name: 'retention.ms', op: tributary.v1.AlterConfigOp.DELETE }] }] });
    expect(codeName(del.results[0]?.error)).toBe('NONE');
    const again = await call(t.admin, t.admin.describeConfigs, { resources: [resource, { type: tributary.v1.ConfigResourceType.TOPIC, name: 'nope' }] });
    expect(again.results[0]?.configs?.find((c) => c.name === 'retention.ms')).toMatchObject({ value: String(7 * 24 * 3600 * 1000), isDefault: true });
    expect(codeName(again.results[1]?.error)).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('grows partitions and refuses to shrink them', async () => {
    await createTopic(t, 'grow', 2);
    const shrink = await call(t.admin, t.admin.createPartitions, { topics: [{ name: 'grow', count: 1 }, { name: 'grow', count: 2 }] });
    expect(shrink.results.map((r) => codeName(r.error))).toEqual(['INVALID_PARTITIONS', 'INVALID_PARTITIONS']);
    const grow = await call(t.admin, t.admin.createPartitions, { topics: [{ name: 'grow', count: 4 }] });
    expect(codeName(grow.results[0]?.error)).toBe('NONE');
    const md = await call(t.broker, t.broker.metadata, { topics: ['grow'] });
    expect(md.topics[0]?.partitions?.map((p) => p.partition)).toEqual([0, 1, 2, 3]);
  });

  it('describes the cluster and answers Metadata with per-topic errors', async () => {
    const cluster = await call(t.admin, t.admin.describeCluster, {});
    expect(cluster.clusterId).toBe(t.node.clusterId);
    expect(cluster.controllerLeaderId).toBe(1);
    // A node alone is a quorum of one voter on itself: it won the first election, in term 1.
    expect(Number(cluster.controllerTerm)).toBe(1);
    expect(cluster.nodes).toEqual([expect.objectContaining({ id: 1, roles: ['broker', 'controller'], address: t.node.address, fenced: false })]);

    await createTopic(t, 'meta', 2);
    const md = await call(t.broker, t.broker.metadata, { topics: ['meta', 'missing', 'bad name'] });
    expect(md.clusterId).toBe(t.node.clusterId);
    expect(md.controllerId).toBe(1);
    expect(md.brokers?.[0]).toMatchObject({ nodeId: 1, host: '127.0.0.1', port: Number(t.node.address.split(':')[1]) });
    expect(md.topics.map((x) => codeName(x.error))).toEqual(['NONE', 'UNKNOWN_TOPIC_OR_PARTITION', 'INVALID_TOPIC_EXCEPTION']);
    expect(md.topics[0]?.partitions?.[1]).toMatchObject({ partition: 1, leaderId: 1, leaderEpoch: 0, replicas: [1], isr: [1] });
  });
});
