// Three in-process nodes, clients that are not ours.
//  1. A client that leaves the epoch fields out (grpcurl, a generated client in another language): the
//     fields are proto3 `optional`, absent = unknown. After a leader change such a client still produces
//     and lists offsets (not FENCED_LEADER_EPOCH forever), and a fetch past the log end gets
//     OFFSET_OUT_OF_RANGE (not a diverging epoch). Requests are hand-encoded bytes without the fields,
//     and — when python3 with grpcio and grpc_tools is installed — sent by a real Python gRPC client too.
//     A client that does send epochs (ours) keeps the old behaviour.
//  2. Producer ids: a produce with a made-up producer id is refused (UNKNOWN_PRODUCER_ID), while real
//     idempotent producers keep working across a leader failover and a broker restart, exactly once.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, type PartitionDescription } from '@tributary/client';
import { PROTO_DIR, encodeRecordBatch, errorName, tributary } from '@tributary/protocol';
import { FAST_CLUSTER_CONFIGS, startCluster, type InProcessCluster } from '@tributary/testing';
import { waitFor as waitUntil } from '../cluster/helpers.js';

import v1 = tributary.v1;

const TOPIC = 'unset-epochs';

/** The shared poll-with-deadline, with this file's default deadline. */
function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  return waitUntil(what, probe, timeoutMs);
}

// ---- hand-encoded requests: exactly the bytes of a client that never sets the epoch fields ----

type Build = (w: protobuf.Writer) => void;
const VARINT = 0;
const LEN = 2;
function message(build: Build): Buffer {
  const w = protobuf.Writer.create();
  build(w);
  return Buffer.from(w.finish());
}
const nested = (w: protobuf.Writer, field: number, build: Build): void => {
  w.uint32((field << 3) | LEN).fork();
  build(w);
  w.ldelim();
};

/** ProduceRequest{acks=-1, timeout_ms=5000, topics=[{topic, partitions=[{partition, records|record_batch}]}]}: no current_leader_epoch. */
function rawProduce(topic: string, partition: number, payload: { value: string } | { recordBatch: Buffer }): Buffer {
  return message((w) => {
    w.uint32((1 << 3) | VARINT).int32(-1);
    w.uint32((2 << 3) | VARINT).uint32(5000);
    nested(w, 3, (t) => {
      t.uint32((1 << 3) | LEN).string(topic);
      nested(t, 2, (p) => {
        if (partition !== 0) p.uint32((1 << 3) | VARINT).uint32(partition);
        if ('recordBatch' in payload) p.uint32((2 << 3) | LEN).bytes(payload.recordBatch);
        else nested(p, 3, (r) => r.uint32((3 << 3) | LEN).bytes(Buffer.from(payload.value)).uint32((4 << 3) | VARINT).bool(true));
      });
    });
  });
}

/** FetchRequest{max_wait_ms=0, topics=[{topic, partitions=[{partition, fetch_offset}]}]}: no current_leader_epoch, no last_fetched_epoch. */
function rawFetch(topic: string, partition: number, fetchOffset: number): Buffer {
  return message((w) => nested(w, 5, (t) => {
    t.uint32((1 << 3) | LEN).string(topic);
    nested(t, 2, (p) => {
      if (partition !== 0) p.uint32((1 << 3) | VARINT).uint32(partition);
      p.uint32((2 << 3) | VARINT).int64(fetchOffset);
    });
  }));
}

/** ListOffsetsRequest{topics=[{topic, partitions=[{partition, spec=LATEST}]}]}: no current_leader_epoch. */
function rawListOffsets(topic: string, partition: number): Buffer {
  return message((w) => nested(w, 2, (t) => {
    t.uint32((1 << 3) | LEN).string(topic);
    nested(t, 2, (p) => {
      if (partition !== 0) p.uint32((1 << 3) | VARINT).uint32(partition);
    });
  }));
}

function rawCall<T>(address: string, method: string, bytes: Buffer, decode: (b: Buffer) => T): Promise<T> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise<T>((resolve, reject) => {
    client.makeUnaryRequest(`/tributary.v1.Broker/${method}`, (b: Buffer) => b, decode, bytes, { deadline: Date.now() + 10_000 }, (err, res) => {
      client.close();
      if (err !== null || res === undefined) reject(err ?? new Error('no response'));
      else resolve(res);
    });
  });
}

