// `txn list|describe|describe-producers|abort` and `consume --isolation-level` through the RunIo test
// doubles (an in-memory cluster behind the CLI's ports): flags, output shapes, exit codes.
import { describe, expect, it } from 'vitest';
import { cli } from './harness.js';
import { FakeCluster } from './fake-cluster.js';

const NOW_MS = 1_700_000_060_000;

function cluster(): FakeCluster {
  const c = new FakeCluster();
  c.topics.set('orders', { name: 'orders', partitions: [[], []], replicationFactor: 1, configs: {} });
  c.append('orders', 0, 'x');
  c.transactions.set('app-1', {
    transactionalId: 'app-1', state: 'Ongoing', producerId: 4001, producerEpoch: 3, transactionTimeoutMs: 60_000,
    transactionStartTimeMs: 1_700_000_000_000, topicPartitions: [{ topic: 'orders', partition: 0 }, { topic: 'orders', partition: 1 }],
  });
  c.transactions.set('app-2', {
    transactionalId: 'app-2', state: 'CompleteCommit', producerId: 4002, producerEpoch: 9, transactionTimeoutMs: 60_000,
    transactionStartTimeMs: null, topicPartitions: [],
  });
  c.producers.set('orders-0', [
    { producerId: 4001, producerEpoch: 3, lastSequence: 11, lastTimestampMs: 1_700_000_000_500, coordinatorEpoch: 2, currentTransactionStartOffset: 120 },
    { producerId: 4002, producerEpoch: 9, lastSequence: 4, lastTimestampMs: 1_700_000_000_900, coordinatorEpoch: -1, currentTransactionStartOffset: 130 },
    { producerId: 77, producerEpoch: 0, lastSequence: 0, lastTimestampMs: -1, coordinatorEpoch: -1, currentTransactionStartOffset: null },
  ]);
  return c;
}

const run = (c: FakeCluster, argv: string[]) => cli(argv, { connect: c.connect, nowMs: () => NOW_MS });

describe('txn list', () => {
  it('prints every transactional id with its producer id and state; filters pass through', async () => {
    const c = cluster();
    const text = await run(c, ['txn', 'list']);
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(
      'TRANSACTIONAL-ID  PRODUCER-ID  STATE\n' +
      'app-1             4001         Ongoing\n' +
      'app-2             4002         CompleteCommit\n');
    const json = await run(c, ['txn', 'list', '--state', 'Ongoing', '--producer-id', '4001', '--duration-filter-ms', '1000', '--format', 'json']);
    expect(JSON.parse(json.stdout)).toEqual([{ transactionalId: 'app-1', producerId: 4001, state: 'Ongoing' }]);
    expect(c.listFilters.at(-1)).toEqual({ states: ['Ongoing'], producerIds: [4001], durationFilterMs: 1000 });
  });
});

