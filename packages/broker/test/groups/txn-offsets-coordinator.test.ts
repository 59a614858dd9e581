// The group coordinator's shell for offsets in transactions, over a real ReplicaManager and partition
// (memory log) with a TxnVerifier stub: a load replays transactional and control batches from the log
// (pending until the marker), markers reported by the ReplicaManager complete pending offsets (also
// while the shard loads, and while the commit's own append still waits for its acks), OffsetFetch
// require_stable answers UNSTABLE_OFFSET_COMMIT, TxnOffsetCommit is fenced (KIP-447) and verified
// before anything is written, and writes one transactional batch the partition admits (coordinator
// origin) and fences by producer epoch after a marker (ReplicaManager.writeTxnMarker).
import { afterEach, describe, expect, it } from 'vitest';
import { decodeRecordBatches, encodeControlBatch, encodeRecordBatch, validateBatches } from '@tributary/protocol';
import { memoryLogFactory, parseNodeConfig, type MetadataView, type TopicInfo } from '../../src/index.js';
import { ChangeNotifier, ReplicaManager } from '../../src/internal.js';
import { ApiError, errorCodeOf, type ErrorCodeName } from '../../src/errors.js';
import type { MetadataCommands } from '../../src/metadata-view.js';
import * as grpc from '@grpc/grpc-js';
import { tributary } from '@tributary/protocol';
import { GroupCoordinator, TXN_MARKERS_BUFFERED_MAX } from '../../src/groups/group-coordinator.js';
import { createGroupsHandlers } from '../../src/groups/groups-service.js';
import { TXN_OFFSET_COMMIT_MAX_PARTITIONS } from '../../src/groups/group.js';
import { DEFAULT_GROUP_COORDINATOR_CONFIG } from '../../src/groups/group-coordinator-config.js';
import { OFFSETS_TOPIC, offsetRecord } from '../../src/groups/group-records.js';
import type { TxnMarkerWritten, TxnVerifier, TxnVerifyInput } from '../../src/transactions/txn-ports.js';
import { silentLogger } from '../helpers.js';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

function topicInfo(name: string, partitions: number, internal: boolean, isr = [1]): TopicInfo {
  return {
    name, topicId: `${name}-id`, internal, configs: {},
    partitions: Array.from({ length: partitions }, (_, partition) => ({ topic: name, topicId: `${name}-id`, partition, leader: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: isr, isr })),
  };
}

class StubVerifier implements TxnVerifier {
  readonly calls: TxnVerifyInput[] = [];
  answer: ErrorCodeName | undefined = undefined;
  verify(input: TxnVerifyInput): Promise<ErrorCodeName | undefined> {
    this.calls.push(input);
    return Promise.resolve(this.answer);
  }
}

