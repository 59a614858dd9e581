// The figures and lines of `perf produce` / `perf consume`, modelled on Kafka's
// kafka-producer-perf-test (ProducerPerformance.Stats) and kafka-consumer-perf-test.
// Pure: the caller passes the clock readings in.
import { LatencyHistogram, DEFAULT_LATENCY_MS_MAX } from './latency-histogram.js';

const BYTES_PER_MB = 1024 * 1024;
/** Kafka prints a window line every 5 s. */
export const DEFAULT_REPORTING_INTERVAL_MS = 5000;

export interface ProducerPerfSummary {
  readonly records: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  readonly avgLatencyMs: number;
  readonly maxLatencyMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly bytes: number;
  readonly elapsedMs: number;
  readonly failed: number;
}

export interface ProducerPerfStatsOptions {
  readonly startMs: number;
  readonly reportingIntervalMs?: number;
  readonly latencyMsMax?: number;
}

export class ProducerPerfStats {
  private readonly startMs: number;
  private readonly reportingIntervalMs: number;
  private readonly histogram: LatencyHistogram;
  private bytes = 0;
  private failed = 0;
  private windowStartMs: number;
  private windowCount = 0;
  private windowBytes = 0;
  private windowLatencyMsSum = 0;
  private windowLatencyMsMax = 0;

  constructor(options: ProducerPerfStatsOptions) {
    this.startMs = options.startMs;
    this.windowStartMs = options.startMs;
    this.reportingIntervalMs = options.reportingIntervalMs ?? DEFAULT_REPORTING_INTERVAL_MS;
    this.histogram = new LatencyHistogram(options.latencyMsMax ?? DEFAULT_LATENCY_MS_MAX);
  }

  /** One acknowledged record. Returns a window line when a reporting interval has passed. */
  recordAck({ latencyMs, bytes, nowMs }: { latencyMs: number; bytes: number; nowMs: number }): string | undefined {
    this.histogram.record(latencyMs);
    this.bytes += bytes;
    this.windowCount += 1;
    this.windowBytes += bytes;
    this.windowLatencyMsSum += latencyMs;
    if (latencyMs > this.windowLatencyMsMax) this.windowLatencyMsMax = latencyMs;
    return this.maybeWindowLine(nowMs);
  }

  /** A record that was not acknowledged: counted apart, never in the latency figures. */
  recordFailure(): void {
    this.failed += 1;
  }

  /** The window line if the interval has passed (also callable from a timer when acks stall). */
  maybeWindowLine(nowMs: number): string | undefined {
    const elapsedMs = nowMs - this.windowStartMs;
    if (elapsedMs < this.reportingIntervalMs) return undefined;
    const line = formatProducerWindowLine({
      records: this.windowCount,
      recordsPerSec: (1000 * this.windowCount) / elapsedMs,
      mbPerSec: (1000 * this.windowBytes) / elapsedMs / BYTES_PER_MB,
      avgLatencyMs: this.windowCount === 0 ? 0 : this.windowLatencyMsSum / this.windowCount,
      maxLatencyMs: this.windowLatencyMsMax,
    });
    this.windowStartMs = nowMs;
    this.windowCount = 0;
    this.windowBytes = 0;
    this.windowLatencyMsSum = 0;
    this.windowLatencyMsMax = 0;
    return line;
  }

  summary(nowMs: number): ProducerPerfSummary {
    const elapsedMs = Math.max(nowMs - this.startMs, 1);
    const records = this.histogram.count;
    return {
      records,
      recordsPerSec: (1000 * records) / elapsedMs,
      mbPerSec: (1000 * this.bytes) / elapsedMs / BYTES_PER_MB,
      avgLatencyMs: this.histogram.avgMs,
      maxLatencyMs: this.histogram.maxMs,
      p50Ms: this.histogram.percentileMs(0.5),
      p95Ms: this.histogram.percentileMs(0.95),
      p99Ms: this.histogram.percentileMs(0.99),
      p999Ms: this.histogram.percentileMs(0.999),
      bytes: this.bytes,
      elapsedMs,
      failed: this.failed,
    };
  }
}