describe('txn describe', () => {
  it('shows state, producer, timeout, start time, duration and partitions', async () => {
    const c = cluster();
    const text = await run(c, ['txn', 'describe', '--transactional-id', 'app-1']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('STATE             Ongoing\n');
    expect(text.stdout).toContain('PRODUCER-EPOCH    3\n');
    expect(text.stdout).toContain('START-TIME        2023-11-14T22:13:20.000Z\n');
    expect(text.stdout).toContain('DURATION-MS       60000\n');
    expect(text.stdout).toContain('PARTITIONS        orders-0,orders-1\n');
    const json = JSON.parse((await run(c, ['txn', 'describe', '--transactional-id', 'app-2', '--format', 'json'])).stdout) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['transactionalId', 'state', 'producerId', 'producerEpoch', 'transactionTimeoutMs', 'transactionStartTimeMs', 'transactionDurationMs', 'topicPartitions']);
    expect(json).toMatchObject({ state: 'CompleteCommit', transactionStartTimeMs: null, transactionDurationMs: null, topicPartitions: [] });
  });

  it('an unknown id fails with its typed error; --transactional-id is required', async () => {
    const c = cluster();
    const missing = await run(c, ['txn', 'describe', '--transactional-id', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('error: TRANSACTIONAL_ID_NOT_FOUND: describe transaction nope: TRANSACTIONAL_ID_NOT_FOUND\n');
    const usage = await run(c, ['txn', 'describe']);
    expect(usage.code).not.toBe(0);
    expect(usage.stderr).toMatch(/--transactional-id/);
  });
});

describe('txn describe-producers', () => {
  it('lists the producers of a partition with their open transaction\'s first offset', async () => {
    const c = cluster();
    const text = await run(c, ['txn', 'describe-producers', '--topic', 'orders', '--partition', '0']);
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^PRODUCER-ID\s+PRODUCER-EPOCH\s+COORDINATOR-EPOCH\s+LAST-SEQUENCE\s+LAST-TIMESTAMP\s+TXN-START-OFFSET$/);
    expect(lines[1]).toMatch(/^4001\s+3\s+2\s+11\s+2023-11-14T22:13:20\.500Z\s+120$/);
    expect(lines[3]).toMatch(/^77\s+0\s+-\s+0\s+-\s+-$/);
    const json = JSON.parse((await run(c, ['txn', 'describe-producers', '--topic', 'orders', '--partition', '0', '--format', 'json'])).stdout) as unknown[];
    expect(json[1]).toEqual({ producerId: 4002, producerEpoch: 9, coordinatorEpoch: -1, lastSequence: 4, lastTimestampMs: 1_700_000_000_900, currentTransactionStartOffset: 130 });
  });

  it('refuses a bad partition number before connecting', async () => {
    const c = cluster();
    const bad = await run(c, ['txn', 'describe-producers', '--topic', 'orders', '--partition', '-1']);
    expect(bad.code).not.toBe(0);
    expect(c.brokersSeen).toEqual([]);
  });
});

describe('txn abort', () => {
  it('--start-offset finds the producer of the open transaction there and aborts it with its epochs (coordinator epoch -1 → 0)', async () => {
    const c = cluster();
    const done = await run(c, ['txn', 'abort', '--topic', 'orders', '--partition', '0', '--start-offset', '130']);
    expect(done.code).toBe(0);
    expect(done.stdout).toBe('aborted the open transaction of producer 4002 (epoch 9) on orders-0\n');
    expect(c.aborts).toEqual([{ topic: 'orders', partition: 0, producerId: 4002, producerEpoch: 9, coordinatorEpoch: 0 }]);
  });

  it('--start-offset with no open transaction there names the ones that exist', async () => {
    const c = cluster();
    const none = await run(c, ['txn', 'abort', '--topic', 'orders', '--partition', '0', '--start-offset', '125']);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe('error: INVALID_TXN_STATE: no open transaction on orders-0 starts at offset 125; open transactions start at: 120 (producer 4001), 130 (producer 4002)\n');
    expect(c.aborts).toEqual([]);
  });

  it('by producer id, epoch and coordinator epoch; the three go together and exclude --start-offset', async () => {
    const c = cluster();
    const done = await run(c, ['txn', 'abort', '--topic', 'orders', '--partition', '0', '--producer-id', '4001', '--producer-epoch', '3', '--coordinator-epoch', '2']);
    expect(done.code).toBe(0);
    expect(c.aborts).toEqual([{ topic: 'orders', partition: 0, producerId: 4001, producerEpoch: 3, coordinatorEpoch: 2 }]);
    for (const argv of [
      ['--producer-id', '4001'],
      ['--producer-id', '4001', '--producer-epoch', '3', '--coordinator-epoch', '2', '--start-offset', '120'],
      [],
    ]) {
      const refused = await run(c, ['txn', 'abort', '--topic', 'orders', '--partition', '0', ...argv]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^error: INVALID_ARGUMENT: /);
    }
    const epochTooBig = await run(c, ['txn', 'abort', '--topic', 'orders', '--partition', '0', '--producer-id', '1', '--producer-epoch', '32768', '--coordinator-epoch', '0']);
    expect(epochTooBig.code).not.toBe(0);
    expect(epochTooBig.stderr).toMatch(/--producer-epoch/);
    expect(c.aborts).toHaveLength(1);
    // The broker's refusal comes back typed.
    const stale = await run(c, ['txn', 'abort', '--topic', 'orders', '--partition', '0', '--producer-id', '4001', '--producer-epoch', '1', '--coordinator-epoch', '2']);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/^error: INVALID_PRODUCER_EPOCH: /);
  });
});

describe('consume --isolation-level', () => {
  it('passes read_committed to the consumer; read_uncommitted by default; anything else is a usage error', async () => {
    const c = cluster();
    expect((await run(c, ['consume', 'orders', '-n', '1', '--isolation-level', 'read_committed'])).code).toBe(0);
    expect((await run(c, ['consume', 'orders', '-n', '1'])).code).toBe(0);
    expect(c.consumerSettings.map((s) => s.isolationLevel)).toEqual(['read_committed', 'read_uncommitted']);
    const bad = await run(c, ['consume', 'orders', '--isolation-level', 'dirty']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/read_committed/);
  });
});
