// tributary.internal.v1.Quorum handlers: check the cluster id, decode, run the pure command on the
// active controller through QuorumController.runCommand, encode. Whole-request failures
// (INCONSISTENT_CLUSTER_ID, NOT_CONTROLLER with the leader hint, REQUEST_TIMED_OUT) go in the
// response's `error`; a malformed request gets gRPC INVALID_ARGUMENT.
import * as grpc from '@grpc/grpc-js';
import { QuorumService, tributary, type QuorumHandlers } from '@tributary/protocol';
import type { Logger } from 'pino';
import { isRefusal, type CommandContext, type CommandRefusal, type ControllerCommands } from './controller-commands.js';
import type { CommandDecision, QuorumController } from './quorum-controller.js';
import { NotControllerError, QuorumError } from './quorum-errors.js';

import pb = tributary.internal.v1;
import v1 = tributary.v1;

/** Bytes queued on one watch stream (not yet taken by the socket) before it is dropped. */
export const DEFAULT_WATCH_STREAM_QUEUE_EVENTS_MAX = 10_000;

export interface QuorumServiceOptions<Image> {
  readonly controller: QuorumController<Image>;
  readonly commands: ControllerCommands<Image>;
  readonly logger: Logger;
  readonly nowMs?: () => number;
}

interface Reply {
  error?: v1.IError;
  controller?: pb.IControllerHint;
}

const NONE: v1.IError = { code: v1.ErrorCode.NONE, message: '' };

/** Forwarded admin request ids the Quorum service remembers (see ForwardRequest.request_id). */
export const FORWARD_REQUEST_IDS_MAX = 10_000;

export function addQuorumService<Image>(server: grpc.Server, options: QuorumServiceOptions<Image>): void {
  server.addService(QuorumService, createQuorumHandlers(options));
}

