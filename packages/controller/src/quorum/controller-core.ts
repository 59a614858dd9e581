// The pure controller core (src/control over src/metadata) behind the quorum shell's ports:
// ControllerCommands converts wire requests to the commands' domain requests and their answers back
// (errors as data: a ControllerError becomes a wire code, with Kafka's name as `reason` where the wire
// enum lacks it); ControllerPolicies runs fencing and preferred-leader elections on the shell's timers.
// Records leave as one encoded MetadataBatch; an empty record list means nothing to commit.
import { randomInt } from 'node:crypto';
import { tributary } from '@tributary/protocol';
import type { MetadataImage } from '../metadata/metadata-image.js';
import { encodeMetadataBatch } from '../metadata/metadata-codec.js';
import type { MetadataRecord } from '../metadata/metadata-records.js';
import { fenceStaleBrokers, registerBroker, brokerHeartbeat, type SessionState } from '../control/broker-lifecycle.js';
import { type ControllerConfig, type ControllerContext, type Random, parseControllerConfig } from '../control/controller-config.js';
import { type ControllerError, type ControllerResult, wireErrorCode } from '../control/controller-result.js';
import { allocateProducerIds, alterPartition, rebalanceLeaders } from '../control/partition-commands.js';
import { ReplicaLogReports } from '../control/replica-log-reports.js';
import { createPartitions, createTopics, deleteTopics } from '../control/topic-commands.js';
import { alterConfigs, type AlterConfigsResource } from '../control/config-commands.js';
import type { CommandContext, CommandRefusal, ControllerCommands } from './controller-commands.js';
import type { CommandDecision, ControllerPolicies } from './quorum-controller.js';

import v1 = tributary.v1;

/** Randomness for placement and topic ids when none is injected (the shell's; the core takes any Random). */
export const CRYPTO_RANDOM: Random = { intn: (n) => randomInt(n) };

export interface ControllerCoreOptions {
  readonly config?: Partial<ControllerConfig>;
  readonly random?: Random;
}

function decision<R, T>(result: ControllerResult<R>, answer: (response: R) => T): CommandDecision<T> {
  return { batch: batchOf(result.records), response: answer(result.response) };
}

function batchOf(records: readonly MetadataRecord[]): Uint8Array | undefined {
  return records.length === 0 ? undefined : encodeMetadataBatch(records);
}

function refusal(error: ControllerError): CommandRefusal {
  const wire = wireErrorCode(error.code);
  return { error: wire.reason === undefined ? { code: wire.code, message: error.message } : { code: wire.code, message: error.message, reason: wire.reason } };
}

/** A per-item wire error; Kafka's name leads the message when the wire enum lacks it. */
function wireError(error: ControllerError): v1.IError {
  const wire = wireErrorCode(error.code);
  return { code: v1.ErrorCode[wire.code], message: wire.reason === undefined ? error.message : `${wire.reason}: ${error.message}` };
}

const OK: v1.IError = { code: v1.ErrorCode.NONE, message: '' };

function configsResource(r: v1.IAlterConfigsResource): AlterConfigsResource | undefined {
  const type = r.resource?.type ?? v1.ConfigResourceType.TOPIC;
  if (type !== v1.ConfigResourceType.TOPIC && type !== v1.ConfigResourceType.BROKER) return undefined;
  return {
    type: type === v1.ConfigResourceType.TOPIC ? 'topic' : 'broker',
    name: r.resource?.name ?? '',
    ops: (r.configs ?? []).map((c) => ({ name: c.name ?? '', value: c.value ?? '', op: c.op === v1.AlterConfigOp.DELETE ? 'DELETE' : 'SET' })),
  };
}

