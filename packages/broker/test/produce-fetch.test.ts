import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { decodeRecordBatches, tributary } from '@tributary/protocol';
import { batchOf, call, codeName, createTopic, fetchFrom, produceBatch, startTestNode, type TestNode } from './helpers.js';

const values = (batchBytes: Uint8Array | null | undefined): string[] =>
  decodeRecordBatches(Buffer.from(batchBytes ?? new Uint8Array())).flatMap((b) => b.records.map((r) => r.value?.toString() ?? '<null>'));

describe('Produce and Fetch on one node', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode({ set: { 'message.max.bytes': '16384', 'socket.request.max.bytes': '100000', 'fetch.max.wait.ms': '5000' } });
    await createTopic(t, 'events', 2);
  });
  afterAll(async () => {
    await t.close();
  });

  it('round-trips batches and records in both fetch formats', async () => {
    const first = await produceBatch(t, 'events', 0, batchOf(['a', 'b', 'c']));
    expect(codeName(first.error)).toBe('NONE');
    expect(Number(first.baseOffset)).toBe(0);
    expect(Number(first.logAppendTimeMs)).toBe(-1);
    const res = await call(t.broker, t.broker.produce, {
      acks: 1, topics: [{ topic: 'events', partitions: [{ partition: 0, currentLeaderEpoch: 0, records: [
        { key: Buffer.from('k'), hasKey: true, value: Buffer.from('d'), hasValue: true, headers: [{ key: 'h', value: Buffer.from('v') }], timestampMs: 1234 },
        { hasValue: false },
      ] }] }],
    });
    expect(codeName(res.topics[0]?.partitions?.[0]?.error)).toBe('NONE');
    expect(Number(res.topics[0]?.partitions?.[0]?.baseOffset)).toBe(3);

    const asBatch = await fetchFrom(t, 'events', 0, 0);
    expect(codeName(asBatch.error)).toBe('NONE');
    expect(Number(asBatch.highWatermark)).toBe(5);
    expect(values(asBatch.recordBatch)).toEqual(['a', 'b', 'c', 'd', '<null>']);

    const asRecords = await fetchFrom(t, 'events', 0, 2, { format: tributary.v1.RecordFormat.RECORDS });
    expect(asRecords.records?.map((r) => [Number(r.offset), r.hasValue ? Buffer.from(r.value ?? []).toString() : null])).toEqual([[2, 'c'], [3, 'd'], [4, null]]);
    const keyed = asRecords.records?.[1];
    expect(keyed?.hasKey).toBe(true);
    expect(Number(keyed?.timestampMs)).toBe(1234);
    expect(Buffer.from(keyed?.key ?? []).toString()).toBe('k');
    expect(keyed?.headers?.map((h) => [h.key, Buffer.from(h.value ?? []).toString()])).toEqual([['h', 'v']]);
  });

  it('answers per-partition errors: unknown topic/partition, offsets out of range, bad acks, epochs', async () => {
    const batch = batchOf(['x']);
    expect(codeName((await produceBatch(t, 'nope', 0, batch)).error)).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(codeName((await produceBatch(t, 'events', 7, batch)).error)).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(codeName((await produceBatch(t, 'events', 1, batch, 2)).error)).toBe('INVALID_REQUIRED_ACKS');
    expect(codeName((await fetchFrom(t, 'events', 1, 99)).error)).toBe('OFFSET_OUT_OF_RANGE');
    expect(codeName((await fetchFrom(t, 'nope', 0, 0)).error)).toBe('UNKNOWN_TOPIC_OR_PARTITION');

    const epoch = (currentLeaderEpoch: number) => call(t.broker, t.broker.produce, {
      acks: 1, topics: [{ topic: 'events', partitions: [{ partition: 1, recordBatch: batchOf(['e']), currentLeaderEpoch }] }],
    }).then((r) => codeName(r.topics[0]?.partitions?.[0]?.error));
    expect(await epoch(3)).toBe('UNKNOWN_LEADER_EPOCH');
    expect(await epoch(0)).toBe('NONE');
    // Our epoch is 0, so only "newer" can be tested on one node; the fenced case is in partition.test.ts.
  });

  it('rejects a batch over max.message.bytes with MESSAGE_TOO_LARGE and stores nothing', async () => {
    const hwBefore = Number((await fetchFrom(t, 'events', 1, 0)).highWatermark);
    const big = batchOf(['z'.repeat(20_000)]);
    expect(codeName((await produceBatch(t, 'events', 1, big)).error)).toBe('MESSAGE_TOO_LARGE');
    expect(Number((await fetchFrom(t, 'events', 1, 0)).highWatermark)).toBe(hwBefore);
  });

  it('rejects a corrupt batch (one flipped byte) with CORRUPT_MESSAGE and leaves the log unchanged', async () => {
    const before = await fetchFrom(t, 'events', 1, 0);
    const batch = batchOf(['good', 'data']);
    for (const position of [30, batch.length - 1, 17, 9]) {
      const corrupt = Buffer.from(batch);
      corrupt[position] = (corrupt[position] ?? 0) ^ 0x40;
      expect(codeName((await produceBatch(t, 'events', 1, corrupt)).error), `flipped byte ${position}`).toBe('CORRUPT_MESSAGE');
    }
    const truncated = batch.subarray(0, batch.length - 3);
    expect(codeName((await produceBatch(t, 'events', 1, truncated)).error)).toBe('CORRUPT_MESSAGE');
    const after = await fetchFrom(t, 'events', 1, 0);
    expect(after.highWatermark).toEqual(before.highWatermark);
    expect(Buffer.from(after.recordBatch ?? [])).toEqual(Buffer.from(before.recordBatch ?? []));
  });

  it('answers a malformed request with INVALID_ARGUMENT naming the field', async () => {
    const err = await call(t.broker, t.broker.produce, { acks: 1, topics: [{ topic: 'events', partitions: [{ partition: 0, recordBatch: batchOf(['a']) }] }, { partitions: [] }] })
      .then(() => undefined, (e: grpc.ServiceError) => e);
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toContain('topics[1].topic');
    const empty = await call(t.broker, t.broker.produce, { acks: 1, topics: [{ topic: 'events', partitions: [{ partition: 0 }] }] })
      .then(() => undefined, (e: grpc.ServiceError) => e);
    expect(empty?.details).toContain('topics[0].partitions[0].record_batch');
    const fetchErr = await call(t.broker, t.broker.fetch, { topics: [{ partitions: [{ partition: 0 }] }] }).then(() => undefined, (e: grpc.ServiceError) => e);
    expect(fetchErr?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(fetchErr?.details).toContain('topics[0].topic');
  });

  it('answers bytes that are not a protobuf message with INVALID_ARGUMENT (not INTERNAL) and keeps serving', async () => {
    const raw = new grpc.Client(t.node.address, grpc.credentials.createInsecure());
    try {
      // A field header promising 100 bytes of a length-delimited field that never come.
      const garbage = Buffer.from([0x1a, 0x64, 0x01, 0x02]);
      const err = await new Promise<grpc.ServiceError | undefined>((resolve) => {
        raw.makeUnaryRequest('/tributary.v1.Broker/Produce', (b: Buffer) => b, (b: Buffer) => b, garbage, (e) => resolve(e ?? undefined));
      });
      expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err?.details).toContain('request: not a valid Produce request');
    } finally {
      raw.close();
    }
    const after = await produceBatch(t, 'events', 1, batchOf(['still serving']));
    expect(codeName(after.error)).toBe('NONE');
  });

  it('refuses a gRPC message over socket.request.max.bytes with RESOURCE_EXHAUSTED and keeps serving', async () => {
    const huge = Buffer.alloc(150_000, 1);
    const err = await call(t.broker, t.broker.produce, { acks: 1, topics: [{ topic: 'events', partitions: [{ partition: 0, recordBatch: huge }] }] })
      .then(() => undefined, (e: grpc.ServiceError) => e);
    expect(err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(codeName((await produceBatch(t, 'events', 0, batchOf(['still-alive']))).error)).toBe('NONE');
  });

  it('long-polls: a waiting fetch wakes on produce, and times out at max_wait_ms', async () => {
    await createTopic(t, 'poll');
    const started = Date.now();
    const timedOut = await fetchFrom(t, 'poll', 0, 0, { maxWaitMs: 300, minBytes: 1 });
    const waited = Date.now() - started;
    expect(codeName(timedOut.error)).toBe('NONE');
    expect(timedOut.recordBatch?.length ?? 0).toBe(0);
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(2000);

    const wakeStart = Date.now();
    const parked = fetchFrom(t, 'poll', 0, 0, { maxWaitMs: 4000, minBytes: 1 });
    await new Promise((r) => setTimeout(r, 100));
    await produceBatch(t, 'poll', 0, batchOf(['wake']));
    const woken = await parked;
    expect(values(woken.recordBatch)).toEqual(['wake']);
    expect(Date.now() - wakeStart).toBeLessThan(2000);
  });

  it('min_bytes: a fetch waits until enough bytes have accumulated, or answers what there is at max_wait_ms', async () => {
    await createTopic(t, 'minbytes');
    const one = batchOf(['a'.repeat(400)]).length;
    // Three batches are needed for min_bytes; the first two do not end the wait.
    const parked = fetchFrom(t, 'minbytes', 0, 0, { maxWaitMs: 5000, minBytes: one * 3 - 10 });
    let answered = false;
    void parked.then(() => { answered = true; });
    await produceBatch(t, 'minbytes', 0, batchOf(['a'.repeat(400)]));
    await produceBatch(t, 'minbytes', 0, batchOf(['b'.repeat(400)]));
    await new Promise((r) => setTimeout(r, 300));
    expect(answered).toBe(false);
    const started = Date.now();
    await produceBatch(t, 'minbytes', 0, batchOf(['c'.repeat(400)]));
    const res = await parked;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(values(res.recordBatch)).toEqual(['a'.repeat(400), 'b'.repeat(400), 'c'.repeat(400)]);
    // Fewer bytes than min_bytes by max_wait_ms: the fetch answers with what it has.
    const short = Date.now();
    const partial = await fetchFrom(t, 'minbytes', 0, 0, { maxWaitMs: 300, minBytes: 1_000_000 });
    expect(Date.now() - short).toBeGreaterThanOrEqual(290);
    expect(values(partial.recordBatch)).toHaveLength(3);
  });

  it('returns at least one batch even when it is larger than max_bytes', async () => {
    await createTopic(t, 'onebatch');
    await produceBatch(t, 'onebatch', 0, batchOf(['x'.repeat(5000)]));
    await produceBatch(t, 'onebatch', 0, batchOf(['y'.repeat(5000)]));
    const res = await fetchFrom(t, 'onebatch', 0, 0, { maxBytes: 100 });
    expect(values(res.recordBatch)).toEqual(['x'.repeat(5000)]);
  });

  it('lists offsets: earliest, latest, by timestamp', async () => {
    await createTopic(t, 'times');
    await produceBatch(t, 'times', 0, batchOf(['t1000'], {}, 1000));
    await produceBatch(t, 'times', 0, batchOf(['t2000', 't2000b'], {}, 2000));
    await produceBatch(t, 'times', 0, batchOf(['t1500'], {}, 1500)); // timestamps need not be monotonic
    const list = async (spec: tributary.v1.OffsetSpec, timestampMs = 0) => {
      const res = await call(t.broker, t.broker.listOffsets, { topics: [{ topic: 'times', partitions: [{ partition: 0, spec, timestampMs, currentLeaderEpoch: -1 }] }] });
      const p = res.topics[0]?.partitions?.[0];
      return [codeName(p?.error), Number(p?.offset), Number(p?.timestampMs)];
    };
    expect(await list(tributary.v1.OffsetSpec.EARLIEST)).toEqual(['NONE', 0, -1]);
    expect(await list(tributary.v1.OffsetSpec.LATEST)).toEqual(['NONE', 4, -1]);
    expect(await list(tributary.v1.OffsetSpec.TIMESTAMP, 500)).toEqual(['NONE', 0, 1000]);
    expect(await list(tributary.v1.OffsetSpec.TIMESTAMP, 1001)).toEqual(['NONE', 1, 2000]);
    expect(await list(tributary.v1.OffsetSpec.TIMESTAMP, 2001)).toEqual(['NONE', -1, -1]);
    expect(await list(tributary.v1.OffsetSpec.MAX_TIMESTAMP)).toEqual(['NONE', 1, 2000]);
    const unknown = await call(t.broker, t.broker.listOffsets, { topics: [{ topic: 'nope', partitions: [{ partition: 0 }] }] });
    expect(codeName(unknown.topics[0]?.partitions?.[0]?.error)).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });

  it('stamps LogAppendTime on topics configured for it', async () => {
    await createTopic(t, 'appendtime', 1, { 'message.timestamp.type': 'LogAppendTime' });
    const before = Date.now();
    const res = await produceBatch(t, 'appendtime', 0, batchOf(['a'], {}, 5));
    expect(Number(res.logAppendTimeMs)).toBeGreaterThanOrEqual(before);
    const fetched = await fetchFrom(t, 'appendtime', 0, 0, { format: tributary.v1.RecordFormat.RECORDS });
    expect(Number(fetched.records?.[0]?.timestampMs)).toBe(Number(res.logAppendTimeMs));
  });

  it('acks=0 answers at once with an empty response and still appends', async () => {
    await createTopic(t, 'fire');
    const res = await call(t.broker, t.broker.produce, { acks: 0, topics: [{ topic: 'fire', partitions: [{ partition: 0, recordBatch: batchOf(['forget']) }] }] });
    expect(res.topics).toEqual([]);
    const fetched = await fetchFrom(t, 'fire', 0, 0, { maxWaitMs: 2000, minBytes: 1 });
    expect(values(fetched.recordBatch)).toEqual(['forget']);
  });

  it('tells a fetcher whose log diverged from ours where to truncate (KIP-320)', async () => {
    await createTopic(t, 'diverge');
    await produceBatch(t, 'diverge', 0, batchOf(['a', 'b']));
    const fetchAt = async (fetchOffset: number, lastFetchedEpoch: number) => {
      const res = await call(t.broker, t.broker.fetch, { topics: [{ topic: 'diverge', partitions: [{ partition: 0, fetchOffset, lastFetchedEpoch, currentLeaderEpoch: -1 }] }] });
      const p = res.topics[0]?.partitions?.[0];
      return { diverging: p?.divergingEpoch == null ? null : [p.divergingEpoch.epoch, Number(p.divergingEpoch.endOffset)], bytes: p?.recordBatch?.length ?? 0, error: codeName(p?.error) };
    };
    // The fetcher has epoch-0 records up to offset 5, but our epoch 0 ends at 2: truncate to 2.
    expect(await fetchAt(5, 0)).toEqual({ diverging: [0, 2], bytes: 0, error: 'NONE' });
    // An epoch we never had: no common epoch known (-1, -1), as Kafka answers.
    expect(await fetchAt(2, 3)).toEqual({ diverging: [-1, -1], bytes: 0, error: 'NONE' });
    // Consistent: no divergence, normal read.
    expect(await fetchAt(0, 0)).toMatchObject({ diverging: null, error: 'NONE' });
    expect((await fetchAt(0, 0)).bytes).toBeGreaterThan(0);
  });

  it('streams new data to a Subscribe call and stops when cancelled', async () => {
    await createTopic(t, 'stream');
    const stream = t.broker.subscribe({ maxWaitMs: 200, topics: [{ topic: 'stream', partitions: [{ partition: 0, fetchOffset: 0, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }] });
    const received: string[] = [];
    const done = new Promise<void>((resolve) => {
      stream.on('data', (res: tributary.v1.FetchResponse) => {
        received.push(...values(res.topics[0]?.partitions?.[0]?.recordBatch));
        if (received.length >= 3) resolve();
      });
    });
    stream.on('error', () => undefined); // the cancel below surfaces as CANCELLED
    await produceBatch(t, 'stream', 0, batchOf(['s1']));
    await produceBatch(t, 'stream', 0, batchOf(['s2', 's3']));
    await done;
    expect(received).toEqual(['s1', 's2', 's3']);
    stream.cancel();
  });
});
