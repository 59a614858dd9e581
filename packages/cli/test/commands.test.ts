// The command layer against an in-memory cluster: flags, output shapes and exit codes.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { run } from '../src/run.js';
import { cli, jsonLines } from './harness.js';
import { FakeCluster } from './fake-cluster.js';

function fake(): FakeCluster {
  return new FakeCluster();
}

describe('global behaviour', () => {
  it('prints help and exits 0', async () => {
    const result = await cli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: tributary');
    for (const command of ['server', 'cluster', 'topic', 'produce', 'consume', 'perf']) expect(result.stdout).toContain(command);
    const topicHelp = await cli(['topic', 'create', '--help']);
    expect(topicHelp.code).toBe(0);
    expect(topicHelp.stdout).toContain('--if-not-exists');
  });

  it('rejects unknown commands and options with a usage error', async () => {
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
    const badOption = await cli(['topic', 'list', '--nope']);
    expect(badOption.code).not.toBe(0);
    expect(badOption.stderr).toMatch(/unknown option '--nope'/);
  });

  it('takes brokers from -b, then TRIBUTARY_BROKERS, then localhost:9092', async () => {
    const cluster = fake();
    await cli(['topic', 'list', '-b', 'a:1,b:2'], { connect: cluster.connect, env: { TRIBUTARY_BROKERS: 'e:3' } });
    await cli(['topic', 'list'], { connect: cluster.connect, env: { TRIBUTARY_BROKERS: 'e:3' } });
    await cli(['topic', 'list'], { connect: cluster.connect });
    expect(cluster.brokersSeen).toEqual([['a:1', 'b:2'], ['e:3'], ['localhost:9092']]);
    const bad = await cli(['topic', 'list', '-b', 'nohostport'], { connect: cluster.connect });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("error: INVALID_ARGUMENT: --brokers: invalid address 'nohostport' (expected host:port)\n");
  });
});

describe('topic', () => {
  it('creates, describes (contract JSON), lists, alters, grows and deletes', async () => {
    const cluster = fake();
    const { connect } = cluster;
    const created = await cli(['topic', 'create', 'orders', '-p', '3', '-r', '1', '-c', 'retention.ms=1000', '-c', 'cleanup.policy=compact'], { connect });
    expect(created).toMatchObject({ code: 0 });
    expect(created.stdout).toMatch(/orders\s+OK/);

    const described = await cli(['topic', 'describe', 'orders', '--format', 'json'], { connect });
    expect(described.code).toBe(0);
    const json = JSON.parse(described.stdout) as { partitions: unknown[]; configs: unknown };
    expect(Object.keys(json)).toEqual(['name', 'partitions', 'configs']);
    expect(json.partitions).toHaveLength(3);
    expect(json.configs).toEqual({ 'retention.ms': '1000', 'cleanup.policy': 'compact' });

    const text = await cli(['topic', 'describe', 'orders'], { connect });
    expect(text.stdout).toMatch(/PARTITION\s+LEADER/);

    const listed = await cli(['topic', 'list', '--format', 'json'], { connect });
    expect(JSON.parse(listed.stdout)).toEqual([{ name: 'orders', partitions: 3, replicationFactor: 1, internal: false }]);

    expect((await cli(['topic', 'alter-config', 'orders', '--set', 'retention.ms=5', '--delete', 'cleanup.policy'], { connect })).code).toBe(0);
    expect(cluster.topic('orders').configs).toEqual({ 'retention.ms': '5' });

    expect((await cli(['topic', 'add-partitions', 'orders', '-n', '5'], { connect })).code).toBe(0);
    expect(cluster.topic('orders').partitions).toHaveLength(5);

    const deleted = await cli(['topic', 'delete', 'orders'], { connect });
    expect(deleted.code).toBe(0);
    expect(cluster.topics.size).toBe(0);
  });

  it('fails on an existing topic unless --if-not-exists', async () => {
    const { connect } = fake();
    await cli(['topic', 'create', 't'], { connect });
    const again = await cli(['topic', 'create', 't'], { connect });
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/t\s+TOPIC_ALREADY_EXISTS/);
    expect(again.stderr).toBe('error: TOPIC_ALREADY_EXISTS: topic t already exists\n');
    const tolerated = await cli(['topic', 'create', 't', '--if-not-exists'], { connect });
    expect(tolerated.code).toBe(0);
    expect(tolerated.stdout).toMatch(/t\s+EXISTS/);
  });

  it('reports unknown topics and bad configs with typed codes', async () => {
    const { connect } = fake();
    const unknown = await cli(['topic', 'describe', 'nope', '--format', 'json'], { connect });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('error: UNKNOWN_TOPIC_OR_PARTITION: unknown topic: nope\n');
    const badPair = await cli(['topic', 'create', 'x', '-c', 'retention.ms'], { connect });
    expect(badPair.code).toBe(1);
    expect(badPair.stderr).toMatch(/INVALID_ARGUMENT: -c\/--config expects key=value, got 'retention.ms'/);
    const badCount = await cli(['topic', 'create', 'x', '-p', 'zero'], { connect });
    expect(badCount.code).not.toBe(0);
    expect(badCount.stderr).toMatch(/--partitions: invalid value 'zero'/);
    const nothing = await cli(['topic', 'alter-config', 'x'], { connect });
    expect(nothing.stderr).toMatch(/nothing to change/);
  });
});