/** The core's commands over the wire (admin requests) and the shell's small broker-facing types. */
export function controllerCommands(options: ControllerCoreOptions = {}): ControllerCommands<MetadataImage> {
  const config = parseControllerConfig(options.config);
  const random = options.random ?? CRYPTO_RANDOM;
  const context = (c: CommandContext): ControllerContext => ({ nowMs: c.nowMs, random, config });
  // Brokers' reports on recovering partitions (heartbeats), for recovery elections: this node's own
  // store, refreshed by every heartbeat it answers (see replica-log-reports.ts).
  const replicaLogReports = new ReplicaLogReports();
  return {
    registerBroker: (image, r, c) => decision(registerBroker(image, {
      brokerId: r.brokerId, incarnationId: r.incarnationId, endpoint: { host: r.host, port: r.port }, rack: r.rack, roles: r.roles,
      cleanShutdown: r.cleanShutdown,
    }, context(c)), (res) => (!res.ok ? refusal(res.error) : { ok: true as const, brokerEpoch: res.kind === 'unchanged' ? res.brokerEpoch : undefined })),

    brokerHeartbeat: (image, h, c) => {
      const current = image.brokers.get(h.brokerId);
      if (current !== undefined && current.brokerEpoch === h.brokerEpoch) replicaLogReports.note(image, h.brokerId, h.brokerEpoch, h.recoveringReplicas);
      return decision(brokerHeartbeat(image, h, context(c), replicaLogReports.lookup),
        (res) => (!res.ok ? refusal(res.error) : { isFenced: res.isFenced, isCaughtUp: res.isCaughtUp, shouldShutDown: res.shouldShutDown }));
    },

    alterPartition: (image, a, c) => decision(alterPartition(image, a, context(c)),
      (res) => (!res.ok ? refusal(res.error) : res.state)),

    allocateProducerIds: (image, r, c) => decision(allocateProducerIds(image, r, context(c)),
      (res) => (!res.ok ? refusal(res.error) : { firstProducerId: res.firstProducerId, size: res.size })),

    createTopics: (image, req, c) => decision(createTopics(image, {
      topics: (req.topics ?? []).map((t) => ({
        name: t.name ?? '', numPartitions: t.numPartitions ?? -1, replicationFactor: t.replicationFactor ?? -1, configs: { ...(t.configs ?? {}) },
      })),
      validateOnly: req.validateOnly === true,
    }, context(c)), (res): v1.ICreateTopicsResponse => ({
      topics: res.topics.map((t) => (t.ok
        ? { name: t.name, error: OK, topicId: req.validateOnly === true ? '' : t.topicId, numPartitions: t.numPartitions, replicationFactor: t.replicationFactor }
        : { name: t.name, error: wireError(t.error), numPartitions: -1, replicationFactor: -1 })),
    })),

    deleteTopics: (image, req, c) => decision(deleteTopics(image, { names: req.names ?? [] }, context(c)), (res): v1.IDeleteTopicsResponse => ({
      topics: res.topics.map((t) => ({ name: t.name, error: t.ok ? OK : wireError(t.error) })),
    })),

    alterConfigs: (image, req, c) => {
      // Resource kinds the core does not know are refused here; the rest go to the core in order.
      const resources = (req.resources ?? []).map(configsResource);
      const known = resources.filter((r): r is AlterConfigsResource => r !== undefined);
      return decision(alterConfigs(image, { resources: known, validateOnly: req.validateOnly === true }, context(c)), (res): v1.IAlterConfigsResponse => {
        let next = 0;
        return {
          results: (req.resources ?? []).map((r, i) => {
            if (resources[i] === undefined) return { resource: r.resource, error: { code: v1.ErrorCode.INVALID_REQUEST, message: `unsupported config resource type ${String(r.resource?.type)}` } };
            const result = res.results[next++]!;
            return { resource: r.resource, error: result.ok ? OK : wireError(result.error) };
          }),
        };
      });
    },

    createPartitions: (image, req, c) => decision(createPartitions(image, {
      topics: (req.topics ?? []).map((t) => ({ name: t.name ?? '', count: t.count ?? 0 })), validateOnly: req.validateOnly === true,
    }, context(c)), (res): v1.ICreatePartitionsResponse => ({
      results: res.topics.map((t) => ({ name: t.name, error: t.ok ? OK : wireError(t.error) })),
    })),
  };
}

/** Fencing on expired sessions (the shell keeps the heartbeat times) and preferred-leader elections. */
export function controllerPolicies(options: ControllerCoreOptions = {}): ControllerPolicies<MetadataImage> {
  const config = parseControllerConfig(options.config);
  const random = options.random ?? CRYPTO_RANDOM;
  return {
    registeredBrokers: (image) => [...image.brokers.values()].filter((b) => !b.fenced).map((b) => b.brokerId),
    brokerEndpoint: (image, brokerId) => image.brokers.get(brokerId)?.endpoint,
    fenceStaleBrokers: (image, sessions: SessionState) => batchOf(fenceStaleBrokers(image, sessions, { nowMs: sessions.nowMs, random, config }).records),
    rebalanceLeaders: (image, nowMs) => batchOf(rebalanceLeaders(image, { nowMs, random, config }).records),
  };
}