async function setup(options: { verifier?: TxnVerifier; offsetsIsr?: number[]; commitTimeoutMs?: number } = {}) {
  const config = parseNodeConfig({ flags: { 'node.id': 1, 'data.dir': '/nonexistent-unused' } });
  const topics = [topicInfo(OFFSETS_TOPIC, 1, true, options.offsetsIsr), topicInfo('t', 3, false)];
  const metadata: MetadataView = {
    clusterId: 'c', controller: () => ({ leaderId: 1, term: 0 }), brokers: () => [],
    topics: () => topics, topic: (n) => topics.find((t) => t.name === n), partition: (n, p) => topics.find((t) => t.name === n)?.partitions[p],
    producerIdsEnd: () => 1_000_000,
  };
  const notifier = new ChangeNotifier();
  const replicas = new ReplicaManager({ nodeId: 1, config, metadata, openLog: memoryLogFactory(), notifier, logger: silentLogger, nowMs: Date.now });
  for (const t of topics) await replicas.applyChange({ type: 'topicCreated', topic: t });
  const commands = {} as MetadataCommands; // the offsets topic exists: nothing is created
  const coordinator = new GroupCoordinator({
    nodeId: 1, metadata, commands, replicas, notifier, nowMs: Date.now, logger: silentLogger,
    config: { ...DEFAULT_GROUP_COORDINATOR_CONFIG, offsetsTopicNumPartitions: 1, offsetsCommitTimeoutMs: options.commitTimeoutMs ?? 2_000 },
    ...(options.verifier === undefined ? {} : { txnVerifier: options.verifier }),
  });
  closers.push(() => coordinator.close());
  const offsets = replicas.getPartition(OFFSETS_TOPIC, 0);
  /** Appends batches to the offsets partition's log as its leader would have (the producer side is the partition work's). */
  const write = async (bytes: Buffer): Promise<number> => (await offsets.log.appendAsLeader(bytes, validateBatches(bytes), offsets.leaderEpoch, {})).firstOffset;
  /** The ReplicaManager reporting a committed marker (what the partition work does after writing one). */
  const notify = (marker: Omit<TxnMarkerWritten, 'topic' | 'partition' | 'producerEpoch'>): void =>
    (replicas as unknown as { notifyTxnMarker(m: TxnMarkerWritten): void }).notifyTxnMarker({ topic: OFFSETS_TOPIC, partition: 0, producerEpoch: 1, ...marker });
  /** Another coordinator over the same partitions (a failover: it loads the log afresh). */
  const another = (): GroupCoordinator => {
    const c = new GroupCoordinator({
      nodeId: 1, metadata, commands, replicas, notifier, nowMs: Date.now, logger: silentLogger,
      config: { ...DEFAULT_GROUP_COORDINATOR_CONFIG, offsetsTopicNumPartitions: 1 },
      ...(options.verifier === undefined ? {} : { txnVerifier: options.verifier }),
    });
    closers.push(() => c.close());
    return c;
  };
  return { coordinator, replicas, offsets, write, notify, another };
}

const plainBatch = (group: string, partition: number, offset: number): Buffer => encodeRecordBatch({
  records: [{ ...offsetRecord(group, { topic: 't', partition }, { offset, metadata: '', commitTimestampMs: 1 }), timestamp: 1 }],
});
const txnBatch = (group: string, producerId: number, commits: [number, number][]): Buffer => encodeRecordBatch({
  producerId, producerEpoch: 0, baseSequence: -1, transactional: true,
  records: commits.map(([partition, offset]) => ({ ...offsetRecord(group, { topic: 't', partition }, { offset, metadata: 'x', commitTimestampMs: 1 }), timestamp: 1 })),
});
const markerBatch = (producerId: number, committed: boolean): Buffer =>
  encodeControlBatch({ type: committed ? 'COMMIT' : 'ABORT', producerId, producerEpoch: 1, coordinatorEpoch: 0, timestampMs: 1 });

/** Retries while the shard loads (COORDINATOR_LOAD_IN_PROGRESS), as a client does. */
async function loaded<T>(body: () => T | Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await body();
    } catch (err) {
      if (errorCodeOf(err) !== 'COORDINATOR_LOAD_IN_PROGRESS' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 2));
  }
}

const fetchOne = (c: GroupCoordinator, partition: number, requireStable = false) => c.fetchOffsets('G', [{ topic: 't', partition }], requireStable)[0]!;