export function formatProducerWindowLine(w: {
  records: number;
  recordsPerSec: number;
  mbPerSec: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
}): string {
  return (
    `${w.records} records sent, ${w.recordsPerSec.toFixed(1)} records/sec (${w.mbPerSec.toFixed(2)} MB/sec), ` +
    `${w.avgLatencyMs.toFixed(1)} ms avg latency, ${w.maxLatencyMs.toFixed(1)} ms max latency.\n`
  );
}

export function formatProducerFinalLine(s: ProducerPerfSummary): string {
  return (
    `${s.records} records sent, ${s.recordsPerSec.toFixed(6)} records/sec (${s.mbPerSec.toFixed(2)} MB/sec), ` +
    `${s.avgLatencyMs.toFixed(2)} ms avg latency, ${s.maxLatencyMs.toFixed(2)} ms max latency, ` +
    `${s.p50Ms} ms 50th, ${s.p95Ms} ms 95th, ${s.p99Ms} ms 99th, ${s.p999Ms} ms 99.9th.\n`
  );
}

/** The one JSON line `perf produce --json` ends with: the contract keys first, then extras. */
export function producerSummaryJson(s: ProducerPerfSummary): string {
  return `${JSON.stringify({
    records: s.records,
    recordsPerSec: round(s.recordsPerSec, 2),
    mbPerSec: round(s.mbPerSec, 3),
    avgLatencyMs: round(s.avgLatencyMs, 3),
    maxLatencyMs: round(s.maxLatencyMs, 3),
    p50Ms: s.p50Ms,
    p95Ms: s.p95Ms,
    p99Ms: s.p99Ms,
    p999Ms: s.p999Ms,
    bytes: s.bytes,
    elapsedMs: round(s.elapsedMs, 1),
    failed: s.failed,
  })}\n`;
}

export interface ConsumerPerfSummary {
  readonly records: number;
  readonly bytes: number;
  readonly mb: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  readonly elapsedMs: number;
  readonly startMs: number;
  readonly endMs: number;
}

export function consumerPerfSummary({ records, bytes, startMs, endMs }: { records: number; bytes: number; startMs: number; endMs: number }): ConsumerPerfSummary {
  const elapsedMs = Math.max(endMs - startMs, 1);
  const mb = bytes / BYTES_PER_MB;
  return { records, bytes, mb, recordsPerSec: (1000 * records) / elapsedMs, mbPerSec: (1000 * mb) / elapsedMs, elapsedMs, startMs, endMs };
}

/** kafka-consumer-perf-test's header + value lines (without its rebalance/fetch split). */
export function formatConsumerSummary(s: ConsumerPerfSummary): string {
  return (
    'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, elapsed.ms\n' +
    `${new Date(s.startMs).toISOString()}, ${new Date(s.endMs).toISOString()}, ${s.mb.toFixed(4)}, ` +
    `${s.mbPerSec.toFixed(4)}, ${s.records}, ${s.recordsPerSec.toFixed(4)}, ${Math.round(s.elapsedMs)}\n`
  );
}

export function consumerSummaryJson(s: ConsumerPerfSummary): string {
  return `${JSON.stringify({
    records: s.records,
    recordsPerSec: round(s.recordsPerSec, 2),
    mbPerSec: round(s.mbPerSec, 3),
    mb: round(s.mb, 3),
    bytes: s.bytes,
    elapsedMs: round(s.elapsedMs, 1),
  })}\n`;
}

/**
 * Shortest pause the throttler takes. Timers cannot sleep for microseconds (a setTimeout is >= 1 ms),
 * so the sender runs ahead until it is this far ahead of schedule, then sleeps it off in one go, as
 * Kafka's ThroughputThrottler does with its minimum sleep.
 */
export const THROTTLE_SLEEP_MS_MIN = 2;

/**
 * Kafka's ThroughputThrottler as a pure function: how long to wait before sending the next record
 * so that `sent` records over `elapsedMs` stay at `recordsPerSec` (<= 0 means unlimited → 0).
 * Returns 0 while less than THROTTLE_SLEEP_MS_MIN ahead of schedule.
 */
export function throttleDelayMs({ sent, elapsedMs, recordsPerSec }: { sent: number; elapsedMs: number; recordsPerSec: number }): number {
  if (recordsPerSec <= 0) return 0;
  const aheadMs = (1000 * sent) / recordsPerSec - elapsedMs;
  return aheadMs >= THROTTLE_SLEEP_MS_MIN ? aheadMs : 0;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
