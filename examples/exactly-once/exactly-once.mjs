#!/usr/bin/env node
// Exactly-once consume-transform-produce with Tributary's transactions: the loop of Kafka's
// "exactly-once semantics" (KIP-98 / KIP-447), with @tributary/client's public API only. Copy it.
//
// Every order on the input topic becomes one "invoice" on the output topic, exactly once, however
// often this process crashes or is restarted, and however many copies of it run in the group:
// the output records and the consumer's input offsets commit in ONE transaction, so either both
// happen or neither does. Readers of the output use isolation.level=read_committed.
//
//   node examples/exactly-once/exactly-once.mjs produce  --count 1000   # write test orders
//   node examples/exactly-once/exactly-once.mjs process                 # run the app (Ctrl-C stops it)
//   node examples/exactly-once/exactly-once.mjs verify                  # each order invoiced exactly once?
//
// Options: --bootstrap host:port,... (default 127.0.0.1:9092, `npm start`'s cluster), --input orders,
// --output invoices, --group invoicer, --transactional-id invoicer-<pid>. See README.md.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { Admin, Consumer, Producer } from '@tributary/client';

export const DEFAULTS = {
  bootstrap: '127.0.0.1:9092',
  input: 'orders',
  output: 'invoices',
  group: 'invoicer',
};

/** The transformation: an order `order-17 qty=3` becomes an invoice. Pure. */
export function invoiceFor(orderValue) {
  return `invoice for ${orderValue}`;
}

/** Creates the input and output topics if they do not exist (3 partitions, RF 3 or what the cluster has). */
export async function createTopics({ bootstrap, input, output, partitions = 3, replicationFactor = 3 }) {
  const admin = new Admin({ 'bootstrap.servers': bootstrap });
  try {
    await admin.createTopics([
      { topic: input, numPartitions: partitions, replicationFactor },
      { topic: output, numPartitions: partitions, replicationFactor },
    ], { ifNotExists: true });
  } finally {
    await admin.close();
  }
}

/** Writes `count` orders `order-<n>` (key = value) with an idempotent producer. */
export async function produceOrders({ bootstrap, input, count, first = 0 }) {
  const producer = new Producer({ 'bootstrap.servers': bootstrap, acks: 'all', 'enable.idempotence': true, 'linger.ms': 5 });
  try {
    const sends = [];
    for (let n = first; n < first + count; n++) sends.push(producer.send({ topic: input, key: `order-${n}`, value: `order-${n} qty=${(n % 5) + 1}` }));
    await Promise.all(sends);
  } finally {
    await producer.close();
  }
}

/**
 * The application: runs until `signal` aborts. One transaction per poll:
 *   beginTransaction → send one invoice per order → sendOffsetsToTransaction(next offsets,
 *   consumer.groupMetadata()) → commitTransaction.
 * On an abortable error: abortTransaction and rewind the consumer to the first record of the batch,
 * so those orders are processed again. On a fatal one (ProducerFencedError: a newer instance with
 * the same transactional.id took over) this instance stops; make a new producer to go on.
 * `onCommit({ orders, invoices })` is called after each commit (for logs and tests).
 */
export async function runInvoicer({ bootstrap, input, output, group, transactionalId, signal, onCommit = () => {}, log = () => {} }) {
  const consumer = new Consumer({
    'bootstrap.servers': bootstrap,
    'group.id': group,
    'enable.auto.commit': false, // offsets are committed by the transaction, never by the consumer
    'isolation.level': 'read_committed', // never see another transaction's aborted or open writes
    'auto.offset.reset': 'earliest',
    'max.poll.records': 100,
  });
  const producer = new Producer({
    'bootstrap.servers': bootstrap,
    'transactional.id': transactionalId, // stable per instance: a restart fences its predecessor
    'transaction.timeout.ms': 30_000,
    acks: 'all',
    'enable.idempotence': true,
  });
  try {
    await producer.initTransactions();
    consumer.subscribe([input]);
    while (!signal.aborted) {
      const records = await consumer.poll({ timeoutMs: 200 });
      if (records.length === 0) continue;
      producer.beginTransaction();
      try {
        await Promise.all(records.map((r) => producer.send({ topic: output, key: r.key, value: invoiceFor(r.value?.toString('utf8') ?? '') })));
        await producer.sendOffsetsToTransaction(nextOffsets(records), consumer.groupMetadata());
        await producer.commitTransaction();
        onCommit({ orders: records.length });
      } catch (error) {
        if (isFatal(error)) throw error;
        log(`transaction aborted (${error.code ?? error.message}); processing the batch again`);
        await producer.abortTransaction();
        rewind(consumer, records);
      }
    }
  } finally {
    await producer.close().catch(() => {});
    await consumer.close().catch(() => {});
  }
}