describe('group coordinator: offsets in transactions', () => {
  it('a load keeps a transaction without its marker pending (require_stable: UNSTABLE_OFFSET_COMMIT); the reported COMMIT marker makes it current', async () => {
    const { coordinator, write, notify } = await setup();
    await write(plainBatch('G', 0, 5));
    await write(txnBatch('G', 7, [[0, 9], [1, 4]]));
    const before = await loaded(() => fetchOne(coordinator, 0));
    expect(before).toMatchObject({ offset: 5, error: null });
    expect(fetchOne(coordinator, 0, true)).toMatchObject({ offset: -1, error: 'UNSTABLE_OFFSET_COMMIT' });
    expect(fetchOne(coordinator, 2, true)).toMatchObject({ offset: -1, error: null }); // nothing pending there
    // The whole group with require_stable lists the partition that has only a pending commit, too.
    expect(coordinator.fetchOffsets('G', null, true).map((o) => [o.partition, o.error]).sort()).toEqual([[0, 'UNSTABLE_OFFSET_COMMIT'], [1, 'UNSTABLE_OFFSET_COMMIT']]);
    expect(coordinator.fetchOffsets('G', null).map((o) => [o.partition, o.offset])).toEqual([[0, 5]]);

    notify({ producerId: 8, committed: true, offset: await write(markerBatch(8, true)) }); // another producer: nothing
    expect(fetchOne(coordinator, 0, true).error).toBe('UNSTABLE_OFFSET_COMMIT');
    notify({ producerId: 7, committed: true, offset: await write(markerBatch(7, true)) });
    expect(fetchOne(coordinator, 0, true)).toMatchObject({ offset: 9, error: null });
    expect(fetchOne(coordinator, 1, true)).toMatchObject({ offset: 4, error: null });
  });

  it('committed → transactional pending → ABORT in the log: the load gives the committed offset', async () => {
    const { coordinator, write } = await setup();
    await write(plainBatch('G', 0, 5));
    await write(txnBatch('G', 7, [[0, 9]]));
    await write(markerBatch(7, false));
    expect(await loaded(() => fetchOne(coordinator, 0, true))).toMatchObject({ offset: 5, error: null });
  });

  it('a marker reported while the shard loads is applied once the load is done', async () => {
    const { coordinator, offsets, write, notify } = await setup();
    await write(plainBatch('G', 0, 5));
    await write(txnBatch('G', 7, [[0, 9]]));
    const end = offsets.logEndOffset;
    expect(() => fetchOne(coordinator, 0)).toThrow(ApiError); // starts the load (reads up to `end`)
    // Reported in the same turn, so certainly while the shard loads; the log gets the marker at `end`.
    notify({ producerId: 7, committed: true, offset: end });
    expect(await write(markerBatch(7, true))).toBe(end);
    expect(await loaded(() => fetchOne(coordinator, 0, true))).toMatchObject({ offset: 9, error: null });
  });

  it(`more than ${TXN_MARKERS_BUFFERED_MAX} markers while loading: the shard loads again and still ends right`, async () => {
    const { coordinator, offsets, write, notify } = await setup();
    await write(txnBatch('G', 7, [[0, 9]]));
    const end = offsets.logEndOffset;
    expect(() => fetchOne(coordinator, 0)).toThrow(ApiError);
    for (let i = 0; i <= TXN_MARKERS_BUFFERED_MAX; i++) notify({ producerId: 100 + i, committed: false, offset: end });
    // Past the bound: not kept in memory, yet not lost — the reload reads it from the log.
    notify({ producerId: 7, committed: true, offset: end });
    expect(await write(markerBatch(7, true))).toBe(end);
    expect(await loaded(() => fetchOne(coordinator, 0, true))).toMatchObject({ offset: 9, error: null });
  });

  it('TxnOffsetCommit: zombies are fenced and the verifier\'s error is the answer, before anything is written', async () => {
    const verifier = new StubVerifier();
    const { coordinator, offsets } = await setup({ verifier });
    const joined = await loaded(() => coordinator.joinGroup('G', {
      memberId: '', groupInstanceId: null, clientId: 'c', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000,
      protocolType: 'consumer', strategies: ['range'], topics: ['t'], ownedPartitions: [], ownedGeneration: -1,
    }));
    expect(joined.error).toBeNull();
    expect(coordinator.syncGroup('G', { memberId: joined.memberId, groupInstanceId: null, generation: joined.generation }).error).toBeNull();
    const logEnd = offsets.logEndOffset;
    const txn = { transactionalId: 'tx', producerId: 7, producerEpoch: 0 };
    const commits = [{ topic: 't', partition: 0, offset: 10, metadata: '' }];
    const answer = async (member: { memberId: string; groupInstanceId: string | null; generation: number }, list = commits) =>
      [...(await coordinator.txnCommitOffsets('G', { ...txn, ...member }, list)).values()];

    expect(await answer({ memberId: joined.memberId, groupInstanceId: null, generation: joined.generation - 1 })).toEqual(['ILLEGAL_GENERATION']);
    expect(await answer({ memberId: 'zombie', groupInstanceId: null, generation: joined.generation })).toEqual(['UNKNOWN_MEMBER_ID']);
    // A member that lost its identity (no member id, no generation) while others manage the group.
    expect(await answer({ memberId: '', groupInstanceId: null, generation: -1 })).toEqual(['ILLEGAL_GENERATION']);
    expect(verifier.calls).toEqual([]); // fenced before the transaction coordinator is asked

    verifier.answer = 'INVALID_TXN_STATE';
    expect(await answer({ memberId: joined.memberId, groupInstanceId: null, generation: joined.generation })).toEqual(['INVALID_TXN_STATE']);
    verifier.answer = 'PRODUCER_FENCED';
    expect(await answer({ memberId: joined.memberId, groupInstanceId: null, generation: joined.generation })).toEqual(['PRODUCER_FENCED']);
    expect(verifier.calls.map((c) => [c.transactionalId, c.producerId, c.producerEpoch, c.topic, c.partition])).toEqual([
      ['tx', 7, 0, OFFSETS_TOPIC, 0], ['tx', 7, 0, OFFSETS_TOPIC, 0],
    ]);
    // Bad partitions are answered on their own; the metadata limit is OffsetCommit's.
    verifier.answer = 'CONCURRENT_TRANSACTIONS';
    const mixed = await coordinator.txnCommitOffsets('G', { ...txn, memberId: joined.memberId, groupInstanceId: null, generation: joined.generation }, [
      { topic: 'nope', partition: 0, offset: 1, metadata: '' },
      { topic: 't', partition: 1, offset: -1, metadata: '' },
      { topic: 't', partition: 2, offset: 1, metadata: 'x'.repeat(4_097) },
      { topic: 't', partition: 0, offset: 1, metadata: 'x'.repeat(4_096) },
    ]);
    expect(Object.fromEntries(mixed)).toEqual({
      'nope\u00000': 'UNKNOWN_TOPIC_OR_PARTITION', 't\u00001': 'INVALID_COMMIT_OFFSET_SIZE', 't\u00002': 'INVALID_COMMIT_OFFSET_SIZE', 't\u00000': 'CONCURRENT_TRANSACTIONS',
    });
    expect(offsets.logEndOffset).toBe(logEnd); // nothing written
  });

  it('TxnOffsetCommit without a transaction coordinator on the node is refused (INVALID_TXN_STATE)', async () => {
    const { coordinator, offsets } = await setup();
    const out = await loaded(() => coordinator.txnCommitOffsets('G', { transactionalId: 'tx', producerId: 7, producerEpoch: 0, memberId: '', groupInstanceId: null, generation: -1 },
      [{ topic: 't', partition: 0, offset: 1, metadata: '' }]));
    expect([...out.values()]).toEqual(['INVALID_TXN_STATE']);
    expect(offsets.logEndOffset).toBe(0);
  });

  it('DeleteGroups is refused while a transactional commit is pending, allowed after its marker', async () => {
    const { coordinator, write, notify } = await setup();
    await write(plainBatch('G', 0, 5));
    await write(txnBatch('G', 7, [[0, 9]]));
    expect(await loaded(() => coordinator.deleteGroup('G'))).toBe('NON_EMPTY_GROUP');
    notify({ producerId: 7, committed: false, offset: await write(markerBatch(7, false)) });
    expect(coordinator.deleteGroup('G')).toBeNull();
  });
});

