// The leader validates every produced batch before it writes anything (Kafka's LogValidator): a hostile
// batch with a valid CRC gets a typed error for its own partition, the other partitions of the same request
// are appended, the node stays ready, records written before are still read back, and a restart finds
// nothing to fence the broker for. Batches are crafted byte by byte here and sent with the raw gRPC Produce.
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ATTRIBUTES_OFFSET, BATCH_LENGTH_OFFSET, COMPRESSION_CODE, CRC_OFFSET, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD_BYTES, RECORD_COUNT_OFFSET,
  RECORDS_OFFSET, computeBatchCrc, decodeRecordBatches, encodeRecordBatch, tributary,
} from '@tributary/protocol';
import { PartitionLog } from '@tributary/storage';
import { batchOf, call, codeName, createTopic, fetchFrom, startTestNode, type TestNode } from './helpers.js';

/** Rewrites header fields of an encoded batch, then fixes batchLength and the CRC: a "valid" hostile batch. */
function craft(batch: Buffer, edit: { recordCount?: number; lastOffsetDelta?: number; codec?: number; records?: Buffer }): Buffer {
  const out = edit.records === undefined ? Buffer.from(batch) : Buffer.concat([batch.subarray(0, RECORDS_OFFSET), edit.records]);
  if (edit.recordCount !== undefined) out.writeInt32BE(edit.recordCount, RECORD_COUNT_OFFSET);
  if (edit.lastOffsetDelta !== undefined) out.writeInt32BE(edit.lastOffsetDelta, LAST_OFFSET_DELTA_OFFSET);
  if (edit.codec !== undefined) out.writeInt16BE((out.readInt16BE(ATTRIBUTES_OFFSET) & ~0x07) | edit.codec, ATTRIBUTES_OFFSET);
  out.writeInt32BE(out.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_OFFSET);
  out.writeUInt32BE(computeBatchCrc(out, 0, out.length), CRC_OFFSET);
  return out;
}

const INT32_MAX = 2 ** 31 - 1;

/** One request: `bad` to partition 0 and a good batch to partition 1 of `topic`. */
async function produceBadAndGood(t: TestNode, topic: string, bad: Buffer): Promise<{ bad: tributary.v1.IProducePartitionResponse; good: tributary.v1.IProducePartitionResponse }> {
  const res = await call(t.broker, t.broker.produce, {
    acks: -1, timeoutMs: 5000,
    topics: [{ topic, partitions: [{ partition: 0, recordBatch: bad, currentLeaderEpoch: -1 }, { partition: 1, recordBatch: batchOf(['neighbour']), currentLeaderEpoch: -1 }] }],
  });
  const [p0, p1] = res.topics[0]?.partitions ?? [];
  if (p0 === undefined || p1 === undefined) throw new Error('missing partitions in the produce response');
  return { bad: p0, good: p1 };
}

const values = (bytes: Uint8Array | null | undefined): string[] =>
  decodeRecordBatches(Buffer.from(bytes ?? new Uint8Array())).flatMap((b) => b.records.map((r) => r.value?.toString() ?? '<null>'));

async function readyStatus(t: TestNode): Promise<number> {
  return (await fetch(`http://${t.node.httpAddress}/readyz`)).status;
}

