// The leader side of a ReplicaFetchStream without a network: answers in the order asked, one request
// served at a time, the bytes-in-flight limit (replica.fetch.stream.max.bytes.in.flight) holding back the
// next request and cutting its answer, the unanswered-request limit, and a stream that changes the
// replica it speaks for.
import { describe, expect, it } from 'vitest';
import type { ReplicaFetchRequest, ReplicaFetchResponse } from '../../src/replication/replica-fetch-transport.js';
import { REPLICA_FETCH_STREAM_REQUESTS_MAX, ReplicaFetchStream, responseBytes, type ReplicaFetchStreamFailure } from '../../src/replication/replica-fetch-stream.js';

const request = (partition: number, options: { replicaId?: number; maxBytes?: number } = {}): ReplicaFetchRequest => ({
  replicaId: options.replicaId ?? 2, brokerEpoch: 7, clusterId: 'c', maxWaitMs: 500, minBytes: 1, maxBytes: options.maxBytes ?? 1_000_000, partitionMaxBytes: 0,
  partitions: [{ topic: 't', partition, fetchOffset: 0, lastFetchedEpoch: -1, currentLeaderEpoch: 0, logStartOffset: 0 }],
});

const answer = (req: ReplicaFetchRequest, recordBytes: number): ReplicaFetchResponse => ({
  error: undefined,
  partitions: req.partitions.map((p) => ({ topic: p.topic, partition: p.partition, error: undefined, highWatermark: 0, logStartOffset: 0, leaderEpoch: 0, records: Buffer.alloc(recordBytes), divergingEpoch: undefined })),
});

async function until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

interface Harness {
  readonly stream: ReplicaFetchStream;
  readonly served: ReplicaFetchRequest[];
  readonly sent: { response: ReplicaFetchResponse; correlationId: number; taken: () => void }[];
  readonly failures: { code: ReplicaFetchStreamFailure; message: string }[];
  ended: boolean;
  /** Requests being served right now (never more than one). */
  concurrent: number;
  maxConcurrent: number;
}

function harness(options: { bytesInFlightMax: number; serve: (req: ReplicaFetchRequest) => Promise<ReplicaFetchResponse>; autoTake?: boolean }): Harness {
  const abort = new AbortController();
  const h = { served: [], sent: [], failures: [], ended: false, concurrent: 0, maxConcurrent: 0 } as unknown as Harness & { stream: ReplicaFetchStream };
  (h as { stream: ReplicaFetchStream }).stream = new ReplicaFetchStream({
    bytesInFlightMax: options.bytesInFlightMax,
    signal: abort.signal,
    serve: async (req) => {
      h.served.push(req);
      h.concurrent += 1;
      h.maxConcurrent = Math.max(h.maxConcurrent, h.concurrent);
      try {
        return await options.serve(req);
      } finally {
        h.concurrent -= 1;
      }
    },
    sink: {
      send: (response, correlationId, taken) => {
        h.sent.push({ response, correlationId, taken });
        if (options.autoTake === true) queueMicrotask(taken);
      },
      fail: (code, message) => h.failures.push({ code, message }),
      end: () => (h.ended = true),
    },
  });
  return h;
}

