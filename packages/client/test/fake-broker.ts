// A scripted Broker gRPC service for failure paths a real broker does not produce on demand.
import * as grpc from '@grpc/grpc-js';
import { BrokerService, GroupsService, TransactionsService, decodeRecordBatches, tributary, type RecordBatch } from '@tributary/protocol';

export interface FakeBrokerScript {
  /** Answer (or withhold, by returning undefined) a produce of one batch; a promise answers later. */
  produce?: (batch: RecordBatch, partition: number, attempt: number) => ProduceAnswer | undefined | Promise<ProduceAnswer | undefined>;
  /** undefined = UNIMPLEMENTED (an old broker); `{ code }` answers that error. */
  initProducerId?: (request: tributary.v1.InitProducerIdRequest) => { producerId: number; producerEpoch: number } | { code: number };
  /** Transactions: with `txn`, the fake also serves Groups (FindCoordinator, TxnOffsetCommit) and Transactions. */
  txn?: FakeTxnScript;
  leaderEpoch?: number;
  /** Answer one partition of a fetch; undefined = UNIMPLEMENTED. */
  fetch?: (partition: tributary.v1.IFetchPartition, attempt: number) => tributary.v1.IFetchPartitionResponse;
}

export interface FakeTxnScript {
  /** Default: this broker, NONE. */
  findCoordinator?: (request: tributary.v1.FindCoordinatorRequest) => { code: number } | undefined;
  /** Default: every partition NONE. */
  addPartitionsToTxn?: (request: tributary.v1.AddPartitionsToTxnRequest) => tributary.v1.IAddPartitionsToTxnResponse | Promise<tributary.v1.IAddPartitionsToTxnResponse>;
  addOffsetsToTxn?: (request: tributary.v1.AddOffsetsToTxnRequest) => tributary.v1.IAddOffsetsToTxnResponse;
  /** Default: NONE with the request's id and epoch + 1 (v2: every end bumps the epoch). */
  endTxn?: (request: tributary.v1.EndTxnRequest) => tributary.v1.IEndTxnResponse;
  txnOffsetCommit?: (request: tributary.v1.TxnOffsetCommitRequest) => tributary.v1.IOffsetCommitResponse | Promise<tributary.v1.IOffsetCommitResponse>;
  offsetFetch?: (request: tributary.v1.OffsetFetchRequest) => tributary.v1.IOffsetFetchResponse;
}

export interface ProduceAnswer {
  readonly code: number;
  readonly baseOffset?: number;
}

export interface FakeBroker {
  readonly address: string;
  readonly produced: { partition: number; batch: RecordBatch }[];
  /** Every batch received, including the second and later batches of a multi-batch partition entry. */
  readonly producedBatches: { partition: number; batch: RecordBatch }[];
  /** Produce requests received (one request may carry several partitions' batches). */
  produceRequests: number;
  metadataRequests: number;
  readonly fetches: tributary.v1.IFetchPartition[];
  readonly fetchRequests: tributary.v1.FetchRequest[];
  /** Every Produce request's transactional_id, in order. */
  readonly produceTransactionalIds: string[];
  /** Transactions and Groups calls received, by method name, in order. */
  readonly txnCalls: { method: string; request: unknown }[];
  close(): Promise<void>;
}

