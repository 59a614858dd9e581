// The leader side of one ReplicaFetchStream (proto/tributary/internal/v1/replica.proto): the follower's
// fetch requests arrive on one long-lived stream and are answered one at a time, in the order sent, each
// exactly as a unary ReplicaFetch would be (`serve`: fencing, divergence, follower LEO → HW, long poll).
// Transport-agnostic: the gRPC shell (replica-service.ts) decodes messages and hands them in, and writes
// the answers through a ReplicaFetchStreamSink.
//
// Limits, per stream:
// - REPLICA_FETCH_STREAM_REQUESTS_MAX requests unanswered (queued + being served); one more fails the
//   stream (RESOURCE_EXHAUSTED): a follower that sends without reading cannot grow our queue.
// - `bytesInFlightMax` (replica.fetch.stream.max.bytes.in.flight): the bytes of answers given to the
//   transport that it has not yet taken (HTTP/2 flow control holds them while the follower does not
//   read). A request is served only while that is under the limit, and its answer is cut to the room
//   left (Kafka's rule still sends one whole batch when the answer would otherwise be empty, so in flight
//   stays ≤ the limit plus one batch).
import { AssertionError } from 'node:assert';
import type { ReplicaFetchRequest, ReplicaFetchResponse } from './replica-fetch-transport.js';

/** Most requests one stream may have unanswered (the follower's pipelining depth). */
export const REPLICA_FETCH_STREAM_REQUESTS_MAX = 16;
/** What an answer costs besides its records (names, offsets, framing), bytes per partition. */
const PARTITION_OVERHEAD_BYTES = 64;

export type ReplicaFetchStreamFailure = 'INVALID_ARGUMENT' | 'RESOURCE_EXHAUSTED' | 'INTERNAL';

export interface ReplicaFetchStreamSink {
  /** Writes one answer (to the request numbered `correlationId`); `taken` is called once the transport took its bytes (not when the stream failed). */
  send(response: ReplicaFetchResponse, correlationId: number, taken: () => void): void;
  /** Ends the stream with an error status; nothing is sent after it. */
  fail(code: ReplicaFetchStreamFailure, message: string): void;
  /** Ends the stream normally (the follower closed its side and every request was answered). */
  end(): void;
}

export interface ReplicaFetchStreamOptions {
  /** Answers one request (the unary path's serveReplicaFetch); resolves early with what it has when `signal` aborts. */
  readonly serve: (request: ReplicaFetchRequest, signal: AbortSignal) => Promise<ReplicaFetchResponse>;
  readonly sink: ReplicaFetchStreamSink;
  readonly bytesInFlightMax: number;
  /** Aborted when the stream is cancelled or the node stops. */
  readonly signal: AbortSignal;
}

/** open → draining (the follower closed its side) → ended; open or draining → failed. */
type StreamState = 'open' | 'draining' | 'ended' | 'failed';
const TRANSITIONS: Readonly<Record<StreamState, readonly StreamState[]>> = { open: ['draining', 'failed'], draining: ['ended', 'failed'], ended: [], failed: [] };

export function responseBytes(response: ReplicaFetchResponse): number {
  let bytes = 0;
  for (const p of response.partitions) bytes += p.records.length + PARTITION_OVERHEAD_BYTES;
  return bytes;
}

export class ReplicaFetchStream {
  private readonly queue: { readonly request: ReplicaFetchRequest; readonly correlationId: number }[] = [];
  private lastCorrelationId = 0;
  private serving = false;
  private bytesInFlightValue = 0;
  private replicaId: number | undefined;
  private state: StreamState = 'open';
  private wake: (() => void) | undefined;

  constructor(private readonly options: ReplicaFetchStreamOptions) {
    if (!Number.isSafeInteger(options.bytesInFlightMax) || options.bytesInFlightMax < 1) {
      throw new RangeError(`bytesInFlightMax must be a positive integer, got ${options.bytesInFlightMax}`);
    }
    options.signal.addEventListener('abort', () => this.wakeUp(), { once: true });
  }

