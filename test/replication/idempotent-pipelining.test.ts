// The idempotent producer with the defaults users run (acks=all, 5 requests in flight per connection,
// sticky partitioning) at thousands of 1 KiB records per second into 6 partitions (RF 3) of an
// in-process 3-node cluster: no send may fail and the log must hold every acknowledged record once,
// at its acknowledged offset, in send order per partition.
//
// Why this once failed without any fault: requests on one connection are separate HTTP/2 streams, and
// the broker handles each when its last frame arrives — a large request sent first can complete after
// a small one sent behind it, so the broker judged a batch before the batches it follows. Two bugs
// turned that into failed sends: the broker appended a producer's first batch at any sequence (the
// earlier batches, arriving next, were then refused), and the client judged a refusal certain when the
// earlier batches' answers had arrived by then, rather than whether they had when it was sent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer } from '@tributary/client';
import { startCluster, type InProcessCluster } from '@tributary/testing';
import { exactlyOnceViolations, readAll, waitFullIsr, type SendOutcome } from './helpers.js';

const TOPIC = 'pipelined';
const PARTITIONS = 6;
const RECORDS = 15_000;
const RECORDS_PER_SECOND = 5_000;
const RECORD_BYTES = 1024;

describe('idempotent producer, 5 in flight, 6 partitions, 1 KiB records (in-process 3-node cluster)', () => {
  let cluster: InProcessCluster;
  let admin: Admin;

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3 });
    admin = new Admin({ 'bootstrap.servers': cluster.bootstrapServers });
    await admin.createTopics([{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }]);
    await waitFullIsr(admin, TOPIC, 20_000);
  }, 60_000);

  afterAll(async () => {
    await admin?.close();
    await cluster?.stop();
  }, 60_000);

  it(`${RECORDS} records at ${RECORDS_PER_SECOND}/s: none fails, none is duplicated or reordered`, async () => {
    // Defaults apart from the address: enable.idempotence, acks=all, max.in.flight 5, batch.size 16 KiB.
    const producer = new Producer({ 'bootstrap.servers': cluster.bootstrapServers });
    const outcomes: SendOutcome[] = [];
    const sends: Promise<void>[] = [];
    const padding = 'x'.repeat(RECORD_BYTES);
    const startMs = Date.now();
    try {
      for (let seq = 0; seq < RECORDS; seq++) {
        // Paced like `tributary perf produce --throughput`: send when due, in bursts between timer ticks.
        const dueMs = startMs + (seq * 1000) / RECORDS_PER_SECOND;
        if (dueMs > Date.now()) await new Promise((r) => setTimeout(r, dueMs - Date.now()));
        const value = `p0-${seq}-${padding}`;
        sends.push(producer.send({ topic: TOPIC, value }).then(
          (md) => { outcomes.push({ producer: 0, seq, partition: md.partition, value, offset: md.offset, error: undefined }); },
          (error: Error) => { outcomes.push({ producer: 0, seq, partition: -1, value, offset: undefined, error }); },
        ));
      }
      await Promise.all(sends);
    } finally {
      await producer.close({ timeoutMs: 10_000 });
    }
    const failed = outcomes.filter((o) => o.error !== undefined);
    let refused = 0;
    for (const b of cluster.brokers) refused += await sequenceRefusals(cluster, b.nodeId);
    console.log(`idempotent pipelining: ${failed.length} of ${RECORDS} failed; the brokers refused ${refused} partition batch(es) as out of sequence (retried) in ${Date.now() - startMs} ms`);
    expect(failed.map((o) => `${o.seq}: ${o.error!.message}`).slice(0, 5)).toEqual([]);
    expect(failed).toHaveLength(0);

    const records = await readAll(cluster.bootstrapServers, TOPIC, PARTITIONS, admin);
    expect(exactlyOnceViolations(outcomes, records).slice(0, 10)).toEqual([]);
    expect(records).toHaveLength(RECORDS);
  }, 120_000);
});

/** Produce results a node counted as OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID (how often the scenario arose). */
async function sequenceRefusals(cluster: InProcessCluster, nodeId: number): Promise<number> {
  if (!cluster.isRunning(nodeId)) return 0;
  const { values } = await cluster.node(nodeId).metrics.requests.get();
  return values
    .filter((v) => v.labels.api === 'produce' && (v.labels.result === 'OUT_OF_ORDER_SEQUENCE_NUMBER' || v.labels.result === 'UNKNOWN_PRODUCER_ID'))
    .reduce((n, v) => n + v.value, 0);
}
