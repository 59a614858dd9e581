// `perf produce` / `perf consume`: kafka-producer-perf-test and kafka-consumer-perf-test for Tributary.
import { performance } from 'node:perf_hooks';
import { sleep, type CommandContext } from '../context.js';
import { CliError, EXIT_FAILURE, EXIT_OK, errorCodeName, formatErrorLine } from '../errors.js';
import { InFlightLimit } from '../in-flight-limit.js';
import {
  ProducerPerfStats,
  consumerPerfSummary,
  consumerSummaryJson,
  formatConsumerSummary,
  formatProducerFinalLine,
  producerSummaryJson,
  throttleDelayMs,
} from '../perf/perf-stats.js';
import { parseKeyValueMap } from '../parse/key-value.js';
import { parseAcks } from './produce.js';
import { planConsume, POLL_TIMEOUT_MS } from './consume.js';

/**
 * Bytes of record payload in flight. Half the client's default buffer.memory (32 MiB): measured on a
 * local node with 1 KiB records, 64 MiB made senders queue inside the client's buffer pool (GC-bound,
 * ~6k records/s, seconds of latency) while 8-16 MiB ran at 20-40k records/s.
 */
export const PERF_IN_FLIGHT_BYTES_MAX = 16 * 1024 * 1024;
export const PERF_IN_FLIGHT_RECORDS_MAX = 50_000;

export interface PerfProduceOptions {
  readonly numRecords: number;
  readonly recordSizeBytes: number;
  readonly throughput: number;
  readonly acks: string;
  readonly batchSizeBytes: number | undefined;
  readonly lingerMs: number | undefined;
  readonly producerProperties: readonly string[];
  readonly compression: string | undefined;
  readonly json: boolean;
  readonly reportingIntervalMs: number;
  /** One record outstanding at a time (latency of a lone request, not of a queue). */
  readonly sync?: boolean;
}

/** Kafka's payload: random upper-case letters, one buffer reused for every record. */
export function perfPayload(sizeBytes: number, seed = 1): Uint8Array {
  const payload = new Uint8Array(sizeBytes);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < sizeBytes; i += 1) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    payload[i] = 65 + ((state >>> 0) % 26);
  }
  return payload;
}

export async function perfProduce(ctx: CommandContext, topic: string, options: PerfProduceOptions): Promise<number> {
  const producer = await ctx.producer({
    acks: parseAcks(options.acks),
    compression: options.compression,
    lingerMs: options.lingerMs,
    properties: parseKeyValueMap(options.producerProperties, '-X/--producer-property'),
    batchSizeBytes: options.batchSizeBytes,
  });
  const payload = perfPayload(options.recordSizeBytes);
  const inFlightMax = options.sync === true ? 1 : Math.max(1, Math.min(PERF_IN_FLIGHT_RECORDS_MAX, Math.floor(PERF_IN_FLIGHT_BYTES_MAX / Math.max(1, options.recordSizeBytes))));
  const limit = new InFlightLimit(inFlightMax);
  // Window lines go to stderr under --json, so stdout carries exactly one JSON line.
  const progress = (line: string): Promise<void> => (options.json ? ctx.err(line) : ctx.out(line));
  const startMs = performance.now();
  const stats = new ProducerPerfStats({ startMs, reportingIntervalMs: options.reportingIntervalMs });
  let firstError: unknown;

  let sent = 0;
  for (; sent < options.numRecords && !ctx.signal.aborted; sent += 1) {
    const delayMs = throttleDelayMs({ sent, elapsedMs: performance.now() - startMs, recordsPerSec: options.throughput });
    if (delayMs > 0) await sleep(delayMs, ctx.signal);
    await limit.acquire();
    const sendMs = performance.now();
    producer.send({ topic, key: null, value: payload, headers: [] }).then(
      () => {
        limit.release();
        const nowMs = performance.now();
        const line = stats.recordAck({ latencyMs: nowMs - sendMs, bytes: payload.length, nowMs });
        if (line !== undefined) void progress(line);
      },
      (error: unknown) => {
        limit.release();
        stats.recordFailure();
        if (firstError === undefined) {
          firstError = error;
          void ctx.err(`${formatErrorLine(error)}\n`);
        }
      },
    );
  }
  await producer.flush();
  await limit.drained();
  const summary = stats.summary(performance.now());
  await ctx.out(options.json ? producerSummaryJson(summary) : formatProducerFinalLine(summary));
  if (summary.failed > 0) {
    throw new CliError(`${summary.failed} of ${sent} records failed`, { code: errorCodeName(firstError), exitCode: EXIT_FAILURE });
  }
  return EXIT_OK;
}

export interface PerfConsumeOptions {
  readonly messages: number;
  readonly json: boolean;
  /** Give up when no record arrives for this long (kafka-consumer-perf-test's --timeout). */
  readonly timeoutMs: number;
}

export async function perfConsume(ctx: CommandContext, topic: string, options: PerfConsumeOptions): Promise<number> {
  const plan = await planConsume(await ctx.admin(), topic, { kind: 'start' }, []);
  const consumer = await ctx.consumer();
  const startWallMs = ctx.nowMs();
  const startMs = performance.now();
  await consumer.assign(topic, plan.starts);
  let records = 0;
  let bytes = 0;
  let lastProgressMs = startMs;
  let timedOut = false;
  while (records < options.messages && !ctx.signal.aborted) {
    const batch = await consumer.poll(Math.min(POLL_TIMEOUT_MS, options.timeoutMs));
    const nowMs = performance.now();
    if (batch.length === 0) {
      if (nowMs - lastProgressMs >= options.timeoutMs) {
        timedOut = true;
        break;
      }
      continue;
    }
    lastProgressMs = nowMs;
    for (const record of batch) {
      if (records >= options.messages) break;
      records += 1;
      bytes += (record.key?.length ?? 0) + (record.value?.length ?? 0);
    }
  }
  const elapsedMs = performance.now() - startMs;
  const summary = consumerPerfSummary({ records, bytes, startMs: startWallMs, endMs: startWallMs + elapsedMs });
  await ctx.out(options.json ? consumerSummaryJson(summary) : formatConsumerSummary(summary));
  if (timedOut) {
    throw new CliError(`consumed ${records} of ${options.messages} records: no record for ${options.timeoutMs} ms`, {
      code: 'REQUEST_TIMED_OUT',
    });
  }
  return EXIT_OK;
}
