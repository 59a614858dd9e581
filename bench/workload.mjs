#!/usr/bin/env node
// One timed client workload of `npm run bench:cluster`, against Tributary or NATS JetStream, run as its own
// process (so its CPU is its own). bench/cluster.bench.mjs spawns it once per phase and system; the same
// workload code drives both systems through a two-method adapter (publish one record and await its ack;
// read records), so the rows of the summary compare like with like.
//
//   node bench/workload.mjs --system tributary|nats --servers H:P,... --workload W --seconds N
//        [--record-size 1024] [--window 256] [--rate-mb 10] [-X key=value ...]
//
// Workloads (every publish is acks=all / a JetStream publish acknowledged by the R=3 stream):
//   async    publish with at most --window records unacknowledged, for --seconds; per-record latency
//   rate     the same, but paced to --rate-mb MB/s (MiB/s): delivered MB/s shows whether it keeps up
//   sync     one record outstanding at a time: records/s and the latency of a lone request
//   consume  read the load topic/stream from its start until caught up (or --seconds): MB/s
//   e2e      one record at a time: publish, then wait until a consumer tailing the topic/stream sees it;
//            latency = publish start → record delivered to the consumer
// Prints `START` when the measured part begins, then one JSON line: records, bytes, seconds, recordsPerSec,
// mbPerSec, p50Ms, p99Ms, p999Ms, clientCpuS (process.cpuUsage of this process over the workload, not its start-up).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ROOT } from '../scripts/ensure.mjs';
import { E2E_TOPIC, LOAD_TOPIC, MIB, listFlag, numberFlag, percentile } from './lib/report.mjs';


const { values } = parseArgs({
  options: {
    system: { type: 'string' },
    servers: { type: 'string' },
    workload: { type: 'string' },
    seconds: { type: 'string', default: '10' },
    'record-size': { type: 'string', default: '1024' },
    window: { type: 'string', default: '256' },
    'rate-mb': { type: 'string', default: '10' },
    /** Tributary's load topic (default `bench`); bench/scale.bench.mjs runs one per partition count. */
    topic: { type: 'string', default: LOAD_TOPIC },
    /** Keyed records (key = a counter) spread over every partition; default null keys (sticky partitioner). */
    keyed: { type: 'boolean', default: false },
    /** Stop publishing after this many MB (MiB) as well as after --seconds (fills a log to a size). */
    'max-mb': { type: 'string' },
    'producer-property': { type: 'string', short: 'X', multiple: true, default: [] },
  },
});
const [system] = listFlag('system', values.system ?? '', ['tributary', 'nats']);
const [workload] = listFlag('workload', values.workload ?? '', ['async', 'rate', 'sync', 'consume', 'e2e']);
if (values.servers === undefined) throw new Error('--servers is required');
const seconds = numberFlag('seconds', values.seconds, { min: 0.1, max: 3600 });
const recordSize = numberFlag('record-size', values['record-size'], { min: 1, max: 1_000_000, integer: true });
const windowRecords = workload === 'sync' ? 1 : numberFlag('window', values.window, { min: 1, max: 1_000_000, integer: true });
const rateBytesPerSec = numberFlag('rate-mb', values['rate-mb'], { min: 0.001, max: 10_000 }) * MIB;
const loadTopic = values.topic;
const maxBytes = values['max-mb'] === undefined ? Number.POSITIVE_INFINITY : numberFlag('max-mb', values['max-mb'], { min: 0.001 }) * MIB;
const properties = Object.fromEntries(values['producer-property'].map((kv) => {
  const i = kv.indexOf('=');
  if (i <= 0) throw new Error(`-X expects key=value, got '${kv}'`);
  const v = kv.slice(i + 1);
  return [kv.slice(0, i), /^\d+$/.test(v) ? Number(v) : v];
}));

/** Kafka perf test's payload: upper-case letters, one buffer reused for every record. */
const payload = Buffer.alloc(recordSize);
for (let i = 0; i < recordSize; i += 1) payload[i] = 65 + ((i * 7919) % 26);

