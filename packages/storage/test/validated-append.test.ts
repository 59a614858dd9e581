// A leader append that carries the edge's headers (validateBatches' output) is not re-parsed: the log
// asserts that the headers tile the bytes and applies its typed limits from the header fields.
import { AssertionError } from 'node:assert';
import { afterEach, describe, expect, it } from 'vitest';
import { validateBatches } from '@tributary/record-format';
import { InvalidRecordError, RecordTooLargeError } from '../src/index.js';
import { buildBatch, resealCrc } from './batch-builder.js';
import { LogHarness, readAll } from './harness.js';

const h = new LogHarness();
afterEach(() => h.dispose());

describe('leader append with the edge-validated headers', () => {
  it('appends with the same offsets, timestamps and bytes as without headers', async () => {
    const bytes = () => Buffer.concat([buildBatch({ recordCount: 2, fill: 1, maxTimestamp: 1_500 }), buildBatch({ recordCount: 3, fill: 2 })]);
    const withHeaders = await h.open(await h.dir());
    const plain = await h.open(await h.dir());
    const b = bytes();
    const infoA = await withHeaders.appendAsLeader(b, 0, { headers: validateBatches(b) });
    const infoB = await plain.appendAsLeader(bytes(), 0);
    expect(infoA).toEqual(infoB);
    expect(infoA).toMatchObject({ firstOffset: 0, lastOffset: 4 });
    const readA = await readAll(withHeaders, 10_000);
    expect(readA.map((x) => [x.baseOffset, x.lastOffset, x.fill])).toEqual([[0, 1, 1], [2, 4, 2]]);
    expect(readA).toEqual(await readAll(plain, 10_000));
    expect(withHeaders.maxTimestampAndOffset()).toEqual({ timestamp: 1_500, offset: 0 });
  });

  it('asserts (a bug, not bad input) when the headers do not tile the bytes, and leaves the log unchanged', async () => {
    const log = await h.open(await h.dir());
    const one = buildBatch({ recordCount: 2 });
    const two = Buffer.concat([buildBatch({ recordCount: 2 }), buildBatch({ recordCount: 1 })]);
    const headersOfTwo = validateBatches(two);
    // Headers of other bytes: same sizes, but they claim other offsets than the bytes do.
    await expect(log.appendAsLeader(Buffer.concat([one, one]), 0, { headers: headersOfTwo })).rejects.toThrow(/lastOffsetDelta 0/);
    // Headers of other bytes: sizes differ.
    const other = Buffer.concat([buildBatch({ recordCount: 2, payloadBytes: 50 }), buildBatch({ recordCount: 1, payloadBytes: 150 })]);
    await expect(log.appendAsLeader(other, 0, { headers: headersOfTwo })).rejects.toThrow(AssertionError);
    // Too few headers for the bytes.
    await expect(log.appendAsLeader(Buffer.from(two), 0, { headers: headersOfTwo.slice(0, 1) })).rejects.toThrow(AssertionError);
    // A header not where the previous batch ends.
    await expect(log.appendAsLeader(Buffer.from(two), 0, { headers: [headersOfTwo[1]!, headersOfTwo[0]!] })).rejects.toThrow(AssertionError);
    // No headers at all for non-empty bytes.
    await expect(log.appendAsLeader(Buffer.from(one), 0, { headers: [] })).rejects.toThrow(AssertionError);
    expect(log.logEndOffset).toBe(0);
    expect(await readAll(log, 10_000)).toEqual([]);
  });

  it('applies max.message.bytes and the dense-offset rule from the headers, with the same typed errors', async () => {
    const log = await h.open(await h.dir(), { maxMessageBytes: 200 });
    const big = buildBatch({ payloadBytes: 200 });
    await expect(log.appendAsLeader(big, 0, { headers: validateBatches(big) })).rejects.toThrow(RecordTooLargeError);
    const sparse = buildBatch({ recordCount: 3 });
    sparse.writeInt32BE(1, 57); // recordCount 1 with lastOffsetDelta 2
    resealCrc(sparse);
    await expect(log.appendAsLeader(sparse, 0, { headers: validateBatches(sparse) })).rejects.toThrow(InvalidRecordError);
    await expect(log.appendAsLeader(Buffer.alloc(0), 0, { headers: [] })).rejects.toThrow(InvalidRecordError);
    expect(log.logEndOffset).toBe(0);
  });

  it('LogAppendTime with the edge headers: the same bytes and a valid CRC, updated without a pass over the batch', async () => {
    const bytes = () => Buffer.concat([buildBatch({ recordCount: 2, fill: 1, maxTimestamp: 1_500 }), buildBatch({ recordCount: 3, fill: 2, payloadBytes: 5_000 })]);
    const withHeaders = await h.open(await h.dir());
    const plain = await h.open(await h.dir());
    const b = bytes();
    const infoA = await withHeaders.appendAsLeader(b, 0, { headers: validateBatches(b), logAppendTimeMs: 777 });
    expect(infoA).toEqual(await plain.appendAsLeader(bytes(), 0, { logAppendTimeMs: 777 }));
    const read = (await withHeaders.read(0, 100_000)).records;
    expect(read.equals((await plain.read(0, 100_000)).records)).toBe(true);
    // validateBatches verifies every CRC: the updated ones are right.
    expect(validateBatches(read).map((x) => [x.timestampType, x.maxTimestamp])).toEqual([['log-append', 777], ['log-append', 777]]);
  });

  it('LogAppendTime without the edge headers still verifies the CRC first: a corrupt batch is refused, the log unchanged', async () => {
    const log = await h.open(await h.dir());
    const bad = buildBatch({ recordCount: 2 });
    bad[bad.length - 1]! ^= 0x01;
    await expect(log.appendAsLeader(bad, 0, { logAppendTimeMs: 777 })).rejects.toThrow(/CRC/);
    expect(log.logEndOffset).toBe(0);
  });
});