describe('ReplicaFetchStream (leader side)', () => {
  it('answers pipelined requests in the order sent, serving one at a time, even when a later one would be ready first', async () => {
    // Request 0 takes longest to serve, request 2 is instant: the answers must still go 0, 1, 2.
    const delays = [30, 10, 0];
    const h = harness({
      bytesInFlightMax: 1_000_000, autoTake: true,
      serve: async (req) => {
        await new Promise((resolve) => setTimeout(resolve, delays[req.partitions[0]!.partition]));
        return answer(req, 100);
      },
    });
    for (const p of [0, 1, 2]) h.stream.receive(request(p), p + 1);
    expect(h.stream.unanswered).toBe(3);
    await until('three answers', () => h.sent.length === 3);
    expect(h.sent.map((s) => s.response.partitions[0]!.partition)).toEqual([0, 1, 2]);
    expect(h.sent.map((s) => s.correlationId)).toEqual([1, 2, 3]);
    expect(h.maxConcurrent).toBe(1);
    h.stream.endOfRequests();
    expect(h.ended).toBe(true);
    expect(h.failures).toEqual([]);
  });

  it('ends only after every request of a half-closed stream is answered', async () => {
    let release: (() => void) | undefined;
    const h = harness({ bytesInFlightMax: 1_000_000, autoTake: true, serve: async (req) => { await new Promise<void>((r) => (release = r)); return answer(req, 1); } });
    h.stream.receive(request(0), 1);
    h.stream.endOfRequests();
    await until('serving', () => release !== undefined);
    expect(h.ended).toBe(false);
    release!();
    await until('ended', () => h.ended);
    expect(h.sent).toHaveLength(1);
  });

  it('holds the next request back while the answers not yet taken reach replica.fetch.stream.max.bytes.in.flight, and cuts answers to the room left', async () => {
    const limit = 10_000;
    // serve honours maxBytes like the real one: records up to maxBytes (at least one "batch" of 1,000 bytes).
    const h = harness({ bytesInFlightMax: limit, serve: async (req) => answer(req, Math.max(1000, Math.min(req.maxBytes, 6000))) });
    for (const p of [0, 1, 2, 3]) h.stream.receive(request(p, { maxBytes: 6000 }), p + 1);
    // First answer: 6,000 + overhead. Second: cut to the room left (< 4,000). Then the limit is reached.
    await until('two answers', () => h.sent.length === 2);
    expect(h.served[0]!.maxBytes).toBe(6000);
    expect(h.served[1]!.maxBytes).toBe(limit - responseBytes(h.sent[0]!.response));
    expect(h.stream.bytesInFlight).toBeGreaterThanOrEqual(limit);
    // Nothing more is served while the transport holds the bytes (the follower does not read).
    for (let i = 0; i < 20; i += 1) await new Promise((resolve) => setImmediate(resolve));
    expect(h.served).toHaveLength(2);
    expect(h.stream.unanswered).toBe(2);
    // The transport takes the first answer: room again, the next request goes.
    h.sent[0]!.taken();
    await until('third answer', () => h.sent.length === 3);
    expect(h.served[2]!.maxBytes).toBeLessThanOrEqual(limit);
    for (const s of h.sent.slice(1)) s.taken();
    await until('fourth answer', () => h.sent.length === 4);
    expect(h.sent.map((s) => s.response.partitions[0]!.partition)).toEqual([0, 1, 2, 3]);
    expect(h.failures).toEqual([]);
  });

  it(`fails the stream (RESOURCE_EXHAUSTED) at more than ${REPLICA_FETCH_STREAM_REQUESTS_MAX} unanswered requests`, async () => {
    const h = harness({ bytesInFlightMax: 1_000_000, serve: () => new Promise<ReplicaFetchResponse>(() => undefined) });
    for (let i = 0; i < REPLICA_FETCH_STREAM_REQUESTS_MAX; i += 1) h.stream.receive(request(i), i + 1);
    expect(h.failures).toEqual([]);
    expect(h.stream.unanswered).toBe(REPLICA_FETCH_STREAM_REQUESTS_MAX);
    h.stream.receive(request(99), 99);
    expect(h.failures.map((f) => f.code)).toEqual(['RESOURCE_EXHAUSTED']);
    // A failed stream takes nothing more.
    h.stream.receive(request(100), 100);
    expect(h.stream.unanswered).toBeLessThanOrEqual(1);
    expect(h.failures).toHaveLength(1);
  });

  it('fails the stream (INVALID_ARGUMENT) when a message speaks for another replica than the first', async () => {
    const h = harness({ bytesInFlightMax: 1_000_000, autoTake: true, serve: async (req) => answer(req, 0) });
    h.stream.receive(request(0, { replicaId: 2 }), 1);
    await until('first answer', () => h.sent.length === 1);
    h.stream.receive(request(0, { replicaId: 3 }), 2);
    expect(h.failures.map((f) => f.code)).toEqual(['INVALID_ARGUMENT']);
    expect(h.failures[0]!.message).toMatch(/replica 2, got 3/);
    for (let i = 0; i < 10; i += 1) await new Promise((resolve) => setImmediate(resolve));
    expect(h.served).toHaveLength(1);
  });

  it('fails the stream (INVALID_ARGUMENT) when a correlation id does not increase', async () => {
    for (const [first, second] of [[1, 1], [5, 4], [1, 0]] as const) {
      const h = harness({ bytesInFlightMax: 1_000_000, autoTake: true, serve: async (req) => answer(req, 0) });
      h.stream.receive(request(0), first);
      h.stream.receive(request(1), second);
      expect(h.failures.map((f) => f.code), `${first} then ${second}`).toEqual(['INVALID_ARGUMENT']);
      expect(h.failures[0]!.message).toMatch(/correlation_id/);
    }
    const zero = harness({ bytesInFlightMax: 1_000_000, serve: async (req) => answer(req, 0) });
    zero.stream.receive(request(0), 0);
    expect(zero.failures.map((f) => f.code)).toEqual(['INVALID_ARGUMENT']);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => harness({ bytesInFlightMax: 0, serve: async (req) => answer(req, 0) })).toThrow(/bytesInFlightMax/);
  });
});