// ---- adapters: { publish(topic) → Promise, consumeFromStart(deadlineMs) → {records, bytes, lastMs},
//                  tail(topic, onRecord) → Promise<stop()>, close() }

async function tributaryAdapter() {
  const { Producer, Consumer, Admin } = await import(pathToFileURL(join(ROOT, 'packages/client/dist/index.js')).href);
  const common = { 'bootstrap.servers': values.servers };
  const producerConfig = {
    ...common, acks: 'all',
    ...(workload === 'sync' || workload === 'e2e'
      ? { 'batch.size': recordSize, 'linger.ms': 0, 'max.in.flight.requests.per.connection': 1 } : {}),
    ...properties,
  };
  const producer = workload === 'consume' ? undefined : new Producer(producerConfig);
  const admin = new Admin(common);
  const consumers = [];
  const partitionsOf = async (topic) => (await admin.describeTopics([topic]))[0].partitions;
  return {
    publish: (topic, seq) => producer.send(topic === E2E_TOPIC ? { topic, value: payload, partition: 0 }
      : { topic, value: payload, ...(values.keyed ? { key: String(seq % 1_000_003) } : {}) }),
    async consumeFromStart(deadlineMs) {
      const parts = await partitionsOf(loadTopic);
      const total = parts.reduce((a, p) => a + (p.highWatermark - p.logStartOffset), 0);
      const consumer = new Consumer({ ...common, 'auto.offset.reset': 'earliest' });
      consumers.push(consumer);
      const tps = parts.map((p) => ({ topic: loadTopic, partition: p.partition }));
      consumer.assign(tps);
      consumer.seekToBeginning(tps);
      let records = 0, bytes = 0, lastMs = performance.now();
      while (records < total && performance.now() < deadlineMs) {
        for (const r of await consumer.poll({ timeoutMs: 500 })) { records += 1; bytes += r.value?.length ?? 0; lastMs = performance.now(); }
      }
      return { records, bytes, lastMs };
    },
    async tail(topic, onRecord) {
      const consumer = new Consumer({ ...common, 'auto.offset.reset': 'latest' });
      consumers.push(consumer);
      const tp = { topic, partition: 0 };
      consumer.assign([tp]);
      consumer.seekToEnd([tp]);
      await consumer.position(tp);
      let stopped = false;
      const loop = (async () => {
        while (!stopped) for (const r of await consumer.poll({ timeoutMs: 200 })) onRecord(r.value?.length ?? 0);
      })();
      return async () => { stopped = true; await loop; };
    },
    async close() {
      await producer?.close();
      for (const c of consumers) await c.close();
      await admin.close();
    },
  };
}

async function natsAdapter() {
  const nats = await import('nats');
  const nc = await nats.connect({ servers: values.servers.split(','), name: `bench-${workload}` });
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager();
  const stops = [];
  return {
    // Stream <topic> holds subject <topic> (bench/nats-cluster.mjs creates them).
    publish: (topic) => js.publish(topic, payload),
    async consumeFromStart(deadlineMs) {
      const total = (await jsm.streams.info(LOAD_TOPIC)).state.messages;
      const consumer = await js.consumers.get(LOAD_TOPIC); // ordered pull consumer from the first message
      let records = 0, bytes = 0, lastMs = performance.now();
      if (total === 0) return { records, bytes, lastMs };
      const messages = await consumer.consume({ max_messages: 1000 });
      const timer = setInterval(() => { if (performance.now() >= deadlineMs) messages.stop(); }, 100);
      for await (const m of messages) {
        records += 1; bytes += m.data.length; lastMs = performance.now();
        if (records >= total) break;
      }
      clearInterval(timer);
      return { records, bytes, lastMs };
    },
    async tail(topic, onRecord) {
      const consumer = await js.consumers.get(topic, { deliver_policy: nats.DeliverPolicy.New });
      const messages = await consumer.consume({ max_messages: 100, callback: (m) => onRecord(m.data.length) });
      const stop = async () => { messages.stop(); await messages.closed().catch(() => {}); };
      stops.push(stop);
      return stop;
    },
    async close() {
      for (const s of stops) await s();
      await nc.drain();
    },
  };
}

// ---- workloads