describe('Groups.TxnOffsetCommit / OffsetFetch handlers', () => {
  type Outcome = { status: grpc.status | 0; details: string; response: unknown };
  function invoke<Req>(handler: unknown, request: Req): Promise<Outcome> {
    return new Promise((resolve) => {
      (handler as grpc.handleUnaryCall<Req, unknown>)({ request, on: () => undefined } as unknown as grpc.ServerUnaryCall<Req, unknown>, (err, response) => {
        resolve(err === null ? { status: 0, details: '', response } : { status: err.code ?? grpc.status.UNKNOWN, details: err.details ?? '', response: undefined });
      });
    });
  }
  const request = (over: Partial<tributary.v1.ITxnOffsetCommitRequest> = {}): tributary.v1.ITxnOffsetCommitRequest => ({
    transactionalId: 'tx', groupId: 'G', producerId: 7, producerEpoch: 0, generationId: -1, memberId: '', groupInstanceId: '',
    topics: [{ topic: 't', partitions: [{ partition: 0, committedOffset: 3, metadata: '' }] }], ...over,
  });

  it('refuses malformed requests naming the field; the partition count is bounded', async () => {
    const verifier = new StubVerifier();
    const { coordinator } = await setup({ verifier });
    const handlers = createGroupsHandlers({ coordinator, logger: silentLogger });
    const bad: [Partial<tributary.v1.ITxnOffsetCommitRequest>, string][] = [
      [{ transactionalId: '' }, 'transactional_id'],
      [{ groupId: '' }, 'group_id'],
      [{ producerId: -1 }, 'producer_id'],
      [{ producerEpoch: -1 }, 'producer_epoch'],
      [{ producerEpoch: 32_768 }, 'producer_epoch'],
      [{ topics: [{ topic: '', partitions: [{ partition: 0, committedOffset: 1 }] }] }, 'topics[0].topic'],
      [{ topics: [{ topic: 't', partitions: Array.from({ length: TXN_OFFSET_COMMIT_MAX_PARTITIONS + 1 }, (_, i) => ({ partition: i % 3, committedOffset: 1 })) }] }, `at most ${TXN_OFFSET_COMMIT_MAX_PARTITIONS}`],
    ];
    for (const [over, field] of bad) {
      const out = await invoke(handlers.txnOffsetCommit, request(over));
      expect(out.status, field).toBe(grpc.status.INVALID_ARGUMENT);
      expect(out.details).toContain(field);
    }
    expect(verifier.calls).toEqual([]);
    // Exactly at the bound: accepted and answered per partition (the stub's error here).
    verifier.answer = 'INVALID_TXN_STATE';
    const atBound = await loaded(async () => {
      const out = await invoke(handlers.txnOffsetCommit, request({ topics: [{ topic: 't', partitions: Array.from({ length: TXN_OFFSET_COMMIT_MAX_PARTITIONS }, (_, i) => ({ partition: i % 3, committedOffset: 1 })) }] }));
      const response = out.response as tributary.v1.IOffsetCommitResponse;
      if (response.error?.code === tributary.v1.ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) throw new ApiError('COORDINATOR_LOAD_IN_PROGRESS', 'loading');
      return response;
    });
    expect(atBound.topics?.[0]?.partitions?.length).toBe(TXN_OFFSET_COMMIT_MAX_PARTITIONS);
    expect(new Set(atBound.topics?.[0]?.partitions?.map((p) => p.error?.code))).toEqual(new Set([tributary.v1.ErrorCode.INVALID_TXN_STATE]));
  });

  it('OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT for a pending partition only', async () => {
    const { coordinator, write } = await setup();
    await write(plainBatch('G', 1, 2));
    await write(txnBatch('G', 7, [[0, 9]]));
    const handlers = createGroupsHandlers({ coordinator, logger: silentLogger });
    const fetchReq = (requireStable: boolean): tributary.v1.IOffsetFetchRequest => ({ groupId: 'G', topics: [{ topic: 't', partitions: [0, 1] }], requireStable });
    await loaded(() => coordinator.fetchOffsets('G', null));
    const stable = (await invoke(handlers.offsetFetch, fetchReq(true))).response as tributary.v1.IOffsetFetchResponse;
    expect(stable.topics?.[0]?.partitions?.map((p) => [p.partition, Number(p.committedOffset), p.error?.code])).toEqual([
      [0, -1, tributary.v1.ErrorCode.UNSTABLE_OFFSET_COMMIT], [1, 2, tributary.v1.ErrorCode.NONE],
    ]);
    const plainFetch = (await invoke(handlers.offsetFetch, fetchReq(false))).response as tributary.v1.IOffsetFetchResponse;
    expect(plainFetch.topics?.[0]?.partitions?.map((p) => [p.partition, Number(p.committedOffset), p.error?.code])).toEqual([
      [0, -1, tributary.v1.ErrorCode.NONE], [1, 2, tributary.v1.ErrorCode.NONE],
    ]);
  });
});