export function createQuorumHandlers<Image>(options: QuorumServiceOptions<Image>): QuorumHandlers {
  const { controller, commands } = options;
  const logger = options.logger.child({ component: 'quorum-service' });
  const nowMs = options.nowMs ?? Date.now;
  const ctx = (): CommandContext => ({ nowMs: nowMs() });

  const clusterMismatch = (clusterId: string): Reply | undefined => {
    if (clusterId === controller.clusterId) return undefined;
    logger.warn({ clusterId, expected: controller.clusterId }, 'request from another cluster refused');
    return {
      error: { code: v1.ErrorCode.INCONSISTENT_CLUSTER_ID, message: `cluster id ${JSON.stringify(clusterId)} is not this cluster's ${controller.clusterId}` },
      controller: controller.hint(),
    };
  };

  const failure = (method: string, err: unknown): Reply => {
    if (err instanceof NotControllerError) return { error: { code: v1.ErrorCode.NOT_CONTROLLER, message: err.message }, controller: { leaderId: err.leaderId, term: err.term } };
    if (err instanceof QuorumError) return { error: { code: v1.ErrorCode[err.code], message: err.message }, controller: controller.hint() };
    logger.error({ err, method }, 'quorum request failed unexpectedly');
    return { error: { code: v1.ErrorCode.UNKNOWN_SERVER_ERROR, message: err instanceof Error ? err.message : String(err) }, controller: controller.hint() };
  };

  const refusal = (r: CommandRefusal): Reply & { reason: string } => ({
    error: { code: v1.ErrorCode[r.error.code], message: r.error.message }, controller: controller.hint(), reason: r.error.reason ?? '',
  });

  // Answers to forwarded admin requests by request id (bounded, oldest forgotten first): a repeated
  // id — a retry, or an attempt that the network delayed past it — gets the first attempt's answer.
  // Failed attempts are forgotten, so a retry after a failure runs again.
  const recentForwards = new Map<string, Promise<pb.IForwardResponse>>();
  const rememberForward = (requestId: string, answer: Promise<pb.IForwardResponse>): void => {
    recentForwards.set(requestId, answer);
    if (recentForwards.size > FORWARD_REQUEST_IDS_MAX) recentForwards.delete(recentForwards.keys().next().value!);
    answer.then((res) => {
      if ((res.error?.code ?? v1.ErrorCode.NONE) !== v1.ErrorCode.NONE) recentForwards.delete(requestId);
    }, () => recentForwards.delete(requestId));
  };

  /** A unary handler: cluster id check, then `run`; thrown failures become the reply's error. */
  function unary<Req extends { clusterId: string }, Res>(method: string, run: (req: Req, deadlineMs: number | undefined) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const mismatch = clusterMismatch(call.request.clusterId);
      if (mismatch !== undefined) {
        callback(null, mismatch as Res);
        return;
      }
      const deadline = call.getDeadline();
      const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
      run(call.request, Number.isFinite(deadlineMs) ? deadlineMs : undefined).then(
        (res) => callback(null, res),
        (err: unknown) => callback(null, failure(method, err) as Res),
      );
    };
  }

  return {
    registerBroker: unary('RegisterBroker', async (req: pb.RegisterBrokerRequest): Promise<pb.IRegisterBrokerResponse> => {
      if (req.brokerId < 0) throw new QuorumError('INVALID_REQUEST', 'broker_id must be ≥ 0');
      const { response, offset } = await controller.runCommand('registerBroker', (image) => commands.registerBroker(image, {
        brokerId: req.brokerId, incarnationId: req.incarnationId, host: req.endpoint?.host ?? '', port: req.endpoint?.port ?? 0,
        rack: req.rack === '' ? undefined : req.rack, roles: req.roles, cleanShutdown: req.cleanShutdown === true,
      }, ctx()));
      if (isRefusal(response)) return refusal(response);
      controller.noteHeartbeat(req.brokerId);
      // A new registration's epoch is the offset it committed at; a retried one keeps its epoch.
      const brokerEpoch = response.brokerEpoch ?? offset;
      logger.info({ brokerId: req.brokerId, brokerEpoch, incarnationId: req.incarnationId }, 'broker registered');
      return { error: NONE, controller: controller.hint(), brokerEpoch };
    }),

    brokerHeartbeat: unary('BrokerHeartbeat', async (req: pb.BrokerHeartbeatRequest): Promise<pb.IBrokerHeartbeatResponse> => {
      const { response } = await controller.runCommand('brokerHeartbeat', (image) => commands.brokerHeartbeat(image, {
        brokerId: req.brokerId, brokerEpoch: Number(req.brokerEpoch), metadataOffset: Number(req.metadataOffset), wantShutDown: req.wantShutDown,
        recoveringReplicas: (req.recoveringReplicas ?? []).map((r) => ({
          topicId: r.topicId ?? '', partition: r.partition ?? 0, partitionEpoch: r.partitionEpoch ?? 0,
          lastEpoch: r.lastEpoch ?? -1, logEndOffset: Number(r.logEndOffset ?? 0),
        })),
        offlineReplicas: (req.offlineReplicas ?? []).map((r) => ({ topicId: r.topicId ?? '', partition: r.partition ?? 0 })),
      }, ctx()));
      if (isRefusal(response)) return refusal(response);
      controller.noteHeartbeat(req.brokerId);
      return { error: NONE, controller: controller.hint(), isFenced: response.isFenced, isCaughtUp: response.isCaughtUp, shouldShutDown: response.shouldShutDown };
    }),

    watchMetadata: (call: grpc.ServerWritableStream<pb.WatchMetadataRequest, pb.IMetadataEvent>) => {
      const mismatch = clusterMismatch(call.request.clusterId);
      if (mismatch !== undefined) {
        call.destroy(Object.assign(new Error(mismatch.error?.message ?? 'INCONSISTENT_CLUSTER_ID'), { code: grpc.status.FAILED_PRECONDITION, details: `INCONSISTENT_CLUSTER_ID: ${mismatch.error?.message ?? ''}` }));
        return;
      }
      let ended = false;
      const unsubscribe = controller.watch(Number(call.request.fromOffset), {
        send: (event) => {
          if (ended) return false;
          call.write(event);
          return call.writableLength < DEFAULT_WATCH_STREAM_QUEUE_EVENTS_MAX;
        },
        end: (reason) => {
          if (ended) return;
          ended = true;
          call.destroy(Object.assign(new Error(reason), { code: grpc.status.UNAVAILABLE, details: reason }));
        },
      });
      const stop = (): void => {
        ended = true;
        unsubscribe();
      };
      call.on('cancelled', stop);
      call.on('close', stop);
      call.on('error', stop);
      logger.debug({ brokerId: call.request.brokerId, fromOffset: Number(call.request.fromOffset) }, 'metadata watch started');
    },

    alterPartition: unary('AlterPartition', async (req: pb.AlterPartitionRequest): Promise<pb.IAlterPartitionResponse> => {
      const { response, offset } = await controller.runCommand('alterPartition', (image) => commands.alterPartition(image, {
        brokerId: req.brokerId, brokerEpoch: Number(req.brokerEpoch), topic: req.topic, topicId: req.topicId, partition: req.partition,
        leaderEpoch: req.leaderEpoch, partitionEpoch: req.partitionEpoch, newIsr: req.newIsr,
        newIsrBrokerEpochs: req.newIsrBrokerEpochs.length === 0 ? undefined : req.newIsrBrokerEpochs.map((e) => ({ brokerId: e.brokerId ?? -1, brokerEpoch: Number(e.brokerEpoch ?? -1) })),
      }, ctx()));
      if (isRefusal(response)) return refusal(response);
      return {
        error: NONE, controller: controller.hint(), metadataOffset: offset,
        state: { leader: response.leader, leaderEpoch: response.leaderEpoch, partitionEpoch: response.partitionEpoch, isr: [...response.isr], replicas: [...response.replicas] },
      };
    }),

    allocateProducerIds: unary('AllocateProducerIds', async (req: pb.AllocateProducerIdsRequest): Promise<pb.IAllocateProducerIdsResponse> => {
      const { response, offset } = await controller.runCommand('allocateProducerIds', (image) => commands.allocateProducerIds(image, { brokerId: req.brokerId, brokerEpoch: Number(req.brokerEpoch) }, ctx()));
      if (isRefusal(response)) return refusal(response);
      return { error: NONE, controller: controller.hint(), firstProducerId: response.firstProducerId, size: response.size, metadataOffset: offset };
    }),

    forward: unary('Forward', (req: pb.ForwardRequest, deadlineMs): Promise<pb.IForwardResponse> => {
      // An id seen before (another attempt of the same logical request) gets that attempt's answer.
      const seen = req.requestId === '' ? undefined : recentForwards.get(req.requestId);
      if (seen !== undefined) return seen;
      const answer = (async (): Promise<pb.IForwardResponse> => {
      const c = ctx();
      // A forwarded admin change is decided only before its caller's deadline: once the caller gave up
      // (and perhaps retried elsewhere), carrying it out later could undo what happened since — a
      // CreateTopics decided after a DeleteTopics of the same name would resurrect the topic.
      const beforeDeadline = <T>(decide: (image: Image) => CommandDecision<T>) => (image: Image): CommandDecision<T> => {
        if (deadlineMs !== undefined && Date.now() > deadlineMs) throw new QuorumError('REQUEST_TIMED_OUT', `forwarded ${req.request ?? 'request'}: the caller's deadline passed before the controller reached it`);
        return decide(image);
      };
      switch (req.request) {
        case 'createTopics': {
          const { response, offset } = await controller.runCommand('createTopics', beforeDeadline((image) => commands.createTopics(image, req.createTopics!, c)));
          return { error: NONE, controller: controller.hint(), metadataOffset: offset, createTopics: response };
        }
        case 'deleteTopics': {
          const { response, offset } = await controller.runCommand('deleteTopics', beforeDeadline((image) => commands.deleteTopics(image, req.deleteTopics!, c)));
          return { error: NONE, controller: controller.hint(), metadataOffset: offset, deleteTopics: response };
        }
        case 'alterConfigs': {
          const { response, offset } = await controller.runCommand('alterConfigs', beforeDeadline((image) => commands.alterConfigs(image, req.alterConfigs!, c)));
          return { error: NONE, controller: controller.hint(), metadataOffset: offset, alterConfigs: response };
        }
        case 'createPartitions': {
          const { response, offset } = await controller.runCommand('createPartitions', beforeDeadline((image) => commands.createPartitions(image, req.createPartitions!, c)));
          return { error: NONE, controller: controller.hint(), metadataOffset: offset, createPartitions: response };
        }
        default:
          throw new QuorumError('INVALID_REQUEST', 'Forward carries no request');
      }
      })();
      if (req.requestId !== '') rememberForward(req.requestId, answer);
      return answer;
    }),
  };
}
