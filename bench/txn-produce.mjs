#!/usr/bin/env node
// One produce run of `npm run bench:cluster`'s transactional comparison (bench/cluster.bench.mjs
// spawns it as its own process, as it does `tributary perf produce`):
//
//   node bench/txn-produce.mjs --bootstrap H:P,... --topic T --records N --record-size B
//        --mode idempotent|transactional [--commit-interval-ms 100] [--in-flight 5000]
//
// idempotent:    acks=all, enable.idempotence, as fast as the client goes (at most --in-flight records
//                unacknowledged).
// transactional: the same producer with a transactional.id; a transaction is committed every
//                --commit-interval-ms (Kafka's perf test --transaction-duration-ms): beginTransaction,
//                send until the interval has passed, commitTransaction (which flushes), again.
// Prints one JSON line: records, bytes, seconds, recordsPerSec, mbPerSec, per-record latency p50/p99
// and, for transactional, commits and commit latency p50/p99/max (flush of what is unsent + commitTransaction(),
// which is also shown alone: the EndTxn part).
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../scripts/ensure.mjs';

const { values } = parseArgs({
  options: {
    bootstrap: { type: 'string' },
    topic: { type: 'string', default: 'bench-txn' },
    records: { type: 'string', default: '100000' },
    'record-size': { type: 'string', default: '1024' },
    mode: { type: 'string', default: 'idempotent' },
    'commit-interval-ms': { type: 'string', default: '100' },
    'in-flight': { type: 'string', default: '1000' },
  },
});
const { Producer } = await import(pathToFileURL(join(ROOT, 'packages/client/dist/index.js')).href);
const records = Number(values.records);
const recordSize = Number(values['record-size']);
const commitIntervalMs = Number(values['commit-interval-ms']);
const inFlightMax = Number(values['in-flight']);
const transactional = values.mode === 'transactional';
if (!['idempotent', 'transactional'].includes(values.mode)) throw new Error(`--mode must be idempotent or transactional, got ${values.mode}`);
if (values.bootstrap === undefined) throw new Error('--bootstrap is required');

if (transactional && typeof Producer.prototype.initTransactions !== 'function') {
  console.log(JSON.stringify({ skipped: 'this client has no transactional producer (initTransactions)' }));
  process.exit(0);
}
const producer = new Producer({
  'bootstrap.servers': values.bootstrap,
  acks: 'all',
  'enable.idempotence': true,
  'linger.ms': 5,
  ...(transactional ? { 'transactional.id': `bench-txn-${process.pid}`, 'transaction.timeout.ms': 60_000 } : {}),
});

const value = Buffer.alloc(recordSize, 'x');
const latencies = [];
const commitLatencies = [];
const endTxnLatencies = [];
const pending = new Set();
let sent = 0;
const started = performance.now();

const sendOne = () => {
  const t0 = performance.now();
  const p = producer.send({ topic: values.topic, value }).then(() => { latencies.push(performance.now() - t0); });
  pending.add(p);
  p.finally(() => pending.delete(p));
  sent += 1;
};

if (transactional) await producer.initTransactions();
while (sent < records) {
  if (transactional) producer.beginTransaction();
  const txnStarted = performance.now();
  while (sent < records && (!transactional || performance.now() - txnStarted < commitIntervalMs)) {
    if (pending.size >= inFlightMax) await Promise.race(pending);
    else sendOne();
    // Let the client's timers (linger) and I/O run now and then.
    if (sent % 500 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  if (transactional) {
    // commitTransaction() = flush what is unsent + EndTxn; timed apart to show which one costs.
    const c0 = performance.now();
    await producer.flush();
    const c1 = performance.now();
    await producer.commitTransaction();
    const c2 = performance.now();
    commitLatencies.push(c2 - c0);
    endTxnLatencies.push(c2 - c1);
  }
}
await Promise.all(pending);
const seconds = (performance.now() - started) / 1000;
await producer.close();

const percentile = (xs, q) => {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
};
console.log(JSON.stringify({
  mode: values.mode, records: sent, bytes: sent * recordSize, seconds,
  recordsPerSec: sent / seconds, mbPerSec: (sent * recordSize) / seconds / (1024 * 1024),
  p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99),
  ...(transactional ? {
    commits: commitLatencies.length, commitIntervalMs,
    commitP50Ms: percentile(commitLatencies, 0.5), commitP99Ms: percentile(commitLatencies, 0.99), commitMaxMs: Math.round(Math.max(...commitLatencies)),
    endTxnP50Ms: percentile(endTxnLatencies, 0.5), endTxnP99Ms: percentile(endTxnLatencies, 0.99),
  } : {}),
}));