export async function startFakeBroker(topic: string, partitions: number, script: FakeBrokerScript): Promise<FakeBroker> {
  const server = new grpc.Server();
  let port = 0;
  let produceAttempt = 0;
  let fetchAttempt = 0;
  const fake: FakeBroker = {
    address: '',
    produced: [],
    producedBatches: [],
    produceRequests: 0,
    metadataRequests: 0,
    fetches: [],
    fetchRequests: [],
    produceTransactionalIds: [],
    txnCalls: [],
    close: async () => { server.forceShutdown(); },
  };
  const unimplemented = (_call: unknown, cb: grpc.sendUnaryData<never>): void => cb({ code: grpc.status.UNIMPLEMENTED, details: 'not in fake' } as grpc.ServiceError, null);
  server.addService(BrokerService as unknown as grpc.ServiceDefinition, {
    metadata: (_call: grpc.ServerUnaryCall<tributary.v1.MetadataRequest, unknown>, cb: grpc.sendUnaryData<tributary.v1.IMetadataResponse>) => {
      fake.metadataRequests += 1;
      cb(null, {
        clusterId: 'fake', controllerId: 1,
        brokers: [{ nodeId: 1, host: '127.0.0.1', port }],
        topics: [{ name: topic, partitions: Array.from({ length: partitions }, (_, p) => ({ partition: p, leaderId: 1, leaderEpoch: script.leaderEpoch ?? 0, replicas: [1], isr: [1] })) }],
      });
    },
    produce: (call: grpc.ServerUnaryCall<tributary.v1.ProduceRequest, unknown>, cb: grpc.sendUnaryData<tributary.v1.IProduceResponse>) => {
      produceAttempt += 1;
      fake.produceRequests += 1;
      fake.produceTransactionalIds.push(call.request.transactionalId);
      const answers = call.request.topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((p) => {
          const all = decodeRecordBatches(p.recordBatch);
          const [batch] = all;
          for (const b of all) fake.producedBatches.push({ partition: p.partition, batch: b });
          fake.produced.push({ partition: p.partition, batch: batch! });
          const answer = script.produce === undefined ? { code: 0, baseOffset: 0 } : script.produce(batch!, p.partition, produceAttempt);
          return { partition: p.partition, answer };
        }),
      }));
      const respond = (resolved: { topic: string; partitions: { partition: number; answer: ProduceAnswer | undefined }[] }[]): void => {
        // Any withheld partition withholds the whole response (the client then times the request out).
        if (resolved.some((t) => t.partitions.some((p) => p.answer === undefined))) return;
        cb(null, {
          topics: resolved.map((t) => ({
            topic: t.topic,
            partitions: t.partitions.map(({ partition, answer }) => ({
              partition, error: { code: answer!.code, message: 'scripted' }, baseOffset: answer!.baseOffset ?? -1, logAppendTimeMs: -1,
            })),
          })),
        });
      };
      const deferred = answers.some((t) => t.partitions.some((p) => p.answer instanceof Promise));
      if (!deferred) {
        respond(answers as { topic: string; partitions: { partition: number; answer: ProduceAnswer | undefined }[] }[]);
        return;
      }
      void Promise.all(answers.map(async (t) => ({
        topic: t.topic,
        partitions: await Promise.all(t.partitions.map(async (p) => ({ partition: p.partition, answer: await p.answer }))),
      }))).then(respond);
    },
    fetch: (call: grpc.ServerUnaryCall<tributary.v1.FetchRequest, unknown>, cb: grpc.sendUnaryData<tributary.v1.IFetchResponse>) => {
      if (script.fetch === undefined) {
        unimplemented(call, cb as grpc.sendUnaryData<never>);
        return;
      }
      fetchAttempt += 1;
      fake.fetchRequests.push(call.request);
      const topics = call.request.topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((p) => {
          fake.fetches.push(p);
          return { partition: p.partition, ...script.fetch!(p, fetchAttempt) };
        }),
      }));
      // Long-poll a little, as a broker with no new data does.
      setTimeout(() => cb(null, { topics }), 5);
    },
    listOffsets: unimplemented,
    subscribe: (call: grpc.ServerWritableStream<unknown, unknown>) => call.destroy(new Error('not in fake')),
    initProducerId: (_call: unknown, cb: grpc.sendUnaryData<tributary.v1.IInitProducerIdResponse>) => {
      if (script.initProducerId === undefined) {
        cb({ code: grpc.status.UNIMPLEMENTED, details: 'InitProducerId' } as grpc.ServiceError, null);
        return;
      }
      const answer = script.initProducerId((_call as grpc.ServerUnaryCall<tributary.v1.InitProducerIdRequest, unknown>).request);
      cb(null, 'code' in answer ? { producerId: -1, producerEpoch: -1, error: { code: answer.code, message: 'scripted' } } : { ...answer, error: { code: 0 } });
    },
  });
  const txn = script.txn;
  if (txn !== undefined) {
    const handler = <Req, Res>(method: string, answer: (request: Req) => Res | Promise<Res>) => (call: grpc.ServerUnaryCall<Req, unknown>, cb: grpc.sendUnaryData<Res>): void => {
      fake.txnCalls.push({ method, request: call.request });
      void Promise.resolve(answer(call.request)).then((response) => cb(null, response));
    };
    server.addService(TransactionsService as unknown as grpc.ServiceDefinition, {
      addPartitionsToTxn: handler('addPartitionsToTxn', (r: tributary.v1.AddPartitionsToTxnRequest) => txn.addPartitionsToTxn?.(r)
        ?? { topics: r.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((partition) => ({ partition, error: { code: 0 } })) })) }),
      addOffsetsToTxn: handler('addOffsetsToTxn', (r: tributary.v1.AddOffsetsToTxnRequest) => txn.addOffsetsToTxn?.(r) ?? { error: { code: 0 } }),
      endTxn: handler('endTxn', (r: tributary.v1.EndTxnRequest) => txn.endTxn?.(r) ?? { producerId: r.producerId, producerEpoch: r.producerEpoch + 1, error: { code: 0 } }),
      listTransactions: unimplemented,
      describeTransactions: unimplemented,
      describeProducers: unimplemented,
      abortTransaction: unimplemented,
    });
    server.addService(GroupsService as unknown as grpc.ServiceDefinition, {
      findCoordinator: handler('findCoordinator', (r: tributary.v1.FindCoordinatorRequest) => {
        const refused = txn.findCoordinator?.(r);
        return refused !== undefined ? { error: { code: refused.code } } : { nodeId: 1, host: '127.0.0.1', port, error: { code: 0 } };
      }),
      txnOffsetCommit: handler('txnOffsetCommit', (r: tributary.v1.TxnOffsetCommitRequest) => txn.txnOffsetCommit?.(r)
        ?? { topics: r.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => ({ partition: p.partition, error: { code: 0 } })) })) }),
      offsetFetch: handler('offsetFetch', (r: tributary.v1.OffsetFetchRequest) => txn.offsetFetch?.(r) ?? { topics: [] }),
      joinGroup: unimplemented, syncGroup: unimplemented, heartbeat: unimplemented, leaveGroup: unimplemented, offsetCommit: unimplemented,
      listGroups: unimplemented, describeGroups: unimplemented, deleteGroups: unimplemented,
    });
  }
  port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  Object.assign(fake, { address: `127.0.0.1:${port}` });
  return fake;
}
