// Test harness: a real node on 127.0.0.1:0 in a temp dir, with real generated gRPC clients.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { AdminClient, BrokerClient, encodeRecordBatch, tributary, type RecordInput } from '@tributary/protocol';
import { parseNodeConfig, startNode, type StartNodeOptions, type TributaryNode } from '../src/index.js';

export interface TestNode {
  readonly node: TributaryNode;
  readonly dataDir: string;
  readonly broker: BrokerClient;
  readonly admin: AdminClient;
  /** Promisified unary call on a client: call(admin, 'createTopics', {...}). */
  restart(options?: StartNodeOptions): Promise<TestNode>;
  close(): Promise<void>;
}

export const silentLogger = pino({ level: process.env.TRIBUTARY_TEST_LOG_LEVEL ?? 'silent' });

/** For a Partition built directly in a test: ids below 1000 count as allocated; defaults otherwise. */
export const anyProducerIds = { allocatedEnd: () => 1000, producersMax: 10_000, expirationMs: 24 * 3600 * 1000, nowMs: () => Date.now() };

export async function makeTempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'tributary-broker-'));
}

export async function startTestNode(args: { set?: Record<string, string>; dataDir?: string; options?: StartNodeOptions } = {}): Promise<TestNode> {
  const dataDir = args.dataDir ?? (await makeTempDir());
  const config = parseNodeConfig({
    flags: { 'node.id': 1, listen: '127.0.0.1:0', 'data.dir': dataDir },
    set: args.set ?? {},
  });
  const node = await startNode(config, { logger: silentLogger, ...args.options });
  const clientOptions = { 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 64 * 1024 * 1024 };
  const broker = new BrokerClient(node.address, grpc.credentials.createInsecure(), clientOptions);
  const admin = new AdminClient(node.address, grpc.credentials.createInsecure(), clientOptions);
  const closeClients = (): void => {
    broker.close();
    admin.close();
  };
  return {
    node, dataDir, broker, admin,
    restart: async (options) => {
      closeClients();
      await node.close();
      return startTestNode({ ...args, dataDir, ...(options === undefined ? {} : { options }) });
    },
    close: async () => {
      closeClients();
      await node.close();
      if (args.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

type Callback<R> = (err: grpc.ServiceError | null, response?: R) => void;
/** Promisifies one unary method of a generated client. */
export function call<Req, Res>(
  client: grpc.Client,
  method: (request: Req, options: Partial<grpc.CallOptions>, callback: Callback<Res>) => grpc.ClientUnaryCall,
  request: Req,
  options: Partial<grpc.CallOptions> = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, request, options, (err, response) => (err !== null ? reject(err) : resolve(response as Res)));
  });
}

export const codeName = (e: tributary.v1.IError | null | undefined): string => tributary.v1.ErrorCode[e?.code ?? 0] ?? String(e?.code);

export async function createTopic(t: TestNode, name: string, numPartitions = 1, configs: Record<string, string> = {}): Promise<void> {
  const res = await call(t.admin, t.admin.createTopics, { topics: [{ name, numPartitions, replicationFactor: 1, configs }] });
  const error = res.topics[0]?.error;
  if (codeName(error) !== 'NONE') throw new Error(`create ${name}: ${codeName(error)} ${error?.message}`);
}

export function batchOf(values: readonly string[], extra: Partial<RecordInput> = {}, timestamp = Date.now()): Buffer {
  return encodeRecordBatch({ records: values.map((v) => ({ key: null, value: Buffer.from(v), timestamp, ...extra })) });
}

export async function produceBatch(t: TestNode, topic: string, partition: number, batch: Buffer, acks = -1): Promise<tributary.v1.IProducePartitionResponse> {
  const res = await call(t.broker, t.broker.produce, { acks, timeoutMs: 5000, topics: [{ topic, partitions: [{ partition, recordBatch: batch, currentLeaderEpoch: -1 }] }] });
  const p = res.topics[0]?.partitions?.[0];
  if (p === undefined) throw new Error('no partition in produce response');
  return p;
}

export async function fetchFrom(t: TestNode, topic: string, partition: number, fetchOffset: number, extra: Partial<tributary.v1.IFetchRequest> = {}): Promise<tributary.v1.IFetchPartitionResponse> {
  const res = await call(t.broker, t.broker.fetch, {
    maxWaitMs: 0, minBytes: 0, maxBytes: 1024 * 1024, ...extra,
    topics: [{ topic, partitions: [{ partition, fetchOffset, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
  });
  const p = res.topics[0]?.partitions?.[0];
  if (p === undefined) throw new Error('no partition in fetch response');
  return p;
}
