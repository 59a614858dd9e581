// A 3-node cluster takes hostile produce requests (crafted batches with valid CRCs, sent with the raw gRPC
// Produce): the bad partition gets a typed error, the neighbour led by the same broker is appended, the
// followers stay in sync, records produced before are read back, and restarting the leader leaves every
// broker unfenced.
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer } from '@tributary/client';
import {
  BATCH_LENGTH_OFFSET, BrokerClient, CRC_OFFSET, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD_BYTES, RECORD_COUNT_OFFSET,
  computeBatchCrc, encodeRecordBatch, tributary,
} from '@tributary/protocol';
import { startCluster, type InProcessCluster } from '../src/index.js';

let cluster: InProcessCluster | undefined;
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await cluster?.stop();
  cluster = undefined;
});

const TOPIC = 'hostile';

function batchOf(values: readonly string[]): Buffer {
  return encodeRecordBatch({ records: values.map((v) => ({ value: Buffer.from(v), timestamp: Date.now() })) });
}

/** A batch whose header claims `recordCount` records (offsets dense), re-signed with a valid CRC. */
function claiming(batch: Buffer, recordCount: number): Buffer {
  const out = Buffer.from(batch);
  out.writeInt32BE(recordCount, RECORD_COUNT_OFFSET);
  out.writeInt32BE(recordCount - 1, LAST_OFFSET_DELTA_OFFSET);
  out.writeInt32BE(out.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_OFFSET);
  out.writeUInt32BE(computeBatchCrc(out, 0, out.length), CRC_OFFSET);
  return out;
}

function unary<Req, Res>(client: BrokerClient, method: 'produce' | 'metadata', request: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    (client[method] as unknown as (r: Req, cb: (err: grpc.ServiceError | null, res?: Res) => void) => void).call(client, request, (err, res) => (err !== null ? reject(err) : resolve(res as Res)));
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('hostile produce requests against a 3-node cluster', () => {
  it('fail their own partition only; the leader stays in service and restarts unfenced', async () => {
    cluster = await startCluster({ nodes: 3 });
    const c = cluster;
    const admin = new Admin({ 'bootstrap.servers': c.bootstrapServers });
    closers.push(() => admin.close());
    await admin.createTopics([{ topic: TOPIC, numPartitions: 6, replicationFactor: 3 }]);

    const metadataClient = new BrokerClient(c.brokers[0]!.address, grpc.credentials.createInsecure());
    closers.push(() => metadataClient.close());
    // Two partitions with the same leader and a full ISR, so one request can carry both.
    const [leader, bad, good] = await waitFor('two partitions with one leader and full ISRs', async () => {
      const md = await unary<tributary.v1.IMetadataRequest, tributary.v1.MetadataResponse>(metadataClient, 'metadata', { topics: [TOPIC] });
      const parts = (md.topics[0]?.partitions ?? []).filter((p) => (p.leaderId ?? -1) >= 0 && (p.isr ?? []).length === 3);
      for (const p of parts) {
        const q = parts.find((o) => o !== p && o.leaderId === p.leaderId);
        if (q !== undefined) return [p.leaderId!, p.partition ?? 0, q.partition ?? 0] as const;
      }
      return undefined;
    });

    const producer = new Producer({ 'bootstrap.servers': c.bootstrapServers, acks: 'all' });
    closers.push(() => producer.close());
    for (const value of ['before-0', 'before-1']) await producer.send({ topic: TOPIC, partition: bad, value });

    const leaderClient = new BrokerClient(c.brokers.find((b) => b.nodeId === leader)!.address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 * 1024 * 1024 });
    closers.push(() => leaderClient.close());
    const hostile = [
      Buffer.concat(Array.from({ length: 100 }, () => claiming(batchOf(['x']), 2 ** 31 - 1))),
      claiming(batchOf(['only']), 1001),
    ];
    for (const recordBatch of hostile) {
      const res = await unary<tributary.v1.IProduceRequest, tributary.v1.ProduceResponse>(leaderClient, 'produce', {
        acks: -1, timeoutMs: 10_000,
        topics: [{ topic: TOPIC, partitions: [{ partition: bad, recordBatch, currentLeaderEpoch: -1 }, { partition: good, recordBatch: batchOf(['neighbour']), currentLeaderEpoch: -1 }] }],
      });
      const byPartition = new Map((res.topics[0]?.partitions ?? []).map((p) => [p.partition, tributary.v1.ErrorCode[p.error?.code ?? 0]]));
      expect(byPartition.get(bad)).toBe('INVALID_RECORD');
      expect(byPartition.get(good)).toBe('NONE'); // acks=all: the followers have it too
    }
    await producer.send({ topic: TOPIC, partition: bad, value: 'after' });

    const readBack = async (): Promise<string[]> => {
      const consumer = new Consumer({ 'bootstrap.servers': c.bootstrapServers, 'auto.offset.reset': 'earliest' });
      try {
        consumer.assign([{ topic: TOPIC, partition: bad }]);
        const seen: string[] = [];
        const deadline = Date.now() + 15_000;
        while (seen.length < 3 && Date.now() < deadline) seen.push(...(await consumer.poll({ timeoutMs: 500 })).map((r) => r.value?.toString() ?? ''));
        return seen;
      } finally {
        await consumer.close();
      }
    };
    expect(await readBack()).toEqual(['before-0', 'before-1', 'after']);

    await c.restart(leader);
    await c.waitForReady();
    expect(await readBack()).toEqual(['before-0', 'before-1', 'after']);
  });
});