  /** Bytes of answers the transport has not yet taken. */
  get bytesInFlight(): number {
    return this.bytesInFlightValue;
  }

  /** Requests received and not yet answered. */
  get unanswered(): number {
    return this.queue.length + (this.serving ? 1 : 0);
  }

  /** One decoded request from the follower, numbered `correlationId` (> the previous one's). */
  receive(request: ReplicaFetchRequest, correlationId: number): void {
    if (this.state !== 'open') return;
    if (this.replicaId === undefined) this.replicaId = request.replicaId;
    else if (request.replicaId !== this.replicaId) {
      return this.fail('INVALID_ARGUMENT', `replica_id: this stream speaks for replica ${this.replicaId}, got ${request.replicaId}`);
    }
    if (!Number.isSafeInteger(correlationId) || correlationId <= this.lastCorrelationId) {
      return this.fail('INVALID_ARGUMENT', `correlation_id: must be above the previous request's ${this.lastCorrelationId}, got ${correlationId}`);
    }
    this.lastCorrelationId = correlationId;
    if (this.unanswered >= REPLICA_FETCH_STREAM_REQUESTS_MAX) {
      return this.fail('RESOURCE_EXHAUSTED', `more than ${REPLICA_FETCH_STREAM_REQUESTS_MAX} fetch requests unanswered on one stream`);
    }
    this.queue.push({ request, correlationId });
    if (!this.serving) void this.run();
  }

  /** The follower closed its side: answer what was asked, then end. */
  endOfRequests(): void {
    if (this.state !== 'open') return;
    this.moveTo('draining');
    if (!this.serving) this.finish();
  }

  /** Fails the stream (a malformed message, a broken limit). Idempotent; the first failure wins. */
  fail(code: ReplicaFetchStreamFailure, message: string): void {
    if (this.state === 'failed' || this.state === 'ended') return;
    this.moveTo('failed');
    this.queue.length = 0;
    this.wakeUp();
    this.options.sink.fail(code, message);
  }

  private finish(): void {
    if (this.state !== 'draining') return;
    this.moveTo('ended');
    this.options.sink.end();
  }

  private moveTo(to: StreamState): void {
    if (!TRANSITIONS[this.state].includes(to)) throw new AssertionError({ message: `replica fetch stream: ${this.state} -> ${to} is not a transition` });
    this.state = to;
  }

  private live(): boolean {
    return (this.state === 'open' || this.state === 'draining') && !this.options.signal.aborted;
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async run(): Promise<void> {
    this.serving = true;
    try {
      while (this.live()) {
        const next = this.queue.shift();
        if (next === undefined) break;
        const { request, correlationId } = next;
        while (this.live() && this.bytesInFlightValue >= this.options.bytesInFlightMax) {
          await new Promise<void>((resolve) => (this.wake = resolve));
        }
        if (!this.live()) return;
        const room = this.options.bytesInFlightMax - this.bytesInFlightValue;
        const response = await this.options.serve(
          { ...request, maxBytes: Math.min(request.maxBytes, room), partitionMaxBytes: request.partitionMaxBytes > 0 ? Math.min(request.partitionMaxBytes, room) : room },
          this.options.signal,
        );
        if (!this.live()) return;
        const bytes = responseBytes(response);
        this.bytesInFlightValue += bytes;
        this.options.sink.send(response, correlationId, () => {
          this.bytesInFlightValue -= bytes;
          if (this.bytesInFlightValue < 0) throw new AssertionError({ message: `replica fetch stream: ${this.bytesInFlightValue} bytes in flight after an answer of ${bytes} was taken` });
          this.wakeUp();
        });
      }
    } catch (err) {
      this.fail('INTERNAL', err instanceof Error ? err.message : String(err));
    } finally {
      this.serving = false;
    }
    if (this.queue.length > 0 && this.live()) void this.run();
    else this.finish();
  }
}