describe('cluster', () => {
  it('info has the contract keys', async () => {
    const { connect } = fake();
    const info = await cli(['cluster', 'info', '--format', 'json'], { connect });
    expect(info.code).toBe(0);
    expect(JSON.parse(info.stdout)).toEqual({
      clusterId: 'fake-cluster',
      controller: { leaderId: 1, term: 1 },
      nodes: [{ id: 1, roles: ['broker', 'controller'], address: '127.0.0.1:9092', fenced: false }],
    });
    expect((await cli(['cluster', 'info'], { connect })).stdout).toMatch(/CONTROLLER\s+1/);
  });

  it('health exits 1 only with --exit-code when unhealthy', async () => {
    const cluster = fake();
    const { connect } = cluster;
    const healthy = await cli(['cluster', 'health', '--format', 'json', '--exit-code'], { connect });
    expect(healthy.code).toBe(0);
    expect(JSON.parse(healthy.stdout)).toMatchObject({ healthy: true, offlinePartitions: [], underReplicatedPartitions: [], fencedBrokers: [] });
    cluster.clusterView = { ...cluster.clusterView, nodes: [...cluster.clusterView.nodes, { id: 2, roles: ['broker'], address: 'x:1', fenced: true }] };
    expect((await cli(['cluster', 'health'], { connect })).code).toBe(0);
    const unhealthy = await cli(['cluster', 'health', '--exit-code', '--format', 'json'], { connect });
    expect(unhealthy.code).toBe(1);
    expect(JSON.parse(unhealthy.stdout)).toMatchObject({ healthy: false, fencedBrokers: [2] });
  });
});

describe('produce and consume', () => {
  it('produces keys, delimiters, headers and partitions; counts failures', async () => {
    const cluster = fake();
    const { connect } = cluster;
    await cli(['topic', 'create', 't', '-p', '2'], { connect });
    const produced = await cli(['produce', 't', '-K', ':', '-H', 'a=1', '-H', 'b=x=y', '-p', '1', '--acks', '1'], {
      connect,
      stdin: 'k1:v1\nk2:v:2\n',
    });
    expect(produced).toMatchObject({ code: 0, stderr: '' });
    expect(cluster.producerSettings[0]).toMatchObject({ acks: '1', properties: {} });
    await cli(['produce', 't', '-X', 'buffer.memory=1048576', '-X', 'enable.idempotence=false', '--linger-ms', '7'], { connect, stdin: 'x\n' });
    expect(cluster.producerSettings[1]).toMatchObject({
      acks: 'all',
      lingerMs: 7,
      properties: { 'buffer.memory': '1048576', 'enable.idempotence': 'false' },
    });
    const consumed = await cli(['consume', 't', '-p', '1', '-f', '%k=%v %h\\n', '--exit-at-end'], { connect });
    expect(consumed.stdout).toBe('k1=v1 a=1,b=x=y\nk2=v:2 a=1,b=x=y\n');

    cluster.rejectValues.add('bad');
    const partial = await cli(['produce', 't', '-k', 'same'], { connect, stdin: 'ok\nbad\nok\nbad\n' });
    expect(partial.code).toBe(1);
    expect(partial.stderr).toMatch(/error: MESSAGE_TOO_LARGE: record 'bad' rejected \(line 2\)/);
    expect(partial.stderr).toMatch(/error: MESSAGE_TOO_LARGE: 2 of 4 records failed/);

    const noDelimiter = await cli(['produce', 't', '-K', '|'], { connect, stdin: 'a|b\nnodelim\n' });
    expect(noDelimiter.code).toBe(1);
    expect(noDelimiter.stderr).toMatch(/1 of 2 records failed/);

    const badAcks = await cli(['produce', 't', '--acks', '2'], { connect, stdin: '' });
    expect(badAcks.stderr).toMatch(/--acks must be 0, 1 or all/);
  });

  it('consumes json lines by default, per partition in order, with -n and offset specs', async () => {
    const cluster = fake();
    const { connect } = cluster;
    await cli(['topic', 'create', 't', '-p', '2'], { connect });
    for (let i = 0; i < 10; i += 1) cluster.append('t', i % 2, `v${i}`, `k${i}`, 1_000 + i);

    const all = jsonLines((await cli(['consume', 't', '--exit-at-end'], { connect })).stdout) as { partition: number; offset: number; value: string }[];
    expect(all).toHaveLength(10);
    expect(Object.keys(all[0] ?? {})).toEqual(['topic', 'partition', 'offset', 'timestamp', 'key', 'value', 'headers']);
    for (const partition of [0, 1]) {
      expect(all.filter((r) => r.partition === partition).map((r) => r.offset)).toEqual([0, 1, 2, 3, 4]);
    }

    const offsets = async (spec: string, extra: string[] = []): Promise<string> =>
      (await cli(['consume', 't', '-p', '0', '-o', spec, '-f', '%o ', '--exit-at-end', ...extra], { connect, nowMs: () => 1_005 })).stdout;
    expect(await offsets('start')).toBe('0 1 2 3 4 ');
    expect(await offsets('3')).toBe('3 4 ');
    expect(await offsets('+1')).toBe('1 2 3 4 ');
    expect(await offsets('-2')).toBe('3 4 ');
    expect(await offsets('end')).toBe('');
    expect(await offsets('@1004')).toBe('2 3 4 '); // partition 0 holds timestamps 1000, 1002, 1004, ...
    expect(await offsets('@-1ms')).toBe('2 3 4 ');
    expect(await offsets('start', ['-n', '2'])).toBe('0 1 ');

    const bad = await cli(['consume', 't', '-o', 'yesterday'], { connect });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: INVALID_ARGUMENT: invalid offset 'yesterday'/);
    const badPartition = await cli(['consume', 't', '-p', '7', '--exit-at-end'], { connect });
    expect(badPartition.stderr).toMatch(/UNKNOWN_TOPIC_OR_PARTITION: topic 't' has no partition 7/);
    const badTemplate = await cli(['consume', 't', '-f', '%q'], { connect });
    expect(badTemplate.stderr).toMatch(/unknown token '%q'/);
  });

  it('stops consuming when the signal aborts', async () => {
    const cluster = fake();
    const { connect } = cluster;
    await cli(['topic', 'create', 't'], { connect });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const result = await cli(['consume', 't'], { connect, signal: controller.signal });
    expect(result.code).toBe(0);
  });
});

