// With dedicated controllers (3 controllers + 3 brokers, 6 processes) the quorum outlives two
// brokers: SIGKILL both followers of a partition (RF=3, min.insync.replicas=2) → the controller fences
// them, the ISR shrinks to the leader alone, and an acks=all produce is refused with
// NOT_ENOUGH_REPLICAS at append — never acknowledged. (With 3 combined nodes the quorum dies with
// them and the produce can only time out: replication-failover.test.ts (c).) After the restart the
// ISR is full again and nothing acknowledged is lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer } from '@tributary/client';
import type { ProcessCluster } from '@tributary/testing';
import { SESSION_TIMEOUT_MS, startReplicationCluster, describePartitions, readAll, waitFor, waitFullIsr } from './helpers.js';

describe('acks=all below min.insync.replicas (3 controllers + 3 brokers, RF=3, min ISR 2)', () => {
  let cluster: ProcessCluster;
  let admin: Admin;

  beforeAll(async () => {
    ({ cluster, admin } = await startReplicationCluster({ topology: { controllers: 3, brokers: 3 } }));
  }, 60_000);

  afterAll(async () => {
    await admin?.close();
    await cluster?.stop();
  }, 60_000);

  it('kill both followers: the ISR shrinks to the leader and acks=all produces get NOT_ENOUGH_REPLICAS', async () => {
    const topic = 'min-isr';
    await admin.createTopics([{ topic, numPartitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }]);
    const [p0] = await waitFullIsr(admin, topic, 10_000);
    const producer = new Producer({
      'bootstrap.servers': cluster.bootstrapServers, acks: 'all', 'request.timeout.ms': 1500, 'delivery.timeout.ms': 3000,
      'linger.ms': 0, 'retry.backoff.ms': 100, 'metadata.max.age.ms': 1000,
    });
    const followers = p0!.replicas.filter((id) => id !== p0!.leader);
    try {
      for (let i = 0; i < 10; i++) await producer.send({ topic, partition: 0, value: `ok-${i}` });
      const killedAt = Date.now();
      await Promise.all(followers.map((id) => cluster.node(id).kill()));
      const shrunk = await waitFor('the ISR shrunk to the leader', async () => {
        const [p] = await describePartitions(admin, topic);
        return p !== undefined && p.isr.length === 1 && p.isr[0] === p0!.leader ? p : undefined;
      }, SESSION_TIMEOUT_MS * 5);
      console.log(`min ISR: followers ${followers.join(',')} SIGKILLed; ISR [${shrunk.isr.join(',')}] after ${Date.now() - killedAt} ms`);

      const outcome = await producer.send({ topic, partition: 0, value: 'refused' }).then(() => undefined, (err: Error) => err);
      expect(outcome).toBeInstanceOf(Error);
      const codes = [(outcome as { code?: string }).code, (outcome as { cause?: { code?: string } }).cause?.code];
      console.log(`min ISR: acks=all produce failed with ${codes.filter(Boolean).join(' <- ')}`);
      expect(codes).toContain('NOT_ENOUGH_REPLICAS');

      await Promise.all(followers.map((id) => cluster.node(id).start()));
      await waitFullIsr(admin, topic, 30_000);
      await producer.send({ topic, partition: 0, value: 'after' });
      const values = (await readAll(cluster.bootstrapServers, topic, 1, admin)).map((r) => r.value?.toString());
      for (let i = 0; i < 10; i++) expect(values.filter((v) => v === `ok-${i}`)).toHaveLength(1);
      expect(values).toContain('after');
      expect(values).not.toContain('refused');
    } finally {
      await producer.close({ timeoutMs: 5000 });
    }
  }, 90_000);
});
