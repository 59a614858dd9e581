// Consumer fetch paths against a scripted broker: leader epochs on fetch, KIP-320 truncation
// detection, leadership errors, corrupt data.
import { computeBatchCrc, CRC_OFFSET, encodeRecordBatch, ErrorCode, LAST_OFFSET_DELTA_OFFSET, RECORD_COUNT_OFFSET, stampBatch } from '@tributary/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Consumer, CorruptRecordError, LogTruncationError, type ConsumerOptions } from '../src/index.js';
import { startFakeBroker, type FakeBroker, type FakeBrokerScript } from './fake-broker.js';

const TOPIC = 'fake';
let fake: FakeBroker | undefined;
let consumer: Consumer | undefined;

afterEach(async () => {
  await consumer?.close();
  await fake?.close();
  consumer = undefined;
  fake = undefined;
});

/** One encoded batch of `count` records starting at `baseOffset`, written in `leaderEpoch`. */
function batchBytes(baseOffset: number, count: number, leaderEpoch: number): Buffer {
  const buf = encodeRecordBatch({
    records: Array.from({ length: count }, (_, i) => ({ value: Buffer.from(`v${baseOffset + i}`), timestamp: 1_000 + i })),
  });
  stampBatch(buf, 0, { baseOffset, partitionLeaderEpoch: leaderEpoch });
  return buf;
}

async function setup(script: FakeBrokerScript, options: ConsumerOptions = {}): Promise<{ fake: FakeBroker; consumer: Consumer }> {
  fake = await startFakeBroker(TOPIC, 1, script);
  consumer = new Consumer({ 'bootstrap.servers': fake.address, 'retry.backoff.ms': 10, 'retry.backoff.max.ms': 20, ...options });
  consumer.assign([{ topic: TOPIC, partition: 0 }]);
  consumer.seek({ topic: TOPIC, partition: 0 }, 0);
  return { fake, consumer };
}

describe('consumer fetch', () => {
  it('sends the leader epoch and the last fetched epoch with each fetch', async () => {
    const { fake, consumer } = await setup({
      leaderEpoch: 4,
      fetch: (p) => (Number(p.fetchOffset) === 0 ? { highWatermark: 3, recordBatch: batchBytes(0, 3, 2) } : { highWatermark: 3 }),
    });
    const records = await consumer.poll({ timeoutMs: 2_000 });
    expect(records.map((r) => [r.offset, r.value?.toString(), r.leaderEpoch])).toEqual([[0, 'v0', 2], [1, 'v1', 2], [2, 'v2', 2]]);
    await consumer.poll({ timeoutMs: 50 });
    const fields = (p: typeof fake.fetches[number] | undefined): number[] => [Number(p?.fetchOffset), p?.currentLeaderEpoch ?? 0, p?.lastFetchedEpoch ?? 0];
    expect(fields(fake.fetches[0])).toEqual([0, 4, -1]);
    expect(fields(fake.fetches.at(-1))).toEqual([3, 4, 2]);
  });

  it('diverging epoch below the position with auto.offset.reset=none: LogTruncationError', async () => {
    const { consumer } = await setup({
      fetch: (p) => (Number(p.fetchOffset) === 0
        ? { highWatermark: 5, recordBatch: batchBytes(0, 5, 1) }
        : { highWatermark: 3, divergingEpoch: { epoch: 1, endOffset: 3 } }),
    }, { 'auto.offset.reset': 'none' });
    expect(await consumer.poll({ timeoutMs: 2_000 })).toHaveLength(5);
    const err = await consumer.poll({ timeoutMs: 2_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LogTruncationError);
    expect(err).toMatchObject({ position: 5, divergingEpoch: 1, divergingEndOffset: 3 });
  });

  it('diverging epoch with a reset policy: seeks back to the diverging end offset', async () => {
    let truncated = false;
    const { consumer } = await setup({
      fetch: (p) => {
        const offset = Number(p.fetchOffset);
        if (offset === 0) return { highWatermark: 5, recordBatch: batchBytes(0, 5, 1) };
        if (offset === 5 && !truncated) {
          truncated = true;
          return { highWatermark: 3, divergingEpoch: { epoch: 1, endOffset: 3 } };
        }
        if (offset === 3) return { highWatermark: 4, recordBatch: batchBytes(3, 1, 2) };
        return { highWatermark: 4 };
      },
    }, { 'auto.offset.reset': 'earliest' });
    expect(await consumer.poll({ timeoutMs: 2_000 })).toHaveLength(5);
    const after: number[] = [];
    const deadline = Date.now() + 3_000;
    while (after.length === 0 && Date.now() < deadline) after.push(...(await consumer.poll({ timeoutMs: 200 })).map((r) => r.offset));
    expect(after).toEqual([3]);
    expect(await consumer.position({ topic: TOPIC, partition: 0 })).toBe(4);
  });

  it('NOT_LEADER_OR_FOLLOWER: refreshes metadata and fetches again', async () => {
    const { fake, consumer } = await setup({
      fetch: (_p, attempt) => (attempt <= 2 ? { error: { code: ErrorCode.NOT_LEADER_OR_FOLLOWER } } : { highWatermark: 1, recordBatch: batchBytes(0, 1, 0) }),
    });
    const metadataBefore = fake.metadataRequests;
    const records = [];
    const deadline = Date.now() + 3_000;
    while (records.length === 0 && Date.now() < deadline) records.push(...await consumer.poll({ timeoutMs: 200 }));
    expect(records.map((r) => r.offset)).toEqual([0]);
    expect(fake.metadataRequests).toBeGreaterThan(metadataBefore);
  });

  it('corrupt fetched bytes surface as a typed error', async () => {
    const { consumer } = await setup({
      fetch: () => {
        const bytes = batchBytes(0, 2, 0);
        bytes[bytes.length - 1] ^= 0xff;
        return { highWatermark: 2, recordBatch: bytes };
      },
    });
    const err = await consumer.poll({ timeoutMs: 2_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptRecordError);
    expect(err).toMatchObject({ code: 'CORRUPT_MESSAGE', topic: TOPIC, partition: 0, fetchOffset: 0 });
  });

  it('a bad batch after good ones: the good records are delivered, then the error names the bad batch offset', async () => {
    // Poison an older broker stored: header claims 1,001 records, the bytes hold one (CRC valid).
    const poison = batchBytes(3, 1, 0);
    poison.writeInt32BE(1000, LAST_OFFSET_DELTA_OFFSET);
    poison.writeInt32BE(1001, RECORD_COUNT_OFFSET);
    poison.writeUInt32BE(computeBatchCrc(poison, 0, poison.length), CRC_OFFSET);
    const { consumer } = await setup({
      fetch: (p) => (Number(p.fetchOffset) <= 3
        ? { highWatermark: 1004, recordBatch: Buffer.concat([...(Number(p.fetchOffset) === 0 ? [batchBytes(0, 3, 0)] : []), poison]) }
        : { highWatermark: 1004 }),
    });
    const records = await consumer.poll({ timeoutMs: 2_000 });
    expect(records.map((r) => [r.offset, r.value?.toString()])).toEqual([[0, 'v0'], [1, 'v1'], [2, 'v2']]);
    const err = await consumer.poll({ timeoutMs: 2_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptRecordError);
    expect(err).toMatchObject({ code: 'CORRUPT_MESSAGE', fetchOffset: 3 });
  });
});
