import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../src/perf/latency-histogram.js';
import {
  ProducerPerfStats,
  consumerPerfSummary,
  consumerSummaryJson,
  formatConsumerSummary,
  formatProducerFinalLine,
  producerSummaryJson,
  throttleDelayMs,
} from '../src/perf/perf-stats.js';

describe('latency histogram', () => {
  it('gives the same percentiles as sorting every latency (Kafka index rule)', () => {
    const histogram = new LatencyHistogram(1000);
    const latencies: number[] = [];
    let seed = 7;
    for (let i = 0; i < 10_000; i += 1) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      const latency = (seed % 50_000) / 100; // 0..499.99 ms
      latencies.push(latency);
      histogram.record(latency);
    }
    const sorted = latencies.map(Math.floor).sort((a, b) => a - b);
    for (const q of [0, 0.5, 0.95, 0.99, 0.999, 1]) {
      expect(histogram.percentileMs(q)).toBe(sorted[Math.min(Math.floor(q * sorted.length), sorted.length - 1)]);
    }
    expect(histogram.maxMs).toBe(Math.max(...latencies));
    expect(histogram.avgMs).toBeCloseTo(latencies.reduce((a, b) => a + b, 0) / latencies.length, 9);
  });

  it('clamps latencies above the top into the last bucket but keeps max exact', () => {
    const histogram = new LatencyHistogram(10);
    histogram.record(5);
    histogram.record(5000);
    expect(histogram.percentileMs(1)).toBe(10);
    expect(histogram.maxMs).toBe(5000);
  });

  it('reads 0 when empty and rejects bad input', () => {
    const histogram = new LatencyHistogram(10);
    expect(histogram.percentileMs(0.5)).toBe(0);
    expect(() => histogram.record(-1)).toThrow(RangeError);
    expect(() => histogram.percentileMs(1.5)).toThrow(RangeError);
    expect(() => new LatencyHistogram(0)).toThrow(RangeError);
  });
});

describe('producer perf stats', () => {
  it('prints a window line once per reporting interval', () => {
    const stats = new ProducerPerfStats({ startMs: 0, reportingIntervalMs: 5000 });
    expect(stats.recordAck({ latencyMs: 2, bytes: 1024, nowMs: 1000 })).toBeUndefined();
    const line = stats.recordAck({ latencyMs: 4, bytes: 1024, nowMs: 5000 });
    expect(line).toBe('2 records sent, 0.4 records/sec (0.00 MB/sec), 3.0 ms avg latency, 4.0 ms max latency.\n');
    expect(stats.recordAck({ latencyMs: 1, bytes: 1024, nowMs: 6000 })).toBeUndefined();
  });

  it('summarises with Kafka final-line wording and the JSON contract keys', () => {
    const stats = new ProducerPerfStats({ startMs: 0 });
    for (let i = 0; i < 1000; i += 1) stats.recordAck({ latencyMs: i % 100, bytes: 1024, nowMs: 500 });
    stats.recordFailure();
    const summary = stats.summary(1000);
    expect(summary.records).toBe(1000);
    expect(summary.recordsPerSec).toBe(1000);
    expect(summary.mbPerSec).toBeCloseTo(1000 * 1024 / 1024 / 1024, 9);
    expect(summary.p50Ms).toBe(50);
    expect(summary.p99Ms).toBe(99);
    expect(summary.failed).toBe(1);
    expect(formatProducerFinalLine(summary)).toMatch(
      /^1000 records sent, 1000\.000000 records\/sec \(0\.98 MB\/sec\), 49\.50 ms avg latency, 99\.00 ms max latency, 50 ms 50th, 95 ms 95th, 99 ms 99th, 99 ms 99\.9th\.\n$/,
    );
    const json = JSON.parse(producerSummaryJson(summary));
    expect(Object.keys(json).slice(0, 9)).toEqual([
      'records', 'recordsPerSec', 'mbPerSec', 'avgLatencyMs', 'maxLatencyMs', 'p50Ms', 'p95Ms', 'p99Ms', 'p999Ms',
    ]);
  });

  it('throttles to the target rate, and not at all when unlimited', () => {
    expect(throttleDelayMs({ sent: 100, elapsedMs: 50, recordsPerSec: 1000 })).toBe(50);
    expect(throttleDelayMs({ sent: 100, elapsedMs: 150, recordsPerSec: 1000 })).toBe(0);
    expect(throttleDelayMs({ sent: 100, elapsedMs: 0, recordsPerSec: -1 })).toBe(0);
    // Less than the minimum sleep ahead: keep sending (a 0.01 ms timer would really sleep >= 1 ms).
    expect(throttleDelayMs({ sent: 101, elapsedMs: 1000, recordsPerSec: 100_000 })).toBe(0);
    expect(throttleDelayMs({ sent: 300, elapsedMs: 1, recordsPerSec: 100_000 })).toBe(2);
  });
});

describe('consumer perf summary', () => {
  it('computes MB and rates', () => {
    const summary = consumerPerfSummary({ records: 2048, bytes: 2 * 1024 * 1024, startMs: 0, endMs: 2000 });
    expect(summary).toMatchObject({ records: 2048, mb: 2, mbPerSec: 1, recordsPerSec: 1024, elapsedMs: 2000 });
    expect(formatConsumerSummary(summary)).toContain('2.0000, 1.0000, 2048, 1024.0000, 2000');
    expect(Object.keys(JSON.parse(consumerSummaryJson(summary)))).toEqual(
      expect.arrayContaining(['records', 'recordsPerSec', 'mbPerSec', 'elapsedMs']),
    );
  });
});