/** Waits (with a deadline) until the node answers metadata with a leader for every partition of `topic`. */
async function waitForLeaders(t: TestNode, topic: string, deadlineMs = 15_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const md = await call(t.broker, t.broker.metadata, { topics: [topic] });
    const partitions = md.topics[0]?.partitions ?? [];
    if (partitions.length > 0 && partitions.every((p) => (p.leaderId ?? -1) >= 0) && (await readyStatus(t)) === 200) return;
    if (Date.now() > deadline) throw new Error(`${topic} has no leader for every partition within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('produce validation: hostile batches fail their own partition only', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode({ set: { 'http.listen': '127.0.0.1:0', 'socket.request.max.bytes': String(64 * 1024 * 1024) } });
    await createTopic(t, 'v', 2);
    const before = await produceBadAndGood(t, 'v', batchOf(['before-1', 'before-2']));
    expect(codeName(before.bad.error)).toBe('NONE');
  });
  afterAll(async () => {
    await t?.close();
  });

  const hostile: { name: string; batch: () => Buffer; code: string }[] = [
    {
      // The finding: 100 batches whose headers claim 2^31-1 records each used to fail the log
      // ("relative offset … out of u32 range") and fence the broker after a restart.
      name: '100 batches claiming 2^31-1 records each',
      batch: () => Buffer.concat(Array.from({ length: 100 }, () => craft(batchOf(['x']), { recordCount: INT32_MAX, lastOffsetDelta: INT32_MAX - 1 }))),
      code: 'INVALID_RECORD',
    },
    { name: 'one real record, header claims 1,001', batch: () => craft(batchOf(['only']), { recordCount: 1001, lastOffsetDelta: 1000 }), code: 'INVALID_RECORD' },
    { name: 'lastOffsetDelta beyond recordCount - 1', batch: () => craft(batchOf(['a', 'b']), { lastOffsetDelta: 5 }), code: 'INVALID_RECORD' },
    { name: 'garbage record bytes', batch: () => craft(batchOf(['g']), { records: Buffer.alloc(40, 0xff) }), code: 'CORRUPT_MESSAGE' },
    { name: 'an lz4 flag on plain record bytes', batch: () => craft(batchOf(['plain bytes, not lz4 at all']), { codec: COMPRESSION_CODE.lz4 }), code: 'CORRUPT_MESSAGE' },
    {
      // 200 MiB of zeros deflates to ~204 KB: under max.message.bytes compressed, far over it inflated.
      name: 'a gzip bomb (200 MiB inflated)',
      batch: () => craft(batchOf(['bomb']), { codec: COMPRESSION_CODE.gzip, records: gzipSync(Buffer.alloc(200 * 1024 * 1024), { level: 9 }) }),
      code: 'MESSAGE_TOO_LARGE',
    },
  ];

  for (const { name, batch, code } of hostile) {
    it(`refuses ${name} with ${code}; the neighbour partition is appended`, async () => {
      const hwBefore = Number((await fetchFrom(t, 'v', 0, 0)).highWatermark);
      const { bad, good } = await produceBadAndGood(t, 'v', batch());
      expect(codeName(bad.error), bad.error?.message ?? '').toBe(code);
      expect(codeName(good.error)).toBe('NONE');
      // Nothing of the bad batch was stored; the partition still takes and serves records.
      expect(Number((await fetchFrom(t, 'v', 0, 0)).highWatermark)).toBe(hwBefore);
      expect(await readyStatus(t)).toBe(200);
      const after = await produceBadAndGood(t, 'v', batchOf([`after ${name}`]));
      expect(codeName(after.bad.error)).toBe('NONE');
      expect(values((await fetchFrom(t, 'v', 0, 0)).recordBatch).slice(0, 2)).toEqual(['before-1', 'before-2']);
    });
  }

  it('a restart finds every partition online and every accepted record', async () => {
    const expected = values((await fetchFrom(t, 'v', 0, 0)).recordBatch);
    expect(expected.slice(0, 2)).toEqual(['before-1', 'before-2']);
    t = await t.restart();
    await waitForLeaders(t, 'v');
    expect(values((await fetchFrom(t, 'v', 0, 0)).recordBatch)).toEqual(expected);
    const again = await produceBadAndGood(t, 'v', batchOf(['after restart']));
    expect(codeName(again.bad.error)).toBe('NONE');
    expect(codeName(again.good.error)).toBe('NONE');
  });
});

describe('fetch in RECORDS format over a stored batch that does not decode', () => {
  let t: TestNode;
  afterAll(async () => {
    await t?.close();
  });

  it('answers CORRUPT_MESSAGE for that partition (not gRPC INTERNAL) and still serves the records before it', async () => {
    t = await startTestNode({ set: { 'http.listen': '127.0.0.1:0' } });
    await createTopic(t, 'p', 2);
    const good = await produceBadAndGood(t, 'p', batchOf(['good-0', 'good-1']));
    expect(codeName(good.bad.error)).toBe('NONE');
    // Poison as an older version stored it: header claims 1,001 records, the bytes hold one. Storage does
    // not decode records, so writing through the log directly (node stopped) still puts it on disk.
    const dataDir = t.dataDir;
    await t.node.close();
    const log = await PartitionLog.open({ dir: join(dataDir, 'p-0'), clock: Date.now });
    await log.appendAsLeader(craft(batchOf(['poison']), { recordCount: 1001, lastOffsetDelta: 1000 }), log.latestEpoch);
    await log.close();
    t = await t.restart();
    await waitForLeaders(t, 'p');
    const highWatermark = 2 + 1001;
    const deadline = Date.now() + 10_000;
    while (Number((await fetchFrom(t, 'p', 0, 0)).highWatermark) < highWatermark && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));

    const fetchRecords = async (fetchOffset: number) => {
      const res = await call(t.broker, t.broker.fetch, {
        maxWaitMs: 0, minBytes: 0, maxBytes: 1024 * 1024, format: tributary.v1.RecordFormat.RECORDS,
        topics: [{ topic: 'p', partitions: [{ partition: 0, fetchOffset, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }, { partition: 1, fetchOffset: 0, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
      });
      const [p0, p1] = res.topics[0]?.partitions ?? [];
      return { p0: p0!, p1: p1! };
    };
    const fromStart = await fetchRecords(0);
    expect(codeName(fromStart.p0.error)).toBe('NONE');
    expect(fromStart.p0.records?.map((r) => Buffer.from(r.value ?? []).toString())).toEqual(['good-0', 'good-1']);
    expect(codeName(fromStart.p1.error)).toBe('NONE');
    expect(fromStart.p1.records?.map((r) => Buffer.from(r.value ?? []).toString())).toEqual(['neighbour']);

    const atPoison = await fetchRecords(2);
    expect(codeName(atPoison.p0.error)).toBe('CORRUPT_MESSAGE');
    expect(atPoison.p0.records ?? []).toEqual([]);
    expect(codeName(atPoison.p1.error)).toBe('NONE');
    expect(atPoison.p1.records).toHaveLength(1);
    expect(await readyStatus(t)).toBe(200);
  });
});
