import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeRecordBatches, tributary } from '@tributary/protocol';
import { batchOf, createTopic, produceBatch, startTestNode, type TestNode } from './helpers.js';

const BATCHES = 24;
const VALUE_BYTES = 512 * 1024;

describe('Subscribe flow control', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode();
    await createTopic(t, 'firehose');
    for (let i = 0; i < BATCHES; i++) await produceBatch(t, 'firehose', 0, batchOf([`${i}:`.padEnd(VALUE_BYTES, 'x')]), 1);
  });
  afterAll(async () => {
    await t.close();
  });

  const bytesOut = async (): Promise<number> => {
    const text = await t.node.metrics.registry.getSingleMetricAsString('tributary_bytes_out_total');
    return Number(/tributary_bytes_out_total\{topic="firehose"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
  };

  // Note: a grpc-js client on loopback takes the data into its own HTTP/2 and stream buffers even while
  // paused, so how far the server reads ahead is not observable here; the server side honours write()
  // returning false and waits for its own writes to be taken (see broker-service.ts).
  it('delivers a large backlog in order, in bounded responses, to a consumer that pauses and resumes', async () => {
    const stream = t.broker.subscribe({
      maxWaitMs: 100, maxBytes: VALUE_BYTES + 1024,
      topics: [{ topic: 'firehose', partitions: [{ partition: 0, fetchOffset: 0, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
    });
    stream.pause();
    stream.on('error', () => undefined); // cancel() below ends it with CANCELLED
    await new Promise((r) => setTimeout(r, 700));
    expect(await bytesOut()).toBeGreaterThan(0);
    let responses = 0;

    const received: string[] = [];
    await new Promise<void>((resolve) => {
      stream.on('data', (res: tributary.v1.FetchResponse) => {
        responses += 1;
        const bytes = Buffer.from(res.topics[0]?.partitions?.[0]?.recordBatch ?? []);
        for (const batch of decodeRecordBatches(bytes)) for (const r of batch.records) received.push(r.value?.toString().split(':')[0] ?? '');
        if (received.length >= BATCHES) resolve();
      });
      stream.resume();
    });
    stream.cancel();
    expect(received).toEqual(Array.from({ length: BATCHES }, (_, i) => String(i)));
    // max_bytes bounds each response (one ~512 KiB batch each), so the backlog came in many responses.
    expect(responses).toBe(BATCHES);
  });
});