describe('perf', () => {
  it('perf produce --json ends with one JSON line with the contract keys', async () => {
    const cluster = fake();
    const { connect } = cluster;
    await cli(['topic', 'create', 'p', '-p', '2'], { connect });
    const result = await cli(['perf', 'produce', 'p', '--num-records', '500', '--record-size', '100', '--json'], { connect });
    expect(result.code).toBe(0);
    const lines = jsonLines(result.stdout);
    expect(lines).toHaveLength(1);
    const summary = lines[0] as Record<string, number>;
    expect(Object.keys(summary).slice(0, 9)).toEqual([
      'records', 'recordsPerSec', 'mbPerSec', 'avgLatencyMs', 'maxLatencyMs', 'p50Ms', 'p95Ms', 'p99Ms', 'p999Ms',
    ]);
    expect(summary['records']).toBe(500);
    expect(cluster.topic('p').partitions.flat()).toHaveLength(500);

    const text = await cli(['perf', 'produce', 'p', '--num-records', '10', '--record-size', '10', '--throughput', '1000'], { connect });
    expect(text.stdout).toMatch(/^10 records sent, [\d.]+ records\/sec \([\d.]+ MB\/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99\.9th\.\n$/);

    const consumed = await cli(['perf', 'consume', 'p', '--messages', '510', '--json'], { connect });
    expect(consumed.code).toBe(0);
    expect(JSON.parse(consumed.stdout)).toMatchObject({ records: 510, bytes: 50_100 });
  });
});

describe('produce interrupted', () => {
  it('stops waiting for stdin on the signal, flushes, and exits 130', async () => {
    const cluster = new FakeCluster();
    const { connect } = cluster;
    await cli(['topic', 'create', 't'], { connect });
    const stdin = new PassThrough();
    stdin.write('a\nb\n'); // an interactive user typed two lines and then pressed Ctrl-C
    const controller = new AbortController();
    const sink = new PassThrough();
    const errors: string[] = [];
    const stderr = new PassThrough().on('data', (chunk: Buffer) => errors.push(chunk.toString()));
    const pending = run(['produce', 't'], { stdin, stdout: sink, stderr, env: {}, connect, signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    expect(await pending).toBe(130);
    expect(errors.join('')).toMatch(/interrupted after 2 lines/);
    expect(cluster.topic('t').partitions.flat()).toHaveLength(2);
  });
});

describe('perf produce throttling', () => {
  it('holds a high target rate instead of sleeping per record', async () => {
    const cluster = new FakeCluster();
    const { connect } = cluster;
    await cli(['topic', 'create', 'p'], { connect });
    const result = await cli(['perf', 'produce', 'p', '--num-records', '4000', '--record-size', '10', '--throughput', '20000', '--json'], { connect });
    const summary = JSON.parse(result.stdout) as { recordsPerSec: number; elapsedMs: number };
    // 4000 records at 20k/s take 200 ms; per-record timers would take >= 4 s.
    expect(summary.elapsedMs).toBeGreaterThanOrEqual(190);
    expect(summary.elapsedMs).toBeLessThan(1500);
  });
});
