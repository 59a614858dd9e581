// End to end: a real node in this process (127.0.0.1:0, temp dir) and the CLI's run() against it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNodeConfig, startNode } from '@tributary/broker';
import { cli, jsonLines } from './harness.js';

let dataDir: string;
let node: Awaited<ReturnType<typeof startNode>>;
let env: Record<string, string>;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tributary-cli-'));
  node = await startNode(
    parseNodeConfig({ flags: { 'node.id': 1, listen: '127.0.0.1:0', 'data.dir': dataDir }, env: {}, set: ['log.level=silent'] }),
  );
  env = { TRIBUTARY_BROKERS: node.address };
});

afterAll(async () => {
  await node?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: string;
  headers: Record<string, string>;
}

describe('against a real node', () => {
  it('creates and describes a topic with the contract JSON shape', async () => {
    expect((await cli(['topic', 'create', 'shape', '-p', '2', '-r', '1', '-c', 'retention.ms=3600000'], { env })).code).toBe(0);
    const described = await cli(['topic', 'describe', 'shape', '--format', 'json'], { env });
    expect(described.code).toBe(0);
    const topic = JSON.parse(described.stdout) as Record<string, unknown>;
    expect(Object.keys(topic)).toEqual(['name', 'partitions', 'configs']);
    expect(topic['name']).toBe('shape');
    const partitions = topic['partitions'] as Record<string, unknown>[];
    expect(partitions.map((p) => p['partition'])).toEqual([0, 1]);
    for (const p of partitions) {
      expect(Object.keys(p)).toEqual(['partition', 'leader', 'replicas', 'isr', 'leaderEpoch', 'logStartOffset', 'highWatermark']);
      expect(p).toMatchObject({ leader: 1, replicas: [1], isr: [1], logStartOffset: 0, highWatermark: 0 });
    }
    expect((topic['configs'] as Record<string, string>)['retention.ms']).toBe('3600000');
    expect((await cli(['topic', 'create', 'shape', '--if-not-exists'], { env })).code).toBe(0);
    const list = await cli(['topic', 'list', '--format', 'json'], { env });
    expect((JSON.parse(list.stdout) as { name: string }[]).map((t) => t.name)).toContain('shape');
  });

  it('produces 10,000 stdin lines to 3 partitions and consumes all of them back, in order per partition', async () => {
    expect((await cli(['topic', 'create', 'big', '-p', '3'], { env })).code).toBe(0);
    const lines = Array.from({ length: 10_000 }, (_, i) => `line-${i}`);
    const produced = await cli(['produce', 'big'], { env, stdin: `${lines.join('\n')}\n` });
    expect(produced).toMatchObject({ code: 0, stderr: '' });

    const consumed = await cli(['consume', 'big', '-o', 'start', '-n', '10000', '--exit-at-end'], { env });
    expect(consumed.code).toBe(0);
    const records = jsonLines(consumed.stdout) as ConsumedRecord[];
    expect(records).toHaveLength(10_000);
    expect(new Set(records.map((r) => r.value)).size).toBe(10_000);
    const partitionsUsed = new Set(records.map((r) => r.partition));
    expect(partitionsUsed.size).toBeGreaterThan(1);
    for (const partition of partitionsUsed) {
      const inPartition = records.filter((r) => r.partition === partition);
      // Offsets are dense from 0 and the lines appear in the order they were read from stdin.
      expect(inPartition.map((r) => r.offset)).toEqual(inPartition.map((_, i) => i));
      const lineNumbers = inPartition.map((r) => Number(r.value.slice('line-'.length)));
      expect(lineNumbers).toEqual([...lineNumbers].sort((a, b) => a - b));
    }
  });

  it('formats records with -f tokens, keys and headers', async () => {
    await cli(['topic', 'create', 'fmt', '-p', '1'], { env });
    const produced = await cli(['produce', 'fmt', '-K', ':', '-H', 'source=cli', '-H', 'n=1'], { env, stdin: 'k1:v1\nk2:v2\n' });
    expect(produced.code).toBe(0);
    const out = await cli(['consume', 'fmt', '-f', '%t/%p/%o %k=%v [%h] %T\\n', '--exit-at-end'], { env });
    const lines = out.stdout.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^fmt\/0\/0 k1=v1 \[source=cli,n=1\] \d{13}$/);
    expect(lines[1]).toMatch(/^fmt\/0\/1 k2=v2 \[source=cli,n=1\] \d{13}$/);
    const json = jsonLines((await cli(['consume', 'fmt', '-n', '1'], { env })).stdout) as ConsumedRecord[];
    expect(json[0]).toMatchObject({ topic: 'fmt', partition: 0, offset: 0, key: 'k1', value: 'v1', headers: { source: 'cli', n: '1' } });
  });

  it('starts where the offset spec says', async () => {
    await cli(['topic', 'create', 'offsets', '-p', '1'], { env });
    const before = Date.now();
    await cli(['produce', 'offsets', '-p', '0'], { env, stdin: Array.from({ length: 10 }, (_, i) => `v${i}`).join('\n') });
    const offsets = async (spec: string): Promise<string> => {
      const result = await cli(['consume', 'offsets', '-o', spec, '-f', '%o ', '--exit-at-end'], { env });
      expect(result.stderr).toBe('');
      return result.stdout.trim();
    };
    expect(await offsets('start')).toBe('0 1 2 3 4 5 6 7 8 9');
    expect(await offsets('7')).toBe('7 8 9');
    expect(await offsets('+8')).toBe('8 9');
    expect(await offsets('-3')).toBe('7 8 9');
    expect(await offsets('end')).toBe('');
    expect(await offsets(`@${before - 60_000}`)).toBe('0 1 2 3 4 5 6 7 8 9');
    expect(await offsets('@-1h')).toBe('0 1 2 3 4 5 6 7 8 9');
    expect(await offsets(`@${Date.now() + 3_600_000}`)).toBe('');
  });

  it('reports cluster info and health with the contract keys', async () => {
    const info = await cli(['cluster', 'info', '--format', 'json'], { env });
    expect(info.code).toBe(0);
    const cluster = JSON.parse(info.stdout) as Record<string, unknown>;
    expect(Object.keys(cluster)).toEqual(['clusterId', 'controller', 'nodes']);
    expect(Object.keys(cluster['controller'] as object)).toEqual(['leaderId', 'term']);
    const nodes = cluster['nodes'] as Record<string, unknown>[];
    expect(nodes).toHaveLength(1);
    expect(Object.keys(nodes[0] ?? {})).toEqual(['id', 'roles', 'address', 'fenced']);
    expect(nodes[0]).toMatchObject({ id: 1, fenced: false });

    const health = await cli(['cluster', 'health', '--format', 'json', '--exit-code'], { env });
    expect(health.code).toBe(0);
    expect(JSON.parse(health.stdout)).toMatchObject({ healthy: true, offlinePartitions: [], underReplicatedPartitions: [], fencedBrokers: [] });
  });

  it('perf produce --json ends with the contract keys, and perf consume reads them back', async () => {
    await cli(['topic', 'create', 'perf', '-p', '3'], { env });
    const result = await cli(['perf', 'produce', 'perf', '--num-records', '3000', '--record-size', '1024', '--json'], { env });
    expect(result.code).toBe(0);
    const lines = jsonLines(result.stdout);
    expect(lines).toHaveLength(1);
    const summary = lines[0] as Record<string, number>;
    expect(Object.keys(summary).slice(0, 9)).toEqual([
      'records', 'recordsPerSec', 'mbPerSec', 'avgLatencyMs', 'maxLatencyMs', 'p50Ms', 'p95Ms', 'p99Ms', 'p999Ms',
    ]);
    expect(summary['records']).toBe(3000);
    expect(summary['p50Ms']).toBeLessThanOrEqual(summary['p99Ms'] ?? -1);
    const consumed = await cli(['perf', 'consume', 'perf', '--messages', '3000', '--json'], { env });
    expect(consumed.code).toBe(0);
    expect(JSON.parse(consumed.stdout)).toMatchObject({ records: 3000, bytes: 3000 * 1024 });
  });

  it('fails clearly on bad input', async () => {
    const describeUnknown = await cli(['topic', 'describe', 'missing', '--format', 'json'], { env });
    expect(describeUnknown.code).toBe(1);
    expect(describeUnknown.stderr).toMatch(/^error: UNKNOWN_TOPIC_OR_PARTITION: /);
    const consumeUnknown = await cli(['consume', 'missing', '--exit-at-end'], { env });
    expect(consumeUnknown.code).toBe(1);
    expect(consumeUnknown.stderr).toMatch(/^error: UNKNOWN_TOPIC_OR_PARTITION: /);
    const badOffset = await cli(['consume', 'big', '-o', '@soon'], { env });
    expect(badOffset.code).toBe(1);
    expect(badOffset.stderr).toMatch(/^error: INVALID_ARGUMENT: invalid timestamp in offset '@soon'/);
    const badTopicConfig = await cli(['topic', 'create', 'badcfg', '-c', 'no.such.config=1'], { env });
    expect(badTopicConfig.code).toBe(1);
    expect(badTopicConfig.stderr).toMatch(/no\.such\.config/);
    const badProducerProperty = await cli(['produce', 'big', '-X', 'linger.ms=soon'], { env, stdin: 'x\n' });
    expect(badProducerProperty.code).toBe(1);
    expect(badProducerProperty.stderr).toMatch(/^error: INVALID_CONFIG: .*linger\.ms/);
    const badServer = await cli(['server', '--node-id', '9', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--set', 'min.insync.replicas=zero'], { env: {} });
    expect(badServer.code).toBe(1);
    expect(badServer.stderr).toMatch(/^error: INVALID_CONFIG: .*min\.insync\.replicas/s);
  });

  it('server runs a real node until the signal, then exits 0', async () => {
    const serverDir = mkdtempSync(join(tmpdir(), 'tributary-cli-server-'));
    const controller = new AbortController();
    try {
      let listening: () => void = () => undefined;
      const started = new Promise<void>((resolve) => (listening = resolve));
      const pending = cli(['server', '--node-id', '2', '--listen', '127.0.0.1:0', '--data-dir', serverDir], {
        env: { TRIBUTARY_LOG_LEVEL: 'silent' },
        signal: controller.signal,
        onStdout: (chunk) => {
          if (chunk.includes('listening on')) listening();
        },
      });
      await Promise.race([started, pending]);
      controller.abort();
      const result = await pending;
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^tributary: node 2 listening on 127\.0\.0\.1:\d+/);
    } finally {
      rmSync(serverDir, { recursive: true, force: true });
    }
  });
});
