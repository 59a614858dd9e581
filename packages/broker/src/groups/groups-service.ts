// tributary.v1.Groups handlers: decode → GroupCoordinator → encode. Expected failures travel in the
// response's `error` field (Kafka codes); only malformed requests become gRPC INVALID_ARGUMENT.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { GroupsService, tributary, type GroupsHandlers } from '@tributary/protocol';
import { InvalidArgumentError, NO_ERROR, type ErrorCodeName } from '../errors.js';
import { answerWithError, int64, requireName, unary } from '../grpc-call.js';
import type { TopicPartition } from './assignors/index.js';
import { TXN_OFFSET_COMMIT_MAX_PARTITIONS } from './group.js';
import type { GroupCoordinator, OffsetCommitEntry } from './group-coordinator.js';
import type { TransactionCoordinator } from '../transactions/transaction-coordinator.js';
import { requireProducerEpoch, requireProducerId, requireTransactionalId } from '../transactions/transactions-service.js';

const code = (name: ErrorCodeName | null): tributary.v1.IError =>
  name === null ? NO_ERROR : { code: tributary.v1.ErrorCode[name], message: name };

const tps = (list: readonly TopicPartition[]): tributary.v1.IGroupTopicPartition[] => list.map((tp) => ({ topic: tp.topic, partition: tp.partition }));
const orNull = (s: string | null | undefined): string | null => (s === undefined || s === null || s === '' ? null : s);

/** The offsets of an OffsetCommit / TxnOffsetCommit request (offset and metadata bounds are checked per partition later). */
function commitEntries(topics: readonly tributary.v1.IOffsetCommitTopic[]): OffsetCommitEntry[] {
  return topics.flatMap((t, i) => {
    const topic = requireName(t.topic, `topics[${i}].topic`);
    return (t.partitions ?? []).map((p) => ({ topic, partition: p.partition ?? 0, offset: int64(p.committedOffset), metadata: p.metadata ?? '' }));
  });
}

/** OffsetCommitResponse's per-partition results, in the request's order. */
function commitResults(topics: readonly tributary.v1.IOffsetCommitTopic[], results: ReadonlyMap<string, ErrorCodeName | null>): tributary.v1.IOffsetCommitResponse {
  return {
    error: NO_ERROR,
    topics: topics.map((t) => ({
      topic: t.topic,
      partitions: (t.partitions ?? []).map((p) => ({ partition: p.partition, error: code(results.get(`${t.topic}\u0000${p.partition ?? 0}`) ?? null) })),
    })),
  };
}

export interface GroupsServiceDeps {
  readonly coordinator: GroupCoordinator;
  /** FindCoordinator with key_type TRANSACTION answers the transactional id's coordinator. */
  readonly transactions?: TransactionCoordinator;
  readonly logger: Logger;
}

