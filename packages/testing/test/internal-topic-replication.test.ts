// The internal topics `__consumer_offsets` and `__transaction_state` are created on first use with the
// cluster's replication factor (3, or the cluster's size when smaller), never with just the brokers alive
// at that moment: a topic made with 1 replica while 2 of 3 brokers were down could never take a write
// again under min.insync.replicas=2 (every group commit and every transaction marker refused for good;
// seen in the txn chaos smoke). While too few brokers are up, FindCoordinator answers
// COORDINATOR_NOT_AVAILABLE (retriable) and creates nothing; once they are back it succeeds.
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Admin } from '@tributary/client';
import { GroupsClient, tributary } from '@tributary/protocol';
import { startCluster, waitFor, type InProcessCluster } from '../src/index.js';

let cluster: InProcessCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});


function findCoordinator(client: GroupsClient, key: string, keyType: tributary.v1.CoordinatorType): Promise<tributary.v1.FindCoordinatorResponse> {
  return new Promise((resolve, reject) => {
    client.findCoordinator({ groupId: key, keyType }, { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res!)));
  });
}

const INTERNAL = [
  { topic: '__consumer_offsets', keyType: tributary.v1.CoordinatorType.GROUP, key: 'a-group' },
  { topic: '__transaction_state', keyType: tributary.v1.CoordinatorType.TRANSACTION, key: 'a-transactional-id' },
] as const;

describe('internal topics keep their replication factor when brokers are down at first use', () => {
  it.each(INTERNAL)('$topic: COORDINATOR_NOT_AVAILABLE with 2 of 3 brokers down, created with 3 replicas once they are back', async ({ topic, keyType, key }) => {
    cluster = await startCluster({
      topology: { controllers: 1, brokers: 3 }, logLevel: 'silent',
      configs: { 'offsets.topic.num.partitions': '3', 'transaction.state.log.num.partitions': '3', 'min.insync.replicas': '2', 'default.replication.factor': '3' },
    });
    const [survivor, down1, down2] = cluster.brokers;
    const admin = new Admin({ 'bootstrap.servers': survivor!.address });
    const groups = new GroupsClient(survivor!.address, grpc.credentials.createInsecure());
    try {
      await cluster.kill(down1!.nodeId);
      await cluster.kill(down2!.nodeId);
      await waitFor('both brokers fenced', async () => {
        const nodes = (await admin.describeCluster()).nodes;
        return [down1!.nodeId, down2!.nodeId].every((id) => nodes.find((n) => n.id === id)?.fenced === true) ? true : undefined;
      });

      // Several asks while they are down: each refuses, none creates the topic.
      for (let ask = 0; ask < 3; ask++) {
        const res = await findCoordinator(groups, key, keyType);
        expect(tributary.v1.ErrorCode[res.error?.code ?? 0], res.error?.message ?? '').toBe('COORDINATOR_NOT_AVAILABLE');
      }
      const listed = await admin.listTopics({ includeInternal: true });
      expect(listed.map((t) => (typeof t === 'string' ? t : t.name))).not.toContain(topic);

      await cluster.restart(down1!.nodeId);
      await cluster.restart(down2!.nodeId);
      const found = await waitFor('a coordinator', async () => {
        const res = await findCoordinator(groups, key, keyType);
        return (res.error?.code ?? 0) === 0 ? res : undefined;
      });
      expect(found.nodeId).toBeGreaterThan(0);
      const described = (await admin.describeTopics([topic]))[0]!;
      expect(described.partitions.length).toBe(3);
      for (const p of described.partitions) expect(p.replicas.length).toBe(3);
    } finally {
      groups.close();
      await admin.close();
    }
  }, 120_000);
});