/** Next offset to read per input partition: what the transaction commits for the group. */
export function nextOffsets(records) {
  const next = new Map();
  for (const r of records) {
    const key = `${r.topic}\u0000${r.partition}`;
    next.set(key, { topic: r.topic, partition: r.partition, offset: Math.max(next.get(key)?.offset ?? 0, r.offset + 1) });
  }
  return [...next.values()];
}

function rewind(consumer, records) {
  const first = new Map();
  for (const r of records) {
    const key = `${r.topic}\u0000${r.partition}`;
    if (!first.has(key) || r.offset < first.get(key).offset) first.set(key, { topic: r.topic, partition: r.partition, offset: r.offset });
  }
  const owned = new Set(consumer.assignment().map((tp) => `${tp.topic}\u0000${tp.partition}`));
  for (const [key, tp] of first) if (owned.has(key)) consumer.seek({ topic: tp.topic, partition: tp.partition }, tp.offset);
}

/** Kafka's rule: fenced (or otherwise fatal) producers cannot abort and go on; everything else can. */
function isFatal(error) {
  return error?.name === 'ProducerFencedError' || error?.code === 'PRODUCER_FENCED' || error?.fatal === true;
}

/**
 * Reads the output with read_committed up to its end and counts invoices per order key:
 * `{ invoices, orders, duplicates: [keys seen twice or more], missing: [input keys never invoiced] }`.
 */
export async function verify({ bootstrap, input, output, timeoutMs = 30_000 }) {
  const readAll = async (topic, isolation) => {
    const admin = new Admin({ 'bootstrap.servers': bootstrap });
    let ends;
    try {
      const partitions = (await admin.describeTopics([topic]))[0].partitions.map((p) => p.partition);
      ends = await admin.listOffsets(partitions.map((partition) => ({ topic, partition, spec: 'latest' })));
    } finally {
      await admin.close();
    }
    const consumer = new Consumer({ 'bootstrap.servers': bootstrap, 'isolation.level': isolation, 'auto.offset.reset': 'earliest' });
    const tps = ends.map((e) => ({ topic, partition: e.partition }));
    consumer.assign(tps);
    for (const tp of tps) consumer.seek(tp, 0);
    const keys = [];
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        for (const r of await consumer.poll({ timeoutMs: 200 })) keys.push(r.key?.toString('utf8') ?? '');
        const positions = await Promise.all(tps.map((tp) => consumer.position(tp)));
        if (positions.every((p, i) => p >= ends[i].offset)) return keys;
        if (Date.now() > deadline) throw new Error(`could not read ${topic} to its end within ${timeoutMs} ms (an open transaction?)`);
      }
    } finally {
      await consumer.close();
    }
  };
  const orders = new Set(await readAll(input, 'read_uncommitted'));
  const counts = new Map();
  for (const key of await readAll(output, 'read_committed')) counts.set(key, (counts.get(key) ?? 0) + 1);
  return {
    orders: orders.size,
    invoices: [...counts.values()].reduce((a, b) => a + b, 0),
    duplicates: [...counts].filter(([, n]) => n > 1).map(([key]) => key),
    missing: [...orders].filter((key) => !counts.has(key)),
  };
}

async function main() {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      bootstrap: { type: 'string', default: DEFAULTS.bootstrap },
      input: { type: 'string', default: DEFAULTS.input },
      output: { type: 'string', default: DEFAULTS.output },
      group: { type: 'string', default: DEFAULTS.group },
      'transactional-id': { type: 'string', default: `invoicer-${process.pid}` },
      count: { type: 'string', default: '1000' },
    },
  });
  const options = { bootstrap: values.bootstrap, input: values.input, output: values.output, group: values.group };
  switch (positionals[0]) {
    case 'produce': {
      await createTopics(options);
      await produceOrders({ ...options, count: Number(values.count), first: Date.now() % 1_000_000_000 });
      console.log(`wrote ${values.count} orders to ${options.input}`);
      break;
    }
    case 'process': {
      await createTopics(options);
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      process.once('SIGTERM', () => controller.abort());
      let orders = 0;
      console.log(`invoicing ${options.input} → ${options.output} as ${values['transactional-id']} in group ${options.group}; Ctrl-C stops`);
      await runInvoicer({
        ...options, transactionalId: values['transactional-id'], signal: controller.signal, log: console.log,
        onCommit: (c) => { orders += c.orders; process.stdout.write(`\rcommitted ${orders} invoices`); },
      });
      console.log('\nstopped');
      break;
    }
    case 'verify': {
      const result = await verify(options);
      console.log(`${result.orders} orders, ${result.invoices} committed invoices, ${result.duplicates.length} duplicated, ${result.missing.length} not (yet) invoiced`);
      process.exitCode = result.duplicates.length === 0 ? 0 : 1;
      break;
    }
    default:
      console.error('usage: exactly-once.mjs produce|process|verify [--bootstrap host:port] [--input orders] [--output invoices] [--group invoicer] [--transactional-id ID] [--count N]');
      process.exitCode = 2;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