export function createGroupsHandlers(deps: GroupsServiceDeps): GroupsHandlers {
  const { coordinator, logger } = deps;
  const guarded = answerWithError;

  return {
    findCoordinator: unary(logger, 'FindCoordinator', async (req: tributary.v1.FindCoordinatorRequest) => {
      const groupId = requireName(req.groupId, 'group_id');
      if (req.keyType === tributary.v1.CoordinatorType.TRANSACTION) {
        const transactions = deps.transactions;
        if (transactions === undefined) return { error: { code: tributary.v1.ErrorCode.COORDINATOR_NOT_AVAILABLE, message: 'this broker has no transaction coordinator' }, nodeId: -1 };
        const transactionalId = requireTransactionalId(req.groupId, 'group_id');
        return guarded(async () => ({ error: NO_ERROR, ...(await transactions.findCoordinator(transactionalId)) }), (error) => ({ error, nodeId: -1 }));
      }
      if (req.keyType !== tributary.v1.CoordinatorType.GROUP) throw new InvalidArgumentError('key_type', `unknown coordinator type ${String(req.keyType)}`);
      return guarded(async () => ({ error: NO_ERROR, ...(await coordinator.findCoordinator(groupId)) }), (error) => ({ error, nodeId: -1 }));
    }),
    txnOffsetCommit: unary(logger, 'TxnOffsetCommit', async (req: tributary.v1.TxnOffsetCommitRequest) => {
      const groupId = requireName(req.groupId, 'group_id');
      const transactionalId = requireTransactionalId(req.transactionalId, 'transactional_id');
      const producerId = requireProducerId(req.producerId);
      const producerEpoch = requireProducerEpoch(req.producerEpoch);
      const commits = commitEntries(req.topics);
      if (commits.length > TXN_OFFSET_COMMIT_MAX_PARTITIONS) {
        throw new InvalidArgumentError('topics', `${commits.length} partitions, at most ${TXN_OFFSET_COMMIT_MAX_PARTITIONS} per request`);
      }
      return guarded(async () => {
        const results = await coordinator.txnCommitOffsets(groupId, {
          transactionalId, producerId, producerEpoch,
          memberId: req.memberId, groupInstanceId: orNull(req.groupInstanceId), generation: req.generationId ?? -1,
        }, commits);
        return commitResults(req.topics, results);
      }, (error) => ({ error }));
    }),
    joinGroup: unary(logger, 'JoinGroup', async (req: tributary.v1.JoinGroupRequest, call) => {
      const groupId = requireName(req.groupId, 'group_id');
      if (req.assignmentStrategies.length === 0) throw new InvalidArgumentError('assignment_strategies', 'must name at least one strategy');
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      return guarded(async () => {
        const reply = await coordinator.joinGroup(groupId, {
          memberId: req.memberId, groupInstanceId: orNull(req.groupInstanceId), clientId: req.clientId,
          sessionTimeoutMs: req.sessionTimeoutMs, rebalanceTimeoutMs: Math.max(0, req.rebalanceTimeoutMs || req.sessionTimeoutMs),
          protocolType: req.protocolType || 'consumer', strategies: req.assignmentStrategies, topics: req.topics,
          ownedPartitions: req.ownedPartitions.map((tp) => ({ topic: tp.topic ?? '', partition: tp.partition ?? 0 })), ownedGeneration: req.generationId ?? -1,
        }, abort.signal);
        return {
          error: code(reply.error), generationId: reply.generation, protocolName: reply.protocolName, leaderId: reply.leaderId,
          memberId: reply.memberId, members: [...reply.members], rebalanceProtocol: reply.rebalanceProtocol,
        };
      }, (error) => ({ error, generationId: -1, memberId: req.memberId }));
    }),
    syncGroup: unary(logger, 'SyncGroup', async (req: tributary.v1.SyncGroupRequest) => {
      const groupId = requireName(req.groupId, 'group_id');
      return guarded(() => {
        const out = coordinator.syncGroup(groupId, { memberId: req.memberId, groupInstanceId: orNull(req.groupInstanceId), generation: req.generationId });
        return { error: code(out.error), assignment: tps(out.assignment), revoked: tps(out.revoked) };
      }, (error) => ({ error }));
    }),
    heartbeat: unary(logger, 'Heartbeat', async (req: tributary.v1.HeartbeatRequest) => {
      const groupId = requireName(req.groupId, 'group_id');
      return guarded(() => ({ error: code(coordinator.heartbeat(groupId, { memberId: req.memberId, groupInstanceId: orNull(req.groupInstanceId), generation: req.generationId })) }), (error) => ({ error }));
    }),
    leaveGroup: unary(logger, 'LeaveGroup', async (req: tributary.v1.LeaveGroupRequest) => {
      const groupId = requireName(req.groupId, 'group_id');
      return guarded(() => ({ error: code(coordinator.leaveGroup(groupId, { memberId: req.memberId, groupInstanceId: orNull(req.groupInstanceId) })) }), (error) => ({ error }));
    }),
    offsetCommit: unary(logger, 'OffsetCommit', async (req: tributary.v1.OffsetCommitRequest) => {
      const groupId = requireName(req.groupId, 'group_id');
      const commits = commitEntries(req.topics);
      return guarded(async () => {
        const results = await coordinator.commitOffsets(groupId, { memberId: req.memberId, groupInstanceId: orNull(req.groupInstanceId), generation: req.generationId ?? -1 }, commits);
        return commitResults(req.topics, results);
      }, (error) => ({ error }));
    }),
    offsetFetch: unary(logger, 'OffsetFetch', async (req: tributary.v1.OffsetFetchRequest) => {
      const groupId = requireName(req.groupId, 'group_id');
      return guarded(() => {
        const wanted = req.topics.length === 0 ? null : req.topics.flatMap((t) => (t.partitions ?? []).map((partition) => ({ topic: t.topic ?? '', partition })));
        const byTopic = new Map<string, tributary.v1.IOffsetFetchPartition[]>();
        for (const o of coordinator.fetchOffsets(groupId, wanted, req.requireStable === true)) {
          let list = byTopic.get(o.topic);
          if (list === undefined) byTopic.set(o.topic, (list = []));
          list.push({ partition: o.partition, committedOffset: o.offset, metadata: o.metadata, error: code(o.error) });
        }
        return { error: NO_ERROR, topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) };
      }, (error) => ({ error }));
    }),
    listGroups: unary(logger, 'ListGroups', async () => ({ error: NO_ERROR, groups: coordinator.listGroups() })),
    describeGroups: unary(logger, 'DescribeGroups', async (req: tributary.v1.DescribeGroupsRequest) => ({
      groups: await Promise.all(req.groupIds.map((groupId) => guarded(() => {
        const g = coordinator.describeGroup(groupId);
        return {
          groupId, error: NO_ERROR, state: g.state, protocolType: g.protocolType, protocolName: g.protocolName ?? '', generationId: g.generation,
          members: [...g.members.values()].map((m) => ({
            memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? '', clientId: m.clientId, topics: [...m.topics],
            assignment: tps(g.assignment.get(m.memberId) ?? []),
          })),
        };
      }, (error) => ({ groupId, error })))),
    })),
    deleteGroups: unary(logger, 'DeleteGroups', async (req: tributary.v1.DeleteGroupsRequest) => ({
      results: await Promise.all(req.groupIds.map((groupId) => guarded(() => ({ groupId, error: code(coordinator.deleteGroup(groupId)) }), (error) => ({ groupId, error })))),
    })),
  };
}

/** Registers tributary.v1.Groups on `server`. */
export function registerGroupsService(server: grpc.Server, deps: GroupsServiceDeps): void {
  server.addService(GroupsService, createGroupsHandlers(deps));
}
