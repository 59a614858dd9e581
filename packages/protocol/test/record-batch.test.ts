import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_BYTES,
  CorruptRecordError,
  CRC_OFFSET,
  decodeRecordBatch,
  decodeRecordBatches,
  encodeRecordBatch,
  InvalidArgumentError,
  MessageTooLargeError,
  readBatchHeader,
  RECORD_COUNT_OFFSET,
  RECORDS_OFFSET,
  type RecordInput,
  setLogAppendTime,
  stampBatch,
  UnsupportedCompressionError,
  validateBatches,
} from '../src/index.js';
import { batchInput, batchInputArb, compressionArb, expectedBatch, plainBatch, recordArb, reframe, SEED } from './batch-arbitraries.js';

const value = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('encodeRecordBatch → decodeRecordBatches', () => {
  it('round-trips arbitrary records, headers, timestamps, producer fields and every compression', () => {
    fc.assert(
      fc.property(batchInput, (input) => {
        const encoded = encodeRecordBatch(input);
        const batches = decodeRecordBatches(encoded);
        expect(batches).toHaveLength(1);
        expect(plainBatch(batches[0]!)).toEqual(expectedBatch(input));
        expect(batches[0]!.sizeBytes).toBe(encoded.length);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('round-trips large batches (thousands of records, 64 KiB values)', () => {
    const manyRecords = fc.array(recordArb, { minLength: 1000, maxLength: 3000 });
    const bigValues = fc.array(
      fc.record({ value: fc.uint8Array({ minLength: 60_000, maxLength: 70_000 }), timestamp: fc.constant(1_700_000_000_000) }),
      { minLength: 1, maxLength: 8 },
    );
    fc.assert(
      fc.property(batchInputArb(fc.oneof(manyRecords, bigValues)), (input) => {
        const batches = decodeRecordBatches(encodeRecordBatch(input));
        expect(plainBatch(batches[0]!)).toEqual(expectedBatch(input));
      }),
      { seed: SEED, numRuns: 12 },
    );
  });

  it('decodes concatenated batches in order, each at its position', () => {
    fc.assert(
      fc.property(fc.array(batchInput, { minLength: 1, maxLength: 5 }), (inputs) => {
        const encoded = inputs.map((i) => encodeRecordBatch(i));
        const batches = decodeRecordBatches(Buffer.concat(encoded));
        expect(batches.map(plainBatch)).toEqual(inputs.map(expectedBatch));
        let pos = 0;
        batches.forEach((b, i) => {
          expect(b.position).toBe(pos);
          pos += encoded[i]!.length;
        });
      }),
      { seed: SEED, numRuns: 60 },
    );
  });

  it('accepts any Uint8Array view, not only Buffers', () => {
    const encoded = encodeRecordBatch({ records: [{ value: value('v'), timestamp: 1 }] });
    const padded = new Uint8Array(encoded.length + 10);
    padded.set(encoded, 5);
    const view = padded.subarray(5, 5 + encoded.length);
    expect(decodeRecordBatches(view)[0]!.records[0]!.value?.toString()).toBe('v');
  });

  it('returns no batches for an empty buffer', () => {
    expect(decodeRecordBatches(new Uint8Array(0))).toEqual([]);
  });

  it('gives every record of a LogAppendTime batch the batch maxTimestamp', () => {
    const encoded = encodeRecordBatch({
      timestampType: 'log-append',
      records: [
        { value: value('a'), timestamp: 10 },
        { value: value('b'), timestamp: 30 },
        { value: value('c'), timestamp: 20 },
      ],
    });
    expect(decodeRecordBatches(encoded)[0]!.records.map((r) => r.timestamp)).toEqual([30, 30, 30]);
  });

  it('uses the first record timestamp as baseTimestamp and fills missing timestamps from it', () => {
    const encoded = encodeRecordBatch({ records: [{ value: null, timestamp: 500 }, { value: null }, { value: null, timestamp: 400 }] });
    const [batch] = decodeRecordBatches(encoded);
    expect(batch!.baseTimestamp).toBe(500);
    expect(batch!.maxTimestamp).toBe(500);
    expect(batch!.records.map((r) => r.timestamp)).toEqual([500, 500, 400]);
  });
});

describe('encodeRecordBatch input validation', () => {
  const ok: RecordInput = { value: value('v'), timestamp: 1 };
  const cases: [string, () => unknown][] = [
    ['records', () => encodeRecordBatch({ records: [] })],
    ['baseTimestamp', () => encodeRecordBatch({ records: [{ value: null }] })],
    ['baseOffset', () => encodeRecordBatch({ records: [ok], baseOffset: -1 })],
    ['partitionLeaderEpoch', () => encodeRecordBatch({ records: [ok], partitionLeaderEpoch: 2 ** 31 })],
    ['producerEpoch', () => encodeRecordBatch({ records: [ok], producerEpoch: 2 ** 15 })],
    ['baseSequence', () => encodeRecordBatch({ records: [ok], baseSequence: 1.5 })],
    ['compression', () => encodeRecordBatch({ records: [ok], compression: 'zstd' as never })],
    ['timestampType', () => encodeRecordBatch({ records: [ok], timestampType: 'now' as never })],
    ['records[1].timestamp', () => encodeRecordBatch({ records: [ok, { value: null, timestamp: 2 ** 60 }] })],
    ['records[0].value', () => encodeRecordBatch({ records: [{ timestamp: 1 } as never] })],
    ['records[0].key', () => encodeRecordBatch({ records: [{ ...ok, key: 'text' as never }] })],
    ['records[0].headers[0].key', () => encodeRecordBatch({ records: [{ ...ok, headers: [{ key: 'bad\uD800', value: null }] }] })],
    ['records[0].headers[0].value', () => encodeRecordBatch({ records: [{ ...ok, headers: [{ key: 'k', value: 'x' as never }] }] })],
  ];
  it.each(cases)('names the bad field %s', (field, encode) => {
    let thrown: unknown;
    try {
      encode();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(InvalidArgumentError);
    expect((thrown as InvalidArgumentError).field).toBe(field);
  });
});

describe('header view', () => {
  it('readBatchHeader reports every header field without decoding records', () => {
    fc.assert(
      fc.property(batchInput, (input) => {
        const encoded = encodeRecordBatch(input);
        const header = readBatchHeader(encoded, 0);
        const { records: _records, ...expected } = expectedBatch(input) as Record<string, unknown>;
        expect(header).toMatchObject(expected);
        expect(header.sizeBytes).toBe(encoded.length);
        expect(header.batchLength).toBe(encoded.length - 12);
        expect(header.position).toBe(0);
        expect(header.magic).toBe(2);
        expect(header.crc).toBe(encoded.readUInt32BE(CRC_OFFSET));
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('validateBatches walks concatenated batches and enforces maxBatchBytes and maxBatches', () => {
    const a = encodeRecordBatch({ records: [{ value: Buffer.alloc(100), timestamp: 1 }] });
    const b = encodeRecordBatch({ records: [{ value: Buffer.alloc(300), timestamp: 1 }], compression: 'none' });
    const both = Buffer.concat([a, b]);
    const headers = validateBatches(both);
    expect(headers.map((h) => [h.position, h.sizeBytes])).toEqual([
      [0, a.length],
      [a.length, b.length],
    ]);
    expect(validateBatches(both, { maxBatchBytes: b.length })).toHaveLength(2);
    expect(() => validateBatches(both, { maxBatchBytes: b.length - 1 })).toThrow(MessageTooLargeError);
    expect(() => validateBatches(both, { maxBatches: 1 })).toThrow(CorruptRecordError);
    expect(() => validateBatches(Buffer.alloc(0))).toThrow(CorruptRecordError);
    expect(() => decodeRecordBatches(both, { maxBatchBytes: b.length - 1 })).toThrow(MessageTooLargeError);
  });

  it('stampBatch sets baseOffset and partitionLeaderEpoch in place and leaves the CRC valid', () => {
    fc.assert(
      fc.property(
        fc.array(batchInput, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 0, max: 2 ** 52 }),
        fc.integer({ min: -1, max: 2 ** 31 - 1 }),
        (inputs, baseOffset, partitionLeaderEpoch) => {
          const buf = Buffer.concat(inputs.map((i) => encodeRecordBatch(i)));
          const crcs = validateBatches(buf).map((h) => h.crc);
          let next = baseOffset;
          for (const header of validateBatches(buf)) {
            stampBatch(buf, header.position, { baseOffset: next, partitionLeaderEpoch });
            next += header.lastOffsetDelta + 1;
          }
          const after = validateBatches(buf);
          expect(after.map((h) => h.crc)).toEqual(crcs);
          const decoded = decodeRecordBatches(buf);
          const offsets = decoded.flatMap((b) => b.records.map((r) => r.offset));
          expect(offsets).toEqual(offsets.map((_, i) => baseOffset + i));
          expect(decoded.every((b) => b.partitionLeaderEpoch === partitionLeaderEpoch)).toBe(true);
        },
      ),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('stampBatch refuses impossible values loudly', () => {
    const buf = encodeRecordBatch({ records: [{ value: null, timestamp: 1 }] });
    expect(() => stampBatch(buf, 0, { baseOffset: -1, partitionLeaderEpoch: 0 })).toThrow(/baseOffset/);
    expect(() => stampBatch(buf, 0, { baseOffset: 0, partitionLeaderEpoch: -2 })).toThrow(/partitionLeaderEpoch/);
    expect(() => stampBatch(buf, buf.length - BATCH_HEADER_BYTES + 1, { baseOffset: 0, partitionLeaderEpoch: 0 })).toThrow(/position/);
  });

  it('setLogAppendTime switches the timestamp type, sets maxTimestamp and recomputes the CRC', () => {
    fc.assert(
      fc.property(batchInput, fc.integer({ min: 0, max: 2 ** 45 }), (input, appendTimeMs) => {
        const buf = encodeRecordBatch(input);
        setLogAppendTime(buf, 0, appendTimeMs);
        const [header] = validateBatches(buf);
        expect(header!.timestampType).toBe('log-append');
        expect(header!.maxTimestamp).toBe(appendTimeMs);
        const [batch] = decodeRecordBatches(buf);
        expect(batch!.records.every((r) => r.timestamp === appendTimeMs)).toBe(true);
        // Nothing else changed.
        const { timestampType: _t, maxTimestamp: _m, records, ...rest } = expectedBatch(input) as Record<string, unknown>;
        expect(plainBatch(batch!)).toMatchObject(rest);
        expect((plainBatch(batch!) as { records: { key: unknown }[] }).records.map((r) => r.key)).toEqual(
          (records as { key: unknown }[]).map((r) => r.key),
        );
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('setLogAppendTime refuses to re-bless a corrupt batch with a fresh CRC', () => {
    const buf = encodeRecordBatch({ records: [{ value: value('payload'), timestamp: 1 }] });
    buf[buf.length - 3]! ^= 0x10;
    const before = Buffer.from(buf);
    expect(() => setLogAppendTime(buf, 0, 99)).toThrow(CorruptRecordError);
    expect(buf.equals(before)).toBe(true);
  });

  it('reports snappy and zstd as unsupported, other unknown codecs and attribute bits as corrupt', () => {
    const codec = (code: number): Buffer => {
      const buf = encodeRecordBatch({ records: [{ value: value('v'), timestamp: 1 }] });
      buf.writeInt16BE(code, ATTRIBUTES_OFFSET);
      return reframe(buf);
    };
    for (const code of [2, 4]) {
      expect(() => validateBatches(codec(code))).toThrow(UnsupportedCompressionError);
      expect(() => decodeRecordBatches(codec(code))).toThrow(UnsupportedCompressionError);
    }
    for (const code of [5, 6, 7, 0x40, 0x100, -0x8000]) {
      expect(() => validateBatches(codec(code))).toThrow(CorruptRecordError);
      expect(() => decodeRecordBatches(codec(code))).toThrow(CorruptRecordError);
    }
  });

  it('decodeRecordBatch decodes the batch at a given position', () => {
    const a = encodeRecordBatch({ records: [{ value: value('a'), timestamp: 1 }] });
    const b = encodeRecordBatch({ records: [{ value: value('b'), timestamp: 2 }], baseOffset: 7 });
    const batch = decodeRecordBatch(Buffer.concat([a, b]), a.length);
    expect(batch.records[0]).toMatchObject({ offset: 7, timestamp: 2 });
    expect(batch.records[0]!.value?.toString()).toBe('b');
    expect(() => decodeRecordBatch(a, -1)).toThrow(InvalidArgumentError);
  });
});

describe('record-level checks behind a valid CRC', () => {
  const base = (): Buffer =>
    encodeRecordBatch({
      records: [
        { value: value('one'), timestamp: 1 },
        { value: value('two'), timestamp: 2 },
      ],
    });

  it('rejects a recordCount that disagrees with the records', () => {
    for (const count of [0, 1, 3, 2 ** 31 - 1, -1]) {
      const buf = base();
      buf.writeInt32BE(count, RECORD_COUNT_OFFSET);
      expect(() => decodeRecordBatches(reframe(buf))).toThrow(CorruptRecordError);
    }
  });

  it('rejects trailing bytes after the last record', () => {
    const buf = reframe(Buffer.concat([base(), Buffer.from([0])]));
    expect(() => decodeRecordBatches(buf)).toThrow(CorruptRecordError);
  });

  it('rejects a batch with no room for its records', () => {
    const buf = reframe(Buffer.from(base().subarray(0, BATCH_HEADER_BYTES)));
    expect(() => decodeRecordBatches(buf)).toThrow(CorruptRecordError);
  });

  it('bounds decompressed size (maxDecompressedBytes) for every codec', () => {
    fc.assert(
      fc.property(compressionArb, (compression) => {
        const buf = encodeRecordBatch({ compression, records: [{ value: Buffer.alloc(100_000, 7), timestamp: 1 }] });
        expect(decodeRecordBatches(buf, { maxDecompressedBytes: 200_000 })[0]!.records).toHaveLength(1);
        if (compression !== 'none') {
          expect(() => decodeRecordBatches(buf, { maxDecompressedBytes: 50_000 })).toThrow(CorruptRecordError);
        }
      }),
      { seed: SEED, numRuns: 6 },
    );
  });

  it('rejects an lz4 size prefix that lies about the decompressed size', () => {
    const buf = encodeRecordBatch({ compression: 'lz4', records: [{ value: Buffer.alloc(1000, 1), timestamp: 1 }] });
    const declared = buf.readUInt32LE(RECORDS_OFFSET);
    for (const lie of [declared + 1, declared - 1, 0, 2 ** 32 - 1]) {
      const copy = Buffer.from(buf);
      copy.writeUInt32LE(lie, RECORDS_OFFSET);
      expect(() => decodeRecordBatches(reframe(copy))).toThrow(CorruptRecordError);
    }
  });
});