const code = (e: v1.IError | null | undefined): string => errorName(e?.code ?? 0);
/** Codes that only mean "ask the leader we now know" (leadership is moving right now). */
const MOVING = new Set(['NOT_LEADER_OR_FOLLOWER', 'LEADER_NOT_AVAILABLE', 'UNKNOWN_TOPIC_OR_PARTITION']);

// ---- python3 with grpcio, and a protoc that knows proto3 `optional` (3.15+; Debian: python3-grpcio protobuf-compiler) ----

/** A python3 that can import grpc, and our messages generated for it (into a temp dir), or why not. */
function preparePython(): { python: string; generatedDir: string } | { reason: string } {
  const python = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import grpc, google.protobuf'], { encoding: 'utf8' }).status === 0);
  if (python === undefined) return { reason: 'no python3 with the grpc and google.protobuf modules (apt-get install python3-grpcio)' };
  const generatedDir = mkdtempSync(join(tmpdir(), 'trib-py-'));
  const protos = ['common', 'broker'].map((n) => join(PROTO_DIR, 'tributary', 'v1', `${n}.proto`));
  const args = [`-I${PROTO_DIR}`, `--python_out=${generatedDir}`, ...protos];
  const tried: string[] = [];
  for (const [cmd, pre] of [['protoc', []], [python, ['-m', 'grpc_tools.protoc']]] as const) {
    const run = spawnSync(cmd, [...pre, ...args], { encoding: 'utf8' });
    if (run.status === 0) return { python, generatedDir };
    tried.push(`${[cmd, ...pre].join(' ')}: ${(run.error?.message ?? run.stderr ?? '').split('\n')[0]}`);
  }
  rmSync(generatedDir, { recursive: true, force: true });
  return { reason: `no protoc that compiles proto3 \`optional\` (needs 3.15+; apt-get install protobuf-compiler): ${tried.join('; ')}` };
}
const python = preparePython();
if ('reason' in python) console.log(`untrusted-clients: skipping the Python gRPC client test: ${python.reason}`);

