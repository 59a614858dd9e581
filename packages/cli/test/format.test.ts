import { describe, expect, it } from 'vitest';
import { compileRecordTemplate, recordJsonLine, type RecordView } from '../src/format/record.js';
import { renderTable } from '../src/format/table.js';
import { clusterJson, computeClusterHealth, renderHealth, renderTopic, topicJson, type ClusterView, type TopicView } from '../src/format/views.js';

const enc = new TextEncoder();
const record: RecordView = {
  topic: 'orders',
  partition: 2,
  offset: 17,
  timestampMs: 1_700_000_000_123,
  key: enc.encode('k1'),
  value: enc.encode('hello'),
  headers: [
    { key: 'trace', value: enc.encode('abc') },
    { key: 'n', value: null },
  ],
};

describe('record output', () => {
  it('prints json lines with the documented keys', () => {
    const line = recordJsonLine(record);
    expect(line.endsWith('\n')).toBe(true);
    const parsed = JSON.parse(line);
    expect(Object.keys(parsed)).toEqual(['topic', 'partition', 'offset', 'timestamp', 'key', 'value', 'headers']);
    expect(parsed).toEqual({
      topic: 'orders',
      partition: 2,
      offset: 17,
      timestamp: 1_700_000_000_123,
      key: 'k1',
      value: 'hello',
      headers: { trace: 'abc', n: null },
    });
    expect(JSON.parse(recordJsonLine({ ...record, key: null, value: null })).key).toBeNull();
  });

  it('expands every template token and escape', () => {
    const format = compileRecordTemplate('%t|%p|%o|%k|%v|%h|%T|100%%\\t.\\n');
    expect(format(record)).toBe('orders|2|17|k1|hello|trace=abc,n=|1700000000123|100%\t.\n');
    expect(compileRecordTemplate('%v')({ ...record, value: null })).toBe('');
  });

  it('rejects unknown tokens and escapes', () => {
    expect(() => compileRecordTemplate('%x')).toThrow(/unknown token '%x'/);
    expect(() => compileRecordTemplate('abc%')).toThrow(/unknown token '%'/);
    expect(() => compileRecordTemplate('\\q')).toThrow(/unknown escape/);
  });
});

const topic: TopicView = {
  name: 't',
  partitions: [
    { partition: 0, leader: 1, replicas: [1, 2, 3], isr: [1, 2, 3], leaderEpoch: 4, logStartOffset: 0, highWatermark: 10 },
    { partition: 1, leader: -1, replicas: [2, 3, 1], isr: [2], leaderEpoch: 5, logStartOffset: 3, highWatermark: 7 },
  ],
  configs: { 'retention.ms': '1000' },
};

const cluster: ClusterView = {
  clusterId: 'c1',
  controller: { leaderId: 1, term: 3 },
  nodes: [
    { id: 2, roles: ['broker'], address: 'h2:9092', fenced: true },
    { id: 1, roles: ['broker', 'controller'], address: 'h1:9092', fenced: false },
  ],
};

describe('views', () => {
  it('topic json has exactly the contract keys', () => {
    const json = topicJson({ ...topic, extra: 1 } as TopicView) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['name', 'partitions', 'configs']);
    const partitions = json['partitions'] as Record<string, unknown>[];
    expect(Object.keys(partitions[0] ?? {})).toEqual([
      'partition', 'leader', 'replicas', 'isr', 'leaderEpoch', 'logStartOffset', 'highWatermark',
    ]);
  });

  it('topic text is a table with one row per partition', () => {
    const text = renderTopic(topic, 'text');
    expect(text).toMatch(/PARTITION\s+LEADER\s+EPOCH\s+REPLICAS\s+ISR/);
    expect(text).toMatch(/\n1\s+none\s+5\s+\[2,3,1\]\s+\[2\]\s+3\s+7\n/);
    expect(text).toMatch(/retention\.ms\s+1000/);
  });

  it('cluster json has the contract keys, nodes sorted by id', () => {
    expect(clusterJson(cluster)).toEqual({
      clusterId: 'c1',
      controller: { leaderId: 1, term: 3 },
      nodes: [
        { id: 1, roles: ['broker', 'controller'], address: 'h1:9092', fenced: false },
        { id: 2, roles: ['broker'], address: 'h2:9092', fenced: true },
      ],
    });
  });

  it('health finds offline and under-replicated partitions and fenced brokers', () => {
    const health = computeClusterHealth(cluster, [topic]);
    expect(health.healthy).toBe(false);
    expect(health.fencedBrokers).toEqual([2]);
    expect(health.offlinePartitions).toEqual([{ topic: 't', partition: 1 }]);
    expect(health.underReplicatedPartitions).toEqual([{ topic: 't', partition: 1 }]);
    expect(health.unhealthyReasons).toEqual(['fenced_brokers', 'offline_partitions', 'under_replicated_partitions']);
    const healthy = computeClusterHealth({ ...cluster, nodes: cluster.nodes.filter((n) => !n.fenced) }, [
      { ...topic, partitions: topic.partitions.slice(0, 1) },
    ]);
    expect(healthy.healthy).toBe(true);
    expect(healthy.unhealthyReasons).toEqual([]);
  });

  it('health lists replicas whose log failed on a broker that is otherwise up', () => {
    const p = { partition: 0, leader: 1, replicas: [1, 2], isr: [1], leaderEpoch: 1, logStartOffset: 0, highWatermark: 0, offlineReplicas: [2] };
    const up = { ...cluster, nodes: cluster.nodes.map((n) => ({ ...n, fenced: false })) };
    const health = computeClusterHealth(up, [{ name: 'x', partitions: [p], configs: {} }]);
    expect(health.offlineReplicas).toEqual([{ topic: 'x', partition: 0, nodeId: 2 }]);
    expect(health.offlinePartitions).toEqual([]);
    expect(health.unhealthyReasons).toEqual(['under_replicated_partitions', 'offline_replicas']);
    expect(renderHealth(health, 'text')).toContain('x/0@2');
  });

  it('a leader on a fenced broker counts as offline', () => {
    const p = { partition: 0, leader: 2, replicas: [2], isr: [2], leaderEpoch: 1, logStartOffset: 0, highWatermark: 0 };
    expect(computeClusterHealth(cluster, [{ name: 'x', partitions: [p], configs: {} }]).offlinePartitions).toEqual([
      { topic: 'x', partition: 0 },
    ]);
  });

  it('tables align columns', () => {
    expect(renderTable(['a', 'bb'], [['xxx', 1], [null, 22]])).toBe('A    BB\nxxx  1\n-    22\n');
  });
});