describe('TxnOffsetCommit through the partition (transactional batch, real markers)', () => {
  type MarkerWriter = { writeTxnMarker(m: { topic: string; partition: number; producerId: number; producerEpoch: number; committed: boolean; coordinatorEpoch: number }, o: { timeoutMs: number }): Promise<{ offset: number }> };
  const member = { memberId: '', groupInstanceId: null, generation: -1 };

  it('writes ONE transactional batch of the producer; pending until COMMIT; ABORT keeps the committed offset; a reload agrees', async () => {
    const verifier = new StubVerifier();
    const { coordinator, replicas, offsets, another } = await setup({ verifier });
    const writer = replicas as unknown as MarkerWriter;
    const marker = (producerEpoch: number, committed: boolean) => writer.writeTxnMarker({ topic: OFFSETS_TOPIC, partition: 0, producerId: 7, producerEpoch, committed, coordinatorEpoch: 0 }, { timeoutMs: 5_000 });
    expect(await loaded(() => coordinator.commitOffsets('G', member, [{ topic: 't', partition: 0, offset: 5, metadata: '' }]))).toEqual(new Map([['t\u00000', null]]));
    const before = offsets.logEndOffset;
    const txn = (producerEpoch: number, offset: number) => coordinator.txnCommitOffsets('G', { transactionalId: 'tx', producerId: 7, producerEpoch, ...member },
      [{ topic: 't', partition: 0, offset, metadata: 'm' }, { topic: 't', partition: 1, offset: offset + 1, metadata: '' }]);
    expect([...(await txn(0, 9)).values()]).toEqual([null, null]);
    const read = await offsets.log.read(before, 1 << 20, { maxOffset: offsets.logEndOffset, minOneBatch: true });
    const batches = decodeRecordBatches(read.records);
    expect(batches.map((b) => [b.producerId, b.producerEpoch, b.baseSequence, b.transactional, b.control, b.records.length])).toEqual([[7, 0, -1, true, false, 2]]);
    expect(fetchOne(coordinator, 0)).toMatchObject({ offset: 5, error: null });
    expect(fetchOne(coordinator, 0, true).error).toBe('UNSTABLE_OFFSET_COMMIT');

    await marker(1, false); // ABORT (epoch bumped, transactions v2)
    expect(fetchOne(coordinator, 0, true)).toMatchObject({ offset: 5, error: null });
    expect(fetchOne(coordinator, 1, true)).toMatchObject({ offset: -1, error: null });

    expect([...(await txn(1, 11)).values()]).toEqual([null, null]);
    await marker(2, true);
    expect(fetchOne(coordinator, 0, true)).toMatchObject({ offset: 11, metadata: 'm', error: null });
    expect(fetchOne(coordinator, 1, true)).toMatchObject({ offset: 12, error: null });

    // A transaction left open: pending on this coordinator and on one that loads the log afresh.
    expect([...(await txn(2, 20)).values()]).toEqual([null, null]);
    const live = coordinator.fetchOffsets('G', null, true);
    coordinator.close();
    const reloaded = another();
    expect(await loaded(() => reloaded.fetchOffsets('G', null, true))).toEqual(live);
    expect(live.map((o) => o.error)).toEqual(['UNSTABLE_OFFSET_COMMIT', 'UNSTABLE_OFFSET_COMMIT']);
    await marker(3, true); // the marker after the failover completes them on the new coordinator
    expect(fetchOne(reloaded, 0, true)).toMatchObject({ offset: 20, error: null });
  });

  it('an old producer epoch is refused by the partition after the marker bumped it (INVALID_PRODUCER_EPOCH), nothing pending', async () => {
    const verifier = new StubVerifier();
    const { coordinator, replicas } = await setup({ verifier });
    const writer = replicas as unknown as MarkerWriter;
    const commit1 = [{ topic: 't', partition: 0, offset: 3, metadata: '' }];
    expect([...(await loaded(() => coordinator.txnCommitOffsets('G', { transactionalId: 'tx', producerId: 7, producerEpoch: 0, ...member }, commit1))).values()]).toEqual([null]);
    await writer.writeTxnMarker({ topic: OFFSETS_TOPIC, partition: 0, producerId: 7, producerEpoch: 1, committed: true, coordinatorEpoch: 0 }, { timeoutMs: 5_000 });
    const late = await coordinator.txnCommitOffsets('G', { transactionalId: 'tx', producerId: 7, producerEpoch: 0, ...member }, [{ topic: 't', partition: 0, offset: 99, metadata: '' }]);
    expect([...late.values()]).toEqual(['INVALID_PRODUCER_EPOCH']);
    expect(fetchOne(coordinator, 0, true)).toMatchObject({ offset: 3, error: null });
  });

  it('a marker committed while the TxnOffsetCommit still waits for its acks completes the offsets all the same', async () => {
    const verifier = new StubVerifier();
    const { coordinator, replicas, offsets } = await setup({ verifier, offsetsIsr: [1, 2] });
    const writer = replicas as unknown as MarkerWriter;
    await loaded(() => coordinator.fetchOffsets('G', null));
    // Both wait for the follower: the high watermark passes the batch and the marker at once, and the
    // marker's report may come before the commit's append returns.
    const commit = coordinator.txnCommitOffsets('G', { transactionalId: 'tx', producerId: 7, producerEpoch: 0, ...member }, [{ topic: 't', partition: 0, offset: 42, metadata: '' }]);
    await waitUntil(() => offsets.logEndOffset === 1);
    const marked = writer.writeTxnMarker({ topic: OFFSETS_TOPIC, partition: 0, producerId: 7, producerEpoch: 1, committed: true, coordinatorEpoch: 0 }, { timeoutMs: 5_000 });
    await waitUntil(() => offsets.logEndOffset === 2);
    offsets.updateFollowerLogEndOffset(2, 2);
    expect([...(await commit).values()]).toEqual([null]);
    expect(await marked).toEqual({ offset: 1 });
    expect(fetchOne(coordinator, 0, true)).toMatchObject({ offset: 42, error: null });
  });

  it('a TxnOffsetCommit that times out may still be in the log: the coordinator loads the partition again and finds it pending', async () => {
    const verifier = new StubVerifier();
    const { coordinator, offsets } = await setup({ verifier, offsetsIsr: [1, 2], commitTimeoutMs: 100 });
    await loaded(() => coordinator.fetchOffsets('G', null));
    const out = await coordinator.txnCommitOffsets('G', { transactionalId: 'tx', producerId: 7, producerEpoch: 0, ...member }, [{ topic: 't', partition: 0, offset: 42, metadata: '' }]);
    expect([...out.values()]).toEqual(['COORDINATOR_NOT_AVAILABLE']); // REQUEST_TIMED_OUT underneath: the follower never fetched
    expect(offsets.logEndOffset).toBe(1); // yet the batch is in the leader's log
    offsets.updateFollowerLogEndOffset(2, 1); // and now committed
    expect(await loaded(() => fetchOne(coordinator, 0, true))).toMatchObject({ offset: -1, error: 'UNSTABLE_OFFSET_COMMIT' });
  });
});