describe('clients that are not ours (3 in-process nodes)', () => {
  let cluster: InProcessCluster;
  let admin: Admin;

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3, configs: FAST_CLUSTER_CONFIGS, logLevel: 'silent' });
    admin = new Admin({ 'bootstrap.servers': cluster.bootstrapServers, 'request.timeout.ms': 3000, 'default.api.timeout.ms': 10_000 });
    await admin.createTopics([{ topic: TOPIC, numPartitions: 1, replicationFactor: 3 }]);
  }, 60_000);

  afterAll(async () => {
    await admin?.close();
    await cluster?.stop();
    if ('generatedDir' in python) rmSync(python.generatedDir, { recursive: true, force: true });
  }, 60_000);

  const address = (nodeId: number): string => cluster.brokers.find((b) => b.nodeId === nodeId)!.address;
  async function partitionState(topic: string, partition: number): Promise<PartitionDescription> {
    return (await admin.describeTopics([topic]))[0]!.partitions[partition]!;
  }
  /** Leadership moved (a controlled restart of the leader): the partition has a live leader at epoch > 0 again. */
  async function changeLeader(topic: string): Promise<PartitionDescription> {
    const before = await waitFor('a leader', async () => { const p = await partitionState(topic, 0); return p.leader >= 0 ? p : undefined; });
    await cluster.restart(before.leader);
    await cluster.waitForReady(20_000);
    return waitFor('a leader at a newer epoch with the full ISR', async () => {
      const p = await partitionState(topic, 0);
      return p.leader >= 0 && p.leaderEpoch > before.leaderEpoch && p.isr.length === 3 ? p : undefined;
    });
  }

  /** Sends a request (built for the current leader) until leadership stops moving; returns the answer. */
  async function toLeader<T>(what: string, topic: string, send: (leaderAddress: string) => Promise<T>, codeOf: (res: T) => string): Promise<T> {
    return waitFor(what, async () => {
      const p = await partitionState(topic, 0);
      if (p.leader < 0) return undefined;
      const res = await send(address(p.leader));
      return MOVING.has(codeOf(res)) ? undefined : res;
    });
  }

  it('a client that omits the epochs produces and lists offsets after a leader change, and gets OFFSET_OUT_OF_RANGE past the end', async () => {
    const moved = await changeLeader(TOPIC);
    expect(moved.leaderEpoch).toBeGreaterThan(0);

    const produced = await toLeader('a produce without current_leader_epoch', TOPIC,
      (a) => rawCall(a, 'Produce', rawProduce(TOPIC, 0, { value: 'no epoch' }), (b) => v1.ProduceResponse.decode(b)),
      (r) => code(r.topics[0]?.partitions?.[0]?.error));
    expect(code(produced.topics[0]!.partitions![0]!.error)).toBe('NONE');

    const listed = await toLeader('a ListOffsets without current_leader_epoch', TOPIC,
      (a) => rawCall(a, 'ListOffsets', rawListOffsets(TOPIC, 0), (b) => v1.ListOffsetsResponse.decode(b)),
      (r) => code(r.topics[0]?.partitions?.[0]?.error));
    const logEnd = Number(listed.topics[0]!.partitions![0]!.offset);
    expect(code(listed.topics[0]!.partitions![0]!.error)).toBe('NONE');
    expect(logEnd).toBeGreaterThanOrEqual(1);

    const fetched = await toLeader('a Fetch past the end without epochs', TOPIC,
      (a) => rawCall(a, 'Fetch', rawFetch(TOPIC, 0, logEnd + 1000), (b) => v1.FetchResponse.decode(b)),
      (r) => code(r.topics[0]?.partitions?.[0]?.error));
    const fp = fetched.topics[0]!.partitions![0]!;
    expect(fp.divergingEpoch).toBeNull();
    expect(code(fp.error)).toBe('OFFSET_OUT_OF_RANGE');

    // Sent explicitly, the values keep their meaning (our client): an old epoch is fenced, a last fetched
    // epoch whose log ends before the fetch offset is a divergence.
    const explicitOld = await toLeader('a produce at epoch 0', TOPIC,
      (a) => rawCall(a, 'Produce', Buffer.from(v1.ProduceRequest.encode({ acks: -1, timeoutMs: 5000, topics: [{ topic: TOPIC, partitions: [{ partition: 0, records: [{ value: Buffer.from('x'), hasValue: true }], currentLeaderEpoch: 0 }] }] }).finish()), (b) => v1.ProduceResponse.decode(b)),
      (r) => code(r.topics[0]?.partitions?.[0]?.error));
    expect(code(explicitOld.topics[0]!.partitions![0]!.error)).toBe('FENCED_LEADER_EPOCH');
    const explicitDiverging = await toLeader('a fetch with last_fetched_epoch 0', TOPIC,
      (a) => rawCall(a, 'Fetch', Buffer.from(v1.FetchRequest.encode({ maxWaitMs: 0, topics: [{ topic: TOPIC, partitions: [{ partition: 0, fetchOffset: logEnd + 1000, lastFetchedEpoch: 0, currentLeaderEpoch: -1 }] }] }).finish()), (b) => v1.FetchResponse.decode(b)),
      (r) => code(r.topics[0]?.partitions?.[0]?.error));
    expect(explicitDiverging.topics[0]!.partitions![0]!.divergingEpoch).not.toBeNull();
  }, 90_000);

  it.skipIf('reason' in python)('a real Python gRPC client that never sets an epoch: produce, list offsets, fetch past the end', async () => {
    const topic = 'python-client';
    await admin.createTopics([{ topic, numPartitions: 1, replicationFactor: 3 }]);
    await waitFor('the topic led', async () => ((await partitionState(topic, 0)).leader >= 0 ? true : undefined));
    await changeLeader(topic);
    const { python: bin, generatedDir } = python as { python: string; generatedDir: string };
    const script = fileURLToPath(new URL('./omitting_client.py', import.meta.url));
    const result = await waitFor('the Python client against the leader', async () => {
      const p = await partitionState(topic, 0);
      if (p.leader < 0) return undefined;
      let stdout: string;
      try {
        // Asynchronously: the nodes answering it run in this process.
        ({ stdout } = await promisify(execFile)(bin, [script, generatedDir, address(p.leader), topic, '0'], { encoding: 'utf8', timeout: 30_000 }));
      } catch (err) {
        return { failed: String(err) }; // a broken script or toolchain: fail now, do not retry
      }
      const parsed = JSON.parse(stdout.trim().split('\n').at(-1)!) as { produce: string; listOffsets: string; fetch: string; fetchDiverging: boolean; logEnd: number };
      return MOVING.has(parsed.produce) || MOVING.has(parsed.fetch) ? undefined : parsed;
    }, 60_000);
    expect(result).toMatchObject({ produce: 'NONE', listOffsets: 'NONE', fetch: 'OFFSET_OUT_OF_RANGE', fetchDiverging: false });
    expect((result as { logEnd: number }).logEnd).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('a made-up producer id is refused; real idempotent producers work across a leader failover and a broker restart, exactly once', async () => {
    const topic = 'producer-ids';
    await cluster.waitForReady(20_000);
    await admin.createTopics([{ topic, numPartitions: 1, replicationFactor: 3 }]);
    await waitFor('the topic led by its full ISR', async () => { const p = await partitionState(topic, 0); return p.leader >= 0 && p.isr.length === 3 ? true : undefined; });
    const madeUp = encodeRecordBatch({ producerId: 2 ** 40, producerEpoch: 0, baseSequence: 0, records: [{ key: null, value: Buffer.from('forged'), timestamp: Date.now() }] });
    const refused = await toLeader('a produce with a made-up producer id', topic,
      (a) => rawCall(a, 'Produce', rawProduce(topic, 0, { recordBatch: madeUp }), (b) => v1.ProduceResponse.decode(b)),
      (r) => code(r.topics[0]?.partitions?.[0]?.error));
    expect(code(refused.topics[0]!.partitions![0]!.error)).toBe('UNKNOWN_PRODUCER_ID');

    const producerConfig = {
      'bootstrap.servers': cluster.bootstrapServers, acks: 'all', 'enable.idempotence': true, 'linger.ms': 1,
      'request.timeout.ms': 3000, 'delivery.timeout.ms': 60_000, 'retry.backoff.ms': 50, 'metadata.max.age.ms': 500,
    } as const;
    const sent: string[] = [];
    const send = async (producer: Producer, value: string): Promise<void> => {
      await producer.send({ topic, partition: 0, value });
      sent.push(value);
    };
    const first = new Producer(producerConfig);
    try {
      for (let i = 0; i < 20; i++) await send(first, `a-${i}`);
      // Failover: the leader crashes; a producer started afterwards gets its id from any broker.
      const leader = (await partitionState(topic, 0)).leader;
      await cluster.kill(leader);
      const during = Array.from({ length: 20 }, (_, i) => send(first, `b-${i}`));
      const second = new Producer(producerConfig);
      try {
        await Promise.all([...during, ...Array.from({ length: 20 }, (_, i) => send(second, `c-${i}`))]);
        // Restart: the old leader rebuilds its producer state from its log and takes leadership back
        // (preferred leader); both producers go on.
        await cluster.restart(leader);
        await cluster.waitForReady(20_000);
        await waitFor(`node ${leader} leading again with the full ISR`, async () => { const p = await partitionState(topic, 0); return p.leader === leader && p.isr.length === 3 ? true : undefined; }, 30_000);
        for (let i = 0; i < 10; i++) await Promise.all([send(first, `d-${i}`), send(second, `e-${i}`)]);
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
    }
    expect(first.idempotence.state).not.toBe('fenced');

    const consumer = new Consumer({ 'bootstrap.servers': cluster.bootstrapServers, 'auto.offset.reset': 'earliest', 'request.timeout.ms': 3000 });
    try {
      consumer.assign([{ topic, partition: 0 }]);
      const seen: string[] = [];
      await waitFor('every sent record read back', async () => {
        for (const r of await consumer.poll({ timeoutMs: 500 })) seen.push(r.value?.toString() ?? '');
        return seen.length >= sent.length ? true : undefined;
      }, 30_000);
      expect(seen.filter((v) => v === 'forged')).toEqual([]);
      expect([...seen].sort()).toEqual([...sent].sort()); // each acknowledged record exactly once
    } finally {
      await consumer.close();
    }
  }, 120_000);
});
