// The serializers grpc-js uses for the hot messages (Produce and Fetch, both directions): byte-for-byte
// protobufjs's own encoding, no extra copy of the encoded message, bytes fields decoded as views of the
// received message, and hostile bytes answered with a MalformedRequest marker (requests) or an Error that
// grpc-js turns into a failed call (responses), never an uncaught crash.
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BrokerService, isMalformedRequest, tributary } from '../src/index.js';

afterEach(() => vi.restoreAllMocks());

const u32 = fc.nat({ max: 2 ** 32 - 1 });
const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const i64 = fc.maxSafeInteger();
const bytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
const error = fc.option(fc.record({ code: fc.nat({ max: 200 }), message: fc.string({ maxLength: 20 }) }), { nil: undefined });

const produceRequest: fc.Arbitrary<tributary.v1.IProduceRequest> = fc.record({
  acks: fc.constantFrom(-1, 0, 1), timeoutMs: u32, transactionalId: fc.string({ maxLength: 10 }),
  topics: fc.array(fc.record({
    topic: fc.string({ maxLength: 10 }),
    partitions: fc.array(fc.record({ partition: u32, recordBatch: bytes, currentLeaderEpoch: fc.option(i32, { nil: undefined }) }), { maxLength: 4 }),
  }), { maxLength: 3 }),
});
const produceResponse: fc.Arbitrary<tributary.v1.IProduceResponse> = fc.record({
  throttleTimeMs: u32,
  topics: fc.array(fc.record({
    topic: fc.string({ maxLength: 10 }),
    partitions: fc.array(fc.record({ partition: u32, error, baseOffset: i64, logAppendTimeMs: i64, logStartOffset: i64, batchBaseOffsets: fc.array(i64, { maxLength: 3 }) }), { maxLength: 4 }),
  }), { maxLength: 3 }),
});
const fetchRequest: fc.Arbitrary<tributary.v1.IFetchRequest> = fc.record({
  maxWaitMs: u32, minBytes: u32, maxBytes: u32, isolationLevel: fc.constantFrom(0, 1), format: fc.constantFrom(0, 1),
  topics: fc.array(fc.record({
    topic: fc.string({ maxLength: 10 }),
    partitions: fc.array(fc.record({ partition: u32, fetchOffset: i64, partitionMaxBytes: u32, currentLeaderEpoch: fc.option(i32, { nil: undefined }) }), { maxLength: 4 }),
  }), { maxLength: 3 }),
});
const fetchResponse: fc.Arbitrary<tributary.v1.IFetchResponse> = fc.record({
  error, throttleTimeMs: u32,
  topics: fc.array(fc.record({
    topic: fc.string({ maxLength: 10 }),
    partitions: fc.array(fc.record({
      partition: u32, error, highWatermark: i64, lastStableOffset: i64, logStartOffset: i64, recordBatch: bytes, leaderEpoch: i32,
      abortedTransactions: fc.array(fc.record({ producerId: i64, firstOffset: i64 }), { maxLength: 2 }),
    }), { maxLength: 4 }),
  }), { maxLength: 3 }),
});

interface Codec<T> {
  readonly name: string;
  readonly arbitrary: fc.Arbitrary<T>;
  readonly serialize: (value: T) => Buffer;
  readonly deserialize: (bytes: Buffer) => unknown;
  readonly reference: { encode(value: T): { finish(): Uint8Array }; decode(bytes: Uint8Array): unknown };
  /** Decoding a request (server side) marks bad bytes; decoding a response (client side) throws. */
  readonly side: 'request' | 'response';
}
const codecs: Codec<never>[] = [
  { name: 'ProduceRequest', arbitrary: produceRequest, serialize: BrokerService.produce.requestSerialize, deserialize: BrokerService.produce.requestDeserialize, reference: tributary.v1.ProduceRequest, side: 'request' },
  { name: 'ProduceResponse', arbitrary: produceResponse, serialize: BrokerService.produce.responseSerialize, deserialize: BrokerService.produce.responseDeserialize, reference: tributary.v1.ProduceResponse, side: 'response' },
  { name: 'FetchRequest', arbitrary: fetchRequest, serialize: BrokerService.fetch.requestSerialize, deserialize: BrokerService.fetch.requestDeserialize, reference: tributary.v1.FetchRequest, side: 'request' },
  { name: 'FetchResponse', arbitrary: fetchResponse, serialize: BrokerService.fetch.responseSerialize, deserialize: BrokerService.fetch.responseDeserialize, reference: tributary.v1.FetchResponse, side: 'response' },
] as unknown as Codec<never>[];

describe.each(codecs)('$name serializers', (codec) => {
  it('encode byte for byte as protobufjs does, and decode back to what protobufjs decodes', () => {
    fc.assert(fc.property(codec.arbitrary, (value) => {
      const reference = Buffer.from(codec.reference.encode(value).finish());
      const serialized = codec.serialize(value);
      expect(Buffer.isBuffer(serialized)).toBe(true);
      expect(serialized.equals(reference)).toBe(true);
      expect(codec.deserialize(serialized)).toEqual(codec.reference.decode(reference));
    }));
  });

  it('hand the encoded message to grpc-js without copying it again', () => {
    const values = fc.sample(codec.arbitrary, { numRuns: 20, seed: 13 });
    const from = vi.spyOn(Buffer, 'from');
    for (const value of values) codec.serialize(value);
    expect(from).not.toHaveBeenCalled();
  });

  it('answer hostile bytes without throwing past grpc-js: a MalformedRequest (requests) or an Error (responses)', () => {
    const hostile = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      // A valid message cut short or with one byte flipped: the likeliest corruption.
      fc.tuple(codec.arbitrary, fc.nat(), fc.nat({ max: 255 })).map(([value, at, xor]) => {
        const b = Buffer.from(codec.reference.encode(value).finish());
        if (b.length === 0) return b;
        if (at % 2 === 0) return b.subarray(0, at % b.length);
        b[at % b.length] ^= xor;
        return b;
      }),
    );
    fc.assert(fc.property(hostile, (b) => {
      if (codec.side === 'request') {
        const decoded = codec.deserialize(b);
        expect(decoded).toBeTypeOf('object');
        if (isMalformedRequest(decoded)) return;
      } else {
        try {
          codec.deserialize(b);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }
    }), { numRuns: 500 });
  });
});

describe('decoded record bytes', () => {
  it('are views of the received message, not copies (a produce request is copied once, by grpc-js)', () => {
    const batch = Buffer.alloc(64 * 1024, 7);
    const received = BrokerService.produce.requestSerialize({ acks: -1, topics: [{ topic: 't', partitions: [{ partition: 0, recordBatch: batch }] }] });
    const decoded = BrokerService.produce.requestDeserialize(received);
    expect(isMalformedRequest(decoded)).toBe(false);
    const recordBatch = decoded.topics[0]!.partitions[0]!.recordBatch;
    expect(recordBatch.buffer).toBe(received.buffer);
    expect(Buffer.from(recordBatch).equals(batch)).toBe(true);
  });

  it('the same for a fetch response on the client', () => {
    const batch = Buffer.alloc(64 * 1024, 9);
    const received = BrokerService.fetch.responseSerialize({ topics: [{ topic: 't', partitions: [{ partition: 0, recordBatch: batch }] }] });
    const recordBatch = BrokerService.fetch.responseDeserialize(received).topics[0]!.partitions[0]!.recordBatch;
    expect(recordBatch.buffer).toBe(received.buffer);
  });
});