/** Publishes for `seconds` with at most windowRecords unacknowledged, optionally paced; per-record latency. */
async function publishLoad(adapter, paceBytesPerSec) {
  const latencies = [];
  let inFlight = 0, sent = 0, acked = 0, failed = 0, firstError;
  let wake;
  const startMs = performance.now();
  const endMs = startMs + seconds * 1000;
  while (performance.now() < endMs && sent * recordSize < maxBytes) {
    if (paceBytesPerSec !== undefined) {
      const dueMs = startMs + ((sent * recordSize) / paceBytesPerSec) * 1000;
      const delayMs = dueMs - performance.now();
      if (delayMs > 1) await new Promise((r) => setTimeout(r, delayMs));
    }
    if (inFlight >= windowRecords) {
      await new Promise((r) => { wake = r; });
      continue;
    }
    const t0 = performance.now();
    inFlight += 1; sent += 1;
    adapter.publish(system === 'tributary' ? loadTopic : LOAD_TOPIC, sent).then(
      () => { acked += 1; latencies.push(performance.now() - t0); },
      (e) => { failed += 1; firstError ??= e; },
    ).finally(() => { inFlight -= 1; const w = wake; wake = undefined; w?.(); });
    // Let timers (linger) and socket reads run now and then under a large window.
    if (sent % 256 === 0) await new Promise((r) => setImmediate(r));
  }
  while (inFlight > 0) await new Promise((r) => { wake = r; });
  const elapsedS = (performance.now() - startMs) / 1000;
  if (failed > 0) process.stderr.write(`workload ${workload}: ${failed} of ${sent} publishes failed; first: ${firstError?.message ?? firstError}\n`);
  return { records: acked, failed, bytes: acked * recordSize, seconds: elapsedS, latencies };
}

/** One record at a time: publish, then wait for a tailing consumer to deliver it. */
async function endToEnd(adapter) {
  const latencies = [];
  let delivered = 0, waiter;
  const stop = await adapter.tail(E2E_TOPIC, () => { delivered += 1; const w = waiter; waiter = undefined; w?.(); });
  const startMs = performance.now();
  const endMs = startMs + seconds * 1000;
  let sent = 0;
  while (performance.now() < endMs) {
    const t0 = performance.now();
    const want = sent + 1;
    await adapter.publish(E2E_TOPIC);
    sent += 1;
    while (delivered < want) {
      const timedOut = await new Promise((r) => { waiter = () => r(false); setTimeout(() => r(true), 10_000).unref(); });
      if (timedOut && delivered < want) throw new Error(`e2e: record ${want} not delivered within 10 s`);
    }
    latencies.push(performance.now() - t0);
  }
  const elapsedS = (performance.now() - startMs) / 1000;
  await stop();
  return { records: sent, bytes: sent * recordSize, seconds: elapsedS, latencies };
}

const adapter = system === 'tributary' ? await tributaryAdapter() : await natsAdapter();
// The parent samples the nodes' CPU when it reads this line and again when it reads the result line, so the
// nodes' share covers the workload alone, not this process's start-up (module loading, connecting).
process.stdout.write('START\n');
const cpu0 = process.cpuUsage();
let result;
if (workload === 'async' || workload === 'sync') result = await publishLoad(adapter, undefined);
else if (workload === 'rate') result = await publishLoad(adapter, rateBytesPerSec);
else if (workload === 'e2e') result = await endToEnd(adapter);
else {
  const startMs = performance.now();
  const r = await adapter.consumeFromStart(startMs + seconds * 1000);
  result = { records: r.records, bytes: r.bytes, seconds: (r.lastMs - startMs) / 1000, latencies: [] };
}
const cpu = process.cpuUsage(cpu0);
const { latencies, ...rest } = result;
process.stdout.write(`${JSON.stringify({
  system, workload, ...rest,
  recordsPerSec: result.records / result.seconds,
  mbPerSec: result.bytes / MIB / result.seconds,
  p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), p999Ms: percentile(latencies, 0.999),
  clientCpuS: (cpu.user + cpu.system) / 1e6,
})}\n`);
await adapter.close();
process.exit(0);
