// Fuzzer finding (issue 10): a Subscribe naming a topic but no partitions made the broker's subscribe
// loop spin — fetch() of zero partitions returns at once (there is nothing to wait on), the loop went
// round again without yielding, and the node's event loop was starved: every RPC of the node stopped
// being answered. The same happened to any subscription once the notifier's waiter limit was reached.
// The node runs as a child process here, so the broken behaviour fails this test instead of hanging it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerClient, tributary } from '@tributary/protocol';
import { NodeProcess, freePort } from '@tributary/testing';

const METADATA_DEADLINE_MS = 3_000;
const SUBSCRIBE_MAX_WAIT_MS = 100;
/** Rounds of the subscription's wait the node must keep answering through. */
const ROUNDS = 5;

describe('Subscribe with a topic but no partitions', () => {
  let dir: string;
  let node: NodeProcess;
  let client: BrokerClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'trib-fuzz-'));
    node = new NodeProcess({ nodeId: 1, dataDir: join(dir, 'node-1'), listen: `127.0.0.1:${await freePort()}` });
    await node.start();
    client = new BrokerClient(node.address, grpc.credentials.createInsecure());
  }, 30_000);

  afterAll(async () => {
    client?.close();
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const metadata = (): Promise<tributary.v1.MetadataResponse> => new Promise((resolve, reject) => {
    client.metadata({}, { deadline: Date.now() + METADATA_DEADLINE_MS }, (err, res) => (err === null ? resolve(res!) : reject(err)));
  });

  it('leaves the node serving other requests while the stream is open', async () => {
    await metadata();
    const stream = client.subscribe({ maxWaitMs: SUBSCRIBE_MAX_WAIT_MS, topics: [{ topic: 'no-partitions-here' }] });
    stream.on('data', () => undefined);
    stream.on('error', () => undefined); // cancelled below
    try {
      // Not a window followed by one look: Metadata is asked one request after another, on the Subscribe's
      // connection, from the stream's start until several rounds of its wait have gone by, and every
      // answer is checked. A spinning loop starves the node, so no request reaching it after the
      // stream would be answered (each has METADATA_DEADLINE_MS).
      const openedMs = Date.now();
      let answered = 0;
      while (answered < 3 || Date.now() - openedMs < ROUNDS * SUBSCRIBE_MAX_WAIT_MS) {
        const md = await metadata();
        expect(md.brokers.length).toBe(1);
        answered += 1;
      }
    } finally {
      stream.cancel();
    }
  }, 30_000);
});
