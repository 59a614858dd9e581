// A topic name of Kafka's longest legal length (249 characters) through its whole life on 3 nodes:
// created, written, deleted. Found by the RPC fuzzer: the deletion renamed `<topic>-<partition>` to
// `<topic>-<partition>.<32 hex>-delete`, 40 characters past the file system's 255-byte name limit;
// the rename failed with ENAMETOOLONG, and that error stopped every broker's metadata follower for
// good (no later topic could be created or served). Now the set-aside name is cut to fit, and a
// failure to remove one deleted log is logged without stopping the node.
import { readdir } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Admin, Producer } from '@tributary/client';
import { startCluster, type InProcessCluster } from '@tributary/testing';
import { waitFor } from './helpers.js';

const WAIT_MS = 20_000;
const LONGEST_TOPIC = 'a'.repeat(249);

let cluster: InProcessCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('topic names of the longest legal length', () => {
  it('a 249-character topic is created, written and deleted on every node; metadata keeps applying after it', async () => {
    cluster = await startCluster({ nodes: 3 });
    const admin = new Admin({ 'bootstrap.servers': cluster.bootstrapServers });
    const producer = new Producer({ 'bootstrap.servers': cluster.bootstrapServers, 'request.timeout.ms': 5000, 'delivery.timeout.ms': WAIT_MS });
    try {
      await admin.createTopics([{ topic: LONGEST_TOPIC, numPartitions: 2, replicationFactor: 3 }]);
      for (let partition = 0; partition < 2; partition++) await producer.send({ topic: LONGEST_TOPIC, partition, value: 'v' });
      await admin.deleteTopics([LONGEST_TOPIC]);
      const c = cluster;
      for (const member of c.brokers) {
        const dir = c.node(member.nodeId).config.dataDir;
        await waitFor(`node ${member.nodeId} to remove the deleted topic's directories`, async () =>
          (await readdir(dir)).some((name) => name.startsWith('aaaa')) ? undefined : true, WAIT_MS);
      }
      // Every broker still follows the metadata: a topic created now is served with all its replicas.
      await admin.createTopics([{ topic: 'after', numPartitions: 1, replicationFactor: 3 }]);
      const sent = await producer.send({ topic: 'after', partition: 0, value: 'still here' });
      expect(sent.offset).toBe(0);
    } finally {
      await producer.close();
      await admin.close();
    }
  }, 60_000);
});
